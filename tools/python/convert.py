#!/usr/bin/python3
"""Convert a PyTorch checkpoint of the network to a lesionseg model file.

Accepts the authors' training checkpoints (``torch.save({'model_weights':
state_dict, 'test_F1_score': f1})`` with every key prefixed ``net.``) and bare
state dicts.  The configuration (dims, layers, ffn_ratio, iscf_scales) is
inferred from tensor shapes and checked by loading the weights into
``IscfEffFormer`` with ``strict=True``; the result is written as safetensors
with the configuration in its metadata.

Checkpoints are pickles, and unpickling can run arbitrary code.  By default
this tool unpickles both torch.save formats (zip, PyTorch >= 1.6, and the
older plain pickles) with an allow-list (tensors, storages, OrderedDict,
numpy scalars and arrays) and refuses anything else; ``--trust`` lifts that
for files you trust, using torch.load(weights_only=False).

    python3 tools/python/convert.py best_model.pth -o model.safetensors
"""

import argparse
import os
import pickle
import re
import sys
import zipfile
from typing import Dict, Mapping

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lesionseg_ref.export import DTYPES, export  # noqa: E402
from lesionseg_ref.model import IscfEffFormer, is_unused_tensor  # noqa: E402


class ConversionError(Exception):
    """A checkpoint this tool cannot turn into a model file."""


# Storage classes a checkpoint may name, and the element type they hold.
_STORAGE_DTYPES = {
    "DoubleStorage": torch.float64, "FloatStorage": torch.float32,
    "HalfStorage": torch.float16, "BFloat16Storage": torch.bfloat16,
    "LongStorage": torch.int64, "IntStorage": torch.int32,
    "ShortStorage": torch.int16, "CharStorage": torch.int8,
    "ByteStorage": torch.uint8, "BoolStorage": torch.bool,
    "UntypedStorage": torch.uint8,
}
# Other globals the safe unpickler resolves to the real thing: containers,
# numpy scalars and arrays (test_F1_score), and torch dtypes.
_ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"),
    ("numpy", "dtype"),
    ("numpy", "ndarray"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("_codecs", "encode"),  # bytes inside protocol-2 pickles
    ("torch", "Size"),
}
_TORCH_DTYPE_NAMES = {"float64", "float32", "float16", "bfloat16", "int64",
                      "int32", "int16", "int8", "uint8", "bool"}


def _rebuild_tensor(storage, offset, size, stride, *_ignored):
    # A view, not a copy: a legacy file's storages are filled after the
    # pickle that builds the tensors (see _safe_load_legacy).
    return torch.as_strided(storage, size, stride, offset)


def _rebuild_tensor_v3(storage, offset, size, stride, requires_grad, hooks,
                       dtype, *_ignored):
    return _rebuild_tensor(storage.view(dtype), offset, size, stride)


def _rebuild_parameter(data, *_ignored):
    return data


_REBUILDERS = {
    "_rebuild_tensor": _rebuild_tensor,
    "_rebuild_tensor_v2": _rebuild_tensor,
    "_rebuild_tensor_v3": _rebuild_tensor_v3,
    "_rebuild_parameter": _rebuild_parameter,
    "_rebuild_parameter_with_state": _rebuild_parameter,
}


class _StorageType:
    def __init__(self, dtype):
        self.dtype = dtype


def _storage_tensor(data: bytearray, dtype):
    """A 1-D tensor of dtype sharing data's memory (a storage stand-in)."""
    return (torch.frombuffer(data, dtype=dtype) if data
            else torch.empty(0, dtype=dtype))


