"""Panels cut on gutters of real composed figures: grids, nested layouts, black gutters, JPEG, colour."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from emcensus.figures.panels import PanelBox, split_panels


def micrograph(height: int, width: int, seed: int) -> np.ndarray:
    """A textured grey field (blurred noise and blobs), never blank across a row or column."""
    rng = np.random.default_rng(seed)
    field = cv2.GaussianBlur(rng.normal(128, 60, (height, width)).astype(np.float32), (0, 0), 2.0)
    for _ in range(6):
        cv2.circle(field, (int(rng.integers(width)), int(rng.integers(height))), int(rng.integers(4, 15)), 230, -1)
    return np.clip(field, 30, 225).astype(np.uint8)


def compose(layout: list[PanelBox], size: tuple[int, int], background: int = 255, letters: bool = True) -> np.ndarray:
    """A figure: each panel a micrograph at its box, a letter in the gutter above-left like authors put it."""
    height, width = size
    figure = np.full((height, width), background, np.uint8)
    for index, (x0, y0, x1, y1) in enumerate(layout):
        figure[y0:y1, x0:x1] = micrograph(y1 - y0, x1 - x0, index)
        if letters and y0 >= 12:
            cv2.putText(figure, "abcdef"[index], (x0, y0 - 2), cv2.FONT_HERSHEY_SIMPLEX, 0.3, 255 - background, 1)
    return figure


GRID = [(10 + c * 110, 14 + r * 94, 10 + c * 110 + 100, 14 + r * 94 + 80) for r in range(2) for c in range(3)]


def test_grid_with_letters_in_reading_order() -> None:
    assert split_panels(compose(GRID, (200, 340))) == GRID


def test_black_gutters() -> None:
    assert split_panels(compose(GRID, (200, 340), background=0)) == GRID


def test_nested_layout_tall_panel_beside_two() -> None:
    layout = [(8, 8, 128, 208), (140, 8, 300, 100), (140, 112, 300, 208)]
    assert split_panels(compose(layout, (216, 310), letters=False)) == layout


def test_jpeg_and_colour_figures_cut_within_a_few_pixels() -> None:
    figure = compose(GRID, (200, 340))
    buffer = io.BytesIO()
    Image.fromarray(figure).save(buffer, format="JPEG", quality=40)
    decoded = np.asarray(Image.open(buffer))
    found = split_panels(decoded)
    assert len(found) == len(GRID)
    assert np.abs(np.array(found) - np.array(GRID)).max() <= 3
    false_colour = cv2.applyColorMap(figure, cv2.COLORMAP_VIRIDIS)
    false_colour[figure == 255] = 255  # the page stays white
    assert split_panels(false_colour[..., ::-1]) == GRID


def test_dark_micrograph_on_a_white_page_is_not_cut_along_its_pores() -> None:
    layout = [(10, 10, 160, 130), (170, 10, 320, 130)]
    figure = compose(layout, (140, 330), letters=False)
    figure[10:130, 40:60] = 0  # a black pore band across the whole height of the first panel
    figure[60:70, 170:320] = 0  # and one across the whole width of the second
    assert split_panels(figure) == layout


def test_one_panel_trimmed_or_whole() -> None:
    single = micrograph(120, 160, 3)
    assert split_panels(single) == [(0, 0, 160, 120)]
    framed = np.full((150, 200), 255, np.uint8)
    framed[15:135, 20:180] = single
    assert split_panels(framed) == [(20, 15, 180, 135)]
    assert split_panels(np.full((50, 60), 255, np.uint8)) == [(0, 0, 60, 50)]


def test_thin_saturated_streak_does_not_cut() -> None:
    image = micrograph(120, 160, 4)
    image[60:62] = 255  # a two-row saturated line across the micrograph: narrower than a gutter
    assert split_panels(image) == [(0, 0, 160, 120)]
    image[60:64] = 255
    assert split_panels(image, min_gutter=5) == [(0, 0, 160, 120)]


@pytest.mark.parametrize("min_side", [32, 60])
def test_pieces_under_min_side_are_not_panels(min_side: int) -> None:
    layout = [(10, 10, 110, 110), (120, 10, 160, 50)]  # a 100 px panel and a 40 px sticker
    found = split_panels(compose(layout, (120, 170), letters=False), min_side=min_side)
    assert found == (layout if min_side <= 40 else layout[:1])
