"""Quality metrics on procedural micrographs whose truth is known: focus, noise σ, blank, clipping,
the data bar, charging bands, drift smear."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy.stats import spearmanr

from emcensus.figures.textures import make_scene, render
from emcensus.quality.metrics import measure

BLURS = (0, 1, 2, 4)
NOISE_LEVELS = (0.02, 0.05, 0.1)  # σ in units of the signal's [0, 1] range


def _signal(kind: str, seed: int, width: int = 800, height: int = 600) -> np.ndarray:
    return render(make_scene(kind, seed), (0.5, 0.5), 0.4, width, height)


def _noisy(signal: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    return signal + np.random.default_rng(seed).normal(0, sigma, signal.shape).astype(np.float32)


@pytest.mark.parametrize("noise", NOISE_LEVELS)
def test_a_through_focus_series_ranks_by_sharpness_at_every_noise_level(noise: float) -> None:
    for kind, seed in (("particles", 1), ("crystals", 2), ("tem", 3)):
        signal = _signal(kind, seed)
        sharpness = [measure(_noisy(cv2.GaussianBlur(signal, (0, 0), blur) if blur else signal, noise, blur)).sharpness
                     for blur in BLURS]
        rho = spearmanr(BLURS, sharpness).statistic
        assert rho <= -0.95, (kind, noise, sharpness)  # more defocus, less sharpness


def test_raw_gradient_energy_mistakes_noise_for_sharpness_the_pre_blurred_one_does_not() -> None:
    """Why the pre-blur is there: a blurred frame with more noise must not look sharper."""
    signal = _signal("particles", 4)
    sharp_clean = measure(_noisy(signal, 0.02, 0)).sharpness
    blurred_noisy = measure(_noisy(cv2.GaussianBlur(signal, (0, 0), 2), 0.1, 0)).sharpness
    assert sharp_clean > blurred_noisy
    laplacian = [cv2.Laplacian(x, cv2.CV_32F).var() for x in
                 (_noisy(signal, 0.02, 0), _noisy(cv2.GaussianBlur(signal, (0, 0), 2), 0.1, 0))]
    assert laplacian[1] > laplacian[0]  # the raw measure gets it backwards


@pytest.mark.parametrize("noise", NOISE_LEVELS)
def test_noise_sigma_is_within_7_percent_of_the_true_sigma(noise: float) -> None:
    for kind, seed in (("particles", 5), ("pores", 6), ("films", 7)):
        # a detector's probe never draws a pixel-sharp edge: the signal is band-limited a little
        signal = cv2.GaussianBlur(_signal(kind, seed), (0, 0), 1.0) * 4000  # 12-bit-like units
        metrics = measure(_noisy(signal, noise * 4000, seed))
        assert metrics.noise_sigma == pytest.approx(noise * 4000, rel=0.07), kind
        assert metrics.snr is not None and metrics.snr > 0


def test_resolution_grows_with_blur_and_is_measured_in_file_pixels() -> None:
    signal = _signal("particles", 8)
    resolution = [measure(_noisy(cv2.GaussianBlur(signal, (0, 0), blur) if blur else signal, 0.05, 1)).resolution_px
                  for blur in BLURS]
    assert resolution == sorted(resolution) and resolution[-1] > 2 * resolution[0]
    assert all(2.0 <= value < 100 for value in resolution)


def test_blank_frames_are_blank_and_a_faint_specimen_is_not() -> None:
    rng = np.random.default_rng(0)
    flat = np.full((480, 640), 37, np.uint8)
    dark = np.clip(rng.normal(20, 4, (480, 640)), 0, 255).astype(np.uint8)  # beam off: detector noise only
    faint = np.clip(_signal("particles", 9, 640, 480) * 60 + 90 + rng.normal(0, 4, (480, 640)), 0, 255).astype(np.uint8)
    assert measure(flat).blank and measure(flat).snr is None and measure(flat).sharpness is None
    dark_metrics = measure(dark)
    assert dark_metrics.blank and dark_metrics.noise_sigma == pytest.approx(4, rel=0.1)
    # what is left is the noise's: no sharpness, resolution, charging or drift is given for it
    assert (dark_metrics.sharpness, dark_metrics.resolution_px, dark_metrics.charging, dark_metrics.drift) == (None,) * 4
    assert not measure(faint).blank


def test_clipping_is_measured_at_both_ends() -> None:
    signal = _signal("particles", 10, 640, 480)
    normal = np.clip(signal * 200 + 20, 0, 255).astype(np.uint8)
    saturated = np.clip(signal * 600 - 100, 0, 255).astype(np.uint8)  # too much gain and offset
    assert measure(normal).clipped_high < 0.01 and measure(normal).clipped_low < 0.01
    clipped = measure(saturated)
    assert clipped.clipped_high > 0.05 and clipped.clipped_low > 0.05


def test_the_data_bar_is_cut_off_before_measuring() -> None:
    area = np.clip(_noisy(_signal("pores", 11, 640, 480), 0.03, 0) * 200 + 20, 0, 255).astype(np.uint8)
    bar = np.zeros((40, 640), np.uint8)
    bar[10:30, 20:300] = 255  # white text on black, as SEM data bars are
    with_bar = np.vstack([area, bar])
    assert measure(with_bar, image_rows=480) == measure(area)
    assert measure(with_bar).clipped_high > measure(area).clipped_high  # the bar would count as clipping


def test_charging_bands_and_drift_smear_stand_out() -> None:
    signal = _noisy(_signal("particles", 12), 0.03, 0)
    charged = signal.copy()
    charged[200:260] += 0.4  # a band of rows that charged up
    smeared = cv2.blur(signal, (15, 1))  # the image drifted along x during the frame
    clean = measure(signal)
    assert measure(charged).charging > 3 * clean.charging
    assert measure(smeared).drift > clean.drift + 0.3


def test_colour_float_and_non_finite_pixels_are_measured_and_tiny_ones_refused() -> None:
    grey = np.clip(_signal("crystals", 13, 320, 240) * 200, 0, 255).astype(np.uint8)
    colour = np.dstack([grey, grey, grey])
    assert measure(colour).sharpness == pytest.approx(measure(grey).sharpness, rel=1e-3)
    holed = grey.astype(np.float32)
    holed[5:8, 5:8] = np.nan
    assert np.isfinite(measure(holed).sharpness)
    with pytest.raises(ValueError, match="too small"):
        measure(np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match="not one image"):
        measure(np.zeros((4, 16, 16, 3), np.uint8))
