"""metrics.efficientnet_lite: the PyTorch legacy reader and the offline ImageNet net."""

import os
import pickle
import sys
import types

import numpy as np
import pytest
import tensorflow as tf

from data import preprocess
from data.core import DataError
from metrics import efficientnet_lite

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures")

# ImageNet-1k classes that are garments, footwear or worn accessories.
CLOTHING_CLASSES = {
    399: "abaya",
    400: "academic gown",
    411: "apron",
    445: "bikini",
    451: "bolo tie",
    457: "bow tie",
    459: "brassiere",
    465: "bulletproof vest",
    474: "cardigan",
    501: "cloak",
    502: "clog",
    514: "cowboy boot",
    552: "feather boa",
    568: "fur coat",
    578: "gown",
    601: "hoopskirt",
    608: "jean",
    610: "jersey",
    614: "kimono",
    617: "lab coat",
    630: "Loafer",
    638: "maillot",
    639: "maillot, tank suit",
    655: "miniskirt",
    689: "overskirt",
    697: "pajama",
    735: "poncho",
    770: "running shoe",
    774: "sandal",
    775: "sarong",
    806: "sock",
    834: "suit",
    841: "sweatshirt",
    842: "swimming trunks",
    869: "trench coat",
    887: "vestment",
}


# ---------------------------------------------------------------------------
# PyTorch legacy files without torch.


def _write_legacy(path, tensors, extra_global=None):
    """Writes `tensors` the way torch.save(..., _use_new_zipfile_serialization=False) does."""

    class Storage:
        pass

    fake_torch = types.ModuleType("torch")
    fake_utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):
        raise AssertionError("never called while writing")

    fake_utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    fake_torch.FloatStorage = Storage
    Storage.__module__, Storage.__qualname__ = "torch", "FloatStorage"
    _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = (
        "torch._utils",
        "_rebuild_tensor_v2",
    )

    class Ref:
        def __init__(self, key, array, offset, size, stride):
            self.key, self.array = key, array
            self.args = (offset, size, stride)

        def __reduce__(self):
            import collections

            return (_rebuild_tensor_v2, (self, *self.args, False, collections.OrderedDict()))

    import collections

    state = collections.OrderedDict()
    refs = []
    for i, (name, (storage, offset, size, stride)) in enumerate(tensors.items()):
        ref = Ref(str(i), np.asarray(storage, np.float32), offset, size, stride)
        refs.append(ref)
        state[name] = ref
    if extra_global is not None:
        state["evil"] = extra_global
    saved = {k: sys.modules.get(k) for k in ("torch", "torch._utils")}
    sys.modules["torch"], sys.modules["torch._utils"] = fake_torch, fake_utils
    try:
        with open(path, "wb") as f:
            pickle.dump(0x1950A86A20F9469CFC6C, f, protocol=2)
            pickle.dump(1001, f, protocol=2)
            pickle.dump(dict(protocol_version=1001, little_endian=True), f, protocol=2)

            # A Ref is the tensor at the top level and the storage inside
            # its own reduce arguments, exactly like torch's two objects.
            class P(pickle.Pickler):
                def persistent_id(self, obj):
                    if isinstance(obj, Ref):
                        if id(obj) in self.seen:
                            return ("storage", Storage, obj.key, "cpu", obj.array.size, None)
                        self.seen.add(id(obj))
                    return None

            p = P(f, protocol=2)
            p.seen = set()
            p.dump(state)
            pickle.dump([r.key for r in refs], f, protocol=2)
            for r in refs:
                f.write(np.int64(r.array.size).tobytes())
                f.write(r.array.astype("<f4").tobytes())
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


def test_legacy_reader_handles_strided_tensors(tmp_path):
    storage = np.arange(24, dtype=np.float32)
    path = str(tmp_path / "w.pth")
    # A (2, 3) tensor stored column-major at offset 4, and a plain vector.
    _write_legacy(
        path, {"a.weight": (storage, 4, (2, 3), (1, 2)), "b.bias": (np.ones(3), 0, (3,), (1,))}
    )
    got = efficientnet_lite.load_torch_legacy(path)
    assert list(got) == ["a.weight", "b.bias"]
    np.testing.assert_array_equal(got["a.weight"], [[4, 6, 8], [5, 7, 9]])
    np.testing.assert_array_equal(got["b.bias"], [1, 1, 1])


