"""Plain TIFFs are read from their head without tifffile, with exactly what tifffile gives: every
variant below is read both ways and the records, warnings and refusals compared."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from emcensus.errors import UnreadableFileError
from emcensus.readers import Source, read_source
from emcensus.readers import base as readers_base
from emcensus.readers.base import HEAD_BYTES
from emcensus.readers.tiffhead import PLAIN_TAGS, plain_ifd
from readers.vendor_craft import tiff_bytes, write

_DATE = (306, 2, 20, b"2021:06:23 16:38:33\0")


def _strips(count: int, offsets: list[int] | None = None) -> list[tuple[int, int, int, bytes]]:
    """StripOffsets/StripByteCounts of `count` strips of 4 bytes, stored after the directory (at byte 8
    unless `offsets` says where)."""
    offsets = offsets or [8] * count
    return [(273, 4, count, struct.pack(f"<{count}I", *offsets)), (279, 3, count, struct.pack(f"<{count}H", *[4] * count))]


def _replace(data: bytes, code: int, entry: tuple[int, int, bytes]) -> bytes:
    """`data` (from `tiff_bytes`) with the directory entry of `code` set to (type, count, 4 value bytes)."""
    ifd = struct.unpack_from("<I", data, 4)[0]
    for start in range(ifd + 2, ifd + 2 + 12 * struct.unpack_from("<H", data, ifd)[0], 12):
        if struct.unpack_from("<H", data, start)[0] == code:
            kind, count, value = entry
            return data[:start + 2] + struct.pack("<HI", kind, count) + value + data[start + 12:]
    raise AssertionError(code)


def _renamed(data: bytes, code: int, new_code: int) -> bytes:
    """`data` with the entry of `code` given another (plain) tag's code: `code` absent, the layout the same."""
    ifd = struct.unpack_from("<I", data, 4)[0]
    starts = range(ifd + 2, ifd + 2 + 12 * struct.unpack_from("<H", data, ifd)[0], 12)
    start = next(start for start in starts if struct.unpack_from("<H", data, start)[0] == code)
    return data[:start] + struct.pack("<H", new_code) + data[start + 2:]


def _pil(path: Path, mode: str, **save: object) -> None:
    Image.new(mode, (40, 30), 7).save(path, format="TIFF", **save)


PLAIN: dict[str, bytes] = {
    "baseline": tiff_bytes(4, 4),
    "datetime": tiff_bytes(4, 4, [_DATE]),
    "datetime cp1252": tiff_bytes(4, 4, [(306, 2, 21, b"2021:06:23 16:38:33\xe9\0")]),
    "datetime not text": tiff_bytes(4, 4, [(306, 2, 21, b"2021:06:23 16:38:33\x81\0")]),
    "datetime short, inline": tiff_bytes(4, 4, [(306, 2, 4, b"2021")]),
    "datetime garbage": tiff_bytes(4, 4, [(306, 2, 6, b" x \0\0\0")]),
    # the arrays lie after the directory (tiff_bytes's own one-strip entries come first: renamed)
    "many strips": _renamed(_renamed(tiff_bytes(4, 4, _strips(3)), 273, 282), 279, 283),
    # 4 rows in one strip (RowsPerStrip 4): tifffile drops the two strips more, which lie past the end
    "surplus strips": _renamed(_renamed(tiff_bytes(4, 4, _strips(3, [8, 100_000, 100_000])), 273, 282), 279, 283),
    "truncated": _replace(tiff_bytes(4, 4), 279, (4, 1, struct.pack("<I", 100_000))),  # the strip ends past the end
    "zero width": tiff_bytes(0, 4),
    "huge": tiff_bytes(4294967295, 1),
    "short sizes": _replace(_replace(tiff_bytes(4, 4), 256, (3, 1, b"\x05\0\0\0")), 257, (3, 1, b"\x03\0\0\0")),
    "no strips": _renamed(_renamed(tiff_bytes(4, 4), 273, 282), 279, 283),
    "no width": _renamed(tiff_bytes(4, 4), 256, 254),
}


