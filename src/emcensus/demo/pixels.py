"""Tiny synthetic micrographs: a few precomputed pixel buffers, made unique per frame cheaply.

Every frame gets its own bytes (so a content hash never merges two different acquisitions), but
only 16 pixels differ from one of a handful of precomputed buffers, so writing 150,000 images costs
a memory copy and one `write()` each. Copies of a frame are byte-identical to it.
"""

from __future__ import annotations

import hashlib
import io

import numpy as np

#: Buffers precomputed per (width, height, kind).
VARIANTS = 8
#: Pixels (from the start of the first row) changed per frame to make its bytes unique.
STAMP_PIXELS = 16


def _particles(rng: np.random.Generator, width: int, height: int, kind: str) -> np.ndarray:
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
    """Precomputed buffers and their TIFF encodings, per (width, height, kind, variant)."""

    def __init__(self, seed: int):
        self.seed = seed
        self._arrays: dict[tuple[int, int, str, int], np.ndarray] = {}
        self._tiffs: dict[tuple[int, int, str, int], tuple[bytes, int]] = {}

    def array(self, width: int, height: int, kind: str, variant: int) -> np.ndarray:
        key = (width, height, kind, variant % VARIANTS)
        arr = self._arrays.get(key)
        if arr is None:
            digest = hashlib.blake2b(f"{self.seed}/{key}".encode(), digest_size=8).digest()
            rng = np.random.default_rng(int.from_bytes(digest, "little"))
            arr = self._arrays[key] = _particles(rng, width, height, kind)
        return arr

    def tiff_template(self, width: int, height: int, kind: str, variant: int) -> tuple[bytes, int]:
        """TIFF bytes of a buffer and the offset of its first pixel."""
        key = (width, height, kind, variant % VARIANTS)
        found = self._tiffs.get(key)
        if found is None:
            import tifffile

            arr = self.array(width, height, kind, variant)
            buffer = io.BytesIO()
            tifffile.imwrite(buffer, arr, photometric="minisblack", metadata=None, software=False)
            data = buffer.getvalue()
            with tifffile.TiffFile(io.BytesIO(data)) as tif:
                offset = int(tif.pages.first.dataoffsets[0])
            assert data[offset : offset + 64] == arr.tobytes()[:64]
            found = self._tiffs[key] = (data, offset)
        return found


def frame_stamp(seed: int, frame: int) -> bytes:
    """16 bytes, 0..31 each, unique to a frame: XORed into its first pixels."""
    digest = hashlib.blake2b(f"{seed}:{frame}".encode(), digest_size=STAMP_PIXELS).digest()
    return bytes(b & 0x1F for b in digest)


def stamped_tiff(bank: PixelBank, width: int, height: int, kind: str, variant: int, stamp: bytes) -> bytes:
    template, offset = bank.tiff_template(width, height, kind, variant)
    data = bytearray(template)
    for i, s in enumerate(stamp):
        data[offset + i] ^= s
    return bytes(data)


def stamped_array(bank: PixelBank, width: int, height: int, kind: str, variant: int, stamp: bytes) -> np.ndarray:
    arr = bank.array(width, height, kind, variant).copy()
    flat = arr.reshape(-1)
    flat[: len(stamp)] ^= np.frombuffer(stamp, np.uint8)
    return arr


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
