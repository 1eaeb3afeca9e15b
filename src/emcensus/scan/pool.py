"""Scan tasks on an executor, with a time budget per file: one blocking read never hangs a census.

Three layers, cheapest first:

1. **In the worker.** Where a task runs in a process's main thread (the local process pool, and
   `workers=0`), a `signal.setitimer` alarm looks at the file being read when it goes off: a read
   still running after `file_timeout` seconds is interrupted and recorded as an error ("read took
   longer than N s; not read"), and the worker goes on with the next file; otherwise the alarm is
   set again for when the read in progress would be late. One alarm per `file_timeout` at most,
   not two system calls per file (6 % of a census worker's time).
2. **The local pool, watched.** Each worker marks in shared memory which file it reads, since when.
   A read that outlives its budget plus a grace (one the signal could not interrupt: a C library that
   retries a blocked system call, a reader that blocks signals) gets the pool's processes killed and
   a fresh pool started; that file is recorded as timed out, every other task in flight is submitted
   again, and the census goes on. A worker that dies (a crash in a decoder, the out-of-memory killer)
   takes the pool down with it: the file it was reading is a suspect, a fresh pool takes every
   unfinished task, and a file suspected a second time is recorded as not read. A pool that keeps
   dying with no file to blame stops the command with one line. A computation marked with a time
   limit (`computing(seconds=...)`: a library that hangs, not a read) is ended the same way when
   late, and given up with `computation_reason`.
3. **Any other executor** (Dask, threads) runs tasks in threads, where neither works. There the scan
   stops waiting when no task at all finished for `file_timeout` x the files of the biggest batch in
   flight (+ a minute): the batches still out, including any queued behind the blocked ones, are
   recorded as not read with that reason. Python cannot stop a thread, so the executor's thread stays
   blocked until its read returns (restart that Dask worker to free it).

Every local worker, and a `Producer`'s process, may allocate at most `worker_memory` bytes beyond what
it inherited (RLIMIT_DATA): a decompression bomb that the format checks let through is a MemoryError
there, that file's reason (`memory_reason`), not the machine's out-of-memory killer; a task that does not
catch it (a panel being matched) is given up whole with that reason.

`workers=0` runs the tasks in the command's own process, under the same policy as far as one process can
keep it: while a task runs in its main thread, that process may allocate a worker's share beyond what it
held when the task began (`worker_memory(1)`; the limit before is given back when the task ends, so the
command's own work between tasks, its catalog writes, a watch's state held for days, is not capped), a read
has its alarm (layer 1), and a `computing(seconds=...)` block an alarm of its own, which gives that item up
as a worker's would be. A task run in another thread has neither (a limit is the whole process's). What
only another process can do is not done: a read or computation stuck where no signal reaches (a C library
that blocks signals or never returns to Python) hangs the command, and a crash ends it. Commands start
workers unless told `--workers 0` (for debugging and profiling in one process), or unless the work is a
handful of images (`quality`, `reuse export`: the cap and the read alarm hold there too); `watch` runs
in its own process unless given workers. Dask
workers are capped by Dask (`dask worker --memory-limit`: its nanny restarts a worker past 95 %), not here:
emcensus sets no limit on a process it did not start.

Local workers ignore Ctrl-C (SIGINT, which a terminal sends to every process of the command): the
command's own process stops and ends them, so one interrupt is one message, not a traceback per
worker. `Producer` runs a generator in one forked process of its own, for work whose crash or hang
must cost one input alone (a document a C library reads) while its items stream back in order.
"""

from __future__ import annotations

import faulthandler
import gc
import math
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, TypeVar

from emcensus.errors import ConfigError, EmcensusError

try:
    import resource
except ImportError:  # no such limits here (Windows): reading processes run uncapped
    resource = None  # type: ignore[assignment]

#: How long one file may take to read, by default.
FILE_TIMEOUT_S = 30.0
_STALL_GRACE_S = 60.0  # layer 3: on top of the budget of a whole batch
#: Per worker in shared memory: mark started (monotonic s, 0: idle), task serial, file index, pid, and the
#: mark's limit (0: a read under the pool's file budget; seconds: a computation's; inf: untimed).
_SLOT_FIELDS = 5

#: How every process of this module starts: forked, so that it inherits what the caller loaded (a matcher's
#: index, `figures.match._pooled`) and `_forking` covers its start (Python 3.14 made forkserver Linux's default);
#: where there is no fork (Windows), importing this module, and `workers=0`, still work.
_FORK = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)

_slot: tuple[Any, int] | None = None  # this worker's part of the shared progress array (layer 2)
_serial = 0  # the task this worker runs now
_memory_allowance: int | None = None  # bytes this process may allocate beyond what it held when capped (None: uncapped)
_here = False  # an in-process pool (`workers=0`) runs a task in the main thread now: a late `computing` block is given up


class ReadTimeout(BaseException):
    """Raised by the alarm in the middle of a read. Not an `Exception`, so that a reader's `except
    Exception` cannot mistake it for a damaged file."""


