"""`Pool.results`: the one submit-and-collect loop of per-file work outside the scan (quality metrics,
reuse staging): every task's result once, tasks drawn only as workers free up, and a task whose
read never returns given up on: interrupted in its worker, or (a read the alarm cannot reach) its worker
killed and the task given back through its own `skip` (the pool's contract)."""

from __future__ import annotations

import gc
import os
import signal
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from emcensus.errors import EmcensusError
from emcensus.scan.pool import (
    _MAX_TASK_RETRIES, CENSUS_GC_YOUNG, CRASH_REASON, WORKER_DIED, Budget, Pool, ReadTimeout, computing,
    timeout_reason)


@dataclass(frozen=True)
class _Task:
    """Numbers to square, one per "file"; `path`: a file read first (a FIFO blocks), with the alarm
    blocked if `deaf`; `not_read` from `skip`."""

    numbers: tuple[int, ...]
    path: str | None = None
    not_read: str | None = None
    deaf: bool = False

    def skip(self, indices: Iterable[int] | None, reason: str) -> _Task:
        return replace(self, path=None, not_read=reason)


def _square(task: _Task) -> list[int | str]:
    if task.not_read:
        return [task.not_read]
    with Budget(1.0) as budget, budget.file(0):
        try:
            if task.path:
                if task.deaf:  # a C library that retries its system call: the alarm never lands
                    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
                with open(task.path, "rb") as handle:  # a FIFO without a writer blocks here
                    handle.read(1)
        except ReadTimeout:
            return ["timed out"]
    return [n * n for n in task.numbers]


def _tasks(count: int, drawn: list[int]) -> Iterator[_Task]:
    for index in range(count):
        drawn.append(index)
        yield _Task((2 * index, 2 * index + 1))


@pytest.mark.parametrize("workers", [0, 2])
def test_every_result_once_and_tasks_drawn_as_workers_free_up(workers: int) -> None:
    drawn: list[int] = []
    pool = Pool(None, workers, 5.0)
    count = 10 * pool.width  # more than are ever in flight, on any number of cores
    try:
        results = []
        for result in pool.results(_square, _tasks(count, drawn), lambda task: len(task.numbers)):
            results.append(result)
            assert len(drawn) <= len(results) + 4 * pool.width  # never the whole list at once
        assert list(pool.results(_square, [], len)) == []
    finally:
        pool.shutdown()
    assert sorted(n for result in results for n in result) == [n * n for n in range(2 * count)]


def _on_two_workers(tasks: list[_Task]) -> tuple[list, float]:
    """Every result of `tasks` squared on a pool of two workers with a 1 s budget, and the seconds it took."""
    pool = Pool(None, 2, 1.0)
    started = time.monotonic()
    try:
        return list(pool.results(_square, tasks, lambda task: len(task.numbers))), time.monotonic() - started
    finally:
        pool.shutdown()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs a FIFO")
def test_a_read_that_never_returns_is_given_up_and_the_others_finish(tmp_path: Path) -> None:
    fifo = tmp_path / "blocks"
    os.mkfifo(fifo)
    results, seconds = _on_two_workers([_Task((1,)), _Task((2,), str(fifo)), _Task((3,))])
    assert sorted(map(str, results)) == ["['timed out']", "[1]", "[9]"]
    assert seconds < 30


@pytest.mark.skipif(not hasattr(os, "mkfifo") or not hasattr(signal, "pthread_sigmask"), reason="needs a FIFO")
def test_a_read_the_alarm_cannot_reach_gets_its_worker_killed_and_its_task_skipped(tmp_path: Path) -> None:
    fifo = tmp_path / "blocks"
    os.mkfifo(fifo)
    results, seconds = _on_two_workers([_Task((1,)), _Task((2,), str(fifo), deaf=True), *(_Task((n,)) for n in range(3, 12))])
    assert seconds < 30
    assert sorted(map(str, results)) == sorted([str([timeout_reason(1.0)]), *(str([n * n]) for n in (1, *range(3, 12)))])


def _dies_on_three(number: int) -> int:
    if number == 3:
        os._exit(9)  # the kernel's OOM killer, a segfault in a decoder
    return number


def test_workers_that_keep_dying_with_no_file_to_blame_stop_with_one_line_not_a_traceback_or_a_hang() -> None:
    """`_dies_on_three` reads no file under the budget: no read is in progress to blame, so the task is
    given to fresh pools until the pool has died too often, then the command stops with one line."""
    pool = Pool(None, 2, 1.0)
    started = time.monotonic()
    try:
        with pytest.raises(EmcensusError, match="kept dying") as raised:
            list(pool.results(_dies_on_three, range(20), lambda number: 1))
    finally:
        pool.shutdown()
    assert str(raised.value) == WORKER_DIED
    assert time.monotonic() - started < 60


def _computes_then_dies_on_three(task: _Task) -> list[int | str]:
    """A computation (not a read) that crashes on the task holding 3, after a budgeted read within it."""
    if task.not_read:
        return [task.not_read]
    with computing():
        with Budget(1.0) as budget, budget.file(0):
            pass  # a read inside gives the computation its mark back
        if 3 in task.numbers:
            os._exit(9)  # a library crashing on a strange input
    return [n * n for n in task.numbers]


