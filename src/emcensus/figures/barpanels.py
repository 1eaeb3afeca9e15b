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
    "below", "left" or "right" of the bar. `ticks`: a ruler, a thin line with a tick at each end
    (the bar box is the line's; the ticks stand out of it, away from the label).
    """
    height, width = pixels.shape[:2]
    thickness = thickness or max(2, round(0.02 * height))
    font = dejavu_font(font_px or max(10, round(0.07 * height)), bold)
    x_text0, y_text0, x_text1, y_text1 = font.getbbox(label)
    text_w, text_h = x_text1 - x_text0, y_text1 - y_text0
    gap = max(2, text_h // 3)
    if label_side in ("above", "below"):
        group_w, group_h = max(bar_px, text_w), thickness + gap + text_h
    else:
        group_w, group_h = bar_px + gap + text_w, max(thickness, text_h)
    margin = max(4, round(0.04 * min(width, height))) + (gap if box else 0)
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
    ink, paper = (255, 0) if white else (0, 255)
    image = Image.fromarray(pixels)
    fill = ink if image.mode == "L" else (ink,) * 3
    draw = ImageDraw.Draw(image)
    if box:
        draw.rectangle((gx - gap, gy - gap, gx + group_w + gap, gy + group_h + gap), fill=paper if image.mode == "L" else (paper,) * 3)
    bar = (bar_xy[0], bar_xy[1], bar_xy[0] + bar_px, bar_xy[1] + thickness)
    draw.rectangle((bar[0], bar[1], bar[2] - 1, bar[3] - 1), fill=fill)
    if ticks:
        tick = 3 * thickness  # away from the label, so the label's line stays clear
        y0, y1 = (bar[3], bar[3] + tick) if label_side == "above" else (bar[1] - tick, bar[1])
        for x in (bar[0], bar[2] - thickness):
            draw.rectangle((x, y0, x + thickness - 1, y1 - 1), fill=fill)
    draw.text((text_xy[0] - x_text0, text_xy[1] - y_text0), label, font=font, fill=fill)
    text_box = (text_xy[0], text_xy[1], text_xy[0] + text_w, text_xy[1] + text_h)
    return np.asarray(image), bar, text_box


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
    drawn, bar, text_box = draw_scale_bar(
        background, label, bar_px, white=white, corner=corner, label_side=side, thickness=thickness,
        font_px=font_px, box=box, bold=bool(rng.random() < 0.3),
    )
    if rng.random() < 0.3:
        drawn = cv2.cvtColor(drawn, cv2.COLOR_GRAY2RGB)
    return jpeg(drawn, int(rng.integers(40, 91))), DrawnBar(label, value_m, bar_px, bar, text_box, white)
