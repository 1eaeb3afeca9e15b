"""Thermo Fisher Phenom `.elid` (Element Identification projects, EID ≥ 3.8), through RosettaSciIO.

An `.elid` is one bzip2 stream (`BZh`) holding a project: SEM images and the EDS spectra, maps and
line scans taken on them. RosettaSciIO decodes the whole project (it has no lazy mode), so before
it runs the stream is decompressed once here without keeping the output, to refuse a truncated
stream (rsciio would wait for more input forever) and a decompression bomb (more than
`MAX_DECOMPRESSED_BYTES`). One record per file: the first SEM image (the project's first
two-dimensional dataset without an EDS signal type); the other datasets are summarised in
`original_metadata["other_datasets"]`.

The public `rsciio.phenom.file_reader` takes only a file name and opens it itself (without
O_NOATIME: a scan would update every project's access time), so its parser, the private
`rsciio.phenom._api.ElidReader`, is given the access policy's handle instead; the rosettasciio
version is pinned in pyproject.toml and `tests/readers/test_phenom.py` checks the result against
the public reader.

Per image (rsciio's original_metadata): `pixelWidth` {value, unit}, `acquisition.scan.highVoltage`
(written negative, `-15 kV`), `workingDistance` {value, unit}, `acquisition.scan.detector`
(`bsd-all`, `sed`), `instrument.type` (`PhenomXL`), `time` (ISO 8601, UTC per rsciio).
Magnification is not stored (only the field size), so it stays unknown; the FOV comes from the
pixel size.
"""

from __future__ import annotations

import bz2
import struct
from datetime import datetime, timezone
from typing import Any, BinaryIO

from emcensus import access
from emcensus.errors import UnreadableFileError
from emcensus.readers.base import Reader, Reading, Source
from emcensus.readers.common import json_safe, plausible, text_or_none
from emcensus.readers.units import number, to_metres, to_volts

BZIP2_MAGIC = b"BZh"
ELID_MAGIC = b"EID2"
#: A project of a few large EDS maps decompresses to hundreds of MB; beyond this it is refused.
MAX_DECOMPRESSED_BYTES = 1 << 30
_CHUNK = 1 << 20


def check_stream(handle: BinaryIO, limit: int | None = None) -> int:
    """The decompressed size of a complete bzip2 `.elid`, read from `handle` and discarded; refuse a
    truncated stream, a non-ELID payload, or more than `limit` bytes (default `MAX_DECOMPRESSED_BYTES`)."""
    limit = MAX_DECOMPRESSED_BYTES if limit is None else limit
    decompressor = bz2.BZ2Decompressor()
    total, first = 0, b""
    while not decompressor.eof:
        chunk = b""
        if decompressor.needs_input:
            chunk = handle.read(_CHUNK)
            if not chunk:
                raise UnreadableFileError("truncated .elid: the compressed stream ends early")
        try:
            data = decompressor.decompress(chunk, _CHUNK)
        except (OSError, EOFError, ValueError) as exc:
            raise UnreadableFileError(f"damaged .elid (bzip2): {exc}") from exc
        first = (first + data[:4])[:4] if len(first) < 4 else first
        total += len(data)
        if total > limit:
            raise UnreadableFileError(f".elid decompresses to more than {limit:,} bytes; not read")
    if first != ELID_MAGIC:
        raise UnreadableFileError("not a Phenom ELID project (no EID2 header inside the bzip2 stream)")
    return total


def read_project(handle: BinaryIO, name: str) -> list[dict[str, Any]]:
    """rsciio's dataset dictionaries of the project in `handle` (positioned at its start)."""
    from rsciio.phenom._api import ElidReader

    class _FromHandle(ElidReader):
        """ElidReader's own __init__, on a handle instead of a file name."""

        def __init__(self) -> None:
            self._pathname, self._file = name, handle
            self._decompressor, self._block_size = bz2.BZ2Decompressor(), _CHUNK
            magic, version = struct.unpack("<4si", self._read(8))
            if magic != ELID_MAGIC or version > 4:
                raise UnreadableFileError(f"unsupported ELID project (version {version})")
            self._version = version
            self.dictionaries = self._read_Project()

    return _FromHandle().dictionaries


