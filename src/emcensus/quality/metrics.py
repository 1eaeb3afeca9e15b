"""Per-image quality metrics over a pixel array: no file access, no GPU, no downloaded weights.

Each metric is computed where it means something:

* **clipping, noise σ, resolution** on the image area at its own pixel size (downscaling averages
  noise away and moves frequencies), noise and spectrum on a central crop of at most 1024 / 512 px;
* **blank, sharpness, charging** on the image area brought to at most 1024 px (features.MAX_SIDE).

Sharpness is Tenengrad (mean squared Sobel gradient) after a Gaussian pre-blur of `PRE_BLUR_PX`:
without it, detector noise reads as sharpness (a raw Laplacian variance rises about 11x with noise).
It is divided by the image's squared contrast so that a brighter or higher-gain frame of the same
focus is not "sharper". Resolution is where the radial power spectrum falls to twice the white-noise
floor that the measured σ predicts (signal power = noise power), the approach of SMART and SIRAF.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

import cv2
import numpy as np
from skimage.restoration import estimate_sigma

from emcensus.figures.features import MAX_SIDE, image_area

#: Gaussian σ (px, at the analysis size) applied before the gradient: noise is not sharpness.
PRE_BLUR_PX = 1.5
#: Low-pass σ (px) before judging whether a frame holds anything.
_BLANK_BLUR_PX = 3.0
#: A frame is blank when its low-passed contrast (1st to 99th percentile) is below this many noise σ.
BLANK_CONTRAST_SIGMAS = 1.0
#: Side of the central crop the noise σ is estimated on (full resolution; 0.4 Mpx is plenty for a median).
_NOISE_CROP = 640
#: Side of the central crop the power spectrum is taken of (full resolution).
_SPECTRUM_CROP = 512
_RADIAL_BINS = 64
#: Every n-th pixel of the low-passed image is enough for its percentiles.
_PERCENTILE_STEP = 4
#: Spectrum below this frequency (cycles/px) is the image's layout, not its detail.
_LOWEST_FREQUENCY = 0.02
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
#: Smallest image side measured: below it no metric means anything.
MIN_SIDE = 16


@dataclass(slots=True)
class Metrics:
    """What one image measures; None where a metric has no meaning for it (a flat frame has no SNR)."""

    blank: bool
    clipped_low: float  # fraction of pixels at the image's lowest value
    clipped_high: float  # ... at its highest value
    noise_sigma: float | None  # in the file's own units (grey levels of its dtype)
    snr: float | None  # signal standard deviation / noise σ
    sharpness: float | None  # pre-blurred Tenengrad / contrast², at the analysis size
    resolution_px: float | None  # period (file pixels) where the spectrum meets twice the noise floor
    charging: float | None  # largest row-to-row jump of the row means, as a fraction of the contrast
    drift: float | None  # 1 - minor/major axis of the spectrum's power above noise: 0 isotropic

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def grey_float(pixels: np.ndarray) -> np.ndarray:
    """A 2-D float32 image in the file's own units: colour as luminance, NaN/inf as the median."""
    array = np.asarray(pixels)
    if array.ndim == 3:  # grey + alpha: the grey; RGB(A): its luminance
        array = array[:, :, 0] if array.shape[2] < 3 else array[:, :, :3].astype(np.float32) @ _LUMA
    if array.ndim != 2:
        raise ValueError(f"pixels of shape {array.shape} are not one image")
    grey = array.astype(np.float32, copy=False)
    finite = np.isfinite(grey)
    if not finite.all():
        if not finite.any():
            raise ValueError("no finite pixel value")
        grey = np.where(finite, grey, np.median(grey[finite])).astype(np.float32)
    return grey


def analysis_image(grey: np.ndarray) -> np.ndarray:
    """The image area brought to at most MAX_SIDE px on its longer side (area-averaged)."""
    factor = MAX_SIDE / max(grey.shape)
    if factor >= 1:
        return grey
    size = (max(1, round(grey.shape[1] * factor)), max(1, round(grey.shape[0] * factor)))
    return cv2.resize(grey, size, interpolation=cv2.INTER_AREA)


