"""Writes an ``IscfEffFormer`` as a lesionseg model file (safetensors).

Tensor names are the authors' (without ``net.``); the hyper-parameters go to
the header's ``__metadata__`` as model-spec.md describes.  By default only the
tensors the forward pass reads are written; which ones those are is the
model's business (``IscfEffFormer.used_state_dict``).
"""

from typing import Dict, Mapping, Optional

import torch

from .model import IscfEffFormer
from .safetensors_io import save_file

__all__ = ["export", "model_metadata", "DTYPES"]

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def _join(values) -> str:
    return ",".join(str(int(v)) for v in values)


def model_metadata(model: IscfEffFormer, image_size: int = 224,
                   input_norm: str = "minmax255") -> Dict[str, str]:
    """The ``__metadata__`` map describing ``model``'s configuration."""
    if model.num_classes != 1:
        raise ValueError("the model file format describes one output class; "
                         f"this model has {model.num_classes}")
    return {
        "arch": "iscf-effformer",
        "dims": _join(model.dims),
        "layers": _join(model.layers),
        "ffn_ratio": str(model.ffn_ratio),
        "image_size": str(int(image_size)),
        "input_norm": input_norm,
        "iscf_scales": str(model.iscf_scales),
    }


def export(model: IscfEffFormer, path: str, dtype: str = "F32",
           include_unused: bool = False,
           extra_metadata: Optional[Mapping[str, str]] = None,
           image_size: int = 224) -> Dict[str, str]:
    """Writes ``model`` to ``path`` as safetensors; returns the metadata.

    Args:
        model: the network to write (its weights are read, not changed).
        path: output file.
        dtype: "F32", "F16" or "BF16" (rounding to nearest).
        include_unused: also write the tensors the forward pass never reads
            (the authors' checkpoints carry them; the C loader ignores them).
        extra_metadata: more string entries for ``__metadata__``; they
            override the computed ones (``image_size``, ``input_norm``, ...).
        image_size: the square input size the model was trained for.
    """
    if dtype not in DTYPES:
        raise ValueError(
            f"dtype must be one of {sorted(DTYPES)}, not {dtype!r}")
    metadata = model_metadata(model, image_size)
    for key, value in (extra_metadata or {}).items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(
                f"metadata must map str to str: {key!r}: {value!r}")
        metadata[key] = value
    state = model.state_dict() if include_unused else model.used_state_dict()
    tensors = {name: t.detach().to("cpu", DTYPES[dtype]).contiguous()
               for name, t in state.items()}
    save_file(tensors, path, metadata)
    return metadata
