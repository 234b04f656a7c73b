"""This paper's data: few-shot image sets (Omniglot, CIFAR-FS, miniImageNet) and sinusoid tasks.

* Omniglot (official code: torchmeta ``Omniglot``, Resize(28), ToTensor, rotations by 90/180/270 degrees as new classes
  in every split; pixels: background 1, ink 0). Quick (``omniglot_small``): meta-train = ``background_small1`` (5
  alphabets, 136 characters), meta-test = ``background_small2`` minus Greek and Latin (in both zips): Japanese
  (katakana), Sanskrit, Tagalog, 106 characters. Full (``omniglot``): ``images_background`` (30 alphabets, 964
  characters) / ``images_evaluation`` (20 alphabets, 659 characters).
* CIFAR-FS (Bertinetto et al. 2019): ``CIFAR-FS/cifar100/data/<class>/*.png`` + ``splits/bertinetto/*.txt``, 32x32.
* miniImageNet (Ravi & Larochelle): ``mini-imagenet/images/*.jpg`` + ``mini-imagenet/{train,val,test}.csv``, 84x84 RGB.
* Cross-domain meta-test sets (original downloads; official class splits in ``<root>/splits/*.json``; crops as the
  official helpers): CUB-200-2011 (``cub/CUB_200_2011/images/``, Resize(126) + CenterCrop(84)); Stanford Cars
  (``cars/``, box crop, 84x84); FGVC-Aircraft (``aircraft/fgvc-aircraft-2013b/data/``, box crop, 32x32); VGG-Flower
  102 (``vgg_flower/jpg/`` + ``imagelabels.mat``, split names ``"NNN.name"``, 32x32).
* Quick stand-ins (stated in the README): ``cifar10_subset`` (real CIFAR-10 32x32 images; meta-train airplane,
  automobile, bird, cat, deer, 500 train images each; meta-test dog, frog, horse, ship, truck, 1000 test images each);
  ``mnist32`` (MNIST test images padded to 32x32, 3 channels; a cross-domain meta-test set).
* Sinusoid regression (Finn et al. 2017; official ``utils/sinusoid.py``): amplitude U[0.1, 5], phase U[0, pi], inputs
  U[-5, 5]; ``2 x shots`` points per task, even points support, odd query.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from common.data import CIFAR10_CLASSES, DataFormatError, DataMissingError, find_dir, load_omniglot, reading
from common.data import load_cifar10_subset as _load_cifar10_subset
from common.data.core import register_dataset, uses
from common.meta.episodes import EpisodeSampler


@dataclass
class ImageSplit:
    """Flattened images of one meta-split and their (globally unique) class labels."""

    x: torch.Tensor          # (N, D) float32
    y: np.ndarray            # (N,) int64, class ids unique across splits
    groups: list[str]        # per class id present: group name (alphabet), aligned with np.unique(y)
    name: str
    image_shape: tuple[int, ...]

    @property
    def classes(self) -> np.ndarray:
        return np.unique(self.y)


def rotation_augment(images: np.ndarray, labels: np.ndarray, angles=(0, 90, 180, 270)) -> tuple[np.ndarray, np.ndarray]:
    """Rotations as new classes: class c at angle index r gets label c * len(angles) + r."""
    xs, ys = [], []
    for r, angle in enumerate(angles):
        if angle % 90:
            raise ValueError(f"only multiples of 90 degrees are supported, got {angle}")
        xs.append(np.rot90(images, k=angle // 90, axes=(1, 2)))
        ys.append(labels * len(angles) + r)
    return np.concatenate(xs), np.concatenate(ys)


def _omniglot_split(subset: str, size: int, rotations: bool, offset: int) -> ImageSplit:
    ds = load_omniglot(subset, size)
    images = 1.0 - ds.x                      # ToTensor of the PNG: background 1, ink 0 (official)
    labels = ds.y.astype(np.int64)
    alphabets = [c.split("/")[0] for c in ds.classes]
    n_rot = 4 if rotations else 1
    if rotations:
        images, labels = rotation_augment(images, labels)
    groups = [alphabets[c // n_rot] for c in range(len(ds.classes) * n_rot)]
    return ImageSplit(torch.from_numpy(np.ascontiguousarray(images.reshape(len(images), -1))).float(),
                      labels + offset, groups, ds.name, (1, size, size))


def load_omniglot_meta(full: bool, size: int = 28, rotations: bool = True) -> tuple[ImageSplit, ImageSplit]:
    """(meta-train, meta-test) Omniglot splits with disjoint alphabets and class ids."""
    train_subset, test_subset = ("background", "evaluation") if full else ("background_small1", "background_small2")
    train = _omniglot_split(train_subset, size, rotations, 0)
    test = _omniglot_split(test_subset, size, rotations, int(train.y.max()) + 1)
    shared = set(train.groups) & set(test.groups)
    if shared:
        # The minimal splits overlap: Greek and Latin are in both small1 and small2 (identical files).
        # Keep them in meta-train only, so meta-test alphabets (and characters) are unseen.
        test = _drop_groups(test, shared, int(train.y.max()) + 1)
    return train, test


def _drop_groups(split: ImageSplit, groups: set[str], offset: int) -> ImageSplit:
    classes = split.classes
    keep_classes = [c for i, c in enumerate(classes) if split.groups[i] not in groups]
    remap = {int(c): offset + j for j, c in enumerate(keep_classes)}
    keep = np.isin(split.y, keep_classes)
    y = np.asarray([remap[int(c)] for c in split.y[keep]], dtype=np.int64)
    new_groups = [split.groups[i] for i, c in enumerate(classes) if split.groups[i] not in groups]
    return ImageSplit(split.x[torch.from_numpy(keep)], y, new_groups, split.name + "_minus_" + "_".join(sorted(groups)),
                      split.image_shape)


def _find_root(folder_names: list[str], marker: str, how: str, dataset: str) -> Path:
    """First ``<root>/<folder>`` (common search roots) that holds ``marker``."""
    return find_dir(dataset, folder_names, marker, how)


def _read_image(path: Path, size: int) -> np.ndarray:
    from PIL import Image

    with reading(path, "image"):
        img = Image.open(path).convert("RGB")
    if img.size != (size, size):
        img = img.resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(img, dtype=np.float32).transpose(2, 0, 1) / 255.0


CIFARFS_HOW = ("download CIFAR-FS (Bertinetto et al. 2019; e.g. the official scripts of "
               "github.com/bertinetto/r2d2 or the meta-ticket repo's scripts/download_cifarfs.sh) and place it as "
               "$REPRO_DATA/CIFAR-FS/cifar100/{data/<class>/*.png, splits/bertinetto/{train,val,test}.txt}")


def load_cifarfs(split: str, size: int = 32, offset: int = 0, root: Path | None = None) -> ImageSplit:
    if split not in ("train", "val", "test"):
        raise ValueError(f"split must be train/val/test, got {split!r}")
    root = root or _find_root(["CIFAR-FS/cifar100", "cifar100", "cifar-fs/cifar100"],
                              "splits/bertinetto/train.txt", CIFARFS_HOW, "CIFAR-FS")
    names = [s.strip() for s in (root / "splits" / "bertinetto" / f"{split}.txt").read_text().splitlines() if s.strip()]
    xs, ys = [], []
    for c, name in enumerate(names):
        files = sorted((root / "data" / name).glob("*.png"))
        if not files:
            raise DataFormatError(f"CIFAR-FS: class folder {root / 'data' / name} has no PNG images")
        xs += [_read_image(f, size) for f in files]
        ys += [c + offset] * len(files)
    x = torch.from_numpy(np.stack(xs).reshape(len(xs), -1))
    return ImageSplit(x, np.asarray(ys, dtype=np.int64), names, f"cifarfs_{split}", (3, size, size))


MINI_HOW = ("place miniImageNet (Ravi & Larochelle split) as $REPRO_DATA/mini-imagenet/"
            "{images/*.jpg, train.csv, val.csv, test.csv} (csv columns filename,label)")


def load_miniimagenet(split: str, size: int = 84, offset: int = 0, root: Path | None = None) -> ImageSplit:
    if split not in ("train", "val", "test"):
        raise ValueError(f"split must be train/val/test, got {split!r}")
    root = root or _find_root(["mini-imagenet", "miniimagenet", "miniImageNet"], "train.csv", MINI_HOW, "miniImageNet")
    with open(root / f"{split}.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or not {"filename", "label"} <= set(rows[0]):
        raise DataFormatError(f"miniImageNet: {root / (split + '.csv')} needs columns filename,label")
    wnids = sorted({r["label"] for r in rows})
    index = {w: i + offset for i, w in enumerate(wnids)}
    x = torch.from_numpy(np.stack([_read_image(root / "images" / r["filename"], size) for r in rows]).reshape(len(rows), -1))
    return ImageSplit(x, np.asarray([index[r["label"]] for r in rows], dtype=np.int64), wnids,
                      f"miniimagenet_{split}", (3, size, size))


def _split_classes(root: Path, split: str, dataset: str) -> list[str]:
    if split not in ("train", "val", "test"):
        raise ValueError(f"split must be train/val/test, got {split!r}")
    path = root / "splits" / f"{split}.json"
    if not path.is_file():
        raise DataMissingError(f"{dataset}: class split file {path} not found; copy the official split lists "
                               f"(torchmeta assets / dchiji-ntt/meta-ticket utils/assets) as {root}/splits/<split>.json")
    import json

    try:
        names = json.loads(path.read_text())
    except ValueError as exc:
        raise DataFormatError(f"{dataset}: {path} is not a JSON list of class names ({exc})") from None
    if not isinstance(names, list) or not names:
        raise DataFormatError(f"{dataset}: {path} must be a non-empty JSON list of class names")
    return [str(n) for n in names]


def _to_chw(img, size: int) -> np.ndarray:
    from PIL import Image

    img = img.convert("RGB")
    if img.size != (size, size):
        img = img.resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(img, dtype=np.float32).transpose(2, 0, 1) / 255.0


def _open(path: Path, dataset: str):
    from PIL import Image

    try:
        return Image.open(path)
    except (OSError, FileNotFoundError) as exc:
        raise DataFormatError(f"{dataset}: cannot read image {path} ({exc})") from None


def _image_split(per_class: list[tuple[str, list[np.ndarray]]], name: str, size: int, offset: int) -> ImageSplit:
    xs, ys = [], []
    for c, (cls, images) in enumerate(per_class):
        if not images:
            raise DataFormatError(f"{name}: class {cls!r} has no images")
        xs += images
        ys += [c + offset] * len(images)
    x = torch.from_numpy(np.stack(xs).reshape(len(xs), -1))
    return ImageSplit(x, np.asarray(ys, dtype=np.int64), [c for c, _ in per_class], name, (3, size, size))


CUB_HOW = ("download CUB_200_2011.tgz (http://www.vision.caltech.edu/visipedia/CUB-200-2011.html), extract it as "
           "$REPRO_DATA/cub/CUB_200_2011/images/<class>/*.jpg and put the split lists in $REPRO_DATA/cub/splits/")


def load_cub(split: str = "test", size: int = 84, offset: int = 0, root: Path | None = None) -> ImageSplit:
    """CUB-200-2011: Resize(1.5 * size) on the shorter side, CenterCrop(size) (official cub_helper)."""
    from PIL import Image

    root = root or _find_root(["cub", "CUB"], "CUB_200_2011/images", CUB_HOW, "CUB")
    per_class = []
    for cls in _split_classes(root, split, "CUB"):
        files = sorted((root / "CUB_200_2011" / "images" / cls).glob("*.jpg"))
        imgs = []
        for f in files:
            img = _open(f, "CUB").convert("RGB")
            w, h = img.size
            s = int(size * 1.5) / min(w, h)
            img = img.resize((max(1, round(w * s)), max(1, round(h * s))), Image.Resampling.BILINEAR)
            w, h = img.size
            left, top = (w - size) // 2, (h - size) // 2
            imgs.append(_to_chw(img.crop((left, top, left + size, top + size)), size))
        per_class.append((cls, imgs))
    return _image_split(per_class, f"cub_{split}", size, offset)


CARS_HOW = ("download cars_train.tgz and car_devkit.tgz (https://ai.stanford.edu/~jkrause/cars/car_dataset.html), "
            "extract them as $REPRO_DATA/cars/{cars_train/*.jpg, devkit/*.mat} and put the split lists in "
            "$REPRO_DATA/cars/splits/")


def load_cars(split: str = "test", size: int = 84, offset: int = 0, root: Path | None = None) -> ImageSplit:
    """Stanford Cars (train images): bounding-box crop, resized to size x size (official utils/cars.py)."""
    from scipy.io import loadmat

    root = root or _find_root(["cars", "stanford_cars"], "devkit/cars_train_annos.mat", CARS_HOW, "Cars")
    classes = _split_classes(root, split, "Cars")
    annos = loadmat(root / "devkit" / "cars_train_annos.mat")["annotations"][0]
    names = [str(c[0]) for c in loadmat(root / "devkit" / "cars_meta.mat")["class_names"][0]]
    by_class: dict[str, list[tuple[str, tuple[int, int, int, int]]]] = {}
    for xmin, ymin, xmax, ymax, label, fname in annos:
        bbox = (int(np.ravel(xmin)[0]), int(np.ravel(ymin)[0]), int(np.ravel(xmax)[0]), int(np.ravel(ymax)[0]))
        by_class.setdefault(names[int(np.ravel(label)[0]) - 1], []).append((str(np.ravel(fname)[0]), bbox))
    per_class = [(cls, [_to_chw(_open(root / "cars_train" / f, "Cars").convert("RGB").crop(b), size)
                        for f, b in by_class.get(cls, [])]) for cls in classes]
    return _image_split(per_class, f"cars_{split}", size, offset)


AIRCRAFT_HOW = ("download fgvc-aircraft-2013b.tar.gz (https://www.robots.ox.ac.uk/~vgg/data/fgvc-aircraft/), extract "
                "it into $REPRO_DATA/aircraft/ and put the split lists in $REPRO_DATA/aircraft/splits/")


def load_aircraft(split: str = "test", size: int = 32, offset: int = 0, root: Path | None = None) -> ImageSplit:
    """FGVC-Aircraft variants: bounding-box crop (images_box.txt), resized to size x size (official utils/aircraft.py)."""
    root = root or _find_root(["aircraft", "fgvc-aircraft"], "fgvc-aircraft-2013b/data/images_box.txt", AIRCRAFT_HOW,
                              "Aircraft")
    classes = _split_classes(root, split, "Aircraft")
    d = root / "fgvc-aircraft-2013b" / "data"
    boxes = {}
    for line in (d / "images_box.txt").read_text().splitlines():
        if line.strip():
            name, *xyxy = line.split()
            boxes[name] = tuple(int(v) for v in xyxy)
    by_class: dict[str, list[str]] = {}
    for f in ("images_variant_trainval.txt", "images_variant_test.txt"):
        for line in (d / f).read_text().splitlines():
            if line.strip():
                name, variant = line.split(" ", 1)
                by_class.setdefault(variant, []).append(name)
    per_class = [(cls, [_to_chw(_open(d / "images" / f"{n}.jpg", "Aircraft").convert("RGB").crop(boxes[n]), size)
                        for n in by_class.get(cls, [])]) for cls in classes]
    return _image_split(per_class, f"aircraft_{split}", size, offset)


VGG_HOW = ("download 102flowers.tgz and imagelabels.mat (https://www.robots.ox.ac.uk/~vgg/data/flowers/102/) into "
           "$REPRO_DATA/vgg_flower/{jpg/, imagelabels.mat} and put the split lists in $REPRO_DATA/vgg_flower/splits/")


def load_vgg_flower(split: str = "test", size: int = 32, offset: int = 0, root: Path | None = None) -> ImageSplit:
    """VGG-Flower 102: resized to size x size (official utils/vgg_flower.py); split names are 'NNN.name'."""
    from scipy.io import loadmat

    root = root or _find_root(["vgg_flower", "flowers102"], "imagelabels.mat", VGG_HOW, "VGG-Flower")
    classes = _split_classes(root, split, "VGG-Flower")
    labels = np.ravel(loadmat(root / "imagelabels.mat")["labels"])
    per_class = []
    for cls in classes:
        try:
            cid = int(cls[:3])
        except ValueError:
            raise DataFormatError(f"VGG-Flower: split class {cls!r} does not start with its 3-digit label") from None
        idx = np.flatnonzero(labels == cid)
        per_class.append((cls, [_to_chw(_open(root / "jpg" / f"image_{i + 1:05d}.jpg", "VGG-Flower"), size) for i in idx]))
    return _image_split(per_class, f"vgg_flower_{split}", size, offset)


def load_cifar10_subset(split: str, offset: int = 0) -> ImageSplit:
    """Quick stand-in: meta-train = classes 0-4 of the subset's train split, meta-test = classes 5-9 of
    its test split (``common.data.cifar``: offline JPEG zips, or cut from the official archive)."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be train/test, got {split!r}")
    ds = _load_cifar10_subset(split)
    classes = CIFAR10_CLASSES[:5] if split == "train" else CIFAR10_CLASSES[5:]
    per_class = []
    for cls in classes:
        x = ds.x[ds.y == CIFAR10_CLASSES.index(cls)].astype(np.float32).transpose(0, 3, 1, 2) / 255.0
        per_class.append((cls, list(x)))
    return _image_split(per_class, f"cifar10_subset_{split}", 32, offset)