class _SafeUnpickler(pickle.Unpickler):
    """Unpickles a checkpoint building only tensors, dicts, numpy scalars and
    arrays; any other global is refused. storage_for(saved_id) makes the
    storage a persistent id names (each file format has its own)."""

    def __init__(self, file, storage_for=None):
        super().__init__(file, encoding="utf-8")
        self._storage_for = storage_for

    def find_class(self, module, name):
        if module.startswith("numpy._core"):  # numpy 2 pickles
            module = "numpy.core" + module[len("numpy._core"):]
        if module in ("torch", "torch.storage") and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        if module == "torch._utils" and name in _REBUILDERS:
            return _REBUILDERS[name]
        if (module, name) in _ALLOWED_GLOBALS or (
                module == "torch" and name in _TORCH_DTYPE_NAMES):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"refusing to unpickle {module}.{name}: it is not on the "
            "allow-list of tensors, dicts and numpy scalars")

    def persistent_load(self, saved_id):
        if not (self._storage_for and isinstance(saved_id, tuple)
                and len(saved_id) >= 5 and saved_id[0] == "storage"
                and isinstance(saved_id[1], _StorageType)):
            raise pickle.UnpicklingError(f"unknown persistent id {saved_id!r}")
        return self._storage_for(saved_id)


def _safe_load_zip(path: str):
    """Loads a torch.save zip file (PyTorch >= 1.6) with _SafeUnpickler:
    storage KEY is the archive's record data/KEY."""
    with zipfile.ZipFile(path) as archive:
        pickles = [n for n in archive.namelist() if n.endswith("/data.pkl")]
        if len(pickles) != 1:
            raise ConversionError(f"{path}: no single data.pkl in the archive")
        prefix = pickles[0][:-len("data.pkl")]
        names = set(archive.namelist())
        if f"{prefix}byteorder" in names and \
                archive.read(f"{prefix}byteorder").strip() != b"little":
            raise ConversionError(f"{path}: big-endian checkpoints are not "
                                  "supported")
        storages = {}

        def storage_for(saved_id):
            _, storage_type, key, _location, _numel = saved_id[:5]
            if key not in storages:
                data = bytearray(archive.read(f"{prefix}data/{key}"))
                storages[key] = _storage_tensor(data, storage_type.dtype)
            return storages[key]

        with archive.open(pickles[0]) as f:
            return _SafeUnpickler(f, storage_for).load()


_LEGACY_MAGIC = 0x1950a86a20f9469cfc6c
_LEGACY_PROTOCOL = 1001


def _safe_load_legacy(path: str):
    """Loads a pre-1.6 torch.save file with _SafeUnpickler. Its layout: a
    magic number, the protocol version and system information (three small
    pickles), the object's pickle, whose persistent ids ('storage', type,
    root key, location, element count, view) name storages, the list of root
    keys, then each root storage as an int64 element count and its bytes.
    (torch 1.13's weights_only loader cannot read this format when the
    object holds a Python float, as the authors' F1 score.)"""
    roots = {}  # root key -> (bytearray, its tensor, element count)
    views = {}

    def storage_for(saved_id):
        if len(saved_id) != 6:
            raise pickle.UnpicklingError(f"unknown persistent id {saved_id!r}")
        _, storage_type, root_key, _location, numel, view = saved_id
        if root_key not in roots:
            dtype = storage_type.dtype
            data = bytearray(numel * torch.empty(0, dtype=dtype).element_size())
            roots[root_key] = (data, _storage_tensor(data, dtype), numel)
        root = roots[root_key][1]
        if view is None:
            return root
        view_key, offset, view_numel = view
        if view_key not in views:
            views[view_key] = root[offset:offset + view_numel]
        return views[view_key]

    with open(path, "rb") as f:
        if _SafeUnpickler(f).load() != _LEGACY_MAGIC:
            raise ConversionError(f"{path}: a pickle, but not a PyTorch "
                                  "checkpoint (no torch.save magic number)")
        protocol = _SafeUnpickler(f).load()
        if protocol != _LEGACY_PROTOCOL:
            raise ConversionError(f"{path}: torch.save protocol {protocol}, "
                                  f"expected {_LEGACY_PROTOCOL}")
        _SafeUnpickler(f).load()  # system information
        result = _SafeUnpickler(f, storage_for).load()
        keys = _SafeUnpickler(f).load()
        for key in keys:
            if key not in roots:
                raise ConversionError(f"{path}: storage {key!r} is stored "
                                      "but no tensor uses it")
            data, _, expected = roots[key]
            header = f.read(8)
            count = int.from_bytes(header, "little") if len(header) == 8 \
                else -1
            if count != expected:
                raise ConversionError(
                    f"{path}: storage {key!r} holds {count} elements where "
                    f"its tensors need {expected}")
            if f.readinto(memoryview(data)) != len(data):
                raise ConversionError(f"{path}: truncated: the file ends "
                                      f"inside storage {key!r}")
        return result


