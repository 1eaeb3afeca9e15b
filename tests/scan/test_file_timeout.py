"""A read that blocks (a FIFO behind an HDF5 external link, a hung share) never hangs a census: it is
recorded with its reason, a worker stuck beyond what a signal can interrupt is replaced."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import emcensus.scan as scan_module
from emcensus.catalog import Catalog
from emcensus.errors import ConfigError
from emcensus.scan import RootSpec, scan
from emcensus.scan import pool as pool_module
from support import write_tiff


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """Seven images in one folder: one batch, the blocking one in the middle."""
    root = tmp_path / "archive"
    for index in range(7):
        write_tiff(root / f"img{index}.tif", seed=index)
    return root


@pytest.fixture
def fifo(tmp_path: Path):
    """A FIFO with no writer: opening it for reading blocks forever. Released at the end."""
    path = tmp_path / "pipe"
    os.mkfifo(path)
    yield path
    try:  # a reader still blocked in open() (a thread of this process) gets EOF and returns
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        pass


def _blocking_reader(fifo: Path, pids: Path, *, block_signals: bool):
    """`read_source` that blocks on `fifo` for img3.tif (in a way a signal can or cannot interrupt)."""
    real = scan_module.read_source

    def read_source(source, **kwargs):
        if source.path.name == "img3.tif":
            with pids.open("a") as handle:
                handle.write(f"{os.getpid()}\n")
            if block_signals:  # a C library that retries its system call: the alarm never lands
                signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
            with open(fifo, "rb") as handle:
                handle.read()
        return real(source, **kwargs)

    return read_source


def _census(catalog: Catalog, archive: Path) -> tuple[set[str], dict[str, str]]:
    read = {Path(row["path"]).name for row in catalog.images()}
    unreadable = {Path(row["path"]).name: row["reason"] for row in catalog.audit_list("unreadable")}
    return read, unreadable


@pytest.mark.parametrize(("workers", "block_signals"), [(2, False), (2, True), (0, False)],
                         ids=["interruptible", "signals-blocked", "in-process"])
def test_a_blocking_read_is_recorded_and_the_scan_goes_on(archive: Path, fifo: Path, tmp_path: Path, monkeypatch,
                                                          workers: int, block_signals: bool) -> None:
    pids = tmp_path / "pids"
    monkeypatch.setattr(scan_module, "read_source", _blocking_reader(fifo, pids, block_signals=block_signals))
    started = time.monotonic()
    with Catalog(tmp_path / "c.sqlite") as catalog:
        summary = scan(catalog, [RootSpec(str(archive), "SU8230")], workers=workers, file_timeout=1)
        assert summary.complete and summary.errors == 1 and summary.read == 7
        read, unreadable = _census(catalog, archive)
    assert time.monotonic() - started < 30
    assert unreadable == {"img3.tif": "read took longer than 1 s; not read"}
    assert read == {f"img{i}.tif" for i in range(7) if i != 3}  # the rest of its batch is read
    [pid] = {int(line) for line in pids.read_text().split()}  # read once: never tried again
    if block_signals:  # the stuck worker was killed and replaced
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_any_executor_gives_up_on_reads_that_never_return(archive: Path, fifo: Path, tmp_path: Path,
                                                          monkeypatch) -> None:
    """Threads (and Dask) cannot be interrupted: the scan stops waiting for them, and says so."""
    monkeypatch.setattr(scan_module, "read_source", _blocking_reader(fifo, tmp_path / "pids", block_signals=False))
    monkeypatch.setattr(pool_module, "_STALL_GRACE_S", 0.0)
    with Catalog(tmp_path / "c.sqlite") as catalog, ThreadPoolExecutor(2) as threads:
        summary = scan(catalog, [RootSpec(str(archive), "SU8230")], executor=threads, batch_size=1, file_timeout=1)
        assert summary.complete and summary.errors == 1
        read, unreadable = _census(catalog, archive)
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # let the blocked thread go
    assert unreadable["img3.tif"].startswith("no result from the executor within 1 s")
    assert read == {f"img{i}.tif" for i in range(7) if i != 3}


def test_slow_reads_that_keep_finishing_are_never_given_up(archive: Path, tmp_path: Path, monkeypatch) -> None:
    real = scan_module.read_source

    def slow(source, **kwargs):
        time.sleep(0.4)  # each read well inside its budget; the whole scan well beyond it
        return real(source, **kwargs)

    monkeypatch.setattr(scan_module, "read_source", slow)
    monkeypatch.setattr(pool_module, "_STALL_GRACE_S", 0.0)
    with Catalog(tmp_path / "c.sqlite") as catalog, ThreadPoolExecutor(1) as threads:
        summary = scan(catalog, [RootSpec(str(archive), "SU8230")], executor=threads, batch_size=1, file_timeout=1)
        assert summary.complete and summary.errors == 0 and summary.read == 7


def test_an_interrupted_scan_does_not_wait_for_a_blocked_read(archive: Path, fifo: Path, tmp_path: Path,
                                                              monkeypatch) -> None:
    """Ctrl-C (here: any error in the scan's process) while a worker blocks: the workers are ended."""
    pids = tmp_path / "pids"
    monkeypatch.setattr(scan_module, "read_source", _blocking_reader(fifo, pids, block_signals=True))

    class Interrupt:
        def queued(self, files: int) -> None:
            pass

        def done(self, files: int, errors: int) -> None:
            deadline = time.monotonic() + 60
            # until a worker has written its pid (the file exists a moment before it holds one) and blocks on img3
            while not (pids.exists() and pids.read_text().strip()) and time.monotonic() < deadline:
                time.sleep(0.01)
            raise RuntimeError("interrupted")

    started = time.monotonic()
    with Catalog(tmp_path / "c.sqlite") as catalog, pytest.raises(RuntimeError, match="interrupted"):
        scan(catalog, [RootSpec(str(archive), "SU8230")], workers=2, batch_size=1, file_timeout=600, progress=Interrupt())
    assert time.monotonic() - started < 80
    [pid] = {int(line) for line in pids.read_text().split()}
    with pytest.raises(ProcessLookupError):  # the blocked worker was killed, not waited for
        os.kill(pid, 0)


def test_the_time_budget_is_validated(archive: Path, tmp_path: Path) -> None:
    with Catalog(tmp_path / "c.sqlite") as catalog, pytest.raises(ConfigError, match="positive"):
        scan(catalog, [RootSpec(str(archive), "SU8230")], workers=0, file_timeout=0)


def test_the_cli_passes_the_time_budget_on(archive: Path, fifo: Path, tmp_path: Path, monkeypatch) -> None:
    from click.testing import CliRunner

    from emcensus.cli.main import main

    monkeypatch.setattr(scan_module, "read_source", _blocking_reader(fifo, tmp_path / "pids", block_signals=False))
    catalog = tmp_path / "c.sqlite"
    result = CliRunner().invoke(main, ["--catalog", str(catalog), "scan", str(archive), "--workers", "0",
                                       "--file-timeout", "0.5"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    with Catalog(catalog, readonly=True) as census:
        assert _census(census, archive)[1] == {"img3.tif": "read took longer than 0.5 s; not read"}
    refused = CliRunner().invoke(main, ["--catalog", str(catalog), "scan", str(archive), "--file-timeout", "0"])
    assert refused.exit_code == 2 and "--file-timeout" in refused.output


def test_the_budget_bounds_each_read_and_not_the_time_between_reads() -> None:
    """One alarm per task, set again each time it goes off: a read past its budget is interrupted;
    an alarm between two reads (the worker building a result), or during a read that started late,
    interrupts nothing; the read after a timeout has its whole budget."""
    with pool_module.Budget(0.4) as budget:
        started = time.monotonic()
        with pytest.raises(pool_module.ReadTimeout), budget.file(0):
            time.sleep(5)
        assert 0.4 <= time.monotonic() - started < 1.2
        time.sleep(0.3)  # between files: the alarm goes off, no read in progress
        with budget.file(1):
            time.sleep(0.3)  # the alarm set between files goes off during this read: not late yet
        started = time.monotonic()
        with pytest.raises(pool_module.ReadTimeout), budget.file(2):
            time.sleep(5)
        assert 0.4 <= time.monotonic() - started < 1.2
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