def timeout_reason(seconds: float) -> str:
    return f"{_TIMEOUT_START} {seconds:g} s; not read"


def computation_reason(seconds: float) -> str:
    """Why an item is given up whose computation outlived its limit (`computing(seconds=...)`)."""
    return f"took longer than {seconds:g} s; not done"


#: Local workers that kept dying with no file to blame (killed from outside): one line, not a traceback.
WORKER_DIED = "worker processes kept dying (killed, or out of memory) with no file to blame: stopped"
#: Why a file is not read when the worker reading it died twice.
CRASH_REASON = "the worker process reading it died twice (a crash in its decoder, or out of memory); not read"
_TIMEOUT_START = "read took longer than"  # `timeout_reason`
_MEMORY_START = "needs more memory than"  # `memory_reason`
_STALL_START = "no result from the executor within"  # layer 3
#: How every reason begins that a file was not read for a limit of the reading, not for its content (its
#: memory cap, its time budget, a worker that died reading it): `scan --retry-unread` reads those again.
LIMIT_REASONS = (_MEMORY_START, _TIMEOUT_START, _STALL_START, CRASH_REASON)
_MAX_POOL_DEATHS = 8  # pools lost in one command with nothing to blame before it stops
#: Times a task whose future failed on an executor given by the caller (a Dask cluster) is submitted
#: again: a task only reads, so running it again changes nothing.
_MAX_TASK_RETRIES = 3
#: A census worker's youngest generation is collected every this many new objects (Python's default:
#: 700): reading a file's metadata makes a few hundred and keeps few, and collecting took ~6 % of a
#: census worker's CPU. Measured for the census only: other pools (pixels measured, indexed, exported)
#: keep Python's default, so no cycle holding a frame's pixels outlives it longer than it did.
CENSUS_GC_YOUNG = 10_000
#: GiB of memory each reading process may take beyond what it inherited (`off`: no cap); see `worker_memory`.
MEMORY_ENV = "EMCENSUS_WORKER_MEMORY"
#: The least the default cap gives a reading process (half the machine's memory where that is less): what the
#: largest image the format checks admit takes, with room to spare (`quality` on a 64 Mpx 16-bit frame:
#: 0.5-0.625 GiB; `figures index` on a 196 Mpx one: under 0.375 GiB), so that a machine of many cores and
#: little memory each (8 GiB and 16 threads) does not refuse images every other machine reads.
MEMORY_FLOOR = 2**30
#: The least `$EMCENSUS_WORKER_MEMORY` may give: what a reading process takes to start beyond what it inherited,
#: the libraries it loads on its first file (rsciio with scipy: 65 MiB; the OCR model of `figures match`: 92 MiB),
#: with room for a small read. Measured on the 23 vendor samples (OpenBLAS on one thread, `_cap_memory`): all
#: read at 112 MiB; at 104 a worker's pickled result fails; at 96 and below scipy's OpenBLAS spins on its import,
#: every Gatan file past its time budget.
MEMORY_LEAST = 2**27


T = TypeVar("T")


