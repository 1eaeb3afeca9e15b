"""Synthetic micrographs for the demo archive: every acquisition a different field of a specimen.

A demo archive holds up to 150,000 images, so rendering each one (`figures.textures`, tens of ms)
is too slow. Instead each specimen kind has one texture tile, rendered once per process at three
magnifications, and each frame is its own window of it: its own offset, magnification, rotation by
90 degrees and flip, detector gain, gamma and shot noise. A tile holds tens of thousands of window
positions per orientation, so two acquisitions rarely show the same field (their perceptual hashes
stay far apart), while a frame's exports (tif + jpg) and copies are the same pixels. The images of
one specimen (a project's sample) share its texture kind, as a session at the microscope images one
specimen. Tiles do not depend on the archive's seed (they are built once per process); the windows do.
"""

from __future__ import annotations

import hashlib
import io

import numpy as np

#: Specimen kinds by technique (`figures.textures` names): dark-field-like STEM shows bright
#: features on a dark background, bright-field TEM dark particles on a carbon film.
TEXTURES_BY_TECHNIQUE: dict[str, tuple[str, ...]] = {
    "SEM": ("particles", "pores", "fibres", "crystals", "films"),
    "STEM": ("particles", "fibres"),
    "TEM": ("tem", "crystals"),
}
#: Side (px) of a texture tile at full size, and the scene width it shows (smallest features ~1.3 px).
TILE_SIDE = 512
TILE_FOV = 1.0
#: Tile pixels per frame pixel of each magnification a frame may be cut at (a lower one shows more).
ZOOMS = (1.0, 1.35, 1.8)
#: Per-frame shot noise (grey levels, one sigma), cut from a precomputed noise field.
NOISE_SIGMA = 5.0
#: Tone curves (gain, offset, gamma) a frame picks one of.
TONE_CURVES = 64
#: Pixels (from the start of the first row) changed per frame to make its bytes unique.
STAMP_PIXELS = 16
#: Buffers precomputed per (width, height, kind) by `PixelBank.array` (figure backgrounds).
VARIANTS = 8

#: Texture tiles by (texture, zoom index): built on first use, or installed by a pool's initializer.
_TILES: dict[tuple[str, int], np.ndarray] = {}
_NOISE: list[np.ndarray] = []
_CURVES: list[np.ndarray] = []
_LAYOUTS: dict[tuple[int, int], tuple[bytes, bytes]] = {}


