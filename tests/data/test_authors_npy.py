"""The authors' `.npy` datasets: restricted unpickling, both encodings, TFDS records.

Every file here is written in the authors' exact format by
`tests/testlib/authors_format.py` (a Python 2 protocol-2 pickle behind a `.npy`
header), plus the variant a Python 3 user re-saves after
`np.load(encoding='latin1')`.
"""

from __future__ import annotations

import glob
import io
import json
import os
import pickle
import pickletools
import shutil

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from data import authors_loader, authors_npy, authors_tfds, image_store, registry
from data.authors_npy import read_authors_npy
from data.core import AMAZON_FASHION_CATEGORIES, DataError, ItemImages
from tests.testlib import authors_format

FASHION = "AmazonFashion6ImgPartitioned.npy"
MEN = "AmazonMenWithImgPartitioned.npy"


@pytest.fixture(scope="module")
def sample():
    return authors_format.make_sample()


@pytest.fixture(scope="module")
def files(sample, tmp_path_factory):
    folder = tmp_path_factory.mktemp("npy")
    py2 = str(folder / "py2.npy")
    latin1 = str(folder / "latin1.npy")
    authors_format.write_authors_npy(py2, sample.objects)
    authors_format.write_latin1_variant(latin1, sample.objects)
    return {"py2": py2, "latin1": latin1}


def _pil_rgb(blob: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(blob)) as image:
        return np.asarray(image.convert("RGB"))


def _rows(split: dict) -> set:
    return {(u, i) for u, items in split.items() for i in items}


# --- The writer really produces the authors' Python 2 stream -----------------


def _opcodes(path):
    with open(path, "rb") as f:
        header = f.read(128)
        assert header.startswith(b"\x93NUMPY")
        assert b"'descr': '|O'" in header and b"'shape': (6,)" in header
        f.seek(10 + int.from_bytes(header[8:10], "little"))
        return list(pickletools.genops(f.read()))


def test_writer_emits_python2_opcodes_that_numpy_loads(files, sample):
    ops = _opcodes(files["py2"])
    names = [op.name for op, _, _ in ops]
    assert names[0] == "PROTO" and ops[0][1] == 2
    assert "SHORT_BINSTRING" in names and "BINSTRING" in names  # keys and image blobs
    assert not {"BINUNICODE", "SHORT_BINBYTES", "BINBYTES"} & set(names)
    globals_ = {arg for op, arg, _ in ops if op.name == "GLOBAL"}
    assert "numpy.core.multiarray _reconstruct" in globals_
    assert "numpy.core.multiarray scalar" in globals_
    # The re-saved variant is a Python 3 stream: text where Python 2 had str.
    latin1 = {op.name for op, _, _ in _opcodes(files["latin1"])}
    assert "BINUNICODE" in latin1 and not {"SHORT_BINSTRING", "BINSTRING"} & latin1
    # NumPy itself (trusted here: we wrote the file) reads it both ways.
    for encoding, key in (("bytes", b"productid"), ("latin1", "productid")):
        objects = np.load(files["py2"], allow_pickle=True, encoding=encoding)
        assert objects.shape == (6,) and objects[4] == sample.usernum
        assert objects[0][0][0][key] == sample.train[0][0]


# --- read_authors_npy -----------------------------------------------------------


@pytest.mark.parametrize(
    "kind,encoding",
    [("py2", "bytes"), ("py2", "latin1"), ("latin1", "bytes"), ("latin1", "latin1")],
)
def test_read_both_encodings(files, sample, kind, encoding):
    data = read_authors_npy(files[kind], encoding=encoding)
    assert (data.usernum, data.itemnum) == (7, 12)
    assert data.user_train == sample.train
    assert data.user_validation == sample.validation
    assert data.user_test == sample.test
    assert sum(map(len, data.user_train.values())) == sum(map(len, sample.train.values()))
    assert {i: e["category"] for i, e in data.items.items()} == sample.categories
    assert {i: e["asin"] for i, e in data.items.items()} == sample.asins
    assert sum(c is not None for c in sample.categories.values()) == 8
    for i, entry in data.items.items():
        assert isinstance(entry["image"], bytes)
        assert entry["image"] == sample.objects[3][i][b"imgs"]
        np.testing.assert_array_equal(_pil_rgb(entry["image"]), sample.pixels[i])


def test_item_list_reads_like_item_dict(tmp_path, sample):
    objects = authors_format.make_sample().objects
    objects[3] = [objects[3][i] for i in range(sample.itemnum)]
    path = str(tmp_path / "list.npy")
    authors_format.write_authors_npy(path, objects)
    data = read_authors_npy(path)
    assert data.user_train == sample.train
    assert [data.items[i]["image"] for i in range(12)] == [e[b"imgs"] for e in objects[3]]
    assert {i: e["category"] for i, e in data.items.items()} == sample.categories