def _central(grey: np.ndarray, side: int) -> np.ndarray:
    top, left = max(0, (grey.shape[0] - side) // 2), max(0, (grey.shape[1] - side) // 2)
    return grey[top:top + side, left:left + side]


def measure(pixels: np.ndarray, image_rows: int | None = None) -> Metrics:
    """The metrics of one image; `image_rows` (the image area's height from the metadata) cuts off a
    burned-in data bar. ValueError for pixels that are not an image or are too small to measure."""
    return measure_area(grey_float(image_area(np.asarray(pixels), image_rows)))


def measure_area(grey: np.ndarray) -> Metrics:
    """The metrics of an image area already made `grey_float` (see `measure`)."""
    if min(grey.shape) < MIN_SIDE:
        raise ValueError(f"an image of {grey.shape[1]}x{grey.shape[0]} px is too small to measure")
    low, high = float(grey.min()), float(grey.max())
    clipped_low, clipped_high = float(np.mean(grey == low)), float(np.mean(grey == high))
    if high == low:  # one value everywhere: nothing to measure but that
        return Metrics(True, clipped_low, clipped_high, 0.0, None, None, None, None, None)
    sigma = float(estimate_sigma(_central(grey, _NOISE_CROP)))
    if not np.isfinite(sigma):
        raise ValueError("the noise of these pixels cannot be estimated")
    snr = None
    if sigma > 0:
        snr = float(np.sqrt(max(float(grey.var()) - sigma * sigma, 0.0))) / sigma
    small = analysis_image(grey)
    low_passed = cv2.GaussianBlur(small, (0, 0), _BLANK_BLUR_PX)[::_PERCENTILE_STEP, ::_PERCENTILE_STEP]
    p1, p99 = (float(v) for v in np.percentile(low_passed, (1, 99)))
    contrast = p99 - p1
    if contrast <= BLANK_CONTRAST_SIGMAS * sigma:  # noise only: a sharpness or resolution would be the noise's
        return Metrics(True, clipped_low, clipped_high, sigma, snr, None, None, None, None)
    resolution_px, drift = _spectrum(grey, sigma)
    return Metrics(False, clipped_low, clipped_high, sigma, snr, _sharpness(small, contrast), resolution_px,
                   _charging(small, contrast), drift)


def _sharpness(small: np.ndarray, contrast: float) -> float:
    blurred = cv2.GaussianBlur(small, (0, 0), PRE_BLUR_PX)
    gx = cv2.Sobel(blurred, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(blurred, cv2.CV_32F, 0, 1, ksize=3)
    return float(np.mean(gx * gx + gy * gy)) / (contrast * contrast)


def _charging(small: np.ndarray, contrast: float) -> float:
    """Charging shows as bands: the mean of a row jumps from one scan line to the next."""
    rows = small.mean(axis=1)
    return float(np.abs(np.diff(rows)).max()) / contrast if len(rows) > 1 else 0.0


@lru_cache(maxsize=8)
def _geometry(height: int, width: int) -> tuple[np.ndarray, ...]:
    """What the spectrum of a crop of this shape needs, made once per shape: the window, its noise
    gain, frequency coordinates of the half-plane (rfft), the radial bin of each, the bin edges."""
    window = np.outer(np.hanning(height), np.hanning(width)).astype(np.float32)
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    radius = np.sqrt(fx * fx + fy * fy)
    inside = (radius >= _LOWEST_FREQUENCY) & (radius <= 0.5)
    edges = np.linspace(_LOWEST_FREQUENCY, 0.5, _RADIAL_BINS + 1)
    which = np.clip(np.digitize(radius[inside], edges) - 1, 0, _RADIAL_BINS - 1)
    counts = np.bincount(which, minlength=_RADIAL_BINS)
    off_axes = inside & (np.abs(fx) > 1.5 / width) & (np.abs(fy) > 1.5 / height)  # edge leakage lies on the axes
    gain = float(np.sum(window.astype(np.float64) ** 2))
    return window, np.array(gain), fx, fy, radius, inside, which, counts, edges, off_axes


def _spectrum(grey: np.ndarray, sigma: float) -> tuple[float | None, float | None]:
    """(resolution in px, drift anisotropy) from the windowed power spectrum of a central crop."""
    crop = _central(grey, _SPECTRUM_CROP)
    window, gain, fx, fy, radius, inside, which, counts, edges, off_axes = _geometry(*crop.shape)
    power = np.abs(np.fft.rfft2((crop - crop.mean()) * window)) ** 2
    floor = sigma * sigma * float(gain)  # white noise of σ, through the window
    radial = np.bincount(which, weights=power[inside], minlength=_RADIAL_BINS) / np.maximum(counts, 1)
    below = np.nonzero((counts > 0) & (radial < 2 * floor))[0]
    cutoff = (edges[below[0]] + edges[below[0] + 1]) / 2 if len(below) else 0.5
    # Drift smears detail along one direction: the power above noise stops being round.
    weight = np.clip(power - floor, 0, None) * (off_axes & (radius <= cutoff))
    total = float(weight.sum())
    if total <= 0:
        return 1.0 / cutoff, None
    xx, yy, xy = (float((weight * a).sum()) / total for a in (fx * fx, fy * fy, fx * fy))
    eigen = np.linalg.eigvalsh(np.array([[xx, xy], [xy, yy]]))
    return 1.0 / cutoff, (1.0 - float(eigen[0] / eigen[1]) if eigen[1] > 0 else None)


__all__ = ["BLANK_CONTRAST_SIGMAS", "MIN_SIDE", "Metrics", "PRE_BLUR_PX", "analysis_image", "grey_float", "measure",
           "measure_area"]
