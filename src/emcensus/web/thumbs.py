"""Thumbnails made on demand and cached beside the catalog (`<catalog>.thumbs/`), never in the archive.

Microscope images are often 16-bit with most of the range unused, so each is contrast-stretched
between percentiles before it is shrunk to 8 bits.

A preview must never take the server down, whatever the file is:

* the file is opened through `emcensus.access` (regular files only, non-blocking open, no atime),
  and the libraries read from that handle, never by name;
* memory is bounded: a TIFF is read at its smallest stored resolution (pyramid levels in SubIFDs)
  and, when its first page would decode to more than `MAX_PIXELS` / `MAX_BYTES`, strip by strip or
  tile by tile, keeping only every n-th pixel; a JPEG is decoded at 1/2–1/8 scale; anything else that
  large gets the placeholder with the reason;
* time is bounded: at most `WORKERS` previews are made at once, in daemon threads, and a request
  waits at most `TIME_LIMIT` seconds (the decode itself stops at that deadline too).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np
import tifffile
from PIL import Image

from emcensus.access import open_file
from emcensus.errors import EmcensusError
from emcensus.outputs import guard_output, whole_file
from emcensus.readers.base import sniff_format

THUMB_SIZE = 256
#: Percentiles mapped to black and white: robust to a few hot or dead pixels.
STRETCH = (0.5, 99.5)
#: A first page up to this size is decoded whole; a larger one strip by strip or tile by tile.
MAX_PIXELS = 64 * 2**20
MAX_BYTES = 256 * 2**20
#: Largest single strip or tile decoded (a 100k px wide image in one strip is refused).
MAX_SEGMENT_BYTES = 64 * 2**20
#: Previews made at once, previews waiting (beyond that, the placeholder at once), seconds allowed.
WORKERS = 2
PENDING = 64
TIME_LIMIT = 20.0
#: Pillow modes `Image.reduce` averages (16-bit PNG is copied at full size, within `MAX_PIXELS`).
_REDUCIBLE = frozenset({"L", "LA", "RGB", "RGBA", "I", "F"})
#: Pyramid levels looked at in a page's SubIFDs.
MAX_LEVELS = 16


class NoPreview(EmcensusError):
    """This file has no cheap preview (native vendor format, unreadable pixels, too large); the reason says why."""


class NotNow(NoPreview):
    """No preview now: the file cannot be opened, or the server is busy or too slow. Not remembered,
    since it may work later with the same file."""


def cache_dir(catalog_path: str | os.PathLike[str]) -> Path:
    return Path(f"{catalog_path}.thumbs")


def thumbnail(source: Path, cache: Path, key: str, *, roots: list[str] | None = None,
              deadline: float | None = None) -> Path:
    """Path of the cached PNG thumbnail of `source`, made first if needed. `key` changes with the file.

    A file that has no preview raises `NoPreview`; the reason is remembered beside the cache (under
    the same key) so that a huge or broken file is not decoded again on every page view. `roots`: the
    archives the cache must not be in (checked before anything is created).
    """
    target, refused = cache / f"{key}.png", cache / f"{key}.none"
    if target.exists():
        return target
    if refused.exists():
        raise NoPreview(refused.read_text(encoding="utf-8", errors="replace"))
    try:
        image = _preview(source, deadline if deadline is not None else time.monotonic() + TIME_LIMIT)
    except NotNow:
        raise
    except NoPreview as exc:
        reason = str(exc).encode()
        _write(cache, refused, roots, lambda out: out.write(reason))
        raise
    _write(cache, target, roots, lambda out: image.save(out, format="PNG"))
    return target


def _write(cache: Path, target: Path, roots: list[str] | None, write: Callable[[BinaryIO], object]) -> None:
    """Written whole: a concurrent request never sees half a file."""
    guard_output(cache, roots or [], what="thumbnail cache", folder=True)
    cache.mkdir(exist_ok=True)
    with whole_file(target) as partial, open(partial, "wb") as out:
        write(out)


def _preview(source: Path, deadline: float) -> Image.Image:
    """The thumbnail image of `source`, or `NoPreview` with a reason that quotes none of its bytes."""
    try:
        handle = open_file(source)
    except EmcensusError as exc:  # missing, a FIFO, no permission: perhaps not for long
        raise NotNow(str(exc)) from exc
    with handle:
        try:
            kind = sniff_format(handle.read(8))
            handle.seek(0)
            if kind == "tiff":
                with tifffile.TiffFile(handle, name=source.name) as tif:
                    image = _to_image(_tiff_pixels(tif, deadline))
            elif kind in ("jpeg", "png", "bmp"):
                image = _to_image(_pillow_pixels(handle))
            else:
                raise NoPreview(f"no preview for {source.suffix or 'these'} files (pixels are shown for TIFF, JPEG, PNG, BMP)")
            image.thumbnail((THUMB_SIZE, THUMB_SIZE))
            return image
        except NoPreview:
            raise
        except Exception as exc:  # noqa: BLE001 -- corrupt pixels are data, not a server error
            # The type only: library messages quote the file's first bytes, which the web never shows.
            raise NoPreview(f"pixels unreadable ({type(exc).__name__})") from exc


def _too_large(width: int, height: int, what: str = "") -> NoPreview:
    return NoPreview(f"too large to preview: {width:,} × {height:,} px{what}")


def _pillow_pixels(handle: BinaryIO) -> np.ndarray:
    with Image.open(handle) as image:
        # JPEG decodes at 1/2..1/8 scale here; other formats keep their size.
        image.draft("L" if image.mode == "L" else "RGB", (THUMB_SIZE * 2, THUMB_SIZE * 2))
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise _too_large(width, height)
        if not width or not height:
            raise NoPreview("the image has no pixels (0 × 0)")
        shown = image.convert("RGB") if image.mode in ("P", "CMYK", "YCbCr") else image
        factor = max(width, height) // (THUMB_SIZE * 2)
        if factor > 1 and shown.mode in _REDUCIBLE:  # averaged down before any copy of the full frame
            shown = shown.reduce(factor)
        return np.asarray(shown)


def _tiff_pixels(tif: tifffile.TiffFile, deadline: float) -> np.ndarray:
    """The first image at the smallest resolution that still fills a thumbnail, memory bounded."""
    page = _level(tif)
    if page.dtype is None:
        raise NoPreview(f"unsupported TIFF samples ({page.bitspersample}-bit, sample format {page.sampleformat})")
    separate, depth, length, width, contig = page.shaped
    if not length or not width:
        raise NoPreview(f"the image has no pixels ({width} × {length})")
    decoded = separate * depth * length * width * contig * page.dtype.itemsize
    # Whole when small, in pixels and in stored bytes (a header may claim a strip of gigabytes).
    if length * width <= MAX_PIXELS and decoded <= MAX_BYTES and sum(page.databytecounts) <= MAX_BYTES:
        return page.asarray(maxworkers=1)
    if not page.dataoffsets:
        raise _too_large(width, length)
    return _strided(page, deadline)


def _level(tif: tifffile.TiffFile) -> tifffile.TiffPage:
    """The first page, or its smallest pyramid level (SubIFD) at least `THUMB_SIZE` wide or high."""
    page = tif.pages[0]
    levels = [page]
    for index, offset in enumerate((page.subifds or ())[:MAX_LEVELS]):
        if offset < 8:
            continue
        tif.filehandle.seek(offset)
        level = tifffile.TiffPage(tif, (page.index, index))
        if level.dtype is not None and level.imagewidth and level.imagelength:
            levels.append(level)
    usable = [p for p in levels if max(p.imagewidth, p.imagelength) >= THUMB_SIZE] or [page]
    return min(usable, key=lambda p: p.imagewidth * p.imagelength)


def _strided(page: tifffile.TiffPage, deadline: float) -> np.ndarray:
    """Every n-th pixel of a large page, decoding one strip or tile at a time (only those holding a
    sampled row), so memory stays at one segment plus the small result."""
    separate, _depth, length, width, contig = page.shaped
    step = -(-max(length, width) // (THUMB_SIZE * 2))
    out = np.zeros((separate, -(-length // step), -(-width // step), contig), page.dtype)
    decode, handle = page.decode, page.parent.filehandle
    itemsize = page.dtype.itemsize
    for index, (offset, count) in enumerate(zip(page.dataoffsets, page.databytecounts, strict=False)):
        _, (plane, z, y0, x0, _), (_, rows, columns, _) = decode(None, index)
        first = y0 + (-y0) % step  # first sampled row inside this segment
        if z or first >= min(y0 + rows, length) or x0 >= width:
            continue
        if rows * columns * contig * itemsize > MAX_SEGMENT_BYTES:
            raise _too_large(width, length, f" in strips or tiles of {rows:,} × {columns:,} px")
        if count > MAX_SEGMENT_BYTES:
            raise NoPreview(f"a strip or tile of {rows:,} × {columns:,} px claims {count:,} stored bytes; not read")
        if time.monotonic() > deadline:
            raise NotNow(f"making the preview took too long ({width:,} × {length:,} px)")
        data = None
        if offset and count:
            handle.seek(offset)
            data = handle.read(count)
        segment, _, _ = decode(data, index, jpegtables=page.jpegtables, jpegheader=page.jpegheader)
        if segment is None:
            continue
        left = (-x0) % step
        kept = segment[0, first - y0: min(rows, length - y0): step, left: min(columns, width - x0): step]
        top, start = first // step, (x0 + left) // step
        out[plane, top: top + kept.shape[0], start: start + kept.shape[1]] = kept
    return out[0, ..., 0] if separate == 1 and contig == 1 else (
        out[0] if separate == 1 else np.moveaxis(out[..., 0], 0, -1))


def _to_image(pixels: np.ndarray) -> Image.Image:
    """A contrast-stretched 8-bit grey or RGB image from 2-D, RGB(A) or stacked pixels."""
    colour = pixels.ndim == 3 and pixels.shape[-1] in (3, 4)
    while pixels.ndim > (3 if colour else 2):
        pixels = pixels[0]  # first frame of a stack
    if colour:
        pixels = pixels[..., :3]
    if pixels.ndim < 2 or not pixels.size:
        raise NoPreview("the image has no pixels")
    step = max(1, max(pixels.shape[:2]) // (THUMB_SIZE * 2))
    pixels = pixels[::step, ::step].astype(np.float32)
    low, high = np.nanpercentile(pixels, STRETCH)
    scaled = np.clip((pixels - low) / (high - low), 0, 1) if high > low else np.zeros_like(pixels)
    return Image.fromarray(np.nan_to_num(scaled * 255).astype(np.uint8), "RGB" if colour else "L")


class PreviewPool:
    """Makes previews off the event loop: at most `workers` at once, `pending` more waiting, each
    request answered within `limit` seconds. Daemon threads: a stuck read can't keep the server from
    stopping, and the server's own thread pool is never tied up by previews."""

    def __init__(self, workers: int = WORKERS, pending: int = PENDING, limit: float = TIME_LIMIT) -> None:
        self._slots = threading.BoundedSemaphore(workers)
        self._admitted = threading.BoundedSemaphore(workers + pending)
        self.limit = limit

    async def thumbnail(self, source: Path, cache: Path, key: str, roots: list[str]) -> Path:
        """`thumbnail()` in a worker; `NoPreview` when busy, failed or too slow."""
        if not self._admitted.acquire(blocking=False):
            raise NotNow("the server is busy making other previews; reload to try again")
        deadline = time.monotonic() + self.limit
        result: concurrent.futures.Future[Path] = concurrent.futures.Future()

        def work() -> None:
            try:
                with self._slots:
                    if not result.set_running_or_notify_cancel():
                        return  # the request has given up already
                    try:
                        result.set_result(thumbnail(source, cache, key, roots=roots, deadline=deadline))
                    except BaseException as exc:  # noqa: BLE001 -- handed to the request
                        result.set_exception(exc)
            finally:
                self._admitted.release()

        threading.Thread(target=work, name="emcensus-preview", daemon=True).start()
        try:
            return await asyncio.wait_for(asyncio.wrap_future(result), self.limit)
        except TimeoutError:
            raise NotNow(f"making the preview took more than {self.limit:g} s") from None