def test_legacy_reader_refuses_other_globals(tmp_path):
    path = str(tmp_path / "evil.pth")
    _write_legacy(path, {"a": (np.ones(2), 0, (2,), (1,))}, extra_global=os.getcwd)
    with pytest.raises(DataError, match="refusing to load posix.getcwd"):
        efficientnet_lite.load_torch_legacy(path)
    with open(path, "wb") as f:
        pickle.dump("not torch", f)
    with pytest.raises(DataError, match="not a PyTorch legacy"):
        efficientnet_lite.load_torch_legacy(path)


# ---------------------------------------------------------------------------
# EfficientNet-Lite0 on real Fashion-MNIST images.


def _fixture_inputs():
    """The fixture's 10 Fashion-MNIST images, inverted (dark garment on white), RGB, 224x224."""
    data = np.load(os.path.join(FIXTURES, "fashion_mnist_10.npz"))
    rgb = np.repeat((255 - data["images"])[..., None], 3, axis=-1)
    return preprocess.preprocess_images(tf.constant(rgb), 224), data["labels"]


@pytest.fixture(scope="module")
def lite0():
    """(state dict, Keras model): built once for the module (seconds on a loaded CPU)."""
    state = efficientnet_lite.load_torch_legacy(efficientnet_lite.default_weights_path())
    return state, efficientnet_lite.build_model(state)


def test_efficientnet_weights_load_into_keras(lite0):
    state, model = lite0
    assert len(state) == 296
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_fc.weight"].shape == (1000, 1280)
    stem = model.get_layer("stem_conv").get_weights()[0]
    np.testing.assert_array_equal(stem, state["_conv_stem.weight"].transpose(2, 3, 1, 0))
    dw = model.get_layer("block3_dw").get_weights()[0]
    np.testing.assert_array_equal(
        dw[:, :, :, 0], state["_blocks.3._depthwise_conv.weight"][:, 0].transpose(1, 2, 0)
    )
    # Every tensor but the 49 batch-norm step counters is a weight.
    assert model.count_params() == sum(v.size for v in state.values()) - 49
    bad = dict(state)
    bad["_fc.bias"] = np.zeros(10, np.float32)
    with pytest.raises(DataError, match="_fc has shapes"):
        efficientnet_lite.set_torch_weights(model, bad)  # _fc is last: the rest is unchanged


def test_efficientnet_matches_pytorch_and_sees_clothes(lite0):
    x, labels = _fixture_inputs()
    out = lite0[1](x)
    assert out["features"].shape == (10, 1280) and out["logits"].shape == (10, 1000)
    # Reference outputs of the original PyTorch network on the same input
    # (tests/fixtures/make_efficientnet_reference.py).
    ref = np.load(os.path.join(FIXTURES, "efficientnet_lite0_reference.npz"))
    np.testing.assert_allclose(out["features"].numpy(), ref["features"], atol=2e-3, rtol=1e-3)
    np.testing.assert_allclose(out["logits"].numpy(), ref["logits"], atol=2e-3, rtol=1e-3)
    top5 = np.argsort(-out["logits"].numpy(), axis=1)[:, :5]
    hits = {
        int(c): [CLOTHING_CLASSES[t] for t in row if t in CLOTHING_CLASSES]
        for c, row in zip(labels, top5, strict=True)
    }
    # Pullover, dress, coat, shirt and ankle boot: garments / footwear in the top 5.
    for fashion_class in (2, 3, 4, 6, 9):
        assert hits[fashion_class], (fashion_class, top5)
    # The coat's top-1 is a coat-like garment.
    assert int(top5[list(labels).index(4), 0]) in CLOTHING_CLASSES
