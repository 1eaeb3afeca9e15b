"""A figure's panels: cut on its white (or black) gutters, recursively, the way a reader sees them.

Why: a published figure is often one raster holding several micrographs side by side. RANSAC can
localise a match inside the whole figure, but each panel has its own source, its own scale and its
own scale bar, and a small panel's keypoints drown among its neighbours'. Cutting is an X-Y cut:
full rows (then full columns) of the page colour split the region, blank margins are trimmed
(rows and columns blank but for a panel letter: `margin_fill`), and each piece is cut again.
Pieces under `min_side` are panel letters and stray marks, not panels. Upsampling small panels for
ORB is `features.prepare`'s job (one place for it).

The limits of gutters, on purpose: the page is white (>= 230: JPEG q40 ringing keeps a white gutter
above it) or black (<= 25), whichever has more blank rows and columns across the whole figure, so a
micrograph's black pores do not cut it on a white page; a row is blank when nearly all (`fill`) of
its pixels are page colour, and a gutter must be `min_gutter` rows wide, so a saturated streak
inside a micrograph does not cut it; a micrograph with a clipped-white band across its whole width
(TEM vacuum) on a white page is still cut there.
"""

from __future__ import annotations

import numpy as np

#: A panel box in figure pixels: x0, y0, x1, y1 (x1, y1 exclusive).
PanelBox = tuple[int, int, int, int]

_MAX_DEPTH = 12  # cuts nest rows > columns > rows...; real figures need 3-4 levels


def split_panels(pixels: np.ndarray, *, min_side: int = 32, min_gutter: int = 3, white: int = 230,
                 black: int = 25, fill: float = 0.98, margin_fill: float = 0.9) -> list[PanelBox]:
    """The panels of a figure in reading order (rows top to bottom, then left to right).

    The page colour is the polarity with more blank rows and columns across the whole figure; only
    it cuts (a dark micrograph on a white page is not cut along its black pores). A figure without
    gutters gives one box: its content without blank margins, or the whole image when it is blank
    or nothing is left above `min_side`.
    """
    array = np.asarray(pixels)
    if array.ndim == 3:  # white means every channel bright, black every channel dark
        light, dark = array[..., :3].min(axis=2) >= white, array[..., :3].max(axis=2) <= black
    else:
        light, dark = array >= white, array <= black
    height, width = array.shape[:2]
    counts = [int(_blank(mask, 0, fill).sum() + _blank(mask, 1, fill).sum()) for mask in (light, dark)]
    if max(counts) == 0:
        return [(0, 0, width, height)]
    page = light if counts[0] >= counts[1] else dark
    boxes: list[PanelBox] = []
    _cut(page, (0, 0, width, height), (min_side, min_gutter, fill, margin_fill), 0, boxes)
    return boxes or [(0, 0, width, height)]


def _blank(page: np.ndarray, axis: int, fill: float) -> np.ndarray:
    """Which rows (axis=1) or columns (axis=0) of the region are (nearly) all page colour."""
    return page.mean(axis=axis) >= fill


def _runs(blank: np.ndarray) -> list[tuple[int, int]]:
    """Start and end (exclusive) of each run of True."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], blank.astype(np.int8), [0]))))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def _trim(page: np.ndarray, box: PanelBox, fill: float) -> PanelBox:
    """The box without its blank margins (rows, then columns, until neither changes)."""
    x0, y0, x1, y1 = box
    while x1 > x0 and y1 > y0:
        region = page[y0:y1, x0:x1]
        rows = np.flatnonzero(~_blank(region, 1, fill))
        columns = np.flatnonzero(~_blank(region, 0, fill))
        if rows.size == 0 or columns.size == 0:
            return (x0, y0, x0, y0)
        trimmed = (x0 + int(columns[0]), y0 + int(rows[0]), x0 + int(columns[-1]) + 1, y0 + int(rows[-1]) + 1)
        if trimmed == (x0, y0, x1, y1):
            break
        x0, y0, x1, y1 = trimmed
    return (x0, y0, x1, y1)


def _cut(page: np.ndarray, box: PanelBox, rules: tuple[int, int, float, float], depth: int,
         out: list[PanelBox]) -> None:
    min_side, min_gutter, fill, margin_fill = rules
    x0, y0, x1, y1 = _trim(page, box, margin_fill)
    if min(x1 - x0, y1 - y0) < min_side:
        return
    region = page[y0:y1, x0:x1]
    if depth < _MAX_DEPTH:
        for axis in (1, 0):  # rows of panels first, then the panels in a row
            gutters = [(start, end) for start, end in _runs(_blank(region, axis, fill)) if end - start >= min_gutter]
            if not gutters:
                continue
            start = 0
            for gutter_start, gutter_end in gutters + [(y1 - y0 if axis == 1 else x1 - x0,) * 2]:
                if axis == 1:
                    piece = (x0, y0 + start, x1, y0 + gutter_start)
                else:
                    piece = (x0 + start, y0, x0 + gutter_start, y1)
                _cut(page, piece, rules, depth + 1, out)
                start = gutter_end
            return
    out.append((x0, y0, x1, y1))


__all__ = ["PanelBox", "split_panels"]
