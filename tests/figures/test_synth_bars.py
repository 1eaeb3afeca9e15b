"""The generator draws scale bars as authors do: in a tone that shows against what lies under them (or
on a box), the label inside the panel, and in a vector figure as vectors over the traced micrograph
(a 16-tone trace at 160 px turns a 3 px white bar grey and its label into blobs). Each choice comes
from the pixels, never from the random stream, so a corpus keeps its archive, panels and matches."""

from __future__ import annotations

import io

import numpy as np
import pypdfium2 as pdfium
import pytest
from matplotlib.figure import Figure

from emcensus.figures.authoring import add_scale_bar
from emcensus.figures.barpanels import (HIDDEN_SHARE, bar_layout, draw_scale_bar, legible_style, make_bar_panel,
                                        near_ink_share)
from emcensus.figures.scalebar import read_scale_bar
from emcensus.figures.synth import _trace
from emcensus.figures.textures import micrograph


def _bright_corner(width: int = 300, height: int = 225) -> np.ndarray:
    """A dark field (mean well under 140: the whole panel asks for a white bar) with a white bottom band."""
    field = micrograph("particles", 3, width, height)
    field = (field.astype(np.float32) * 0.35).astype(np.uint8)
    field[int(height * 0.7):, :] = 240
    return field


def test_a_bar_over_a_bright_region_of_a_dark_panel_is_drawn_black_or_boxed() -> None:
    field = _bright_corner()
    assert field.mean() < 140
    for seed in range(12):
        drawn, bar = add_scale_bar(field, np.random.default_rng(seed), 2e-9)
        if bar.box:
            continue
        x0, y0, x1, y1 = bar.bbox
        assert not bar.white and int(drawn[y0:y1, x0:x1].max()) == 0
        # what lay under the bar and the label is far from the ink drawn on it
        assert near_ink_share(field, tuple(bar.bbox), bar.white) <= HIDDEN_SHARE
        assert near_ink_share(field, tuple(bar.label_bbox), bar.white) <= HIDDEN_SHARE


def test_the_polarity_comes_from_the_pixels_not_the_random_stream() -> None:
    dark = (micrograph("particles", 3, 300, 225).astype(np.float32) * 0.35).astype(np.uint8)
    seed = next(s for s in range(20) if not add_scale_bar(dark, np.random.default_rng(s), 2e-9)[1].box)
    kept, flipped = np.random.default_rng(seed), np.random.default_rng(seed)
    first = add_scale_bar(dark, kept, 2e-9)[1]
    second = add_scale_bar(_bright_corner(), flipped, 2e-9)[1]
    assert (first.white, first.box) != (second.white, second.box)  # the bright band changed the choice...
    assert kept.bit_generator.state == flipped.bit_generator.state  # ...and drew nothing more


@pytest.mark.parametrize("width", [100, 120, 160])
def test_the_label_stays_inside_small_panels(width: int) -> None:
    field = micrograph("films", 1, width, round(width * 0.75))
    rng = np.random.default_rng(1)
    for _ in range(60):
        _, bar = add_scale_bar(field, rng, float(10 ** rng.uniform(-9.5, -6)))
        lx0, ly0, lx1, ly1 = bar.label_bbox
        assert 0 <= lx0 < lx1 <= field.shape[1] and 0 <= ly0 < ly1 <= field.shape[0]
    for seed in range(80):
        panel, drawn = make_bar_panel(np.random.default_rng(seed), width=width)
        lx0, ly0, lx1, ly1 = drawn.label_bbox
        assert 0 <= lx0 < lx1 <= panel.shape[1] and 0 <= ly0 < ly1 <= panel.shape[0]


