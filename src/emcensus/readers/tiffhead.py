"""The first image directory of a plain TIFF, read from the first bytes the census holds anyway.

tifffile costs a census ~140 µs for every TIFF without a sidecar (its page object works out shape,
dtype and a dozen format flags, and every vendor reader's `accepts` asks it for a tag). Most such
TIFFs are plain: baseline tags only, the whole directory in the first 8 KB. `plain_ifd` reads exactly
those and gives what a census takes from tifffile (size, where the pixels end, DateTime); a directory
with any other tag, a value outside the head, a BigTIFF, a compression or size tifffile corrects...
gives None, and the caller asks tifffile. The tests compare both on every sample and generated TIFF.

Hand-written because tifffile has no public call that is cheaper: its page is only built inside a
`TiffFile`, and `tifffile.read_tags` wants its own file handle and gives tag values, not the strips a
page works out. What the page does to strips is repeated here (surplus strips dropped), or the file is
left to it (missing byte counts, which it makes up; sizes and sample tags it would fail on).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

#: Tags of a plain TIFF: none of them makes tifffile treat the file as a format of its own, and no
#: vendor reader looks for them (every other tag, the description and make included, goes to tifffile).
PLAIN_TAGS = frozenset({254, 256, 257, 258, 259, 262, 273, 274, 277, 278, 279, 282, 283, 284, 296, 306, 339})
_WIDTH, _LENGTH, _COMPRESSION, _STRIP_OFFSETS, _STRIP_BYTES, _DATETIME = 256, 257, 259, 273, 279, 306
_BITS, _SAMPLES, _ROWS, _PLANAR, _SAMPLE_FORMAT = 258, 277, 278, 284, 339
#: The tags whose values are read: those a census takes and those tifffile's page works its strips out
#: of (or fails on when they are not plain integers: the file is then refused, and so left to it).
_READ = frozenset({_WIDTH, _LENGTH, _COMPRESSION, _STRIP_OFFSETS, _STRIP_BYTES, _DATETIME,
                   _BITS, _SAMPLES, _ROWS, _PLANAR, _SAMPLE_FORMAT})
#: Compressions whose first page tifffile completes (CCITT byte counts, OJPEG): left to it.
_CORRECTED = frozenset({2, 3, 4, 6})
_TYPE_BYTES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
_INTEGER = {3: "H", 4: "I"}  # SHORT, LONG: the types a size, offset or count takes here


@dataclass(frozen=True, slots=True)
class PlainIfd:
    """What a census reads of a plain TIFF's first page, with tifffile's values."""

    width: int
    height: int
    data_end: int  # where the last strip ends (0: no strips)
    datetime: str | bytes | None  # tag 306 as tifffile decodes ASCII


def plain_ifd(head: bytes) -> PlainIfd | None:
    """The first directory of a classic TIFF starting with `head`, or None when it is not plain."""
    order = {b"II*\x00": "<", b"MM\x00*": ">"}.get(head[:4])
    if order is None or len(head) < 8:  # a file cut in its header: tifffile's refusal
        return None
    (offset,) = struct.unpack_from(order + "I", head, 4)
    if offset < 8 or offset + 2 > len(head):
        return None
    (count,) = struct.unpack_from(order + "H", head, offset)
    entries = offset + 2
    if not count or entries + 12 * count > len(head):
        return None
    values: dict[int, tuple[int, int, bytes]] = {}
    for start in range(entries, entries + 12 * count, 12):
        code, kind, number = struct.unpack_from(order + "HHI", head, start)
        if code not in PLAIN_TAGS or code in values:
            return None
        if code in _READ:
            size = number * _TYPE_BYTES.get(kind, 0)
            if not size:
                return None
            where = start + 8
            if size > 4:
                (where,) = struct.unpack_from(order + "I", head, start + 8)
                if where < 8 or where + size > len(head):
                    return None
            values[code] = (kind, number, head[where:where + size])
        else:
            values[code] = (kind, number, b"")
    width, height, compression, samples, planar = (
        _single(order, values.get(code)) for code in (_WIDTH, _LENGTH, _COMPRESSION, _SAMPLES, _PLANAR))
    offsets, counts = _integers(order, values.get(_STRIP_OFFSETS)), _integers(order, values.get(_STRIP_BYTES))
    if None in (width, height, compression, samples, planar, offsets, counts) or compression in _CORRECTED \
            or width == height == 0 or (offsets and not counts):  # tifffile makes up missing byte counts
        return None
    samples = samples if _SAMPLES in values else 1
    if not all(_per_sample(order, values.get(code), samples) for code in (_BITS, _SAMPLE_FORMAT)):
        return None
    rows = values.get(_ROWS)
    if rows is None or rows[1] > 1:  # tifffile: RowsPerStrip absent or not one number is the whole image
        rows_per_strip = height
    elif (rows_per_strip := _single(order, rows)) is None:
        return None
    rows_per_strip = min(rows_per_strip, height)
    if height and rows_per_strip:  # tifffile drops the strips beyond those the image has, as here
        strips = math.ceil(height / rows_per_strip) * (samples if planar == 2 else 1)
        offsets, counts = offsets[:strips], counts[:strips]
    datetime = values.get(_DATETIME)
    if datetime is not None and datetime[0] != 2:
        return None
    return PlainIfd(width, height, max((o + n for o, n in zip(offsets, counts, strict=False)), default=0),
                    None if datetime is None else _ascii(datetime[2]))


def _per_sample(order: str, value: tuple[int, int, bytes] | None, samples: int) -> bool:
    """Whether BitsPerSample or SampleFormat is absent, or integers that tifffile takes as one value for
    all samples (else its page may fail on them, or give no single value)."""
    if value is None:
        return True
    numbers = _integers(order, value)
    if not numbers or len(numbers) == 1:
        return bool(numbers)
    first = numbers[:samples]
    return bool(first) and first.count(first[0]) == len(first)


def _integers(order: str, value: tuple[int, int, bytes] | None) -> tuple[int, ...] | None:
    """SHORT or LONG values (an absent tag: none), else None."""
    if value is None:
        return ()
    kind, number, data = value
    letter = _INTEGER.get(kind)
    return struct.unpack(f"{order}{number}{letter}", data) if letter else None


def _single(order: str, value: tuple[int, int, bytes] | None) -> int | None:
    """One SHORT or LONG (0 for an absent tag), else None."""
    numbers = _integers(order, value)
    if numbers == ():
        return 0 if value is None else None
    return numbers[0] if numbers is not None and len(numbers) == 1 else None


def _ascii(data: bytes) -> str | bytes:
    """An ASCII value as tifffile gives it: NULs cut off the end, UTF-8 or else cp1252, stripped."""
    data = data.rstrip(b"\x00")
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding).strip()
        except UnicodeDecodeError:
            continue
    return data
