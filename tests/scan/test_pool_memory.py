"""The memory cap of every reading process (a local pool's workers, a `Producer`): an allocation past it
is a MemoryError in that process (the file's reason), never the machine's out-of-memory killer; what the
process inherited from the command (a matcher's image table) does not count against it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np
import pytest

from emcensus.errors import ConfigError
from emcensus.scan import pool as pool_module
from emcensus.scan.pool import (MEMORY_ENV, MEMORY_LEAST, Pool, Producer, ProducerFailed, _machine_memory,
                                memory_reason, worker_memory)

MiB = 1 << 20


def _allocate(mebibytes: int) -> int:
    """Allocate and touch an array of that size: its size back, or the MemoryError's words."""
    try:
        return int(np.ones(mebibytes * MiB, np.uint8).sum()) // MiB
    except MemoryError as exc:
        return f"MemoryError: {exc}"


def _allocations(sizes: list[int]) -> Iterator[int | str]:
    for size in sizes:
        yield _allocate(size)


def _unguarded(sizes: list[int]) -> Iterator[int]:
    """What a reader does that does not expect a MemoryError: the allocation's error leaves it."""
    for size in sizes:
        yield int(np.ones(size * MiB, np.uint8).sum()) // MiB


@pytest.fixture
def inherited() -> Iterator[np.ndarray]:
    """800 MiB of private memory held by the command when it forks (not touched: address space only,
    which is what the limit counts)."""
    held = np.empty(800 * MiB, np.uint8)
    yield held
    del held


def test_a_pool_worker_gets_a_memory_error_past_its_cap_and_its_inheritance_is_not_counted(
        monkeypatch: pytest.MonkeyPatch, inherited: np.ndarray) -> None:
    monkeypatch.setenv(MEMORY_ENV, "0.25")
    with Pool(None, 1, 30) as pool:
        within, past, again = tickets = [pool.submit(_allocate, size) for size in (128, 512, 128)]
        while not all(ticket.done for ticket in tickets):
            pool.wait({ticket for ticket in tickets if not ticket.done})
    assert within.value == 128 and again.value == 128  # the worker lives on after the refused allocation
    assert past.value.startswith("MemoryError")


def test_a_producer_gets_a_memory_error_past_its_cap(monkeypatch: pytest.MonkeyPatch, inherited: np.ndarray) -> None:
    monkeypatch.setenv(MEMORY_ENV, "0.25")
    producer = Producer(_allocations, 60)
    try:
        got = list(producer.items([64, 1024, 64]))
    finally:
        producer.close()
    assert got[0] == 64 and got[2] == 64 and got[1].startswith("MemoryError")


def test_a_memory_error_a_producer_does_not_catch_is_that_input_s_one_line(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MEMORY_ENV, "0.25")
    producer = Producer(_unguarded, 60)
    try:
        got: list[int] = []
        with pytest.raises(ProducerFailed, match=r"^reading it needed more memory than a reading process may take "
                                                 rf"\(0\.25 GiB; \${MEMORY_ENV}=GIB gives each more, or off\); "
                                                 r"the rest of it not read$"):
            got.extend(producer.items([64, 1024, 64]))
        pid = producer._process.pid  # noqa: SLF001 - the same process serves the next input
        assert got == [64] and list(producer.items([32])) == [32] and producer._process.pid == pid  # noqa: SLF001
    finally:
        producer.close()


def _limits(_: object) -> tuple[tuple[int, int], str]:
    """The task's view: this process's data limit, and the reason a failed allocation would give."""
    import resource

    return resource.getrlimit(resource.RLIMIT_DATA), memory_reason()


