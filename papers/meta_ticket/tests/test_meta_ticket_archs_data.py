"""ResNet-12 / WRN-28-k (official variants), their masked Meta-ticket version, the cross-domain loaders on
tiny files of the official layouts, the CIFAR-10 / MNIST quick stand-ins and a cross-domain smoke cell."""

import io
import json
import zipfile
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from common.data import DataMissingError
from papers.meta_ticket import data as D
from papers.meta_ticket.config import QUICK, SMOKE, Config
from papers.meta_ticket.method import MetaTicket
from papers.meta_ticket.models import WRN28, ResNet12, prunable_weight_names
from papers.meta_ticket.run import build_learner, run


def _n_params(model):
    return sum(p.numel() for p in model.parameters())


def test_resnet12_parameter_count_matches_the_boil_definition():
    # BOIL ResNet-12 (channels 64-128-256-512): per block 3x3 convs cin->c, c->c, c->c (no bias), 1x1 shortcut,
    # 4 affine BatchNorms (bn1-3 and the shortcut's), then a 512 -> 5 linear classifier.
    expected, c_in = 0, 3
    for c in (64, 128, 256, 512):
        expected += 9 * c_in * c + 2 * 9 * c * c + c_in * c + 4 * 2 * c
        c_in = c
    expected += 512 * 5 + 5
    assert expected == 7_999_365
    assert _n_params(ResNet12((3, 84, 84), 5)) == expected


def test_wrn28_10_has_the_standard_parameter_count():
    # Zagoruyko & Komodakis: WRN-28-10 on CIFAR-10 has 36,479,194 parameters (convs without bias). The
    # official (learn2learn) version adds conv biases: 16 + 4*2*160 + 160 + 4*2*320 + 320 + 4*2*640 + 640 = 10,096.
    model = WRN28((3, 32, 32), 10, widen_factor=10)
    conv_bias = sum(p.numel() for n, p in model.named_parameters()
                    if n.endswith(".bias") and ("conv" in n or "shortcut" in n))
    assert conv_bias == 10_096
    assert sum(p.numel() for p in model.parameters()) - conv_bias == 36_479_194


