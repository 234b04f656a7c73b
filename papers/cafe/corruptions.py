"""The 15 CIFAR-10-C corruptions at 5 severities (Hendrycks & Dietterich, ICLR 2019), for 32x32 RGB.

Our own implementation of the definitions and the CIFAR-10 severity constants of
``hendrycks/robustness/ImageNet-C/create_c/make_cifar_c.py`` (the script that made CIFAR-10-C).
The maintained package ``imagecorruptions`` (Michaelis et al. 2019) implements the *ImageNet-C*
constants (224x224 images), which are far too strong for 32x32 images, so it is not applied
directly; we use from it only (a) the six frost texture images it ships and (b) its Wand-free
motion-blur kernel idea (ImageMagick's MotionBlur replaced by a shifted 1-D Gaussian kernel), which
we re-implement here. Every function takes an ``(32, 32, 3)`` uint8 array and a
``numpy.random.Generator`` and returns ``(32, 32, 3)`` uint8.

Deviations from make_cifar_c.py: motion blur and the motion-blurred snow layer use the
``imagecorruptions``-style kernel instead of ImageMagick; everything else follows the script.
"""

from __future__ import annotations

import importlib.util
import math
from functools import lru_cache
from io import BytesIO
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from scipy.ndimage import map_coordinates
from scipy.ndimage import zoom as scizoom
from skimage.color import hsv2rgb, rgb2hsv
from skimage.filters import gaussian
from skimage.util import random_noise

CORRUPTIONS = [
    "gaussian_noise", "shot_noise", "impulse_noise",
    "defocus_blur", "glass_blur", "motion_blur", "zoom_blur",
    "snow", "frost", "fog",
    "brightness", "contrast", "elastic_transform", "pixelate", "jpeg_compression",
]
IMSIZE = 32


def _check(severity: int) -> int:
    if severity not in (1, 2, 3, 4, 5):
        raise ValueError(f"severity must be 1..5, got {severity}")
    return severity - 1


# ---------------------------------------------------------------- helpers

def _disk(radius: float, alias_blur: float) -> np.ndarray:
    if radius <= 8:
        grid, ksize = np.arange(-8, 9), (3, 3)
    else:
        grid, ksize = np.arange(-radius, radius + 1), (5, 5)
    xx, yy = np.meshgrid(grid, grid)
    k = np.asarray(xx ** 2 + yy ** 2 <= radius ** 2, dtype=np.float32)
    k /= k.sum()
    return cv2.GaussianBlur(k, ksize=ksize, sigmaX=alias_blur)