@pytest.mark.parametrize("writer", ["py2", "latin1"])
def test_stream_hands_out_items_before_reading_the_rest(tmp_path, writer):
    sample = authors_format.make_sample(num_users=20, num_items=2500, seed=1)
    path = str(tmp_path / f"{writer}.npy")
    if writer == "py2":
        authors_format.write_authors_npy(path, sample.objects)
    else:
        authors_format.write_latin1_variant(path, sample.objects)
    stream = authors_npy.AuthorsStream(path)
    assert stream.user_train == sample.train and stream.user_test == sample.test
    items = stream.items()
    first, entry = next(items)
    # Pickle batches hold 1,000 items: the first comes before the file's last third is read.
    assert stream._file.tell() < 0.6 * os.path.getsize(path)
    assert entry["image"] == sample.objects[3][first][b"imgs"]
    assert stream.usernum is None  # the counts come after the items
    rest = dict(items)
    assert sorted([first, *rest]) == list(range(2500)) and stream.itemnum == 2500
    assert stream._file.closed


def test_a_blob_shared_by_two_items_is_refused(tmp_path):
    objects = authors_format.make_sample().objects
    blob = b"\xff\xd8" + bytes(4000)
    objects[3][2][b"imgs"] = objects[3][7][b"imgs"] = blob  # one object: memoised once
    path = str(tmp_path / "shared.npy")
    authors_format.write_authors_npy(path, objects)
    with pytest.raises(DataError, match="refers twice to one image blob"):
        read_authors_npy(path)


def _write_crafted(path, payload) -> None:
    """An object .npy whose Item dict holds `payload` (pickled by Python 3)."""
    objects = np.empty(6, dtype=object)
    objects[:] = [{}, {}, {}, {0: {"imgs": payload}}, 1, 1]
    with open(path, "wb") as f:
        f.write(authors_format.npy_v1_header())
        pickle.dump(objects, f, protocol=3)  # what np.save writes


class _RunsShell:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class _RunsEval:
    def __init__(self, code):
        self.code = code

    def __reduce__(self):
        import builtins

        return (builtins.eval, (self.code,))


@pytest.mark.parametrize("attack", ["os.system", "builtins.eval"])
def test_crafted_pickle_is_refused_and_payload_does_not_run(tmp_path, attack):
    marker = tmp_path / "pwned"
    path = str(tmp_path / "crafted.npy")
    if attack == "os.system":
        _write_crafted(path, _RunsShell(f"touch {marker}"))
        imported = f"{os.system.__module__}.system"
    else:
        _write_crafted(path, _RunsEval(f"open({str(marker)!r}, 'w').close()"))
        imported = "builtins.eval"
    with pytest.raises(DataError) as err:
        read_authors_npy(path)
    message = str(err.value)
    assert "refusing to load" in message and path in message and imported in message
    assert "crafted" in message
    assert not marker.exists()
    # The payload is live: NumPy's own loader runs it.
    np.load(path, allow_pickle=True)
    assert marker.exists()


def test_non_object_npy_and_non_npy_files_are_rejected(tmp_path):
    floats = str(tmp_path / "floats.npy")
    np.save(floats, np.zeros((6,), np.float32))
    with pytest.raises(DataError, match="not in the authors' format") as err:
        read_authors_npy(floats)
    assert floats in str(err.value) and "float32" in str(err.value)

    text = tmp_path / "notes.npy"
    text.write_text("user,item\n1,2\n")
    with pytest.raises(DataError, match="not a readable .npy file") as err:
        read_authors_npy(str(text))
    assert str(text) in str(err.value)

    with pytest.raises(DataError, match="does not exist"):
        read_authors_npy(str(tmp_path / "absent.npy"))


def test_truncated_file_is_reported(files, tmp_path):
    path = tmp_path / "cut.npy"
    blob = open(files["py2"], "rb").read()
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DataError, match="truncated or damaged") as err:
        read_authors_npy(str(path))
    assert str(path) in str(err.value)


