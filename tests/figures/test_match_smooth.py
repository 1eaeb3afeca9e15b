"""Smooth fields (large pores, few corners): the source fits with fewer than `MIN_INLIERS` inliers, as
unrelated images can by chance; the weak fit stands when the image, warped by it, explains the
panel's structure. Real pixels: procedural pore fields beside the matcher tests' micrographs, in TIFF
files the matcher reads, through a real faiss index."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from emcensus.figures.features import MAX_SIDE
from emcensus.figures.match import MIN_INLIERS, Fit, Matcher
from figures.match_support import HEIGHT, WIDTH, publish, shot
from figures.test_match import _index, shot_images, write_tiffs


def pores(seed: int, size: int = 1400) -> np.ndarray:
    """A specimen of large dark pores in a smooth film, blurred: a field with few ORB corners."""
    rng = np.random.default_rng(seed)
    image = np.full((size, size), 150, np.float32)
    for _ in range(size * size // 9000):
        x, y = rng.integers(0, size, 2)
        cv2.circle(image, (int(x), int(y)), int(rng.uniform(10, 45)), float(rng.uniform(20, 90)), -1, cv2.LINE_AA)
    return cv2.GaussianBlur(image, (0, 0), 6)


@pytest.fixture(scope="module")
def smooth(tmp_path_factory) -> tuple[dict[str, np.ndarray], Matcher]:
    """The matcher tests' micrographs and four pore fields, each with a repeat; a matcher over them."""
    images = shot_images()
    for k in range(4):
        field = pores(50 + k)
        images[f"pores{k}"] = shot(field, 100, 100, 1.0, seed=20 + k)
        images[f"pores{k}_repeat"] = shot(field, 100, 100, 1.0, seed=40 + k)
    folder = write_tiffs(tmp_path_factory.mktemp("smooth"), images)
    return images, Matcher(_index(images, folder=folder))


def test_smooth_field_shrunk_stands_on_a_weak_fit_its_pixels_confirm(smooth):
    smooth_archive, matcher = smooth
    result = matcher.match_panel(publish(smooth_archive["pores1"], crop=(0.08, 0.08, 0.92, 0.92), width=440))
    assert [Path(m.path).stem for m in result.matches] == ["pores1"]
    assert result.matches[0].inliers < MIN_INLIERS  # it stands on its pixels, not on its inliers
    # its numbers are the fit its pixels were aligned by (the weak fit's own: scale 0.8116, box 5 px off)
    assert result.matches[0].scale == pytest.approx(440 / (0.84 * WIDTH), rel=0.003)
    assert result.matches[0].crop_box_px == pytest.approx((0.08 * WIDTH, 0.08 * HEIGHT, 0.92 * WIDTH, 0.92 * HEIGHT),
                                                          abs=1.5)


def test_weak_fit_of_another_field_is_not_confirmed(smooth):
    """The source's own fit, given to another pore field of the same look: its pixels do not explain the panel."""
    smooth_archive, matcher = smooth
    panel = publish(smooth_archive["pores1"], crop=(0.08, 0.08, 0.92, 0.92), width=440)
    positions = {Path(image["path"]).stem: p for p, image in enumerate(matcher.index.images)}
    scale = 440 / (0.84 * 640)  # published px per archive px
    transform = np.array([[scale, 0, -0.08 * 640 * scale], [0, scale, -0.08 * 480 * scale]], np.float64)
    region = (0.0, 0.0, float(panel.shape[1] - 1), float(panel.shape[0] - 1))
    for name, confirmed in (("pores1", True), ("pores1_repeat", True), ("pores2", False), ("pores3", False)):
        fit = Fit(positions[name], 8, 100, transform, False, False, region)
        matcher._confirm(fit, panel)
        assert fit.confirmed == confirmed, name


def test_pore_field_from_no_archive_image_matches_nothing(smooth):
    matcher = smooth[1]
    panel = publish(shot(pores(99), 100, 100, 1.0, seed=3), crop=(0.08, 0.08, 0.92, 0.92), width=440)
    assert matcher.match_panel(panel).matches == []


def test_large_panel_is_aligned_brought_down_and_its_fit_refined_in_its_own_pixels(smooth, monkeypatch):
    """A panel 3,000 px wide: the intensity alignment compares it brought down to `MAX_SIDE` (its cost
    grows with the panel's area: 5.6 s of CPU at full size, 0.2 s brought down, the same crop box to
    0.2 px), and the weak fit it confirms, 6 and 4 px off, comes back refined in the panel's own pixels."""
    smooth_archive, matcher = smooth
    width = 3000
    panel = publish(smooth_archive["pores1"], crop=(0.08, 0.08, 0.92, 0.92), width=width)
    positions = {Path(image["path"]).stem: p for p, image in enumerate(matcher.index.images)}
    scale = width / (0.84 * WIDTH)
    transform = np.array([[scale, 0, -0.08 * WIDTH * scale + 6], [0, scale, -0.08 * HEIGHT * scale - 4]])
    compared = []
    align = cv2.findTransformECC
    monkeypatch.setattr(cv2, "findTransformECC", lambda template, *rest: compared.append(template.shape) or
                        align(template, *rest))
    fit = Fit(positions["pores1"], 8, 100, transform, False, False, (0.0, 0.0, width - 1.0, panel.shape[0] - 1.0))
    matcher._confirm(fit, panel)
    assert fit.confirmed and compared and max(max(shape) for shape in compared) <= MAX_SIDE
    assert fit.scale == pytest.approx(scale, rel=0.003)
    assert fit.crop_box(width, panel.shape[0], WIDTH, HEIGHT) == pytest.approx(
        (0.08 * WIDTH, 0.08 * HEIGHT, 0.92 * WIDTH, 0.92 * HEIGHT), abs=1.5)
