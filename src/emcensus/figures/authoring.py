"""What authors do to a micrograph on its way into a figure, with the exact geometry kept as truth.

Crop, resize (panels down to 100 px), small rotation, flips, gamma and contrast, inverted contrast,
false colour, burned-in arrows and labels, a zoomed inset, a new scale bar (1-2-5 values and not,
some deliberately mislabelled) and a JPEG re-encode. Each step is a pure function of the pixels and
a seeded generator, so the synthetic corpus (`figures.synth`) knows for every published panel which
archive pixels it shows (`Panel.matrix`, `crop_box_px`) and what its scale bar says.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from emcensus.figures.barpanels import bar_layout, dejavu_font, draw_scale_bar, jpeg, legible_style
from emcensus.figures.features import to_grey8

#: Scale-bar mantissas authors pick: the 1-2-5 series and the others seen in papers (300 nm, 750 nm).
NICE_MANTISSAS = (1.0, 2.0, 5.0)
ODD_MANTISSAS = (1.5, 2.5, 3.0, 4.0, 6.0, 7.5, 8.0)

_COLOURMAPS = (cv2.COLORMAP_INFERNO, cv2.COLORMAP_VIRIDIS, cv2.COLORMAP_HOT, cv2.COLORMAP_JET, cv2.COLORMAP_BONE)
_WORDS = ("Pd", "pore", "*", "A", "B", "NP", "grain", "C film", "void", "#1", "agglomerate", "crack")


@dataclass
class ScaleBarTruth:
    """A scale bar drawn into a panel: `value_m` is what the label says, `true_value_m` what the bar is."""

    value_m: float
    label: str
    bar_px: float
    bbox: list[int]  # the bar, panel pixels [x0, y0, x1, y1]
    label_bbox: list[int]
    true_value_m: float
    mislabelled: bool
    # how it is drawn (a vector figure draws it again over the traced panel); absent in older truth files
    white: bool = True
    box: bool = False
    font_px: int = 0
    bold: bool = False


@dataclass
class InsetTruth:
    """A zoomed copy of part of the panel, pasted into a corner of it."""

    bbox_px: list[int]  # where the inset sits in the panel
    region_px: list[int]  # the panel region it magnifies
    crop_box_px: list[float]  # that region in the source's pixels
    scale: float  # inset px per source px


@dataclass
class PanelTruth:
    """Geometry and edits of one published panel relative to its source pixels."""

    size_px: list[int]  # [width, height]
    crop_box_px: list[float]  # axis-aligned box of the source shown, source pixels [x0, y0, x1, y1]
    scale: float  # panel px per source px
    matrix: list[list[float]]  # 2x3, source pixel (x, y) -> panel pixel, cv2.warpAffine convention
    rotation_deg: float
    flip: str  # "", "h" (left-right) or "v" (up-down)
    edits: list[str] = field(default_factory=list)
    jpeg_quality: int | None = None
    fov_m: float | None = None  # panel width in metres
    scale_bar: ScaleBarTruth | None = None
    insets: list[InsetTruth] = field(default_factory=list)


def _crop_box(rng: np.random.Generator, source: np.ndarray, aspect: float) -> tuple[float, float, float, float]:
    """A box of 20-100 % of the image width (or height), of the panel's aspect (height/width).

    Of a few random boxes the one with the most structure wins: authors crop what is worth showing,
    not a flat patch of substrate.
    """
    height, width = source.shape[:2]
    frac = float(rng.uniform(0.2, 1.0))
    cw = frac * width
    ch = cw * aspect
    if ch > height:
        ch = frac * height
        cw = ch / aspect
        if cw > width:
            cw, ch = width, width * aspect
    smooth = cv2.GaussianBlur(source.astype(np.float32), (0, 0), 2)
    best, best_score = (0.0, 0.0, cw, ch), -1.0
    for _ in range(4):
        x0 = float(rng.uniform(0, width - cw))
        y0 = float(rng.uniform(0, height - ch))
        score = float(smooth[int(y0):int(y0 + ch) + 1, int(x0):int(x0 + cw) + 1].std())
        if score > best_score:
            best, best_score = (x0, y0, x0 + cw, y0 + ch), score
    return best


def _affine(box: tuple[float, float, float, float], size: tuple[int, int], angle: float, flip: str) -> np.ndarray:
    """3x3 map from source pixel indices to panel pixel indices (pixel centres at integers)."""
    pw, ph = size
    s = pw / (box[2] - box[0])
    # continuous coordinates (pixel i spans [i, i+1)): shift to the box, scale, flip, rotate about the centre
    m = np.array([[s, 0, -s * box[0]], [0, s, -s * box[1]], [0, 0, 1]], float)
    if flip == "h":
        m = np.array([[-1, 0, pw], [0, 1, 0], [0, 0, 1]], float) @ m
    elif flip == "v":
        m = np.array([[1, 0, 0], [0, -1, ph], [0, 0, 1]], float) @ m
    if angle:
        rot = np.vstack([cv2.getRotationMatrix2D((pw / 2, ph / 2), angle, 1.0), [0, 0, 1]])
        m = rot @ m
    half = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1]], float)
    return np.linalg.inv(half) @ m @ half


def place(source: np.ndarray, size: tuple[int, int], rng: np.random.Generator, *, allow_flip: bool = True,
          box: tuple[float, float, float, float] | None = None) -> tuple[np.ndarray, PanelTruth]:
    """Crop, rotate (<= 3 degrees, sometimes), flip (sometimes) and resize `source` into a panel of `size`."""
    pw, ph = size
    h, w = source.shape[:2]
    box = box or _crop_box(rng, source, ph / pw)
    angle = float(rng.uniform(-3, 3)) if rng.random() < 0.2 else 0.0
    flip = str(rng.choice(["h", "v"], p=[0.75, 0.25])) if allow_flip and rng.random() < 0.18 else ""
    m = _affine(box, size, angle, flip)
    scale = pw / (box[2] - box[0])
    if scale < 1:
        # area-average first (warpAffine alone would alias), then warp what is left of the map
        qw, qh = max(1, round(w * scale)), max(1, round(h * scale))
        small = cv2.resize(source, (qw, qh), interpolation=cv2.INTER_AREA)
        sx, sy = qw / w, qh / h
        to_small = np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5], [0, 0, 1]])
        panel = cv2.warpAffine(small, (m @ np.linalg.inv(to_small))[:2], (pw, ph), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REFLECT)
    else:
        panel = cv2.warpAffine(source, m[:2], (pw, ph), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    truth = PanelTruth(size_px=[pw, ph], crop_box_px=[round(v, 3) for v in box], scale=round(scale, 6),
                       matrix=[[round(float(v), 6) for v in row] for row in m[:2]], rotation_deg=round(angle, 3),
                       flip=flip)
    return panel, truth


def adjust(panel: np.ndarray, rng: np.random.Generator, edits: list[str]) -> np.ndarray:
    """Gamma, contrast stretch, inverted contrast, false colour: the tone edits of figure software."""
    out = panel.astype(np.float32) / 255
    if rng.random() < 0.4:
        gamma = float(rng.uniform(0.6, 1.6))
        out = out**gamma
        edits.append(f"gamma {gamma:.2f}")
    if rng.random() < 0.4:
        lo, hi = np.percentile(out, (float(rng.uniform(0, 5)), float(rng.uniform(95, 100))))
        out = np.clip((out - lo) / max(hi - lo, 1e-3), 0, 1)
        edits.append("contrast")
    if rng.random() < 0.08:
        out = 1 - out
        edits.append("inverted")
    grey = np.clip(out * 255 + 0.5, 0, 255).astype(np.uint8)
    if rng.random() < 0.1:
        cmap = _COLOURMAPS[int(rng.integers(len(_COLOURMAPS)))]
        edits.append("false colour")
        return cv2.cvtColor(cv2.applyColorMap(grey, cmap), cv2.COLOR_BGR2RGB)
    return grey


def format_length(value_m: float, micro: str = "µm") -> str:
    """`300 nm`, `1.5 µm`, `2 mm`: how a scale-bar label writes a length."""
    for factor, unit in ((1e3, "mm"), (1e6, micro), (1e9, "nm")):
        v = value_m * factor
        if v >= 1 - 1e-9:
            return f"{v:.3g} {unit}"
    return f"{value_m * 1e12:.3g} pm"


def choose_bar_value(rng: np.random.Generator, fov_m: float, width_px: int, nice: bool) -> float:
    """A bar value near a fifth to a third of the field, 1-2-5 or not, between 8 px and 45 % of the width."""
    target = fov_m * float(rng.uniform(0.15, 0.35))
    decade = 10 ** math.floor(math.log10(target))
    mantissas = NICE_MANTISSAS if nice else ODD_MANTISSAS
    values = [m * decade * k for k in (0.1, 1, 10) for m in mantissas]
    fits = [v for v in values if 8 <= v / fov_m * width_px <= 0.45 * width_px] or values
    return min(fits, key=lambda v: abs(math.log(v / target)))


def add_scale_bar(panel: np.ndarray, rng: np.random.Generator, pixel_m: float) -> tuple[np.ndarray, ScaleBarTruth]:
    """Burn a new scale bar with its label into the panel (`barpanels.draw_scale_bar`); 5 % are mislabelled.

    `pixel_m`: the panel's pixel size in metres; the bar is drawn to the true length of its value.
    """
    ph, pw = panel.shape[:2]
    value = choose_bar_value(rng, pw * pixel_m, pw, nice=rng.random() < 0.7)
    bar_px = max(1, round(value / pixel_m))
    printed = value
    mislabelled = rng.random() < 0.05
    if mislabelled:
        printed = value * float(rng.choice([10.0, 0.1, 2.0, 0.5, 1000.0]))
    label = format_length(printed, "um" if rng.random() < 0.15 else "µm")
    white = float(panel.mean()) < 140  # the polarity that shows...
    box = rng.random() < 0.25
    if rng.random() < 0.15:  # ...or the other one, on a box
        white, box = not white, True
    style = dict(corner=str(rng.choice(["bottom-right", "bottom-right", "bottom-left"])),
                 label_side=str(rng.choice(["above", "above", "below", "right"])),
                 font_px=max(10, round(ph * float(rng.uniform(0.06, 0.09)))), bold=bool(rng.random() < 0.4))
    layout = bar_layout(panel.shape, label, bar_px, box=box, **style)
    white, box = legible_style(panel, layout, white, box)  # from the pixels: the random streams stay as they were
    drawn, bar, text_box = draw_scale_bar(panel, label, bar_px, white=white, box=box, **style)
    truth = ScaleBarTruth(value_m=float(f"{printed:.6g}"), label=label, bar_px=float(bar_px), bbox=list(bar),
                          label_bbox=list(text_box), true_value_m=float(f"{bar_px * pixel_m:.6g}"),
                          mislabelled=mislabelled, white=white, box=box, font_px=layout.font.size,
                          bold=bool(style["bold"]))
    return drawn, truth


def annotate(panel: np.ndarray, rng: np.random.Generator, edits: list[str]) -> np.ndarray:
    """Arrows and short labels over the detail, in white, yellow or red, as authors add them."""
    from PIL import Image, ImageDraw

    ph, pw = panel.shape[:2]
    out = panel if panel.ndim == 3 else cv2.cvtColor(panel, cv2.COLOR_GRAY2RGB)
    colour = [(255, 255, 255), (255, 230, 0), (230, 30, 30)][int(rng.integers(3))]
    changed = False
    if rng.random() < 0.3:
        for _ in range(int(rng.integers(1, 4))):
            tip = (int(rng.uniform(0.2, 0.8) * pw), int(rng.uniform(0.2, 0.8) * ph))
            ang = rng.uniform(0, 2 * np.pi)
            length = rng.uniform(0.1, 0.2) * pw
            tail = (int(tip[0] + length * np.cos(ang)), int(tip[1] + length * np.sin(ang)))
            cv2.arrowedLine(out, tail, tip, colour, max(1, round(pw / 120)), cv2.LINE_AA, tipLength=0.3)
        edits.append("arrows")
        changed = True
    if rng.random() < 0.25:
        image = Image.fromarray(out)
        draw = ImageDraw.Draw(image)
        for _ in range(int(rng.integers(1, 3))):
            word = _WORDS[int(rng.integers(len(_WORDS)))]
            draw.text((rng.uniform(0.15, 0.7) * pw, rng.uniform(0.15, 0.7) * ph), word,
                      font=dejavu_font(max(9, round(ph / 11)), True), fill=colour)
        out = np.asarray(image)
        edits.append("labels")
        changed = True
    if not changed:
        return panel
    if panel.ndim == 2 and colour == (255, 255, 255):
        return out[..., 0].copy()
    return out


def inset(panel: np.ndarray, truth: PanelTruth, rng: np.random.Generator) -> np.ndarray:
    """Paste a 2-3x zoom of a small region into the top-right corner, with a white frame."""
    ph, pw = panel.shape[:2]
    zoom = float(rng.uniform(2.0, 3.0))
    rw = max(8, round(pw * rng.uniform(0.12, 0.16)))
    rh = max(6, round(rw * ph / pw))
    rx, ry = int(rng.uniform(0.1, 0.5) * pw), int(rng.uniform(0.3, 0.8) * ph - rh)
    ry = max(0, ry)
    region = panel[ry:ry + rh, rx:rx + rw]
    iw, ih = round(rw * zoom), round(rh * zoom)
    big = cv2.resize(region, (iw, ih), interpolation=cv2.INTER_CUBIC)
    out = panel.copy()
    ix, iy = pw - iw - 3, 3
    white = 255 if panel.ndim == 2 else (255, 255, 255)
    cv2.rectangle(out, (ix - 2, iy - 2), (ix + iw + 1, iy + ih + 1), white, 2)
    out[iy:iy + ih, ix:ix + iw] = big
    cv2.rectangle(out, (rx, ry), (rx + rw - 1, ry + rh - 1), white, 1)  # where the zoom comes from
    inv = np.linalg.inv(np.vstack([np.array(truth.matrix), [0, 0, 1]]))
    corners = np.array([[rx, ry, 1], [rx + rw, ry, 1], [rx, ry + rh, 1], [rx + rw, ry + rh, 1]], float) @ inv.T
    truth.insets.append(InsetTruth(
        bbox_px=[ix, iy, ix + iw, iy + ih], region_px=[rx, ry, rx + rw, ry + rh],
        crop_box_px=[round(float(corners[:, 0].min()), 3), round(float(corners[:, 1].min()), 3),
                     round(float(corners[:, 0].max()), 3), round(float(corners[:, 1].max()), 3)],
        scale=round(truth.scale * iw / rw, 6)))
    truth.edits.append("inset")
    return out


def burn_letter(pixels: np.ndarray, letter: str) -> np.ndarray:
    """A panel letter in a white box at the top left, part of the pixels (as pasted from slides)."""
    from PIL import Image, ImageDraw

    size = max(10, pixels.shape[0] // 9)
    image = Image.fromarray(pixels)
    draw = ImageDraw.Draw(image)
    white = 255 if pixels.ndim == 2 else (255, 255, 255)
    black = 0 if pixels.ndim == 2 else (0, 0, 0)
    draw.rectangle([0, 0, size * 0.9, size * 1.2], fill=white)
    draw.text((2, 0), letter, font=dejavu_font(size, True), fill=black)
    return np.asarray(image)


def author_panel(source: np.ndarray, pixel_m: float, size: tuple[int, int], rng: np.random.Generator, *,
                 scale_bar: bool = True, allow_inset: bool = True,
                 box: tuple[float, float, float, float] | None = None) -> tuple[np.ndarray, PanelTruth]:
    """The whole chain, in the order figure software applies it, from source pixels to a placed panel.

    `pixel_m`: the source's pixel size in metres (the panel's bar is drawn from it).
    `box`: the source region to show (chosen at random, 20-100 % of the width, when None).
    """
    panel, truth = place(to_grey8(source), size, rng, box=box)
    truth.fov_m = size[0] * pixel_m / truth.scale
    panel = adjust(panel, rng, truth.edits)
    if allow_inset and min(size) >= 120 and rng.random() < 0.15:
        panel = inset(panel, truth, rng)
    panel = annotate(panel, rng, truth.edits)
    if scale_bar and rng.random() < 0.85:
        panel, truth.scale_bar = add_scale_bar(panel, rng, pixel_m / truth.scale)
    if rng.random() < 0.6:
        truth.jpeg_quality = int(rng.integers(40, 91))
        panel = jpeg(panel, truth.jpeg_quality)
    return np.ascontiguousarray(panel), truth


__all__ = [
    "InsetTruth", "PanelTruth", "ScaleBarTruth", "add_scale_bar", "adjust", "annotate", "author_panel", "burn_letter",
    "choose_bar_value", "format_length", "inset", "place",
]