def _quantity(item: Any, parse: Any, default_unit: str) -> float | None:
    """`{"value": "8.14", "unit": "mm"}` or a bare number, through one of `units`' parsers."""
    if isinstance(item, dict):
        return parse(f"{item.get('value')} {item.get('unit') or default_unit}")
    return parse(item, default_unit)


def _utc(text: Any) -> datetime | None:
    """rsciio's UTC time stamp as naive local time, like the other readers and the mtime fallback."""
    value = text_or_none(text)
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return plausible(when.astimezone().replace(tzinfo=None))


def _is_image(dataset: dict[str, Any]) -> bool:
    signal = ((dataset.get("metadata") or {}).get("Signal") or {}).get("signal_type")
    return len(dataset.get("axes") or ()) == 2 and not signal


def parse_phenom(dataset: dict[str, Any]) -> Reading:
    """One rsciio dataset dictionary of a Phenom SEM image as a `Reading`."""
    meta = dataset.get("original_metadata") if isinstance(dataset.get("original_metadata"), dict) else {}
    acquisition = meta.get("acquisition") if isinstance(meta.get("acquisition"), dict) else {}
    scan = acquisition.get("scan") if isinstance(acquisition.get("scan"), dict) else {}
    instrument = meta.get("instrument") if isinstance(meta.get("instrument"), dict) else {}
    high_voltage = scan.get("highVoltage")
    if isinstance(high_voltage, dict):  # Phenom writes the cathode potential, -15 kV
        value = number(high_voltage.get("value"))
        high_voltage = {**high_voltage, "value": abs(value) if value is not None else None}
    axes = {axis.get("name"): axis for axis in dataset.get("axes") or () if isinstance(axis, dict)}
    width, height = number((axes.get("x") or {}).get("size")), number((axes.get("y") or {}).get("size"))
    return Reading(
        vendor="FEI/Thermo",
        model=text_or_none(instrument.get("type")),
        technique="SEM",
        detector=text_or_none(scan.get("detector")),
        accelerating_voltage_v=_quantity(high_voltage, to_volts, "V") if high_voltage is not None else None,
        working_distance_m=_quantity(meta.get("workingDistance"), to_metres, "m"),
        pixel_size_m=_quantity(meta.get("pixelWidth"), to_metres, "m"),
        width_px=int(width) if width else None,
        height_px=int(height) if height else None,
        acquired_at=_utc(meta.get("time")),
        original_metadata=json_safe(meta),
        metadata_source="phenom-elid",
    )


class PhenomElidReader(Reader):
    name = "phenom-elid"
    vendor = "FEI/Thermo"
    extensions = frozenset({".elid"})

    def accepts(self, source: Source) -> bool:
        return source.head.startswith(BZIP2_MAGIC)

    def read(self, source: Source) -> Reading:
        with access.open_file(source.path) as handle:
            check_stream(handle)
            handle.seek(0)
            try:
                datasets = read_project(handle, source.path.name)
            except UnreadableFileError:
                raise
            except MemoryError as exc:
                raise UnreadableFileError("damaged .elid (absurd sizes)") from exc
            except Exception as exc:  # rsciio raises bare Exception, struct.error, KeyError... on damaged files
                raise UnreadableFileError(f"damaged .elid: {type(exc).__name__}: {exc}") from exc
        images = [dataset for dataset in datasets if _is_image(dataset)]
        if not images:
            raise UnreadableFileError("Phenom project holds no SEM image (only spectra or nothing)")
        reading = parse_phenom(images[0])
        reading.original_metadata = {
            "image": reading.original_metadata,
            "other_datasets": [_summary(dataset) for dataset in datasets if dataset is not images[0]],
        }
        return reading


def _summary(dataset: dict[str, Any]) -> dict[str, Any]:
    """Title, shape and signal type of one other dataset of the project."""
    metadata = dataset.get("metadata") or {}
    return {
        "title": text_or_none((metadata.get("General") or {}).get("title")),
        "shape": list(getattr(dataset.get("data"), "shape", ()) or ()),
        "signal_type": text_or_none((metadata.get("Signal") or {}).get("signal_type")),
    }
