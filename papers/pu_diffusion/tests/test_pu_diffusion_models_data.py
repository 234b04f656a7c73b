"""UNet and judge shapes/conditioning, data loaders on tiny files of the official formats, the PU split."""

import numpy as np
import pytest
import torch

from common.data import DataMissingError
from papers.pu_diffusion.data import (
    load_images,
    make_pu_split,
    normal_test_indices,
    read_stl10_binary,
    to_model_space,
)
from papers.pu_diffusion.models import JudgeCNN, build_unet, load_pretrained


@pytest.mark.parametrize("chs,attn,size", [((8, 16), (1,), 8), ((8, 8, 16, 16), (2,), 16)])
def test_unet_shapes_and_time_conditioning(chs, attn, size):
    torch.manual_seed(0)
    net = build_unet(3, size, chs, layers_per_block=2, attn_levels=attn, norm_groups=4)
    x = torch.randn(2, 3, size, size)
    a, b = net(x, torch.tensor([0, 0])).sample, net(x, torch.tensor([900, 900])).sample
    assert a.shape == x.shape and torch.isfinite(a).all()
    assert (a - b).abs().max() > 1e-4           # the time step changes the output


def test_unet_paper_config_builds_at_32px():
    """The official configuration: Down/Down/AttnDown/Down, Up/AttnUp/Up/Up, (128, 128, 256, 512)."""
    net = build_unet(3, 32, (128, 128, 256, 512), 2, (2,), 32)
    assert net.config.down_block_types == ("DownBlock2D", "DownBlock2D", "AttnDownBlock2D", "DownBlock2D")
    assert net.config.up_block_types == ("UpBlock2D", "AttnUpBlock2D", "UpBlock2D", "UpBlock2D")
    n = sum(p.numel() for p in net.parameters())
    assert 30e6 < n < 130e6                       # tens of millions of parameters
    with pytest.raises(ValueError, match="divisible"):
        build_unet(3, 32, (12, 24), 1, (), 8)


def test_pretrained_pipeline_loads_from_a_local_folder(tmp_path):
    """The fine-tuning path (official main_ft.py) on a tiny pipeline saved here: no download."""
    from diffusers import DDPMPipeline, DDPMScheduler

    torch.manual_seed(0)
    unet = build_unet(3, 8, (8, 16), 1, (), 4)
    DDPMPipeline(unet=unet, scheduler=DDPMScheduler(num_train_timesteps=50)).save_pretrained(tmp_path / "pipe")
    loaded, sched = load_pretrained(str(tmp_path / "pipe"))
    x, t = torch.randn(2, 3, 8, 8), torch.tensor([3, 40])
    assert torch.equal(loaded(x, t).sample, unet(x, t).sample)
    assert sched.config.num_train_timesteps == 50 and sched.config.beta_schedule == "linear"


def test_judge_cnn_shapes():
    net = JudgeCNN(1)
    x = torch.randn(5, 1, 16, 16)
    assert net(x).shape == (5, 10) and net.features(x).shape == (5, 128)