def test_a_computation_that_kills_its_worker_is_blamed_and_the_other_tasks_finish() -> None:
    """Within `computing`, the task is the suspect, a read within or not: after its worker died twice it is
    given up with the crash reason, where with nothing to blame the pool stops (test above)."""
    pool = Pool(None, 2, 1.0)
    try:
        results = list(pool.results(_computes_then_dies_on_three, [_Task((n,)) for n in range(8)], lambda task: 1))
    finally:
        pool.shutdown()
    assert sorted(map(str, results)) == sorted([str([CRASH_REASON]), *(str([n * n]) for n in range(8) if n != 3)])


@pytest.mark.parametrize("folders", [False, True], ids=["one-pack", "a-pack-per-folder"])
def test_a_file_whose_reader_kills_its_worker_is_listed_and_the_census_goes_on(tmp_path: Path, monkeypatch,
                                                                                 folders: bool) -> None:
    """A crash in a decoder (or the out-of-memory killer) on one file takes its worker and the pool
    down: the scan starts a fresh pool, records that file as not read with the reason, reads the rest.
    `folders`: each image in a folder of its own, so the task carries one pack per folder's survey
    and the file the crash names is found across them."""
    import emcensus.scan as scan_module
    from emcensus.catalog import Catalog
    from support import catalog_cli, write_tiff

    archive = tmp_path / "archive"
    for index in range(7):
        write_tiff(archive / (f"f{index}/img{index}.tif" if folders else f"img{index}.tif"), seed=index)
    real = scan_module.read_source

    def read_source(source, **kwargs):
        if source.path.name == "img3.tif":
            os._exit(9)
        return real(source, **kwargs)

    cli = catalog_cli(tmp_path / "c.sqlite")
    monkeypatch.setattr(scan_module, "read_source", read_source)
    started = time.monotonic()
    cli("scan", str(archive), "--instrument", "SU8230", "--workers", "2", "--quiet")
    assert time.monotonic() - started < 60
    with Catalog(tmp_path / "c.sqlite", readonly=True) as catalog:
        rows = {Path(path).name: (readable, error) for path, readable, error in
                catalog.db.execute("SELECT path, readable, error FROM images WHERE status = 'present'")}
    assert rows == {**{f"img{i}.tif": (1, None) for i in range(7)}, "img3.tif": (0, CRASH_REASON)}


def _young_generation_threshold(_: object) -> int:
    return gc.get_threshold()[0]


def test_local_workers_collect_their_youngest_garbage_less_often_and_the_caller_keeps_its_own() -> None:
    """A census pool's workers (a fresh pool after a lost one too) collect less often; the caller, and
    the workers of any other pool (pixels measured, indexed, exported), keep the threshold they had."""
    before = gc.get_threshold()
    pool = Pool(None, 1, 5.0, gc_young=CENSUS_GC_YOUNG)
    try:
        [done] = pool.wait({pool.submit(_young_generation_threshold, None)})
        pool._restart({})  # noqa: SLF001 - as after a worker died
        [again] = pool.wait({pool.submit(_young_generation_threshold, None)})
    finally:
        pool.shutdown()
    other = Pool(None, 1, 5.0)
    try:
        [default] = other.wait({other.submit(_young_generation_threshold, None)})
    finally:
        other.shutdown()
    # a file's few hundred objects, collected in the tens of files
    assert done.value == again.value == CENSUS_GC_YOUNG == 10_000 > before[0]
    assert default.value == before[0]
    assert gc.get_threshold() == before


def _fails_first(marker: str) -> str:
    """Fails the first time it runs (as a task whose worker died fails), then says it ran."""
    if not os.path.exists(marker):
        Path(marker).touch()
        raise TypeError("cannot unpack non-iterable _SurveyResult object")  # what distributed raised
    return "ran"


def _always_fails(marker: str) -> str:
    with open(marker, "a") as runs:
        runs.write("x")
    raise ValueError("a defect in the task")


def _refuses(marker: str) -> str:
    with open(marker, "a") as runs:
        runs.write("x")
    raise EmcensusError("a pack made by other emcensus code")


def test_a_task_that_gives_its_own_verdict_is_not_run_again(tmp_path: Path) -> None:
    """An `EmcensusError` a task raises is its verdict (a pack of other code refused), not a worker's
    death: on a given executor it is raised at its first run, not submitted again."""
    with ThreadPoolExecutor(2) as executor:
        pool = Pool(executor, None, 5.0)
        with pytest.raises(EmcensusError, match="other emcensus code"):
            list(pool.results(_refuses, [str(tmp_path / "refused")], lambda _: 0))
    assert (tmp_path / "refused").read_text() == "x"


def test_a_task_failed_on_a_given_executor_runs_again_and_a_failing_one_is_raised(tmp_path: Path) -> None:
    """On an executor the caller gives (a Dask cluster), a task that failed because its worker died is
    submitted again; one that fails every time is raised after `_MAX_TASK_RETRIES` more runs. A local
    pool raises at once (its workers' deaths are told apart: `BrokenProcessPool`)."""
    with ThreadPoolExecutor(2) as executor:
        pool = Pool(executor, None, 5.0)
        assert list(pool.results(_fails_first, [str(tmp_path / "first")], lambda _: 0)) == ["ran"]
        with pytest.raises(ValueError, match="a defect"):
            list(pool.results(_always_fails, [str(tmp_path / "always")], lambda _: 0))
    assert (tmp_path / "always").read_text() == "x" * (1 + _MAX_TASK_RETRIES)
    local = Pool(None, 1, 5.0)
    try:
        with pytest.raises(TypeError):
            list(local.results(_fails_first, [str(tmp_path / "local")], lambda _: 0))
    finally:
        local.shutdown()