def _plasma_fractal(rng: np.random.Generator, mapsize: int = 32, wibbledecay: float = 3) -> np.ndarray:
    """Diamond-square height map in [0, 1] (as in make_cifar_c.py)."""
    arr = np.zeros((mapsize, mapsize))
    step, wibble = mapsize, 100.0

    def wibbled(a):
        return a / 4 + wibble * rng.uniform(-wibble, wibble, a.shape)

    while step >= 2:
        corner = arr[0:mapsize:step, 0:mapsize:step]
        sq = corner + np.roll(corner, -1, axis=0)
        sq = sq + np.roll(sq, -1, axis=1)
        arr[step // 2:mapsize:step, step // 2:mapsize:step] = wibbled(sq)
        dr = arr[step // 2:mapsize:step, step // 2:mapsize:step]
        ul = arr[0:mapsize:step, 0:mapsize:step]
        lt = dr + np.roll(dr, 1, axis=0) + ul + np.roll(ul, -1, axis=1)
        arr[0:mapsize:step, step // 2:mapsize:step] = wibbled(lt)
        tt = dr + np.roll(dr, 1, axis=1) + ul + np.roll(ul, -1, axis=0)
        arr[step // 2:mapsize:step, 0:mapsize:step] = wibbled(tt)
        step //= 2
        wibble /= wibbledecay
    arr -= arr.min()
    return arr / arr.max()


def _clipped_zoom(img: np.ndarray, factor: float) -> np.ndarray:
    h = img.shape[0]
    ch = int(np.ceil(h / factor))
    top = (h - ch) // 2
    out = scizoom(img[top:top + ch, top:top + ch], (factor, factor, 1), order=1)
    trim = (out.shape[0] - h) // 2
    return out[trim:trim + h, trim:trim + h]


def _shift(img: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """Shift with edge replication (the border pixels are repeated)."""
    out = img
    if dx:
        out = np.roll(out, dx, axis=1)
        if dx > 0:
            out[:, :dx] = out[:, dx:dx + 1]
        else:
            out[:, dx:] = out[:, dx - 1:dx]
    if dy:
        out = np.roll(out, dy, axis=0)
        if dy > 0:
            out[:dy] = out[dy:dy + 1]
        else:
            out[dy:] = out[dy - 1:dy]
    return out


def _motion_blur_array(x: np.ndarray, radius: float, sigma: float, angle: float) -> np.ndarray:
    """Linear motion blur: a one-sided Gaussian kernel of width 2*radius+1 along ``angle`` degrees."""
    width = int(radius * 2 + 1)
    k = np.exp(-np.arange(width) ** 2 / (2 * sigma ** 2))
    k /= k.sum()
    py, px = width * np.sin(np.deg2rad(angle)), width * np.cos(np.deg2rad(angle))
    hyp = math.hypot(py, px)
    out = np.zeros_like(x, dtype=np.float32)
    for i in range(width):
        dy = -math.ceil(i * py / hyp - 0.5)
        dx = -math.ceil(i * px / hyp - 0.5)
        if abs(dy) >= x.shape[0] or abs(dx) >= x.shape[1]:
            break
        out += k[i] * _shift(x.copy(), dx, dy)
    return out


@lru_cache(maxsize=1)
def _frost_textures() -> list[np.ndarray]:
    spec = importlib.util.find_spec("imagecorruptions")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("frost needs the texture images of the 'imagecorruptions' package "
                          "(pip install imagecorruptions==1.1.2)")
    folder = Path(list(spec.submodule_search_locations)[0]) / "frost"
    names = ["frost1.png", "frost2.png", "frost3.png", "frost4.jpg", "frost5.jpg", "frost6.jpg"]
    out = []
    for n in names:
        im = Image.open(folder / n).convert("RGB")
        im = im.resize((max(33, int(im.width * 0.2)), max(33, int(im.height * 0.2))), Image.BILINEAR)
        out.append(np.asarray(im, dtype=np.float32))
    return out


# ---------------------------------------------------------------- the 15 corruptions

def gaussian_noise(x, severity, rng):
    c = [0.04, 0.06, .08, .09, .10][_check(severity)]
    x = x / 255.
    return np.clip(x + rng.normal(size=x.shape, scale=c), 0, 1) * 255


def shot_noise(x, severity, rng):
    c = [500, 250, 100, 75, 50][_check(severity)]
    x = x / 255.
    return np.clip(rng.poisson(x * c) / c, 0, 1) * 255


def impulse_noise(x, severity, rng):
    c = [.01, .02, .03, .05, .07][_check(severity)]
    x = random_noise(x / 255., mode="s&p", amount=c, rng=rng)
    return np.clip(x, 0, 1) * 255


def defocus_blur(x, severity, rng):
    c = [(0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1)][_check(severity)]
    x = (x / 255.).astype(np.float32)
    k = _disk(c[0], c[1])
    out = np.stack([cv2.filter2D(x[:, :, d], -1, k) for d in range(3)], axis=2)
    return np.clip(out, 0, 1) * 255


def glass_blur(x, severity, rng):
    c = [(0.05, 1, 1), (0.25, 1, 1), (0.4, 1, 1), (0.25, 1, 2), (0.4, 1, 2)][_check(severity)]
    x = np.uint8(gaussian(x / 255., sigma=c[0], channel_axis=-1) * 255)
    for _ in range(c[2]):
        for h in range(IMSIZE - c[1], c[1], -1):
            for w in range(IMSIZE - c[1], c[1], -1):
                dx, dy = rng.integers(-c[1], c[1], size=2)
                hp, wp = h + dy, w + dx
                # make_cifar_c.py writes ``x[h, w], x[h', w'] = x[h', w'], x[h, w]`` on numpy views, which
                # is not a swap: x[h, w] takes the neighbour's value and the neighbour keeps its own.
                # We reproduce what generated CIFAR-10-C, not the intended swap.
                x[h, w] = x[hp, wp]
    return np.clip(gaussian(x / 255., sigma=c[0], channel_axis=-1), 0, 1) * 255


def motion_blur(x, severity, rng):
    c = [(6, 1), (6, 1.5), (6, 2), (8, 2), (9, 2.5)][_check(severity)]
    out = _motion_blur_array(x.astype(np.float32), c[0], c[1], rng.uniform(-45, 45))
    return np.clip(out, 0, 255)


def zoom_blur(x, severity, rng):
    c = [np.arange(1, 1.06, 0.01), np.arange(1, 1.11, 0.01), np.arange(1, 1.16, 0.01),
         np.arange(1, 1.21, 0.01), np.arange(1, 1.26, 0.01)][_check(severity)]
    x = (x / 255.).astype(np.float32)
    out = np.zeros_like(x)
    for z in c:
        out += _clipped_zoom(x, z)
    return np.clip((x + out) / (len(c) + 1), 0, 1) * 255


def snow(x, severity, rng):
    c = [(0.1, 0.2, 1, 0.6, 8, 3, 0.95), (0.1, 0.2, 1, 0.5, 10, 4, 0.9),
         (0.15, 0.3, 1.75, 0.55, 10, 4, 0.9), (0.25, 0.3, 2.25, 0.6, 12, 6, 0.85),
         (0.3, 0.3, 1.25, 0.65, 14, 12, 0.8)][_check(severity)]
    x = x.astype(np.float32) / 255.
    layer = rng.normal(size=x.shape[:2], loc=c[0], scale=c[1])
    layer = _clipped_zoom(layer[..., None], c[2])
    layer[layer < c[3]] = 0
    layer = np.clip(layer.squeeze(), 0, 1).astype(np.float32)
    layer = np.uint8(layer * 255).astype(np.float32)  # the script round-trips through an 8-bit PNG
    layer = _motion_blur_array(layer, c[4], c[5], rng.uniform(-135, -45)) / 255.
    layer = layer[..., None]
    gray = cv2.cvtColor(x, cv2.COLOR_RGB2GRAY).reshape(IMSIZE, IMSIZE, 1)
    x = c[6] * x + (1 - c[6]) * np.maximum(x, gray * 1.5 + 0.5)
    return np.clip(x + layer + np.rot90(layer, k=2), 0, 1) * 255


def frost(x, severity, rng):
    c = [(1, 0.2), (1, 0.3), (0.9, 0.4), (0.85, 0.4), (0.75, 0.45)][_check(severity)]
    tex = _frost_textures()[rng.integers(5)]  # the script draws from the first five
    i0 = rng.integers(0, tex.shape[0] - IMSIZE)
    j0 = rng.integers(0, tex.shape[1] - IMSIZE)
    f = tex[i0:i0 + IMSIZE, j0:j0 + IMSIZE]
    return np.clip(c[0] * x + c[1] * f, 0, 255)


def fog(x, severity, rng):
    c = [(.2, 3), (.5, 3), (0.75, 2.5), (1, 2), (1.5, 1.75)][_check(severity)]
    x = x / 255.
    mx = x.max()
    x = x + c[0] * _plasma_fractal(rng, 32, c[1])[:IMSIZE, :IMSIZE][..., None]
    return np.clip(x * mx / (mx + c[0]), 0, 1) * 255


def brightness(x, severity, rng):
    c = [.05, .1, .15, .2, .3][_check(severity)]
    x = rgb2hsv(x / 255.)
    x[:, :, 2] = np.clip(x[:, :, 2] + c, 0, 1)
    return np.clip(hsv2rgb(x), 0, 1) * 255


def contrast(x, severity, rng):
    c = [.75, .5, .4, .3, 0.15][_check(severity)]
    x = x / 255.
    m = x.mean(axis=(0, 1), keepdims=True)
    return np.clip((x - m) * c + m, 0, 1) * 255


def elastic_transform(x, severity, rng):
    s = IMSIZE
    c = [(s * 0, s * 0, s * 0.08), (s * 0.05, s * 0.2, s * 0.07), (s * 0.08, s * 0.06, s * 0.06),
         (s * 0.1, s * 0.04, s * 0.05), (s * 0.1, s * 0.03, s * 0.03)][_check(severity)]
    img = x.astype(np.float32) / 255.
    shape = img.shape
    hw = shape[:2]
    center = np.float32(hw) // 2
    sq = min(hw) // 3
    pts1 = np.float32([center + sq, [center[0] + sq, center[1] - sq], center - sq])
    pts2 = pts1 + rng.uniform(-c[2], c[2], size=pts1.shape).astype(np.float32)
    m = cv2.getAffineTransform(pts1, pts2)
    img = cv2.warpAffine(img, m, hw[::-1], borderMode=cv2.BORDER_REFLECT_101)
    dx = (gaussian(rng.uniform(-1, 1, size=hw), c[1], mode="reflect", truncate=3) * c[0]).astype(np.float32)
    dy = (gaussian(rng.uniform(-1, 1, size=hw), c[1], mode="reflect", truncate=3) * c[0]).astype(np.float32)
    xx, yy, zz = np.meshgrid(np.arange(shape[1]), np.arange(shape[0]), np.arange(shape[2]))
    idx = (np.reshape(yy + dy[..., None], (-1, 1)), np.reshape(xx + dx[..., None], (-1, 1)),
           np.reshape(zz, (-1, 1)))
    return np.clip(map_coordinates(img, idx, order=1, mode="reflect").reshape(shape), 0, 1) * 255


def pixelate(x, severity, rng):
    c = [0.95, 0.9, 0.85, 0.75, 0.65][_check(severity)]
    im = Image.fromarray(x.astype(np.uint8))
    im = im.resize((int(IMSIZE * c), int(IMSIZE * c)), Image.BOX).resize((IMSIZE, IMSIZE), Image.BOX)
    return np.asarray(im, dtype=np.float32)


def jpeg_compression(x, severity, rng):
    c = [80, 65, 58, 50, 40][_check(severity)]
    buf = BytesIO()
    Image.fromarray(x.astype(np.uint8)).save(buf, "JPEG", quality=c)
    return np.asarray(Image.open(buf), dtype=np.float32)


FUNCTIONS = {name: globals()[name] for name in CORRUPTIONS}


def corrupt(x: np.ndarray, name: str, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Corrupt one (32, 32, 3) uint8 image; returns uint8 (the saved CIFAR-10-C arrays are uint8)."""
    if name not in FUNCTIONS:
        raise ValueError(f"unknown corruption {name!r}; valid: {', '.join(CORRUPTIONS)}")
    if x.shape != (IMSIZE, IMSIZE, 3):
        raise ValueError(f"expected a (32, 32, 3) image, got {x.shape}")
    return np.uint8(np.clip(FUNCTIONS[name](np.asarray(x, dtype=np.float64 if name in (
        "gaussian_noise", "shot_noise", "impulse_noise", "fog", "brightness", "contrast") else x.dtype), severity, rng), 0, 255))


def corrupt_batch(xs: np.ndarray, name: str, severity: int, rng: np.random.Generator) -> np.ndarray:
    return np.stack([corrupt(x, name, severity, rng) for x in xs])
