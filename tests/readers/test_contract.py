"""The reader contract, over every reader in READERS and every real vendor file.

Each real file yields a record with the right types and SI ranges (or a clear refusal); each
reader claims its own vendor's files and no other's; no reader raises anything but
UnreadableFileError on junk: empty files, truncated copies and random bytes with the right name.
"""

from __future__ import annotations

import json
import random
import shutil
import zlib
from datetime import datetime
from pathlib import Path

import pytest

from emcensus import read_metadata
from emcensus.errors import UnreadableFileError
from emcensus.readers import READERS, Source, find_sidecar
from emcensus.record import KINDS, ImageRecord
from emcensus.vocab import TECHNIQUES

HELIOS = {"fei-tiff", "generic"}
#: Every image in the samples folder and the readers (by name) that must claim it.
OWNERS: dict[str, set[str]] = {
    "fei-tfs-tiff/FEI-Helios-Ebeam-16bits.tif": HELIOS,
    "fei-tfs-tiff/FEI-Helios-Ebeam-8bits.tif": HELIOS,
    "fei-tfs-tiff/FEI-Helios-navcam.tif": HELIOS,
    "fei-tfs-tiff/quad1image_001.tif": HELIOS,
    "fei-tia-emi-ser/128x128-TEM_search_1.ser": {"tia"},
    "fei-tia-emi-ser/16x16_STEM_BF_DF_acquire_1.ser": {"tia"},
    "fei-tia-emi-ser/16x16_STEM_BF_DF_acquire_2.ser": {"tia"},
    "fei-tia-emi-ser/64x64_TEM_images_acquire_1.ser": {"tia"},
    "gatan-dm/dmTest_float32_nonSquare_diffPixelSize.dm3": {"gatan-dm"},
    "gatan-dm/test-MonarcCL_mono-image.dm4": {"gatan-dm"},
    "gatan-dm/test_STEM_image.dm3": {"gatan-dm"},
    "gatan-dm/test_diffraction_pattern.dm3": {"gatan-dm"},
    "hitachi-sem-txt/sample-１_200倍(x200).tif": {"hitachi-sem", "hitachi-tiff", "generic"},
    "hitachi-sem-txt/sample-１_600倍(x600).tif": {"hitachi-sem", "hitachi-tiff", "generic"},
    "jeol-sem-txt/JEOL SEM - etched sidewall 01.tif": {"jeol-sem", "generic"},
    "jeol-tem-sightx-tiff/JEOL-SightX-TEM-mag-dummy.tif": {"jeol-sightx", "generic"},
    "mrc/HAADFscan.mrc": {"mrc"},
    "olympus-sis-tiff/olympus_SIS.tif": {"olympus-sis", "generic"},
    "phenom-elid/Elid2Version4.elid": {"phenom-elid"},  # an EDS project: its first SEM image
    "tvips-tiff/TVIPS_bin4.tif": {"tvips-tiff", "generic"},
    "velox-emd/Camera Ceta Imaging Micro.emd": {"velox-emd"},
    "velox-emd/STEM HAADF Diffraction Micro.emd": {"velox-emd"},
    "zeiss-smartsem-tiff/test_tiff_Zeiss_SEM_512pix.tif": {"zeiss-tiff", "generic"},
}
#: Real files that must be refused with a reason (none today; kept for the next odd sample).
UNREADABLE: set[str] = set()
SAMPLES = sorted(OWNERS)
READER_IDS = [reader.name for reader in READERS]
JUNK_KINDS = ("empty", "truncated-half", "truncated-head", "random")


def assert_valid_record(record: ImageRecord) -> None:
    """Types and SI ranges every record must respect, whatever the vendor."""
    for name in ("vendor", "instrument", "detector", "detector_family", "metadata_source"):
        assert getattr(record, name) is None or isinstance(getattr(record, name), str), name
    assert record.technique is None or record.technique in TECHNIQUES
    assert record.kind in KINDS
    if record.accelerating_voltage_v is not None:
        assert 100 <= record.accelerating_voltage_v <= 1e6
    if record.working_distance_m is not None:
        assert 0 < record.working_distance_m <= 0.1
    if record.pixel_size_m is not None:
        assert 1e-13 <= record.pixel_size_m <= 1e-3
    if record.magnification is not None:
        assert 0 < record.magnification < 1e8
    for name in ("width_px", "height_px"):
        value = getattr(record, name)
        assert value is None or (isinstance(value, int) and value > 0), name
    assert isinstance(record.acquired_at, str)
    datetime.fromisoformat(record.acquired_at)
    assert record.acquired_at_source in ("metadata", "mtime")
    assert isinstance(record.original_metadata, dict)
    json.dumps(record.original_metadata, allow_nan=False)