# ----------------------------------------------------------------- worker side
@contextmanager
def _forking() -> Iterator[None]:
    """Around a fork: SIGINT held back, so that no child can be interrupted before it ignores it
    (`_ignore_interrupts`); one that comes meanwhile reaches this process when the fork is done."""
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _ignore_interrupts() -> None:
    """In a child forked under `_forking`: Ctrl-C is for the command's process, which ends the children."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def worker_memory(processes: int) -> int | None:
    """Bytes one reading process (a local pool's worker, a `Producer`) may allocate beyond what it
    inherited: `$EMCENSUS_WORKER_MEMORY` GiB, else the machine's memory (or its cgroup's) shared by
    `processes` and the command's own, `MEMORY_FLOOR` at least; None: no cap (`off`, or a system without
    the limit). The last line under the format checks: a decompression bomb they let through fails its
    allocation in that process (a MemoryError: that file's reason), before the machine's memory runs out."""
    given = os.environ.get(MEMORY_ENV, "").strip()
    if resource is None or not hasattr(resource, "RLIMIT_DATA") or given.lower() == "off":
        return None
    if not given:
        machine = _machine_memory()
        return max(machine // (max(processes, 1) + 1), min(MEMORY_FLOOR, machine // 2))
    try:
        gib = float(given)
    except ValueError:
        gib = math.nan
    if not (math.isfinite(gib) and gib > 0):
        raise ConfigError(f"${MEMORY_ENV}={given!r}: give the GiB one reading process may take (e.g. 4), or off")
    if gib * 2**30 < MEMORY_LEAST:
        raise ConfigError(f"${MEMORY_ENV}={given!r} is less than a reading process needs to start "
                          f"({MEMORY_LEAST / 2**30:g} GiB): give at least that, or off")
    return int(gib * 2**30)


def _machine_memory(cgroups: Path = Path("/proc/self/cgroup"), mounted: Path = Path("/sys/fs/cgroup")) -> int:
    """The machine's memory, or less: the least limit of this process's memory cgroup and those above it
    (a container's, a batch job's: SLURM's `--mem` is a cgroup nested below the node's), cgroup v2's
    `memory.max` ("max": none) or v1's `memory.limit_in_bytes`, those this process can see."""
    total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    with suppress(OSError, ValueError):
        for line in cgroups.read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if not controllers:
                base, name = mounted, "memory.max"
            elif "memory" in controllers.split(","):
                base, name = mounted / "memory", "memory.limit_in_bytes"
            else:
                continue
            folder = base / path.lstrip("/")
            for level in (folder, *folder.parents):
                if not level.is_relative_to(base):
                    break
                with suppress(OSError, ValueError):
                    total = min(total, int((level / name).read_text()))
    return total


_BLAS_THREADS = "OPENBLAS_NUM_THREADS"  # read by an OpenBLAS when it loads (scipy's own, numpy's): `_cap_memory`


def _cap_memory(allowance: int | None) -> None:
    """In a reading process just forked: at most `allowance` bytes of data beyond what it inherited.
    RLIMIT_DATA counts private writable memory (the heap, arrays, thread stacks), not files mapped
    read-only: the matcher's index files shared by every worker do not count against it, while the
    image table it inherited does, and is added. A tighter limit already set stays.
    OpenBLAS loaded from here on (scipy's own, under rsciio and scikit-image) runs one thread, unless the user
    said otherwise: it reserves ~40 MiB per thread and starts one per core, so under the cap a many-core machine
    would spin in its allocation retries (a reading process is one core's worker anyway)."""
    global _memory_allowance
    if allowance is None:
        return
    os.environ.setdefault(_BLAS_THREADS, "1")
    inherited = _data_bytes()
    if inherited is None:
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    limit = min([inherited + allowance, *(bound for bound in (soft, hard) if bound != resource.RLIM_INFINITY)])
    resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))
    _memory_allowance = limit - inherited


@contextmanager
def _memory_capped_here(allowance: int | None) -> Iterator[None]:
    """`_cap_memory` on the command's own process for a block (a task of `workers=0`), its limit before given
    back after, and the environment too: an OpenBLAS loaded in the block keeps one thread, but the processes
    the command starts later (a `Producer`, a pool) and the libraries it loads uncapped get the user's."""
    global _memory_allowance
    if allowance is None:
        yield
        return
    before, allowed_before = resource.getrlimit(resource.RLIMIT_DATA), _memory_allowance
    threads_before = os.environ.get(_BLAS_THREADS)
    _cap_memory(allowance)
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_DATA, before)
        _memory_allowance = allowed_before
        if threads_before is None:
            os.environ.pop(_BLAS_THREADS, None)


def memory_reason() -> str:
    """Why an input is not read whose reading failed to allocate in this process: past the cap it was given
    (named, with how to give more), or, uncapped, past what the machine could give. Not the input's damage:
    a reader checks the sizes an input declares against the input's own size before allocating."""
    return f"needs {_more_memory(_memory_allowance)}; not read"  # begins with `_MEMORY_START`


def _more_memory(allowance: int | None) -> str:
    """More memory than what: `allowance`, a reading process's cap, named with how to give more, or (None)
    the machine's."""
    if allowance is None:
        return "more memory than this machine could give"
    return (f"more memory than a reading process may take ({allowance / 2**30:.3g} GiB; "
            f"${MEMORY_ENV}=GIB gives each more, or off)")


def _data_bytes() -> int | None:
    """This process's data size (Linux's VmData), None where /proc does not say."""
    with suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmData:"):
                return int(line.split()[1]) * 1024
    return None


def _init_worker(progress: Any, counter: Any, gc_young: int | None, memory: int | None) -> None:
    global _slot
    _ignore_interrupts()
    _cap_memory(memory)
    if gc_young:
        gc.set_threshold(gc_young, *gc.get_threshold()[1:])
    with counter.get_lock():
        index = counter.value
        counter.value += 1
    _slot = (progress, index * _SLOT_FIELDS) if (index + 1) * _SLOT_FIELDS <= len(progress) else None
    if _slot is not None:
        progress[_slot[1] + 3] = os.getpid()


def _run(fn: Callable[[Any], T], arg: Any, serial: int) -> T:
    """`fn(arg)`; a task that runs out of this process's memory (`memory_reason`) where its items do not
    catch it themselves (a panel being matched) is given up whole with that reason, run again without its
    items (`arg.skip`, once the failed run's memory is freed), rather than ending the command."""
    global _serial
    _serial = serial
    try:
        return fn(arg)
    except MemoryError:
        if not hasattr(arg, "skip"):
            raise
    return fn(arg.skip(None, memory_reason()))