def test_a_label_too_wide_beside_the_bar_is_printed_smaller_then_above_it() -> None:
    field = np.zeros((75, 100), np.uint8)
    layout = bar_layout(field.shape, "250 µm", 40, label_side="right", font_px=14, corner="bottom-left")
    assert layout.font.size < 14 and layout.label_side == "right"
    assert layout.label_bbox[2] <= 100 - 4
    layout = bar_layout(field.shape, "250 µm", 60, label_side="right", font_px=14)
    assert layout.label_side == "above" and 0 <= layout.label_bbox[0] and layout.label_bbox[2] <= 100
    _, bar, label = draw_scale_bar(field, "250 µm", 60, label_side="right", font_px=14)
    assert label == layout.label_bbox and bar == layout.bar


def _traced(pixels: np.ndarray, bar) -> np.ndarray:
    figure = Figure(figsize=(pixels.shape[1] / 100, pixels.shape[0] / 100))
    ax = figure.add_axes([0, 0, 1, 1])
    ax.set_axis_off()
    _trace(ax, pixels, bar)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="pdf")
    return np.asarray(pdfium.PdfDocument(buffer.getvalue())[0].render(scale=200 / 72).to_pil().convert("L"))


def test_a_traced_panel_shows_its_bar_in_its_own_tone_and_its_label_reads() -> None:
    field = (micrograph("particles", 3, 300, 225).astype(np.float32) * 0.5).astype(np.uint8)
    drawn, bar = add_scale_bar(field, np.random.default_rng(2), 2e-9)
    assert bar.white and not bar.box and bar.font_px > 0
    rendered = _traced(drawn, bar)
    k = rendered.shape[1] / drawn.shape[1]
    x0, y0, x1, y1 = (round(v * k) for v in bar.bbox)
    assert np.median(rendered[y0 + 1:y1 - 1, x0 + 1:x1 - 1]) >= 250  # white, not the trace's grey
    found = read_scale_bar(rendered)
    assert found is not None and found.value_m == pytest.approx(bar.value_m)
    assert found.bar_px == pytest.approx(bar.bar_px * k, rel=0.03)
    # without the bar drawn again, the trace's 16 tones at 160 px leave a grey smear
    smeared = _traced(drawn, None)
    assert np.median(smeared[y0 + 1:y1 - 1, x0 + 1:x1 - 1]) < 250


def _spotted(share: float, background: int, spot: int) -> np.ndarray:
    """A 300 x 225 field of `background` with square spots of `spot` covering about `share` of it."""
    field = np.full((225, 300), background, np.uint8)
    for y in range(0, 225, 10):
        for x in range(0, 300, 10):
            if (x // 10 * 7 + y // 10 * 3) % 100 < share * 100:
                field[y:y + 10, x:x + 10] = spot
    return field


@pytest.mark.parametrize(("share", "white", "box"), [(0.1, True, False), (0.35, True, True)])
def test_a_white_bar_over_a_dark_field_with_bright_particles_stays_white_unless_they_hide_a_fifth(
        share: float, white: bool, box: bool) -> None:
    """Bright particles under a tenth of a white label on a dark field: authors leave it white (a hard
    case the reader must meet); over a third, the label would lose glyphs, and black would vanish in
    the dark field: the group goes on a box."""
    field = _spotted(share, 40, 235)
    layout = bar_layout(field.shape, "500 nm", 80, font_px=20)
    shares = near_ink_share(field, layout.bar, True), near_ink_share(field, layout.label_bbox, True)
    assert (max(shares) > HIDDEN_SHARE) is (share > HIDDEN_SHARE)
    assert legible_style(field, layout, True, False) == (white, box)


def test_a_bar_over_both_extremes_goes_on_a_box_and_a_drawn_box_is_kept() -> None:
    """Over a field a third black and a third white, either ink hides a fifth of the bar or label: the
    group goes on a box, in the polarity drawn; a box drawn is kept whatever lies under it."""
    field = _spotted(0.35, 128, 250)
    field[_spotted(0.35, 0, 1)[::-1, ::-1] == 1] = 5
    layout = bar_layout(field.shape, "2 µm", 80, font_px=20)
    assert legible_style(field, layout, True, False) == (True, True)
    assert legible_style(field, layout, False, False) == (False, True)
    assert legible_style(np.full((225, 300), 255, np.uint8), layout, True, True) == (True, True)
