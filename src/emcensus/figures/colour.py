"""A false-colour panel back to the grey values it shows, through the colour map it was drawn with.

Why: authors publish micrographs in false colour (jet, hot, viridis...). Brightness is not monotonic
along rainbow maps (jet is dark blue, bright cyan-yellow, dark red), so the usual grey conversion
scrambles the structure ORB and the fidelity check see; along viridis, inferno or hot it rises, and
brightness (sharper than colour in a JPEG) stays the reading. A colour map is a path through RGB: a panel
drawn with one has nearly all its pixels on that path, and each pixel's place along it is the scalar
it shows. The map is detected, not assumed: among matplotlib's common sequential and rainbow maps
(their colours also cover OpenCV's maps of the same name to a few units), the one that holds nearly
all of a colourful panel's pixels; a panel that no map holds (an overlay, some colour photographs) keeps
the usual conversion. Many colour photographs are held by a map whose brightness rises (scikit-image's
coffee by copper, chelsea by pink, rocket by bone, retina by inferno), so they keep it too; a stained
RGB micrograph may be held by a map whose brightness does not (its immunohistochemistry sample by
terrain, 86 % of its pixels: read through terrain, correlating 0.79 with its brightness). Labels and arrows drawn on top are a few pixels off the path: the tolerance
leaves room for them and for JPEG's colour noise.
"""

from __future__ import annotations

from functools import cache

import cv2
import matplotlib
import numpy as np

#: Maps tried: matplotlib's perceptual, heat and rainbow maps (paths that do not cross themselves), and
#: two of OpenCV's that matplotlib lacks (MATLAB's default, parula, and OpenCV's own rainbow).
COMMON_MAPS = ("viridis", "plasma", "inferno", "magma", "cividis", "jet", "turbo", "rainbow", "hot", "afmhot",
               "gist_heat", "copper", "bone", "pink", "cool", "spring", "summer", "autumn", "winter",
               "cubehelix", "gnuplot", "gnuplot2", "CMRmap", "ocean", "terrain", "cv2:PARULA", "cv2:RAINBOW")
#: A colourful panel: this fraction of its pixels with channels `_CHROMA` apart or more.
_COLOURFUL = 0.2
_CHROMA = 40
#: A map holds a panel when this fraction of its pixels lie within `_TOLERANCE` (RGB units) of the map's
#: path. JPEG keeps brightness at full resolution and colour at half: a noisy micrograph in jet, saved
#: at q81, has only 56 % of its pixels within 30 units of jet (its neighbours on the path average to
#: chords off it); the next best map 32 %, an overlay on a grey micrograph none.
_ON_PATH = 0.5
_TOLERANCE = 30.0
#: Pixels sampled to detect the map (a grid over the panel).
_SAMPLE = 1024
#: Colours compared with the map's 256 at once (memory: chunk x 256 x 4 bytes).
_CHUNK = 16384
#: Pixels read back through the map at once: the whole panel at once took 37 bytes a pixel at its
#: peak (a 9 Mpx jet panel: 333 MB; an archive TIFF may hold 200 Mpx), a block of this many ~20 MB.
_BLOCK = 1 << 20


@cache
def _lut(name: str) -> np.ndarray:
    """The map's 256 colours, float32 RGB 0..255 (a name 'cv2:X' is OpenCV's COLORMAP_X)."""
    if name.startswith("cv2:"):
        bgr = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[None], getattr(cv2, f"COLORMAP_{name[4:]}"))
        return bgr[0, :, ::-1].astype(np.float32)
    return (matplotlib.colormaps[name](np.linspace(0.0, 1.0, 256))[:, :3] * 255).astype(np.float32)


@cache
def _brightness_monotonic(name: str) -> bool:
    """Whether brightness goes one way along the map (turning back by under 5 % of its change)."""
    steps = np.diff(_lut(name) @ np.array([0.299, 0.587, 0.114], np.float32))
    rise, fall = float(steps[steps > 0].sum()), float(-steps[steps < 0].sum())
    return min(rise, fall) < 0.05 * abs(rise - fall)


def _nearest(colours: np.ndarray, lut: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each colour's nearest place on the map (0..255) and its distance to it."""
    places = np.empty(len(colours), np.uint8)
    distances = np.empty(len(colours), np.float32)
    squared_lut = (lut * lut).sum(axis=1)
    for start in range(0, len(colours), _CHUNK):
        chunk = colours[start:start + _CHUNK].astype(np.float32)
        squared = (chunk * chunk).sum(axis=1)[:, None] - 2 * chunk @ lut.T + squared_lut[None]
        best = squared.argmin(axis=1)
        places[start:start + _CHUNK] = best
        distances[start:start + _CHUNK] = np.sqrt(np.maximum(squared[np.arange(len(chunk)), best], 0))
    return places, distances


def detect_colour_map(rgb: np.ndarray) -> str | None:
    """The name of the common colour map that holds a colourful panel (uint8 RGB), or None."""
    height, width = rgb.shape[:2]
    step = max(1, int(np.sqrt(height * width / _SAMPLE)))
    sample = rgb[::step, ::step, :3].reshape(-1, 3)
    if len(sample) == 0:
        return None
    chroma = sample.max(axis=1).astype(np.int16) - sample.min(axis=1)
    if np.mean(chroma >= _CHROMA) < _COLOURFUL:
        return None
    held = {name: float(np.mean(_nearest(sample, _lut(name))[1] <= _TOLERANCE)) for name in COMMON_MAPS}
    name = max(held, key=held.__getitem__)
    return name if held[name] >= _ON_PATH else None


def scalar_from_colour_map(rgb: np.ndarray) -> np.ndarray | None:
    """The grey values (uint8, each pixel's place along the map) of a false-colour panel (uint8 RGB),
    or None when no common map holds it, or when the map's brightness already rises (or falls) along
    it: JPEG keeps brightness at full resolution and colour at half, so brightness is then the
    sharper reading (an inferno panel at q41: 14 inliers by brightness, 9 by its place on the map)."""
    name = detect_colour_map(rgb)
    if name is None or _brightness_monotonic(name):
        return None
    height, width = rgb.shape[:2]
    scalar = np.empty((height, width), np.uint8)
    rows = max(1, _BLOCK // max(width, 1))
    for top in range(0, height, rows):  # a block at a time: each pixel's colour once, ~20 bytes a pixel
        pixels = rgb[top:top + rows, :, :3]
        packed = (pixels[..., 0].astype(np.uint32) << 16) | (pixels[..., 1].astype(np.uint32) << 8) | pixels[..., 2]
        unique, inverse = np.unique(packed.ravel(), return_inverse=True)
        colours = np.stack([(unique >> 16) & 255, (unique >> 8) & 255, unique & 255], axis=1)
        places, _ = _nearest(colours, _lut(name))
        scalar[top:top + rows] = places[inverse].reshape(pixels.shape[:2])
    return scalar


__all__ = ["COMMON_MAPS", "detect_colour_map", "scalar_from_colour_map"]
