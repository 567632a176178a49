"""Minimal safetensors reader and writer (numpy + torch, no other packages).

The format: an unsigned little-endian 64-bit header length, a JSON header
(padded with spaces to a multiple of 8 bytes here), then the raw
little-endian tensor data.  The header maps each tensor name to
``{"dtype", "shape", "data_offsets": [begin, end]}`` (offsets relative to the
data area) and may hold a ``__metadata__`` map of strings to strings.  Tensors
are written contiguously with no gaps, in the order given except that wider
element types come first (so that every offset is aligned to its type).
"""

import json
import struct
from typing import Dict, Mapping, Optional, Tuple, Union

import numpy as np
import torch

__all__ = ["save_file", "load_file", "load_file_with_metadata",
           "read_metadata", "SafetensorsError"]

# safetensors dtype -> (torch dtype, little-endian numpy dtype of the raw
# bits).  BF16 has no numpy type: its bits travel as int16.
_DTYPES = {
    "F64": (torch.float64, np.dtype("<f8")),
    "F32": (torch.float32, np.dtype("<f4")),
    "F16": (torch.float16, np.dtype("<f2")),
    "BF16": (torch.bfloat16, np.dtype("<i2")),
    "I64": (torch.int64, np.dtype("<i8")),
    "I32": (torch.int32, np.dtype("<i4")),
    "I16": (torch.int16, np.dtype("<i2")),
    "I8": (torch.int8, np.dtype("i1")),
    "U8": (torch.uint8, np.dtype("u1")),
    "BOOL": (torch.bool, np.dtype("?")),
}
_TORCH_TO_NAME = {t: name for name, (t, _) in _DTYPES.items()}
_MAX_HEADER = 100 * 1024 * 1024

Array = Union[torch.Tensor, np.ndarray]


class SafetensorsError(ValueError):
    """A file that is not valid safetensors, or a tensor we cannot store."""


def _as_tensor(value: Array) -> torch.Tensor:
    if isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value, order="C")
        return torch.from_numpy(array.astype(array.dtype.newbyteorder("="),
                                             copy=False))
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().contiguous()
    raise SafetensorsError(f"not a tensor or array: {type(value).__name__}")


def _raw_bytes(t: torch.Tensor) -> bytes:
    """The tensor's elements as little-endian bytes."""
    if t.dtype == torch.bfloat16:
        bits = t.view(torch.int16).numpy()
    else:
        bits = t.numpy()
    return bits.astype(bits.dtype.newbyteorder("<"), copy=False).tobytes()


def save_file(tensors: Mapping[str, Array], path: str,
              metadata: Optional[Mapping[str, str]] = None) -> None:
    """Writes ``tensors`` (name -> torch tensor or numpy array) to ``path``.

    Dtypes are kept as they are (F32, F16, BF16, and a few integer types);
    convert before calling.  ``metadata`` must map strings to strings.
    """
    header: Dict[str, object] = {}
    if metadata:
        bad = [k for k, v in metadata.items()
               if not isinstance(k, str) or not isinstance(v, str)]
        if bad:
            raise SafetensorsError(f"metadata must map str to str: {bad}")
        header["__metadata__"] = dict(metadata)
    converted = []
    for name, value in tensors.items():
        if name == "__metadata__":
            raise SafetensorsError("'__metadata__' is not a valid tensor name")
        t = _as_tensor(value)
        if t.dtype not in _TORCH_TO_NAME:
            raise SafetensorsError(f"{name}: unsupported dtype {t.dtype}")
        converted.append((name, t))
    # Wider types first (a stable sort: one dtype keeps the given order), so
    # that every tensor's offset is a multiple of its element size.
    converted.sort(key=lambda item: -item[1].element_size())
    blobs = []
    offset = 0
    for name, t in converted:
        blob = _raw_bytes(t)
        header[name] = {"dtype": _TORCH_TO_NAME[t.dtype],
                        "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def _parse(data: bytes, path: str) -> Tuple[dict, int]:
    if len(data) < 8:
        raise SafetensorsError(f"{path}: too short for a safetensors file")
    (length,) = struct.unpack("<Q", data[:8])
    if length > _MAX_HEADER or 8 + length > len(data):
        raise SafetensorsError(f"{path}: bad header length {length}")
    try:
        header = json.loads(data[8:8 + length].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SafetensorsError(f"{path}: header is not JSON: {e}") from None
    if not isinstance(header, dict):
        raise SafetensorsError(f"{path}: header is not a JSON object")
    return header, 8 + length


def load_file_with_metadata(path: str) -> Tuple[Dict[str, torch.Tensor],
                                                Dict[str, str]]:
    """Reads ``path``; returns (name -> torch tensor, metadata).

    Tensors keep the file's dtype and order; BF16 comes back as
    ``torch.bfloat16``.  The tensors own their memory (no mmap).
    """
    with open(path, "rb") as f:
        data = f.read()
    header, start = _parse(data, path)
    metadata = header.pop("__metadata__", None) or {}
    if not all(isinstance(k, str) and isinstance(v, str)
               for k, v in metadata.items()):
        raise SafetensorsError(f"{path}: __metadata__ must map str to str")
    body = memoryview(data)[start:]
    tensors = {}
    spans = []
    for name, info in header.items():
        try:
            dtype = info["dtype"]
            shape = [int(d) for d in info["shape"]]
            begin, end = (int(o) for o in info["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise SafetensorsError(f"{path}: bad entry for {name!r}") from None
        if dtype not in _DTYPES:
            raise SafetensorsError(f"{path}: {name}: unknown dtype {dtype}")
        torch_dtype, np_dtype = _DTYPES[dtype]
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if min(shape, default=0) < 0 or not 0 <= begin <= end <= len(body) \
                or end - begin != count * np_dtype.itemsize:
            raise SafetensorsError(
                f"{path}: {name}: offsets {begin}..{end} do not fit "
                f"{dtype}{shape} in {len(body)} data bytes")
        array = np.frombuffer(body[begin:end], dtype=np_dtype).copy()
        array = array.astype(np_dtype.newbyteorder("="), copy=False)
        t = torch.from_numpy(array)
        if torch_dtype == torch.bfloat16:
            t = t.view(torch.int16).view(torch.bfloat16)
        tensors[name] = t.reshape(shape)
        spans.append((begin, end, name))
    spans.sort()
    pos = 0
    for begin, end, name in spans:
        if begin != pos:
            raise SafetensorsError(
                f"{path}: data of {name} starts at {begin}, expected {pos} "
                "(gap or overlap)")
        pos = end
    if pos != len(body):
        raise SafetensorsError(
            f"{path}: {len(body) - pos} trailing data bytes")
    return tensors, dict(metadata)


def load_file(path: str) -> Dict[str, torch.Tensor]:
    """Reads the tensors of ``path`` (see ``load_file_with_metadata``)."""
    return load_file_with_metadata(path)[0]


def read_metadata(path: str) -> Dict[str, str]:
    """The ``__metadata__`` map of ``path``, reading only its header."""
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise SafetensorsError(f"{path}: too short for a safetensors file")
        (length,) = struct.unpack("<Q", head)
        if length > _MAX_HEADER:
            raise SafetensorsError(f"{path}: bad header length {length}")
        header, _ = _parse(head + f.read(length), path)
    return dict(header.get("__metadata__") or {})
