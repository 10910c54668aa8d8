"""Read PyTorch checkpoints (`torch.save` files: .pth, .bin, .pt) without torch.

A checkpoint is a pickle whose tensors point at raw storages. Two layouts exist:

- the zip layout (torch >= 1.6): `<archive>/data.pkl` plus one raw file per
  storage, `<archive>/data/<key>`, little-endian unless `<archive>/byteorder`
  says otherwise;
- the legacy layout (older files, e.g. weights released in 2018-2019): a
  stream of pickles (magic number, protocol, system info, the object, the list
  of storage keys) followed by each storage as an int64 element count and the
  raw bytes.

`load(path)` unpickles with a restricted Unpickler that knows only the few
globals a state dict needs (OrderedDict, torch's tensor/parameter rebuild
functions, storage types and dtypes) and rebuilds each tensor as a numpy array
from its storage, offset, shape and strides. Anything else (a pickled nn.Module,
arbitrary callables) is refused, so loading a file cannot run code from it.
bfloat16 tensors come back as `ml_dtypes.bfloat16` arrays (ml_dtypes ships
with jax).
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import struct
import zipfile
from typing import Any, BinaryIO, ClassVar

import numpy as np

try:  # jax depends on ml_dtypes; kept optional so this module needs only numpy
    import ml_dtypes
    _BFLOAT16 = np.dtype(ml_dtypes.bfloat16)
except ImportError:  # pragma: no cover
    _BFLOAT16 = None

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001

# torch storage class names and dtype names -> numpy dtypes.
_STORAGE_DTYPES = {
    "DoubleStorage": np.float64, "FloatStorage": np.float32, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
    "ComplexFloatStorage": np.complex64, "ComplexDoubleStorage": np.complex128,
    "BFloat16Storage": _BFLOAT16,
}
_TORCH_DTYPES = {
    "float64": np.float64, "double": np.float64, "float32": np.float32, "float": np.float32,
    "float16": np.float16, "half": np.float16, "int64": np.int64, "long": np.int64,
    "int32": np.int32, "int": np.int32, "int16": np.int16, "short": np.int16, "int8": np.int8,
    "uint8": np.uint8, "bool": np.bool_, "complex64": np.complex64, "complex128": np.complex128,
    "bfloat16": _BFLOAT16,
}


class CheckpointError(ValueError):
    """The file is not a PyTorch checkpoint this reader can load safely."""


class _StorageType:
    """Stands in for `torch.FloatStorage` & co. in the pickle: only its dtype matters."""

    def __init__(self, name: str, dtype):
        if dtype is None:
            raise CheckpointError(f"storage type torch.{name} needs ml_dtypes (install jax or ml_dtypes)")
        self.name, self.dtype = name, np.dtype(dtype)

    def __repr__(self):
        return f"torch.{self.name}"


class _DType:
    """Stands in for `torch.float32` & co."""

    def __init__(self, name: str, dtype):
        if dtype is None:
            raise CheckpointError(f"dtype torch.{name} needs ml_dtypes (install jax or ml_dtypes)")
        self.name, self.dtype = name, np.dtype(dtype)


class _Storage:
    """A flat numpy array of one storage; filled later in the legacy layout."""

    def __init__(self, dtype: np.dtype, numel: int, data: np.ndarray | None = None):
        self.dtype, self.numel, self.data = dtype, numel, data

    def view(self, offset: int, size: int) -> _StorageView:
        return _StorageView(self, offset, size)


class _StorageView:
    def __init__(self, base: _Storage, offset: int, size: int):
        self.base, self.offset, self.size = base, offset, size


class _LazyTensor:
    """A tensor whose storage bytes are read after the pickle (legacy layout)."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def materialize(self) -> np.ndarray:
        storage, offset = self.storage, self.offset
        if isinstance(storage, _StorageView):
            offset += storage.offset
            storage = storage.base
        if storage.data is None:
            raise CheckpointError("a tensor's storage was never read from the file")
        return _as_strided(storage.data, offset, self.size, self.stride)


