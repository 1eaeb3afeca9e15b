"""Helpers several vendor readers share: INI-like text, dates in every order, JSON-safe metadata."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import date, datetime, time
from functools import lru_cache, update_wrapper
from typing import Any, TypeVar

from emcensus.errors import UnreadableFileError
from emcensus.readers.base import Reader, Reading, Source
from emcensus.readers.generic import image_dimensions
from emcensus.readers.tiffhead import PLAIN_TAGS
from emcensus.readers.units import positive
from emcensus.record import field_values

#: Images a sidecar reader may describe (the sidecar says nothing about the container).
SIDECAR_IMAGE_EXTENSIONS = frozenset({".tif", ".tiff", ".jpg", ".jpeg", ".bmp", ".png"})
#: Acquisition dates outside this range are clock errors or garbage, not acquisitions.
FIRST_YEAR, LAST_YEAR = 1980, 2100
#: Longest text kept in a `per_text` cache: a sidecar's line may be up to 1 MiB long, and 1,024
#: such keys would hold a GiB in every reading process; a value worth caching is a few characters.
_CACHED_TEXT = 64

T = TypeVar("T")


def per_text(parse: Callable[..., T]) -> Callable[..., T]:
    """`parse(text, *more)`, computed once per process for each short `text` (and `more`) or None,
    every time for a long one or any other value (bytes of any length, an unhashable tag value, 1
    that the cache would take for 1.0 and True): the frames of a session repeat their values, a
    census reads one per image. What `parse` returns is shared between callers: it must not be changed."""
    cached = lru_cache(maxsize=1024)(parse)

    def call(text: Any, *more: Any) -> T:
        if text is None or (type(text) is str and len(text) <= _CACHED_TEXT):
            return cached(text, *more)
        return parse(text, *more)

    call.cache_info = cached.cache_info  # type: ignore[attr-defined]
    return update_wrapper(call, parse)


def parse_ini(text: str) -> dict[str, dict[str, str]]:
    """`[Section]` + `Key=Value` lines into {section: {key: value}}; lines before a section go under "".

    Tolerant on purpose: unknown lines are skipped, a repeated key keeps its first value (the
    Hitachi sidecar repeats nothing; FEI's later sections repeat keys with the same meaning).
    """
    result: dict[str, dict[str, str]] = {}
    section = result.setdefault("", {})
    for raw in text.splitlines():  # a census parses one sidecar of ~100 lines per image: each step counts
        key, sep, value = raw.partition("=")
        if not sep or "[" in key or "\ufeff" in key:  # not a plain `Key=Value` line (most are): looked at whole
            line = raw.strip().lstrip("\ufeff")
            if line[:1] == "[" and line[-1:] == "]" and len(line) > 2:
                section = result.setdefault(line[1:-1].strip(), {})
                continue
            key, sep, value = line.partition("=")
            if not sep:
                continue
        key = key.strip()
        if key and key not in section:
            section[key] = value.strip()
    if not result[""]:
        del result[""]
    return result


_MONTHS = {name: index for index, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}
_YMD = re.compile(r"(?<!\d)(\d{4})[/.:\-](\d{1,2})[/.:\-](\d{1,2})(?!\d)")
_SLASH_MDY = re.compile(r"(?<!\d)(\d{1,2})/(\d{1,2})/(\d{4})(?!\d)")
_DOTTED_DMY = re.compile(r"(?<!\d)(\d{1,2})[.\-](\d{1,2})[.\-](\d{4})(?!\d)")
_D_MON_Y = re.compile(r"(?<!\d)(\d{1,2})[ \-]([A-Za-z]{3})[A-Za-z]*\.?[ \-,]+(\d{4})(?!\d)")
_MON_D_Y = re.compile(r"\b([A-Za-z]{3})[A-Za-z]*\.? +(\d{1,2}),? +(\d{4})(?!\d)")
#: C's ctime(), as TIA and DigiScan write it: `Sun Feb 21 17:50:18 2016`.
_CTIME = re.compile(r"\b([A-Za-z]{3}) +(\d{1,2}) +(\d{1,2}:\d{2}:\d{2}) +(\d{4})(?!\d)")
_TIME = re.compile(r"(?<!\d)(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?(?:\s*([AaPp])\.?[Mm]\.?)?")


def _make_date(year: int, month: int, day: int) -> date | None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


@per_text  # a session's frames share their date text
def parse_date(text: str) -> tuple[date, tuple[int, int]] | None:
    """The date in `text` and where it was: YYYY/MM/DD, MM/DD/YYYY (DD/MM/YYYY when the first
    number cannot be a month), DD.MM.YYYY, `25 Sep 2018`, `Sep 25 2018`."""
    if match := _YMD.search(text):
        found = _make_date(int(match[1]), int(match[2]), int(match[3]))
    elif match := _SLASH_MDY.search(text):
        first, second, year = int(match[1]), int(match[2]), int(match[3])
        found = _make_date(year, first, second) if first <= 12 else _make_date(year, second, first)
    elif match := _DOTTED_DMY.search(text):
        found = _make_date(int(match[3]), int(match[2]), int(match[1]))
    elif (match := _D_MON_Y.search(text)) and match[2].lower() in _MONTHS:
        found = _make_date(int(match[3]), _MONTHS[match[2].lower()], int(match[1]))
    elif (match := _MON_D_Y.search(text)) and match[1].lower() in _MONTHS:
        found = _make_date(int(match[3]), _MONTHS[match[1].lower()], int(match[2]))
    else:
        return None
    return (found, match.span()) if found else None


def parse_time(text: str) -> time | None:
    """`16:38:33`, `8:20:42`, `05:06:40 PM`, `4:26 pm`; None when absent or impossible."""
    match = _TIME.search(text)
    if not match:
        return None
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    if match[4]:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if match[4].lower() == "p" else 0)
    try:
        return time(hour, minute, second)
    except ValueError:
        return None


def parse_datetime(date_text: Any, time_text: Any = None) -> datetime | None:
    """A naive local datetime from a date string and an optional separate time string."""
    if not isinstance(date_text, str):
        return None
    if time_text is None and (ctime := _CTIME.search(date_text)):
        date_text, time_text = f"{ctime[2]} {ctime[1]} {ctime[4]}", ctime[3]
    found = parse_date(date_text)
    if found is None:
        return None
    day, (start, end) = found
    rest = time_text if isinstance(time_text, str) else date_text[:start] + " " + date_text[end:]
    return datetime.combine(day, parse_time(rest) or time())


def plausible(when: datetime | None) -> datetime | None:
    """`when` if its year can be an acquisition, else None (epoch zero, year 2155...)."""
    return when if when is not None and FIRST_YEAR <= when.year <= LAST_YEAR else None


def from_unix(seconds: Any) -> datetime | None:
    """A Unix time stamp (UTC) as naive local time, like the pipeline's mtime fallback."""
    value = positive(seconds)
    if value is None:
        return None
    try:
        return plausible(datetime.fromtimestamp(value))
    except (OverflowError, OSError, ValueError):
        return None


def json_safe(value: Any, depth: int = 0) -> Any:
    """A JSON-serialisable copy: numpy scalars/arrays to Python, bytes to text, NaN to None."""
    if depth > 64:
        return None
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(key): json_safe(item, depth + 1) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_safe(item, depth + 1) for item in value]
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        text = data.rstrip(b"\x00").decode("utf-8", errors="replace")
        if sum(1 for ch in text if ord(ch) < 32 and ch not in "\r\n\t") > len(text) // 20:
            return f"<{len(data)} bytes>"
        return text
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, complex):
        return json_safe(value.real) if value.imag == 0 else str(value)
    if hasattr(value, "tolist"):  # numpy scalar or array
        size = getattr(value, "size", 1)
        if size > 4096:
            return f"<array of {size} values>"
        return json_safe(value.tolist(), depth + 1)
    return str(value)