def load_mnist32(offset: int = 0) -> ImageSplit:
    """Cross-domain quick stand-in: MNIST test digits padded to 32x32, grey replicated to RGB, in [0, 1]."""
    from common.data import load_mnist

    ds = load_mnist("test")
    x = np.asarray(ds.x, dtype=np.float32)
    if x.max() > 1.5:
        x = x / 255.0
    x = np.pad(x.reshape(-1, 28, 28), ((0, 0), (2, 2), (2, 2)))
    x = np.repeat(x[:, None], 3, axis=1)
    classes = np.unique(ds.y)
    return ImageSplit(torch.from_numpy(np.ascontiguousarray(x.reshape(len(x), -1))), ds.y.astype(np.int64) + offset,
                      [str(c) for c in classes], ds.name + "_32rgb", (3, 32, 32))


EVAL_LOADERS = {"cub": load_cub, "cars": load_cars, "aircraft": load_aircraft, "vgg_flower": load_vgg_flower}


def load_eval_split(dataset: str, size: int | None, offset: int) -> ImageSplit:
    """Meta-test split of a cross-domain evaluation dataset (its ``test`` classes, as the official cross test)."""
    if dataset == "mnist32":
        return load_mnist32(offset)
    if dataset == "cifarfs":
        return load_cifarfs("test", size or 32, offset=offset)
    if dataset in EVAL_LOADERS:
        return EVAL_LOADERS[dataset]("test", size or (84 if dataset in ("cub", "cars") else 32), offset)
    raise ValueError(f"unknown evaluation dataset {dataset!r}")