def load_checkpoint(path: str, trust: bool = False):
    """Loads a torch.save file onto the CPU (see the module's docstring).

    Without ``trust`` both formats go through our allow-list unpickler:
    torch 1.13's torch.load ignores a custom pickle_module, and its
    weights_only mode rejects numpy scalars (the authors' test_F1_score)
    and, in pre-1.6 files, Python floats.
    """
    if trust:
        return torch.load(path, map_location="cpu", weights_only=False)
    try:
        if zipfile.is_zipfile(path):
            return _safe_load_zip(path)
        # A pre-1.6 file is a sequence of pickles (protocol 2 or later),
        # whose first byte is the PROTO opcode; anything else is no
        # checkpoint.
        with open(path, "rb") as f:
            first = f.read(2)
        if first == b"PK":
            raise ConversionError(f"{path}: a damaged or truncated zip "
                                  "archive (torch.save's format)")
        if first[:1] != b"\x80":
            raise ConversionError(
                f"{path}: not a PyTorch checkpoint (neither a torch.save "
                "zip archive nor a pickle)")
        return _safe_load_legacy(path)
    except (pickle.UnpicklingError, RuntimeError) as e:
        raise ConversionError(
            f"{path}: {e}. If you trust this file, run again with --trust "
            "(that unpickles it fully, which can run code it contains).")
    except (OSError, EOFError, zipfile.BadZipFile, KeyError,
            ValueError, TypeError) as e:
        raise ConversionError(f"{path}: cannot read: {e}")


def extract_state_dict(obj, path: str) -> Dict[str, torch.Tensor]:
    """The network's state dict inside a loaded checkpoint, without the
    ``net.`` (authors' wrapper) or ``module.`` (DataParallel) prefix."""
    if isinstance(obj, Mapping):
        for key in ("model_weights", "state_dict", "model"):
            if isinstance(obj.get(key), Mapping):
                obj = obj[key]
                break
    if not isinstance(obj, Mapping) or not obj or not all(
            isinstance(v, torch.Tensor) for v in obj.values()):
        raise ConversionError(
            f"{path}: found no state dict (expected a dict of tensors, or a "
            "dict with one under 'model_weights')")
    state = {str(k): v for k, v in obj.items()}
    for prefix in ("module.", "net.", "module."):
        if all(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items()}
    return state


def _shape(state, name, path):
    if name not in state:
        raise ConversionError(
            f"{path}: no tensor '{name}': not an ISCF-EffFormer checkpoint "
            f"(first keys: {', '.join(list(state)[:5])})")
    return tuple(state[name].shape)


def infer_config(state: Mapping[str, torch.Tensor], path: str = "checkpoint"):
    """IscfEffFormer keyword arguments read off the tensor shapes."""
    dims = tuple(_shape(state, f"backbone.patch_embed{s}.proj.weight", path)[0]
                 for s in (1, 2, 3))
    layers = []
    ffn_ratio = None
    for s in (1, 2, 3):
        pattern = re.compile(rf"backbone\.block{s}\.(\d+)\.")
        indices = {int(m.group(1)) for k in state
                   for m in [pattern.match(k)] if m}
        if indices and indices != set(range(len(indices))):
            raise ConversionError(
                f"{path}: blocks of stage {s} are not numbered 0..n-1: "
                f"{sorted(indices)}")
        layers.append(len(indices))
        if indices and ffn_ratio is None:
            fc1 = f"backbone.block{s}.0.mlp1.fc1.weight"
            hidden = _shape(state, fc1, path)[0]
            if hidden % dims[s - 1]:
                raise ConversionError(
                    f"{path}: Mix-FFN width {hidden} is not a multiple of "
                    f"d{s} = {dims[s - 1]}")
            ffn_ratio = hidden // dims[s - 1]
    iscf_scales = _shape(state, "context_bridge.SE.fc1.weight", path)[0]
    num_classes = _shape(state, "decoder_0.last_layer.weight", path)[0]
    return {"dims": dims, "layers": tuple(layers),
            "ffn_ratio": ffn_ratio or 4, "iscf_scales": iscf_scales,
            "num_classes": num_classes}


