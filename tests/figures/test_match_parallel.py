"""`figures match --workers N`: the panels matched by forked worker processes that share one loaded
index give the output of a run in one process, byte for byte and in the same order (stdout and the
lines on stderr), on a generated corpus; a worker that dies midway is replaced and changes nothing."""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from emcensus.errors import EmcensusError
from emcensus.figures.index import VisualIndex, index_folder
from emcensus.figures.match import Matcher, PanelResult, match_documents
from support import catalog_cli


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory):
    """A generated corpus (hard cases, SI, a vector figure), scanned and indexed, with a corrupt PDF among its papers."""
    from emcensus.figures.synth import make_figure_corpus

    base = tmp_path_factory.mktemp("parallel")
    truth = make_figure_corpus(base / "out", archive=base / "archive", articles=2, images=12, seed=3, size=(320, 240))
    (Path(truth.papers) / "0_broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj garbage")
    cli = catalog_cli(base / "census.sqlite")
    cli("scan", truth.archive, "--instrument", "SU8230", "--workers", "0", "--quiet")
    cli("figures", "index", "--workers", "0")
    return cli, truth, base / "census.sqlite"


def test_workers_give_the_output_of_one_process_byte_for_byte(corpus):
    cli, truth, _ = corpus
    alone = cli("figures", "match", truth.papers, "--all", "--format", "json", "--workers", "0")
    pooled = cli("figures", "match", truth.papers, "--all", "--format", "json", "--workers", "2", "--panel-timeout", "60")
    rows = json.loads(alone.stdout)
    assert len({row["document"] for row in rows}) >= 3 and sum(not row["weak"] for row in rows) >= 10
    assert pooled.stdout == alone.stdout
    assert "0_broken.pdf" in alone.stderr.splitlines()[0]  # the corrupt document is one line, the others go on
    assert pooled.stderr == alone.stderr
    refused = cli("figures", "match", truth.papers, "--panel-timeout", "0", ok=False)
    assert refused.exit_code == 2 and "--panel-timeout" in refused.output


class _DiesOnce(Matcher):
    """A matcher whose process ends abruptly on the panel it meets first, once (a marker file says
    it happened): a worker killed midway, as by the out-of-memory killer."""

    marker: Path

    def match_panel(self, pixels, *, not_after_year=None) -> PanelResult:
        try:
            descriptor = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return super().match_panel(pixels, not_after_year=not_after_year)
        os.close(descriptor)
        os._exit(9)


def test_a_worker_that_dies_is_replaced_and_changes_nothing(corpus, alone, tmp_path: Path):
    _, truth, catalog_path = corpus
    dying = _DiesOnce(VisualIndex.load(index_folder(catalog_path)))
    dying.marker = tmp_path / "died"
    lines: list[str] = []
    pooled = [found.to_dict() for found in match_documents([truth.papers], dying, workers=2, warn=lines.append)]
    assert dying.marker.exists()  # a worker did die
    assert pooled == alone.rows and len(alone.rows) >= 10
    assert lines == alone.lines


def test_an_archive_read_no_alarm_stops_costs_its_panel_alone(corpus, alone, tmp_path: Path, monkeypatch):
    """The first archive image a worker reads blocks with the alarm signal masked (a read stuck in C):
    the pool's watchdog ends that worker, the panel is one line, and every other panel is matched as in
    one process."""
    import signal
    import time

    from emcensus.figures import match

    _, truth, catalog_path = corpus
    index = VisualIndex.load(index_folder(catalog_path))
    marker, read = tmp_path / "blocked", match.read_pixels

    def blocked_once(path, *args, **kwargs):
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return read(path, *args, **kwargs)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(600)

    monkeypatch.setattr(match, "read_pixels", blocked_once)
    monkeypatch.setattr(match, "FILE_TIMEOUT_S", 3.0)  # a loaded machine reads a file well within it
    lines: list[str] = []
    started = time.monotonic()
    pooled = [found.to_dict() for found in match_documents([truth.papers], Matcher(index), workers=2,
                                                           warn=lines.append)]
    assert marker.exists() and time.monotonic() - started < 300
    (given_up,) = [line for line in lines if "a panel not matched: read took longer than 3 s" in line]
    document, _, page = given_up.partition(": ")[0].rpartition(" page ")
    assert all(row in alone.rows for row in pooled)
    lost = [row for row in alone.rows if row not in pooled]
    assert all((row["document"], row["page"]) == (document, int(page)) for row in lost)


class _CrashesOn(Matcher):
    """A matcher whose process ends abruptly every time it meets one panel (`fatal`: its pixels' bytes),
    as a segfault in OpenCV on a strange image would end it."""

    fatal: bytes

    def match_panel(self, pixels, *, not_after_year=None) -> PanelResult:
        if pixels.tobytes() == self.fatal:
            os._exit(11)
        return super().match_panel(pixels, not_after_year=not_after_year)