def _as_strided(flat: np.ndarray, offset: int, size: tuple, stride: tuple) -> np.ndarray:
    numel = int(np.prod(size)) if size else 1
    if numel == 0:
        return np.zeros(size, flat.dtype)
    last = offset + sum((s - 1) * st for s, st in zip(size, stride))
    if offset < 0 or last >= flat.size:
        raise CheckpointError(f"tensor of shape {size} at offset {offset} runs past its storage "
                              f"of {flat.size} elements: the file is truncated or corrupt")
    item = flat.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(flat[offset:], shape=size,
                                           strides=tuple(st * item for st in stride))
    return np.array(view)  # own the memory, contiguous, writeable


def _rebuild_tensor(storage, storage_offset, size, stride, *unused):
    # _rebuild_tensor(storage, offset, size, stride) and _rebuild_tensor_v2(...,
    # requires_grad, backward_hooks[, metadata]) share the first four arguments.
    return _LazyTensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, *unused):
    return data  # a Parameter is its tensor here


def _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state):
    return data


class _RestrictedUnpickler(pickle.Unpickler):
    _SAFE: ClassVar[dict] = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
        ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter_with_state,
        ("builtins", "set"): set, ("builtins", "frozenset"): frozenset,
        ("builtins", "slice"): slice, ("builtins", "complex"): complex,
    }

    def __init__(self, file, storage_loader):
        super().__init__(file)
        self._storage_loader = storage_loader

    def find_class(self, module, name):
        if (module, name) in self._SAFE:
            return self._SAFE[(module, name)]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name, _STORAGE_DTYPES[name])
        if module == "torch" and name in _TORCH_DTYPES:
            return _DType(name, _TORCH_DTYPES[name])
        raise CheckpointError(
            f"refusing to unpickle {module}.{name}: only state dicts of tensors (and plain Python "
            "values) can be read without torch; save `model.state_dict()` rather than the model")

    def persistent_load(self, pid):
        return self._storage_loader(pid)


def _dtype_of(storage_type) -> np.dtype:
    if isinstance(storage_type, (_StorageType, _DType)):
        return storage_type.dtype
    raise CheckpointError(f"unsupported storage type {storage_type!r}")