def load_image_meta(dataset: str, size: int | None = None, rotations: bool = True) -> tuple[ImageSplit, ImageSplit]:
    """(meta-train, meta-test) for a dataset name of the config."""
    if dataset == "omniglot_small":
        return load_omniglot_meta(False, size or 28, rotations)
    if dataset == "omniglot":
        return load_omniglot_meta(True, size or 28, rotations)
    if dataset == "cifarfs":
        tr = load_cifarfs("train", size or 32)
        return tr, load_cifarfs("test", size or 32, offset=int(tr.y.max()) + 1)
    if dataset == "miniimagenet":
        tr = load_miniimagenet("train", size or 84)
        return tr, load_miniimagenet("test", size or 84, offset=int(tr.y.max()) + 1)
    if dataset == "vgg_flower":
        tr = load_vgg_flower("train", size or 32)
        return tr, load_vgg_flower("test", size or 32, offset=int(tr.y.max()) + 1)
    if dataset == "cifar10_subset":
        tr = load_cifar10_subset("train")
        return tr, load_cifar10_subset("test", offset=int(tr.y.max()) + 1)
    raise ValueError(f"unknown image dataset {dataset!r}")


def episode_tensors(split: ImageSplit, episode, device) -> tuple[torch.Tensor, ...]:
    dev = torch.device(device)
    return (split.x[episode.support_idx].to(dev), torch.from_numpy(episode.support_y).to(dev),
            split.x[episode.query_idx].to(dev), torch.from_numpy(episode.query_y).to(dev))


