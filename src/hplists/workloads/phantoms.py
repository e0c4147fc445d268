"""Random MRI-like phantoms and their undersampled k-space: the data of ``mri_unet``.

A miniature of fastMRI's single-coil knee task (Zbontar et al. 2018,
"fastMRI: An open dataset and benchmarks for accelerated MRI"):

1. **Phantom** (Shepp-Logan-like, drawn at 2x resolution and box-averaged):
   a rotated elliptical body with a bright rim, a darker interior, a few
   random inner ellipses that add or remove intensity, a smooth multiplicative
   texture, and a smooth random phase (MRI images are complex-valued).
2. **k-space**: the centred orthonormal 2-D FFT of the complex image plus
   complex white Gaussian noise.
3. **Mask**: fastMRI's random Cartesian mask (``RandomMaskFunc``): the central
   ``round(W * center_fraction)`` phase-encoding columns are kept and the others
   with probability ``(W / acceleration - n_center) / (W - n_center)``; one
   mask per example.
4. **Model input** is the magnitude of the zero-filled inverse FFT; the
   **target** is the magnitude of the fully sampled image. As fastMRI's
   ``UnetDataTransform`` does, both are normalized by the input's mean and
   standard deviation and clipped to [-6, 6]; ``mean``, ``std`` and ``max``
   (the target's maximum, SSIM's data range) are kept for scoring.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from hplists._check import check_int, check_real
from hplists.workloads.cache import cached_dataset
from hplists.workloads.contract import Dataset

__all__ = [
    "GENERATOR_VERSION",
    "kspace_dataset",
    "phantom",
    "random_cartesian_mask",
    "zero_filled",
]

# Bump whenever the generator's output would change: it keys the cache.
GENERATOR_VERSION = "1"

_CLIP = 6.0
_NOISE_STD = 0.01  # complex k-space noise, relative to a unit-intensity image


def _ellipse(
    grid_x: np.ndarray, grid_y: np.ndarray, cx: float, cy: float, a: float, b: float, angle: float
) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    u = (grid_x - cx) * c + (grid_y - cy) * s
    v = -(grid_x - cx) * s + (grid_y - cy) * c
    return ((u / a) ** 2 + (v / b) ** 2 <= 1.0).astype(np.float64)


def _smooth_field(rng: np.random.Generator, cells: int, size: int) -> np.ndarray:
    field = ndimage.zoom(rng.normal(size=(cells, cells)), size / cells, order=3, mode="nearest")
    return field[:size, :size]


def phantom(size: int, rng: np.random.Generator, *, max_inner: int = 6) -> np.ndarray:
    """One random complex phantom image (size, size) with magnitude mostly in [0, 1].

    Example:
        >>> import numpy as np
        >>> img = phantom(32, np.random.default_rng(0))
        >>> img.shape, img.dtype.name, bool(np.abs(img).max() <= 1.5)
        ((32, 32), 'complex128', True)
    """
    size = check_int("size", size, low=8)
    fine = 2 * size
    coords = (np.arange(fine) + 0.5) / fine * 2.0 - 1.0
    gx, gy = np.meshgrid(coords, coords)
    angle = rng.uniform(-np.pi / 6, np.pi / 6)
    cx, cy = rng.uniform(-0.08, 0.08, size=2)
    a, b = rng.uniform(0.62, 0.88), rng.uniform(0.72, 0.9)
    rim = rng.uniform(0.06, 0.12)
    body = _ellipse(gx, gy, cx, cy, a, b, angle)
    inner = _ellipse(gx, gy, cx, cy, a - rim, b - rim, angle)
    img = body * rng.uniform(0.8, 1.0) - inner * rng.uniform(0.45, 0.65)
    for _ in range(rng.integers(2, max_inner + 1)):
        # inner structures: centres inside the interior, some brighter, some darker
        r = np.sqrt(rng.uniform(0.0, 1.0)) * 0.7
        t = rng.uniform(0.0, 2 * np.pi)
        ex = cx + r * (a - rim) * np.cos(t)
        ey = cy + r * (b - rim) * np.sin(t)
        ea, eb = rng.uniform(0.05, 0.3, size=2)
        blob = _ellipse(gx, gy, ex, ey, ea, eb, rng.uniform(0, np.pi)) * inner
        img += rng.uniform(-0.25, 0.35) * blob
    img = np.clip(img, 0.0, None)
    texture = 1.0 + 0.12 * _smooth_field(rng, 6, fine) + 0.05 * _smooth_field(rng, 16, fine)
    img = img * texture
    img = img.reshape(size, 2, size, 2).mean(axis=(1, 3))  # anti-aliasing
    phase = 0.8 * _smooth_field(rng, 3, size)
    return img * np.exp(1j * phase)


def random_cartesian_mask(
    width: int, rng: np.random.Generator, acceleration: int = 4, center_fraction: float = 0.08
) -> np.ndarray:
    """fastMRI's random column mask: a boolean (width,) with the centre always sampled.

    Example:
        >>> import numpy as np
        >>> m = random_cartesian_mask(32, np.random.default_rng(0))
        >>> m.shape, bool(m[15:18].all())
        ((32,), True)
    """
    width = check_int("width", width, low=4)
    acceleration = check_int("acceleration", acceleration, low=1)
    center_fraction = check_real("center_fraction", center_fraction, 0.0, 1.0, low_open=True)
    num_low = max(1, round(width * center_fraction))
    prob = (width / acceleration - num_low) / (width - num_low)
    mask = rng.uniform(size=width) < prob
    pad = (width - num_low + 1) // 2
    mask[pad : pad + num_low] = True
    return mask


def _fft2c(img: np.ndarray) -> np.ndarray:
    return np.fft.fftshift(
        np.fft.fft2(np.fft.ifftshift(img, axes=(-2, -1)), norm="ortho"), axes=(-2, -1)
    )


def _ifft2c(k: np.ndarray) -> np.ndarray:
    return np.fft.fftshift(
        np.fft.ifft2(np.fft.ifftshift(k, axes=(-2, -1)), norm="ortho"), axes=(-2, -1)
    )


def zero_filled(kspace: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Magnitude of the inverse FFT of ``kspace`` with unsampled columns set to zero.

    ``kspace`` is (..., H, W) complex and centred; ``mask`` broadcasts to its last axis.

    Example:
        >>> import numpy as np
        >>> img = np.ones((8, 8))
        >>> k = np.fft.fftshift(np.fft.fft2(img, norm="ortho"))
        >>> bool(np.allclose(zero_filled(k, np.ones(8, bool)), 1.0))
        True
    """
    return np.abs(_ifft2c(kspace * mask))