def _materialize(obj: Any) -> Any:
    if isinstance(obj, _LazyTensor):
        return obj.materialize()
    if isinstance(obj, collections.OrderedDict):
        out = collections.OrderedDict((k, _materialize(v)) for k, v in obj.items())
        return out
    if isinstance(obj, dict):
        return {k: _materialize(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_materialize(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_materialize(v) for v in obj)
    return obj


def _load_zip(zf: zipfile.ZipFile, name: str) -> Any:
    pkl = [n for n in zf.namelist() if n.endswith("data.pkl") and n.count("/") == 1]
    if len(pkl) != 1:
        raise CheckpointError(f"{name}: a zip but not a torch.save archive (no <archive>/data.pkl)")
    prefix = pkl[0][: -len("data.pkl")]
    byteorder = "little"
    if prefix + "byteorder" in zf.namelist():
        byteorder = zf.read(prefix + "byteorder").decode().strip()
    storages: dict[str, _Storage] = {}

    def load_storage(pid):
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise CheckpointError(f"{name}: unexpected persistent id {pid!r}")
        _, storage_type, key, _location, _numel = pid[:5]
        if key not in storages:
            dtype = _dtype_of(storage_type)
            try:
                raw = zf.read(f"{prefix}data/{key}")
            except KeyError:
                raise CheckpointError(f"{name}: storage {key} is missing from the archive") from None
            data = np.frombuffer(raw, dtype=dtype.newbyteorder("<" if byteorder == "little" else ">"))
            storages[key] = _Storage(dtype, data.size, data.astype(dtype, copy=False))
        return storages[key]

    with zf.open(pkl[0]) as f:
        obj = _RestrictedUnpickler(f, load_storage).load()
    return _materialize(obj)


def _load_legacy(f: BinaryIO, name: str) -> Any:
    def plain():  # the header pickles hold only ints and dicts
        return _RestrictedUnpickler(f, lambda pid: None).load()

    try:
        magic = plain()
    except Exception as e:  # noqa: BLE001 - any failure means "not a checkpoint"
        raise CheckpointError(f"{name}: not a PyTorch checkpoint (neither a zip archive nor a legacy "
                              f"torch.save stream: {e})") from None
    if magic != _LEGACY_MAGIC:
        raise CheckpointError(f"{name}: not a PyTorch checkpoint (bad magic number)")
    protocol = plain()
    if protocol != _LEGACY_PROTOCOL:
        raise CheckpointError(f"{name}: unsupported legacy torch.save protocol {protocol}")
    sys_info = plain()
    little = not isinstance(sys_info, dict) or sys_info.get("little_endian", True)

    storages: dict[str, _Storage] = {}

    def load_storage(pid):
        kind = pid[0]
        if kind == "module":  # the class source check of a pickled module: refuse below anyway
            raise CheckpointError(f"{name}: holds a pickled nn.Module; only state dicts can be read")
        if kind != "storage":
            raise CheckpointError(f"{name}: unexpected persistent id {pid!r}")
        storage_type, root_key, _location, numel, view_metadata = pid[1:6]
        if root_key not in storages:
            storages[root_key] = _Storage(_dtype_of(storage_type), int(numel))
        storage = storages[root_key]
        if view_metadata is not None:
            _view_key, offset, size = view_metadata
            return storage.view(offset, size)
        return storage

    obj = _RestrictedUnpickler(f, load_storage).load()
    keys = plain()
    for key in keys:
        storage = storages.get(key)
        if storage is None:
            raise CheckpointError(f"{name}: storage {key} listed but never referenced")
        header = f.read(8)
        if len(header) != 8:
            raise CheckpointError(f"{name}: truncated before storage {key}")
        numel = struct.unpack("<q" if little else ">q", header)[0]
        nbytes = numel * storage.dtype.itemsize
        raw = f.read(nbytes)
        if len(raw) != nbytes:
            raise CheckpointError(f"{name}: truncated in storage {key} ({len(raw)} of {nbytes} bytes)")
        data = np.frombuffer(raw, dtype=storage.dtype.newbyteorder("<" if little else ">"))
        storage.data = data.astype(storage.dtype, copy=False)
    return _materialize(obj)


def load(path_or_file: str | os.PathLike | BinaryIO) -> Any:
    """Load a `torch.save` file as nested dicts / lists of numpy arrays.

    Tensors become numpy arrays (copies, so shared storages are unshared);
    nn.Parameters become plain arrays. Raises `CheckpointError` for files that
    are not checkpoints, are truncated, or pickle anything but data.
    """
    if isinstance(path_or_file, (str, os.PathLike)):
        name = os.fspath(path_or_file)
        if not os.path.exists(name):
            raise FileNotFoundError(f"no such checkpoint file: {name}")
        with open(name, "rb") as f:
            return _load_stream(f, name)
    return _load_stream(path_or_file, getattr(path_or_file, "name", "<stream>"))


def _load_stream(f: BinaryIO, name: str) -> Any:
    if not f.seekable():
        f = io.BytesIO(f.read())
    start = f.tell()
    if zipfile.is_zipfile(f):
        f.seek(start)
        with zipfile.ZipFile(f) as zf:
            return _load_zip(zf, name)
    f.seek(start)
    return _load_legacy(f, name)


def load_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """A checkpoint that is a flat {name: tensor} state dict (possibly under a
    'state_dict' or 'model' key), as a plain dict of numpy arrays."""
    obj = load(path)
    if isinstance(obj, dict) and not any(isinstance(v, np.ndarray) for v in obj.values()):
        for key in ("state_dict", "model", "model_state_dict"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict):
        raise CheckpointError(f"{os.fspath(path)}: holds a {type(obj).__name__}, not a state dict")
    out = {}
    for k, v in obj.items():
        if not isinstance(v, np.ndarray):
            raise CheckpointError(f"{os.fspath(path)}: entry {k!r} is a {type(v).__name__}, not a tensor")
        out[k] = v
    return out
