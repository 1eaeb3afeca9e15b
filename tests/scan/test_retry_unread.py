"""`scan --retry-unread`: a file not read for a limit of the reading (its process's memory cap, its time
budget) is read again once the limit is raised, unchanged as it is and in a folder whose fingerprint says
unchanged; a damaged file is not, nor any other file. Real DM3 files, real capped worker processes, a real
rescan of a real catalog."""

from __future__ import annotations

import os
import struct
import time
from pathlib import Path
from typing import Any

import pytest

from emcensus.catalog import Catalog
from emcensus.scan import RootSpec, scan
from emcensus.scan.pool import CRASH_REASON, LIMIT_REASONS, MEMORY_ENV, memory_reason, timeout_reason

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


@pytest.fixture
def slow_archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict[str, Any]]:
    """slow0.tif (in the root's own folder), run1/deep/slow1.tif beside run1/deep/img2.tif, run1/img0.tif,
    and slow3.tif in a folder whose name is Latin-1, not UTF-8 (b"run\\xe92"): reading a file named slow*
    sleeps `delay["s"]` (a real slow read, in whatever thread or process reads it), whatever its budget; a
    worker process reading the file named `delay["crash"]` dies (a decoder's crash)."""
    import emcensus.scan as scan_module
    from support import write_tiff

    root = tmp_path / "archive"
    for seed, name in enumerate(("slow0.tif", "run1/img0.tif", "run1/deep/slow1.tif", "run1/deep/img2.tif",
                                 os.fsdecode(b"run\xe92/slow3.tif"))):
        write_tiff(root / name, seed=seed)
    delay = {"s": 0.0}
    real = scan_module.read_source

    def read_source(source, **kwargs):
        if source.path.name == delay.get("crash"):
            os._exit(9)
        if source.path.name.startswith("slow"):
            time.sleep(delay["s"])
        return real(source, **kwargs)

    monkeypatch.setattr(scan_module, "read_source", read_source)
    return root, delay


def _refused(catalog: Catalog, archive: Path, delay: dict[str, Any], **options) -> dict[str, str | None]:
    """A first scan whose three slow files take 2.5 s against a budget of 1 s: refused for their time budget."""
    delay["s"] = 2.5
    first = scan(catalog, [RootSpec(str(archive), "SU8230")], file_timeout=1, **options)
    assert (first.read, first.errors, first.limited) == (5, 3, 3)
    errors = _errors(catalog)
    assert {name for name, error in errors.items() if error} == {"slow0.tif", "slow1.tif", "slow3.tif"}
    return errors


