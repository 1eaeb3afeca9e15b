"""A real Dask cluster as a cluster user runs one: `dask scheduler` and two `dask worker` processes on
loopback, each in its own working directory and with no access to the catalog (the scan's client is the
catalog's only writer). One worker is killed mid-scan; the catalog must still be row for row the one a
local scan makes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from emcensus.catalog import Catalog
from emcensus.scan import RootSpec, scan
from support import census_rows, hitachi_sidecar, write_tiff

pytestmark = pytest.mark.slow

FOLDERS, PER_FOLDER = 12, 40


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """480 frames with sidecars in 12 top-level folders: enough tasks to kill a worker in the middle."""
    root = tmp_path / "archive" / "SU8230"
    for folder in range(FOLDERS):
        for index in range(PER_FOLDER):
            stem = root / f"group{folder:02d}" / "2019-01-02" / f"img{index:03d}"
            write_tiff(stem.with_suffix(".tif"), seed=folder * PER_FOLDER + index)
            stem.with_suffix(".txt").write_bytes(hitachi_sidecar(1000 * (index + 1), "SE(U)", "01/02/2019").encode())
    return root


def _dask(*args: str, cwd: Path) -> subprocess.Popen:
    dask = shutil.which("dask", path=os.path.dirname(sys.executable)) or shutil.which("dask")
    if dask is None:
        pytest.skip("the `dask` command is not installed")
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([dask, *args], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)


def _wait_for(predicate, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_scan_on_a_dask_cluster_survives_a_killed_worker(archive: Path, tmp_path: Path) -> None:
    with Catalog(tmp_path / "local.sqlite") as local:
        scan(local, [RootSpec(str(archive), "SU8230")], workers=0)
        expected = census_rows(local)
    assert len(expected) == FOLDERS * PER_FOLDER

    scheduler_file = tmp_path / "cluster" / "scheduler.json"
    scheduler = _dask("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                      "--scheduler-file", str(scheduler_file), cwd=tmp_path / "cluster")
    workers = []
    try:
        _wait_for(lambda: scheduler_file.exists() and scheduler_file.stat().st_size > 0, 60, "the scheduler")
        address = json.loads(scheduler_file.read_text())["address"]
        for number in (1, 2):  # own working folder each; the catalog's folder is never given to them
            workers.append(_dask("worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard",
                                 "--host", "127.0.0.1", "--local-directory", str(tmp_path / f"worker{number}"),
                                 cwd=tmp_path / f"worker{number}"))
        from distributed import Client

        with Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
        catalog_path = tmp_path / "client" / "census.sqlite"
        catalog_path.parent.mkdir()
        command = [sys.executable, "-m", "emcensus.cli.main", "--catalog", str(catalog_path), "scan", str(archive),
                   "--instrument", "SU8230", "--dask", address, "--quiet"]
        client_scan = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

        def some_rows_written() -> bool:
            if client_scan.poll() is not None:
                return True
            try:
                with Catalog(catalog_path, readonly=True) as partial:
                    return partial.total(files=True, kind="all") > 0
            except Exception:  # noqa: BLE001 - not created or mid-migration yet
                return False

        _wait_for(some_rows_written, 120, "the first rows of the Dask scan")
        killed_mid_scan = client_scan.poll() is None
        _stop(workers[0])  # kill -9 one worker (and its nanny) while the scan runs
        output, _ = client_scan.communicate(timeout=300)
        assert client_scan.returncode == 0, output
        assert "Traceback" not in output
    finally:
        for process in [*workers, scheduler]:
            _stop(process)

    with Catalog(catalog_path, readonly=True) as census:
        assert census_rows(census) == expected  # row for row the local census
        assert census.audit()["unreadable"] == 0
    if not killed_mid_scan:
        pytest.skip("the scan finished before a worker could be killed: the machine was too fast for this test")
    for number in (1, 2):  # the workers wrote only in their own folders, never beside the catalog
        assert not any(p.suffix.startswith(".sqlite") for p in (tmp_path / f"worker{number}").rglob("*"))
    assert sorted(p.name for p in catalog_path.parent.iterdir()) <= sorted(
        ["census.sqlite", "census.sqlite-wal", "census.sqlite-shm", "census.sqlite.lock", "census.sqlite.verified"])
