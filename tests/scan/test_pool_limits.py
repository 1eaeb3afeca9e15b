"""The pool's limits on computations and deaths, Ctrl-C in its workers, and `Producer` (a generator in a
process of its own): a computation that hangs where no signal reaches is ended at its limit, tasks that
crash their worker every time cost themselves alone however many they are, a worker ignores SIGINT, and
a producer's crash or hang costs that input alone while the next input is served by a fresh process."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

import pytest

from emcensus.errors import EmcensusError
from emcensus.scan import pool as pool_module
from emcensus.scan.pool import (
    _MAX_POOL_DEATHS, CRASH_REASON, Budget, Pool, Producer, ProducerFailed, computation_reason, computing)


@dataclass(frozen=True)
class _Job:
    """A number to square within `computing(seconds=limit)`; `how`: "hang" (with the alarm signal blocked,
    as a C library spinning), "crash" (every time), "slow" (longer than the poll, within the limit)."""

    number: int
    how: str = ""
    limit: float = 2.0
    not_done: str | None = None

    def skip(self, indices: Iterable[int] | None, reason: str) -> _Job:
        return replace(self, not_done=reason)


def _square(job: _Job) -> int | str:
    if job.not_done:
        return job.not_done
    with computing(seconds=job.limit):
        if job.how == "hang":
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
            time.sleep(600)
        elif job.how == "crash":
            os._exit(11)
        elif job.how == "slow":
            time.sleep(1.5)
        elif job.how == "brief":
            time.sleep(0.1)
        elif job.how == "spin" and not _spun(30):
            return "never ended"
        elif job.how == "read then spin":
            with Budget(30) as budget, budget.file(0):  # a read within: its alarm, then the block's again
                time.sleep(0.2)
            if not _spun(30):
                return "never ended"
    return job.number * job.number


def _spun(seconds: float) -> bool:
    """A computation in Python that does not end by itself: False after `seconds` (the test fails, not hangs)."""
    ends = time.monotonic() + seconds
    while time.monotonic() < ends:
        sum(range(1000))
    return False


def _results(jobs: list[_Job]) -> tuple[list[int | str], float]:
    pool = Pool(None, 2, 1.0)
    started = time.monotonic()
    try:
        return list(pool.results(_square, jobs, lambda job: 1)), time.monotonic() - started
    finally:
        pool.shutdown()


def test_a_computation_past_its_limit_is_ended_and_the_others_finish() -> None:
    """The hung job is ended at its limit (+ the grace) although other jobs keep finishing meanwhile (one
    every 0.1 s on the other worker, more often than the pool polls, from 1.5 s to 5 s), and given up
    with its reason; a slow job within its limit is not."""
    jobs = [_Job(1), _Job(2, "hang"), _Job(3, "slow"), *(_Job(n, "brief") for n in range(4, 40))]
    results, seconds = _results(jobs)
    assert sorted(map(str, results)) == sorted([computation_reason(2.0), *(str(n * n) for n in range(1, 40) if n != 2)])
    assert seconds < 30
    assert results.index(computation_reason(2.0)) < len(results) - 5  # not only once the others are done


def test_in_this_process_a_computation_past_its_limit_is_given_up_and_the_others_finish() -> None:
    """`workers=0`: a computation spinning in Python is ended by its alarm at its limit and given up with
    the reason a worker's gets, also after a read within took the alarm over and gave it back; the alarm
    is the process's own again after the pool. Outside a pool a block has no alarm (nothing would catch it)."""
    before = signal.getsignal(signal.SIGALRM)
    jobs = [_Job(1), _Job(2, "spin", limit=1.0), _Job(3, "read then spin", limit=1.0), _Job(4, "brief")]
    started = time.monotonic()
    with Pool(None, 0, 30) as pool:
        results = list(pool.results(_square, jobs, lambda job: 1))
    assert sorted(map(str, results)) == sorted(["1", computation_reason(1.0), computation_reason(1.0), "16"])
    assert time.monotonic() - started < 15
    assert signal.getsignal(signal.SIGALRM) is before and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert _square(_Job(5, "slow", limit=1.0)) == 25


def test_in_this_process_a_caller_s_own_alarm_is_given_back() -> None:
    """A library caller's alarm set before a `workers=0` pool: after each `computing` block
    took it over, its handler and what is left of its time come back, and it goes off when it was due."""
    rang: list[float] = []
    previous = signal.signal(signal.SIGALRM, lambda *_: rang.append(time.monotonic()))
    try:
        started = time.monotonic()
        signal.setitimer(signal.ITIMER_REAL, 1.5)
        with Pool(None, 0, 30) as pool:
            jobs = [_Job(1, "brief", limit=5.0), _Job(2, "brief", limit=5.0)]
            assert sorted(pool.results(_square, jobs, lambda job: 1)) == [1, 4]
        assert 0.5 < signal.getitimer(signal.ITIMER_REAL)[0] < 1.5 and not rang
        while not rang and time.monotonic() - started < 10:
            time.sleep(0.05)
        assert len(rang) == 1 and 1.4 < rang[0] - started < 2.5
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_tasks_that_crash_their_worker_cost_themselves_alone_however_many() -> None:
    """Each crashing job is blamed and given up after its second death: more of them than the deaths with
    nothing to blame a command may see, and the command goes on."""
    crashing = set(range(0, 2 * _MAX_POOL_DEATHS, 2))  # 2 deaths each: twice the limit of unblamed deaths
    jobs = [_Job(n, "crash" if n in crashing else "") for n in range(2 * _MAX_POOL_DEATHS + 4)]
    results, seconds = _results(jobs)
    assert sorted(map(str, results)) == sorted(CRASH_REASON if job.number in crashing else str(job.number ** 2)
                                               for job in jobs)
    assert seconds < 120