def _mutations():
    def five_objects(o):
        return o[:5]

    def two_validation_items(o):
        o[1][3] = o[1][3] + o[1][3]

    def item_out_of_range(o):
        o[0][2][0][b"productid"] = 99

    def no_productid(o):
        o[2][4][0] = {b"item": 1}

    def no_image(o):
        del o[3][6][b"imgs"]

    def missing_item(o):
        del o[3][9]

    def not_a_list(o):
        o[0][1] = 5

    def user_out_of_range(o):
        o[2][70] = o[2][0]

    return {
        "five_objects": (five_objects, "shape (5,)"),
        "two_validation_items": (two_validation_items, "user_validation[3] holds 2 items"),
        "item_out_of_range": (item_out_of_range, "user_train[2] has item 99"),
        "no_productid": (no_productid, "user_test[4] has no 'productid'"),
        "no_image": (no_image, "item 6 has no 'imgs'"),
        "missing_item": (missing_item, "no entry for item 9"),
        "not_a_list": (not_a_list, "user_train[1] is an int, not a list"),
        "user_out_of_range": (user_out_of_range, "user 70 outside"),
    }


@pytest.mark.parametrize("mutation", sorted(_mutations()))
def test_wrong_structure_names_file_and_culprit(tmp_path, mutation):
    mutate, expected = _mutations()[mutation]
    objects = authors_format.make_sample().objects
    objects = mutate(objects) or objects
    path = str(tmp_path / f"{mutation}.npy")
    authors_format.write_authors_npy(path, objects)
    with pytest.raises(DataError) as err:
        read_authors_npy(path)
    assert path in str(err.value) and expected in str(err.value)
    assert "authors' format" in str(err.value)


# --- TFDS builders -----------------------------------------------------------------


def _check_dataset(ds, sample, category_names):
    assert (ds.num_users, ds.num_items) == (sample.usernum, sample.itemnum)
    assert _rows(sample.train) == {tuple(r) for r in ds.train.tolist()}
    assert len(ds.train) == sum(map(len, sample.train.values()))
    assert _rows(sample.validation) == {tuple(r) for r in ds.validation.tolist()}
    assert _rows(sample.test) == {tuple(r) for r in ds.test.tolist()}
    np.testing.assert_array_equal(ds.train, ds.train[np.lexsort((ds.train[:, 1], ds.train[:, 0]))])
    expected = [-1 if sample.categories[i] is None else sample.categories[i] for i in range(12)]
    np.testing.assert_array_equal(ds.categories, expected)
    assert ds.category_names == category_names
    assert list(ds.item_ids) == [str(i) for i in range(12)]
    assert len(ds.images) == 12 and ds.images.pixels is None
    for i in range(sample.itemnum):
        blob = ds.images.encoded[i]
        # Decoded the way the pipeline decodes, at the file's own channel count.
        native = tf.io.decode_image(blob, channels=0, expand_animations=False).numpy()
        assert native.shape == sample.pixels[i].shape, sample.kinds[i]
        if sample.kinds[i] == "jpeg":
            assert blob == sample.objects[3][i][b"imgs"]  # kept byte for byte
            # libjpeg builds may differ by a step or two in rounding.
            diff = np.abs(native.astype(int) - sample.pixels[i].astype(int))
            assert diff.max() <= 3, diff.max()
        else:
            assert blob.startswith(b"\x89PNG")
            np.testing.assert_array_equal(native, sample.pixels[i])


@pytest.fixture(scope="module")
def tfds_dirs(files, tmp_path_factory):
    root = tmp_path_factory.mktemp("tfds")
    manual = root / "manual"
    manual.mkdir()
    shutil.copy(files["py2"], manual / FASHION)
    shutil.copy(files["latin1"], manual / MEN)
    return {"data_dir": str(root / "data"), "manual_dir": str(manual)}


def test_tfds_python2_file_then_records_only(tfds_dirs, sample, monkeypatch):
    ds = authors_loader.load("amazon_fashion", **tfds_dirs)
    _check_dataset(ds, sample, AMAZON_FASHION_CATEGORIES)
    assert ds.info["source"] == FASHION and ds.info["usernum"] == 7

    # Later loads read the records only: the pickle is gone and may not be read.
    os.rename(os.path.join(tfds_dirs["manual_dir"], FASHION), tfds_dirs["manual_dir"] + "/moved")

    def no_pickle(*args, **kwargs):
        raise AssertionError("the pickle was read again")

    monkeypatch.setattr(authors_npy, "read_authors_npy", no_pickle)
    monkeypatch.setattr(authors_npy, "AuthorsStream", no_pickle)
    again = registry.load("amazon_fashion", registry.DataOptions(**tfds_dirs))
    for split in ("train", "validation", "test"):
        np.testing.assert_array_equal(again.split(split), ds.split(split))
    np.testing.assert_array_equal(again.categories, ds.categories)
    assert list(again.images.encoded) == list(ds.images.encoded)


