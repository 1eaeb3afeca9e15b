"""Fallback for any image: dimensions and an EXIF/TIFF date, so that every image is counted."""

from __future__ import annotations

from datetime import datetime

from emcensus import access
from emcensus.errors import UnreadableFileError
from emcensus.readers.base import Reader, Reading, Source

#: The largest image side any camera or montage writes (SEM montages reach 100k px); a header
#: that claims more (4294967295² from a corrupt IFD) or less than one pixel describes no image.
MAX_SIDE_PX = 1_000_000

_EXIF_DATE_TAGS = (36867, 36868, 306)  # DateTimeOriginal, DateTimeDigitized, DateTime


def _exif_datetime(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value.strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None


def check_dimensions(*sides: int) -> None:
    """Refuse image dimensions no real image has (0×0, negative, 4294967295²): not a readable image."""
    if not all(1 <= side <= MAX_SIDE_PX for side in sides):
        raise UnreadableFileError(f"image dimensions {'×'.join(str(side) for side in sides)} are impossible")


def _tiff_extent(source: Source) -> tuple[int, int, int, int]:
    """Width, height, where the pixel data ends and the file's size; a plain TIFF's from its head, with
    tifffile's values (`readers.tiffhead`)."""
    plain = source.plain_tiff
    if plain is not None:
        return plain.width, plain.height, plain.data_end, source.file_size  # the head's fstat
    page = source.tiff.pages.first
    try:
        width, height = int(page.imagewidth), int(page.imagelength)
        data_end = max((o + n for o, n in zip(page.dataoffsets, page.databytecounts, strict=False)), default=0)
    except Exception as exc:
        raise UnreadableFileError(f"damaged TIFF: {exc}") from exc
    return width, height, data_end, source.tiff.filehandle.size


def _tiff_date(source: Source) -> datetime | None:
    """EXIF DateTimeOriginal, else DateTime (a plain TIFF has no EXIF directory)."""
    plain = source.plain_tiff
    if plain is not None:
        return _exif_datetime(plain.datetime)
    tags = source.tiff_tags
    exif = tags.get(34665) if isinstance(tags.get(34665), dict) else {}
    for code, name in ((36867, "DateTimeOriginal"), (306, None)):
        when = _exif_datetime(exif.get(name) if name else tags.get(code))
        if when:
            return when
    return None


def image_dimensions(source: Source) -> tuple[int, int, datetime | None]:
    """Width, height and embedded date of a TIFF/JPEG/PNG/BMP, reading only its header."""
    if not source.head:
        raise UnreadableFileError("empty file (0 bytes)")
    kind = source.format
    if kind == "tiff":
        width, height, data_end, size = _tiff_extent(source)
        check_dimensions(width, height)
        if data_end > size:
            raise UnreadableFileError(f"truncated TIFF: pixel data ends at byte {data_end:,}, the file has {size:,}")
        return width, height, _tiff_date(source)
    if kind in ("jpeg", "png", "bmp"):
        from PIL import Image, UnidentifiedImageError

        try:
            with access.open_file(source.path) as handle, Image.open(handle) as image:
                width, height = image.size
                exif = image.getexif() if kind == "jpeg" else {}
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise UnreadableFileError(f"damaged {kind.upper()}: {exc}") from exc
        check_dimensions(width, height)
        when = None
        if exif:
            merged = dict(exif) | dict(exif.get_ifd(34665))
            for code in _EXIF_DATE_TAGS:
                when = _exif_datetime(merged.get(code))
                if when:
                    break
        return width, height, when
    raise UnreadableFileError(f"not an image: the file starts with {source.head[:8]!r}")


class GenericImageReader(Reader):
    name = "generic"
    vendor = "unknown"
    extensions = frozenset({".tif", ".tiff", ".jpg", ".jpeg", ".png", ".bmp"})

    def accepts(self, source: Source) -> bool:
        return source.suffix in self.extensions

    def read(self, source: Source) -> Reading:
        width, height, when = image_dimensions(source)
        return Reading(width_px=width, height_px=height, acquired_at=when, metadata_source="none")