class _FileRead:
    """The read in progress under a `Budget` (one object per task, entered once per file); its mark
    replaces, for the read, whatever the worker's slot held (idle, or a `computing` block's mark)."""

    __slots__ = ("index", "outer", "started")

    def __init__(self) -> None:
        self.index = 0
        self.started = 0.0  # monotonic start of the read; 0: between files
        self.outer = (0.0, 0.0, 0.0)  # the slot's start, file index and limit before the read

    # The watchdog reads the slot while it is written: a read's start is written first and the block's
    # given back last, so no mix of the two (a `computing` block's old start with a read's limit) is late.
    def __enter__(self) -> None:
        self.started = now = time.monotonic()
        if _slot is not None:
            progress, base = _slot
            self.outer = progress[base], progress[base + 2], progress[base + 4]
            progress[base], progress[base + 1], progress[base + 2], progress[base + 4] = now, _serial, self.index, 0.0

    def __exit__(self, *exc: object) -> None:
        self.started = 0.0
        if _slot is not None:
            progress, base = _slot
            progress[base + 4], progress[base + 2], progress[base] = self.outer[2], self.outer[1], self.outer[0]


@contextmanager
def computing(index: int = 0, seconds: float = math.inf) -> Iterator[None]:
    """On a pool's worker, mark item `index` of the task it runs as in progress for the whole block:
    a worker that dies within (a library crashing on a strange input, not only a read) makes that item
    the suspect, so it is given up after a second death (`CRASH_REASON`) and the other tasks go on.
    A block still running `seconds` (+ the pool's grace) after it began (a library that hangs where
    no signal reaches) gets its worker ended and the item given up (`computation_reason`); untimed
    by default. Reads within (`Budget.file`) mark and bound themselves, then give the mark back.
    In the command's own process (`workers=0`) the block has an alarm instead, at its limit: a block still
    running in Python then is given up the same way (a hang in C that never returns to Python is not)."""
    if _slot is None:
        if _here and math.isfinite(seconds) and _can_alarm():
            with _Deadline(index, seconds):
                yield
        else:
            yield
        return
    progress, base = _slot
    outer = progress[base], progress[base + 2], progress[base + 4]
    progress[base + 1], progress[base + 2], progress[base + 4], progress[base] = _serial, index, seconds, time.monotonic()
    try:
        yield
    finally:
        progress[base], progress[base + 2], progress[base + 4] = outer


def _can_alarm() -> bool:
    """Whether an alarm can interrupt this thread (the main thread, where `setitimer` exists)."""
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


def _take_alarm(handler: Callable[[int, Any], None], seconds: float) -> tuple[Any, float, float]:
    """The alarm taken over: `handler` called in `seconds`. What `_give_alarm_back` needs: the handler before,
    the seconds its alarm had left (0: none set), and when."""
    previous = signal.signal(signal.SIGALRM, handler)
    return previous, signal.setitimer(signal.ITIMER_REAL, seconds)[0], time.monotonic()


def _give_alarm_back(taken: tuple[Any, float, float]) -> None:
    """The alarm as it was before `_take_alarm` (a `computing` block's, a library caller's own): its handler,
    and its time for what is left of it (due meanwhile: at once, so that its handler runs)."""
    previous, left, then = taken
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)
    if left:
        signal.setitimer(signal.ITIMER_REAL, max(left - (time.monotonic() - then), 0.001))


class ComputationLate(BaseException):
    """Raised by a `computing` block's alarm in the command's own process (`workers=0`) at its limit; not an
    `Exception`, so that no `except Exception` of the computation takes it for a failure of its own."""

    def __init__(self, index: int, seconds: float):
        super().__init__(index, seconds)
        self.index, self.seconds = index, seconds


class _Deadline:
    """The alarm of a `computing` block in the command's own process. A `Budget` entered within (a read the
    computation makes) takes the alarm over for its read and gives back what is left of this one after, as
    this one gives back an alarm set before it."""

    def __init__(self, index: int, seconds: float):
        self.index, self.seconds = index, seconds
        self.ends = 0.0  # monotonic; 0: not armed
        self._taken: tuple[Any, float, float] = (None, 0.0, 0.0)

    def __enter__(self) -> None:
        self.ends = time.monotonic() + self.seconds
        self._taken = _take_alarm(self._on_alarm, self.seconds)

    def __exit__(self, *exc: object) -> None:
        self.ends = 0.0  # an alarm due now finds nothing to end
        _give_alarm_back(self._taken)

    def _on_alarm(self, signum: int, frame: object) -> None:
        if not self.ends:
            return
        left = self.ends - time.monotonic()
        if left > 0:  # early (a read's budget gave the alarm back with a rounded time)
            signal.setitimer(signal.ITIMER_REAL, left)
            return
        self.ends = 0.0
        raise ComputationLate(self.index, self.seconds)


