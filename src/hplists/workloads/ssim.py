"""Structural similarity (SSIM) of image batches in NumPy, as fastMRI and AlgoPerf score reconstructions.

Wang, Bovik, Sheikh & Simoncelli (2004), "Image quality assessment: from error
visibility to structural similarity", with the definition of scikit-image's
``skimage.metrics.structural_similarity`` under the arguments fastMRI uses
(``win_size=7``, uniform window, ``K1=0.01``, ``K2=0.03``, ``data_range`` given):

    mu_x, mu_y         means over each 7x7 window
    s_x^2, s_y^2, s_xy sample (co)variances over the window (normalized by n - 1, n = 49)
    C1 = (K1 L)^2,  C2 = (K2 L)^2,  L = data_range
    SSIM map = (2 mu_x mu_y + C1)(2 s_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(s_x^2 + s_y^2 + C2))

and the mean of the map over the pixels whose window lies inside the image (a
border of ``(win_size - 1) / 2`` pixels is dropped, as scikit-image does).
Neither scikit-image nor dm-pix is a dependency, hence this module.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from hplists._check import check_int, check_real
from hplists.exceptions import InvalidParameterError

__all__ = ["structural_similarity"]


def structural_similarity(
    x: np.ndarray,
    y: np.ndarray,
    data_range: float | np.ndarray,
    *,
    win_size: int = 7,
    k1: float = 0.01,
    k2: float = 0.03,
) -> np.ndarray:
    """Mean SSIM of each image pair in ``x`` and ``y`` (..., H, W).

    Args:
        x, y: images with the same shape; leading axes are batch axes.
        data_range: the dynamic range ``L`` (fastMRI: the maximum of the target
            volume), a scalar or one value per image (shape ``x.shape[:-2]``).
        win_size: side of the uniform window, odd, >= 3 and <= min(H, W).
        k1, k2: the stabilizing constants of Wang et al.

    Returns:
        An array of shape ``x.shape[:-2]`` (float64). Identical images score 1.

    Example:
        >>> import numpy as np
        >>> img = np.random.default_rng(0).uniform(size=(2, 16, 16))
        >>> structural_similarity(img, img, data_range=1.0).tolist()
        [1.0, 1.0]
        >>> float(structural_similarity(img[0], img[0] + 0.1, data_range=1.0)) < 1.0
        True
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim < 2:
        raise InvalidParameterError(
            f"x and y must be images (..., H, W) of one shape, got {x.shape}, {y.shape}"
        )
    win_size = check_int("win_size", win_size, low=3, high=min(x.shape[-2:]))
    if win_size % 2 == 0:
        raise InvalidParameterError(f"win_size must be odd, got {win_size}")
    k1 = check_real("k1", k1, low=0.0, low_open=True)
    k2 = check_real("k2", k2, low=0.0, low_open=True)
    data_range = np.asarray(data_range, dtype=np.float64)
    if np.any(~np.isfinite(data_range)) or np.any(data_range <= 0):
        raise InvalidParameterError(f"data_range must be finite and > 0, got {data_range}")
    data_range = np.broadcast_to(data_range, x.shape[:-2])[..., None, None]

    size = (1,) * (x.ndim - 2) + (win_size, win_size)

    def mean(a: np.ndarray) -> np.ndarray:
        return ndimage.uniform_filter(a, size=size, mode="reflect")

    n = win_size * win_size
    cov_norm = n / (n - 1.0)
    ux, uy = mean(x), mean(y)
    vx = cov_norm * (mean(x * x) - ux * ux)
    vy = cov_norm * (mean(y * y) - uy * uy)
    vxy = cov_norm * (mean(x * y) - ux * uy)
    c1 = (k1 * data_range) ** 2
    c2 = (k2 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
    pad = (win_size - 1) // 2
    return s[..., pad:-pad, pad:-pad].mean(axis=(-2, -1))