def _build(
    seed: int, num_train: int, num_valid: int, size: int, acceleration: int, center_fraction: float
) -> Dataset:
    rng = np.random.default_rng(seed)

    def split(n: int) -> dict[str, np.ndarray]:
        images = np.stack([phantom(size, rng) for _ in range(n)])
        kspace = _fft2c(images)
        kspace += _NOISE_STD * (rng.normal(size=kspace.shape) + 1j * rng.normal(size=kspace.shape))
        masks = np.stack(
            [random_cartesian_mask(size, rng, acceleration, center_fraction) for _ in range(n)]
        )
        target = np.abs(_ifft2c(kspace))
        inputs = zero_filled(kspace, masks[:, None, :])
        mean = inputs.mean(axis=(1, 2))
        std = inputs.std(axis=(1, 2))

        def norm(a: np.ndarray) -> np.ndarray:
            return np.clip((a - mean[:, None, None]) / std[:, None, None], -_CLIP, _CLIP)

        return {
            "input": norm(inputs).astype(np.float32),
            "target": norm(target).astype(np.float32),
            "mean": mean.astype(np.float32),
            "std": std.astype(np.float32),
            "max": target.max(axis=(1, 2)).astype(np.float32),
        }

    meta = {
        "generator": f"phantom-kspace-v{GENERATOR_VERSION}",
        "seed": seed,
        "size": size,
        "acceleration": acceleration,
        "center_fraction": center_fraction,
    }
    return Dataset(train=split(num_train), valid=split(num_valid), meta=meta)


def kspace_dataset(
    seed: int = 0,
    *,
    num_train: int = 2000,
    num_valid: int = 200,
    size: int = 32,
    acceleration: int = 4,
    center_fraction: float = 0.08,
) -> Dataset:
    """Phantom reconstruction data (built once per argument set, cached on disk).

    Returns:
        A :class:`~hplists.workloads.contract.Dataset` whose splits hold ``input``
        and ``target`` (n, size, size) float32 (normalized as fastMRI does), and
        ``mean``, ``std``, ``max`` (n,) to undo the normalization and give SSIM
        its data range.

    Example:
        >>> import os, tempfile; os.environ["HPLISTS_CACHE_DIR"] = tempfile.mkdtemp()
        >>> data = kspace_dataset(0, num_train=4, num_valid=2)
        >>> data.train["input"].shape, sorted(data.valid)
        ((4, 32, 32), ['input', 'max', 'mean', 'std', 'target'])
    """
    seed = check_int("seed", seed, low=0)
    num_train = check_int("num_train", num_train, low=1)
    num_valid = check_int("num_valid", num_valid, low=1)
    size = check_int("size", size, low=8)
    acceleration = check_int("acceleration", acceleration, low=1, high=size)
    center_fraction = check_real("center_fraction", center_fraction, 0.0, 1.0, low_open=True)
    return cached_dataset("phantom-kspace", _build, version=GENERATOR_VERSION, seed=seed,
                          num_train=num_train, num_valid=num_valid, size=size,
                          acceleration=acceleration, center_fraction=center_fraction)
