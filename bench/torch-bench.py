#!/usr/bin/python3
"""Times the PyTorch reference model (tools/python) on one 224x224 frame.

Same protocol as `lesionseg bench`: seeded random weights of the published
config, warm-up runs, then the median and minimum of N timed forward passes,
under torch.inference_mode() with the given thread count.
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools", "python"))

import torch  # noqa: E402

from lesionseg_ref.model import IscfEffFormer  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()

    torch.manual_seed(1)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    model = IscfEffFormer().eval().to(device)
    x = torch.rand(1, 3, args.size, args.size, device=device) * 255
    times = []
    with torch.inference_mode():
        for i in range(args.warmup + args.iters):
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            model(x)
            if device.type == "cuda":
                torch.cuda.synchronize()
            if i >= args.warmup:
                times.append((time.perf_counter() - start) * 1000)
    print(f"torch {torch.__version__}, {args.device}, {args.threads} threads")
    print(f"median: {statistics.median(times):.2f} ms")
    print(f"min: {min(times):.2f} ms")


if __name__ == "__main__":
    main()
