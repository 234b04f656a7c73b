"""A smoke cell through run(), the full-profile path (pre-trained generator and classifier loaded without
pickle, an image-folder target) on tiny files made here, the smoke table end to end, and bad input."""

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from common import cli
from common.config import ConfigError, resolve
from papers.pp_pssl import config as cfgmod
from papers.pp_pssl import data as D
from papers.pp_pssl.models import CVAE, SmallCNN, load_generator, load_state_dict_safely


def _data_available():
    try:
        from common.data import load_fashion_mnist, load_mnist

        load_fashion_mnist("test")
        load_mnist("test")
        return True
    except Exception:
        return False


needs_data = pytest.mark.skipif(not _data_available(), reason="Fashion-MNIST / MNIST not available")


@pytest.fixture
def roots(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("REPRO_PROGRESS", "0")
    return tmp_path


def _cfg(**cli_over):
    return resolve(cfgmod.Config, cfgmod, "smoke", cli=cli_over, cli_from_text=False)


@pytest.mark.data
@needs_data
def test_smoke_table_end_to_end(roots):
    report = cli.reproduce("pp_pssl", profile="smoke")
    assert not report.failed and len(report.ran) == 6
    out = roots / "results" / "pp_pssl" / "smoke"
    runs = pd.read_csv(out / "t1_accuracy_runs.csv", keep_default_na=False)
    acc = runs[runs.metric == "test_acc_pct"].set_index("method")["value"]
    assert set(acc.index) == {"scratch", "kd", "pp", "pssl", "pp_pssl", "finetune"}
    assert (acc > 10.0).all()  # better than chance after 20 steps on 20 labels
    n_l = runs[runs.metric == "n_labelled"]["value"].astype(float)
    assert (n_l == 20).all()
    mask = runs[runs.metric == "mask_rate_pct"]
    assert set(mask.method) == {"pssl", "pp_pssl"}
    assert (out / "f1_accuracy.png").is_file() and (out / "claims.csv").is_file()


def _tiny_folder(root, n_classes=3, per_class=4, size=12):
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for c in range(n_classes):
            d = root / split / f"class{c}"
            d.mkdir(parents=True)
            for i in range(per_class):
                Image.fromarray((rng.random((size, size)) * 255).astype(np.uint8)).save(d / f"{i}.png")


def test_image_folder_loader(tmp_path):
    _tiny_folder(tmp_path)
    x, y, classes = D.read_image_folder(tmp_path, "train", 8, channels=3)
    assert x.shape == (12, 3, 8, 8) and classes == ["class0", "class1", "class2"]
    assert list(np.bincount(y)) == [4, 4, 4] and 0 <= x.min() and x.max() <= 1
    split = D.load_target("imagefolder", 2, seed=0, root=str(tmp_path), size=8)
    assert len(split.y_l) == 6 and split.n_classes == 3 and len(split.y_test) == 12
    with pytest.raises(ConfigError, match="n_per_class=5"):
        D.load_target("imagefolder", 5, seed=0, root=str(tmp_path), size=8)


def test_full_path_with_pretrained_models_on_tiny_files(tmp_path, roots):
    """source=pretrained: the generator / classifier are built by factories and filled from safetensors and
    weights-only torch files; the target is an image folder; one P-SSL cell runs end to end."""
    from safetensors.torch import save_file

    from papers.pp_pssl.run import run

    _tiny_folder(tmp_path / "target")
    torch.manual_seed(0)
    save_file(CVAE().state_dict(), str(tmp_path / "gen.safetensors"))
    torch.save(SmallCNN().state_dict(), tmp_path / "clf.pt")
    g = load_generator("papers.pp_pssl.models:CVAE", tmp_path / "gen.safetensors")
    assert g.n_classes == 10 and g.z_dim == 16
    cfg = _cfg(source="pretrained", generator_factory="papers.pp_pssl.models:CVAE",
               generator_weights=str(tmp_path / "gen.safetensors"), classifier_factory="papers.pp_pssl.models:SmallCNN",
               classifier_weights=str(tmp_path / "clf.pt"), classifier_input_shape=(1, 28, 28),
               target="imagefolder", target_root=str(tmp_path / "target"), image_size=16, method="pp_pssl")
    rows = {r["metric"]: r["value"] for r in run(cfg)}
    assert rows["n_labelled"] == 6 and 0 <= rows["test_acc_pct"] <= 100 and 0 <= rows["mask_rate_pct"] <= 100


def test_unsafe_or_wrong_weights_are_refused(tmp_path):
    torch.save({"w": torch.zeros(2), "meta": {"a": 1}}, tmp_path / "nested.pt")
    with pytest.raises(ConfigError, match="flat state dict"):
        load_state_dict_safely(tmp_path / "nested.pt")
    with pytest.raises(ConfigError, match="not found"):
        load_state_dict_safely(tmp_path / "absent.pt")
    torch.save(SmallCNN().state_dict(), tmp_path / "clf.pt")
    with pytest.raises(ConfigError, match="lacks n_classes"):
        load_generator("papers.pp_pssl.models:SmallCNN", tmp_path / "clf.pt")
    with pytest.raises(ConfigError, match="package.module:function"):
        load_generator("no_colon", tmp_path / "clf.pt")


@pytest.mark.parametrize("over, match", [
    ({"methd": "pp"}, "methd"),
    ({"method": "finetune", "arch": "mlp"}, "architectures match"),
    ({"tau": 1.5}, "tau"),
])
def test_bad_config_is_one_clear_error(over, match):
    with pytest.raises(ConfigError, match=match):
        _cfg(**over)


def test_pretrained_source_without_weights_is_a_config_error(roots):
    from papers.pp_pssl.run import run

    with pytest.raises(ConfigError, match="generator_factory"):
        run(_cfg(source="pretrained"))


@needs_data
def test_too_many_labels_is_a_config_error(roots):
    from papers.pp_pssl.run import run

    with pytest.raises(ConfigError, match="n_per_class=1000"):
        run(_cfg(n_per_class=1000))
    assert not (roots / "runs").exists() or not any((roots / "runs").rglob("done"))