def test_cifar10_through_common_reader(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    folder = tmp_path / "cifar10" / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    imgs = {}
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        lab = rng.integers(0, 10, 3).astype(np.uint8)
        pix = rng.integers(0, 256, (3, 3, 32, 32)).astype(np.uint8)    # (N, C, H, W) as stored
        np.concatenate([lab[:, None], pix.reshape(3, -1)], 1).tofile(folder / name)
        imgs[name] = (lab, pix)
    monkeypatch.setenv("REPRO_DATA", str(tmp_path))
    x, y, name = load_images("cifar10", "train")
    assert name == "cifar10" and x.shape == (15, 32, 32, 3) and y.shape == (15,)
    lab, pix = imgs["data_batch_2.bin"]
    assert (y[3:6] == lab).all() and (x[4, 5, 7, :] == pix[1, :, 5, 7]).all()
    x, y, _ = load_images("cifar10", "test")
    assert x.shape == (3, 32, 32, 3)


def test_stl10_binary_reader_and_load_images(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    folder = tmp_path / "stl10" / "stl10_binary"
    folder.mkdir(parents=True)
    hwc = rng.integers(0, 256, (2, 96, 96, 3)).astype(np.uint8)
    # STL-10 stores each channel column-major: X[n, c, w, h] in C order
    hwc.transpose(0, 3, 2, 1).tofile(folder / "train_X.bin")
    np.array([1, 10], dtype=np.uint8).tofile(folder / "train_y.bin")
    x, y = read_stl10_binary(folder, "train")
    assert (x == hwc).all() and list(y) == [0, 9]
    monkeypatch.setenv("REPRO_DATA", str(tmp_path))
    monkeypatch.setenv("REPRO_OFFLINE", "1")
    x2, y2, name = load_images("stl10", "train")
    assert name == "stl10" and (x2 == hwc).all()
    with pytest.raises(DataMissingError, match="stl10_binary/test_X.bin|test_X.bin"):
        load_images("stl10", "test")
    with pytest.raises(DataMissingError, match="(?s)cifar-10-binary.*REPRO_OFFLINE=1"):
        load_images("cifar10", "train")


def test_to_model_space_range_and_channels():
    x = np.array([[[0, 255], [128, 64]]], dtype=np.uint8)
    t = to_model_space(x, 2, 3)
    assert t.shape == (1, 3, 2, 2) and t.min().item() == -1.0 and t.max().item() == 1.0
    assert torch.equal(t[:, 0], t[:, 2])
    assert to_model_space(np.zeros((4, 28, 28), np.uint8), 32, 1).shape == (4, 1, 32, 32)


def test_pu_split_counts_and_labels():
    y = np.repeat(np.arange(10), 100)
    s = make_pu_split(y, (0, 2, 4, 6, 8), 250, 25, 25, seed=0)
    assert len(s.index) == 300 and len(set(s.index.tolist())) == 300
    assert s.label.sum() == 25 and (s.is_sensitive[s.label == 1]).all()
    unl = s.index[s.label == 0]
    assert np.isin(y[unl], (1, 3, 5, 7, 9)).sum() == 25 and len(unl) == 275
    assert (s.is_sensitive == np.isin(y[s.index], (1, 3, 5, 7, 9))).all()
    assert not np.array_equal(make_pu_split(y, (0, 2, 4, 6, 8), 250, 25, 25, 1).index, s.index)
    with pytest.raises(ValueError, match="only 500 normal"):
        make_pu_split(y, (0, 2, 4, 6, 8), 501, 25, 25, 0)
    with pytest.raises(ValueError, match="sensitive images"):
        make_pu_split(y, (0, 2, 4, 6, 8), 10, 300, 201, 0)
    assert list(normal_test_indices(y, (1,), 3)) == [100, 101, 102]


def _write_idx_gz(path, arr):
    import gzip
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    path.write_bytes(gzip.compress(header + arr.astype(np.uint8).tobytes()))


def test_mnist_idx_loader_on_tiny_files(tmp_path, monkeypatch):
    from common.data import load_mnist
    folder = tmp_path / "mnist"
    folder.mkdir()
    rng = np.random.default_rng(2)
    imgs = {s: rng.integers(0, 256, (n, 28, 28)) for s, n in (("train", 20), ("t10k", 10))}
    for prefix, arr in imgs.items():
        _write_idx_gz(folder / f"{prefix}-images-idx3-ubyte.gz", arr)
        _write_idx_gz(folder / f"{prefix}-labels-idx1-ubyte.gz", np.arange(len(arr)) % 10)
    monkeypatch.setenv("REPRO_DATA", str(tmp_path))
    load_mnist.cache_clear()
    try:
        x, y, name = load_images("mnist", "train")
        assert name == "mnist" and x.shape == (20, 28, 28) and (x == imgs["train"]).all()
        assert list(y[:3]) == [0, 1, 2]
        t = to_model_space(x, 32, 3)                # the official MNIST pipeline: 32 px, 3 channels
        assert t.shape == (20, 3, 32, 32)
        split = make_pu_split(y, (0, 2, 4, 6, 8), 8, 1, 1, seed=0)
        assert split.label.sum() == 1 and len(split.index) == 10
    finally:
        load_mnist.cache_clear()