class Budget:
    """The time budget of each file a task reads (layers 1 and 2); use as a context manager, and
    `with budget.file(index):` around the read of each file. An alarm already set when it is entered (a
    `computing` block's in the command's own process) is set again when it is left, for what is left of it."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self._taken: tuple[Any, float, float] = (None, 0.0, 0.0)  # the alarm before (`_take_alarm`)
        self._armed = bool(seconds) and _can_alarm()
        self._read = _FileRead()

    def __enter__(self) -> Budget:
        if self._armed:
            self._taken = _take_alarm(self._on_alarm, self.seconds)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._armed:
            _give_alarm_back(self._taken)

    def _on_alarm(self, signum: int, frame: object) -> None:
        """Interrupt a read past its budget; else wake again when the read in progress (or, between
        files, the next one) could be."""
        started = self._read.started
        late = time.monotonic() - started if started else 0.0
        if late >= self.seconds:
            self._read.started = 0.0
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
            raise ReadTimeout
        signal.setitimer(signal.ITIMER_REAL, max(self.seconds - late, 0.001))

    def file(self, index: int) -> _FileRead:
        """Bound the read of file `index` of the task: `ReadTimeout` when it takes too long."""
        self._read.index = index
        return self._read


# ----------------------------------------------------------------- scan side
class Ticket:
    """One submitted task; `value` is its result once `done`."""

    __slots__ = ("arg", "done", "files", "fn", "future", "serial", "value")

    def __init__(self, fn: Callable[[Any], Any], arg: Any, serial: int, files: int):
        self.fn, self.arg, self.serial, self.files = fn, arg, serial, files
        self.future: Future | None = None
        self.done = False
        self.value: Any = None


class _LocalWorkers:
    """A process pool whose workers report the file they read (layer 2), and can be replaced."""

    def __init__(self, workers: int, gc_young: int | None):
        self.workers, self.gc_young = workers, gc_young
        self.progress = multiprocessing.RawArray("d", _SLOT_FIELDS * workers)
        self.processes: dict[int, Any] = {}  # every worker started (kept: a broken executor forgets them)
        self.memory = worker_memory(workers)  # each worker's cap (`_cap_memory`)
        self.executor = ProcessPoolExecutor(workers, mp_context=_FORK, initializer=_init_worker,
                                            initargs=(self.progress, multiprocessing.Value("i", 0), gc_young,
                                                      self.memory))

    def marks(self, pids: set[int] | None = None) -> list[tuple[int, int, float, float]]:
        """(task serial, file index, started, limit) of each read or computation in progress (in the
        workers `pids` only, when given); limit 0: a read."""
        progress, found = self.progress, []
        for base in range(0, len(progress), _SLOT_FIELDS):
            started = progress[base]
            if started > 0 and (pids is None or int(progress[base + 3]) in pids):
                mark = (int(progress[base + 1]), int(progress[base + 2]), started, progress[base + 4])
                if progress[base] == started:  # else a read began or ended meanwhile: not stuck, nor a mix of two marks
                    found.append(mark)
        return found

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        """`executor.submit`; the first one forks the workers, with Ctrl-C held back (`_forking`)."""
        if self.executor._executor_manager_thread is not None:  # noqa: SLF001 - our own pool
            return self.executor.submit(fn, *args)
        with _forking():
            return self.executor.submit(fn, *args)

    def remember(self) -> None:
        """Keep the executor's worker processes (it starts them as tasks come, and forgets them once broken)."""
        self.processes.update(self.executor._processes or {})  # noqa: SLF001 - our own pool

    def dead(self) -> set[int]:
        """Pids of the workers that ended by themselves (a crash, the OOM killer), not those the
        executor terminated (SIGTERM) after one of them died."""
        self.remember()
        self._reap(2)  # the executor is terminating the others: their ends are told apart by signal
        return {pid for pid, process in self.processes.items()
                if process.exitcode is not None and process.exitcode != -signal.SIGTERM}

    def kill(self) -> None:
        """End every worker now. ProcessPoolExecutor has no public way to stop a running task."""
        self.remember()
        for process in self.processes.values():
            process.kill()
        manager = self.executor._executor_manager_thread  # noqa: SLF001 - our own pool
        self.executor.shutdown(wait=False, cancel_futures=True)
        self._reap(10, manager)

    def _reap(self, seconds: float, manager: threading.Thread | None = None) -> None:
        """Wait, `seconds` at most (a worker stuck in the kernel cannot be reaped), until every worker that
        ended is reaped. The executor's own thread reaps them too, after a death or a shutdown: one it
        reaped first reads as still running here until that thread has recorded its exit, so that
        thread is waited for first."""
        deadline = time.monotonic() + seconds
        manager = manager or self.executor._executor_manager_thread  # noqa: SLF001 - our own pool
        if manager is not None and manager is not threading.current_thread():
            manager.join(seconds)
        for process in self.processes.values():
            process.join(max(0.0, deadline - time.monotonic()))


