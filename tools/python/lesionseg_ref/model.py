"""Reference PyTorch model of the lesionseg network (model-spec.md).

``IscfEffFormer`` is a U-shaped transformer with efficient (linear) attention
and an inter-scale context fusion (ISCF) bridge, as published with arXiv
2310.13604.  Its state dict has exactly the authors' tensor names and shapes
(without their ``net.`` wrapper prefix), including the tensors their forward
pass never reads, so an authors' checkpoint of the published configuration
loads with ``strict=True``.  Unlike the authors' code it:

* works for any configuration (dims, blocks per stage, FFN ratio, number of
  fused scales), the way ``core/network-weights.c`` describes it;
* takes any input whose height and width are multiples of 16 (the project
  uses multiples of 32); grid sizes come from the input, not from 224;
* computes each Mix-FFN's ``fc1`` once;
* runs every 1x1 convolution as a matrix product on token-major tensors.

The list of unused tensors lives in :func:`is_unused_tensor` (the mirror of
``ls_network_tensor_is_unused`` in C); everything else in the state dict is
read by :meth:`IscfEffFormer.forward`.
"""

from typing import Dict, List, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    "IscfEffFormer",
    "is_unused_tensor",
    "preprocess_minmax255",
]

_UNUSED_PREFIXES = (
    "decoder_0.cross_attn.",
    "decoder_2.x1_linear.",
    "decoder_2.concat_linear.",
    "decoder_2.norm_tr.",
    "context_bridge.norm1.",
    "context_bridge.norm2.",
    "context_bridge.norm3.",
)
_UNUSED_MLP_NORMS = (".mlp1.norm2.", ".mlp1.norm3.",
                     ".mlp2.norm2.", ".mlp2.norm3.")


def is_unused_tensor(name: str) -> bool:
    """True for a checkpoint tensor the forward pass never reads.

    The single place in Python that knows these names; it must agree with
    ``ls_network_tensor_is_unused`` in ``core/network-weights.c``.
    """
    if name.startswith(_UNUSED_PREFIXES):
        return True
    if name.startswith("context_bridge.attn") and ".reprojection." in name:
        return True
    if name.startswith("backbone.block") and any(
            part in name for part in _UNUSED_MLP_NORMS):
        return True
    return False


def _linear_1x1(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """A 1x1 convolution applied to token-major ``x`` [B, N, C_in]."""
    return F.linear(x, conv.weight.flatten(1), conv.bias)


def _to_grid(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """[B, N, C] tokens (row-major) -> [B, C, H, W]."""
    return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], h, w)


def _to_tokens(x: torch.Tensor) -> torch.Tensor:
    """[B, C, H, W] -> [B, H*W, C] tokens."""
    return x.flatten(2).transpose(1, 2)


def _context(keys: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """The efficient-attention context G = softmax_N(K) V^T, as [B, C, C].

    ``keys`` and ``values`` are token-major [B, N, C]; G[i, j] sums over
    tokens of softmax_N(K)[i, n] * V[j, n].
    """
    return F.softmax(keys, dim=1).transpose(1, 2) @ values


def _apply_context(context: torch.Tensor,
                   queries: torch.Tensor) -> torch.Tensor:
    """A = G^T softmax_C(Q), returned token-major [B, N, C]."""
    return F.softmax(queries, dim=2) @ context


class EfficientAttention(nn.Module):
    """One-head efficient attention (Shen et al.) on C channels.

    Every instance owns ``keys``, ``queries``, ``values`` and
    ``reprojection`` 1x1 convolutions, as the authors' class does; the
    ISCF bridge uses only the first three.
    """

    def __init__(self, dim: int):
        super().__init__()
        self.keys = nn.Conv2d(dim, dim, 1)
        self.queries = nn.Conv2d(dim, dim, 1)
        self.values = nn.Conv2d(dim, dim, 1)
        self.reprojection = nn.Conv2d(dim, dim, 1)

    def context_and_queries(self, x: torch.Tensor):
        """(G [B, C, C], Q [B, N, C] before its softmax) of tokens ``x``."""
        context = _context(_linear_1x1(x, self.keys),
                           _linear_1x1(x, self.values))
        return context, _linear_1x1(x, self.queries)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        context, queries = self.context_and_queries(x)
        return _linear_1x1(_apply_context(context, queries), self.reprojection)


class DWConv(nn.Module):
    """Depthwise 3x3 convolution (pad 1, with bias) on a token grid."""

    def __init__(self, dim: int):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 3, 1, 1, groups=dim)

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        return _to_tokens(self.dwconv(_to_grid(x, h, w)))


