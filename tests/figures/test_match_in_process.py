"""`figures match --workers 0` matches the panels in the command's own process under the pool's limits as
far as one process can keep them: a panel whose matching outlives its time is ended by an alarm and is one
line, the others matched as in any run (a hang in C that never returns to Python is not: README)."""

from __future__ import annotations

import time
from dataclasses import replace

from emcensus.figures.index import VisualIndex, index_folder
from emcensus.figures.match import Matcher, PanelResult, match_documents
from figures.test_match_parallel import _first_matched_panel, _lost_to_one_line, alone, corpus  # noqa: F401 - fixtures


class _SpinsOn(Matcher):
    """A matcher that never ends on one panel (`fatal`: its pixels' bytes), spinning in Python."""

    fatal: bytes
    spun: float | None = None  # seconds the fatal panel ran before something ended it

    def match_panel(self, pixels, *, not_after_year=None) -> PanelResult:
        if pixels.tobytes() == self.fatal:
            started = time.monotonic()
            try:
                while time.monotonic() < started + 120:  # bounded: the test fails, not hangs
                    sum(range(1000))
            finally:
                self.spun = time.monotonic() - started
            raise AssertionError("the panel was never ended")
        return super().match_panel(pixels, not_after_year=not_after_year)


def test_in_this_process_a_panel_past_its_time_is_one_line_and_the_others_are_matched(corpus, alone, monkeypatch):
    from emcensus.figures import match

    _, truth, catalog_path = corpus
    spinning = _SpinsOn(VisualIndex.load(index_folder(catalog_path)))
    spinning.fatal = _first_matched_panel(alone)
    tasks = match._panel_tasks

    def cut_for_the_spinning_one(*args):  # the others keep the default limit a loaded machine needs
        for task in tasks(*args):
            if isinstance(task, match._PanelTask) and task.pixels.tobytes() == spinning.fatal:
                task = replace(task, seconds=1.0)
            yield task

    monkeypatch.setattr(match, "_panel_tasks", cut_for_the_spinning_one)
    lines: list[str] = []
    rows = [found.to_dict() for found in match_documents([truth.papers], spinning, workers=0, warn=lines.append)]
    # the alarm ended the spin near its 1 s (the whole run's wall time says nothing on a loaded machine)
    assert spinning.spun is not None and spinning.spun < 60
    _lost_to_one_line(alone, rows, lines, "took longer than 1 s; not done")
