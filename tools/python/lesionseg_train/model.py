"""Building the network (lesionseg_ref's IscfEffFormer) and mixed precision."""

import torch


def build_model(args):
    from lesionseg_ref.model import IscfEffFormer
    return IscfEffFormer(dims=args.dims, layers=args.layers, ffn_ratio=args.ffn_ratio,
                         iscf_scales=args.iscf_scales, num_classes=1)


def freeze_unused(model):
    """Tensors the forward pass never reads get no gradient: freeze them, so that DDP
    needs no unused-parameter search (and the optimiser skips them)."""
    try:
        from lesionseg_ref.model import is_unused_tensor
    except ImportError:
        return
    for n_, p_ in model.named_parameters():
        if is_unused_tensor(n_):
            p_.requires_grad_(False)


class autocast:
    """bf16 autocast with --amp on CUDA; a no-op elsewhere (CPU autocast is slow
    and changes results)."""

    def __init__(self, dev, amp):
        self.on = amp and dev.type == "cuda"
        self.ctx = torch.autocast(device_type="cuda", dtype=torch.bfloat16) if self.on else None

    def __enter__(self):
        if self.ctx is not None:
            self.ctx.__enter__()

    def __exit__(self, *e):
        if self.ctx is not None:
            return self.ctx.__exit__(*e)
        return False
