"""easiness.data: dataset specs, folders and archives, npz, tfds (mocked), subsets, pipelines."""

from __future__ import annotations

import hashlib
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tarfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402
from PIL import Image  # noqa: E402

from easiness import data  # noqa: E402
from easiness.data import folders, loading  # noqa: E402
from easiness.data.augment import PAD, translate_and_flip  # noqa: E402
from easiness.data import DataError, Split  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
CIFAR_TAR = SHARED / "cifar10-jpeg.tar.gz"
USER_CACHE = os.environ.get("EASINESS_CACHE")  # before the fixture below replaces it
TINY_SYNTHETIC = "synthetic:classes=3,per_class=12,test_per_class=4,size=16"


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Every test decodes into its own cache folder, never the user's."""
    monkeypatch.setenv("EASINESS_CACHE", str(tmp_path / "cache"))


def _image(rng: np.random.Generator, size=(8, 8), mode="RGB") -> Image.Image:
    channels = {"RGB": 3, "L": 1, "RGBA": 4}[mode]
    pixels = rng.integers(0, 256, (*size, channels), dtype=np.uint8)
    return Image.fromarray(pixels.squeeze(-1) if channels == 1 else pixels, mode)


def _make_folder(root: Path, *, splits=("train", "test"), classes=("cat", "dog", "emu"), per_class=3) -> Path:
    """train/<class>/<i>.png|jpg and test/... (or <class>/... when splits is empty) of 8x8 images."""
    rng = np.random.default_rng(0)
    for split in splits or ("",):
        for c in classes:
            folder = root / split / c
            folder.mkdir(parents=True)
            for i in range(per_class):
                _image(rng).save(folder / f"{i}.{'png' if i % 2 else 'jpg'}")
    return root


