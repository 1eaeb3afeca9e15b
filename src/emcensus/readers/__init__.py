"""Reader registry and the pipeline that turns an image (+ sidecar) into a normalised record.

Each vendor format is one module with one `Reader` subclass; `READERS` lists them in the order
they are asked. Sidecar readers come first (a sidecar is the facility's own record), then readers
of vendor tags inside the image, then the generic fallback, which accepts every image.

Every reading, from any reader, passes `_record`: the one place where numbers outside their
physical range (`readers.limits.PHYSICAL_RANGES`) are dropped with a warning, the vocabulary is
applied and the FOV derived. `read_metadata` also takes a sidecar alone (`read_sidecar_only`, a
`sidecar-only` record) and a TIA `.emi` (read through its first `.ser`).
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timezone
from collections.abc import Iterator
from pathlib import Path

from emcensus import access
from emcensus.errors import OutOfMemoryError, UnreadableFileError
from emcensus.readers.base import Reader, Reading, Source, read_sidecar
from emcensus.readers.common import SidecarTextReader, per_text
from emcensus.readers.fei import FeiTiffReader
from emcensus.readers.gatan import GatanDmReader
from emcensus.readers.generic import GenericImageReader, image_dimensions
from emcensus.readers.hitachi import HitachiSidecarReader, HitachiTiffReader
from emcensus.readers.jeol_sem import JeolSemSidecarReader
from emcensus.readers.limits import drop_impossible
from emcensus.readers.mrc import MrcReader
from emcensus.readers.olympus import OlympusSisReader
from emcensus.readers.phenom import PhenomElidReader
from emcensus.readers.sightx import SightxTiffReader
from emcensus.readers.tia import TiaSerReader
from emcensus.readers.tvips import TvipsTiffReader
from emcensus.readers.velox import VeloxEmdReader
from emcensus.readers.zeiss import ZeissTiffReader
from emcensus.record import ImageRecord, Problem
from emcensus.vocab import detector_family, infer_technique, lookup_model

#: Vendor readers in the order they are asked; the generic reader is always last.
READERS: list[Reader] = [
    # sidecar readers
    HitachiSidecarReader(),
    JeolSemSidecarReader(),
    # vendor tags inside TIFFs
    FeiTiffReader(),
    ZeissTiffReader(),
    SightxTiffReader(),
    TvipsTiffReader(),
    OlympusSisReader(),
    HitachiTiffReader(),
    # native formats
    GatanDmReader(),
    TiaSerReader(),
    VeloxEmdReader(),
    MrcReader(),
    PhenomElidReader(),
    GenericImageReader(),
]

#: The container each common extension names (a file whose magic says otherwise gets a warning).
_EXPECTED_FORMAT = {".tif": "tiff", ".tiff": "tiff", ".jpg": "jpeg", ".jpeg": "jpeg", ".png": "png", ".bmp": "bmp"}
COMMON_IMAGE_EXTENSIONS = frozenset(_EXPECTED_FORMAT)
#: Every extension some reader turns into an image record.
IMAGE_EXTENSIONS = frozenset().union(*(r.extensions for r in READERS))
#: Text sidecars, paired with the image of the same stem in the same folder.
SIDECAR_EXTENSIONS = frozenset({".txt", ".hdr"})
#: Metadata files of a native format that holds the pixels elsewhere (TIA: `x.emi` + `x_1.ser`).
NATIVE_SIDECARS = {".ser": ".emi"}
_SER_INDEX = re.compile(r"_\d+$")


_TEXT_SIDECARS = tuple(sorted(SIDECAR_EXTENSIONS, reverse=True))  # .txt before .hdr


def sidecar_key(stem: str, suffix: str) -> tuple[str, tuple[str, ...]]:
    """The stem and extensions of the sidecar an image (`stem` + lower-case `suffix`) pairs with:
    by name, never by the `ImageName=` a sidecar holds (files get renamed)."""
    native = NATIVE_SIDECARS.get(suffix)
    if native:
        return _SER_INDEX.sub("", stem), (native,)
    return stem, _TEXT_SIDECARS


def find_sidecar(image: Path, names: list[str] | None = None) -> Path | None:
    """The sidecar next to `image`: same stem, extension in any case."""
    if names is None:
        try:
            names = access.listdir(image.parent)
        except OSError:
            return None
    stem, extensions = sidecar_key(image.stem, image.suffix.lower())
    for name in sorted(names):
        other_stem, other_suffix = os.path.splitext(name)
        if other_stem == stem and other_suffix.lower() in extensions:
            return image.parent / name
    return None


def _pick(source: Source, sidecar_readers: bool) -> Iterator[Reader]:
    """Readers that accept the source, in registry order; lazy, so the first match costs only its sniff."""
    return (
        reader
        for reader in READERS
        if reader.uses_sidecar == sidecar_readers
        and source.suffix in reader.extensions
        and reader.accepts(source)
    )


def _read(source: Source, problems: list[Problem]) -> tuple[Reader, Reading]:
    """Try the sidecar's reader, then the image's own readers; collect the reasons of each failure."""
    # A native pair (TIA .ser + .emi) is read by the image's own reader, not as a sidecar.
    if source.sidecar_path is not None and source.suffix not in NATIVE_SIDECARS:
        try:
            for reader in _pick(source, sidecar_readers=True):
                return reader, _read_with(reader, source)
            problems.append(Problem(source.sidecar_path, "sidecar format not recognised; image read without it", "warning"))
        except OutOfMemoryError:
            raise
        except UnreadableFileError as exc:
            problems.append(Problem(source.sidecar_path, f"{exc}; image read without it", "warning"))
    last_error: UnreadableFileError | None = None
    for reader in _pick(source, sidecar_readers=False):
        try:
            return reader, _read_with(reader, source)
        except OutOfMemoryError:
            raise  # not the file's fault: no other reader is tried, the reason stands
        except UnreadableFileError as exc:
            last_error = exc
    if last_error is not None:
        raise last_error
    raise UnreadableFileError(f"no reader for {source.suffix or 'files without an extension'}")


def _read_with(reader: Reader, source: Source) -> Reading:
    """`reader.read(source)`; a MemoryError, raised or under a reader's own line ("damaged ..."), is this
    process's memory, said as such: the readers check the sizes a file declares against the file before
    allocating, so the file's damage is their own line, never a MemoryError."""
    try:
        return reader.read(source)
    except (MemoryError, UnreadableFileError) as exc:
        if isinstance(exc, MemoryError) or isinstance(exc.__cause__, MemoryError):
            from emcensus.scan.pool import memory_reason  # here: scan imports the readers

            raise OutOfMemoryError(memory_reason()) from exc
        raise