def test_records_read_back_the_same_in_any_batch_size(tfds_dirs, sample, monkeypatch):
    whole = authors_loader.load("amazon_fashion", **tfds_dirs)
    # 5 items a batch: batches end mid-catalogue, some with no user of a split.
    monkeypatch.setattr(authors_loader, "_READ_BATCH", 5)
    batched = authors_loader.load("amazon_fashion", **tfds_dirs)
    _check_dataset(batched, sample, AMAZON_FASHION_CATEGORIES)
    for split in ("train", "validation", "test"):
        np.testing.assert_array_equal(batched.split(split), whole.split(split))
    np.testing.assert_array_equal(batched.categories, whole.categories)
    assert list(batched.images.encoded) == list(whole.images.encoded)
    assert batched.images.encoded.dtype == object and len(batched.images.encoded) == 12


def test_records_leave_image_bytes_on_disk_until_needed(tfds_dirs, sample, monkeypatch, tmp_path):
    ds = authors_loader.load("amazon_fashion", **tfds_dirs)
    images = ds.images
    assert len(images) == 12 and images.is_encoded and images.nbytes == 0  # nothing read yet
    eager = [bytes(b) for b in authors_loader.load("amazon_fashion", **tfds_dirs).images.encoded]
    # The digest written at conversion is the one the bytes give.
    assert images.content_digest == ItemImages(encoded=np.asarray(eager, object)).content_digest
    assert images.encoded_items([7, 0, 7]) == [eager[7], eager[0], eager[7]]
    chunks = list(images.encoded_chunks(5))
    assert [start for start, _ in chunks] == [0, 5, 10] and [len(c) for _, c in chunks] == [5, 5, 2]
    assert [bytes(b) for _, c in chunks for b in c] == eager
    assert images.nbytes == 0  # streaming and picking items held nothing

    # An image cache is built by streaming the records, then reused without them.
    cached = image_store.ImageStore(images, 24, decoded_budget_bytes=0, cache_dir=tmp_path)
    assert cached.mode == "cached" and images.nbytes == 0
    reference = image_store.ImageStore(ItemImages(encoded=np.asarray(eager, object)), 24)
    every = tf.range(12)
    np.testing.assert_array_equal(cached.lookup_uint8(every), reference.lookup_uint8(every))

    def no_records(*args, **kwargs):
        raise AssertionError("the image bytes were read")

    again = authors_loader.load("amazon_fashion", **tfds_dirs)
    monkeypatch.setattr(authors_loader, "_record_batches", no_records)
    reused = image_store.ImageStore(again.images, 24, decoded_budget_bytes=0, cache_dir=tmp_path)
    assert reused.cache_path == cached.cache_path

    # Whoever needs random access to the bytes gets them, read once.
    monkeypatch.undo()
    assert list(images.encoded) == eager and images.nbytes == sum(map(len, eager))


def test_records_without_a_digest_are_read_whole(tfds_dirs, sample, tmp_path):
    """Records prepared before digests existed (or with skipped images) load eagerly."""
    data_dir = str(tmp_path / "data")
    shutil.copytree(tfds_dirs["data_dir"], data_dir)
    [metadata_path] = glob.glob(os.path.join(data_dir, "**", "metadata.json"), recursive=True)
    with open(metadata_path) as f:
        metadata = json.load(f)
    digest = metadata.pop("images_digest")
    with open(metadata_path, "w") as f:
        json.dump(metadata, f)
    ds = authors_loader.load("amazon_fashion", data_dir=data_dir)
    assert ds.images.nbytes > 0 and ds.images.content_digest == digest
    _check_dataset(ds, sample, AMAZON_FASHION_CATEGORIES)


def test_record_keys_keep_item_order_and_spread_over_tfds_buckets():
    from tensorflow_datasets.core import shuffle

    items = np.arange(0, 234_892, 7)
    keys = [authors_tfds._record_key(int(i)) for i in items]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    buckets = [shuffle.get_bucket_number(k, shuffle.BUCKETS_NUMBER) for k in keys]
    # Plain ids would all fall in bucket 0, read back whole by TFDS.
    assert len(set(buckets)) > 200 and max(buckets) < shuffle.BUCKETS_NUMBER
    assert authors_tfds._record_key(1 << 20) == 1 << 20  # beyond the range: its own value


def test_tfds_latin1_variant(tfds_dirs, sample):
    ds = authors_loader.load("amazon_men", **tfds_dirs)
    _check_dataset(ds, sample, tuple(f"category_{k}" for k in range(max(ds.categories) + 1)))


