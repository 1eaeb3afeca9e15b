"""A plot, a chart or a scheme is told from a micrograph (`plotlike.is_drawing`), and the matcher gives a
drawing its first search only: the generator's own plots and schemes are drawings; its micrographs,
published as authors publish them, overexposed, or traced into 16 vector tones, are not."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from emcensus.figures.authoring import author_panel
from emcensus.figures.barpanels import jpeg
from emcensus.figures.features import to_grey8
from emcensus.figures.match import Matcher
from emcensus.figures.plotlike import is_drawing
from emcensus.figures.synth import _draw_scheme, _plot, _PanelJob, _trace
from emcensus.figures.textures import TEXTURES, micrograph
from figures.match_support import scene, shot
from figures.test_match_candidates import _index


def _rendered(draw, size: tuple[int, int], axes: list[float]) -> np.ndarray:
    """What `draw(ax)` puts on a white figure of `size` pixels, as RGB."""
    figure = Figure(figsize=(size[0] / 100, size[1] / 100), dpi=100)
    FigureCanvasAgg(figure)
    draw(figure.add_axes(axes))
    figure.canvas.draw()
    return np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()


def _traced(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A micrograph as a vector figure shows it: `synth._trace`'s 16 stacked tones, rendered."""
    def draw(ax) -> None:
        ax.set_axis_off()
        _trace(ax, pixels)
    return _rendered(draw, size, [0, 0, 1, 1])


def _scheme(seed: int, size: tuple[int, int]) -> np.ndarray:
    return _rendered(lambda ax: _draw_scheme(ax, np.random.default_rng(seed)), size, [0.02, 0.02, 0.96, 0.96])


@pytest.mark.parametrize("size", [(120, 80), (198, 139), (316, 316), (500, 380)])
def test_the_generators_plots_and_schemes_are_drawings(size: tuple[int, int]) -> None:
    for seed in range(6):
        job = _PanelJob(key=(0, 0, seed), kind="plot", size=size, seed=seed)
        plot = _plot(job)
        assert is_drawing(to_grey8(plot))
        assert is_drawing(to_grey8(_scheme(seed, size)))


@pytest.mark.parametrize("quality", [60, 90])
def test_a_chart_pasted_as_a_jpeg_is_a_drawing_from_300_px(quality: int) -> None:
    """Its blank 8x8 blocks stay exactly paper white; a smaller one, ringing around every stroke, is
    taken for a micrograph (it costs time, not a match)."""
    for seed in range(6):
        assert is_drawing(to_grey8(jpeg(_plot(_PanelJob(key=(0, 0, seed), kind="plot", size=(316, 300), seed=seed)),
                                        quality)))


def test_published_micrographs_are_not_drawings() -> None:
    """Every texture, each published ten ways (crop, resize, gamma, contrast, inverted, false colour,
    arrows, labels, inset, scale bar, JPEG), at the sizes panels come in."""
    for texture, seed, panel, truth in _published(10):
        assert not is_drawing(to_grey8(panel)), (texture, seed, truth.edits)


def _published(ways: int) -> Iterator[tuple[str, int, np.ndarray, Any]]:
    """Each texture published `ways` ways by the article generator, at the sizes panels come in:
    (texture, seed, panel, its truth)."""
    for texture in TEXTURES:
        source = micrograph(texture, 3, 640, 480)
        for seed in range(ways):
            rng = np.random.default_rng(seed)
            size = (int(rng.integers(100, 400)), int(rng.integers(80, 300)))
            panel, truth = author_panel(source, 1e-9, size, rng)
            yield texture, seed, panel, truth