def _far_value() -> bytes:
    """A DateTime whose text lies past the first 8 KB."""
    data = bytearray(tiff_bytes(4, 4, [_DATE]))
    ifd = struct.unpack_from("<I", data, 4)[0]
    for start in range(ifd + 2, len(data), 12):
        if struct.unpack_from("<H", data, start)[0] == 306:
            struct.pack_into("<I", data, start + 8, HEAD_BYTES + 100)
            return bytes(data) + bytes(HEAD_BYTES + 200 - len(data))
    raise AssertionError


NOT_PLAIN: dict[str, bytes] = {
    "description": tiff_bytes(4, 4, [(270, 2, 6, b"hello\0")]),
    "vendor tag": tiff_bytes(4, 4, [(34682, 2, 6, b"hello\0")]),
    "exif": tiff_bytes(4, 4, [(34665, 4, 1, struct.pack("<I", 0))]),
    "both sizes 0": tiff_bytes(0, 0),
    "CCITT": _replace(tiff_bytes(4, 4), 259, (3, 1, b"\x03\0\0\0")),
    "width twice": _replace(tiff_bytes(4, 4), 256, (4, 2, struct.pack("<I", 60))),
    "width as a rational": _replace(tiff_bytes(4, 4), 256, (5, 1, struct.pack("<I", 60))),
    "datetime as bytes": tiff_bytes(4, 4, [(306, 1, 20, b"2021:06:23 16:38:33\0")]),
    "directory past the head": b"II*\0" + struct.pack("<I", HEAD_BYTES + 8) + bytes(HEAD_BYTES) + tiff_bytes(4, 4)[8:],
    "value past the head": _far_value(),
    "big-endian bigtiff": b"MM\0+" + bytes(12),
    "cut in its header": b"II*\0\x08\0",
    # tifffile makes the byte count up from the size (10,000 bytes: past the end) or fails on the tag
    "byte counts missing": _renamed(tiff_bytes(100, 100), 279, 283),
    "samples per pixel twice": _replace(tiff_bytes(4, 4), 277, (3, 2, struct.pack("<HH", 1, 1))),
    "bits per sample as a rational": _replace(tiff_bytes(4, 4), 258, (5, 1, struct.pack("<I", 8))),
    "rows per strip as a float": _replace(tiff_bytes(4, 4), 278, (11, 1, struct.pack("<f", float("nan")))),
}