class Pool:
    """The scan's executor: tasks in, tickets out, every file read bounded in time (see above).

    `executor=None, workers=0` runs tasks in this process; `executor=None` otherwise starts a local
    pool of `workers` processes (default: all cores), whose youngest garbage generation is collected
    every `gc_young` new objects (None: Python's default); any other executor is used as given.
    """

    def __init__(self, executor: Executor | None, workers: int | None, file_timeout: float, *,
                 gc_young: int | None = None):
        self.file_timeout = file_timeout
        self._executor = executor
        self._local = (_LocalWorkers(workers or os.cpu_count() or 1, gc_young)
                       if executor is None and workers != 0 else None)
        if self._local is not None:
            self._executor = self._local.executor
        self.width = self._local.workers if self._local else getattr(executor, "_max_workers", None) or os.cpu_count() or 1
        self._poll = min(1.0, file_timeout / 4)
        self._grace = min(5.0, file_timeout)
        self._live: set[Ticket] = set()
        self._serials = 0
        self._last_progress = self._watched = time.monotonic()
        self._suspected: dict[tuple[int, int], int] = {}  # (serial, file index) -> pools lost reading it
        self._pool_deaths = 0
        self._retries: dict[int, int] = {}  # serial -> times submitted again (`_take`)
        # in this process (`workers=0`): what each task may allocate, as a worker may (`worker_memory(1)`: the
        # command's process and one more share the machine, as one worker and the command would)
        self._memory = worker_memory(1) if self._executor is None else None

    @property
    def local(self) -> bool:
        """Whether tasks run in this machine's processes (which can read the catalog themselves)."""
        return self._local is not None or self._executor is None

    def submit(self, fn: Callable[[Any], Any], arg: Any, files: int = 0) -> Ticket:
        """Run `fn(arg)`. `files`: how many files it reads; then `arg.skip(indices, reason)` must give the
        task again, the files at `indices` (None: all) recorded as not read with `reason`. A task
        that reads no files (`files=0`) is never given up on."""
        self._serials += 1
        ticket = Ticket(fn, arg, self._serials, files)
        if self._executor is None:
            ticket.value, ticket.done = self._run_here(ticket), True
            return ticket
        self._live.add(ticket)
        try:
            ticket.future = self._submit(ticket)
        except BrokenProcessPool as exc:
            self._after_worker_died(exc)  # submits it, with every other unfinished task, to a fresh pool
        if self._local is not None and len(self._local.processes) < self._local.workers:
            self._local.remember()
        return ticket

    def wait(self, tickets: set[Ticket]) -> set[Ticket]:
        """Some finished tickets of `tickets` (at least one), waiting as long as that takes."""
        while True:
            finished = {ticket for ticket in tickets if ticket.done}
            if finished:
                return finished
            by_future = {ticket.future: ticket for ticket in tickets}
            done, _ = wait(by_future, timeout=self._poll, return_when=FIRST_COMPLETED)
            for future in done:
                ticket = by_future[future]
                if ticket.future is future:  # not submitted again meanwhile (a lost pool)
                    self._take(ticket)
            if not done or time.monotonic() - self._watched >= self._poll:  # other tasks finishing hide no stuck one
                self._watch()

    def results(self, fn: Callable[[Any], T], tasks: Iterable[Any], files: Callable[[Any], int]) -> Iterator[T]:
        """`fn(task)` of each task as they finish, at most 4 tasks per worker in flight (the tasks not
        yet submitted stay with the caller); `files(task)`: how many files it reads (see `submit`)."""
        pending = iter(tasks)
        in_flight: set[Ticket] = set()
        while True:
            while len(in_flight) < 4 * self.width and (task := next(pending, None)) is not None:
                in_flight.add(self.submit(fn, task, files(task)))
            if not in_flight:
                return
            finished = self.wait(in_flight)
            in_flight.difference_update(finished)
            for ticket in finished:
                yield ticket.value

    def _run_here(self, ticket: Ticket) -> Any:
        """A task in this process (`workers=0`), in the main thread under a worker's limits: its memory capped
        for the task alone, and an item whose computation outlived its limit given up as on a worker
        (`computation_reason`), the task run again without it. In another thread, neither: a memory limit
        is the whole process's (a concurrent one could not be given back in order) and no alarm reaches it."""
        global _here
        if threading.current_thread() is not threading.main_thread():
            return _run(ticket.fn, ticket.arg, ticket.serial)
        outer, _here = _here, True
        try:
            while True:
                try:
                    with _memory_capped_here(self._memory):
                        return _run(ticket.fn, ticket.arg, ticket.serial)
                except ComputationLate as late:
                    ticket.arg = ticket.arg.skip([late.index], computation_reason(late.seconds))
        finally:
            _here = outer

    def shutdown(self, *, kill: bool = False) -> None:
        """Stop the local pool: its idle workers, or (`kill`: a scan that did not finish) at once."""
        if self._local is None:
            return
        if kill:
            self._local.kill()
        else:
            self._local.executor.shutdown(cancel_futures=True)

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, error: type[BaseException] | None, *details: object) -> None:
        """Leaving a `with Pool(...)` block: its idle workers stopped when the work finished; when an
        exception leaves it (Ctrl-C, an error of the caller, a generator closed midway), its workers
        ended at once: the tasks in flight are no longer wanted, and are not waited for."""
        self.shutdown(kill=error is not None)

    def _take(self, ticket: Ticket) -> None:
        try:
            ticket.value, ticket.done = ticket.future.result(), True
        except BrokenProcessPool as exc:
            self._after_worker_died(exc)
            return
        except EmcensusError:
            raise  # a task's own verdict (a pack made by other code): running it again gives the same
        except MemoryError:
            # A local worker read the task within its cap (`_run` gives up a reading that is not) but could not
            # pickle what it read to send it back: a result near the cap needs as much again. Its files are not
            # read, for that limit (`scan --retry-unread` reads them once it is raised); the census goes on.
            if self._local is None or not ticket.files:
                raise
            self._give_up(ticket, None, f"needs {_more_memory(self._local.memory)} to send back what it read; "
                                        "not read")
            self._last_progress = time.monotonic()
            return
        except Exception:
            # On an executor given by the caller, a worker that dies can fail a task that is not at fault:
            # distributed's ClientExecutor then raises a TypeError of its own when the worker held a
            # result it had just finished. A task only reads: it is submitted again, a few times.
            if self._local is not None or self._retries.get(ticket.serial, 0) >= _MAX_TASK_RETRIES:
                raise
            self._retries[ticket.serial] = self._retries.get(ticket.serial, 0) + 1
            ticket.future = self._submit(ticket)
            return
        self._live.discard(ticket)
        self._last_progress = time.monotonic()

    def _after_worker_died(self, exc: BrokenProcessPool) -> None:
        """A local worker died and took the pool with it: the read or computation it was in is a suspect
        (not those of the workers the executor then terminated); one suspected twice is recorded as not
        read, and a fresh pool takes every unfinished task. Only deaths with nothing to blame count
        towards stopping: each suspect is given up after its second, so they end by themselves."""
        if self._local is None:
            raise EmcensusError(WORKER_DIED) from exc
        suspects = [(serial, index) for serial, index, _, _ in self._local.marks(pids=self._local.dead())]
        if not suspects:
            self._pool_deaths += 1
            if self._pool_deaths > _MAX_POOL_DEATHS:
                raise EmcensusError(WORKER_DIED) from exc
        culprits: dict[int, tuple[list[int], str]] = {}
        for suspect in suspects:
            self._suspected[suspect] = self._suspected.get(suspect, 0) + 1
            if self._suspected[suspect] >= 2:
                culprits.setdefault(suspect[0], ([], CRASH_REASON))[0].append(suspect[1])
        self._restart(culprits)

    def _watch(self) -> None:
        """Find a blocked read or computation and get past it (every poll, and when nothing finished)."""
        now = self._watched = time.monotonic()
        if any(ticket.future.done() for ticket in self._live):
            self._last_progress = now
        if self._local is not None:
            # every read or timed computation past its limit and grace whose task is still out (a slot
            # left marked by a finished task must not hide a stuck one)
            live = {ticket.serial for ticket in self._live}
            culprits: dict[int, tuple[list[int], str]] = {}
            for serial, index, started, limit in self._local.marks():
                if serial in live and now - started > (limit or self.file_timeout) + self._grace:
                    reason = computation_reason(limit) if limit else timeout_reason(self.file_timeout)
                    culprits.setdefault(serial, ([], reason))[0].append(index)
            if culprits:
                self._restart(culprits)
            return
        reads = [ticket for ticket in self._live if ticket.files]
        stall = self.file_timeout * max((ticket.files for ticket in reads), default=0) + _STALL_GRACE_S
        if reads and now - self._last_progress > stall:
            reason = f"{_STALL_START} {stall:g} s (a read blocked its workers); not read"
            for ticket in reads:
                if not ticket.future.done():
                    ticket.future.cancel()
                    self._give_up(ticket, None, reason)

    def _give_up(self, ticket: Ticket, indices: Iterable[int] | None, reason: str) -> None:
        """Record files of a task as not read (in this process: nothing is read)."""
        ticket.arg = ticket.arg.skip(indices, reason)
        if indices is None:
            ticket.value, ticket.done = _run(ticket.fn, ticket.arg, ticket.serial), True
            self._live.discard(ticket)

    def _restart(self, culprits: dict[int, tuple[list[int], str]]) -> None:
        """Kill the local pool and start a fresh one with every unfinished task, each task of
        `culprits` (serial -> (file indices, reason)) without those files, recorded as not read for its reason."""
        assert self._local is not None
        self._local.kill()
        self._local = _LocalWorkers(self._local.workers, self._local.gc_young)
        self._executor = self._local.executor
        unfinished = []
        for ticket in list(self._live):
            future = ticket.future
            if future is not None and future.done() and not future.cancelled() and future.exception() is None:
                self._take(ticket)
                continue
            if ticket.serial in culprits:
                indices, reason = culprits[ticket.serial]
                self._give_up(ticket, indices, reason)
            unfinished.append(ticket)
        self._last_progress = time.monotonic()
        for ticket in unfinished:
            try:
                ticket.future = self._submit(ticket)
            except BrokenProcessPool as exc:  # a task given already killed a worker of the fresh pool
                self._after_worker_died(exc)  # which gives every unfinished task to the next one
                return

    def _submit(self, ticket: Ticket) -> Future:
        submit = self._local.submit if self._local is not None else self._executor.submit
        return submit(_run, ticket.fn, ticket.arg, ticket.serial)