def test_in_this_process_each_task_is_capped_and_the_limit_given_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """`workers=0` (and `quality` or `reuse export` of a handful of images): a task in the command's own
    process may take a worker's share, the reason names it, and its limit is as before once it ends: the
    command's own work between tasks (its catalog writes, a watch's state held for days) is not capped."""
    import resource

    monkeypatch.setenv(MEMORY_ENV, "0.25")
    before = resource.getrlimit(resource.RLIMIT_DATA)
    assert memory_reason() == "needs more memory than this machine could give; not read"
    with Pool(None, 0, 30) as pool:
        within, past = (pool.submit(_allocate, size) for size in (64, 512))
        assert resource.getrlimit(resource.RLIMIT_DATA) == before and _allocate(512) == 512  # between tasks
        capped, reason = pool.submit(_limits, None).value
        again = pool.submit(_allocate, 64)
    assert within.value == 64 and again.value == 64 and past.value.startswith("MemoryError")
    assert capped[0] != before[0] and capped[1] == before[1]  # the soft limit lowered for the task
    assert reason == f"needs more memory than a reading process may take (0.25 GiB; ${MEMORY_ENV}=GIB gives each more, or off); not read"
    assert resource.getrlimit(resource.RLIMIT_DATA) == before and _allocate(512) == 512
    assert memory_reason() == "needs more memory than this machine could give; not read"


def _nested(_: object) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """A task that runs a pool of its own in this process: the limits in it, in its task, and after that pool."""
    import resource

    outer = resource.getrlimit(resource.RLIMIT_DATA)
    with Pool(None, 0, 30) as pool:
        inner = pool.submit(_limits, None).value[0]
    return outer, inner, resource.getrlimit(resource.RLIMIT_DATA)


