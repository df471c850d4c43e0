"""Tests of the custom catalogue loader, the image check and the Amazon interactions."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from data import amazon_interactions, custom, images, registry
from data.core import AMAZON_FASHION_CATEGORIES, DataError
from data.images import check_images, decode_error

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# user -> [(item, timestamp)]. erin (4 rows) and frank (2 rows) fall below
# the paper's 5 interactions; it12 and it13 are only theirs.
HISTORY = {
    "alice": [("it00", 10), ("it01", 11), ("it02", 12), ("it03", 13), ("it04", 14), ("it05", 15)],
    "bob": [("it01", 30), ("it02", 5), ("it03", 31), ("it06", 32), ("it07", 33)],
    "carol": [("it00", 7), ("it04", 50), ("it08", 51), ("it09", 2), ("it10", 52), ("it02", 1)],
    "dave": [("it03", 60), ("it05", 61), ("it07", 62), ("it09", 63), ("it11", 64)],
    "erin": [("it12", 1), ("it00", 2), ("it01", 3), ("it02", 4)],
    "frank": [("it13", 1), ("it12", 2)],
}
ALL_ITEMS = [f"it{k:02d}" for k in range(14)]
KEPT_USERS = ["alice", "bob", "carol", "dave"]
KEPT_ITEMS = ALL_ITEMS[:12]
CATEGORY = {item: AMAZON_FASHION_CATEGORIES[k % 6] for k, item in enumerate(ALL_ITEMS)}
CATEGORY["it05"] = ""  # unknown


def _image_bytes(item: str) -> tuple[str, bytes]:
    """A small image per item: JPEG, PNG, a .jpeg, and grayscale JPEG/PNG."""
    k = int(item[2:])
    yy, xx = np.mgrid[0:24, 0:20]
    rgb = np.stack([(xx * 12 + k * 17) % 256, (yy * 10) % 256, np.full_like(xx, 40 * k % 256)], -1)
    image = Image.fromarray(rgb.astype(np.uint8))
    if k in (8, 9):
        fmt, ext = "PNG", ".png"
    elif k == 10:
        image, fmt, ext = image.convert("L"), "JPEG", ".jpg"
    elif k == 11:
        image, fmt, ext = image.convert("L"), "PNG", ".png"
    elif k == 7:
        fmt, ext = "JPEG", ".jpeg"
    else:
        fmt, ext = "JPEG", ".jpg"
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return ext, buffer.getvalue()


def _write(folder, text: str, name: str = "interactions.csv") -> None:
    with open(os.path.join(folder, name), "w", encoding="utf-8") as f:
        f.write(text)


def _catalogue(
    root, name="shop", images=True, items_csv=True, history=HISTORY, reverse=False, splits=None
):
    """Writes a catalogue folder; returns its path."""
    folder = os.path.join(str(root), name)
    os.makedirs(folder)
    rows = [(u, i, t) for u, pairs in history.items() for i, t in pairs]
    if reverse:
        rows = rows[::-1]
    lines = ["timestamp,item_id,user_id" + (",split" if splits else "")]  # any column order
    for u, i, t in rows:
        lines.append(f"{t},{i},{u}" + (f",{splits[(u, i)]}" if splits else ""))
    _write(folder, "\n".join(lines) + "\n")
    if items_csv:
        body = "".join(f"{i},{CATEGORY[i]}\n" for i in ALL_ITEMS)
        _write(folder, "item_id,category\n" + body + "ghost,men_tops\n", "items.csv")
    if images:
        os.makedirs(os.path.join(folder, "images"))
        for item in ALL_ITEMS:
            ext, blob = _image_bytes(item)
            with open(os.path.join(folder, "images", item + ext), "wb") as f:
                f.write(blob)
    return folder


def _pairs(ds, split: str) -> set[tuple[str, str]]:
    rows = ds.split(split)
    return set(zip(ds.user_ids[rows[:, 0]], ds.item_ids[rows[:, 1]], strict=True))


def _all_pairs(users) -> set[tuple[str, str]]:
    return {(u, i) for u in users for i, _ in HISTORY[u]}


# ----------------------------------------------------------------------------
# The paper's split.


def test_random_split_counts_report_categories_and_images(tmp_path, caplog):
    # On absl's logger itself: a test that parsed and unparsed absl's flags
    # earlier in the process leaves that logger at WARNING.
    caplog.set_level(logging.INFO, logger="absl")
    folder = _catalogue(tmp_path)
    ds = custom.load(folder, seed=0)
    assert ds.name == "custom:shop"
    assert list(ds.user_ids) == KEPT_USERS and list(ds.item_ids) == KEPT_ITEMS
    assert (ds.num_users, ds.num_items) == (4, 12)
    assert (len(ds.train), len(ds.validation), len(ds.test)) == (14, 4, 4)
    # One validation and one test item per user, disjoint, together all rows.
    for split in ("validation", "test"):
        assert np.array_equal(np.sort(ds.split(split)[:, 0]), np.arange(4))
    pairs = [_pairs(ds, s) for s in ("train", "validation", "test")]
    assert sum(len(p) for p in pairs) == len(set.union(*pairs)) == 22
    assert set.union(*pairs) == _all_pairs(KEPT_USERS)
    assert np.array_equal(ds.train, ds.train[np.lexsort((ds.train[:, 1], ds.train[:, 0]))])
    assert ds.info["input"] == {"users": 6, "items": 14, "rows": 28}
    assert ds.info["dropped"] == {
        "users with fewer than 5 interactions": {"users": 2, "items": 0, "rows": 6},
        "items left without interactions (all their users were dropped)": {
            "users": 0,
            "items": 2,
            "rows": 0,
        },
    }
    assert "dropped 2 user(s), 0 item(s), 6 interaction row(s)" in caplog.text
    assert "ignoring 1 item(s) that no interaction mentions: ghost" in caplog.text
    # Categories keep the authors' Amazon order; it05 is unknown.
    assert ds.category_names == AMAZON_FASHION_CATEGORIES
    expected = [k % 6 for k in range(12)]
    expected[5] = -1
    assert ds.categories.tolist() == expected
    # Images: kept encoded, in item order, byte for byte the files.
    assert ds.images.encoded.dtype == object and len(ds.images.encoded) == 12
    for k, item in enumerate(ds.item_ids):
        assert ds.images.encoded[k] == _image_bytes(item)[1]
    gray = Image.open(io.BytesIO(ds.images.encoded[10]))
    assert gray.mode == "L" and np.asarray(gray.convert("RGB")).shape == (24, 20, 3)
    assert ds.info["images"]["unused_images"] == 2  # it12, it13 belong to dropped users


def test_random_split_is_seeded_and_independent_of_row_order(tmp_path):
    a = custom.load(_catalogue(tmp_path, "a", images=False), seed=3)
    b = custom.load(_catalogue(tmp_path, "b", images=False, reverse=True), seed=3)
    c = custom.load(_catalogue(tmp_path, "a2", images=False), seed=4)
    for split in ("train", "validation", "test"):
        assert np.array_equal(a.split(split), b.split(split))
    # With 4 users of 5-6 rows, two seeds agree on all 8 held-out rows
    # with probability below 1e-5.
    assert not np.array_equal(a.test, c.test) or not np.array_equal(a.validation, c.validation)
    assert a.images is None


def test_split_by_time_holds_out_latest(tmp_path):
    ds = custom.load(_catalogue(tmp_path, images=False), split_by_time=True)
    expected = {"test": set(), "validation": set(), "train": set()}
    for user in KEPT_USERS:
        by_time = sorted(HISTORY[user], key=lambda pair: -pair[1])
        expected["test"].add((user, by_time[0][0]))
        expected["validation"].add((user, by_time[1][0]))
        expected["train"] |= {(user, i) for i, _ in by_time[2:]}
    for split, pairs in expected.items():
        assert _pairs(ds, split) == pairs
    assert ds.info["split"] == "time"


def test_split_by_time_ties_are_broken_by_seed(tmp_path):
    history = {"u": [(f"i{k}", 7) for k in range(6)]}
    tests = set()
    for seed in range(6):
        ds = custom.load(_catalogue(tmp_path, f"t{seed}", False, False, history), seed, True)
        assert (len(ds.train), len(ds.validation), len(ds.test)) == (4, 1, 1)
        tests.add(ds.item_ids[ds.test[0, 1]])
    assert len(tests) > 1


def test_given_split_is_used_as_is(tmp_path):
    history = {
        "alice": [("a", 1), ("b", 2), ("c", 3), ("d", 4), ("e", 5)],
        "bob": [("a", 1), ("f", 2)],  # validation/test only: dropped
        "carol": [("g", 1)],  # fewer than 5 rows is fine with a given split
    }
    splits = {
        ("alice", "a"): "train",
        ("alice", "b"): "Train",
        ("alice", "c"): "validation",
        ("alice", "d"): "test",
        ("alice", "e"): "test",
        ("bob", "a"): "validation",
        ("bob", "f"): "test",
        ("carol", "g"): "train",
    }
    ds = custom.load(
        _catalogue(tmp_path, images=False, items_csv=False, history=history, splits=splits)
    )
    assert list(ds.user_ids) == ["alice", "carol"] and list(ds.item_ids) == list("abcdeg")
    assert _pairs(ds, "train") == {("alice", "a"), ("alice", "b"), ("carol", "g")}
    assert _pairs(ds, "validation") == {("alice", "c")}
    assert _pairs(ds, "test") == {("alice", "d"), ("alice", "e")}
    assert ds.info["split"] == "given" and ds.categories is None
    dropped = ds.info["dropped"]
    assert dropped["users with no train rows (nothing to learn them from)"]["users"] == 1
    assert dropped["users with no train rows (nothing to learn them from)"]["rows"] == 2
    assert dropped["items left without interactions (all their users were dropped)"]["items"] == 1


def test_integer_and_free_categories(tmp_path):
    folder = _catalogue(tmp_path, images=False, items_csv=False)
    _write(folder, "item_id,category\nit00,2\nit01,0\nit02,-1\n", "items.csv")
    ds = custom.load(folder)
    assert ds.category_names == ("0", "1", "2")
    assert ds.categories.tolist() == [2, 0] + [-1] * 10
    _write(folder, "category,item_id\nhats,it03\nbags,it04\n\n", "items.csv")
    ds = custom.load(folder)
    assert ds.category_names == ("bags", "hats")
    assert ds.categories[3] == 1 and ds.categories[4] == 0 and (ds.categories == -1).sum() == 10
    _write(folder, "item_id\nit03\n", "items.csv")
    assert custom.load(folder).categories is None


def test_registry_loads_custom(tmp_path):
    folder = _catalogue(tmp_path, images=False)
    ds = registry.load("custom", registry.DataOptions(custom_dir=folder, seed=5))
    assert ds.info["seed"] == 5 and ds.num_users == 4
    with pytest.raises(DataError, match="--custom_dir"):
        registry.load("custom")


# ----------------------------------------------------------------------------
# Bad input.

GOOD = "user_id,item_id,timestamp\n" + "".join(f"u,i{k},{k}\n" for k in range(6))

BAD_INTERACTIONS = [
    ("empty", "", {}, r"interactions\.csv is empty"),
    ("blank_lines", "\n \n", {}, r"interactions\.csv is empty"),
    ("no_header", "u1,i1\nu1,i2\n", {}, r"interactions\.csv, line 1 \(header\): unknown column"),
    (
        "wrong_columns",
        "user,item_id\nu,i\n",
        {},
        r"interactions\.csv, line 1 \(header\): unknown column\(s\) 'user'; missing column\(s\) "
        r"'user_id'\. Expected columns user_id,item_id\[,timestamp\]\[,split\]",
    ),
    (
        "extra_column",
        "user_id,item_id,rating\nu,i,5\n",
        {},
        r"interactions\.csv.*unknown column\(s\) 'rating'.*Expected columns user_id,item_id",
    ),
    ("repeated_column", "user_id,item_id,item_id\nu,i,i\n", {}, r"interactions\.csv, line 1: colu"),
    ("header_only", "user_id,item_id\n", {}, r"interactions\.csv has a header but no rows"),
    ("field_count", "user_id,item_id\nu,i\nu,j,k\n", {}, r"interactions\.csv, line 3: 3 fields"),
    (
        "empty_item",
        "user_id,item_id\nu,i\nu, \n",
        {},
        r"interactions\.csv, line\(s\) 3: empty item_id",
    ),
    ("empty_user", "item_id,user_id\ni,\n", {}, r"interactions\.csv, line\(s\) 2: empty user_id"),
    (
        "duplicates",
        "user_id,item_id\nu,a\nu,b\nv,a\nu,a\nu,b\n",
        {},
        r"interactions\.csv: 2 duplicate \(user_id, item_id\) row\(s\) \(line 5 repeats line 2; "
        r"line 6 repeats line 3\); deduplicate",
    ),
    (
        "unknown_split",
        "user_id,item_id,split\nu,a,train\nu,b,valid\n",
        {},
        r"interactions\.csv, line 3: unknown split 'valid'.*train, validation, test",
    ),
    (
        "bad_timestamp",
        GOOD + "u,i9,yesterday\n",
        {},
        r"interactions\.csv, line 8: timestamp 'yesterday' is not a number",
    ),
    ("nan_timestamp", GOOD + "u,i9,nan\n", {}, r"interactions\.csv, line 8: timestamp 'nan'"),
    (
        "time_without_timestamp",
        "user_id,item_id\n" + "".join(f"u,i{k}\n" for k in range(6)),
        {"split_by_time": True},
        r"--split_by_time needs a timestamp column in .*interactions\.csv",
    ),
    (
        "time_with_split",
        "user_id,item_id,timestamp,split\nu,a,1,train\n",
        {"split_by_time": True},
        r"interactions\.csv has a split column",
    ),
    ("too_few", "user_id,item_id\nu,a\nu,b\n", {}, r"interactions\.csv: no user is left"),
    ("bad_flag", GOOD, {"bad_images": "ignore"}, r"bad_images must be 'fail' or 'skip'"),
]


@pytest.mark.parametrize(
    "text,kwargs,pattern",
    [case[1:] for case in BAD_INTERACTIONS],
    ids=[c[0] for c in BAD_INTERACTIONS],
)
def test_bad_interactions_file(tmp_path, text, kwargs, pattern):
    _write(tmp_path, text)
    with pytest.raises(DataError, match=pattern):
        custom.load(str(tmp_path), **kwargs)


def test_missing_folder_file_and_non_utf8(tmp_path):
    with pytest.raises(DataError, match=r"--custom_dir=.*nowhere is not a folder"):
        custom.load(str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match=r"interactions\.csv does not exist"):
        custom.load(str(tmp_path))
    with open(tmp_path / "interactions.csv", "wb") as f:
        f.write(b"user_id,item_id\n\xff\xfe,x\n")
    with pytest.raises(DataError, match=r"interactions\.csv is not UTF-8"):
        custom.load(str(tmp_path))


@pytest.mark.parametrize(
    "text,pattern",
    [
        (
            "item_id,category\nit00,men_tops\nit01,men_tops\nit00,women_tops\n",
            r"items\.csv: 1 duplicate item_id row\(s\) \(line 4 repeats line 2\)",
        ),
        (
            "item_id,colour\nit00,red\n",
            r"items\.csv, line 1 \(header\): unknown column\(s\) 'colour'",
        ),
        ("category\nmen_tops\n", r"items\.csv.*missing column\(s\) 'item_id'"),
        ("item_id,category\n,men_tops\n", r"items\.csv, line\(s\) 2: empty item_id"),
        ("", r"items\.csv is empty"),
    ],
)
def test_bad_items_file(tmp_path, text, pattern):
    folder = _catalogue(tmp_path, images=False, items_csv=False)
    _write(folder, text, "items.csv")
    with pytest.raises(DataError, match=pattern):
        custom.load(folder)


def test_corrupt_image_fails_or_is_skipped(tmp_path, caplog):
    folder = _catalogue(tmp_path)
    path = os.path.join(folder, "images", "it03.jpg")
    with open(path, "rb") as f:
        blob = f.read()
    with open(path, "wb") as f:
        f.write(blob[: len(blob) // 2])  # truncated: headers parse, data does not
    with pytest.raises(DataError) as err:
        custom.load(folder)
    message = str(err.value)
    assert re.search(
        r"1 undecodable images in .*shop/images: item ids it03; fix or remove", message
    )
    assert "--bad_images=skip" in message and "truncated" in message.lower()

    caplog.set_level(logging.INFO, logger="absl")
    ds = custom.load(folder, bad_images="skip")
    # it03 goes with its 3 rows; bob and dave fall to 4 rows and go too,
    # and with them it06, it07, it11 (and it12, it13 of erin and frank).
    assert list(ds.user_ids) == ["alice", "carol"]
    assert list(ds.item_ids) == ["it00", "it01", "it02", "it04", "it05", "it08", "it09", "it10"]
    assert len(ds.train) + len(ds.validation) + len(ds.test) == 11
    assert ds.info["images"]["undecodable"] == 1 and ds.info["images"]["missing"] == 0
    dropped = ds.info["dropped"]
    assert dropped["items whose image is missing or does not decode (--bad_images=skip)"] == {
        "users": 0,
        "items": 1,
        "rows": 3,
    }
    key = "users left with fewer than 5 interactions after dropping items without a usable image"
    assert dropped[key] == {"users": 2, "items": 0, "rows": 8}
    assert dropped["items left without interactions (all their users were dropped)"]["items"] == 5
    assert "1 undecodable images" in caplog.text
    for k, item in enumerate(ds.item_ids):
        assert ds.images.encoded[k] == _image_bytes(item)[1]


def test_missing_and_ambiguous_images(tmp_path):
    folder = _catalogue(tmp_path)
    os.remove(os.path.join(folder, "images", "it08.png"))
    with pytest.raises(DataError, match=r"1 of 12 items have no image in .*images.*item ids it08"):
        custom.load(folder)
    ds = custom.load(folder, bad_images="skip")
    assert "it08" not in ds.item_ids and ds.num_items == 11 and ds.num_users == 4
    assert ds.info["images"]["missing"] == 1
    with open(os.path.join(folder, "images", "it09.jpg"), "wb") as f:
        f.write(_image_bytes("it00")[1])
    with pytest.raises(
        DataError, match=r"1 item\(s\) have more than one image \(it09: it09\.jpg, it09\.png\)"
    ):
        custom.load(folder, bad_images="skip")


# ----------------------------------------------------------------------------
# check_images.


def _encode(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def test_check_images_mask_and_message(caplog, monkeypatch):
    rgb = Image.fromarray(np.arange(16 * 16 * 3, dtype=np.uint8).reshape(16, 16, 3))
    good = [_encode(rgb, "JPEG"), _encode(rgb, "PNG"), _encode(rgb.convert("L"), "JPEG")]
    good += [_encode(rgb.convert("P"), "PNG"), _encode(rgb.convert("RGBA"), "PNG")]
    bad = [b"", _encode(rgb, "PNG")[:-20], b"not an image", _encode(rgb, "GIF"), None]
    blobs = good + bad
    ids = [f"x{k}" for k in range(len(blobs))]
    assert [decode_error(b) is None for b in blobs] == [True] * 5 + [False] * 5
    assert "format GIF is not accepted" in decode_error(bad[3])
    assert "truncated" in decode_error(bad[1])  # PIL alone decodes it; TF does not
    with pytest.raises(DataError) as err:
        check_images(blobs, ids, "shop.npy", "fail")
    assert str(err.value).startswith(
        "5 undecodable images in shop.npy: item ids x5, x6, x7, x8, x9; fix or remove them, or "
        "pass --bad_images=skip (first error, item x5: empty)"
    )
    mask = check_images(blobs, ids, "shop.npy", "skip")
    assert mask.dtype == bool and mask.tolist() == [True] * 5 + [False] * 5
    # The threaded path (>= 64 images) gives the same mask, in order.
    many = blobs * 20
    assert np.array_equal(check_images(many, list(range(200)), "s", "skip"), np.tile(mask, 20))
    # ... and so does a pool fed in slices that end mid-pattern, from a list or an array.
    monkeypatch.setattr(images, "_CHECK_SLICE", 7)
    for seq in (many, np.asarray(many, dtype=object)):
        assert np.array_equal(check_images(seq, list(range(200)), "s", "skip"), np.tile(mask, 20))
    with pytest.raises(
        DataError,
        match=r"100 undecodable images in s: item ids 5, 6, 7, 8, 9, 15, "
        r"16, 17, 18, 19 and 90 more",
    ):
        check_images(many, list(range(200)), "s", "fail")
    assert check_images(good, ids[:5], "s").all()


def test_check_agrees_with_tf_decode_image_on_damaged_files():
    """What passes the check must decode in the pipeline's tf.io.decode_image."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:40, 0:30]
    pixels = np.stack([xx * 8 % 256, yy * 6 % 256, xx * yy % 256], -1)
    rgb = Image.fromarray((pixels + rng.integers(0, 30, pixels.shape)).astype(np.uint8))
    originals = [_encode(rgb, "JPEG"), _encode(rgb.convert("L"), "JPEG"), _encode(rgb, "PNG")]
    originals += [_encode(rgb.convert("P"), "PNG"), _encode(rgb.convert("LA"), "PNG")]
    cases = []
    for blob in originals:
        cases += [blob] + [blob[:-k] for k in range(1, 25)]
        cases += [blob[:k] for k in range(1, len(blob), len(blob) // 10)]
        for pos in rng.integers(0, len(blob), 40):
            damaged = bytearray(blob)
            damaged[pos] ^= int(rng.integers(1, 256))
            cases.append(bytes(damaged))
    ours = np.array([decode_error(blob) is None for blob in cases])
    theirs = np.zeros(len(cases), bool)
    for k, blob in enumerate(cases):
        try:
            tf.io.decode_image(blob, channels=3, expand_animations=False)
            theirs[k] = True
        except tf.errors.InvalidArgumentError:
            pass
    assert len(cases) > 300 and theirs.sum() > 50 and (~theirs).sum() > 150
    assert not (ours & ~theirs).any(), "passed the check but fails in TF"
    assert (~ours & theirs).sum() <= 3, "too many false alarms"


# ----------------------------------------------------------------------------
# The real Amazon Fashion interactions.

# The folder is the workplace's (../shared/data), not the repository's: a
# checkout that cannot see it (a clone elsewhere, a CI machine without it)
# skips the tests that read the real files, and says so.
needs_real_interactions = pytest.mark.skipif(
    amazon_interactions.default_dir() is None,
    reason="the real amazon_fashion_interactions folder is not on this machine "
    "(set DVBPR_SHARED_DIR to the folder holding data/amazon_fashion_interactions)",
)


@needs_real_interactions
def test_amazon_interactions_published_split():
    ds = amazon_interactions.load()
    assert (ds.num_users, ds.num_items) == (3934, 9833)
    assert (len(ds.train), len(ds.validation), len(ds.test)) == (14695, 0, 6099)
    assert ds.name == "amazon_fashion_interactions" and ds.images is None
    # First lines of users.csv, items.csv, train.txt and test.txt.
    assert ds.user_ids[0] == "A1JZJ113WGNJP0" and ds.item_ids[0] == "B015PNW2PC"
    assert set(ds.train[ds.train[:, 0] == 0, 1].tolist()) == {5323, 5055, 7731}
    assert set(ds.test[ds.test[:, 0] == 2, 1].tolist()) == {5944, 4016}
    test_per_user = np.bincount(ds.test[:, 0], minlength=ds.num_users)
    assert test_per_user.min() == 1 and test_per_user.max() > 1
    train_keys = set((ds.train[:, 0] * ds.num_items + ds.train[:, 1]).tolist())
    assert not train_keys & set((ds.test[:, 0] * ds.num_items + ds.test[:, 1]).tolist())
    assert registry.load("amazon_fashion_interactions").num_users == 3934


@needs_real_interactions
def test_amazon_interactions_location(tmp_path, monkeypatch):
    found = amazon_interactions.default_dir()
    shared = os.path.dirname(os.path.dirname(found))
    monkeypatch.setenv("DVBPR_SHARED_DIR", shared)
    assert amazon_interactions.default_dir() == found
    monkeypatch.setenv("DVBPR_SHARED_DIR", str(tmp_path))
    with pytest.raises(DataError, match="DVBPR_SHARED_DIR"):
        amazon_interactions.load()
    with pytest.raises(DataError, match=r"users\.csv does not exist"):
        amazon_interactions.load(str(tmp_path))


def test_amazon_interactions_bad_files(tmp_path):
    _write(tmp_path, "user_index,reviewer_id\n0,A\n1,B\n", "users.csv")
    _write(tmp_path, "item_index,asin\n0,X\n1,Y\n2,Z\n", "items.csv")
    _write(tmp_path, "0 1 2\n1 0\n", "train.txt")
    _write(tmp_path, "0 0\n1 5\n", "test.txt")
    with pytest.raises(
        DataError, match=r"test\.txt, line 2: user 1 or item\(s\) \[5\] out of range"
    ):
        amazon_interactions.load(str(tmp_path))
    _write(tmp_path, "0 0\n1 x\n", "test.txt")
    with pytest.raises(DataError, match=r"test\.txt, line 2: expected integers"):
        amazon_interactions.load(str(tmp_path))
    _write(tmp_path, "0 0\n1 0\n", "test.txt")
    with pytest.raises(DataError, match=r"1 \(user, item\) pairs are in train and test"):
        amazon_interactions.load(str(tmp_path))
    _write(tmp_path, "0 0\n", "test.txt")
    ds = amazon_interactions.load(str(tmp_path))
    assert ds.train.tolist() == [[0, 1], [0, 2], [1, 0]] and ds.test.tolist() == [[0, 0]]


@needs_real_interactions
def test_converter_round_trips(tmp_path):
    out = tmp_path / "amazon_custom"
    command = [sys.executable, "-m", "data.convert_amazon_interactions", f"--out={out}"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {
        "out": str(out),
        "users": 3934,
        "items": 9833,
        "train_interactions": 14695,
        "val_interactions": 0,
        "test_interactions": 6099,
    }
    assert sorted(os.listdir(out)) == ["config.json", "interactions.csv", "items.csv"]
    source = amazon_interactions.load()
    converted = custom.load(str(out))
    assert converted.name == "custom:amazon_custom" and converted.info["dropped"] == {}
    assert (converted.num_users, converted.num_items) == (3934, 9833)
    for split in ("train", "validation", "test"):
        assert _pairs(converted, split) == _pairs(source, split)
    # A folder holding anything else is not replaced.
    (out / "notes.txt").write_text("mine")
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "already holds notes.txt" in done.stderr
    assert "Traceback" not in done.stderr
