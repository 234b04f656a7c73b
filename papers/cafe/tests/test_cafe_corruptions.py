"""The 15 corruptions: shapes, dtypes, that they corrupt, that severity orders the damage."""

import numpy as np
import pytest

from papers.cafe.corruptions import CORRUPTIONS, corrupt, corrupt_batch


def _images(n=4):
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:32, 0:32]
    base = np.stack([(xx * 8) % 256, (yy * 8) % 256, ((xx + yy) * 4) % 256], -1).astype(np.uint8)
    return np.stack([np.clip(base.astype(int) + rng.integers(-20, 20, base.shape), 0, 255).astype(np.uint8)
                     for _ in range(n)])


def test_there_are_the_15_standard_corruptions():
    assert len(CORRUPTIONS) == 15 and len(set(CORRUPTIONS)) == 15
    assert {"gaussian_noise", "glass_blur", "frost", "elastic_transform", "jpeg_compression"} <= set(CORRUPTIONS)


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_each_corruption_changes_the_image_and_keeps_format(name):
    x = _images(2)
    y = corrupt_batch(x, name, 5, np.random.default_rng(1))
    assert y.shape == x.shape and y.dtype == np.uint8
    assert np.abs(y.astype(float) - x).mean() > 1.0


@pytest.mark.parametrize("name", ["gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "contrast",
                                  "pixelate", "jpeg_compression", "zoom_blur", "brightness"])
def test_severity_orders_the_damage(name):
    x = _images(4)
    dmg = [np.abs(corrupt_batch(x, name, s, np.random.default_rng(2)).astype(float) - x).mean() for s in (1, 3, 5)]
    assert dmg[0] < dmg[1] < dmg[2], dmg


def test_seeded_corruptions_are_reproducible():
    x = _images(2)
    a = corrupt_batch(x, "gaussian_noise", 3, np.random.default_rng(5))
    b = corrupt_batch(x, "gaussian_noise", 3, np.random.default_rng(5))
    assert np.array_equal(a, b)


def test_bad_corruption_inputs_fail_clearly():
    x = _images(1)[0]
    with pytest.raises(ValueError, match="unknown corruption"):
        corrupt(x, "rain", 1, np.random.default_rng(0))
    with pytest.raises(ValueError, match="severity"):
        corrupt(x, "fog", 6, np.random.default_rng(0))
    with pytest.raises(ValueError, match="32, 32, 3"):
        corrupt(x[:28, :28], "fog", 1, np.random.default_rng(0))