def make_sampler(split: ImageSplit, n_way: int, k_shot: int, q_query: int) -> EpisodeSampler:
    return EpisodeSampler(split.y, split.classes, n_way, k_shot, q_query)


def sinusoid_tasks(rng: np.random.Generator, n_tasks: int, shots: int, amp=(0.1, 5.0), phase=(0.0, np.pi),
                   x_range=(-5.0, 5.0), device="cpu") -> list[tuple[torch.Tensor, ...]]:
    """Sinusoid tasks as (x_support, y_support, x_query, y_query), each (shots, 1)."""
    tasks = []
    for _ in range(n_tasks):
        a, p = rng.uniform(*amp), rng.uniform(*phase)
        x = rng.uniform(*x_range, size=(2 * shots, 1))
        y = a * np.sin(x - p)
        t = [torch.tensor(v, dtype=torch.float32, device=device) for v in (x[::2], y[::2], x[1::2], y[1::2])]
        tasks.append(tuple(t))
    return tasks


# ------------------------------------------------------------------ registry (make data-status)

uses("meta_ticket", "omniglot_small", "omniglot", "cifar10_subset", "mnist")
for _name, _folders, _marker, _how, _desc in (
        ("cifarfs", ["CIFAR-FS/cifar100", "cifar100", "cifar-fs/cifar100"], "splits/bertinetto/train.txt",
         CIFARFS_HOW, "CIFAR-FS (Bertinetto et al. 2019), 64/16/20 classes, 32x32 RGB (full)"),
        ("miniimagenet", ["mini-imagenet", "miniimagenet", "miniImageNet"], "train.csv", MINI_HOW,
         "miniImageNet (Ravi & Larochelle split), 64/16/20 classes, 84x84 RGB (full)"),
        ("cub", ["cub", "CUB"], "CUB_200_2011/images", CUB_HOW, "CUB-200-2011 + split lists, cross-domain test (full)"),
        ("cars", ["cars", "stanford_cars"], "devkit/cars_train_annos.mat", CARS_HOW,
         "Stanford Cars + split lists, cross-domain test (full)"),
        ("aircraft", ["aircraft", "fgvc-aircraft"], "fgvc-aircraft-2013b/data/images_box.txt", AIRCRAFT_HOW,
         "FGVC-Aircraft 2013b + split lists, cross-domain test (full)"),
        ("vgg_flower", ["vgg_flower", "flowers102"], "imagelabels.mat", VGG_HOW,
         "VGG-Flower 102 + split lists (full)")):
    register_dataset(_name, _desc, _how, paper="meta_ticket",
                     locate=lambda n=_name, f=_folders, m=_marker, h=_how: find_dir(n, f, m, h))