def _particles(rng: np.random.Generator, width: int, height: int, kind: str) -> np.ndarray:
    """Blobs on a background at any size: a quick micrograph-like background for figure panels."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    if kind == "TEM":
        # bright background, dark particles (bright-field TEM)
        image = np.full((height, width), 185.0, np.float32) + rng.normal(0, 6, (height, width))
        for _ in range(int(rng.integers(4, 14))):
            cx, cy = rng.uniform(0, width), rng.uniform(0, height)
            r = rng.uniform(1.5, max(2.0, width / 10))
            image -= 110 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))
    elif kind == "STEM":
        # dark-ish background, bright particles (dark-field like)
        image = np.full((height, width), 40.0, np.float32) + rng.normal(0, 8, (height, width))
        for _ in range(int(rng.integers(5, 16))):
            cx, cy = rng.uniform(0, width), rng.uniform(0, height)
            r = rng.uniform(1.0, max(1.5, width / 14))
            image += 160 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))
    else:
        # SEM: shaded background with edge-bright spheres and scan noise
        gx, gy = rng.uniform(-0.5, 0.5, 2)
        image = 90 + 30 * (gx * xx / width + gy * yy / height) + rng.normal(0, 10, (height, width))
        for _ in range(int(rng.integers(3, 10))):
            cx, cy = rng.uniform(0, width), rng.uniform(0, height)
            r = rng.uniform(2.0, max(3.0, width / 6))
            d = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2) / r
            inside = d < 1
            image[inside] += (60 + 80 * d[inside] ** 4)
        image += rng.normal(0, 6, (height, width)) * (1 + (xx % 7 == 0))  # faint line noise
    return np.clip(image, 0, 255).astype(np.uint8)


class PixelBank:
    """The per-seed state of the pixel writer: figure backgrounds (`array`); frames use its seed."""

    def __init__(self, seed: int):
        self.seed = seed
        self._arrays: dict[tuple[int, int, str, int], np.ndarray] = {}

    def array(self, width: int, height: int, kind: str, variant: int) -> np.ndarray:
        """One of VARIANTS blob images of this size and technique (figure backgrounds of any size)."""
        key = (width, height, kind, variant % VARIANTS)
        arr = self._arrays.get(key)
        if arr is None:
            arr = self._arrays[key] = _particles(_rng(f"{self.seed}/{key}"), width, height, kind)
        return arr


def texture_tile(texture: str, zoom_index: int) -> np.ndarray:
    """The uint8 micrograph of the specimen of kind `texture`, TILE_SIDE / ZOOMS[zoom_index] px a side."""
    tile = _TILES.get((texture, zoom_index))
    if tile is None:
        import cv2

        from emcensus.figures.textures import acquire, make_scene, render

        full = _TILES.get((texture, 0))
        if full is None:
            scene_seed = int.from_bytes(_digest(f"tile/{texture}", 4), "little")
            signal = render(make_scene(texture, scene_seed), (0.5, 0.5), TILE_FOV, TILE_SIDE, TILE_SIDE)
            full = _TILES[(texture, 0)] = acquire(signal, scene_seed)
        side = round(TILE_SIDE / ZOOMS[zoom_index])
        tile = _TILES[(texture, zoom_index)] = cv2.resize(full, (side, side), interpolation=cv2.INTER_AREA)
    return tile


def all_tiles() -> dict[tuple[str, int], np.ndarray]:
    """Every tile a frame may use, built now: a parent builds them once for its pool (`install_tiles`)."""
    for texture in sorted({t for kinds in TEXTURES_BY_TECHNIQUE.values() for t in kinds}):
        for zoom_index in range(len(ZOOMS)):
            texture_tile(texture, zoom_index)
    return dict(_TILES)


def install_tiles(tiles: dict[tuple[str, int], np.ndarray]) -> None:
    """Use tiles built elsewhere (a pool worker's initializer) instead of rendering them again."""
    _TILES.update(tiles)


def _noise() -> tuple[np.ndarray, np.ndarray]:
    """A TILE_SIDE square of Gaussian shot noise (grey levels, as its positive and negative parts in
    uint8, for saturating adds); frames cut their own window."""
    if not _NOISE:
        field = np.round(_rng("noise").normal(0, NOISE_SIGMA, (TILE_SIDE, TILE_SIDE)))
        _NOISE.extend(np.clip(sign * field, 0, 255).astype(np.uint8) for sign in (1, -1))
    return _NOISE[0], _NOISE[1]


def _tiff_layout(width: int, height: int) -> tuple[bytes, bytes]:
    """The bytes of an uncompressed 8-bit TIFF of this size before and after its pixels."""
    found = _LAYOUTS.get((width, height))
    if found is None:
        import tifffile

        buffer = io.BytesIO()
        tifffile.imwrite(buffer, np.zeros((height, width), np.uint8), photometric="minisblack", metadata=None,
                         software=False)
        data = buffer.getvalue()
        with tifffile.TiffFile(io.BytesIO(data)) as tif:
            offset = int(tif.pages.first.dataoffsets[0])
        found = _LAYOUTS[(width, height)] = (data[:offset], data[offset + width * height :])
    return found


def _digest(text: str, size: int) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=size).digest()


def _rng(text: str) -> np.random.Generator:
    return np.random.default_rng(int.from_bytes(_digest(text, 8), "little"))


def texture_of(kind: str, specimen: str, seed: int) -> str:
    """The texture kind a specimen shows under technique `kind` (the same for all its images)."""
    choices = TEXTURES_BY_TECHNIQUE.get(kind, TEXTURES_BY_TECHNIQUE["SEM"])
    return choices[int.from_bytes(_digest(f"{seed}/{specimen}", 4), "little") % len(choices)]


def frame_stamp(seed: int, frame: int) -> bytes:
    """16 bytes, 0..31 each, unique to a frame: XORed into its first pixels, and the seed of its window."""
    digest = hashlib.blake2b(f"{seed}:{frame}".encode(), digest_size=STAMP_PIXELS).digest()
    return bytes(b & 0x1F for b in digest)


