"""The synthetic generator: deterministic, balanced, exact mode and flip shares (numpy only)."""

from __future__ import annotations

import numpy as np
import pytest

from easiness.data import synthetic
from easiness.data.synthetic import SyntheticConfig

SMALL = SyntheticConfig(classes=4, per_class=40, test_per_class=10, size=24, flip=0.05, seed=3)


@pytest.fixture(scope="module")
def small():
    return synthetic.generate(SMALL)


@pytest.fixture(scope="module")
def default():
    return synthetic.generate(SyntheticConfig())


def _fields(split):
    return [split.images, split.labels, split.true_labels, split.modes, split.flipped]


def test_same_config_gives_identical_arrays(small):
    again = synthetic.generate(SMALL)
    for a, b in zip(_fields(small[0]) + _fields(small[1]), _fields(again[0]) + _fields(again[1])):
        np.testing.assert_array_equal(a, b)


def test_another_seed_gives_other_images_and_order(small):
    other, _ = synthetic.generate(SyntheticConfig(**{**SMALL.__dict__, "seed": 4}))
    assert not np.array_equal(other.images, small[0].images)
    assert not np.array_equal(other.true_labels, small[0].true_labels)


def test_shapes_and_dtypes(small):
    train, test = small
    assert train.images.shape == (4 * 40, 24, 24, 3) and train.images.dtype == np.uint8
    assert test.images.shape == (4 * 10, 24, 24, 3)
    assert train.labels.dtype == np.int32 and train.modes.dtype == np.int32
    assert train.flipped.dtype == bool


def test_classes_are_balanced_before_and_after_flips(default):
    train, test = default
    assert np.bincount(train.true_labels).tolist() == [250] * 10
    assert np.bincount(train.labels).tolist() == [250] * 10  # flips keep every class's count
    assert np.bincount(test.labels).tolist() == [80] * 10


def test_mode_shares_are_exact_per_class(default):
    train, test = default
    assert synthetic.mode_counts(250, majority=0.8, modes=3).tolist() == [200, 25, 25]
    for c in range(10):
        assert np.bincount(train.modes[train.true_labels == c], minlength=3).tolist() == [200, 25, 25]
        assert np.bincount(test.modes[test.labels == c], minlength=3).tolist() == [64, 8, 8]


def test_flips_have_the_intended_share_and_only_in_train(default):
    train, test = default
    k = round(0.03 * 250)
    for c in range(10):
        assert train.flipped[train.true_labels == c].sum() == k
    assert np.array_equal(train.flipped, train.labels != train.true_labels)
    assert not test.flipped.any() and np.array_equal(test.labels, test.true_labels)
    shifts = (train.labels - train.true_labels)[train.flipped] % 10
    assert len(np.unique(shifts)) > 3  # moved to various other classes, not one neighbour


def test_no_flips_when_flip_is_zero():
    train, _ = synthetic.generate(SyntheticConfig(classes=3, per_class=20, test_per_class=0, flip=0.0))
    assert not train.flipped.any()


def test_modes_look_different(default):
    """Majority: vivid shape on dark; negative: light background; small: little foreground."""
    train, _ = default
    x = train.images.astype(np.float32) / 255
    brightness = [x[train.modes == m].mean() for m in range(3)]
    saturation = [(x.max(-1) - x.min(-1))[train.modes == m].mean() for m in range(3)]
    assert brightness[1] > brightness[0] + 0.3  # negative mode is light
    assert saturation[0] > saturation[1] + 0.05 and saturation[0] > saturation[2] + 0.05


def test_classes_differ_in_shape_within_a_mode(default):
    """Average negative-mode image of two classes (no colour cue) must differ clearly."""
    train, _ = default
    means = [train.images[(train.true_labels == c) & (train.modes == 1)].mean(0).mean(-1) for c in (0, 1)]
    assert np.abs(means[0] - means[1]).mean() > 5  # disc vs square, grey levels 0-255


def test_test_split_optional():
    _, test = synthetic.generate(SyntheticConfig(classes=2, per_class=10, test_per_class=0))
    assert test is None


@pytest.mark.parametrize("change", [{"classes": 1}, {"classes": 11}, {"per_class": 2}, {"flip": 0.9},
                                    {"majority": 0.0}, {"modes": 4}, {"size": 8}, {"seed": -1}])
def test_invalid_configs_are_refused(change):
    config = SyntheticConfig(**change)
    assert config.problems()
    with pytest.raises(ValueError):
        synthetic.generate(config)


def test_class_names_are_the_shapes():
    assert synthetic.class_names(3) == ("disc", "square", "triangle")
