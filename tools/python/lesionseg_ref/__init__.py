"""PyTorch side of lesionseg: the reference network, safetensors I/O and the
exporter to the project's model files (see model-spec.md)."""

from .model import IscfEffFormer, is_unused_tensor, preprocess_minmax255

__all__ = ["IscfEffFormer", "is_unused_tensor", "preprocess_minmax255"]
