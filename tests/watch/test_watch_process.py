"""`emcensus watch` as a real process beside a real writer process: a Hitachi `.tif` written in
chunks, its `.txt` sidecar seconds later. One record, with the sidecar's metadata, within two
cycles of the sidecar; never a record without it; deletion marks it missing; one watch per
catalog; SIGTERM exits 0 promptly and leaves a whole catalog; the archive's times untouched."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import pytest

from emcensus.catalog import Catalog
from emcensus.errors import CatalogError
from support import hitachi_sidecar, write_tiff

WRITER = Path(__file__).with_name("hitachi_writer.py")
INTERVAL = 0.3
#: The command line, as the console script runs it.
EMCENSUS = [sys.executable, "-c", "from emcensus.cli.main import main; main(prog_name='emcensus')"]
OLD = 1_557_000_000  # 2019-05-04: files an instrument wrote long ago


def _times(paths: list[Path]) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_atime_ns, p.stat().st_mtime_ns) for p in paths}


def _rows(catalog_path: Path, folder: Path) -> list[dict]:
    """The catalog's rows of files in `folder` (none while the catalog is not created yet)."""
    try:
        with Catalog(catalog_path, readonly=True) as catalog:
            rows = catalog.images(include_missing=True, kind="all")
    except CatalogError:
        return []
    return [row for row in rows if os.path.dirname(row["path"]) == str(folder)]


class _Lines:
    """A process's stdout lines with the monotonic time each arrived."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.lines: list[tuple[float, str]] = []
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            self.lines.append((time.monotonic(), line.rstrip("\n")))


def _wait(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    pytest.fail(f"timed out after {seconds} s waiting for {what}")


def test_a_chunked_image_and_its_late_sidecar_become_one_record(tmp_path: Path) -> None:
    root = tmp_path / "SU8230"
    old, today = root / "2019-05-04", root / date.today().isoformat()
    write_tiff(old / "old_001.tif", seed=1)
    (old / "old_001.txt").write_bytes(hitachi_sidecar(20000, "SE(U)").encode("cp1252"))
    write_tiff(old / "old_002.tif", seed=2)  # an old image whose sidecar never came
    today.mkdir()
    untouched = [old / "old_001.tif", old / "old_001.txt", old / "old_002.tif", old]
    for path in untouched:  # atime before mtime: any read without O_NOATIME would move it (relatime)
        os.utime(path, (OLD - 1000, OLD))
    before = _times(untouched)
    catalog_path = tmp_path / "catalog.sqlite"
    command = [*EMCENSUS, "--catalog", str(catalog_path), "watch", str(root),
               "--instrument", "SU8230", "--interval", str(INTERVAL), "--sidecar-timeout", "30", "--quiet"]
    watch = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out = _Lines(watch)
        # the settled archive: both old images, the one without a sidecar too (it is years old)
        old_rows = _wait(lambda: len(_rows(catalog_path, old)) == 2 and _rows(catalog_path, old), 30, "the old images")
        assert {Path(r["path"]).name: r["magnification"] for r in old_rows} == {"old_001.tif": 20000, "old_002.tif": None}

        writer = subprocess.Popen([sys.executable, str(WRITER), str(today), "6", "0.25", "2.0"],
                                  stdout=subprocess.PIPE, text=True)
        events = _Lines(writer)
        seen_before_sidecar: list[dict] = []

        def recorded() -> list[dict]:
            rows = _rows(catalog_path, today)
            landed = [e for _, e in events.lines if '"sidecar"' in e]
            if not landed:
                seen_before_sidecar.extend(rows)
            for row in rows:  # never a record of a half-written image, nor one read without its sidecar
                assert row["magnification"] is not None and row["sidecar_path"], row
            return rows

        rows = _wait(recorded, 30, "the live image's record")
        assert writer.wait(10) == 0
        assert seen_before_sidecar == []
        sidecar = json.loads(next(e for _, e in events.lines if '"sidecar"' in e))
        assert [(Path(r["path"]).name, r["status"], r["magnification"]) for r in rows] == [
            ("live_001.tif", "present", sidecar["magnification"])]
        # within two cycles of the sidecar landing (the cycle in progress then is a third line at most)
        read_at = _wait(lambda: next((t for t, line in out.lines if t > sidecar["at"] and "1 file(s) read" in line), None),
                        10, "the cycle that read it")
        cycles_between = [line for t, line in out.lines if sidecar["at"] < t <= read_at]
        assert len(cycles_between) <= 3, cycles_between

        # a second watch of the same catalog is refused, naming the holder
        second = subprocess.run(command[:-1] + ["--once"], capture_output=True, text=True, timeout=60)
        assert second.returncode == 1
        assert f"another watch (process {watch.pid})" in second.stderr

        (today / "live_001.tif").unlink()
        (today / "live_001.txt").unlink()
        _wait(lambda: [r["status"] for r in _rows(catalog_path, today)] == ["missing"], 15, "the deletion")
    finally:
        watch.send_signal(signal.SIGTERM)
        started = time.monotonic()
        code = watch.wait(10)
    assert code == 0, watch.stderr.read()
    assert time.monotonic() - started < 5
    assert all(line.count(" cycle ") == 1 for _, line in out.lines)  # --quiet: one line per cycle, nothing else
    with Catalog(catalog_path, readonly=True, verify=True) as catalog:  # quick_check over the whole file
        assert catalog.db.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        assert catalog.scans()[0]["status"] == "complete"
    assert _times(untouched) == before