@pytest.mark.parametrize("how", ["in-process", "threads"])
def test_a_file_past_its_time_budget_is_read_again_with_a_larger_one_and_nothing_else(
        slow_archive: tuple[Path, dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        how: str) -> None:
    """In this process the read is interrupted ("read took longer than 1 s"); on an executor given by the
    caller (threads, as Dask's) the scan stops waiting ("no result from the executor within 1 s"), and its
    surveys carry the catalog's state to the workers. Either way, once the budget is raised, the retry reads
    those three files (in the root's own folder, in a folder below a folder, in a top-level folder) and no
    other."""
    from concurrent.futures import ThreadPoolExecutor

    from emcensus.scan import pool as pool_module

    archive, delay = slow_archive
    monkeypatch.setattr(pool_module, "_STALL_GRACE_S", 0.0)
    # four threads: one left for the quick reads while the three slow ones block
    with Catalog(tmp_path / "c.sqlite") as catalog, ThreadPoolExecutor(4) as threads:
        options = {"workers": 0} if how == "in-process" else {"executor": threads, "batch_size": 1}
        errors = _refused(catalog, archive, delay, **options)
        start = "read took longer than 1 s" if how == "in-process" else "no result from the executor within 1 s"
        assert all(errors[f"slow{n}.tif"].startswith(start) for n in (0, 1, 3))

        delay["s"] = 0.3
        plain = scan(catalog, [RootSpec(str(archive), "SU8230")], file_timeout=10, **options)
        assert (plain.read, plain.skipped) == (0, 5) and _errors(catalog) == errors
        retry = scan(catalog, [RootSpec(str(archive), "SU8230")], file_timeout=10, retry_unread=True, **options)
        assert (retry.read, retry.skipped, retry.errors, retry.limited) == (3, 2, 0, 0)
        assert not any(_errors(catalog).values())
        again = scan(catalog, [RootSpec(str(archive), "SU8230")], file_timeout=10, retry_unread=True, **options)
        assert (again.read, again.skipped) == (0, 5)


def test_a_retry_killed_midway_leaves_the_rest_to_the_next_retry(
        slow_archive: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    """Interrupted once the first of its three files is written: that file is read and stays read, the
    others are still refused; a plain rescan reads nothing (the written folder is compared, unchanged), the
    next retry reads the two left."""
    from concurrent.futures import ThreadPoolExecutor

    archive, delay = slow_archive

    class Interrupt:
        def queued(self, files: int) -> None:
            pass

        def done(self, files: int, errors: int) -> None:
            raise RuntimeError("interrupted")

    with Catalog(tmp_path / "c.sqlite") as catalog:
        errors = _refused(catalog, archive, delay, workers=0)
        delay["s"] = 0.5  # one thread: the next waits for the first, written alone
        with ThreadPoolExecutor(1) as threads, pytest.raises(RuntimeError, match="interrupted"):
            scan(catalog, [RootSpec(str(archive), "SU8230")], executor=threads, batch_size=1, file_timeout=10,
                 retry_unread=True, progress=Interrupt())
        halfway = _errors(catalog)
        still = {name: error for name, error in halfway.items() if error}
        assert len(still) == 2 and still.items() <= errors.items()

        plain = scan(catalog, [RootSpec(str(archive), "SU8230")], workers=0, file_timeout=10)
        assert (plain.read, plain.skipped) == (0, 5) and _errors(catalog) == halfway
        retry = scan(catalog, [RootSpec(str(archive), "SU8230")], workers=0, file_timeout=10, retry_unread=True)
        assert (retry.read, retry.skipped, retry.errors) == (2, 3, 0) and not any(_errors(catalog).values())


def test_a_retry_of_a_root_reads_again_what_the_roots_nested_in_it_refused(
        slow_archive: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    """run1 registered as a root of its own inside the archive: a retry of the archive alone reads again its
    own refused files and run1's (each root's list asked of the catalog once), every other file unchanged."""
    archive, delay = slow_archive
    inner = archive / "run1"
    with Catalog(tmp_path / "c.sqlite") as catalog:
        delay["s"] = 2.5
        scan(catalog, [RootSpec(str(inner), "SU8230")], workers=0, file_timeout=1)
        scan(catalog, [RootSpec(str(archive), "SU8230")], workers=0, file_timeout=1)
        holders = dict(catalog.db.execute(
            "SELECT i.path, r.path FROM images i JOIN roots r ON r.id = i.root_id WHERE i.error IS NOT NULL"))
        assert sorted(holders.values()) == sorted([str(archive), str(archive), str(inner)])

        delay["s"] = 0.3
        retry = scan(catalog, [RootSpec(str(archive), "SU8230")], workers=0, file_timeout=10, retry_unread=True)
        assert (retry.read, retry.skipped, retry.errors) == (3, 2, 0) and not any(_errors(catalog).values())


def test_a_file_whose_worker_died_twice_is_read_again_and_nothing_else(
        slow_archive: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    """A real worker process dies reading slow1.tif, twice: it is not read, a limit (the worker's memory, a
    decoder that crashed then); the retry, with the decoder fixed, reads it and no other file."""
    archive, delay = slow_archive
    with Catalog(tmp_path / "c.sqlite") as catalog:
        delay["crash"] = "slow1.tif"
        first = scan(catalog, [RootSpec(str(archive), "SU8230")], workers=1)
        assert (first.read, first.errors, first.limited) == (5, 1, 1)
        assert _errors(catalog)["slow1.tif"] == CRASH_REASON

        del delay["crash"]
        retry = scan(catalog, [RootSpec(str(archive), "SU8230")], workers=1, retry_unread=True)
        assert (retry.read, retry.skipped, retry.errors) == (1, 4, 0) and not any(_errors(catalog).values())


def test_a_file_whose_metadata_text_ran_out_of_memory_is_a_limit_read_again(
        slow_archive: tuple[Path, dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A MemoryError outside the reader (turning its metadata into text) is the memory line, a limit the
    retry reads again, not an "internal error" no retry would touch."""
    import emcensus.scan as scan_module

    archive, _ = slow_archive
    real = scan_module.metadata_text

    def text_of(metadata):
        if failing["on"]:
            bytearray(2**62)  # a real failed allocation: more than any machine can give
        return real(metadata)

    failing = {"on": True}
    monkeypatch.setattr(scan_module, "metadata_text", text_of)
    with Catalog(tmp_path / "c.sqlite") as catalog:
        first = scan(catalog, [RootSpec(str(archive), "SU8230")], workers=0)
        errors = _errors(catalog)
        assert first.limited == 5 and all(error.startswith("needs more memory than") for error in errors.values())
        failing["on"] = False
        again = scan(catalog, [RootSpec(str(archive), "SU8230")], workers=0, retry_unread=True)
        assert again.read == 5 and not any(_errors(catalog).values())