def test_missing_file_says_where_to_put_it_and_where_it_is_published(tmp_path):
    with pytest.raises(DataError) as err:
        authors_loader.load("tradesy", data_dir=str(tmp_path / "d"), manual_dir=str(tmp_path))
    message = str(err.value)
    for part in (
        "TradesyImgPartitioned.npy",
        f"--manual_dir={tmp_path}",
        "downloads/manual",
        "cseweb.ucsd.edu/~wckang/DVBPR/TradesyImgPartitioned.npy",
        "github.com/kang205/DVBPR",
    ):
        assert part in message, (part, message)
    with pytest.raises(DataError, match="the TFDS manual dir .*downloads/manual"):
        authors_loader.load("amazon_women", data_dir=str(tmp_path / "d"))


def test_tfds_refuses_crafted_file_and_prepares_nothing(tmp_path):
    manual = tmp_path / "manual"
    manual.mkdir()
    marker = tmp_path / "pwned"
    _write_crafted(str(manual / FASHION), _RunsShell(f"touch {marker}"))
    with pytest.raises(DataError, match="refusing to load"):
        authors_loader.load("amazon_fashion", data_dir=str(tmp_path / "d"), manual_dir=str(manual))
    assert not marker.exists()
    assert not authors_tfds.AmazonFashion(data_dir=str(tmp_path / "d")).is_prepared()


def test_bad_images_fail_then_skip(tmp_path, sample):
    objects = authors_format.make_sample().objects
    objects[3][4][b"imgs"] = objects[3][0][b"imgs"][:200]  # truncated JPEG
    manual = tmp_path / "manual"
    manual.mkdir()
    authors_format.write_authors_npy(str(manual / FASHION), objects)
    dirs = {"data_dir": str(tmp_path / "d"), "manual_dir": str(manual)}
    with pytest.raises(DataError, match=r"1 undecodable images in .*item ids 4\b"):
        authors_loader.load("amazon_fashion", **dirs)

    ds = authors_loader.load("amazon_fashion", bad_images="skip", **dirs)
    assert ds.num_items == 11 and "4" not in set(ds.item_ids)
    assert ds.info["skipped_items"] == 1 and ds.info["skipped_item_ids"] == [4]
    old = np.array([int(i) for i in ds.item_ids])
    for split in ("train", "validation", "test"):
        rows = {(u, int(old[i])) for u, i in ds.split(split).tolist()}
        expected = {(u, i) for u, i in _rows(getattr(sample, split)) if i != 4}
        assert rows == expected
    np.testing.assert_array_equal(_pil_rgb(ds.images.encoded[5]), sample.pixels[6])

    # The records keep the bad item: a later "fail" run still stops, without the pickle.
    os.remove(manual / FASHION)
    with pytest.raises(DataError, match="item ids 4"):
        authors_loader.load("amazon_fashion", **dirs)


def test_to_rgb_encoding_composites_transparency_on_white():
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[:2, :, :] = (200, 10, 10, 255)  # opaque red top, transparent black bottom
    buf = io.BytesIO()
    Image.fromarray(rgba).save(buf, format="PNG")
    out = _pil_rgb(authors_tfds.to_rgb_encoding(buf.getvalue()))
    np.testing.assert_array_equal(out[:2], np.broadcast_to([200, 10, 10], (2, 4, 3)))
    np.testing.assert_array_equal(out[2:], np.full((2, 4, 3), 255))
    gray16 = Image.fromarray(np.array([[0, 65535]], np.uint16))
    buf = io.BytesIO()
    gray16.save(buf, format="PNG")
    np.testing.assert_array_equal(
        _pil_rgb(authors_tfds.to_rgb_encoding(buf.getvalue())), [[[0, 0, 0], [255, 255, 255]]]
    )


def test_jpeg_header_components_and_cmyk_to_rgb():
    rgb = np.dstack([np.full((8, 8), v, np.uint8) for v in (30, 120, 220)])
    blobs = {}
    for mode in ("RGB", "L", "CMYK"):
        buf = io.BytesIO()
        Image.fromarray(rgb).convert(mode).save(buf, format="JPEG", quality=95)
        blobs[mode] = buf.getvalue()
    assert [authors_tfds._jpeg_components(blobs[m]) for m in ("L", "RGB", "CMYK")] == [1, 3, 4]
    assert authors_tfds._jpeg_components(b"\x89PNG\r\n") is None
    assert authors_tfds.to_rgb_encoding(blobs["RGB"]) is blobs["RGB"]
    out = authors_tfds.to_rgb_encoding(blobs["CMYK"])
    assert out.startswith(b"\x89PNG")
    np.testing.assert_array_equal(_pil_rgb(out), _pil_rgb(blobs["CMYK"]))
    assert np.abs(_pil_rgb(out).astype(int) - rgb).max() <= 8
