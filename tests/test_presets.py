"""The presets refer to nothing of one machine: the CIFAR-10 ones read the file
``python -m easiness.prepare cifar10`` writes, or $EASINESS_CIFAR10, or --dataset; their expected
times name the hardware they were measured on."""

from __future__ import annotations

from pathlib import Path

import pytest

from easiness import config as cfg
from easiness.data import prepared
from easiness.errors import EasinessError

CIFAR10 = prepared.get("cifar10")
CIFAR10_PRESETS = [name for name, p in cfg.PRESETS.items() if p.data == "cifar10"]
CPU_PRESETS = ["cifar10-cpu", "cifar10-full-cpu"]


def test_the_cpu_presets_read_the_file_prepare_writes():
    assert set(CPU_PRESETS) <= set(CIFAR10_PRESETS)
    for name in CPU_PRESETS:
        assert cfg.preset(name, environ={}).config.dataset == CIFAR10.spec == "npz:data/cifar10.npz"


@pytest.mark.parametrize("name", CIFAR10_PRESETS)
def test_the_environment_variable_replaces_the_cifar10_dataset(name, monkeypatch):
    table = cfg.PRESETS[name].config.dataset
    given = cfg.preset(name, environ={CIFAR10.env: " folder:elsewhere/cifar "})
    assert given.config.dataset == "folder:elsewhere/cifar"
    assert cfg.preset(name, environ={CIFAR10.env: "  "}).config == cfg.PRESETS[name].config  # empty: unset
    monkeypatch.setenv("EASINESS_CIFAR10", "tfds:cifar10")
    assert cfg.preset(name).config.dataset == "tfds:cifar10"
    assert cfg.PRESETS[name].config.dataset == table  # the table itself is unchanged


@pytest.mark.parametrize("value", ["nonsense", "npz:", "folder", "cifar10.npz"])
def test_an_environment_variable_without_a_spec_is_named(value):
    with pytest.raises(EasinessError, match=f"^{CIFAR10.env}=.* is not a dataset spec"):
        cfg.preset("cifar10-cpu", environ={CIFAR10.env: value})


def test_other_presets_ignore_the_variable():
    assert cfg.preset("demo", environ={CIFAR10.env: "npz:x.npz"}).config.dataset == "synthetic"


@pytest.mark.parametrize("name", list(cfg.PRESETS))
def test_no_preset_points_outside_the_folder_it_runs_in(name):
    spec = cfg.PRESETS[name].config.dataset
    path = Path(spec.partition(":")[2])
    assert not path.is_absolute() and ".." not in path.parts, spec


@pytest.mark.parametrize("name", list(cfg.PRESETS))
def test_expected_times_name_measured_hardware_not_ours(name):
    p = cfg.PRESETS[name]
    text = f"{p.description} {p.command} {p.expected}"
    assert "2 CPU cores" not in text and "shared/" not in text and "this machine" not in text
    if "CPU" in p.expected:
        assert "measured" in p.expected and ("README" in p.expected or "docs/" in p.expected), p.expected


def test_the_preset_list_says_where_cifar10_comes_from():
    from easiness import score

    listed = score.list_choices()
    assert "python -m easiness.prepare cifar10" in listed and CIFAR10.env in listed
    assert "2 CPU cores" not in listed and "../shared" not in listed


def test_score_without_the_file_says_how_to_get_it_and_writes_nothing(tmp_path, monkeypatch, capsys):
    pytest.importorskip("tensorflow")
    from easiness import score

    monkeypatch.delenv(CIFAR10.env, raising=False)
    monkeypatch.chdir(tmp_path)
    assert score.main(["--preset", "cifar10-cpu", "--out", "runs/c"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith("error: npz file data/cifar10.npz does not exist; download it with "
                          "`python -m easiness.prepare cifar10`")
    assert CIFAR10.env in err and "--dataset" in err
    assert list(tmp_path.iterdir()) == []
