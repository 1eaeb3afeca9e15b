"""Thumbnails made on demand and cached beside the catalog (`<catalog>.thumbs/`), never in the archive.

Microscope images are often 16-bit with most of the range unused, so each is contrast-stretched
between percentiles before it is shrunk to 8 bits.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image

from emcensus.readers.base import sniff_format

THUMB_SIZE = 256
#: Percentiles mapped to black and white: robust to a few hot or dead pixels.
STRETCH = (0.5, 99.5)


class NoPreview(Exception):
    """This file has no cheap preview (native vendor format, unreadable pixels); the reason says why."""


def cache_dir(catalog_path: str | os.PathLike[str]) -> Path:
    return Path(f"{catalog_path}.thumbs")


def thumbnail(source: Path, cache: Path, key: str) -> Path:
    """Path of the cached PNG thumbnail of `source`, made first if needed. `key` changes with the file."""
    target = cache / f"{key}.png"
    if target.exists():
        return target
    image = _to_image(_load(source))
    image.thumbnail((THUMB_SIZE, THUMB_SIZE))
    cache.mkdir(parents=True, exist_ok=True)
    # Write then rename: a concurrent request never sees half a PNG.
    handle, temp = tempfile.mkstemp(dir=cache, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            image.save(out, format="PNG")
        os.replace(temp, target)
    except BaseException:
        os.unlink(temp)
        raise
    return target


def _load(source: Path) -> np.ndarray:
    try:
        with open(source, "rb") as handle:
            kind = sniff_format(handle.read(8))
        if kind == "tiff":
            with tifffile.TiffFile(source) as tif:
                return tif.pages[0].asarray()
        if kind in ("jpeg", "png", "bmp"):
            with Image.open(source) as image:
                image.draft("L" if image.mode == "L" else "RGB", (THUMB_SIZE * 2, THUMB_SIZE * 2))
                return np.asarray(image.convert("RGB") if image.mode in ("P", "CMYK", "YCbCr") else image)
    except Exception as exc:  # corrupt pixels are data, not a server error
        raise NoPreview(f"pixels unreadable: {exc}") from exc
    raise NoPreview(f"no preview for {source.suffix or 'this'} files (vendor format)")


def _to_image(pixels: np.ndarray) -> Image.Image:
    """A contrast-stretched 8-bit grey or RGB image from 2-D, RGB(A) or stacked pixels."""
    colour = pixels.ndim == 3 and pixels.shape[-1] in (3, 4)
    while pixels.ndim > (3 if colour else 2):
        pixels = pixels[0]  # first frame of a stack
    if colour:
        pixels = pixels[..., :3]
    step = max(1, max(pixels.shape[:2]) // (THUMB_SIZE * 2))
    pixels = pixels[::step, ::step].astype(np.float32)
    low, high = np.nanpercentile(pixels, STRETCH) if pixels.size else (0.0, 0.0)
    scaled = np.clip((pixels - low) / (high - low), 0, 1) if high > low else np.zeros_like(pixels)
    return Image.fromarray(np.nan_to_num(scaled * 255).astype(np.uint8), "RGB" if colour else "L")