def test_in_this_process_a_pool_within_a_task_gives_each_limit_back_in_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    """A task's own in-process pool (a library's): its task is capped within the outer one, not past it, and the
    outer task's limit is as it was after, the caller's after the outer; and after a task that raised."""
    import resource

    monkeypatch.setenv(MEMORY_ENV, "0.25")
    before = resource.getrlimit(resource.RLIMIT_DATA)
    with Pool(None, 0, 30) as pool:
        outer, inner, after = pool.submit(_nested, None).value
    assert outer[0] != before[0] and inner[0] <= outer[0] and after == outer
    assert resource.getrlimit(resource.RLIMIT_DATA) == before
    with Pool(None, 0, 30) as pool, pytest.raises(ZeroDivisionError):  # a task that fails: its limit given back too
        pool.submit(lambda _: 1 // 0, None)
    assert resource.getrlimit(resource.RLIMIT_DATA) == before


def test_in_this_process_a_task_in_another_thread_is_not_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    """A limit is the whole process's: set from a thread (a library caller's), it would cap the other threads
    too, and two such threads would give their limits back out of order, leaving one set for good."""
    import resource
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setenv(MEMORY_ENV, "0.25")
    before = resource.getrlimit(resource.RLIMIT_DATA)

    def in_a_thread() -> tuple[tuple[int, int], str]:
        with Pool(None, 0, 30) as pool:
            return pool.submit(_limits, None).value

    with ThreadPoolExecutor(1) as threads:
        seen = threads.submit(in_a_thread).result()
    assert seen == (before, "needs more memory than this machine could give; not read")
    assert resource.getrlimit(resource.RLIMIT_DATA) == before


@dataclass(frozen=True)
class _Greedy:
    """A task that allocates `mebibytes` without catching a MemoryError (a panel being matched)."""

    mebibytes: int
    given_up: str | None = None

    def skip(self, indices: object, reason: str) -> _Greedy:
        return replace(self, given_up=reason)


def _take(task: _Greedy) -> int | str:
    return task.given_up or int(np.ones(task.mebibytes * MiB, np.uint8).sum()) // MiB


@pytest.mark.parametrize("workers", [1, 0])
def test_a_task_past_the_cap_is_given_up_with_the_cap_s_reason_and_the_others_run(
        monkeypatch: pytest.MonkeyPatch, workers: int) -> None:
    """Not the command's end (a traceback): that task's line, naming the cap; the worker serves the next."""
    monkeypatch.setenv(MEMORY_ENV, "0.25")
    with Pool(None, workers, 30) as pool:
        tickets = [pool.submit(_take, _Greedy(size)) for size in (64, 512, 64)]
        while not all(ticket.done for ticket in tickets):
            pool.wait({ticket for ticket in tickets if not ticket.done})
    assert [ticket.value for ticket in tickets] == [
        64, f"needs more memory than a reading process may take (0.25 GiB; ${MEMORY_ENV}=GIB gives each more, "
            "or off); not read", 64]


@dataclass(frozen=True)
class _Hoard:
    """A task whose result (`mebibytes` of it) fits its worker's cap but not twice: pickled to be sent back, it
    does not (a batch's catalog rows near the cap)."""

    mebibytes: int
    given_up: str | None = None

    def skip(self, indices: object, reason: str) -> _Hoard:
        return replace(self, given_up=reason)


def _hoard(task: _Hoard) -> list[bytes] | str:
    return task.given_up or [bytes(MiB) for _ in range(task.mebibytes)]


def test_a_result_too_large_to_send_back_is_its_files_not_read_for_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    """Read within the cap, its result not sent back (the pickle needs as much again): that task's files are not
    read for the cap, a reason `--retry-unread` reads again, the worker serves the next (was: the MemoryError
    left the command as a traceback)."""
    monkeypatch.setenv(MEMORY_ENV, "0.25")
    with Pool(None, 1, 60) as pool:
        tickets = [pool.submit(_hoard, _Hoard(size), files=1) for size in (8, 180, 8)]
        while not all(ticket.done for ticket in tickets):
            pool.wait({ticket for ticket in tickets if not ticket.done})
    small, large, again = (ticket.value for ticket in tickets)
    assert len(small) == len(again) == 8
    assert large == (f"needs more memory than a reading process may take (0.25 GiB; ${MEMORY_ENV}=GIB gives each "
                     "more, or off) to send back what it read; not read")
    assert large.startswith(pool_module.LIMIT_REASONS)


def _blas_threads(_: object) -> str | None:
    import os

    return os.environ.get("OPENBLAS_NUM_THREADS")


@pytest.mark.parametrize("users", [None, "4"])
def test_in_this_process_a_capped_task_s_blas_setting_is_the_task_s_alone(
        monkeypatch: pytest.MonkeyPatch, users: str | None) -> None:
    """A capped task loads OpenBLAS on one thread unless the user set it; after the task the command's environment
    is the user's again (was: OPENBLAS_NUM_THREADS=1 left in it for every process the command starts later)."""
    import os

    monkeypatch.setenv(MEMORY_ENV, "0.25")
    if users is None:
        monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OPENBLAS_NUM_THREADS", users)
    with Pool(None, 0, 30) as pool:
        assert pool.submit(_blas_threads, None).value == (users or "1")
    assert os.environ.get("OPENBLAS_NUM_THREADS") == users


def test_without_a_cap_the_same_allocation_succeeds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MEMORY_ENV, "off")
    with Pool(None, 1, 30) as pool:
        ticket = pool.submit(_allocate, 512)
        pool.wait({ticket})
    assert ticket.value == 512


def test_the_default_cap_shares_the_machine_and_a_wrong_setting_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MEMORY_ENV, raising=False)
    assert worker_memory(2) == _machine_memory() // 3  # two workers and the command's process
    assert worker_memory(0) == _machine_memory() // 2
    assert 0 < _machine_memory() <= 2**50
    monkeypatch.setenv(MEMORY_ENV, "1.5")
    assert worker_memory(8) == 3 * 2**29
    for wrong in ("0", "-2", "nan", "4GB", "inf"):
        monkeypatch.setenv(MEMORY_ENV, wrong)
        with pytest.raises(ConfigError, match=f"{MEMORY_ENV}='{wrong}': give the GiB"):
            worker_memory(2)
    monkeypatch.setenv(MEMORY_ENV, "0.125")  # the least a reading process needs to start (`MEMORY_LEAST`)
    assert worker_memory(2) == MEMORY_LEAST == 2**27
    for small in ("0.12", "0.03125", "1e-9"):  # below it: every file "not read", or OpenBLAS spinning
        monkeypatch.setenv(MEMORY_ENV, small)
        with pytest.raises(ConfigError) as refused:
            worker_memory(2)
        assert str(refused.value) == (f"${MEMORY_ENV}='{small}' is less than a reading process needs to start "
                                      "(0.125 GiB): give at least that, or off")