#: Manufacturer prefixes of the microscope names that camera and analysis software writes
#: (`FEI Tecnai Remote`, `Zeiss SEM COM`), with the vendor name `emcensus.vocab` uses.
_VENDOR_PREFIXES = (
    ("fei", "FEI/Thermo"), ("thermo", "FEI/Thermo"), ("tfs", "FEI/Thermo"), ("philips", "FEI/Thermo"),
    ("zeiss", "Zeiss"), ("carl zeiss", "Zeiss"), ("leo", "Zeiss"), ("jeol", "JEOL"),
    ("hitachi", "Hitachi"), ("tescan", "Tescan"),
)


def vendor_from_name(name: str | None) -> str | None:
    """The microscope maker named at the start of `name`, if any."""
    if not name:
        return None
    lowered = name.strip().lower()
    for prefix, vendor in _VENDOR_PREFIXES:
        if lowered.startswith(prefix) and (len(lowered) == len(prefix) or not lowered[len(prefix)].isalpha()):
            return vendor
    return None


def text_or_none(value: Any) -> str | None:
    """A stripped non-empty string (decoding bytes), else None; a text ends at its first NUL inside, as
    C strings do (SQLite's quote(), which keys the catalog's cubes, cuts there: two detectors differing
    only after a NUL would share one cube row, and a cube's refill would fail on their duplicate key)."""
    if type(value) is str:  # nearly always (sidecar values): the checks below are for tag values
        value = value.strip().strip("\x00").strip()
        return (value.split("\x00", 1)[0].strip() if "\x00" in value else value) or None
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).split(b"\x00", 1)[0].decode("utf-8", errors="replace")
    if hasattr(value, "item") and not isinstance(value, str):
        return text_or_none(value.item())
    if not isinstance(value, str):
        return None
    return text_or_none(str(value))  # a str subclass: as a str