# ----------------------------------------------------------------- one child of its own
class ProducerFailed(EmcensusError):
    """A `Producer`'s process died or fell silent: the items of that input after those given are lost."""


_ITEM, _DONE, _RAISED = range(3)


def _produce(connection: Any, produce: Callable[[Any], Iterable[Any]], memory: int | None) -> None:
    """The producer's process: `produce(arg)` for each arg received, each item sent as it comes."""
    _ignore_interrupts()
    _cap_memory(memory)
    faulthandler.disable()  # a crash here is the caller's one line (`ProducerFailed`), not a dump of stacks
    while (arg := connection.recv()) is not None:
        try:
            for item in produce(arg):
                connection.send((_ITEM, item))
        except MemoryError:  # past its cap (`worker_memory`): that input's one line; the next is served
            connection.send((_RAISED, ProducerFailed(f"reading it needed {_more_memory(_memory_allowance)}; "
                                                     "the rest of it not read")))
        except Exception as exc:  # noqa: BLE001 - handed to the caller, which raises it
            try:
                connection.send((_RAISED, exc))
            except Exception:  # noqa: BLE001 - an error that cannot be pickled: its words
                connection.send((_RAISED, RuntimeError(f"{type(exc).__name__}: {exc}")))
        else:
            connection.send((_DONE, None))


