"""The scan's progress bar: files/s, errors so far and an ETA, on a terminal."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from emcensus.catalog import Catalog
from emcensus.cli.progress import RichScanProgress
from emcensus.scan import RootSpec, scan


def test_progress_bar_counts_files_and_errors(tiny_archive: Path, tmp_path: Path) -> None:
    (tiny_archive / "broken.tif").write_bytes(b"")
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=160)
    with Catalog(tmp_path / "c.sqlite") as catalog, RichScanProgress(console) as progress:
        summary = scan(catalog, [RootSpec(str(tiny_archive), "SU8230")], workers=0, progress=progress, batch_size=1)
    task = progress.task
    assert task.total == task.completed == summary.read == 7
    assert progress.errors == summary.errors == 1
    text = screen.getvalue()
    assert "census" in text and "7/7" in text and "1 errors" in text and "ETA" in text


def test_progress_bar_names_the_work() -> None:
    screen = io.StringIO()
    with RichScanProgress(Console(file=screen, force_terminal=True, width=160), label="quality") as progress:
        progress.queued(3)
        progress.done(3, 0)
    text = screen.getvalue()
    assert "quality" in text and "census" not in text and "3/3" in text