@pytest.mark.parametrize("sample", SAMPLES, indirect=True)
def test_sample_yields_valid_record_or_refusal(sample: Path, samples_dir: Path) -> None:
    name = sample.relative_to(samples_dir).as_posix()
    if name in UNREADABLE:
        with pytest.raises(UnreadableFileError):
            read_metadata(sample)
        return
    record = read_metadata(sample)
    assert_valid_record(record)
    assert record.metadata_source != "none", "a vendor reader, not the generic fallback, read it"


def test_every_sample_file_is_listed(samples_dir: Path) -> None:
    """A new sample file must be added to OWNERS (sidecars are read through their image)."""
    found = {
        path.relative_to(samples_dir).as_posix()
        for path in samples_dir.rglob("*")
        if path.is_file() and path.suffix.lower() not in (".md", ".txt", ".emi")
    }
    assert found == set(OWNERS)


def _claims(reader, source: Source) -> bool:
    """What `_pick` in the pipeline decides: the extension, then a cheap sniff."""
    if source.suffix not in reader.extensions:
        return False
    try:
        return bool(reader.accepts(source))
    except UnreadableFileError:  # e.g. a binary sidecar: the pipeline records it and goes on
        return False


@pytest.mark.parametrize("reader", READERS, ids=READER_IDS)
@pytest.mark.parametrize("sample", SAMPLES, indirect=True)
def test_reader_claims_only_its_vendor(reader, sample: Path, samples_dir: Path) -> None:
    with Source(sample, find_sidecar(sample)) as source:
        claimed = _claims(reader, source)
    assert claimed == (reader.name in OWNERS[sample.relative_to(samples_dir).as_posix()])


def _junk(sample: Path, kind: str, folder: Path) -> Path:
    """A damaged copy of `sample` in `folder`, with the intact sidecar (or .emi) beside it."""
    folder.mkdir()
    target = folder / sample.name
    data = sample.read_bytes()
    rng = random.Random(zlib.crc32(f"{sample.name}/{kind}".encode()))
    target.write_bytes({
        "empty": b"",
        "truncated-half": data[: len(data) // 2],
        "truncated-head": data[:300],
        "random": rng.randbytes(min(len(data), 65536)),
    }[kind])
    sidecar = find_sidecar(sample)
    if sidecar is not None:
        shutil.copyfile(sidecar, folder / sidecar.name)
    return target


def _only_unreadable(path: Path) -> list[str]:
    """Run every reader that claims `path`, then the pipeline; list anything but UnreadableFileError."""
    failures = []
    for reader in READERS:
        with Source(path, find_sidecar(path)) as source:
            try:
                if _claims(reader, source):
                    reader.read(source)
            except UnreadableFileError:
                pass
            except Exception as exc:  # the contract: nothing else may escape
                failures.append(f"{reader.name}: {type(exc).__name__}: {exc}")
    try:
        assert_valid_record(read_metadata(path))
    except UnreadableFileError:
        pass
    except Exception as exc:
        failures.append(f"pipeline: {type(exc).__name__}: {exc}")
    return failures


@pytest.mark.parametrize("kind", JUNK_KINDS)
@pytest.mark.parametrize("sample", SAMPLES, indirect=True)
def test_damaged_images_raise_only_unreadable(sample: Path, kind: str, tmp_path: Path) -> None:
    assert _only_unreadable(_junk(sample, kind, tmp_path / "junk")) == []


@pytest.mark.parametrize("kind", JUNK_KINDS)
@pytest.mark.parametrize("sample", [
    "hitachi-sem-txt/sample-１_200倍(x200).tif",
    "jeol-sem-txt/JEOL SEM - etched sidewall 01.tif",
    "fei-tia-emi-ser/16x16_STEM_BF_DF_acquire_1.ser",
], indirect=True)
def test_damaged_sidecars_raise_only_unreadable(sample: Path, kind: str, tmp_path: Path) -> None:
    """The image is intact and its sidecar (or .emi) is junk: the image is still read or refused."""
    sidecar = find_sidecar(sample)
    assert sidecar is not None
    copy = _junk(sidecar, kind, tmp_path / "junk")
    shutil.copyfile(sample, copy.parent / sample.name)
    assert _only_unreadable(copy.parent / sample.name) == []


@pytest.mark.parametrize("reader", READERS, ids=READER_IDS)
def test_random_bytes_with_each_extension(reader, tmp_path: Path) -> None:
    rng = random.Random(reader.name)
    failures = []
    for index, extension in enumerate(sorted(reader.extensions)):
        path = tmp_path / f"junk{index}{extension}"
        path.write_bytes(rng.randbytes(4096))
        (tmp_path / f"junk{index}.txt").write_bytes(rng.randbytes(512))
        failures += _only_unreadable(path)
    assert failures == []