def stamped_array(bank: PixelBank, width: int, height: int, kind: str, variant: int, stamp: bytes,
                  specimen: str | None = None) -> np.ndarray:
    """The 8-bit image of one frame: its own window of its specimen's texture tile, tone curve and noise.

    `kind` is the technique (SEM, STEM, TEM); `specimen` (default: one per `variant`) picks the
    texture; `variant` and `stamp` (unique per frame) pick everything else.
    """
    import cv2

    texture = texture_of(kind, specimen if specimen is not None else f"variant {variant}", bank.seed)
    turns, flip, tone, zoom, top, left, n_top, n_left = _window_choice(variant, stamp)
    tile = texture_tile(texture, int(zoom * len(ZOOMS)))
    side = tile.shape[0]
    rows, cols = (width, height) if turns % 2 else (height, width)  # before the rotation
    if not 0 < max(rows, cols) <= side or min(rows, cols) <= 0:
        raise ValueError(f"a demo frame is 1 to {side} px a side, not {width} x {height}")
    top, left = int(top * (side - rows + 1)), int(left * (side - cols + 1))
    image = cv2.LUT(tile[top : top + rows, left : left + cols], _tone_curves()[tone])
    n_top, n_left = int(n_top * (TILE_SIDE - rows + 1)), int(n_left * (TILE_SIDE - cols + 1))
    brighter, darker = _noise()
    cv2.add(image, brighter[n_top : n_top + rows, n_left : n_left + cols], dst=image)  # saturating
    cv2.subtract(image, darker[n_top : n_top + rows, n_left : n_left + cols], dst=image)
    oriented = np.rot90(image, turns)
    arr = np.ascontiguousarray(oriented[:, ::-1] if flip else oriented)
    flat = arr.reshape(-1)
    flat[: len(stamp)] ^= np.frombuffer(stamp, np.uint8)
    return arr


def _window_choice(variant: int, stamp: bytes) -> tuple[int, int, int, float, float, float, float, float]:
    """A frame's quarter turns (0-3), flip (0/1), tone curve (index) and five numbers in [0, 1):
    magnification, window top and left, noise top and left; from one hash of its variant and stamp."""
    digest = hashlib.blake2b(stamp + variant.to_bytes(8, "little", signed=True), digest_size=12).digest()
    fields = (np.frombuffer(digest, "<u2")[1:] / 65536).tolist()
    return (digest[0] & 3, (digest[0] >> 2) & 1, digest[1] % TONE_CURVES, *fields)  # type: ignore[return-value]


def _tone_curves() -> np.ndarray:
    """TONE_CURVES lookup tables (uint8): the brightness, contrast and gamma an operator set."""
    if not _CURVES:
        rng = _rng("tone curves")
        levels = np.arange(256, dtype=np.float64) / 255
        gamma = rng.uniform(0.75, 1.35, (TONE_CURVES, 1))
        gain = rng.uniform(0.85, 1.15, (TONE_CURVES, 1))
        offset = rng.uniform(-12, 12, (TONE_CURVES, 1))
        _CURVES.append(np.clip(levels**gamma * 255 * gain + offset, 0, 255).astype(np.uint8))
    return _CURVES[0]


def stamped_tiff(bank: PixelBank, width: int, height: int, kind: str, variant: int, stamp: bytes,
                 specimen: str | None = None) -> bytes:
    """`stamped_array` as an uncompressed TIFF (a fixed layout around the pixels: no encoder per frame)."""
    head, tail = _tiff_layout(width, height)
    return head + stamped_array(bank, width, height, kind, variant, stamp, specimen).tobytes() + tail


def encode_pillow(arr: np.ndarray, fmt: str) -> bytes:
    """JPEG or BMP bytes of an 8-bit grey image."""
    from PIL import Image

    buffer = io.BytesIO()
    image = Image.fromarray(arr)  # 2-D uint8: mode "L"
    if fmt == "jpeg":
        image.save(buffer, format="JPEG", quality=88)
    elif fmt == "bmp":
        image.save(buffer, format="BMP")
    else:  # pragma: no cover - programming error
        raise ValueError(fmt)
    return buffer.getvalue()
