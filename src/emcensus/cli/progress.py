"""A rich progress bar for per-file work (a scan, a quality run): files/s, errors so far and an ETA on a terminal."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class RichScanProgress:
    """`ScanProgress` for a terminal; the total grows while the walk discovers files. `label` names
    the work on the bar ("census" for a scan, "quality" for a quality run)."""

    def __init__(self, console: Console | None = None, label: str = "census"):
        self.errors = 0
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[cyan]{task.fields[rate]}"),
            TextColumn("[red]{task.fields[errors]} errors"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console or Console(stderr=True),
            transient=False,
        )
        self._task = self._progress.add_task(escape(label), total=0, errors=0, rate="")

    def __enter__(self) -> RichScanProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    @property
    def task(self) -> Task:
        return self._progress.tasks[0]

    def queued(self, files: int) -> None:
        self._progress.update(self._task, total=(self.task.total or 0) + files)

    def done(self, files: int, errors: int) -> None:
        self.errors += errors
        self._progress.advance(self._task, files)
        speed = self.task.speed
        self._progress.update(self._task, errors=self.errors, rate=f"{speed:,.0f} files/s" if speed else "")
