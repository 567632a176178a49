"""World/rank info for torchrun (DistributedDataParallel), and rank-0 logging.

Everything here is a no-op when WORLD_SIZE is 1 or unset."""

import os

import torch


class Dist:
    """World info; a no-op when WORLD_SIZE is 1 or unset."""

    def __init__(self, want_cuda):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.enabled = self.world > 1
        self.want_cuda = want_cuda
        self.device = torch.device("cpu")

    def start(self):
        """CUDA and the process group come up after the data is decoded, so that the
        decoding workers are forked from a process without CUDA or NCCL threads."""
        want_cuda = self.want_cuda
        if want_cuda:
            torch.cuda.set_device(self.local_rank)
            self.device = torch.device("cuda", self.local_rank)
        else:
            self.device = torch.device("cpu")
        if self.enabled:
            import torch.distributed as dist
            dist.init_process_group(backend="nccl" if want_cuda else "gloo")
            self.dist = dist

    @property
    def main(self):
        return self.rank == 0

    def all_sum(self, t):
        if self.enabled:
            self.dist.all_reduce(t)
        return t

    def broadcast_flag(self, flag):
        if not self.enabled:
            return bool(flag)
        t = torch.tensor([1 if flag else 0], device=self.device)
        self.dist.broadcast(t, 0)
        return bool(t.item())

    def barrier(self):
        if self.enabled:
            self.dist.barrier()

    def close(self):
        if self.enabled:
            self.dist.destroy_process_group()


def log(dist, *a):
    if dist is None or dist.main:
        print(*a, flush=True)