def _iso(when: datetime) -> str:
    return when.isoformat(timespec="seconds")


#: A session's files repeat their model and detector names: each normalised once per process.
_model_of, _family_of = per_text(lookup_model), per_text(detector_family)


def read_source(
    source: Source,
    *,
    instrument: str | None = None,
    instrument_technique: str | None = None,
    problems: list[Problem] | None = None,
    mtime: float | None = None,
) -> ImageRecord:
    """Normalise one image. `instrument` (from the facility file) wins over the model in the file."""
    problems = problems if problems is not None else []
    if source.suffix in COMMON_IMAGE_EXTENSIONS:
        if not source.head:
            raise UnreadableFileError("empty file (0 bytes)")
        actual = source.format
        if actual is None:
            raise UnreadableFileError(f"not an image: the file starts with {source.head[:8]!r}")
        if actual != _EXPECTED_FORMAT[source.suffix]:
            problems.append(Problem(source.file_path, f"wrong extension: a {actual.upper()} file named {source.suffix}", "warning"))
    reader, reading = _read(source, problems)
    if (reading.width_px is None or reading.height_px is None) and source.suffix in COMMON_IMAGE_EXTENSIONS:
        width, height, embedded_date = image_dimensions(source)
        reading.width_px = reading.width_px or width
        reading.height_px = reading.height_px or height
        reading.acquired_at = reading.acquired_at or embedded_date
    if reader.name == "generic":
        reading.metadata_source = "none"
    return _record(source.file_path, reading, problems, instrument, instrument_technique, mtime)


