"""Published-looking panels with a known scale bar: what tests, the benchmark and generators draw.

A scale bar is drawn the way authors and microscope software draw them: a filled bar of either
polarity in a corner, its label (DejaVu Sans, the TrueType font matplotlib ships) centred above or
below it or beside it, sometimes on a box of the opposite colour. The truth returned is what was
drawn, in the panel's pixels.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import cv2
import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from emcensus.demo.pixels import PixelBank

#: Labels as authors print them: 1-2-5 values and others, both micro signs, no space, Ångström.
LABELS: tuple[tuple[str, float], ...] = (
    ("200 nm", 200e-9), ("1 µm", 1e-6), ("300 nm", 300e-9), ("2.5 µm", 2.5e-6), ("50 µm", 50e-6),
    ("500 pm", 500e-12), ("5 Å", 5e-10), ("10 nm", 10e-9), ("100 nm", 100e-9), ("0.5 µm", 0.5e-6),
    ("20 μm", 20e-6), ("750 nm", 750e-9), ("1 mm", 1e-3), ("2 nm", 2e-9), ("500nm", 500e-9),
    ("5 µm", 5e-6), ("1.5 mm", 1.5e-3), ("250 µm", 250e-6), ("20 Å", 20e-10), ("3 µm", 3e-6),
)


@dataclass(frozen=True)
class DrawnBar:
    """What was drawn: the label, its value, the bar's length and box (x0, y0, x1, y1, pixels)."""

    label: str
    value_m: float
    bar_px: int
    bbox: tuple[int, int, int, int]
    label_bbox: tuple[int, int, int, int]
    white: bool


@functools.lru_cache(maxsize=64)
def dejavu_font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    """DejaVu Sans at `size` px, from matplotlib's own fonts (no system font needed)."""
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name), size)


@dataclass(frozen=True)
class BarLayout:
    """Where a bar and its label go in a panel (pixels): the group (bar, gap, label) and its parts."""

    group: tuple[int, int, int, int]  # x0, y0, x1, y1 of bar + label, without the box's margin
    gap: int
    bar: tuple[int, int, int, int]
    text_xy: tuple[int, int]  # top left of the label's ink
    text_offset: tuple[int, int]  # the font's bbox origin (PIL draws text from there)
    label_bbox: tuple[int, int, int, int]
    font: ImageFont.FreeTypeFont
    label_side: str


#: The smallest label authors print (px); a label is shrunk down to it to stay inside the panel.
MIN_FONT_PX = 8


