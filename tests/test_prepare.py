"""python -m easiness.prepare: CIFAR through tfds (mocked) or keras.datasets (monkeypatched) into
one .npz that ``npz:PATH`` loads back; bad input and failed downloads are one line and exit 2,
and an existing file survives every failure. No network: nothing here downloads."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from easiness import prepare  # noqa: E402
from easiness.data import download, prepared, spec  # noqa: E402
from easiness.errors import EasinessError  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CIFAR10 = prepared.get("cifar10")


def one_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


def fake_cifar(n_train: int, n_test: int, classes: int, *, channels_first: bool = False, seed: int = 0):
    """What keras.datasets.cifar10.load_data returns: uint8 images, [N, 1] uint8 labels."""
    rng = np.random.default_rng(seed)
    shape = (3, 32, 32) if channels_first else (32, 32, 3)
    x, x_test = (rng.integers(0, 256, (n, *shape), dtype=np.uint8) for n in (n_train, n_test))
    y, y_test = (rng.integers(0, classes, (n, 1), dtype=np.uint8) for n in (n_train, n_test))
    return (x, y), (x_test, y_test)


@pytest.fixture
def keras_cifar(monkeypatch):
    """keras.datasets.cifar10/cifar100.load_data replaced by small fake data; returns what they
    return and the keyword arguments they were called with."""
    keras = pytest.importorskip("keras")
    seen = {}

    def patch(name: str, result):
        def load_data(**kwargs):
            seen[name] = kwargs
            if isinstance(result, BaseException):
                raise result
            return result

        monkeypatch.setattr(getattr(keras.datasets, name), "load_data", load_data)
        return seen

    return patch


# ---------------------------------------------------------------- keras.datasets

def test_keras_cifar10_round_trips_through_the_npz_loader(tmp_path, keras_cifar, capsys):
    from easiness import data

    (x, y), (x_test, y_test) = fake_cifar(23, 7, 10)
    keras_cifar("cifar10", ((x, y), (x_test, y_test)))
    out = tmp_path / "sub" / "c10.npz"
    assert prepare.main(["cifar10", "--source", "keras", "--out", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[-1] == f"next: python -m easiness.score --preset cifar10-cpu --dataset npz:{out}"
    assert printed[-2].startswith(f"wrote {out}: 23 training and 7 test images of 32x32x3, 10 classes")
    ds = data.load(f"npz:{out}")
    assert ds.class_names == CIFAR10.class_names
    assert ds.train.ids.tolist() == [f"train_{i:05d}" for i in range(23)]
    assert ds.test.ids.tolist() == [f"test_{i:05d}" for i in range(7)]
    np.testing.assert_array_equal(ds.train.images, x)
    np.testing.assert_array_equal(ds.train.labels, y[:, 0])
    np.testing.assert_array_equal(ds.test.images, x_test)
    np.testing.assert_array_equal(ds.test.labels, y_test[:, 0])
    assert [p.name for p in out.parent.iterdir()] == ["c10.npz"]  # no temp file left


def test_keras_cifar100_uses_fine_labels_and_channels_first_is_turned(tmp_path, keras_cifar, capsys):
    from easiness import data

    (x, y), (x_test, y_test) = fake_cifar(5, 4, 100, channels_first=True)
    seen = keras_cifar("cifar100", ((x, y), (x_test, y_test)))
    out = tmp_path / "c100.npz"
    assert prepare.main(["cifar100", "--source", "keras", "--out", str(out)]) == 0
    assert seen["cifar100"] == {"label_mode": "fine"}
    assert "--per-class 50" in capsys.readouterr().out.splitlines()[-1]
    ds = data.load(f"npz:{out}")
    assert len(ds.class_names) == 100 and ds.class_names[:2] == ("apple", "aquarium_fish")
    np.testing.assert_array_equal(ds.train.images, x.transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(ds.test.labels, y_test[:, 0])


def test_the_defaults_are_keras_and_data_npz_in_the_working_folder(tmp_path, keras_cifar, monkeypatch, capsys):
    keras_cifar("cifar10", fake_cifar(3, 2, 10))
    monkeypatch.chdir(tmp_path)
    assert prepare.main(["cifar10"]) == 0
    assert (tmp_path / CIFAR10.path).is_file() and CIFAR10.path == "data/cifar10.npz"
    assert capsys.readouterr().out.splitlines()[-1].endswith("--dataset npz:data/cifar10.npz")


def test_a_failed_download_is_one_line_naming_the_cause_and_writes_nothing(tmp_path, keras_cifar, capsys):
    cause = "URL fetch failure on https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz: None -- " \
            "[Errno -3] Temporary failure in name resolution"
    keras_cifar("cifar10", Exception(cause))
    out = tmp_path / "data" / "c.npz"
    assert prepare.main(["cifar10", "--source", "keras", "--out", str(out)]) == 2
    line = one_line(capsys)
    assert "cannot download CIFAR-10 through keras.datasets" in line and "name resolution" in line
    assert not (tmp_path / "data").exists()


def test_an_existing_out_is_kept_unless_force(tmp_path, keras_cifar, capsys):
    keras_cifar("cifar10", fake_cifar(4, 2, 10))
    out = tmp_path / "c.npz"
    out.write_bytes(b"keep me")
    assert prepare.main(["cifar10", "--source", "keras", "--out", str(out)]) == 2
    assert "exists; pass --force" in one_line(capsys) and out.read_bytes() == b"keep me"
    assert prepare.main(["cifar10", "--source", "keras", "--out", str(out), "--force"]) == 0
    assert np.load(out)["ids"].tolist()[:2] == ["train_00000", "train_00001"]


def test_a_failed_write_leaves_the_old_file_as_it_was(tmp_path, keras_cifar, monkeypatch, capsys):
    keras_cifar("cifar10", fake_cifar(4, 2, 10))
    out = tmp_path / "c.npz"
    out.write_bytes(b"old")

    def full_disk(file, **arrays):
        file.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(download.np, "savez", full_disk)
    assert prepare.main(["cifar10", "--source", "keras", "--out", str(out), "--force"]) == 2
    line = one_line(capsys)
    assert f"cannot write {out}" in line and "disk is full" in line
    assert out.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["c.npz"]


@pytest.mark.parametrize("make, words", [
    (lambda t: (t / "file.txt").write_text("x") and t / "file.txt" / "c.npz", "is a file, not a folder"),
    (lambda t: (t / "d.npz").mkdir() or t / "d.npz", "is a folder; give a file name"),
    (lambda t: t / "c.npy", "must be a file name ending in .npz"),
])
def test_an_out_that_cannot_be_written_is_refused_before_downloading(tmp_path, keras_cifar, capsys, make, words):
    seen = keras_cifar("cifar10", fake_cifar(2, 2, 10))
    assert prepare.main(["cifar10", "--source", "keras", "--out", str(make(tmp_path))]) == 2
    assert words in one_line(capsys) and seen == {}


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_refused(tmp_path, keras_cifar, capsys):
    keras_cifar("cifar10", fake_cifar(2, 2, 10))
    tmp_path.chmod(0o555)
    try:
        assert prepare.main(["cifar10", "--source", "keras", "--out", str(tmp_path / "c.npz")]) == 2
    finally:
        tmp_path.chmod(0o755)
    assert "not writable" in one_line(capsys)


def test_data_dir_is_for_tfds_only(tmp_path, capsys):
    assert prepare.main(["cifar10", "--source", "keras", "--data-dir", str(tmp_path), "--out",
                         str(tmp_path / "c.npz")]) == 2
    assert "--data-dir is the tfds data folder" in one_line(capsys)


# ---------------------------------------------------------------- tensorflow-datasets (mocked)

def test_tfds_cifar10_round_trips_with_the_builders_ids(tmp_path, capsys):
    tfds = pytest.importorskip("tensorflow_datasets")
    from easiness import data

    out = tmp_path / "c.npz"
    with tfds.testing.mock_data(num_examples=12):
        assert prepare.main(["cifar10", "--source", "tfds", "--data-dir", str(tmp_path / "tfds"),
                             "--out", str(out)]) == 0
        direct = data.load("tfds:cifar10")
    assert "preparing tfds:cifar10" in capsys.readouterr().out
    ds = data.load(f"npz:{out}")
    assert ds.class_names == direct.class_names and len(ds.class_names) == 10
    for got, want in ((ds.train, direct.train), (ds.test, direct.test)):
        assert got.ids.tolist() == want.ids.tolist() and len(set(got.ids.tolist())) == 12
        np.testing.assert_array_equal(got.labels, want.labels)
        np.testing.assert_array_equal(got.images, want.images)


@pytest.mark.parametrize("failure, words", [
    (ConnectionError("Failed to get url https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz\nsecond line"),
     "cannot download CIFAR-10 through tensorflow-datasets (ConnectionError: Failed to get url https://www.cs"),
    (ModuleNotFoundError("No module named 'importlib_resources'", name="importlib_resources"),
     "needs the package importlib_resources to download CIFAR-10: pip install importlib_resources"),
])
def test_a_failed_tfds_download_is_one_line(tmp_path, monkeypatch, capsys, failure, words):
    tfds = pytest.importorskip("tensorflow_datasets")

    def offline(self, *args, **kwargs):
        raise failure

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", offline)
    out = tmp_path / "c.npz"
    args = ["cifar10", "--source", "tfds", "--data-dir", str(tmp_path / "tfds"), "--out", str(out)]
    assert prepare.main(args) == 2
    assert words in one_line(capsys)
    assert not out.exists()


# ---------------------------------------------------------------- without TensorFlow

@pytest.fixture
def no_tensorflow(tmp_path):
    """An environment whose tensorflow, keras and tensorflow_datasets fail on import, except that
    keras.datasets.cifar10.load_data fails like a machine without network (after tensorflow)."""
    fakes = tmp_path / "fakes"
    for name in ("tensorflow", "tensorflow_datasets"):
        (fakes / name).mkdir(parents=True)
        (fakes / name / "__init__.py").write_text(f"raise ImportError('{name} was imported')\n")
    (fakes / "keras" / "datasets").mkdir(parents=True)
    (fakes / "keras" / "__init__.py").write_text("from keras import datasets\n")
    (fakes / "keras" / "datasets" / "__init__.py").write_text("from keras.datasets import cifar10\n")
    (fakes / "keras" / "datasets" / "cifar10.py").write_text(
        "def load_data():\n    raise Exception('URL fetch failure on https://x: None -- [Errno -3] "
        "Temporary failure in name resolution')\n")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": os.pathsep.join([str(fakes), str(REPO)])}

    def run(*args: str, tensorflow: bool = False) -> subprocess.CompletedProcess:
        if tensorflow:  # an importable stand-in, so that the keras path is reached
            (fakes / "tensorflow" / "__init__.py").write_text("")
        return subprocess.run([sys.executable, "-m", "easiness.prepare", *args], capture_output=True, text=True,
                              cwd=tmp_path, env=env, timeout=120)

    return run


def test_help_and_bad_arguments_answer_without_tensorflow(tmp_path, no_tensorflow):
    assert no_tensorflow("--help").returncode == 0
    (tmp_path / "old.npz").write_bytes(b"old")
    for args, words in ((["mnist"], "invalid choice: 'mnist'"), (["cifar10", "--source", "torch"], "invalid choice"),
                        (["cifar10", "--out", "old.npz"], "exists; pass --force"),
                        (["cifar10", "--data-dir", "d"], "add --source tfds")):
        done = no_tensorflow(*args)
        assert done.returncode == 2 and done.stdout == "", args
        assert len(done.stderr.splitlines()) == 1 and words in done.stderr, done.stderr
    assert (tmp_path / "old.npz").read_bytes() == b"old"


def test_a_download_without_network_is_one_line_in_a_real_process(tmp_path, no_tensorflow):
    done = no_tensorflow("cifar10", tensorflow=True)  # the default source, keras
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1].startswith("error: cannot download CIFAR-10 through keras.datasets")
    assert "name resolution" in done.stderr and not (tmp_path / "data").exists()


# ---------------------------------------------------------------- the hints where the file is missing

def test_a_missing_prepared_file_says_how_to_get_it(tmp_path, monkeypatch):
    from easiness import data
    from easiness.data import DataError

    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError) as default:
        data.load(CIFAR10.spec)
    message = str(default.value)
    assert "python -m easiness.prepare cifar10`" in message and CIFAR10.env in message and "--dataset" in message
    elsewhere = tmp_path / "my data" / "cifar100.npz"
    with pytest.raises(DataError, match="python -m easiness.prepare cifar100 --out '"):
        data.load(f"npz:{elsewhere}")
    with pytest.raises(DataError) as other:
        data.load(f"npz:{tmp_path / 'mine.npz'}")
    assert str(other.value).endswith("mine.npz does not exist")


def test_the_apps_spec_check_gives_the_same_hint(tmp_path):
    with pytest.raises(EasinessError, match=f"easiness.prepare cifar10`.*{CIFAR10.env}"):
        spec.check(CIFAR10.spec, base=tmp_path)
    np.savez(tmp_path / "x.npz", x=np.zeros(1))
    assert spec.check("npz:x.npz", base=tmp_path) == "npz:x.npz"
