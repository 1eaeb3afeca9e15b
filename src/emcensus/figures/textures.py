"""Procedural micrographs that look like six kinds of specimen, at any magnification.

The demo archive's blobs all look alike, so a matcher tested on them learns nothing about repeats,
magnification series or unrelated-but-similar specimens. Here a specimen is a `Scene`: seeded
geometric primitives (particles, pores, fibres, grains, cracks, lattice-fringed crystallites) in
scene units, with sizes spread over two decades. `render` draws any window of it at any pixel size,
so the same specimen can be shown at 2x, 5x and 10x with real new detail, and `acquire` adds what a
detector adds (blur, scan-line jitter, shot and read noise, line-to-line gain) with its own seed,
so that two shots of the same field seconds apart share structure but not noise; a later shot also
carries what the earlier ones left (contamination, charging: a smooth change across the field).

Pure numpy + OpenCV; no file is read or written.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: Specimen kinds; the first five look like SEM, `tem` like bright-field TEM on a carbon film.
TEXTURES: tuple[str, ...] = ("particles", "pores", "fibres", "crystals", "films", "tem")

#: A scene spans [0, SCENE] x [0, SCENE] scene units; views of width 0.05..0.7 fit inside.
SCENE = 1.0
#: Feature sizes run from this fraction of the scene up to 20x more (two decades of structure).
_SMALLEST = 0.0025


@dataclass(frozen=True)
class Scene:
    """A specimen: the primitives one kind draws, all in scene units (x, y, size...)."""

    kind: str
    seed: int
    background: float
    blobs: np.ndarray  # (n, 5): x, y, radius, brightness, elongation angle (particles, pores, tem)
    seeds: np.ndarray  # (n, 4): x, y, grain brightness, facet gradient angle (crystals, films)
    lines: tuple[np.ndarray, ...]  # polylines (m, 2) with width in `line_width` (fibres, cracks)
    line_width: np.ndarray


def _sizes(rng: np.random.Generator, n: int, exponent: float = 2.2) -> np.ndarray:
    """Radii with a power-law spread: many small, few big, so every magnification shows features."""
    u = rng.random(n)
    lo, hi = _SMALLEST, _SMALLEST * 20
    a = 1 - exponent
    return (lo**a + u * (hi**a - lo**a)) ** (1 / a)


def _clustered(rng: np.random.Generator, n: int, clusters: int) -> np.ndarray:
    """Positions where part of the points crowd around a few centres (agglomerates)."""
    pos = rng.random((n, 2)) * SCENE
    centres = rng.random((clusters, 2)) * SCENE
    crowded = rng.random(n) < 0.45
    which = rng.integers(0, clusters, n)
    pos[crowded] = centres[which[crowded]] + rng.normal(0, 0.02, (int(crowded.sum()), 2))
    return pos


def _walks(rng: np.random.Generator, n: int, length: float, steps: int, bend: float) -> tuple[np.ndarray, ...]:
    """Random curved polylines (fibres, cracks): a heading that drifts a little at each step."""
    out = []
    for _ in range(n):
        start = rng.random(2) * SCENE
        heading = rng.uniform(0, 2 * np.pi)
        turn = rng.normal(0, bend, steps).cumsum() + heading
        step = length * rng.uniform(0.4, 1.0) / steps
        pts = start + np.cumsum(np.stack([np.cos(turn), np.sin(turn)], 1) * step, axis=0)
        out.append(np.vstack([start, pts]))
    return tuple(out)


def make_scene(kind: str, seed: int) -> Scene:
    """The specimen `kind` grown from `seed`: the same arguments always give the same scene."""
    if kind not in TEXTURES:
        raise ValueError(f"unknown texture {kind!r}; one of {', '.join(TEXTURES)}")
    rng = np.random.default_rng([seed, TEXTURES.index(kind)])
    empty2 = np.zeros((0, 5))
    empty4 = np.zeros((0, 4))
    lines: tuple[np.ndarray, ...] = ()
    widths = np.zeros(0)
    blobs, seeds = empty2, empty4
    background = 0.3
    if kind in ("particles", "tem"):
        n = int(rng.integers(2500, 4000))
        pos = _clustered(rng, n, int(rng.integers(10, 40)))
        r = _sizes(rng, n)
        bright = rng.uniform(0.55, 0.9, n) if kind == "particles" else rng.uniform(0.15, 0.45, n)
        elong = rng.uniform(0, np.pi, n)
        blobs = np.column_stack([pos, r, bright, elong])
        background = rng.uniform(0.15, 0.35) if kind == "particles" else rng.uniform(0.7, 0.82)
    elif kind == "pores":
        n = int(rng.integers(1500, 2500))
        r = _sizes(rng, n, 2.5) * 1.3
        blobs = np.column_stack([rng.random((n, 2)) * SCENE, r, rng.uniform(0.05, 0.2, n), rng.uniform(0, np.pi, n)])
        background = rng.uniform(0.55, 0.75)
    elif kind == "fibres":
        n = int(rng.integers(400, 700))
        widths = _sizes(rng, n, 2.6) * 0.5
        lines = _walks(rng, n, 0.5, 40, 0.08)
        background = rng.uniform(0.08, 0.2)
        # a few particles sit on the fibres, as on real nanowire mats
        m = 600
        blobs = np.column_stack([rng.random((m, 2)) * SCENE, _sizes(rng, m) * 0.6, rng.uniform(0.6, 0.9, m),
                                 rng.uniform(0, np.pi, m)])
    elif kind in ("crystals", "films"):
        n = int(rng.integers(1500, 3000)) if kind == "crystals" else int(rng.integers(5000, 7000))
        contrast = 0.35 if kind == "crystals" else 0.1
        seeds = np.column_stack([rng.random((n, 2)) * SCENE, rng.uniform(0.5 - contrast, 0.5 + contrast, n),
                                 rng.uniform(0, 2 * np.pi, n)])
        background = 0.5
        if kind == "films":
            k = int(rng.integers(30, 60))
            lines = _walks(rng, k, 0.3, 30, 0.25)
            widths = _sizes(rng, k, 2.0) * 0.25
        m = 800
        blobs = np.column_stack([rng.random((m, 2)) * SCENE, _sizes(rng, m) * 0.4, rng.uniform(0.7, 0.95, m),
                                 rng.uniform(0, np.pi, m)])
    return Scene(kind, seed, float(background), blobs, seeds, lines, widths)


# --------------------------------------------------------------------------- rendering


def _hash01(ix: np.ndarray, iy: np.ndarray, salt: int) -> np.ndarray:
    """A value in [0, 1) per integer lattice point, independent of the window it is asked from."""
    h = (ix.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) ^ (iy.astype(np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F))
    h ^= np.uint64(salt * 0x165667B19E3779F9 & 0xFFFFFFFFFFFFFFFF)
    h ^= h >> np.uint64(29)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(32)
    return (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _value_noise(x0: float, y0: float, step: float, width: int, height: int, seed: int) -> np.ndarray:
    """Smooth noise with structure on every scale from 2 px to the window: grain of the substrate."""
    out = np.zeros((height, width), np.float32)
    xs = x0 + (np.arange(width) + 0.5) * step
    ys = y0 + (np.arange(height) + 0.5) * step
    spacing, amp, octave = _SMALLEST * 64, 1.0, 0
    while spacing / step >= 2.0:
        gx, gy = xs / spacing, ys / spacing
        ix0, iy0 = int(np.floor(gx[0])), int(np.floor(gy[0]))
        ix = np.arange(ix0, int(np.floor(gx[-1])) + 2)
        iy = np.arange(iy0, int(np.floor(gy[-1])) + 2)
        lattice = _hash01(ix[None, :], iy[:, None], seed * 131 + octave).astype(np.float32)
        mx = np.broadcast_to((gx - ix0).astype(np.float32)[None, :], (height, width))
        my = np.broadcast_to((gy - iy0).astype(np.float32)[:, None], (height, width))
        out += amp * cv2.remap(lattice, np.ascontiguousarray(mx), np.ascontiguousarray(my), cv2.INTER_CUBIC)
        spacing, amp, octave = spacing / 2, amp * 0.7, octave + 1
    return out


def _window(blobs: np.ndarray, x0: float, y0: float, x1: float, y1: float, pad: float) -> np.ndarray:
    keep = (blobs[:, 0] > x0 - pad) & (blobs[:, 0] < x1 + pad) & (blobs[:, 1] > y0 - pad) & (blobs[:, 1] < y1 + pad)
    return blobs[keep]


def _draw_blobs(img: np.ndarray, blobs: np.ndarray, x0: float, y0: float, step: float, style: str) -> None:
    """Particles (SEM edge brightening, or TEM mass-thickness with fringes) or pores (dark, bright rim)."""
    h, w = img.shape
    for x, y, r, b, angle in blobs:
        rp = r / step
        if rp < 0.6:
            continue
        cx, cy = (x - x0) / step - 0.5, (y - y0) / step - 0.5
        ext = rp * 1.6 + 2
        xa, xb = max(int(cx - ext), 0), min(int(cx + ext) + 1, w)
        ya, yb = max(int(cy - ext), 0), min(int(cy + ext) + 1, h)
        if xa >= xb or ya >= yb:
            continue
        yy, xx = np.mgrid[ya:yb, xa:xb].astype(np.float32)
        dx, dy = xx - cx, yy - cy
        c, s = np.cos(angle), np.sin(angle)
        u, v = (dx * c + dy * s) / 1.25, -dx * s + dy * c  # slightly elongated
        d = np.sqrt(u * u + v * v) / rp
        alpha = np.clip((1 - d) * rp, 0, 1)
        patch = img[ya:yb, xa:xb]
        if style == "sem":
            value = b * (0.55 + 0.5 * d**4) + 0.12 * (-(dx + dy) / (rp * 1.5))
            shadow = np.clip(1 - np.hypot(dx - rp * 0.3, dy - rp * 0.3) / (rp * 1.25), 0, 1) * 0.25
            patch -= shadow * (1 - alpha) * patch
        elif style == "pore":
            value = b + 0.55 * np.clip((d - 0.78) / 0.22, 0, 1) ** 2
        else:  # tem: thicker in the middle is darker; lattice fringes where they resolve
            value = patch.mean() - (patch.mean() - b) * np.sqrt(np.clip(1 - d * d, 0, 1))
            period = max(r / 7, _SMALLEST / 4) / step
            if period >= 3:
                phase = ((xx - cx) * np.cos(angle * 3) + (yy - cy) * np.sin(angle * 3)) / period
                value *= 1 + 0.18 * np.cos(2 * np.pi * phase)
        patch *= 1 - alpha
        patch += alpha * value


def _draw_voronoi(img: np.ndarray, seeds: np.ndarray, x0: float, y0: float, step: float, edge: float) -> None:
    """Faceted grains: one brightness and one facet gradient per grain, dark boundaries."""
    h, w = img.shape
    pad = 0.06
    near = _window(seeds, x0, y0, x0 + w * step, y0 + h * step, pad)
    if len(near) < 2:
        return
    subdiv = cv2.Subdiv2D((int(-pad / step) - 4, int(-pad / step) - 4, int(w + 2 * pad / step) + 8,
                           int(h + 2 * pad / step) + 8))
    pts = np.column_stack([(near[:, 0] - x0) / step, (near[:, 1] - y0) / step]).astype(np.float32)
    subdiv.insert([(float(px), float(py)) for px, py in pts])
    facets, centres = subdiv.getVoronoiFacetList([])
    labels = np.full((h, w), -1, np.int32)
    lookup = {(round(float(c[0]), 2), round(float(c[1]), 2)): i for i, c in enumerate(pts)}
    polys = []
    for facet, centre in zip(facets, centres):
        i = lookup.get((round(float(centre[0]), 2), round(float(centre[1]), 2)))
        if i is None:
            continue
        poly = np.round(facet).astype(np.int32)
        cv2.fillPoly(labels, [poly], int(i))
        polys.append(poly)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    valid = labels >= 0
    lab = np.where(valid, labels, 0)
    grad = 0.12 / (0.02 / step)  # about 0.12 across a typical grain
    value = near[lab, 2] + grad * ((xx - pts[lab, 0]) * np.cos(near[lab, 3]) + (yy - pts[lab, 1]) * np.sin(near[lab, 3]))
    img[valid] = value[valid].astype(np.float32)
    thickness = max(1, int(round(0.0006 / step)))
    cv2.polylines(img, polys, True, edge, thickness)


def _draw_lines(img: np.ndarray, lines: tuple[np.ndarray, ...], widths: np.ndarray, x0: float, y0: float,
                step: float, core: float, rim: float) -> None:
    """Fibres (bright rims, grey core: a cylinder in SE contrast) or cracks (dark, no rim)."""
    h, w = img.shape
    for pts, width in zip(lines, widths):
        wp = width / step
        if wp < 0.7:
            continue
        p = np.column_stack([(pts[:, 0] - x0) / step, (pts[:, 1] - y0) / step])
        if p[:, 0].max() < -wp or p[:, 1].max() < -wp or p[:, 0].min() > w + wp or p[:, 1].min() > h + wp:
            continue
        px = np.round(p * 4).astype(np.int32)  # shift=2: quarter-pixel positions
        cv2.polylines(img, [px], False, rim, max(1, int(round(wp))), cv2.LINE_8, 2)
        if wp >= 2.5:
            cv2.polylines(img, [px], False, core, max(1, int(round(wp * 0.55))), cv2.LINE_8, 2)


def render(scene: Scene, centre: tuple[float, float], fov: float, width: int, height: int) -> np.ndarray:
    """The noise-free signal of the window of width `fov` (scene units) centred on `centre`.

    Returns float32 (height, width) in about [0, 1]. A narrower `fov` at the same pixel size is a
    higher magnification of the same specimen, with the detail that was below a pixel before.
    """
    step = fov / width
    x0, y0 = centre[0] - fov / 2, centre[1] - height * step / 2
    img = np.full((height, width), scene.background, np.float32)
    noise = _value_noise(x0, y0, step, width, height, scene.seed)
    if noise.any():
        noise = (noise - noise.mean()) / (noise.std() + 1e-6)
    x1, y1 = x0 + fov, y0 + height * step
    kind = scene.kind
    if kind in ("crystals", "films"):
        _draw_voronoi(img, scene.seeds, x0, y0, step, 0.12 if kind == "crystals" else 0.3)
        img += 0.03 * noise
        if kind == "films":
            _draw_lines(img, scene.lines, scene.line_width, x0, y0, step, 0.05, 0.05)
        _draw_blobs(img, _window(scene.blobs, x0, y0, x1, y1, 0.02), x0, y0, step, "sem")
    elif kind == "fibres":
        img += 0.04 * noise
        order = np.argsort(scene.line_width)[::-1]  # thin fibres lie on top of thick ones
        _draw_lines(img, tuple(scene.lines[i] for i in order), scene.line_width[order], x0, y0, step, 0.5, 0.85)
        _draw_blobs(img, _window(scene.blobs, x0, y0, x1, y1, 0.02), x0, y0, step, "sem")
    elif kind == "pores":
        img += 0.06 * noise
        _draw_blobs(img, _window(scene.blobs, x0, y0, x1, y1, 0.05), x0, y0, step, "pore")
    elif kind == "tem":
        img += 0.035 * noise  # the amorphous carbon film
        _draw_blobs(img, _window(scene.blobs, x0, y0, x1, y1, 0.05), x0, y0, step, "tem")
    else:
        img += 0.05 * noise
        _draw_blobs(img, _window(scene.blobs, x0, y0, x1, y1, 0.05), x0, y0, step, "sem")
    return img


#: What each earlier exposure of a field leaves on the next shot of it (contamination, charging, beam
#: damage): a smooth change of the signal, this fraction of it (standard deviation over the field), over
#: patches about `_EXPOSURE_PATCH` of the field wide.
EXPOSURE_CHANGE = 0.03
_EXPOSURE_PATCH = 0.15


def acquire(signal: np.ndarray, seed: int, *, bits: int = 8, dose: float = 60.0, exposed: int = 0) -> np.ndarray:
    """What the detector records of `signal`: optics blur, scan-line jitter, line gain, shot and read noise;
    and, on a field the beam scanned `exposed` times before (repeats seconds apart), what those scans left:
    contamination and charging change the signal smoothly across the field (`EXPOSURE_CHANGE` each).

    `seed` is the shot's own: the same signal acquired twice gives two different images.
    Returns uint8 (`bits=8`) or uint16 using the top of a 16-bit range (`bits=16`).
    """
    if bits not in (8, 16):
        raise ValueError("bits must be 8 or 16")
    rng = np.random.default_rng([seed, 7])
    h, w = signal.shape
    signal = signal.astype(np.float32)
    if exposed:
        signal = signal * _exposure_change(np.random.default_rng([seed, 11]), exposed, h, w)
    img = cv2.GaussianBlur(signal, (0, 0), rng.uniform(0.5, 1.0))
    jitter = rng.normal(0, 0.35, h).astype(np.float32)  # each scan line starts a little early or late
    map_x = np.arange(w, dtype=np.float32)[None, :] + jitter[:, None]
    map_y = np.broadcast_to(np.arange(h, dtype=np.float32)[:, None], (h, w))
    img = cv2.remap(img, np.ascontiguousarray(map_x), np.ascontiguousarray(map_y), cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REFLECT)
    img = img * rng.uniform(0.85, 1.1) + rng.uniform(-0.04, 0.04)
    img *= (1 + rng.normal(0, 0.012, h).astype(np.float32))[:, None]
    counts = rng.poisson(np.clip(img, 0, None) * dose) / dose
    img = counts + rng.normal(0, 0.015, (h, w))
    top = 255 if bits == 8 else 60000
    return np.clip(img * top, 0, top).astype(np.uint8 if bits == 8 else np.uint16)


def _exposure_change(rng: np.random.Generator, exposed: int, height: int, width: int) -> np.ndarray:
    """A smooth multiplicative field around 1: the sum of `exposed` independent changes, each
    `EXPOSURE_CHANGE` (standard deviation) over patches `_EXPOSURE_PATCH` of the field wide."""
    cells = max(2, round(1 / _EXPOSURE_PATCH))  # a coarse grid, brought up smoothly to the field
    grid = (max(2, round(cells * height / max(height, width))), max(2, round(cells * width / max(height, width))))
    change = np.zeros((height, width), np.float32)
    for _ in range(exposed):
        field = cv2.resize(rng.standard_normal(grid).astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)
        change += (field - field.mean()) / max(float(field.std()), 1e-9)
    return 1 + EXPOSURE_CHANGE * change


def micrograph(kind: str, seed: int, width: int = 1280, height: int = 960, *, fov: float = 0.5,
               bits: int = 8) -> np.ndarray:
    """One image of a specimen no other seed shares (a distractor, a quick look at a kind)."""
    scene = make_scene(kind, seed)
    return acquire(render(scene, (0.5, 0.5), fov, width, height), seed, bits=bits)


__all__ = ["SCENE", "TEXTURES", "Scene", "acquire", "make_scene", "micrograph", "render"]
