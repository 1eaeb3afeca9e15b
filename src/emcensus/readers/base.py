"""The reader contract: what every vendor module receives (`Source`) and returns (`Reading`).

A reader never writes: `Source` opens files read-only and caches what several readers may look at
(the first bytes, the decoded sidecar, the first TIFF page's tags) so each file is read once.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from emcensus import access
from emcensus.errors import UnreadableFileError
from emcensus.readers.tiffhead import PlainIfd, plain_ifd

HEAD_BYTES = 8192
#: Metadata sidecars are a few KB; anything larger is not one (the scan records why).
MAX_SIDECAR_BYTES = 1 << 20

_MAGIC = {
    b"II*\x00": "tiff",
    b"MM\x00*": "tiff",
    b"II+\x00": "tiff",  # BigTIFF
    b"MM\x00+": "tiff",
    b"\xff\xd8\xff": "jpeg",
    b"\x89PNG": "png",
    b"BM": "bmp",
}


def sniff_format(head: bytes) -> str | None:
    """Container format from the magic bytes, whatever the extension says."""
    for magic, kind in _MAGIC.items():
        if head.startswith(magic):
            return kind
    return None


#: Control characters that text does not hold (tab, newlines and form feed aside), as UTF-8 bytes: each
#: is one byte there, never part of another character's bytes.
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x20)])
_JAPANESE = re.compile(r"[\u3040-\u30ff]|[\u4e00-\u9fff]{2}")


def decode_text(data: bytes, what: str = "sidecar") -> str:
    """Decode microscope-PC text: UTF-16/UTF-8 by BOM, else UTF-8, cp932 (Japanese Windows), cp1252."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise UnreadableFileError(f"{what} has a UTF-16 byte-order mark but is not valid UTF-16: {exc}") from exc
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if b"\x00" in data:
        # UTF-16 without a BOM is still text: every other byte is zero in ASCII-heavy files.
        if len(data) >= 4 and data[1::2].count(0) > 0.9 * (len(data) // 2):
            return data.decode("utf-16-le", errors="replace")
        raise UnreadableFileError(f"{what} holds binary data (NUL bytes), not text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        japanese = data.decode("cp932")
    except UnicodeDecodeError:
        japanese = None
    # Western text often decodes as cp932 too ("Ni–Mo" → "Ni邦o"): real Japanese has kana or
    # words of several kanji, a misread has lone kanji between Latin letters.
    if japanese is not None and _JAPANESE.search(japanese):
        return japanese
    return data.decode("cp1252", errors="replace")


def check_text(text: str, what: str = "sidecar") -> str:
    """Reject decoded 'text' that is mostly control characters (binary junk with a .txt name)."""
    sample = text[:4096]
    if sample:
        data = sample.encode("utf-8", "surrogatepass")
        bad = len(data) - len(data.translate(None, _CONTROL_BYTES))  # counted in C: 3x faster than a regex
        if bad > 0.05 * len(sample):
            raise UnreadableFileError(f"{what} is not text ({bad} control characters in the first {len(sample)})")
    return text


def read_sidecar(path: str | os.PathLike[str]) -> str:
    """A sidecar's text under the access policy: at most `MAX_SIDECAR_BYTES`, decoded, not empty, text."""
    text = check_text(decode_text(access.read_bounded(path, MAX_SIDECAR_BYTES, "sidecar")))
    if not text.strip():
        raise UnreadableFileError("sidecar is empty")
    return text


@dataclass(slots=True)
class Reading:
    """What one reader found, in SI units. Fields left None are unknown to this reader."""

    vendor: str | None = None
    model: str | None = None  # instrument model as the file writes it
    technique: str | None = None  # only when the file itself says (a STEM/TEM mode field)
    detector: str | None = None
    magnification: float | None = None
    accelerating_voltage_v: float | None = None
    working_distance_m: float | None = None
    pixel_size_m: float | None = None
    width_px: int | None = None  # image area, without a burned-in data bar
    height_px: int | None = None
    acquired_at: datetime | None = None
    original_metadata: dict[str, Any] = field(default_factory=dict)
    metadata_source: str = "none"
    #: What the file holds (`emcensus.record.KINDS`); a spectrum's width is its channel count.
    kind: str = "image"


class _once:
    """`functools.cached_property` without its lock (Python 3.11 takes one at each first access: a
    census makes a Source per file and asks three of them, ~1 us a file)."""

    def __init__(self, compute: Callable[[Any], Any]):
        self.compute = compute
        self.__doc__ = compute.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.compute(obj)  # found there from now on, before this
        return value


class Source:
    """One image file and its paired sidecar, opened lazily and read-only.

    The paths are kept as text (`file_path`, `sidecar_path`); `path` and `sidecar` are built as
    `Path`s only for a reader that asks (a census makes a Source per file: pathlib was a tenth of it)."""

    file_size: int  # the file's size when `head` was read (set by it)

    def __init__(self, path: str | os.PathLike[str], sidecar: str | os.PathLike[str] | None = None, *,
                 sidecar_text: str | None = None):
        self.file_path = os.fspath(path)
        self.sidecar_path = os.fspath(sidecar) if sidecar is not None else None
        suffix = os.path.splitext(self.file_path)[1]
        self.suffix = suffix.lower() if suffix != "." else ""  # as `Path.suffix`: "img." has none
        self._tiff: Any = None
        self._tiff_handle: Any = None
        if sidecar_text is not None:  # already decoded for another file of the same acquisition
            self.__dict__["sidecar_text"] = sidecar_text

    @_once
    def path(self) -> Path:
        return Path(self.file_path)

    @_once
    def sidecar(self) -> Path | None:
        return Path(self.sidecar_path) if self.sidecar_path is not None else None

    @property
    def loaded_sidecar_text(self) -> str | None:
        """The decoded sidecar if a reader has read it: the other exports of the frame reuse it."""
        return self.__dict__.get("sidecar_text")

    @_once
    def head(self) -> bytes:
        """The first bytes, read under the access policy (a FIFO or device is refused, never waited on);
        sets `file_size` from the same `fstat`."""
        head, self.file_size = access.read_head_and_size(self.file_path, HEAD_BYTES)
        return head

    @_once
    def format(self) -> str | None:
        return sniff_format(self.head)

    @_once
    def sidecar_text(self) -> str | None:
        if self.sidecar_path is None:
            return None
        return read_sidecar(self.sidecar_path)

    @_once
    def plain_tiff(self) -> PlainIfd | None:
        """A plain TIFF's first directory, read from `head` (`readers.tiffhead`); None: ask `tiff`."""
        return plain_ifd(self.head) if self.format == "tiff" else None

    @property
    def tiff(self) -> Any:
        """The open `tifffile.TiffFile` (TIFF files only); closed by `close()`."""
        if self._tiff is None:
            if self.format != "tiff":
                raise UnreadableFileError(f"not a TIFF file (starts with {self.head[:4]!r})")
            import tifffile

            handle = access.open_file(self.file_path)  # tifffile reads the policy's handle, never the path
            try:
                tiff = tifffile.TiffFile(handle, name=os.path.basename(self.file_path))
            except Exception as exc:  # tifffile raises many types on damaged files
                handle.close()
                raise UnreadableFileError(f"damaged TIFF: {exc}") from exc
            try:
                tiff.pages.first  # noqa: B018 - parsing the first IFD is the check
            except Exception as exc:  # a file cut before its first IFD has no pages at all
                tiff.close()
                handle.close()
                raise UnreadableFileError(f"damaged TIFF: no readable image directory ({exc or type(exc).__name__})") from exc
            self._tiff, self._tiff_handle = tiff, handle
        return self._tiff

    @_once
    def tiff_tags(self) -> dict[int, Any]:
        """Tags of the first page, by code."""
        try:
            page = self.tiff.pages.first
            return {tag.code: tag.value for tag in page.tags}
        except UnreadableFileError:
            raise
        except Exception as exc:
            raise UnreadableFileError(f"damaged TIFF: {exc}") from exc

    def close(self) -> None:
        if self._tiff is not None:
            self._tiff.close()
            self._tiff_handle.close()
            self._tiff = self._tiff_handle = None

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Reader:
    """A vendor format. Subclasses set the class attributes and implement `accepts` and `read`.

    `accepts` must be cheap (extension, magic bytes, a tag's presence, the sidecar's first line);
    `read` may raise `UnreadableFileError` with a reason a facility manager understands.
    """

    name: ClassVar[str]  # short id, e.g. "hitachi-sem"
    vendor: ClassVar[str]
    #: Image extensions (lower case, with dot) this reader may handle.
    extensions: ClassVar[frozenset[str]] = frozenset()
    #: True when the reader takes its metadata from the sidecar rather than the image.
    uses_sidecar: ClassVar[bool] = False

    def accepts(self, source: Source) -> bool:
        raise NotImplementedError

    def read(self, source: Source) -> Reading:
        raise NotImplementedError