def build_model(state: Mapping[str, torch.Tensor], path: str = "checkpoint"):
    """An IscfEffFormer holding ``state``, loaded with strict checking."""
    config = infer_config(state, path)
    try:
        model = IscfEffFormer(**config)
    except ValueError as e:
        raise ConversionError(f"{path}: inferred config {config}: {e}")
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [f"{k} {list(state[k].shape)} (expected {list(v.shape)})"
             for k, v in expected.items()
             if k in state and state[k].shape != v.shape]
    # Tensors the forward pass never reads may be absent (files written
    # without them); everything it reads must be there.
    missing_used = [k for k in missing if not is_unused_tensor(k)]
    if missing_used or unexpected or wrong:
        lines = [f"{path}: does not match IscfEffFormer{config}:"]
        for title, names in (("missing", missing_used),
                             ("unexpected", unexpected),
                             ("wrong shape", wrong)):
            if names:
                lines.append(f"  {title} ({len(names)}): " + ", ".join(names))
        raise ConversionError("\n".join(lines))
    if missing:
        state = dict(state)
        for k in missing:
            state[k] = expected[k]
    model.load_state_dict({k: v.float() for k, v in state.items()},
                          strict=True)
    return model.eval(), config, len(missing)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description="Convert an authors'-format checkpoint or a bare state "
                    "dict to a lesionseg safetensors model file.")
    parser.add_argument("checkpoint", help="torch.save file (.pth/.pt)")
    parser.add_argument("-o", "--output", required=True,
                        help="the .safetensors file to write")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="F32",
                        help="tensor type in the output (default F32)")
    parser.add_argument("--image-size", type=int, default=224,
                        help="native input size the model was trained at "
                             "(a multiple of 32; default 224)")
    parser.add_argument("--include-unused", action="store_true",
                        help="also write the tensors the forward pass never "
                             "reads")
    parser.add_argument("--trust", action="store_true",
                        help="unpickle the checkpoint without the allow-list "
                             "(only for files you trust: pickles can run "
                             "code)")
    args = parser.parse_args(argv)
    if args.image_size <= 0 or args.image_size % 32:
        parser.error("--image-size must be a positive multiple of 32")

    try:
        obj = load_checkpoint(args.checkpoint, args.trust)
        state = extract_state_dict(obj, args.checkpoint)
        model, config, n_absent = build_model(state, args.checkpoint)
    except ConversionError as e:
        print(f"convert: {e}", file=sys.stderr)
        return 1
    if model.num_classes != 1:
        print(f"convert: {args.checkpoint}: the model has {model.num_classes} "
              "output classes; lesionseg model files have one",
              file=sys.stderr)
        return 1

    extra = {"source": os.path.basename(args.checkpoint)}
    if isinstance(obj, Mapping) and "test_F1_score" in obj:
        try:
            extra["test_f1_score"] = repr(float(obj["test_F1_score"]))
        except (TypeError, ValueError):
            pass
    export(model, args.output, dtype=args.dtype,
           include_unused=args.include_unused, extra_metadata=extra,
           image_size=args.image_size)
    written = (model.state_dict() if args.include_unused
               else model.used_state_dict())
    n_params = sum(t.numel() for t in written.values())
    print(f"{args.output}: {len(written)} tensors, {n_params:,} parameters, "
          f"{args.dtype}; dims={','.join(map(str, config['dims']))} "
          f"layers={','.join(map(str, config['layers']))} "
          f"ffn_ratio={config['ffn_ratio']} "
          f"iscf_scales={config['iscf_scales']}"
          + (f" ({n_absent} unused tensors absent from the checkpoint)"
             if n_absent else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