class MixFFNSkip(nn.Module):
    """Mix-FFN with skip: fc2(GELU(LN(dwconv(fc1 x) + fc1 x))).

    ``norm2`` and ``norm3`` exist in the authors' checkpoints and are unused.
    """

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.dwconv = DWConv(hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.norm1 = nn.LayerNorm(hidden)
        self.norm2 = nn.LayerNorm(hidden)
        self.norm3 = nn.LayerNorm(hidden)

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        hidden = self.fc1(x)
        mixed = self.dwconv(hidden, h, w) + hidden
        return self.fc2(F.gelu(self.norm1(mixed)))


class EfficientTransformerBlock(nn.Module):
    """Pre-norm block: attention, then two Mix-FFNs, each with a residual."""

    def __init__(self, dim: int, ffn_ratio: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = EfficientAttention(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.norm3 = nn.LayerNorm(dim)
        self.mlp1 = MixFFNSkip(dim, dim * ffn_ratio)
        self.mlp2 = MixFFNSkip(dim, dim * ffn_ratio)

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        x = x + self.mlp1(self.norm2(x), h, w)
        return x + self.mlp2(self.norm3(x), h, w)


class OverlapPatchEmbedding(nn.Module):
    """Strided convolution followed by LayerNorm over channels."""

    def __init__(self, in_ch: int, dim: int, kernel: int, stride: int,
                 padding: int):
        super().__init__()
        self.proj = nn.Conv2d(in_ch, dim, kernel, stride, padding)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor):
        x = self.proj(x)
        h, w = x.shape[2:]
        return self.norm(_to_tokens(x)), h, w


class Encoder(nn.Module):
    """Three stages of patch embedding, transformer blocks and a final LN."""

    _PATCH = ((7, 4, 3), (3, 2, 1), (3, 2, 1))  # kernel, stride, padding

    def __init__(self, dims: Sequence[int], layers: Sequence[int],
                 ffn_ratio: int):
        super().__init__()
        in_chs = (3,) + tuple(dims[:-1])
        for s in range(3):
            kernel, stride, pad = self._PATCH[s]
            setattr(self, f"patch_embed{s + 1}", OverlapPatchEmbedding(
                in_chs[s], dims[s], kernel, stride, pad))
        for s in range(3):
            setattr(self, f"block{s + 1}", nn.ModuleList(
                EfficientTransformerBlock(dims[s], ffn_ratio)
                for _ in range(layers[s])))
            setattr(self, f"norm{s + 1}", nn.LayerNorm(dims[s]))

    def forward(self, x: torch.Tensor) -> List[Tuple[torch.Tensor, int, int]]:
        """Returns (tokens [B, N_s, d_s], H_s, W_s) for each stage."""
        outs = []
        for s in range(1, 4):
            tokens, h, w = getattr(self, f"patch_embed{s}")(x)
            for block in getattr(self, f"block{s}"):
                tokens = block(tokens, h, w)
            tokens = getattr(self, f"norm{s}")(tokens)
            outs.append((tokens, h, w))
            x = _to_grid(tokens, h, w)
        return outs


class SEBlock(nn.Module):
    """Squeeze-and-excitation over k contexts, then a 1x1 conv k -> 1."""

    def __init__(self, k: int):
        super().__init__()
        self.fc1 = nn.Linear(k, k)
        self.fc2 = nn.Linear(k, k)
        self.conv = nn.Conv2d(k, 1, 1)

    def forward(self, contexts: torch.Tensor) -> torch.Tensor:
        """[B, k, C, C] contexts -> fused context [B, C, C]."""
        squeezed = contexts.mean(dim=(2, 3))
        excite = torch.sigmoid(self.fc2(F.relu(self.fc1(squeezed))))
        weights = self.conv.weight.flatten() * excite            # [B, k]
        fused = torch.einsum("bk,bkij->bij", weights, contexts)
        return fused + self.conv.bias


class ContextBridge(nn.Module):
    """Inter-scale context fusion over the ``iscf_scales`` deepest scales.

    Scale s (1-based) is fused when s > 3 - iscf_scales.  Fused scales other
    than the deepest are mapped to d3 channels (``map{s}``) and back
    (``revmap{s}``).  ``norm{s}`` and ``attn{s}.reprojection`` exist like the
    authors' and are unused.
    """

    def __init__(self, dims: Sequence[int], iscf_scales: int):
        super().__init__()
        if not 1 <= iscf_scales <= 3:
            raise ValueError(
                f"iscf_scales must be 1, 2 or 3, not {iscf_scales}")
        self.scales = list(range(4 - iscf_scales, 4))     # 1-based
        bridge = dims[2]
        for s in self.scales:
            setattr(self, f"attn{s}", EfficientAttention(bridge))
        for s in self.scales:
            if s < 3:
                setattr(self, f"map{s}", nn.Conv2d(dims[s - 1], bridge, 1))
        for s in self.scales:
            if s < 3:
                setattr(self, f"revmap{s}", nn.Conv2d(bridge, dims[s - 1], 1))
        for s in self.scales:
            setattr(self, f"norm{s}", nn.LayerNorm(bridge))
        self.SE = SEBlock(iscf_scales)

    def forward(self, features: List[torch.Tensor]) -> List[torch.Tensor]:
        """Adds the fused context's read-out to each fused scale's tokens."""
        contexts, queries = [], []
        for s in self.scales:
            x = features[s - 1]
            if s < 3:
                x = _linear_1x1(x, getattr(self, f"map{s}"))
            context, query = getattr(self, f"attn{s}").context_and_queries(x)
            contexts.append(context)
            queries.append(query)
        fused = self.SE(torch.stack(contexts, dim=1))
        out = list(features)
        for s, query in zip(self.scales, queries):
            read = _apply_context(fused, query)
            if s < 3:
                read = _linear_1x1(read, getattr(self, f"revmap{s}"))
            out[s - 1] = out[s - 1] + read
        return out


class PatchExpand(nn.Module):
    """Bias-free Linear C -> p*p*c, pixel shuffle by p, then LN(c).

    p = 2 gives c = C / 2 (``PatchExpand``), p = 4 gives c = C
    (``FinalPatchExpand_X4``); the names and shapes are the authors'.
    """

    def __init__(self, dim: int, scale: int):
        super().__init__()
        self.scale = scale
        self.out_dim = dim // 2 if scale == 2 else dim
        self.expand = nn.Linear(dim, scale * scale * self.out_dim, bias=False)
        self.norm = nn.LayerNorm(self.out_dim)

    def forward(self, x: torch.Tensor, h: int, w: int):
        b = x.shape[0]
        p, c = self.scale, self.out_dim
        x = self.expand(x).reshape(b, h, w, p, p, c)
        x = x.permute(0, 1, 3, 2, 4, 5).reshape(b, h * p * w * p, c)
        return self.norm(x), h * p, w * p


class CrossAttention(nn.Module):
    """Parameters of the authors' ``Cross_Attention`` (never called)."""

    def __init__(self, dim: int):
        super().__init__()
        self.reprojection = nn.Conv2d(dim, 2 * dim, 1)
        self.norm = nn.LayerNorm(2 * dim)


class CrossAttentionBlock(nn.Module):
    """Parameters of the authors' ``CrossAttentionBlock`` (never called).

    Its checkpoint tensors must exist so that authors' checkpoints load
    strictly; the forward pass does not use them.
    """

    def __init__(self, dim: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = CrossAttention(dim)
        self.norm2 = nn.LayerNorm(2 * dim)
        self.mlp = MixFFNSkip(2 * dim, 4 * dim)


class DecoderLayer(nn.Module):
    """One decoder stage: fuse with the skip input, then patch-expand.

    U = LN_tr(concat_linear([x1_linear(T) ; skip])), then expand by
    ``scale``.  The deepest stage (``has_skip=False``) expands its input
    directly; its x1_linear/concat_linear/norm_tr exist and are unused.
    The last stage also owns the (unused) cross-attention block and the
    1x1 ``last_layer`` that produces the logits.
    """

    def __init__(self, in_dim: int, out_dim: int, scale: int, has_skip: bool,
                 num_classes: int = 0):
        super().__init__()
        self.has_skip = has_skip
        self.x1_linear = nn.Linear(in_dim, out_dim)
        if num_classes:
            self.cross_attn = CrossAttentionBlock(out_dim)
        self.concat_linear = nn.Linear(2 * out_dim, out_dim)
        self.norm_tr = nn.LayerNorm(out_dim)
        self.layer_up = PatchExpand(out_dim, scale)
        self.last_layer = (nn.Conv2d(out_dim, num_classes, 1)
                           if num_classes else None)
        self._init_weights()

    def _init_weights(self):
        """Xavier-uniform weights and zero biases, as the authors' decoder."""
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor, h: int, w: int,
                skip: torch.Tensor = None):
        if self.has_skip:
            x = torch.cat([self.x1_linear(x), skip], dim=2)
            x = self.norm_tr(self.concat_linear(x))
        x, h, w = self.layer_up(x, h, w)
        if self.last_layer is not None:
            x = F.linear(x, self.last_layer.weight.flatten(1),
                         self.last_layer.bias)
            x = x.reshape(x.shape[0], h, w, -1).permute(0, 3, 1, 2)
        return x, h, w


class IscfEffFormer(nn.Module):
    """The lesion segmentation network of arXiv 2310.13604 (model-spec.md).

    Args:
        dims: channels (d1, d2, d3) of the three encoder stages; d2 and d3
            must be even.
        layers: transformer blocks per encoder stage.
        ffn_ratio: hidden width of each Mix-FFN, as a multiple of its input.
        iscf_scales: how many of the deepest scales the ISCF bridge fuses
            (1, 2 or 3; the published model fuses 3).
        num_classes: output channels (1 for the published model).

    ``forward(x)`` takes [B, 3, H, W] float images, already normalised as the
    model's ``input_norm`` says (``preprocess_minmax255`` for the published
    model), with H and W multiples of 16, and returns logits
    [B, classes, H, W].
    """

    def __init__(self, dims: Sequence[int] = (128, 320, 512),
                 layers: Sequence[int] = (2, 2, 2), ffn_ratio: int = 4,
                 iscf_scales: int = 3, num_classes: int = 1):
        super().__init__()
        dims = tuple(int(d) for d in dims)
        layers = tuple(int(n) for n in layers)
        if len(dims) != 3 or len(layers) != 3:
            raise ValueError("dims and layers need three entries each")
        if min(dims) < 1 or min(layers) < 0 or ffn_ratio < 1:
            raise ValueError(f"bad config dims={dims} layers={layers} "
                             f"ffn_ratio={ffn_ratio}")
        if dims[1] % 2 or dims[2] % 2:
            raise ValueError(f"d2 and d3 must be even, got dims={dims}")
        self.dims = dims
        self.layers = layers
        self.ffn_ratio = int(ffn_ratio)
        self.iscf_scales = int(iscf_scales)
        self.num_classes = int(num_classes)

        d1, d2, d3 = dims
        # registration order gives the authors' state-dict order
        self.context_bridge = ContextBridge(dims, self.iscf_scales)
        self.backbone = Encoder(dims, layers, self.ffn_ratio)
        self.decoder_2 = DecoderLayer(d3, d3, 2, has_skip=False)
        self.decoder_1 = DecoderLayer(d3 // 2, d2, 2, has_skip=True)
        self.decoder_0 = DecoderLayer(d2 // 2, d1, 4, has_skip=True,
                                      num_classes=self.num_classes)

    def config(self) -> Dict[str, Union[Tuple[int, ...], int]]:
        """The hyper-parameters, as keyword arguments of the constructor."""
        return {"dims": self.dims, "layers": self.layers,
                "ffn_ratio": self.ffn_ratio, "iscf_scales": self.iscf_scales,
                "num_classes": self.num_classes}

    def used_state_dict(self) -> Dict[str, torch.Tensor]:
        """The state dict without the tensors the forward pass never reads."""
        return {name: t for name, t in self.state_dict().items()
                if not is_unused_tensor(name)}

    def used_tensor_names(self) -> List[str]:
        return list(self.used_state_dict())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(
                f"expected [B, 3, H, W] input, got {list(x.shape)}")
        if x.shape[2] % 16 or x.shape[3] % 16:
            raise ValueError(f"H and W must be multiples of 16 (32 for the C "
                             f"core), got {x.shape[2]}x{x.shape[3]}")
        stages = self.backbone(x)
        tokens = self.context_bridge([t for t, _, _ in stages])
        (_, h1, w1), (_, h2, w2), (_, h3, w3) = stages

        t2, h, w = self.decoder_2(tokens[2], h3, w3)
        t1, h, w = self.decoder_1(t2, h, w, skip=tokens[1])
        logits, _, _ = self.decoder_0(t1, h, w, skip=tokens[0])
        return logits


def preprocess_minmax255(image) -> torch.Tensor:
    """Per-image min-max stretch of an RGB image to [0, 255] (model-spec.md).

    ``image``: uint8 (or any real) array/tensor [H, W, 3].  Returns a float32
    tensor [3, H, W] computed as ``(x - min) / (max - min) * 255`` in float32,
    min and max over all pixels and channels; all zeros if max == min.
    """
    if isinstance(image, torch.Tensor):
        x = image.detach().cpu().to(torch.float32)
    else:
        x = torch.from_numpy(np.asarray(image, dtype=np.float32).copy())
    if x.dim() != 3 or x.shape[2] != 3:
        raise ValueError(f"expected an [H, W, 3] image, got {list(x.shape)}")
    lo, hi = x.min(), x.max()
    if hi == lo:
        out = torch.zeros_like(x)
    else:
        out = (x - lo) / (hi - lo) * 255.0
    return out.permute(2, 0, 1).contiguous()