@pytest.mark.parametrize("size", [32, 84])
def test_resnet12_forward_shapes_and_features(size):
    torch.manual_seed(0)
    r = ResNet12((3, size, size), 5, width_factor=0.125)
    out, feats = r(torch.randn(4, 3 * size * size), return_features=True)
    assert out.shape == (4, 5) and len(feats) == 4
    assert feats[-1].shape == (4, 64 * (size // 16) ** 2)                 # 4 max-pools of 2


def test_wrn28_forward_shapes_and_features():
    torch.manual_seed(0)
    w = WRN28((3, 32, 32), 7, widen_factor=1)
    out, feats = w(torch.randn(3, 3 * 32 * 32), return_features=True)
    assert out.shape == (3, 7) and len(feats) == 3
    assert [f.shape[1] for f in feats] == [16 * 32 * 32, 32 * 16 * 16, 64 * 8 * 8]   # strides 1, 2, 2


def test_prunable_weights_are_the_official_non_ignored_params():
    r = ResNet12((3, 32, 32), 5, width_factor=0.125)
    names = prunable_weight_names(r)
    assert len(names) == 16 and all(n.endswith(".weight") for n in names)   # 4 blocks x (3 convs + shortcut conv)
    assert not any(n.startswith("classifier") or ".bn" in n or "downsample.1" in n for n in names)
    w = WRN28((3, 32, 32), 5, widen_factor=2)
    names = prunable_weight_names(w)
    assert len(names) == 1 + 12 * 2 + 3 and "conv1.weight" in names        # stem, 12 blocks x 2, 3 shortcuts
    assert len(prunable_weight_names(WRN28((3, 32, 32), 5, widen_factor=1))) == 27   # k=1: 16 -> 16, no 1st shortcut
    assert not any("bn" in n or n.startswith("classifier") for n in names)


@pytest.mark.parametrize("arch", ["resnet12", "wrn28"])
def test_all_ones_mask_equals_the_dense_cnn_and_pruning_changes_it(arch):
    torch.manual_seed(0)
    model = ResNet12((3, 16, 16), 5, 0.125) if arch == "resnet12" else WRN28((3, 16, 16), 5, 1)
    mt = MetaTicket(model, prunable_weight_names(model), init_sparsity=0.0, generator=torch.Generator().manual_seed(1))
    assert all(bool(m.all()) for m in mt.masks().values())
    params, forward = mt.initial()
    x = torch.randn(6, 3 * 16 * 16)
    dense = torch.func.functional_call(model, mt.weights, (x,))
    assert torch.allclose(forward(params, x), dense, atol=1e-6)
    first = prunable_weight_names(model)[0]
    with torch.no_grad():
        mt.scores[first][:2] = -100.0                                        # prune two output channels' weights
    params, forward = mt.initial()
    assert not torch.allclose(forward(params, x), dense, atol=1e-4)


def test_meta_ticket_boil_does_not_adapt_the_classifier():
    cfg = replace(Config(), method="meta_ticket_boil", arch="resnet12", width_factor=0.125)
    learner = build_learner(cfg, ResNet12((3, 16, 16), 5, 0.125), torch.Generator().manual_seed(0))
    assert learner.adapt_keys and not any(k.startswith("classifier") for k in learner.adapt_keys)
    assert any(k.startswith("layer1.conv1") for k in learner.adapt_keys)
    plain = build_learner(replace(cfg, method="meta_ticket"), ResNet12((3, 16, 16), 5, 0.125), torch.Generator())
    assert "classifier.weight" in plain.adapt_keys


# --------------------------------------------------------------------------------------
# Loaders on tiny files of the official layouts.


def _jpg(path, w=20, h=14, value=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = (np.random.default_rng(abs(hash(str(path))) % 2**32).random((h, w, 3)) * 255).astype(np.uint8)
    if value is not None:
        arr[:] = value
    Image.fromarray(arr).save(path, "JPEG", quality=95)


def _splits(root, splits):
    (root / "splits").mkdir(parents=True, exist_ok=True)
    for k, v in splits.items():
        (root / "splits" / f"{k}.json").write_text(json.dumps(v))


def test_cub_loader_on_tiny_official_layout(tmp_path, monkeypatch):
    root = tmp_path / "cub"
    for cls in ("001.Black_footed_Albatross", "002.Laysan_Albatross", "003.Sooty_Albatross"):
        for i in range(2):
            _jpg(root / "CUB_200_2011" / "images" / cls / f"{cls}_{i}.jpg", w=40, h=30)
    _splits(root, {"train": ["001.Black_footed_Albatross"], "test": ["002.Laysan_Albatross", "003.Sooty_Albatross"]})
    monkeypatch.setenv("REPRO_DATA", str(tmp_path))
    te = D.load_cub("test", size=12, offset=7)
    assert te.x.shape == (4, 3 * 12 * 12) and te.image_shape == (3, 12, 12)
    assert sorted(set(te.y.tolist())) == [7, 8] and te.groups == ["002.Laysan_Albatross", "003.Sooty_Albatross"]
    assert 0.0 <= float(te.x.min()) and float(te.x.max()) <= 1.0


def test_cars_loader_crops_the_bounding_box(tmp_path, monkeypatch):
    from scipy.io import savemat

    root = tmp_path / "cars"
    _jpg(root / "cars_train" / "00001.jpg", w=40, h=30, value=0)
    img = np.zeros((30, 40, 3), np.uint8)
    img[5:15, 10:30] = 255                                                   # the car: a white box
    Image.fromarray(img).save(root / "cars_train" / "00002.jpg", "JPEG", quality=100)
    _jpg(root / "cars_train" / "00003.jpg", w=40, h=30)
    dt = [("bbox_x1", "O"), ("bbox_y1", "O"), ("bbox_x2", "O"), ("bbox_y2", "O"), ("class", "O"), ("fname", "O")]
    annos = np.zeros((1, 3), dtype=dt)
    for j, (box, c, f) in enumerate([((0, 0, 40, 30), 1, "00001.jpg"), ((10, 5, 30, 15), 2, "00002.jpg"),
                                     ((0, 0, 20, 20), 2, "00003.jpg")]):
        annos[0, j] = (np.array([[box[0]]]), np.array([[box[1]]]), np.array([[box[2]]]), np.array([[box[3]]]),
                       np.array([[c]]), np.array([f]))
    (root / "devkit").mkdir(parents=True)
    savemat(root / "devkit" / "cars_train_annos.mat", {"annotations": annos})
    names = np.empty((1, 2), dtype=object)
    names[0, 0], names[0, 1] = np.array(["AM General Hummer SUV 2000"]), np.array(["Acura RL Sedan 2012"])
    savemat(root / "devkit" / "cars_meta.mat", {"class_names": names})
    _splits(root, {"test": ["AM General Hummer SUV 2000", "Acura RL Sedan 2012"]})
    monkeypatch.setenv("REPRO_DATA", str(tmp_path))
    te = D.load_cars("test", size=8)
    assert te.x.shape == (3, 3 * 8 * 8) and te.y.tolist() == [0, 1, 1]
    assert float(te.x[1].min()) > 0.9                                        # cropped to the white box only


def test_aircraft_loader_on_tiny_official_layout(tmp_path, monkeypatch):
    d = tmp_path / "aircraft" / "fgvc-aircraft-2013b" / "data"
    for n in ("0001", "0002", "0003"):
        _jpg(d / "images" / f"{n}.jpg", w=30, h=20)
    (d / "images_box.txt").write_text("0001 0 0 29 19\n0002 5 5 25 15\n0003 1 1 10 10\n")
    (d / "images_variant_trainval.txt").write_text("0001 737-400\n0002 A300B4\n")
    (d / "images_variant_test.txt").write_text("0003 737-400\n")
    _splits(tmp_path / "aircraft", {"test": ["737-400", "A300B4"]})
    monkeypatch.setenv("REPRO_DATA", str(tmp_path))
    te = D.load_aircraft("test")
    assert te.x.shape == (3, 3 * 32 * 32) and sorted(te.y.tolist()) == [0, 0, 1]   # trainval + test files pooled


def test_vgg_flower_loader_on_tiny_official_layout(tmp_path, monkeypatch):
    from scipy.io import savemat

    root = tmp_path / "vgg_flower"
    for i in range(5):
        _jpg(root / "jpg" / f"image_{i + 1:05d}.jpg")
    savemat(root / "imagelabels.mat", {"labels": np.array([[3, 10, 3, 77, 10]])})
    _splits(root, {"train": ["077.passion flower"], "test": ["003.canterbury bells", "010.globe thistle"]})
    monkeypatch.setenv("REPRO_DATA", str(tmp_path))
    tr, te = D.load_image_meta("vgg_flower")
    assert tr.x.shape == (1, 3 * 32 * 32) and te.x.shape == (4, 3 * 32 * 32)
    assert set(tr.classes.tolist()).isdisjoint(te.classes.tolist())
    assert np.bincount(te.y - te.y.min()).tolist() == [2, 2]


def test_missing_cross_domain_split_file_is_one_clear_error(tmp_path, monkeypatch):
    (tmp_path / "cub" / "CUB_200_2011" / "images").mkdir(parents=True)
    monkeypatch.setenv("REPRO_DATA", str(tmp_path))
    with pytest.raises(DataMissingError, match="splits"):
        D.load_cub("test")
    monkeypatch.setenv("REPRO_DATA", str(tmp_path / "nothing"))
    with pytest.raises(DataMissingError, match="Aircraft"):
        D.load_aircraft("test")


def _tiny_cifar10_zips(folder, per_class=3):
    folder.mkdir(parents=True, exist_ok=True)
    for split, zname in (("train", "cifar10_train_5000_jpg.zip"), ("test", "cifar10_test_10000_jpg.zip")):
        with zipfile.ZipFile(folder / zname, "w") as z:
            for c, cls in enumerate(D.CIFAR10_CLASSES):
                for i in range(per_class):
                    buf = io.BytesIO()
                    Image.fromarray(np.full((32, 32, 3), 20 * c, np.uint8)).save(buf, "JPEG")
                    z.writestr(f"{split}/{cls}/{i:04d}.jpg", buf.getvalue())


def test_cifar10_stand_in_uses_disjoint_classes(tmp_path, monkeypatch):
    _tiny_cifar10_zips(tmp_path / "cifar10_subset")
    monkeypatch.setenv("REPRO_DATA", str(tmp_path))
    tr, te = D.load_image_meta("cifar10_subset")
    assert tr.groups == D.CIFAR10_CLASSES[:5] and te.groups == D.CIFAR10_CLASSES[5:]
    assert set(tr.classes.tolist()).isdisjoint(te.classes.tolist()) and tr.x.shape == (15, 3072)
    assert float(te.x[0].mean()) == pytest.approx(100 / 255, abs=0.02)     # dog (class 5): pixel value 100


def test_mnist32_is_padded_rgb_digits(monkeypatch):
    import common.data
    from common.data.images import ArrayDataset

    digits = np.full((20, 28, 28), 255, np.uint8)
    fake = ArrayDataset(digits, np.repeat(np.arange(10), 2), "mnist_fake", "test", [str(i) for i in range(10)])
    monkeypatch.setattr(common.data, "load_mnist", lambda split="test": fake)
    m = D.load_mnist32(offset=3)
    assert m.image_shape == (3, 32, 32) and len(m.classes) == 10 and int(m.y.min()) == 3
    img = m.x[0].reshape(3, 32, 32)
    assert torch.equal(img[0], img[1]) and float(img[:, :2].abs().sum()) == 0.0   # grey replicated, zero border
    assert float(img[:, 2:30, 2:30].min()) == 1.0                                 # pixels scaled to [0, 1]


def test_cross_domain_cnn_smoke_cell(tmp_path, monkeypatch):
    # meta-train on a tiny CIFAR-10 layout, meta-test on a tiny CIFAR-FS layout (both 32x32 RGB)
    _tiny_cifar10_zips(tmp_path / "cifar10_subset", per_class=4)
    root = tmp_path / "CIFAR-FS" / "cifar100"
    for split, names in (("train", ["apple"]), ("val", ["cup"]), ("test", ["dog", "eel", "fox", "gnu", "hen"])):
        (root / "splits" / "bertinetto").mkdir(parents=True, exist_ok=True)
        (root / "splits" / "bertinetto" / f"{split}.txt").write_text("\n".join(names) + "\n")
        for n in names:
            for i in range(2):
                _jpg(root / "data" / n / f"{n}_{i}.png", w=32, h=32)
    monkeypatch.setenv("REPRO_DATA", str(tmp_path))
    cfg = replace(Config(), **{**QUICK, **SMOKE, "dataset": "cifar10_subset", "eval_dataset": "cifarfs",
                               "arch": "resnet12", "width_factor": 0.125, "inner_lr": 0.3, "test_steps": 1,
                               "iterations": 2, "eval_episodes": 3, "feature_episodes": 1, "threads": 1})
    (tmp_path / "cell").mkdir()
    rows = run(cfg, workdir=tmp_path / "cell")
    by = {r["metric"]: r for r in rows}
    assert all(r["dataset"] == "cifar10_subset->cifarfs" for r in rows)
    assert 0.0 <= by["test_acc_pct"]["value"] <= 100.0 and by["test_acc_pct"]["n"] == 3
    assert by["n_params"]["value"] == sum(p.numel() for p in ResNet12((3, 32, 32), 5, 0.125).parameters())
    assert {"feature_cka_l1", "feature_cka_l4", "sparsity_pct"} <= set(by)


def test_impossible_architecture_settings_fail_at_once():
    with pytest.raises(ValueError, match="wrn_widen"):
        replace(Config(), arch="wrn28", width_factor=2.0).validate()
    with pytest.raises(ValueError, match="eval_dataset"):
        replace(Config(), eval_dataset="imagenet").validate()
    with pytest.raises(ValueError, match="sinusoid"):
        replace(Config(), dataset="sinusoid", arch="resnet12").validate()


def test_full_profiles_of_the_new_tables_carry_the_official_settings():
    from common import sweep as S

    paper = S.load_paper("meta_ticket")
    cfg = {(c.table, c.values.get("method"), c.values.get("dataset"), c.values.get("eval_dataset"), c.values.get("arch"),
            c.values.get("wrn_widen"), c.values.get("k_shot")): c.config
           for t in ("x_miniimagenet_resnet12", "x_miniimagenet_wrn28", "x_cross_domain_cnn", "x_cross_domain_mlp")
           for c in S.expand_table(paper, t, "full") if c.values["seed"] == 1}
    maml6 = cfg[("x_miniimagenet_resnet12", "maml", None, None, None, None, 1)]
    assert (maml6.dataset, maml6.arch, maml6.outer_lr, maml6.inner_lr, maml6.iterations) == ("miniimagenet", "resnet12",
                                                                                            0.0006, 0.3, 30000)
    tick7 = cfg[("x_miniimagenet_wrn28", "meta_ticket", None, None, None, 10, None)]
    assert (tick7.arch, tick7.wrn_widen, tick7.k_shot, tick7.outer_lr, tick7.warmup_iters) == ("wrn28", 10, 5, 0.0, 1000)
    cross = cfg[("x_cross_domain_cnn", "meta_ticket_boil", None, "cars", "wrn28", 10, None)]
    assert (cross.dataset, cross.eval_dataset, cross.k_shot) == ("miniimagenet", "cars", 5)
    assert cfg[("x_cross_domain_mlp", "maml", "cifarfs", "aircraft", None, None, None)].outer_lr == 0.0001
    assert cfg[("x_cross_domain_mlp", "maml", "vgg_flower", "cifarfs", None, None, None)].outer_lr == 0.0