def _read(path: Path, *, plain: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[object, list, bool]:
    """The record (or the refusal), the warnings, and whether tifffile was opened."""
    with monkeypatch.context() as patch:
        if not plain:
            patch.setattr(readers_base, "plain_ifd", lambda head: None)
        problems: list = []
        with Source(path) as source:
            try:
                outcome: object = read_source(source, problems=problems, mtime=1.0)
            except UnreadableFileError as exc:
                outcome = f"refused: {exc}"
            return outcome, problems, source._tiff is not None


def _tifffile_values(path: Path) -> tuple:
    with tifffile.TiffFile(path) as tiff:
        page = tiff.pages.first
        ends = (o + n for o, n in zip(page.dataoffsets, page.databytecounts, strict=False))
        return int(page.imagewidth), int(page.imagelength), max(ends, default=0), page.tags.valueof(306)


@pytest.mark.parametrize("name", sorted(PLAIN))
def test_a_plain_tiff_reads_as_tifffile_reads_it(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = PLAIN[name]
    path = write(tmp_path / "x.tif", data)
    found = plain_ifd(path.read_bytes()[:HEAD_BYTES])
    assert found is not None
    if name not in ("zero width", "huge", "no width"):  # tifffile reads those too; the census refuses them
        assert (found.width, found.height, found.data_end, found.datetime) == _tifffile_values(path)
    fast, slow = _read(path, plain=True, monkeypatch=monkeypatch), _read(path, plain=False, monkeypatch=monkeypatch)
    assert fast[:2] == slow[:2]
    assert (fast[2], slow[2]) == (False, True)  # the plain path never opened tifffile


@pytest.mark.parametrize("name", sorted(NOT_PLAIN))
def test_any_other_tiff_goes_to_tifffile(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "x.tif", NOT_PLAIN[name])
    assert plain_ifd(path.read_bytes()[:HEAD_BYTES]) is None
    assert _read(path, plain=True, monkeypatch=monkeypatch) == _read(path, plain=False, monkeypatch=monkeypatch)


@pytest.mark.parametrize(("writer", "plain"), [
    (lambda path: _pil(path, "L"), True),
    (lambda path: _pil(path, "RGB"), True),
    (lambda path: _pil(path, "I;16"), True),
    (lambda path: _pil(path, "L", compression="tiff_lzw"), True),
    (lambda path: _pil(path, "L", tiffinfo={306: "2019:01:02 03:04:05"}), True),
    (lambda path: _pil(path, "L", compression="tiff_jpeg"), False),
    (lambda path: tifffile.imwrite(path, np.zeros((30, 40), np.uint16), byteorder=">", metadata=None, software=False), True),
    (lambda path: tifffile.imwrite(path, np.zeros((300, 400), np.uint8), metadata=None, software=False,
                                   rowsperstrip=7, datetime="2020:05:06 07:08:09"), True),
    (lambda path: tifffile.imwrite(path, np.zeros((30, 40), np.uint8)), False),  # its JSON description
    (lambda path: tifffile.imwrite(path, np.zeros((64, 64), np.uint8), tile=(16, 16), metadata=None, software=False), False),
])
def test_tiffs_other_software_writes(writer, plain: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "x.tif"
    writer(path)
    found = plain_ifd(path.read_bytes()[:HEAD_BYTES])
    assert (found is not None) is plain
    if found is not None:
        assert (found.width, found.height, found.data_end, found.datetime) == _tifffile_values(path)
    fast, slow = _read(path, plain=True, monkeypatch=monkeypatch), _read(path, plain=False, monkeypatch=monkeypatch)
    assert fast[:2] == slow[:2] and fast[2] is not plain


def _only_plain_tags(data: bytes) -> bytes:
    """`data` with its first directory's non-plain entries taken out (the values stay where they lie)."""
    order = {b"II": "<", b"MM": ">"}[data[:2]]
    ifd = struct.unpack_from(order + "I", data, 4)[0]
    starts = range(ifd + 2, ifd + 2 + 12 * struct.unpack_from(order + "H", data, ifd)[0], 12)
    kept = [data[start:start + 12] for start in starts if struct.unpack_from(order + "H", data, start)[0] in PLAIN_TAGS]
    block = struct.pack(order + "H", len(kept)) + b"".join(kept) + bytes(4)
    return data[:ifd] + block + data[ifd + len(block):]


@pytest.mark.parametrize("sample", [
    "fei-tfs-tiff/FEI-Helios-Ebeam-16bits.tif", "fei-tfs-tiff/FEI-Helios-Ebeam-8bits.tif",
    "fei-tfs-tiff/FEI-Helios-navcam.tif", "fei-tfs-tiff/quad1image_001.tif",
    "hitachi-sem-txt/sample-１_200倍(x200).tif", "jeol-sem-txt/JEOL SEM - etched sidewall 01.tif",
    "jeol-tem-sightx-tiff/JEOL-SightX-TEM-mag-dummy.tif", "olympus-sis-tiff/olympus_SIS.tif",
    "tvips-tiff/TVIPS_bin4.tif", "zeiss-smartsem-tiff/test_tiff_Zeiss_SEM_512pix.tif",
], indirect=True)
def test_real_vendor_tiffs(sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A vendor's TIFF is never plain (its metadata tag or a directory past the head sends it to tifffile);
    the same file with only its plain tags is read alike both ways (the Zeiss and quad files from the head)."""
    data = sample.read_bytes()
    assert plain_ifd(data[:HEAD_BYTES]) is None
    path = write(tmp_path / "x.tif", _only_plain_tags(data))
    found = plain_ifd(path.read_bytes()[:HEAD_BYTES])
    assert (found is not None) is (sample.name in ("quad1image_001.tif", "test_tiff_Zeiss_SEM_512pix.tif"))
    if found is not None:
        assert (found.width, found.height, found.data_end, found.datetime) == _tifffile_values(path)
    fast, slow = _read(path, plain=True, monkeypatch=monkeypatch), _read(path, plain=False, monkeypatch=monkeypatch)
    assert fast[:2] == slow[:2] and fast[2] is (found is None)