def bar_layout(shape: tuple[int, ...], label: str, bar_px: int, *, corner: str = "bottom-right",
               label_side: str = "above", thickness: int | None = None, font_px: int | None = None,
               box: bool = False, bold: bool = False) -> BarLayout:
    """The bar and label's places in a panel of `shape`, the label kept inside the panel.

    Authors keep the label inside the panel: a label too wide for the space beside or over the bar is
    printed smaller (down to `MIN_FONT_PX`), and one still too wide beside the bar goes above it.
    """
    height, width = shape[:2]
    thickness = thickness or max(2, round(0.02 * height))
    size = font_px or max(10, round(0.07 * height))
    margin0 = max(4, round(0.04 * min(width, height)))
    while True:
        font = dejavu_font(size, bold)
        x_text0, y_text0, x_text1, y_text1 = font.getbbox(label)
        text_w, text_h = x_text1 - x_text0, y_text1 - y_text0
        gap = max(2, text_h // 3)
        beside = label_side in ("left", "right")
        group_w = bar_px + gap + text_w if beside else max(bar_px, text_w)
        margin = margin0 + (gap if box else 0)
        if group_w <= width - 2 * margin or size <= MIN_FONT_PX:
            if group_w <= width - 2 * margin or not beside:
                break
            label_side = "above"
            continue
        size -= 1
    group_h = max(thickness, text_h) if beside else thickness + gap + text_h
    gx = width - margin - group_w if corner.endswith("right") else margin
    gy = height - margin - group_h if corner.startswith("bottom") else margin
    if label_side == "above":
        bar_xy = (gx + (group_w - bar_px) // 2, gy + text_h + gap)
        text_xy = (gx + (group_w - text_w) // 2, gy)
    elif label_side == "below":
        bar_xy = (gx + (group_w - bar_px) // 2, gy)
        text_xy = (gx + (group_w - text_w) // 2, gy + thickness + gap)
    elif label_side == "left":
        bar_xy = (gx + text_w + gap, gy + (group_h - thickness) // 2)
        text_xy = (gx, gy + (group_h - text_h) // 2)
    else:
        bar_xy = (gx, gy + (group_h - thickness) // 2)
        text_xy = (gx + bar_px + gap, gy + (group_h - text_h) // 2)
    return BarLayout(group=(gx, gy, gx + group_w, gy + group_h), gap=gap,
                     bar=(bar_xy[0], bar_xy[1], bar_xy[0] + bar_px, bar_xy[1] + thickness), text_xy=text_xy,
                     text_offset=(x_text0, y_text0),
                     label_bbox=(text_xy[0], text_xy[1], text_xy[0] + text_w, text_xy[1] + text_h), font=font,
                     label_side=label_side)


#: A bar or label is lost where this share of what lies under it is within `NEAR_INK` grey levels of its ink.
HIDDEN_SHARE = 0.2
NEAR_INK = 64


def near_ink_share(pixels: np.ndarray, rect: tuple[int, int, int, int], white: bool) -> float:
    """The share of the pixels under `rect` (x0, y0, x1, y1) within `NEAR_INK` grey levels of the ink."""
    grey = pixels if pixels.ndim == 2 else cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
    x0, y0, x1, y1 = rect
    under = grey[max(0, y0):max(0, y1), max(0, x0):max(0, x1)].astype(np.int16)
    if not under.size:
        return 0.0
    return float(np.mean(np.abs(under - (255 if white else 0)) < NEAR_INK))


def legible_style(pixels: np.ndarray, layout: BarLayout, white: bool, box: bool) -> tuple[bool, bool]:
    """The polarity and box an author settles on after seeing the bar drawn: (white, box).

    Authors choose the bar's colour to contrast with what lies under it: where the chosen ink would
    hide a fifth of the bar or of the label (a white bar over a bright region), the other polarity is
    taken if it shows, else the group goes on a box. A box shows any ink.
    """
    if box:
        return white, box

    def hidden(ink: bool) -> bool:
        shares = (near_ink_share(pixels, layout.bar, ink), near_ink_share(pixels, layout.label_bbox, ink))
        return max(shares) > HIDDEN_SHARE

    if not hidden(white):
        return white, False
    if not hidden(not white):
        return not white, False
    return white, True


def draw_scale_bar(
    pixels: np.ndarray,
    label: str,
    bar_px: int,
    *,
    white: bool = True,
    corner: str = "bottom-right",
    label_side: str = "above",
    thickness: int | None = None,
    font_px: int | None = None,
    box: bool = False,
    bold: bool = False,
    ticks: bool = False,
) -> tuple[np.ndarray, tuple[int, int, int, int], tuple[int, int, int, int]]:
    """A copy of `pixels` (grey or RGB uint8) with a bar and its label; returns it, bar and label boxes.

    `corner` is "bottom-right", "bottom-left", "top-left" or "top-right"; `label_side` is "above",
    "below", "left" or "right" of the bar (`bar_layout` keeps the label inside the panel). `ticks`: a
    ruler, a thin line with a tick at each end (the bar box is the line's; the ticks stand out of it,
    away from the label).
    """
    layout = bar_layout(pixels.shape, label, bar_px, corner=corner, label_side=label_side, thickness=thickness,
                        font_px=font_px, box=box, bold=bold)
    ink, paper = (255, 0) if white else (0, 255)
    image = Image.fromarray(pixels)
    fill = ink if image.mode == "L" else (ink,) * 3
    draw = ImageDraw.Draw(image)
    if box:
        gx0, gy0, gx1, gy1 = layout.group
        g = layout.gap
        draw.rectangle((gx0 - g, gy0 - g, gx1 + g, gy1 + g), fill=paper if image.mode == "L" else (paper,) * 3)
    bar = layout.bar
    draw.rectangle((bar[0], bar[1], bar[2] - 1, bar[3] - 1), fill=fill)
    if ticks:
        thick = bar[3] - bar[1]
        tick = 3 * thick  # away from the label, so the label's line stays clear
        y0, y1 = (bar[3], bar[3] + tick) if layout.label_side == "above" else (bar[1] - tick, bar[1])
        for x in (bar[0], bar[2] - thick):
            draw.rectangle((x, y0, x + thick - 1, y1 - 1), fill=fill)
    (tx, ty), (ox, oy) = layout.text_xy, layout.text_offset
    draw.text((tx - ox, ty - oy), label, font=layout.font, fill=fill)
    return np.asarray(image), bar, layout.label_bbox


def jpeg(pixels: np.ndarray, quality: int) -> np.ndarray:
    """The pixels after a JPEG round trip at `quality` (what a publisher's PDF does to a figure)."""
    ok, data = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return cv2.imdecode(data, cv2.IMREAD_UNCHANGED)


def make_bar_panel(rng: np.random.Generator, *, width: int | None = None) -> tuple[np.ndarray, DrawnBar]:
    """A random micrograph-like panel 100–600 px wide with one scale bar, after JPEG q40–90."""
    width = width or int(rng.integers(100, 601))
    height = int(width * rng.uniform(0.65, 1.0))
    kind = str(rng.choice(["SEM", "TEM", "STEM"]))
    background = PixelBank(int(rng.integers(1 << 30))).array(width, height, kind, 0)
    label, value_m = LABELS[int(rng.integers(len(LABELS)))]
    white = bool(np.median(background) < 128)  # authors pick the polarity that shows...
    box = bool(rng.random() < 0.25)
    if rng.random() < 0.15:  # ...or the other one, on a box
        white, box = not white, True
    corner = str(rng.choice(["bottom-right", "bottom-right", "bottom-left", "top-left"]))
    side = str(rng.choice(["above", "above", "below", "right", "left"]))
    bar_px = int(rng.uniform(0.12, 0.35) * width)
    font_px = max(10, round(rng.uniform(0.05, 0.09) * height))
    thickness = max(2, round(rng.uniform(0.012, 0.03) * height))
    bold = bool(rng.random() < 0.3)
    style = dict(corner=corner, label_side=side, thickness=thickness, font_px=font_px, bold=bold)
    white, box = legible_style(background, bar_layout(background.shape, label, bar_px, box=box, **style), white, box)
    drawn, bar, text_box = draw_scale_bar(background, label, bar_px, white=white, box=box, **style)
    if rng.random() < 0.3:
        drawn = cv2.cvtColor(drawn, cv2.COLOR_GRAY2RGB)
    return jpeg(drawn, int(rng.integers(40, 91))), DrawnBar(label, value_m, bar_px, bar, text_box, white)