@pytest.mark.parametrize(("machine_gib", "workers", "cap_gib"), [
    (512, 127, 4),  # a server: its share
    (8, 15, 1),  # many cores, little memory each: 0.5 GiB would refuse a 64 Mpx 16-bit frame `quality` measures
    (4, 3, 1),
    (1, 8, 0.5),  # a tiny machine: half of it at most
])
def test_the_default_cap_is_never_less_than_the_largest_admitted_image_needs(
        monkeypatch: pytest.MonkeyPatch, machine_gib: int, workers: int, cap_gib: float) -> None:
    monkeypatch.delenv(MEMORY_ENV, raising=False)
    monkeypatch.setattr(pool_module, "_machine_memory", lambda: machine_gib * 2**30)
    assert worker_memory(workers) == int(cap_gib * 2**30)


def test_a_wrong_cap_stops_the_command_with_one_line(tiny_archive, tmp_path) -> None:
    """Not a number, or less than a reading process needs to start: one line, the exit status of a setting refused."""
    from support import catalog_cli

    cli = catalog_cli(tmp_path / "c.sqlite")
    lines = {"4GB": f"${MEMORY_ENV}='4GB': give the GiB one reading process may take (e.g. 4), or off",
             "0.1": f"${MEMORY_ENV}='0.1' is less than a reading process needs to start (0.125 GiB): give at least "
                    "that, or off"}
    for given, line in lines.items():
        result = cli("scan", str(tiny_archive), "--instrument", "SU8230", "--workers", "2", ok=False,
                     env={MEMORY_ENV: given})
        assert result.exit_code == 1 and result.output.strip().splitlines() == [f"Error: {line}"]


def test_the_machine_s_memory_is_its_least_cgroup_limit_along_this_process_s_path(tmp_path) -> None:
    """A batch job's limit (SLURM's `--mem`) is a cgroup nested below others: v2 and v1, the least along
    the path counts; a limit of another branch, or none ("max"), does not."""
    physical = _machine_memory(tmp_path / "absent", tmp_path)
    v2 = tmp_path / "v2"
    job = v2 / "system.slice" / "slurmstepd.scope" / "job_42"
    (job / "step_0").mkdir(parents=True)
    (job / "memory.max").write_text(f"{2**33}\n")
    (job / "step_0" / "memory.max").write_text("max\n")
    (v2 / "memory.max").write_text("max\n")
    (v2 / "other").mkdir()
    (v2 / "other" / "memory.max").write_text(f"{2**20}\n")
    (tmp_path / "v2.cgroup").write_text("0::/system.slice/slurmstepd.scope/job_42/step_0\n")
    assert _machine_memory(tmp_path / "v2.cgroup", v2) == min(physical, 2**33)
    v1 = tmp_path / "v1"
    (v1 / "memory" / "slurm" / "uid_1" / "job_7").mkdir(parents=True)
    (v1 / "memory" / "slurm" / "uid_1" / "job_7" / "memory.limit_in_bytes").write_text(f"{2**32}\n")
    (v1 / "memory" / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    (tmp_path / "v1.cgroup").write_text("5:cpu,cpuacct:/slurm/uid_1/job_7\n4:memory:/slurm/uid_1/job_7\n0::/\n")
    assert _machine_memory(tmp_path / "v1.cgroup", v1) == min(physical, 2**32)
    assert 0 < _machine_memory() <= physical