class Producer:
    """`produce(arg)` run in one forked process of its own, its items streamed back in order: a crash
    there (a C library on a hostile input) or nothing sent for `timeout` seconds (a hang where no
    signal reaches) costs that input's remaining items alone, as `ProducerFailed`, and a fresh process
    takes the next input. One process serves input after input (a fork of a large process is not
    free). It waits on a full pipe while the caller is busy, so the caller's time between items is not
    counted against limits of the producer's own, and the wait for an item starts when the caller asks
    for it. Its memory is capped as a pool worker's is (`worker_memory`; the command's process and it
    share the machine). The process ignores Ctrl-C; `close` ends it."""

    def __init__(self, produce: Callable[[Any], Iterable[T]], timeout: float):
        self.produce, self.timeout = produce, timeout
        self.memory = worker_memory(1)
        self._process: Any = None
        self._connection: Any = None

    def items(self, arg: Any) -> Iterator[Any]:
        """The items of `produce(arg)`; what it raised is raised here, after the items before it."""
        if self._process is None or not self._process.is_alive():  # not started, or killed while idle
            self.close()
            self._start()
        finished = False
        try:
            with suppress(ConnectionError):  # it died since the check: its end is read below
                self._connection.send(arg)
            while True:
                if not self._connection.poll(self.timeout):
                    raise ProducerFailed(f"the process reading it gave nothing for {self.timeout:g} s (stuck?) and "
                                         "was ended; the rest of it not read")
                try:
                    kind, value = self._connection.recv()
                except (EOFError, ConnectionError):  # reset: it died before reading what was sent
                    self._process.join(5)
                    raise ProducerFailed(f"the process reading it died ({_how_it_ended(self._process.exitcode)}); "
                                         "the rest of it not read") from None
                if kind == _ITEM:
                    yield value
                    continue
                finished = True
                if kind == _RAISED:
                    raise value
                return
        finally:
            if not finished:  # died, silent, or the caller stopped midway: that process is out of step
                self.close()

    def close(self) -> None:
        """End the process (at once: it may be stuck; one stuck in the kernel, which no signal ends until
        its call returns, is waited for 10 s at most, as the pool's workers are)."""
        if self._process is not None:
            self._connection.close()
            self._process.kill()
            self._process.join(10)
            self._process = self._connection = None

    def _start(self) -> None:
        self._connection, theirs = _FORK.Pipe()
        self._process = _FORK.Process(target=_produce, args=(theirs, self.produce, self.memory), daemon=True)
        with _forking():
            self._process.start()
        theirs.close()


def _how_it_ended(exitcode: int | None) -> str:
    if exitcode is None:
        return "no exit status"
    if exitcode < 0:
        return signal.strsignal(-exitcode) or f"signal {-exitcode}"
    return f"exit status {exitcode}"


__all__ = ["CENSUS_GC_YOUNG", "FILE_TIMEOUT_S", "MEMORY_ENV", "Budget", "ComputationLate", "Pool",
           "LIMIT_REASONS", "Producer", "ProducerFailed", "ReadTimeout", "Ticket", "computation_reason", "memory_reason", "timeout_reason",
           "worker_memory"]