@dataclass
class _Alone:
    """A run in this process: its rows and lines, and each panel's pixels, matches and seconds."""

    rows: list[dict]
    lines: list[str]
    panels: list[tuple[bytes, int, float]]


@pytest.fixture(scope="module")
def alone(corpus) -> _Alone:
    _, truth, catalog_path = corpus
    panels: list[tuple[bytes, int, float]] = []

    class Recording(Matcher):
        def match_panel(self, pixels, *, not_after_year=None) -> PanelResult:
            started = time.process_time()
            result = super().match_panel(pixels, not_after_year=not_after_year)
            panels.append((pixels.tobytes(), len(result.matches), time.process_time() - started))
            return result

    lines: list[str] = []
    index = VisualIndex.load(index_folder(catalog_path))
    rows = [found.to_dict() for found in match_documents([truth.papers], Recording(index), warn=lines.append)]
    return _Alone(rows, lines, panels)


def _lost_to_one_line(alone: _Alone, pooled: list[dict], lines: list[str], says: str) -> None:
    """The pooled run lost the matches of one panel alone, said in one line, and matched the others."""
    (given_up,) = [line for line in lines if line not in alone.lines]
    assert f"a panel not matched: {says}" in given_up
    document, _, page = given_up.partition(": ")[0].rpartition(" page ")
    lost = [row for row in alone.rows if row not in pooled]
    assert lost and all((row["document"], row["page"]) == (document, int(page)) for row in lost)
    assert all(row in alone.rows for row in pooled) and len(pooled) >= 10


def _first_matched_panel(alone: _Alone) -> bytes:
    fatal = next(pixels for pixels, matched, _ in alone.panels if matched)
    assert sum(pixels == fatal for pixels, _, _ in alone.panels) == 1
    return fatal


def test_a_panel_that_kills_its_worker_every_time_costs_that_panel_alone(corpus, alone):
    """Not in an archive read (nothing to blame but the panel): after one retry that panel is one line,
    every other panel is matched as in one process, and the command goes on."""
    _, truth, catalog_path = corpus
    crashing = _CrashesOn(VisualIndex.load(index_folder(catalog_path)))
    crashing.fatal = _first_matched_panel(alone)  # a panel that has a match
    lines: list[str] = []
    pooled = [found.to_dict() for found in match_documents([truth.papers], crashing, workers=2, warn=lines.append)]
    _lost_to_one_line(alone, pooled, lines, "the worker process reading it died twice")


class _HangsOn(Matcher):
    """A matcher that hangs on one panel where no signal reaches (as OpenCV spinning on a strange image)."""

    fatal: bytes

    def match_panel(self, pixels, *, not_after_year=None) -> PanelResult:
        if pixels.tobytes() == self.fatal:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
            time.sleep(600)
        return super().match_panel(pixels, not_after_year=not_after_year)


def test_a_panel_that_hangs_its_worker_is_ended_at_its_time_limit_and_costs_that_panel_alone(corpus, alone,
                                                                                              monkeypatch):
    """Every panel is given the limit passed; the hanging one's is cut to 1 s here, so that the test waits
    1 s (+ the pool's grace) for it, not the limit the honest panels need on a loaded machine."""
    from dataclasses import replace

    from emcensus.figures import match

    _, truth, catalog_path = corpus
    hanging = _HangsOn(VisualIndex.load(index_folder(catalog_path)))
    hanging.fatal = _first_matched_panel(alone)
    limit = max(20.0, round(10 * max(seconds for _, _, seconds in alone.panels)))  # far above any panel, loaded
    tasks, given = match._panel_tasks, []

    def cut_for_the_hanging_one(*args):
        for task in tasks(*args):
            if isinstance(task, match._PanelTask):
                given.append(task.seconds)
                if task.pixels.tobytes() == hanging.fatal:
                    task = replace(task, seconds=1.0)
            yield task

    monkeypatch.setattr(match, "_panel_tasks", cut_for_the_hanging_one)
    lines: list[str] = []
    started = time.monotonic()
    pooled = [found.to_dict() for found in match_documents([truth.papers], hanging, workers=2, warn=lines.append,
                                                           panel_timeout=limit)]
    assert time.monotonic() - started < 300
    assert given == [limit] * len(alone.panels)
    _lost_to_one_line(alone, pooled, lines, "took longer than 1 s; not done")
    with pytest.raises(EmcensusError, match="more than 0 s"):
        next(match_documents([truth.papers], hanging, workers=2, panel_timeout=0))


