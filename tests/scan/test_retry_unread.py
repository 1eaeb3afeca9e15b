"""`scan --retry-unread`: a file not read for a limit of the reading (its process's memory cap, its time
budget) is read again once the limit is raised, unchanged as it is and in a folder whose fingerprint says
unchanged; a damaged file is not, nor any other file. Real DM3 files, real capped worker processes, a real
rescan of a real catalog."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from emcensus.catalog import Catalog
from emcensus.scan import RootSpec, scan
from emcensus.scan.pool import LIMIT_REASONS, MEMORY_ENV, memory_reason, timeout_reason

#: float32 values of the whole DM3 file: 32 MB on disk, ~256 MB as the reader's Python list: past a
#: reading process capped at the floor, read given 2 GiB.
WHOLE_VALUES = 8_000_000
SMALL_CAP, RAISED_CAP = "0.25", "2"


def _dm3(path: Path, element: bytes, values: bytes) -> Path:
    """A DM3 file whose root holds one tag, an array (`element`: its info after the array's type)."""
    name = b"Values"
    tag = (b"\x15" + struct.pack(">h", len(name)) + name + b"%%%%" + struct.pack(">l", 1 + len(element) // 4)
           + struct.pack(">l", 20) + element + values)
    body = b"\x01\x00" + struct.pack(">l", 1) + tag
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(struct.pack(">lll", 3, len(body) + 12, 1) + body)
    return path


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """run1/: a whole file that needs memory, a damaged one (declares 2**31 - 1 strings in 70 bytes), one
    that reads; run2/: one that reads."""
    root = tmp_path / "archive"
    _dm3(root / "run1" / "whole.dm3", struct.pack(">ll", 6, WHOLE_VALUES), bytes(4 * WHOLE_VALUES))
    _dm3(root / "run1" / "damaged.dm3", struct.pack(">lll", 18, 0, 2**31 - 1), b"")
    _dm3(root / "run1" / "small.dm3", struct.pack(">ll", 6, 4), bytes(16))
    _dm3(root / "run2" / "other.dm3", struct.pack(">ll", 6, 4), bytes(16))
    return root


def _errors(catalog: Catalog) -> dict[str, str | None]:
    return {Path(path).name: error for path, error in catalog.db.execute("SELECT path, error FROM images")}


def _scan(catalog: Catalog, root: Path, cap: str, monkeypatch: pytest.MonkeyPatch, **options):
    monkeypatch.setenv(MEMORY_ENV, cap)
    return scan(catalog, [RootSpec(str(root))], workers=1, **options)


def test_a_file_refused_for_memory_is_read_again_after_the_cap_is_raised_and_nothing_else(
        archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Catalog(tmp_path / "c.sqlite") as catalog:
        first = _scan(catalog, archive, SMALL_CAP, monkeypatch)
        errors = _errors(catalog)
        assert errors["whole.dm3"].startswith("needs more memory than a reading process may take (0.25 GiB;")
        assert errors["damaged.dm3"].startswith("damaged DM file")
        assert first.limited == 1 and "`emcensus scan --retry-unread` reads them again" in first.paragraph()

        plain = _scan(catalog, archive, RAISED_CAP, monkeypatch)  # a rescan alone reads nothing: unchanged
        assert (plain.read, plain.skipped) == (0, 4) and _errors(catalog) == errors

        retry = _scan(catalog, archive, RAISED_CAP, monkeypatch, retry_unread=True)
        assert (retry.read, retry.skipped, retry.errors, retry.limited) == (1, 3, 1, 0)
        after = _errors(catalog)
        assert after["whole.dm3"] == "DM file holds no image (only a thumbnail or nothing)"  # read to its end
        assert after["damaged.dm3"] == errors["damaged.dm3"]
        assert "--retry-unread" not in retry.paragraph()

        again = _scan(catalog, archive, RAISED_CAP, monkeypatch, retry_unread=True)  # nothing left for a limit
        assert (again.read, again.skipped) == (0, 4)


def test_the_limit_reasons_are_those_the_readers_write() -> None:
    """The reasons a retry looks for begin as the writers' do; content's reasons do not."""
    assert memory_reason().startswith(LIMIT_REASONS) and timeout_reason(30).startswith(LIMIT_REASONS)
    assert not "damaged DM file: a tag declares".startswith(LIMIT_REASONS)


def test_the_cli_says_how_to_read_them_again_and_does(archive: Path, tmp_path: Path) -> None:
    from support import catalog_cli

    cli = catalog_cli(tmp_path / "c.sqlite")
    first = cli("scan", str(archive), "--workers", "1", env={MEMORY_ENV: SMALL_CAP}).output
    assert "1 of the unreadable were not read for a limit of this run" in first and "--retry-unread" in first
    retried = cli("scan", str(archive), "--workers", "1", "--retry-unread", env={MEMORY_ENV: RAISED_CAP}).output
    assert "1 read" in retried and "3 unchanged since the last scan" in retried and "--retry-unread" not in retried
