"""Ctrl-C during a pooled `scan` or `quality`: one line, exit status 130, no traceback (the workers ignore
SIGINT and are ended by the command at once, not after the tasks in flight), no process left, and the next
run makes the catalog whole."""

from __future__ import annotations

import time
from pathlib import Path

from emcensus.catalog import Catalog
from emcensus.cli.main import INTERRUPTED
from emcensus.quality.runner import BATCH as QUALITY_BATCH
from emcensus.scan import BATCH_ACQUISITIONS
from interrupting import SLOW_PIXELS, busy_workers, interrupt_cli
from quality.quality_support import measured_rows
from support import catalog_cli, census_rows, write_tiff

#: Every image read slowly, each read noted (pid) as it starts: Ctrl-C lands while the workers read.
_SLOW_READS = """
import os, time
import emcensus.scan as scan
read = scan.read_source
def slow(source, **kwargs):
    with open({marker!r}, "a") as note:
        note.write(f"{{os.getpid()}}\\n")
    time.sleep(0.02)
    return read(source, **kwargs)
scan.read_source = slow
"""


def test_ctrl_c_during_a_pooled_scan_is_one_line_and_the_next_scan_makes_the_catalog_whole(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    # 5 folders of a quarter batch (+2) each: the first four go out as one reading task (a survey's packs
    # wait for >= a batch), the fifth alone at the end of the walk: a long task for one worker, a short
    # one for the other, whatever order the surveys end in
    per_folder = BATCH_ACQUISITIONS // 4 + 2
    for folder in range(5):
        for index in range(per_folder):
            write_tiff(archive / f"f{folder}" / f"img{index}.tif", seed=index, shape=(8, 8))
    images = 5 * per_folder
    marker, catalog = tmp_path / "reads", tmp_path / "census.sqlite"
    scan = ["--catalog", str(catalog), "scan", str(archive), "--instrument", "SU8230", "--workers", "2"]
    # Ctrl-C while one worker reads and the other, done, waits for work: both ignore it
    done = interrupt_cli(scan, _SLOW_READS.format(marker=str(marker)), marker,
                         lambda reads: len(reads) == 2 and min(reads.values()) >= per_folder and time.sleep(0.5) is None)
    assert done.returncode == 130
    assert "Traceback" not in done.stderr and done.stderr.count(INTERRUPTED) == 1, done.stderr
    assert done.stderr.rstrip().endswith(INTERRUPTED)
    with Catalog(catalog, readonly=True) as interrupted:
        assert len(census_rows(interrupted)) < images  # stopped midway

    catalog_cli(catalog)("scan", str(archive), "--instrument", "SU8230", "--workers", "0", "--quiet")
    catalog_cli(tmp_path / "clean.sqlite")("scan", str(archive), "--instrument", "SU8230", "--workers", "0", "--quiet")
    with Catalog(catalog, readonly=True) as resumed, Catalog(tmp_path / "clean.sqlite", readonly=True) as clean:
        assert census_rows(resumed) == census_rows(clean) and len(census_rows(clean)) == images


def test_ctrl_c_during_quality_ends_its_workers_at_once_and_the_next_run_makes_the_catalog_whole(tmp_path: Path
                                                                                                 ) -> None:
    archive = tmp_path / "archive"
    images = 4 * QUALITY_BATCH
    for index in range(images):
        write_tiff(archive / f"f{index % 4}" / f"img{index}.tif", seed=index, shape=(64, 64))
    catalog, clean = tmp_path / "census.sqlite", tmp_path / "clean.sqlite"
    for path in (catalog, clean):
        catalog_cli(path)("scan", str(archive), "--instrument", "SU8230", "--workers", "0", "--quiet")
    marker, began = tmp_path / "reads", []
    done = interrupt_cli(["--catalog", str(catalog), "quality", "--workers", "2"],
                         SLOW_PIXELS.format(marker=str(marker)), marker, busy_workers(began))
    assert done.returncode == 130
    assert "Traceback" not in done.stderr and done.stderr.count(INTERRUPTED) == 1, done.stderr
    assert done.stderr.rstrip().endswith(INTERRUPTED)
    # the tasks in flight were not finished (14 more reads each, 0.2 s apiece): a read or two that
    # began between the check and the signal at most
    assert len(marker.read_text().split()) <= began[0] + 2

    with Catalog(catalog, readonly=True) as interrupted:
        assert interrupted.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert len(measured_rows(interrupted)) < images  # stopped midway
    catalog_cli(catalog)("quality", "--workers", "0", "--quiet")
    catalog_cli(clean)("quality", "--workers", "0", "--quiet")
    with Catalog(catalog, readonly=True) as resumed, Catalog(clean, readonly=True) as whole:
        assert measured_rows(resumed) == measured_rows(whole) and len(measured_rows(whole)) == images