def _record(
    path: str | os.PathLike[str],
    reading: Reading,
    problems: list[Problem],
    instrument: str | None,
    instrument_technique: str | None,
    mtime: float | None,
) -> ImageRecord:
    """The normalised record of one reading: impossible numbers dropped (with a warning), vocabulary
    applied, FOV derived, the date's source said. The one place every reader's output passes."""
    path = os.fspath(path)
    drop_impossible(reading, path, problems)
    known = _model_of(reading.model)
    vendor = reading.vendor or (known.vendor if known else None)
    technique_of_instrument = instrument_technique or (known.technique if known else None)
    family = _family_of(reading.detector, reading.technique)
    technique = infer_technique(family, reading.technique, technique_of_instrument)
    fov = reading.pixel_size_m * reading.width_px if reading.pixel_size_m and reading.width_px else None

    if reading.acquired_at is not None:
        acquired_at, acquired_source = _iso(reading.acquired_at), "metadata"
    else:
        stamp = mtime if mtime is not None else os.stat(path).st_mtime
        acquired_at, acquired_source = _iso(datetime.fromtimestamp(stamp, timezone.utc).astimezone().replace(tzinfo=None)), "mtime"

    return ImageRecord(
        path=path,
        vendor=vendor,
        instrument=instrument or reading.model,
        technique=technique,
        detector=reading.detector,
        detector_family=family,
        magnification=reading.magnification,
        accelerating_voltage_v=reading.accelerating_voltage_v,
        working_distance_m=reading.working_distance_m,
        pixel_size_m=reading.pixel_size_m,
        width_px=reading.width_px,
        height_px=reading.height_px,
        fov_width_m=fov,
        acquired_at=acquired_at,
        acquired_at_source=acquired_source,
        metadata_source=reading.metadata_source,
        kind=reading.kind,
        original_metadata=reading.original_metadata,
    )


#: Readers of a sidecar's text alone, for a sidecar whose image is gone.
SIDECAR_READERS: tuple[SidecarTextReader, ...] = tuple(
    reader for reader in READERS if isinstance(reader, SidecarTextReader))


def read_sidecar_only(
    path: str | os.PathLike[str],
    *,
    instrument: str | None = None,
    instrument_technique: str | None = None,
    problems: list[Problem] | None = None,
    mtime: float | None = None,
) -> ImageRecord:
    """A sidecar without its image (an orphan): the acquisition it records, `kind="sidecar-only"`.

    The image is gone, so width, height and pixel data come from the sidecar alone; the date is the
    sidecar's, else the sidecar file's mtime.
    """
    sidecar = Path(path)
    if sidecar.suffix.lower() == ".emi":
        raise UnreadableFileError("a TIA .emi whose .ser files are gone: its metadata is not read without them")
    text = read_sidecar(sidecar)
    for reader in SIDECAR_READERS:
        if reader.looks(text):
            reading = reader.parse(text)
            reading.kind = "sidecar-only"
            problems = problems if problems is not None else []
            return _record(sidecar, reading, problems, instrument, instrument_technique, mtime)
    raise UnreadableFileError("sidecar format not recognised (neither Hitachi [SemImageFile] nor JEOL $CM_ keys)")


def ser_files(emi: Path) -> list[Path]:
    """The `.ser` files a TIA `.emi` describes (`X.emi` → `X_1.ser`, `X_2.ser`...), in index order."""
    pattern = re.compile(re.escape(emi.stem) + r"_(\d+)\.ser", re.IGNORECASE)
    try:
        names = access.listdir(emi.parent)
    except OSError as exc:
        raise UnreadableFileError(f"cannot list the folder of {emi.name}: {exc.strerror or exc}") from exc
    found = sorted((int(match[1]), name) for name in names if (match := pattern.fullmatch(name)))
    return [emi.parent / name for _, name in found]


def read_metadata(
    path: str | os.PathLike[str],
    sidecar: str | os.PathLike[str] | None = None,
    *,
    instrument: str | None = None,
    instrument_technique: str | None = None,
) -> ImageRecord:
    """Read one image file (and its sidecar, found by stem unless given) into a normalised record.

    A sidecar alone (`.txt`, `.hdr`) gives a `sidecar-only` record; a TIA `.emi` is read through its
    first `.ser`. Raises `UnreadableFileError` when nothing usable can be read; use `read_source` to
    also get the warnings.
    """
    image = Path(path)
    try:
        access.check_regular(image)
    except UnreadableFileError as exc:
        raise UnreadableFileError(f"{image}: {exc}") from exc
    suffix = image.suffix.lower()
    if suffix in SIDECAR_EXTENSIONS and sidecar is None:
        return read_sidecar_only(image, instrument=instrument, instrument_technique=instrument_technique)
    if suffix == ".emi":
        series = ser_files(image)
        if not series:
            raise UnreadableFileError(f"{image}: no .ser file beside it ({image.stem}_1.ser...): the TIA data is missing")
        image, sidecar = series[0], image
    with Source(image, sidecar if sidecar is not None else find_sidecar(image)) as source:
        return read_source(source, instrument=instrument, instrument_technique=instrument_technique)


__all__ = [
    "IMAGE_EXTENSIONS",
    "READERS",
    "SIDECAR_EXTENSIONS",
    "Reader",
    "Reading",
    "Source",
    "find_sidecar",
    "read_metadata",
    "read_sidecar_only",
    "read_source",
    "ser_files",
    "sidecar_key",
]