def _pid_after_interrupt(_: object) -> int:
    os.kill(os.getpid(), signal.SIGINT)  # as a terminal's Ctrl-C reaches every process of the command
    time.sleep(0.2)
    return os.getpid()


def test_a_worker_ignores_ctrl_c_which_is_for_the_command() -> None:
    pool = Pool(None, 1, 5.0)
    try:
        [first] = pool.wait({pool.submit(_pid_after_interrupt, None)})
        [second] = pool.wait({pool.submit(_pid_after_interrupt, None)})
    finally:
        pool.shutdown()
    assert first.value == second.value  # the same worker, alive: no pool lost, no traceback


def _count_to(arg: tuple[str, int]) -> Iterator[int]:
    how, count = arg
    for number in range(count):
        if number == 2 and how == "crash":
            os.kill(os.getpid(), signal.SIGSEGV)
        if number == 2 and how == "hang":
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM, signal.SIGTERM})
            time.sleep(600)
        if number == 2 and how == "raise":
            raise EmcensusError("its own error")
        if number == 2 and how == "interrupt":
            os.kill(os.getpid(), signal.SIGINT)
        yield number


def _children() -> set[int]:
    return {int(pid) for pid in open(f"/proc/self/task/{os.getpid()}/children").read().split()}


@pytest.mark.skipif(not os.path.exists(f"/proc/self/task/{os.getpid()}/children"), reason="needs Linux's /proc")
def test_a_producer_streams_in_order_and_a_crash_or_hang_costs_that_input_alone() -> None:
    before = _children()
    producer = Producer(_count_to, 3.0)
    try:
        assert list(producer.items(("", 5))) == [0, 1, 2, 3, 4]
        first = _children() - before
        got: list[int] = []
        with pytest.raises(ProducerFailed, match=r"died \(Segmentation fault\); the rest of it not read"):
            got.extend(producer.items(("crash", 5)))
        assert got == [0, 1] and not _children() - before  # the items before it stand; nothing left
        assert list(producer.items(("", 3))) == [0, 1, 2]  # a fresh process takes the next input
        started = time.monotonic()
        with pytest.raises(ProducerFailed, match="gave nothing for 3 s"):
            list(producer.items(("hang", 5)))
        assert time.monotonic() - started < 30 and not _children() - before
        with pytest.raises(EmcensusError, match="its own error"):  # raised where it is consumed
            list(producer.items(("raise", 5)))
        serving = _children() - before
        assert list(producer.items(("interrupt", 4))) == [0, 1, 2, 3]  # Ctrl-C is for the command
        assert _children() - before == serving and serving != first
        stopped = producer.items(("", 100))
        assert next(stopped) == 0
        stopped.close()  # the caller stops midway: that process is ended, the next input starts afresh
        assert not _children() - before
        assert list(producer.items(("", 2))) == [0, 1]
        [idle] = _children() - before
        os.kill(idle, signal.SIGKILL)  # killed between inputs (the out-of-memory killer): the next starts afresh
        deadline = time.monotonic() + 10
        while open(f"/proc/{idle}/stat").read().rpartition(")")[2].split()[0] != "Z" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert list(producer.items(("", 2))) == [0, 1]
        [idle] = _children() - before
        producer._process.is_alive = lambda: True  # noqa: SLF001 - killed after the check, before the input is sent
        os.kill(idle, signal.SIGKILL)
        with pytest.raises(ProducerFailed, match=r"died \(Killed\)"):  # one line, not a broken pipe
            list(producer.items(("", 2)))
        assert list(producer.items(("", 2))) == [0, 1]
    finally:
        producer.close()
    assert not _children() - before


class _Recorded(list):
    """A worker's slot that keeps every state the watchdog could read between two writes."""

    def __init__(self) -> None:
        super().__init__([0.0] * pool_module._SLOT_FIELDS)  # noqa: SLF001
        self.states: list[tuple[float, ...]] = []

    def __setitem__(self, index, value) -> None:
        super().__setitem__(index, value)
        self.states.append(tuple(self))


def test_a_read_within_a_long_computation_never_reads_as_a_late_read(monkeypatch) -> None:
    """A panel computing for 100 s (its limit 120 s) reads an archive file: at no moment of the read's
    start or end does its slot hold the block's old start with a read's limit (late past the file budget:
    the pool would end a healthy panel), and a slot written while the watchdog reads it is not taken."""
    slot = _Recorded()
    monkeypatch.setattr(pool_module, "_slot", (slot, 0))
    file_timeout, grace = 30.0, 5.0
    with computing(index=0, seconds=120.0):
        slot[0] -= 100.0
        read = pool_module._FileRead()  # noqa: SLF001 - as `Budget.file` gives it
        with read:
            pass
    now = time.monotonic()
    late = [state for state in slot.states if state[0] > 0 and now - state[0] > (state[4] or file_timeout) + grace]
    assert not late and len(slot.states) > 6

    class Moving(list):  # a read begins between the watchdog's reads of a slot's start and of its limit
        def __getitem__(self, index):
            value = super().__getitem__(index)
            if index == 4:
                self[0] = now
            return value

    workers = object.__new__(pool_module._LocalWorkers)  # noqa: SLF001
    workers.progress = Moving([now - 100.0, 7, 0, 123, 120.0])
    assert workers.marks() == []
    assert workers.marks() == [(7, 0, now, 120.0)]