@pytest.mark.parametrize("workers", [2, 0])
def test_a_document_that_crashes_or_hangs_its_reader_is_one_line_and_the_others_are_matched(corpus, alone,
                                                                                             monkeypatch, workers):
    """Read in a process of its own, with workers or without (`--workers 0` matches in the command's
    process, but reads in that process too): pdfium crashing (a segfault) on one document, or stuck in
    C on another, ends that process alone; each is one line where it falls, every other document gives
    what it gives in one process."""
    from emcensus.figures import match

    _, truth, catalog_path = corpus
    crashing, hanging = sorted({row["document"] for row in alone.rows})[:2]
    read = match.iter_figures

    def hostile(path, **kwargs):
        if str(path) == crashing:
            os.kill(os.getpid(), signal.SIGSEGV)
        if str(path) == hanging:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM, signal.SIGTERM})
            time.sleep(600)
        yield from read(path, **kwargs)

    monkeypatch.setattr(match, "iter_figures", hostile)
    monkeypatch.setattr(match, "DOCUMENT_WAIT_S", 20.0)  # a loaded machine reads a page well within it
    lines: list[str] = []
    pooled = [found.to_dict() for found in match_documents([truth.papers], Matcher(VisualIndex.load(
        index_folder(catalog_path))), workers=workers, warn=lines.append)]
    assert pooled == [row for row in alone.rows if row["document"] not in (crashing, hanging)]
    assert [line for line in lines if not line.startswith((crashing, hanging))] == [
        line for line in alone.lines if not line.startswith((crashing, hanging))]
    assert [line for line in lines if line.startswith((crashing, hanging))] == [
        f"{crashing}: the process reading it died (Segmentation fault); the rest of it not read",
        f"{hanging}: the process reading it gave nothing for 20 s (stuck?) and was ended; the rest of it not read"]


@pytest.mark.parametrize("how", ["consumer stops", "document fails midway"])
def test_a_pooled_run_that_ends_early_leaves_no_worker_and_restores_the_process(corpus, monkeypatch, how):
    """The caller stops reading after the first match (an error of its own, Ctrl-C), or reading a document
    raises midway (in the process that reads them: raised here): the workers and the reading process are
    ended at once (none left running), and OpenCV's threads, the garbage collector and the module's
    matcher are as before the run; then a full pooled run does the same."""
    import gc
    import multiprocessing

    import cv2

    from emcensus.figures import match

    _, truth, catalog_path = corpus
    index = VisualIndex.load(index_folder(catalog_path))
    before = (cv2.getNumThreads(), gc.get_freeze_count())
    workers: list = []
    if how == "document fails midway":
        read, calls = match.iter_figures, []

        def fails_midway(path, **kwargs):
            calls.append(path)
            if len(calls) == 3:  # panels of the first documents are out on the workers
                raise RuntimeError("a reader's own error")
            return read(path, **kwargs)

        class Watched(match.Pool):
            def submit(self, *args, **kwargs):
                ticket = super().submit(*args, **kwargs)
                workers.extend(child for child in multiprocessing.active_children() if child not in workers)
                return ticket

        monkeypatch.setattr(match, "Pool", Watched)

        monkeypatch.setattr(match, "iter_figures", fails_midway)
    run = match_documents([truth.papers], Matcher(index), workers=2)
    with pytest.raises(RuntimeError, match="reader's own error|consumer stops"):
        for _ in run:
            workers = workers or multiprocessing.active_children()
            if how == "consumer stops":
                run.close()
                raise RuntimeError("consumer stops")
    assert workers and not [process for process in workers if process.is_alive()]
    assert (cv2.getNumThreads(), gc.get_freeze_count()) == before and match._pooled is None
    monkeypatch.undo()
    assert list(match_documents([truth.papers], Matcher(index), workers=2))
    assert not multiprocessing.active_children()
    assert (cv2.getNumThreads(), gc.get_freeze_count()) == before and match._pooled is None


#: Every panel matched slowly, each noted (pid) as it starts: Ctrl-C lands while the workers match.
_SLOW_PANELS = """
import os, time
from emcensus.figures.match import Matcher
match_panel = Matcher.match_panel
def slow(self, pixels, **kwargs):
    with open({marker!r}, "a") as note:
        note.write(f"{{os.getpid()}}\\n")
    time.sleep(0.5)
    return match_panel(self, pixels, **kwargs)
Matcher.match_panel = slow
"""


def test_ctrl_c_during_a_pooled_match_is_one_line_leaves_no_process_and_stores_nothing(corpus, tmp_path: Path):
    """SIGINT to every process of the command (a terminal's Ctrl-C) while both workers match and the
    reading process reads: one line, status 130, no traceback, none of its processes left, the review
    queue as it was."""
    from emcensus.cli.main import INTERRUPTED
    from interrupting import interrupt_cli

    cli, truth, catalog_path = corpus
    queue = cli("figures", "list", "--format", "json").stdout
    marker = tmp_path / "panels"
    done = interrupt_cli(["--catalog", str(catalog_path), "figures", "match", str(truth.papers), "--workers", "2"],
                         _SLOW_PANELS.format(marker=str(marker)), marker, lambda panels: len(panels) == 2)
    assert done.returncode == 130 and done.stdout == ""
    assert "Traceback" not in done.stderr and done.stderr.count(INTERRUPTED) == 1, done.stderr
    assert done.stderr.rstrip().endswith(INTERRUPTED)
    assert cli("figures", "list", "--format", "json").stdout == queue
