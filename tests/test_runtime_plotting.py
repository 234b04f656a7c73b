"""Seeding, device choice, threads; the plotting helpers draw what the data says."""

import random

import numpy as np
import pandas as pd
import pytest
import torch

from common import plotting, runtime


def _draws():
    return random.random(), float(np.random.rand()), float(torch.rand(1))


def test_seed_everything_seeds_all_generators():
    runtime.seed_everything(5)
    a = _draws()
    runtime.seed_everything(5)
    assert _draws() == a
    runtime.seed_everything(6)
    assert _draws() != a


def test_device_auto_and_errors():
    dev = runtime.resolve_device("auto")
    assert dev.type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            runtime.resolve_device("cuda")


def test_set_threads(monkeypatch):
    before = torch.get_num_threads()
    try:
        assert runtime.set_threads(1) == 1 and torch.get_num_threads() == 1
        monkeypatch.setenv("REPRO_THREADS", "2")
        assert runtime.set_threads(0) == 2
    finally:
        torch.set_num_threads(before)


def test_line_with_bands_plots_mean_and_band(tmp_path):
    import matplotlib.pyplot as plt

    df = pd.DataFrame({"method": ["a"] * 6 + ["b"] * 6, "n": [1, 1, 1, 2, 2, 2] * 2,
                       "seed": [0, 1, 2] * 4, "time_s": [1, 2, 3, 4, 5, 6, 2, 2, 2, 3, 3, 3]})
    fig, ax = plt.subplots()
    plotting.line_with_bands(df, "n", "time_s", "method", tmp_path / "x.png", ax=ax)
    lines = {ln.get_label(): ln.get_ydata().tolist() for ln in ax.get_lines()}
    assert lines == {"a": [2.0, 5.0], "b": [2.0, 3.0]}
    plt.close(fig)
    out = plotting.line_with_bands(df, "n", "time_s", "method", tmp_path / "y.png", logx=True)
    assert out.is_file() and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_log_x_axis_has_plain_ticks_at_the_measured_values_and_long_titles_wrap():
    import matplotlib.pyplot as plt
    import pandas as pd

    from common.plotting import line_with_bands

    df = pd.DataFrame([{"n": n, "acc": 50 + n + s, "method": m, "seed": s} for n in (2, 5, 10) for s in (0, 1)
                       for m in ("a", "b")])
    fig, ax = plt.subplots()
    line_with_bands(df, x="n", y="acc", hue="method", path=None, logx=True, ax=ax,
                    title="a rather long title that would not fit the width of one small panel")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2", "5", "10"]
    assert "\n" in ax.get_title()
    plt.close(fig)
