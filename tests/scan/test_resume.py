"""`kill -9` at any moment leaves a consistent catalog; the next scan finishes with the identical census."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from emcensus.catalog import Catalog
from emcensus.scan import RootSpec, scan
from support import hitachi_sidecar, write_tiff

N_FRAMES = 1500


@pytest.fixture(scope="module")
def medium_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("resume") / "SU8000"
    for index in range(N_FRAMES):
        stem = root / f"g{index % 7}" / f"p{index % 13}" / f"img{index:05d}"
        write_tiff(stem.with_suffix(".tif"), seed=index % 5)
        if index % 10:
            stem.with_suffix(".txt").write_bytes(hitachi_sidecar(1000 * (1 + index % 50), "SE(U)", model="SU8000").encode("cp1252"))
    return root


def _snapshot(path: Path) -> list[tuple]:
    with Catalog(path, readonly=True) as catalog:
        rows = catalog.images(include_missing=True)
    return sorted((r["path"], r["technique"], r["magnification"], r["acquired_at"], r["is_primary"], r["status"]) for r in rows)


def _committed(path: Path) -> int:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
            return db.execute("SELECT count(*) FROM images").fetchone()[0]
    except sqlite3.Error:
        return 0


def _wait_until_gone(group: int) -> None:
    """Until no process of `group` runs (zombies, already without files or locks, do not count)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        states = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == group:
                states.append(fields[0])
        if all(state == "Z" for state in states):
            return
        time.sleep(0.01)


@pytest.mark.parametrize("kill_after", [1, N_FRAMES // 2])
def test_kill_9_then_rescan_gives_the_identical_census(medium_archive: Path, tmp_path: Path, kill_after: int) -> None:
    reference = tmp_path / "reference.sqlite"
    with Catalog(reference) as catalog:
        scan(catalog, [RootSpec(str(medium_archive), "SU8000")], workers=0)

    interrupted = tmp_path / "interrupted.sqlite"
    command = [sys.executable, "-m", "emcensus.cli.main", "--catalog", str(interrupted), "scan",
               str(medium_archive), "--instrument", "SU8000", "--workers", "1", "--quiet"]
    process = subprocess.Popen(command, start_new_session=True)
    deadline = time.monotonic() + 60
    while _committed(interrupted) < kill_after and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    os.killpg(process.pid, signal.SIGKILL)  # the CLI and its worker processes, mid-write
    process.wait()
    _wait_until_gone(process.pid)  # the workers too: until then they hold the scan lock they inherited
    partial = _committed(interrupted)
    assert partial < N_FRAMES, "the scan finished before it could be killed: make the archive bigger"

    with Catalog(interrupted) as catalog:  # opens cleanly: WAL recovery, no half-written rows
        assert catalog.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        resumed = scan(catalog, [RootSpec(str(medium_archive), "SU8000")], workers=0)
        assert resumed.complete and resumed.skipped == partial and resumed.read == N_FRAMES - partial
        assert catalog.scans()[1]["status"] == "interrupted"
    assert _snapshot(interrupted) == _snapshot(reference)