def tiff_tag(source: Source, code: int) -> Any:
    """Tag `code` of the first TIFF page, or None for non-TIFFs and damaged TIFFs (for `accepts`)."""
    try:
        if source.format != "tiff" or (source.plain_tiff is not None and code not in PLAIN_TAGS):
            return None  # a plain TIFF has only baseline tags: tifffile is not asked for the others
        return source.tiff_tags.get(code)
    except UnreadableFileError:
        return None


def xml_to_dict(element: Any) -> Any:
    """An ElementTree element as nested dicts (text for leaves; repeated tags become lists)."""
    children = list(element)
    if not children:
        return (element.text or "").strip() or None
    result: dict[str, Any] = {}
    for child in children:
        tag = child.tag.rpartition("}")[2] if isinstance(child.tag, str) else str(child.tag)
        value = xml_to_dict(child)
        if tag in result:
            previous = result[tag]
            result[tag] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            result[tag] = value
    return result


def parse_xml(text: str, what: str) -> Any:
    """Parse XML text into an element, turning every parser failure into UnreadableFileError."""
    import xml.etree.ElementTree as ET

    try:
        return ET.fromstring(text.strip().lstrip("\ufeff"))
    except (ET.ParseError, ValueError) as exc:
        raise UnreadableFileError(f"{what} is not well-formed XML: {exc}") from exc


#: A reading's field values in one C call (what a copy is made of).
_reading_values = field_values(Reading)


class SidecarTextReader(Reader):
    """A sidecar format recognised and parsed from its text alone: the image is never opened.
    `parse` is given only a text that `looks` took (`read` only after `accepts`)."""

    extensions = SIDECAR_IMAGE_EXTENSIONS
    uses_sidecar = True

    @staticmethod
    def looks(text: str) -> bool:
        raise NotImplementedError

    @staticmethod
    def parse(text: str) -> Reading:
        raise NotImplementedError

    #: The last text parsed and its reading's field values: the other exports of a frame (tif + jpg + bmp)
    #: come with the same text object, taken and copied instead of sniffed and parsed again.
    _last: tuple[str, tuple] | None = None

    def accepts(self, source: Source) -> bool:
        text = source.sidecar_text
        return text is not None and ((last := self._last) is not None and last[0] is text or self.looks(text))

    def read(self, source: Source) -> Reading:
        text = source.sidecar_text
        if text is None:
            raise UnreadableFileError("no sidecar")
        last = self._last
        if last is not None and last[0] is text:
            return Reading(*last[1])
        reading = self.parse(text)
        self._last = (text, _reading_values(reading))
        return reading


class TiffTagReader(Reader):
    """Base of the readers whose metadata sits in TIFF tags.

    The stored image is checked the way the generic reader checks it, so a damaged or truncated
    TIFF is refused even when its tags survived, and its size fills what the tags leave unknown.
    """

    extensions = frozenset({".tif", ".tiff"})

    def read(self, source: Source) -> Reading:
        width, height, _ = image_dimensions(source)
        reading = self.read_tags(source, width)
        reading.width_px = reading.width_px or width
        reading.height_px = reading.height_px or height
        return reading

    def read_tags(self, source: Source, stored_width: int) -> Reading:
        """The vendor metadata; `stored_width` is the TIFF's own width in pixels."""
        raise NotImplementedError
