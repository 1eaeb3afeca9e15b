"""Per-image work of the reuse export (in the scan's pool): hash the file, decode its pixels, and
write them again as a TIFF that holds nothing but the pixels and their physical size.

Vendor tags carry people's names (FEI `[User] User=`, Zeiss "User Name", Hitachi `UserName=` in
sidecars and sometimes in tags), sample names and folder paths; copying a file or stripping known
tags would leak whatever tag a vendor adds next. So the pixels are written into a fresh TIFF with a
whitelist of structural tags (16-bit stays 16-bit), and the result is checked against the whitelist.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import numpy as np
import tifffile

from emcensus.access import file_sha256
from emcensus.errors import EmcensusError
from emcensus.scan.pool import FILE_TIMEOUT_S, Budget, ReadTimeout, timeout_reason

#: The only TIFF tags an exported image holds: its layout and its pixel size.
TAG_WHITELIST = frozenset({
    256, 257, 258, 259, 262,  # ImageWidth, ImageLength, BitsPerSample, Compression, Photometric
    273, 277, 278, 279,  # StripOffsets, SamplesPerPixel, RowsPerStrip, StripByteCounts
    282, 283, 284, 296,  # XResolution, YResolution, PlanarConfiguration, ResolutionUnit
    317, 339,  # Predictor, SampleFormat
})


@dataclass(slots=True)
class StageItem:
    """One image to stage: its catalog id, file-system path and pixel size (None: unknown)."""

    image_id: int
    path: str
    pixel_size_m: float | None = None


@dataclass(slots=True)
class Staged:
    """What staging found: hashes and pixel layout, or why the image could not be exported."""

    image_id: int
    source_sha256: str | None = None
    pixel_sha256: str | None = None
    shape: tuple[int, ...] = ()
    dtype: str | None = None
    error: str | None = None


@dataclass(slots=True)
class StageTask:
    """A batch of images for one worker; `not_read`: indices given up on after a timeout (the pool's contract)."""

    items: list[StageItem]
    folder: str
    file_timeout: float = FILE_TIMEOUT_S
    not_read: dict[int, str] = field(default_factory=dict)

    def skip(self, indices: Iterable[int] | None, reason: str) -> StageTask:
        chosen = range(len(self.items)) if indices is None else indices
        return replace(self, not_read={**self.not_read, **dict.fromkeys(chosen, reason)})


def staged_path(folder: str, image_id: int) -> str:
    return os.path.join(folder, f"{image_id}.tif")


def stage_batch(task: StageTask) -> list[Staged]:
    """Stage every image of a batch (runs in a worker): never raises, each failure is one line."""
    # the quality reader (TIFF/PNG/JPEG/BMP and the microscope formats through rsciio) pulls in OpenCV
    # and faiss: imported in the worker only
    from emcensus.quality.pixels import pixel_sha256, read_image
    from emcensus.quality.runner import MAX_PIXELS

    results = []
    with Budget(task.file_timeout) as budget:
        for index, item in enumerate(task.items):
            if index in task.not_read:
                results.append(Staged(item.image_id, error=task.not_read[index]))
                continue
            try:
                with budget.file(index):
                    source = file_sha256(item.path)
                    pixels = read_image(item.path, MAX_PIXELS)  # what quality measures, bounded alike
                    write_clean_tiff(staged_path(task.folder, item.image_id), pixels, item.pixel_size_m)
                results.append(Staged(item.image_id, source, pixel_sha256(pixels), tuple(pixels.shape), pixels.dtype.name))
            except ReadTimeout:
                results.append(Staged(item.image_id, error=timeout_reason(task.file_timeout)))
            except (EmcensusError, OSError, ValueError) as exc:
                results.append(Staged(item.image_id, error=str(exc) or type(exc).__name__))
            except Exception as exc:  # a decoder's own error on a damaged file: one line, the others go on
                results.append(Staged(item.image_id, error=f"cannot decode: {type(exc).__name__}: {exc}"))
    return results


def write_clean_tiff(path: str, pixels: np.ndarray, pixel_size_m: float | None) -> None:
    """An uncompressed TIFF of `pixels` at `path` with only whitelisted tags; the pixel size, when
    known, as the resolution in pixels per centimetre. Written straight to the file (no second copy
    of a large frame in memory). Uncompressed: deflate took 93 ms of a 1280×960 16-bit frame and saved
    7 % of its size (noise does not compress), and every TIFF reader opens it."""
    if pixels.dtype.kind not in "uif":
        raise ValueError(f"{pixels.dtype} pixels (not grey levels) are not exported")
    options: dict = {"photometric": "rgb" if pixels.ndim == 3 and pixels.shape[-1] in (3, 4) else "minisblack",
                     "metadata": None, "software": False}
    if pixel_size_m and pixel_size_m > 0:
        per_cm = 0.01 / pixel_size_m
        options.update(resolution=(per_cm, per_cm), resolutionunit="CENTIMETER")
    tifffile.imwrite(path, pixels, **options)
    with tifffile.TiffFile(path) as tif:
        extra = {tag.code for page in tif.pages for tag in page.tags} - TAG_WHITELIST
    if extra:  # a tifffile that adds a tag of its own: refuse rather than export it
        os.unlink(path)
        raise ValueError(f"the rewritten TIFF holds tags outside the whitelist: {sorted(extra)}")