def _overexposed(grey: np.ndarray, saturated: float) -> np.ndarray:
    """`grey` brightened until `saturated` of its pixels are exactly 255 (paper white)."""
    grey = grey.astype(np.float32)
    knee = np.quantile(grey, 1 - saturated)
    return np.clip(grey * (255.0 / max(knee, 1.0)), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("saturated", [0.3, 0.5, 0.7, 0.8, 0.9, 0.95])
def test_an_overexposed_micrograph_is_not_a_drawing(saturated: float) -> None:
    """Up to 95 % of its pixels at exactly 255 (paper white): the rest is still noise and texture, specks
    of many tones, not ink (past ~78 % the paper and tone tests alone called it a drawing)."""
    for texture in TEXTURES:
        for seed in (3, 8):
            bright = _overexposed(micrograph(texture, seed, 320, 240), saturated)
            assert float((bright == 255).mean()) >= saturated - 0.02
            assert not is_drawing(bright), (texture, seed)


@pytest.mark.parametrize("saturated", [0.78, 0.85, 0.9, 0.95])
def test_a_published_micrograph_overexposed_is_rarely_a_drawing(saturated: float) -> None:
    """Each texture published eight ways, then overexposed: resized and smoothed, its remainder is blobs
    more than specks, and a few (labels, arrows, a black inset frame: ink indeed) still pass. Without
    the test of the marks, 45 to 48 of the 48 of each level were called drawings."""
    called = sum(is_drawing(_overexposed(to_grey8(panel), saturated)) for _, _, panel, _ in _published(8))
    assert called <= 4


def test_real_vendor_frames_are_not_drawings(vendor_samples: Path) -> None:
    """Every frame of the real vendor files the visual index reads (FEI, Hitachi, JEOL, Zeiss, TVIPS, Olympus;
    an optical navigation camera) as acquired; and the image area of those with a data bar below it,
    overexposed to 78-95 %. (A frame whose bar lies inside its image rows, as Hitachi TM4000's, overexposed
    so, is a drawing: the bar and its text are ink.)"""
    from emcensus.errors import EmcensusError
    from emcensus.figures.index import read_pixels
    from emcensus.readers import read_metadata

    frames = 0
    for path in sorted(p for p in vendor_samples.rglob("*") if p.is_file()):
        try:
            grey = to_grey8(read_pixels(str(path)))
        except EmcensusError:  # a format the visual index does not read
            continue
        frames += 1
        assert not is_drawing(grey), path.name
        rows = read_metadata(str(path), None).to_dict().get("height_px")
        if rows and rows < grey.shape[0]:
            for saturated in (0.78, 0.85, 0.9, 0.95):
                assert not is_drawing(_overexposed(grey[:rows], saturated)), (path.name, saturated)
    assert frames >= 10


def test_a_micrograph_traced_into_vector_tones_is_not_a_drawing() -> None:
    """Flat layers of 16 tones, as on the generated corpora's vector pages: the brightest is not paper
    white, and no tone covers the paper a drawing lies on. Brightened first, so that a layer is white."""
    for texture in TEXTURES:
        grey = micrograph(texture, 5, 320, 240)
        for pixels in (grey, np.clip(grey.astype(np.float32) * 1.6, 0, 255).astype(np.uint8)):
            assert not is_drawing(to_grey8(_traced(pixels, (514, 386)))), texture


def test_blank_and_tiny_panels() -> None:
    assert not is_drawing(np.zeros((0, 0), np.uint8))
    assert is_drawing(np.full((40, 60), 255, np.uint8))  # blank paper: nothing to find in an archive either
    assert not is_drawing(np.full((40, 60), 30, np.uint8))  # a dark field is no paper


def test_a_drawing_gets_the_first_search_only(tmp_path: Path) -> None:
    """No second polarity, no dense, deeper or thumbnail fallback: the first search only (the vote and its
    candidates on their indexed keypoints, `Matcher._indexed`); a micrograph from no archive still gets
    every step (both polarities vote)."""
    images = {f"other_{k:03d}": shot(scene(420 + k), 100, 100, 1.0, k) for k in range(4)}
    matcher = Matcher(_index(tmp_path, images, outvoted=set()))
    calls: list[str] = []
    for name in ("_indexed", "_fits", "_whole_fields"):
        method = getattr(matcher, name)

        def spy(*args, _name=name, _method=method, **kwargs):
            calls.append(f"{_name} dense" if kwargs.get("upsample") else _name)
            return _method(*args, **kwargs)
        setattr(matcher, name, spy)

    plot = _plot(_PanelJob(key=(0, 0, 0), kind="plot", size=(316, 316), seed=4))
    assert not matcher.match_panel(plot).matches
    # one search: the printed vote's candidates, then (nothing stood) the joint ballot's, on indexed keypoints
    assert calls == ["_indexed", "_fits", "_fits"]

    calls.clear()
    assert not matcher.match_panel(shot(scene(499), 100, 100, 1.0, 9)).matches
    assert calls.count("_indexed") >= 2 and "_fits dense" in calls and "_whole_fields" in calls