def _tar(folder: Path, out: Path, *, top: str | None = "wrapped") -> Path:
    with tarfile.open(out, "w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder).as_posix()
            tar.add(path, arcname=f"{top}/{rel}" if top else rel, recursive=False)
    return out


# ---------------------------------------------------------------- specs and synthetic

def test_default_synthetic_dataset():
    ds = data.load("synthetic")
    assert ds.name == "synthetic" and ds.style == "cifar" and ds.image_shape == (32, 32, 3)
    assert len(ds.class_names) == 10 and len(ds.train.ids) == 2500 and len(ds.test.ids) == 800
    assert ds.train.ids[0] == "train/000000" and ds.test.ids[-1] == "test/000799"
    assert ds.train.images.shape == (2500, 32, 32, 3) and ds.train.labels.dtype == np.int32
    assert set(ds.extras) == {"mode", "flipped", "true_label"}
    assert all(v.shape == (2500,) for v in ds.extras.values())
    assert np.array_equal(ds.extras["flipped"], ds.train.labels != ds.extras["true_label"])


def test_synthetic_options_and_canonical_name():
    ds = data.load("synthetic:classes=3, per_class=12,test_per_class=0,size=16,flip=0")
    assert ds.name == "synthetic:classes=3,per_class=12,test_per_class=0,size=16,flip=0.0"
    assert ds.class_names == ("disc", "square", "triangle") and ds.test is None
    assert ds.train.images.shape == (36, 16, 16, 3) and not ds.extras["flipped"].any()
    assert data.load(ds.name).name == ds.name


def test_load_seed_and_image_size_apply_when_the_spec_is_silent():
    seeded = data.load(TINY_SYNTHETIC, seed=5)
    assert seeded.name.endswith(",seed=5")
    assert not np.array_equal(seeded.train.images, data.load(TINY_SYNTHETIC).train.images)
    assert data.load(TINY_SYNTHETIC + ",seed=1", seed=5).name.endswith(",seed=1")
    assert data.load("synthetic:classes=2,per_class=6", image_size=20).image_shape == (20, 20, 3)


@pytest.mark.parametrize("spec, words", [
    ("nonsense", ["synthetic", "folder:PATH", "tfds:NAME", "npz:PATH"]),
    ("folder:", ["unknown dataset spec"]),
    ("synthetic:colour=red", ["colour", "classes"]),
    ("synthetic:classes=many", ["classes", "int"]),
    ("synthetic:classes=1", ["classes must be"]),
    ("synthetic:flip", ["flip"]),
])
def test_bad_specs_raise_one_line_data_errors(spec, words):
    with pytest.raises(DataError) as err:
        data.load(spec)
    message = str(err.value)
    assert "\n" not in message and all(w in message for w in words)


# ---------------------------------------------------------------- folders and archives

def test_folder_with_train_and_test(tmp_path):
    ds = data.load(f"folder:{_make_folder(tmp_path / 'd')}")
    assert ds.class_names == ("cat", "dog", "emu") and ds.style == "cifar" and ds.image_shape == (8, 8, 3)
    assert ds.train.ids.tolist()[:3] == ["train/cat/0.jpg", "train/cat/1.png", "train/cat/2.jpg"]
    assert ds.train.labels.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert ds.test.ids[0] == "test/cat/0.jpg" and ds.test.images.shape == (9, 8, 8, 3)
    png = np.asarray(Image.open(tmp_path / "d" / "train" / "cat" / "1.png"))
    np.testing.assert_array_equal(ds.train.images[1], png)  # lossless files come back exactly
    assert ds.extras == {}


def test_single_split_folder_is_train_only(tmp_path):
    ds = data.load(f"folder:{_make_folder(tmp_path / 'd', splits=())}")
    assert ds.test is None and ds.train.ids[0] == "train/cat/0.jpg" and len(ds.train.ids) == 9


@pytest.mark.parametrize("top", ["wrapped", None])
def test_tar_gz_reads_like_the_folder(tmp_path, top):
    folder = _make_folder(tmp_path / "d")
    archive = _tar(folder, tmp_path / "d.tar.gz", top=top)
    a, b = data.load(f"folder:{folder}"), data.load(f"folder:{archive}")
    assert b.name == f"folder:{archive}" and a.class_names == b.class_names
    for split in ("train", "test"):
        sa, sb = getattr(a, split), getattr(b, split)
        assert sa.ids.tolist() == sb.ids.tolist()
        np.testing.assert_array_equal(sa.labels, sb.labels)
        np.testing.assert_array_equal(sa.images, sb.images)


def test_single_split_tar_under_a_top_folder(tmp_path):
    archive = _tar(_make_folder(tmp_path / "d", splits=()), tmp_path / "d.tar")
    ds = data.load(f"folder:{archive}")
    assert ds.test is None and ds.class_names == ("cat", "dog", "emu")


def test_mixed_sizes_and_modes_are_resized_to_the_first_image(tmp_path):
    root = _make_folder(tmp_path / "d", splits=())
    rng = np.random.default_rng(1)
    _image(rng, (12, 10)).save(root / "dog" / "9.png")
    _image(rng, (8, 8), "L").save(root / "emu" / "8.png")
    _image(rng, (8, 8), "RGBA").save(root / "emu" / "9.png")
    ds = data.load(f"folder:{root}")
    assert ds.train.images.shape == (12, 8, 8, 3)
    assert data.load(f"folder:{root}", image_size=5).train.images.shape == (12, 5, 5, 3)


def test_decoded_folder_is_cached_and_refreshed_when_files_change(tmp_path, monkeypatch):
    root = _make_folder(tmp_path / "d")
    first = data.load(f"folder:{root}")
    assert len(list((tmp_path / "cache").glob("folder-*.npz"))) == 1

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded although cached")

    with monkeypatch.context() as patch:
        patch.setattr(folders, "_decode_source", no_decoding)
        cached = data.load(f"folder:{root}", per_class=2)  # subsets share the cache
        np.testing.assert_array_equal(cached.test.images, first.test.images)
    _image(np.random.default_rng(2)).save(root / "train" / "cat" / "7.png")
    assert len(data.load(f"folder:{root}").train.ids) == 10


def test_unwritable_cache_only_warns(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("EASINESS_CACHE", str(blocker / "cache"))
    with pytest.warns(UserWarning, match="image cache"):
        ds = data.load(f"folder:{_make_folder(tmp_path / 'd')}")
    assert len(ds.train.ids) == 9


def _error(spec: str, **kwargs) -> str:
    with pytest.raises(DataError) as err:
        data.load(spec, **kwargs)
    assert "\n" not in str(err.value)
    return str(err.value)


def test_folder_errors_name_the_problem(tmp_path):
    assert "does not exist" in _error(f"folder:{tmp_path / 'missing'}")
    (tmp_path / "empty").mkdir()
    assert "no images" in _error(f"folder:{tmp_path / 'empty'}")
    (tmp_path / "notes.txt").write_text("hello")
    assert "neither a folder nor" in _error(f"folder:{tmp_path / 'notes.txt'}")
    one = _make_folder(tmp_path / "one", classes=("cat",))
    assert "1 class folder" in _error(f"folder:{one}")


def test_class_folder_without_images_is_named(tmp_path):
    root = _make_folder(tmp_path / "d")
    (root / "train" / "yak").mkdir()
    (root / "train" / "yak" / "readme.txt").write_text("no pictures")
    assert "train/yak" in _error(f"folder:{root}")


def test_corrupt_image_is_named(tmp_path):
    root = _make_folder(tmp_path / "d")
    (root / "train" / "dog" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    message = _error(f"folder:{root}")
    assert "train/dog/broken.jpg" in message and "cannot decode" in message
    archive = _tar(root, tmp_path / "d.tar.gz")
    assert "wrapped/train/dog/broken.jpg" in _error(f"folder:{archive}")


def test_train_and_test_classes_must_match(tmp_path):
    root = _make_folder(tmp_path / "d")
    (root / "test" / "emu").rename(root / "test" / "owl")
    message = _error(f"folder:{root}")
    assert "differ" in message and "emu" in message and "owl" in message


def test_test_without_train_and_corrupt_archive(tmp_path):
    root = _make_folder(tmp_path / "d")
    (root / "train").rename(root / "training")
    assert "no train folder" in _error(f"folder:{root}")
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"\x1f\x8b definitely not gzip")
    assert "cannot read archive" in _error(f"folder:{bad}")


# ---------------------------------------------------------------- npz

def _npz(path: Path, **arrays) -> str:
    np.savez(path, **arrays)
    return f"npz:{path}"


def test_npz_with_grey_images_and_defaults(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (6, 5, 5), dtype=np.uint8)
    ds = data.load(_npz(tmp_path / "a.npz", x=x, y=np.array([0, 1, 2, 0, 1, 2])))
    assert ds.image_shape == (5, 5, 1) and ds.class_names == ("class0", "class1", "class2")
    assert ds.train.ids[0] == "train/000000" and ds.test is None
    np.testing.assert_array_equal(ds.train.images[..., 0], x)


def test_npz_with_ids_names_and_test(tmp_path):
    x = np.zeros((4, 3, 3, 3), np.uint8)
    spec = _npz(tmp_path / "a.npz", x=x, y=np.array([0, 1, 0, 1]), ids=np.array(["d", "c", "b", "a"]),
                class_names=np.array(["no", "yes"]), x_test=x[:2], y_test=np.array([1, 0]))
    ds = data.load(spec)
    assert ds.train.ids.tolist() == ["d", "c", "b", "a"] and ds.class_names == ("no", "yes")
    assert ds.test.ids.tolist() == ["test/000000", "test/000001"]


@pytest.mark.parametrize("arrays, words", [
    ({"x": np.zeros((2, 3, 3, 3), np.uint8)}, ["no array 'y'"]),
    ({"x": np.zeros((2, 3, 3, 3), np.float32), "y": np.array([0, 1])}, ["uint8", "float32"]),
    ({"x": np.zeros((2, 3, 3, 3), np.uint8), "y": np.array([0, 1, 1])}, ["3 labels", "2 images"]),
    ({"x": np.zeros((2, 3, 3, 3), np.uint8), "y": np.array([0, 2]), "class_names": np.array(["a", "b"])},
     ["label 2"]),
    ({"x": np.zeros((2, 3, 3, 3), np.uint8), "y": np.array([0, 1]), "ids": np.array(["a", "a"])}, ["unique"]),
    ({"x": np.zeros((2, 3, 3, 3), np.uint8), "y": np.array([0, 1]), "x_test": np.zeros((1, 3, 3, 3), np.uint8)},
     ["x_test and y_test"]),
    ({"x": np.zeros((2, 3, 3, 3), np.uint8), "y": np.array([0, 0])}, ["1 class"]),
    ({"x": np.zeros((2, 3, 3, 3), np.uint8), "y": np.array([0.0, 1.0])}, ["integers"]),
    ({"x": np.zeros((2, 3, 3, 3), np.uint8), "y": np.array([0, 1]), "ids": np.array([{}, {}])}, ["object arrays"]),
])
def test_npz_errors(tmp_path, arrays, words):
    message = _error(_npz(tmp_path / "a.npz", **arrays))
    assert all(w in message for w in words), message


def test_npz_missing_and_unreadable(tmp_path):
    assert "does not exist" in _error(f"npz:{tmp_path / 'none.npz'}")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    assert "cannot read" in _error(f"npz:{tmp_path / 'junk.npz'}")


# ---------------------------------------------------------------- subsets and fingerprints

def test_per_class_takes_the_first_k_of_each_class_in_id_order(tmp_path):
    full = data.load(f"folder:{_make_folder(tmp_path / 'd', per_class=5)}")
    sub = data.load(f"folder:{tmp_path / 'd'}", per_class=2)
    assert sub.train.ids.tolist() == ["train/cat/0.jpg", "train/cat/1.png", "train/dog/0.jpg",
                                      "train/dog/1.png", "train/emu/0.jpg", "train/emu/1.png"]
    np.testing.assert_array_equal(sub.train.images[2], full.train.images[5])
    assert len(sub.test.ids) == 15  # the test split stays whole


def test_per_class_keeps_synthetic_extras_aligned():
    full = data.load(TINY_SYNTHETIC)
    sub = data.load(TINY_SYNTHETIC, per_class=3)
    assert np.bincount(sub.train.labels).tolist() == [3, 3, 3]
    positions = [full.train.ids.tolist().index(i) for i in sub.train.ids]
    for key in full.extras:
        np.testing.assert_array_equal(sub.extras[key], full.extras[key][positions])
    np.testing.assert_array_equal(sub.train.images, full.train.images[positions])
    assert data.fingerprint(sub) == data.fingerprint(data.load(TINY_SYNTHETIC, per_class=3))


def test_per_class_errors_name_the_class():
    message = _error(TINY_SYNTHETIC, per_class=13)
    assert "per_class=13" in message and "only 12" in message and "'disc'" in message
    assert "at least 1" in _error(TINY_SYNTHETIC, per_class=0)


def test_fingerprint_is_stable_and_tracks_ids_and_labels():
    ds = data.load(TINY_SYNTHETIC)
    fp = data.fingerprint(ds)
    assert fp == data.fingerprint(data.load(TINY_SYNTHETIC)) and len(fp) == 64
    renamed = Split(np.char.add(ds.train.ids, "x"), ds.train.labels, ds.train.images)
    relabelled = Split(ds.train.ids, (ds.train.labels + 1) % 3, ds.train.images)
    for split in (renamed, relabelled):
        assert data.fingerprint(data.Dataset(**{**ds.__dict__, "train": split})) != fp


def test_fingerprint_hashes_ids_in_chunks_as_one_join():
    ids = np.asarray([f"train/{i:03d}" for i in range(10)])
    whole = hashlib.sha256("\0".join(ids.tolist()).encode("utf-8")).hexdigest()
    for chunk in (1, 3, 10, 64):
        digest = hashlib.sha256()
        loading._hash_joined(digest, ids, chunk=chunk)
        assert digest.hexdigest() == whole, chunk


# ---------------------------------------------------------------- pipelines

def _split(n=10, size=6, seed=0) -> Split:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    return Split(np.asarray([f"e{i}" for i in range(n)]), (np.arange(n) % 3).astype(np.int32), images)


def _run(split: Split, **kwargs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    options = {"style": "cifar", "batch_size": 4, "augment": False, "shuffle_seed": None, **kwargs}
    if "image_shape" not in options:
        options["image_shape"] = split.images.shape[1:]
    batches = list(data.pipeline(split, **options).as_numpy_iterator())
    return tuple(np.concatenate([b[k] for b in batches]) for k in range(3))


def test_scoring_pipeline_is_in_order_and_deterministic():
    split = _split()
    ds = data.pipeline(split, style="cifar", image_shape=(6, 6, 3), batch_size=4, augment=False, shuffle_seed=None)
    assert ds.element_spec[0].dtype == tf.int64 and ds.element_spec[2].dtype == tf.int32
    assert ds.element_spec[1].dtype == tf.float32 and ds.element_spec[1].shape.as_list() == [None, 6, 6, 3]
    index, images, labels = _run(split)
    assert index.tolist() == list(range(10))
    np.testing.assert_array_equal(labels, split.labels)
    np.testing.assert_allclose(images, data.gcn(split.images).numpy(), atol=1e-6)
    np.testing.assert_array_equal(images, _run(split)[1])


def test_shuffled_epoch_sees_every_index_once_and_is_reproducible():
    split = _split(n=11)
    index, images, labels = _run(split, shuffle_seed=7)
    assert sorted(index.tolist()) == list(range(11)) and index.tolist() != list(range(11))
    np.testing.assert_array_equal(labels, split.labels[index])  # the label travels with its index
    np.testing.assert_allclose(images, data.gcn(split.images[index]).numpy(), atol=1e-6)
    assert _run(split, shuffle_seed=7)[0].tolist() == index.tolist()
    assert _run(split, shuffle_seed=8)[0].tolist() != index.tolist()
    dropped = _run(split, shuffle_seed=7, drop_remainder=True)[0]
    assert dropped.tolist() == index.tolist()[:8]


def test_cifar_augmentation_changes_pixels_keeps_shapes_and_is_seeded():
    split = _split(n=16, size=8)
    index, clean, _ = _run(split)
    _, augmented, _ = _run(split, augment=True, shuffle_seed=None)
    assert augmented.shape == clean.shape == (16, 8, 8, 3)
    assert not np.allclose(augmented, clean)
    np.testing.assert_array_equal(augmented, _run(split, augment=True, shuffle_seed=None)[1])
    a, b = _run(split, augment=True, shuffle_seed=1), _run(split, augment=True, shuffle_seed=2)
    assert not np.allclose(a[1][np.argsort(a[0])], b[1][np.argsort(b[0])])


def test_translate_and_flip_is_a_shift_and_mirror_of_each_image():
    images = tf.random.stateless_uniform([32, 8, 8, 1], seed=[0, 1], minval=1, maxval=2)
    out = translate_and_flip(images, tf.constant([3, 4], tf.int64)).numpy()
    padded = np.pad(images.numpy(), [(0, 0), (PAD, PAD), (PAD, PAD), (0, 0)])
    shifts, flips = set(), 0
    for b in range(32):
        matches = [(dy, dx, f) for dy in range(2 * PAD + 1) for dx in range(2 * PAD + 1) for f in (0, 1)
                   if np.array_equal(out[b], _view(padded[b], dy, dx, f))]
        assert matches, f"image {b} is not a shifted/mirrored copy"
        shifts.add(matches[0][:2])
        flips += matches[0][2]
    assert len(shifts) > 5 and 4 < flips < 28


def _view(padded: np.ndarray, dy: int, dx: int, flip: int) -> np.ndarray:
    crop = padded[dy:dy + 8, dx:dx + 8]
    return crop[:, ::-1] if flip else crop


def test_gcn_gives_zero_mean_unit_std_and_survives_flat_images():
    images = tf.concat([tf.random.uniform([3, 5, 5, 3], 0, 255), tf.fill([1, 5, 5, 3], 77.0)], axis=0)
    out = data.gcn(images).numpy()
    np.testing.assert_allclose(out[:3].mean(axis=(1, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(out[:3].std(axis=(1, 2, 3)), 1, atol=1e-4)
    np.testing.assert_array_equal(out[3], 0)


def test_imagenet_style_crops_in_memory_images():
    split = _split(n=5, size=40)
    train = _run(split, style="imagenet", image_shape=(24, 24, 3), augment=True, shuffle_seed=3)
    scoring = _run(split, style="imagenet", image_shape=(24, 24, 3))
    assert train[1].shape == scoring[1].shape == (5, 24, 24, 3)
    assert scoring[0].tolist() == list(range(5)) and not np.allclose(train[1][np.argsort(train[0])], scoring[1])


def _stream_split(n=7) -> Split:
    """A streamed split of variable-size images whose pixel values encode the index."""
    def stream():
        def gen():
            for i in range(n):
                yield i, np.full((20 + i, 30 - i, 3), 10 * i, np.uint8), i % 2
        spec = (tf.TensorSpec([], tf.int64), tf.TensorSpec([None, None, 3], tf.uint8), tf.TensorSpec([], tf.int32))
        return tf.data.Dataset.from_generator(gen, output_signature=spec)
    return Split(np.asarray([f"s{i}" for i in range(n)]), (np.arange(n) % 2).astype(np.int32), None, stream=stream)


def test_streamed_split_pipeline_and_subset():
    split = _stream_split()
    index, images, labels = _run_stream(split, augment=True, shuffle_seed=1)
    assert sorted(index.tolist()) == list(range(7)) and images.shape == (7, 16, 16, 3)
    np.testing.assert_array_equal(labels, index % 2)
    sub = data.select(split, np.array([1, 4, 6]))
    index, _, labels = _run_stream(sub, augment=False, shuffle_seed=None)
    assert index.tolist() == [0, 1, 2] and labels.tolist() == [1, 0, 0]
    cifar = _run_stream(split, augment=True, shuffle_seed=None, style="cifar")
    assert cifar[1].shape == (7, 16, 16, 3)


def _run_stream(split: Split, *, style="imagenet", **kwargs):
    ds = data.pipeline(split, style=style, image_shape=(16, 16, 3), batch_size=3, **kwargs)
    batches = list(ds.as_numpy_iterator())
    return tuple(np.concatenate([b[k] for b in batches]) for k in range(3))


def _generated_split(n=10) -> Split:
    """A generated split whose every pixel is 10 * its index (so each image names its example)."""
    def generate(index):
        pixels = tf.cast(10 * index, tf.uint8)[:, None, None, None]
        return tf.broadcast_to(pixels, [tf.shape(index)[0], 6, 6, 3])
    return Split(np.asarray([f"g{i}" for i in range(n)]), (np.arange(n) % 3).astype(np.int32), None,
                 generate=generate)


def test_generated_split_batches_like_the_same_images_in_memory():
    split = _generated_split()
    pixels = np.broadcast_to(10 * np.arange(10, dtype=np.uint8)[:, None, None, None], (10, 6, 6, 3))
    in_memory = Split(split.ids, split.labels, np.ascontiguousarray(pixels))
    for options in ({}, {"shuffle_seed": 7}, {"shuffle_seed": 7, "augment": True, "drop_remainder": True}):
        index, images, labels = _run(split, image_shape=(6, 6, 3), **options)
        expected = _run(in_memory, **options)  # same order and augmentation as the in-memory split
        np.testing.assert_array_equal(index, expected[0])
        np.testing.assert_array_equal(labels, split.labels[index])
        np.testing.assert_allclose(images, expected[1], atol=1e-6)
    assert _run(split, image_shape=(6, 6, 3))[0].tolist() == list(range(10))


def test_generated_subset_draws_the_kept_examples():
    sub = data.select(_generated_split(), np.array([2, 5, 9]))
    index, _, labels = _run(sub, image_shape=(6, 6, 3))
    assert index.tolist() == [0, 1, 2] and labels.tolist() == [2, 2, 0] and sub.ids.tolist() == ["g2", "g5", "g9"]
    drawn = sub.generate(tf.constant([0, 1, 2], tf.int64)).numpy()
    assert drawn.shape == (3, 6, 6, 3) and drawn[:, 0, 0, 0].tolist() == [20, 50, 90]


def test_generated_split_needs_cifar_style():
    with pytest.raises(ValueError, match="generated"):
        data.pipeline(_generated_split(), style="imagenet", image_shape=(6, 6, 3), batch_size=2, augment=False,
                      shuffle_seed=None)


def test_pipeline_rejects_bad_arguments():
    with pytest.raises(ValueError, match="style"):
        data.pipeline(_split(), style="mnist", image_shape=(6, 6, 3), batch_size=2, augment=False, shuffle_seed=None)
    with pytest.raises(ValueError, match="batch_size"):
        data.pipeline(_split(), style="cifar", image_shape=(6, 6, 3), batch_size=0, augment=False, shuffle_seed=None)


# ---------------------------------------------------------------- tfds (mocked: no downloads here)

def test_tfds_cifar10_through_mock_data():
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=200):
        ds = data.load("tfds:cifar10", per_class=3)
        full = data.load("tfds:cifar10")
    assert ds.name == "tfds:cifar10" and ds.style == "cifar" and ds.image_shape == (32, 32, 3)
    assert len(ds.class_names) == 10  # the mock lacks label names; real cifar10 has airplane...
    assert len(set(full.train.ids.tolist())) == 200 and full.train.ids.tolist() == sorted(full.train.ids.tolist())
    assert np.bincount(ds.train.labels, minlength=10).tolist() == [3] * 10
    assert full.test.images.shape == (200, 32, 32, 3)
    index, images, labels = _run(ds.train, batch_size=8, augment=True, shuffle_seed=0)
    assert images.shape == (30, 32, 32, 3) and sorted(index.tolist()) == list(range(30))


def test_tfds_imagenet_streams_through_mock_data():
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=9):
        ds = data.load("tfds:imagenet2012", image_size=24)
        assert ds.style == "imagenet" and ds.image_shape == (24, 24, 3) and ds.train.images is None
        ids = ds.train.ids
        index, images, labels = _run_stream(ds.train, augment=True, shuffle_seed=2)
    assert len(set(ids.tolist())) == 9 and sorted(index.tolist()) == list(range(9))
    np.testing.assert_array_equal(labels, ds.train.labels[index])


def test_tfds_missing_or_unknown_dataset_is_a_data_error(tmp_path):
    pytest.importorskip("tensorflow_datasets")
    message = _error("tfds:cifar10", data_dir=str(tmp_path))
    assert "not prepared" in message and "folder:PATH" in message
    assert "cannot open" in _error("tfds:no_such_dataset_xyz")


# ---------------------------------------------------------------- the real CIFAR-10

@pytest.mark.slow
@pytest.mark.skipif(not CIFAR_TAR.exists(), reason=f"real CIFAR-10 not at {CIFAR_TAR} (../shared/datasets)")
def test_real_cifar10_tar(monkeypatch):
    """First load decodes 60,000 JPEGs (~10 s on 2 cores); later loads read the cache (~0.1 s)."""
    # why: the user's own cache (default ~/.cache/easiness), so only the first run decodes
    if USER_CACHE:
        monkeypatch.setenv("EASINESS_CACHE", USER_CACHE)
    else:
        monkeypatch.delenv("EASINESS_CACHE")
    started = time.perf_counter()
    ds = data.load(f"folder:{CIFAR_TAR}", per_class=5)
    print(f"CIFAR-10 load: {time.perf_counter() - started:.1f} s")
    assert ds.class_names == ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                              "truck")
    assert len(ds.train.ids) == 50 and len(ds.test.ids) == 10_000
    assert ds.train.ids[0] == "train/airplane/0000.jpg" and ds.train.ids[5] == "train/automobile/0000.jpg"
    assert ds.train.images.shape == (50, 32, 32, 3) and ds.image_shape == (32, 32, 3)
