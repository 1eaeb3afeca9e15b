"""The census scan: walk roots read-only, read changed acquisitions in a pool, commit as it goes.

The pool is any `concurrent.futures.Executor` (a local process pool by default; a Dask cluster via
`Client.get_executor()`), so the same scan runs on a laptop or a cluster. Every file read has a time
budget (`file_timeout`): a read that blocks is recorded as an error and the census goes on
(`scan.pool` says how, and where the bound is weaker).
"""

from __future__ import annotations

import gc
import hashlib
import json
import operator
import os
import pickle
import socket
import time
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Protocol

import orjson

from emcensus.catalog import ROW_LAYOUT, Catalog, FileResult, GroupResult, GroupRows, KnownFile, group_rows
from emcensus.catalog.connection import scan_lock
from emcensus.catalog.derived import RootSettings
from emcensus.catalog.paths import fs_path
from emcensus.errors import ConfigError, EmcensusError, UnreadableFileError
from emcensus.outputs import guard_output
from emcensus.readers import read_sidecar_only, read_source
from emcensus.readers.base import Source
from emcensus.record import Problem, reduce_by_fields
from emcensus.scan.pool import (CENSUS_GC_YOUNG, FILE_TIMEOUT_S, LIMIT_REASONS, MEMORY_ENV, Budget, Pool, ReadTimeout,
                                Ticket, memory_reason, timeout_reason)
from emcensus.scan.nesting import enclosing_roots, nested_roots, outside, registered_spelling
from emcensus.scan.walk import FileStat, Folder, Group, pair, walk
from emcensus.vocab import lookup_model


#: Acquisitions per reading task of a census (~90 ms of a worker's reading). Fewer, larger tasks: a
#: quarter of the tasks and results to pickle, send, wake the writer for and commit; and with four
#: tasks out per worker, ~0.3 s of reading queued for the workers while the writer runs one long
#: statement (the cubes' counts added every `CubeSums.MAX_KEYS`, ~0.2 s), through which both
#: workers sat idle at 128. 128 → 512 at 20 k images, alternated: CPU per
#: image file 216-224 → 189-201 µs (writer 74-79 → 63-68), peak RSS +7 MB.
BATCH_ACQUISITIONS = 512


@dataclass(frozen=True, slots=True)
class RootSpec:
    """A folder tree to census and what the facility knows about the instrument it came from."""

    path: str
    instrument: str | None = None
    vendor: str | None = None
    technique: str | None = None
    magnification_reference_m: float | None = None  # width magnification refers to (None: the default)
    layout: str | None = None  # folder pattern below the root, e.g. "{group}/{project}/**"

    __reduce__ = reduce_by_fields  # travels with every task


class ScanProgress(Protocol):
    def queued(self, files: int) -> None: ...

    def done(self, files: int, errors: int) -> None: ...


@dataclass
class ScanSummary:
    roots: list[str]
    seen: int = 0  # image files found on disk
    read: int = 0  # read this time (new or changed)
    skipped: int = 0  # unchanged since the last scan
    missing: int = 0  # catalogued before, gone now
    errors: int = 0  # files nothing could be read from
    limited: int = 0  # of those, files not read for a limit of the reading (`LIMIT_REASONS`)
    warnings: int = 0
    orphans: int = 0  # sidecars whose image is gone: acquisitions without an image file, counted apart
    seconds: float = 0.0
    complete: bool = False

    def paragraph(self) -> str:
        rate = self.read / self.seconds if self.seconds else 0.0
        text = (
            f"Scanned {len(self.roots)} root(s) in {self.seconds:.1f} s: {self.seen:,} image files on disk, "
            f"{self.read:,} read ({rate:,.0f} files/s), {self.skipped:,} unchanged since the last scan, "
            f"{self.missing:,} gone since then (kept as missing). {self.errors:,} unreadable, "
            f"{self.warnings:,} read with warnings. {self.orphans:,} acquisitions have only their sidecar left "
            "(orphan sidecars: read, not counted as images)."
        )
        if self.limited:
            text += (f" {self.limited:,} of the unreadable were not read for a limit of this run (memory cap, "
                     f"time budget, a worker that died): after raising it (${MEMORY_ENV}, --file-timeout), "
                     "`emcensus scan --retry-unread` reads them again.")
        if self.errors or self.warnings or self.orphans:
            text += " See `emcensus audit` for the lists."
        if not self.complete:
            text += " The scan did not finish: run it again to resume."
        return text


#: How `_pack` lays acquisitions out (`_plain_group`'s tuples): change it with them.
PACK_FORMAT = "[layout, *(key, [FileStat fields], sidecar's FileStat fields or None, sidecar_only)]"
SAME_CODE = "install the same emcensus on every Dask worker"


class ForeignCodeError(EmcensusError):
    """A scan's task reached a process running other emcensus code (a Dask worker installed apart)."""


def _this_install() -> tuple[str, str]:
    """This process's host and emcensus folder: what names an install to fix."""
    return socket.gethostname(), os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _foreign_code(install: tuple[str, ...] | None = None) -> ForeignCodeError:
    """Raised in the process a task of other code reached, or by the client of a survey made by other code:
    the other process's host and emcensus folder (`install`; this one's by default) name the install to fix."""
    install = _this_install() if install is None else install
    where = f" (on {install[0]}, {install[1]})" if len(install) == 2 else ""  # unknown to code from before
    return ForeignCodeError(f"a reading process runs other emcensus code than this one{where}: {SAME_CODE}")


@dataclass(frozen=True, slots=True)
class _Packed:
    """Acquisitions to read, pickled where the walk found them: the scan's process hands them from a
    survey to a reading task as they are (unpickling and pickling them again cost it ~11 µs a file).
    Pickled as plain tuples (`_plain_group`), which pickle in C: a `Group` and its `FileStat`s each
    cost a Python call to pickle (2.8 -> 1.0 µs a file in the surveys; unpickled and made again 1.7 -> 2.0)."""

    groups: bytes  # a pickled list: `TASK_LAYOUT`, then `_plain_group`s
    acquisitions: int
    images: int  # image files (orphan sidecars apart), as the progress counts them
    files: int

    __reduce__ = reduce_by_fields


def _pack(groups: list[Group], size: int) -> list[_Packed]:
    """`groups` in packs of `size` acquisitions, in key order: consecutive reads write neighbouring
    rows (a big folder read in its listing's order spread each batch's rows over the folder's whole
    range of the path index: every commit rewrote its pages; WAL bytes a row -8 % at 20 k images in
    few huge folders, more in bigger ones)."""
    groups = sorted(groups, key=_by_key)
    return [_Packed(pickle.dumps([TASK_LAYOUT, *map(_plain_group, part)], pickle.HIGHEST_PROTOCOL), len(part),
                    sum(len(group.images) for group in part if not group.sidecar_only),
                    sum(len(group.images) for group in part))
            for part in (groups[start:start + size] for start in range(0, len(groups), size))]


_by_key = operator.attrgetter("key")


def _plain_group(group: Group) -> tuple:
    """A `Group` as tuples of built-in types (`_group` makes it again)."""
    sidecar = group.sidecar
    return (group.key, [tuple(image) for image in group.images], sidecar and tuple(sidecar), group.sidecar_only)


def _group(key: str, images: list[tuple], sidecar: tuple | None, sidecar_only: bool) -> Group:
    return Group(key, [FileStat._make(image) for image in images], sidecar and FileStat._make(sidecar), sidecar_only)


def _unpacked(pack: _Packed) -> list[tuple]:
    """A pack's `_plain_group`s, once its layout is this code's."""
    layout, *plain = pickle.loads(pack.groups)
    if layout != TASK_LAYOUT:
        raise _foreign_code()
    return plain


@dataclass(frozen=True, slots=True)
class _Task:
    """Packs of acquisitions to read, and to turn into the rows of root `root_id` in scan `scan_id`
    (with the root's `settings` as the catalog holds them); `not_read`: files not to touch (path →
    why), after a timeout."""

    root: RootSpec
    root_path: str
    packs: list[_Packed]
    scan_id: int
    root_id: int
    settings: RootSettings
    file_timeout: float = FILE_TIMEOUT_S
    not_read: dict[str, str] = field(default_factory=dict)

    __reduce__ = reduce_by_fields

    @property
    def groups(self) -> list[Group]:
        return [_group(*plain) for pack in self.packs for plain in _unpacked(pack)]

    @property
    def files(self) -> list[str]:
        return [image.path for group in self.groups for image in group.images]

    @property
    def file_count(self) -> int:
        """How many files the task reads (without unpacking them)."""
        return sum(pack.files for pack in self.packs)

    def skip(self, indices: Iterable[int] | None, reason: str) -> _Task:
        """This task again, with its files at `indices` (None: all of them) recorded as not read."""
        files = self.files
        chosen = files if indices is None else [files[i] for i in indices]
        return replace(self, not_read={**self.not_read, **dict.fromkeys(chosen, reason)})


def read_groups(task: _Task) -> GroupRows:
    """Read a batch of acquisitions into the catalog rows that store them (runs in a worker, so the
    writer only runs SQL): never raises, every failure is recorded."""
    with Budget(task.file_timeout) as budget:
        results, index = [], 0
        for group in task.groups:
            results.append(_read_group(task, group, budget, index))
            index += len(group.images)
    return group_rows(task.settings, task.scan_id, task.root_id, results)


def _read_group(task: _Task, group: Group, budget: Budget, first: int) -> GroupResult:
    """One acquisition's files; file `first + i` of the task is `group.images[i]`."""
    root = task.root
    below_root = len(os.path.join(task.root_path, ""))
    problems: list[Problem] = []
    results = []
    sidecar = group.sidecar
    sidecar_text = None  # read once for all the files of the frame (tif + jpg + bmp)
    for index, image in enumerate(group.images, first):
        record, error, metadata_json = None, task.not_read.get(image.path), None
        settings = {"instrument": root.instrument, "instrument_technique": root.technique, "problems": problems,
                    "mtime": image.mtime_ns / 1e9}
        try:
            if error is None:
                with budget.file(index):
                    if group.sidecar_only:
                        record = read_sidecar_only(image.path, **settings)
                    else:
                        with Source(image.path, sidecar.path if sidecar else None, sidecar_text=sidecar_text) as source:
                            record = read_source(source, **settings)
                            sidecar_text = source.loaded_sidecar_text
                    if root.vendor and record.vendor is None:
                        record.vendor = root.vendor
                    # The vendor tree travels back as JSON text: a fraction of the cost of pickling the dict.
                    metadata_json = metadata_text(record.original_metadata)
                    record.original_metadata = {}
        except ReadTimeout:
            record, error = None, timeout_reason(task.file_timeout)
        except UnreadableFileError as exc:
            error = str(exc)
        except MemoryError:  # past this process's cap outside a reader (its metadata's text): a limit, read again
            record, error = None, memory_reason()  # by `--retry-unread`, not an internal error
        except Exception as exc:  # noqa: BLE001 - a reader bug must not stop a census of 150k files
            error = f"internal error ({type(exc).__name__}: {exc}); please report it"
        if error:
            problems.append(Problem(image.path, error))
        results.append(
            FileResult(image.path, image.path[below_root:], image.size, image.mtime_ns, record, error, metadata_json)
        )
    return GroupResult(
        group.key,
        results,
        sidecar.path if sidecar else None,
        sidecar.size if sidecar else None,
        sidecar.mtime_ns if sidecar else None,
        problems,
        group.sidecar_only,
    )


#: orjson hands these to `_plain` (as `json.dumps(default=str)` sees them) instead of its own forms.
_PASSTHROUGH = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS


def _plain(value: object) -> object:
    """What `json.dumps(default=str)` writes for a value orjson does not take as it is."""
    for kind in (float, int, str, dict, list):  # subclasses (numpy.float64, IntEnum): as their base
        if isinstance(value, kind):
            return kind(value)
    return str(value)


def metadata_text(metadata: dict) -> str:
    """A vendor tree as JSON text, with the values `json.dumps(ensure_ascii=False, default=str)`
    gives, in a fifth of its time (orjson); what orjson refuses (integers beyond 64 bits, lone
    surrogates, keys that are not text) goes through json. NaN and infinities become null."""
    try:
        return orjson.dumps(metadata, default=_plain, option=_PASSTHROUGH).decode()
    except orjson.JSONEncodeError:
        return json.dumps(metadata, ensure_ascii=False, default=str)


def _unchanged(group: Group, known: dict, present_by_key: dict[str, set[str]]) -> bool:
    sidecar = group.sidecar
    for image in group.images:
        row = known.get(image.path)
        if row is None:
            return False
        size, mtime, sidecar_path, sidecar_size, sidecar_mtime, status, _ = row
        if status != "present" or size != image.size or mtime != image.mtime_ns:
            return False
        if (sidecar_path, sidecar_size, sidecar_mtime) != (
            (sidecar.path, sidecar.size, sidecar.mtime_ns) if sidecar else (None, None, None)
        ):
            return False
    return present_by_key.get(group.key, set()) == {image.path for image in group.images}


def scan(
    catalog: Catalog,
    roots: Sequence[RootSpec],
    *,
    executor: Executor | None = None,
    workers: int | None = None,
    progress: ScanProgress | None = None,
    batch_size: int = BATCH_ACQUISITIONS,
    file_timeout: float = FILE_TIMEOUT_S,
    retry_unread: bool = False,
) -> ScanSummary:
    """Census `roots` into `catalog`: new and changed files are read, unchanged ones skipped,
    vanished ones marked missing (only after a complete walk). Safe to interrupt and re-run.

    `workers=0` reads in this process (debugging); otherwise a process pool of `workers` (default:
    all cores) is used unless an `executor` is given. A file whose read takes longer than
    `file_timeout` seconds is recorded as not read (see `scan.pool`). `retry_unread`: the files not
    read for a limit of the reading (`LIMIT_REASONS`: its memory cap, its time budget, a worker that
    died) are read again, unchanged as they are; a damaged or unsupported file is not.
    """
    if not file_timeout > 0:
        raise ConfigError(f"the time a file may take to read must be a positive number of seconds, not {file_timeout}")
    started = time.perf_counter()
    specs, gone = _with_nested(catalog, _checked_roots(catalog, roots))
    summary = ScanSummary(roots=[spec.path for spec in specs])
    with scan_lock(catalog.path, [spec.path for spec in specs]):  # a second scan of the same catalog is refused, not interleaved
        scan_id = catalog.begin_scan([spec.path for spec in specs])
        status = "interrupted"
        try:
            # an interrupted scan does not wait for the reads in flight (the pool's exit ends its workers)
            with Pool(executor, workers, file_timeout, gc_young=CENSUS_GC_YOUNG) as pool, \
                    _young_generation(CENSUS_GC_YOUNG):
                _scan_roots(catalog, scan_id, specs, pool, progress, batch_size, summary, retry_unread)
            summary.missing += _close_gone(catalog, scan_id, gone)
            status = "complete"
            summary.complete = True
        finally:
            summary.seconds = time.perf_counter() - started
            catalog.finish_scan(scan_id, status, vars(summary))
    return summary


@contextmanager
def _young_generation(objects: int) -> Iterator[None]:
    """This process's youngest generation collected every `objects` new objects, as in its reading
    processes (`CENSUS_GC_YOUNG`): the writer unpickles thousands of rows a batch and keeps none
    (unpickling and writing 209 -> 206 k instructions a file); Python's thresholds come back after."""
    before = gc.get_threshold()
    gc.set_threshold(objects, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _checked_roots(catalog: Catalog, roots: Sequence[RootSpec]) -> list[RootSpec]:
    """The roots checked, each spelled as the registered root (or one given before it) that holds
    its folder spells it (`scan.nesting`): one folder, one path in the catalog."""
    registered = _registered(catalog)
    specs: list[RootSpec] = []
    for root in roots:
        spec = _checked_root(catalog, root)
        specs.append(replace(spec, path=registered_spelling(spec.path, [*registered, *(s.path for s in specs)])))
    return specs


def _with_nested(catalog: Catalog, specs: list[RootSpec]) -> tuple[list[RootSpec], list[str]]:
    """Scanning a root covers its whole tree: `specs` and the registered roots nested in them, each
    walked as its own root with its stored settings (one command naming the outer root, or both,
    gives the same catalog); apart, the nested roots whose folder is gone (`_close_gone`)."""
    registered = _registered(catalog)
    given = {spec.path for spec in specs}
    inner = sorted(path for path in registered
                   if path not in given and any(enclosing_roots(path, [spec.path]) for spec in specs))
    return [*specs, *(RootSpec(path) for path in inner if os.path.isdir(path))], \
        [path for path in inner if not os.path.isdir(path)]


def _close_gone(catalog: Catalog, scan_id: int, gone: Iterable[str]) -> int:
    """After the complete walk of their enclosing roots, the nested roots whose folder is gone: a
    deletion (the enclosing root is there, not an unmounted share), so every file they hold, and
    what their enclosing roots still hold under them, is marked missing; returns how many."""
    registered, missing = _registered(catalog), 0
    for path in gone:
        root_id = registered[path]
        missing += catalog.mark_missing(scan_id, [file for file, row in catalog.known_files(root_id).items()
                                                  if row[5] == "present"])
        missing += catalog.take_over(scan_id, root_id, path, _holders(path, registered),
                                     nested_roots(path, registered))
        catalog.replace_walk_state(scan_id, root_id, [])
        catalog.store_folder_fingerprints(scan_id, root_id, path, {})  # none vouches for a folder gone
    return missing


def _registered(catalog: Catalog) -> dict[str, int]:
    """The roots the catalog knows: path -> id."""
    return {fs_path(root["path"]): root["id"] for root in catalog.roots()}


def _read_as_held(catalog: Catalog, specs: Iterable[tuple[RootSpec, int]]) -> list[tuple[RootSpec, int]]:
    """Each registered root's spec with the instrument, vendor and technique the catalog holds for it
    (a setting not given keeps its stored value, `Catalog.ensure_root`): its files are read with them,
    as its rows are derived from them, whether or not this command named them."""
    held = {root["id"]: root for root in catalog.roots()}
    return [(replace(spec, instrument=held[root_id]["instrument"], vendor=held[root_id]["vendor"],
                     technique=held[root_id]["technique"]), root_id) for spec, root_id in specs]


def _holders(root: str, registered: Mapping[str, int]) -> list[int]:
    """The ids of the registered roots that enclose `root`."""
    return [registered[path] for path in enclosing_roots(root, registered)]


def _checked_root(catalog: Catalog, root: RootSpec) -> RootSpec:
    path = os.path.abspath(root.path)
    if not os.path.isdir(path):
        raise ConfigError(f"scan root {root.path} is not a folder")
    guard_output(catalog.path, [path], what="catalog")  # the guard of every output, on resolved paths
    known = lookup_model(root.instrument)
    vendor = root.vendor or (known.vendor if known else None)
    technique = root.technique.upper() if root.technique else (known.technique if known else None)
    return RootSpec(path, root.instrument, vendor, technique, root.magnification_reference_m, root.layout)


@dataclass(frozen=True, slots=True)
class _Survey:
    """One top-level folder of a root to walk and compare with what the catalog knows of it.

    `known`, `fingerprints` and `present` travel with the task, or (local workers) each worker reads
    its part of the catalog: loading and pickling the state of a whole archive in one process would
    cost more than the walk. `boundary` is the root; `nested`: the roots inside it, not walked.
    """

    folder: str
    boundary: str
    pack_size: int  # acquisitions per pack of `_SurveyResult.packs`
    known: dict[str, KnownFile] | None = None
    fingerprints: dict[str, bytes] | None = None
    present: tuple[int, int] | None = None  # `Catalog.present_files` of the folder
    catalog: str | None = None
    root_id: int | None = None
    nested: frozenset[str] = frozenset()
    reread: bool = False  # every file read again (`Catalog.reads_again`), whatever the catalog holds
    retry: frozenset[str] = frozenset()  # files under `folder` to read again unchanged (`scan(retry_unread=True)`)

    __reduce__ = reduce_by_fields


@dataclass(slots=True)
class _SurveyResult:
    changed: list[Group] = field(default_factory=list)  # new or changed acquisitions, to read
    packs: list[_Packed] = field(default_factory=list)  # `changed`, packed by `survey` for the trip
    seen: int = 0
    skipped: int = 0
    gone: list[str] = field(default_factory=list)  # catalogued as present, not on disk now
    orphans: int = 0  # sidecars whose image is gone (in `changed` when new or changed)
    problems: list[Problem] = field(default_factory=list)
    fingerprints: dict[str, bytes] = field(default_factory=dict)  # of every folder walked
    compared: bool = False  # some folder's fingerprint differed: the catalog's were stale
    #: Folders found as stored and never paired: the walk problems stored for their entries still
    #: hold (and those of `unpaired_subfolders` are the subfolders' own: listed again, not kept).
    unpaired: list[str] = field(default_factory=list)
    unpaired_subfolders: list[str] = field(default_factory=list)
    #: `TASK_LAYOUT`, host and emcensus folder of the process that surveyed: it reads the packs it made
    #: itself, so a Dask cluster all of other code is refused by the client here (empty: code from before).
    made_by: tuple[str, ...] = ()

    __reduce__ = reduce_by_fields


#: What the process that reads a pack must share with the one that packed it: the packs' format, the
#: walk's file fields, the catalog rows' column order, and the fields of every dataclass a task or its
#: result crosses with (pickled by position: `reduce_by_fields`, slots: a field moved would be read as
#: another). Each pack starts with it; a reading process of other emcensus code (a Dask worker installed
#: apart from the client) refuses the task in one line, not in the middle of it. Names only: the same
#: emcensus in another folder or on another Python has the same (a test checks).
TASK_LAYOUT = hashlib.sha256(repr((PACK_FORMAT, FileStat._fields, ROW_LAYOUT, *(
    tuple(cls.__dataclass_fields__)  # type: ignore[attr-defined]
    for cls in (_Packed, _Task, RootSpec, RootSettings, GroupRows, _Survey, _SurveyResult, Problem)))).encode()).hexdigest()[:16]


def survey(task: _Survey) -> _SurveyResult:
    """Walk one part of a root and compare it with the catalog (runs in a worker): the walk of a
    big archive is spread over the pool like the reading is. What changed comes back packed."""
    result = _SurveyResult(made_by=(TASK_LAYOUT, *_this_install()))
    retry = task.retry
    if task.catalog is None:
        _survey(task, {} if task.reread else _compared(task.fingerprints or {}, retry), lambda: task.present or (0, 0),
                lambda: forgotten(task.known or {}, retry), result)
    else:
        with Catalog(task.catalog, readonly=True) as catalog:
            _survey(task, {} if task.reread else
                    _compared(catalog.folder_fingerprints(task.root_id, task.boundary, task.folder), retry),
                    lambda: _present(catalog, task.folder, task.nested),
                    lambda: forgotten(catalog.known_files(task.root_id, task.folder), retry),
                    result)
    result.packs, result.changed = _pack(result.changed, task.pack_size), []
    return result


def _survey(task: _Survey, stored: dict[str, bytes], count_present: Callable[[], tuple[int, int]],
            load_known: Callable[[], dict[str, KnownFile]], result: _SurveyResult) -> None:
    """Walk a survey's folders. When each has its stored fingerprint and every stored one was
    walked, the catalog holds exactly their files: they are counted there, and nothing is paired,
    read or compared (the whole per-file cost of a rescan that finds nothing changed)."""
    folders = list(walk(task.folder, result.problems, boundary=task.boundary, stored=stored, nested=task.nested))
    if folders and len(folders) == len(stored) and all(folder.unpaired is not None for folder in folders):
        result.fingerprints.update((folder.path, folder.fingerprint) for folder in folders)
        result.seen, result.orphans = count_present()
        result.skipped = result.seen
        result.unpaired = [folder.path for folder in folders]
        result.unpaired_subfolders = [sub for folder in folders for sub in folder.subfolders]
        return
    for folder in folders:
        pair(folder, result.problems)
    _compare_changed(folders, stored, load_known, result, task.reread)


def _compared(stored: dict[str, bytes], retry: Collection[str]) -> dict[str, bytes]:
    """Stored fingerprints less those of the folders that hold a file to read again: those are compared."""
    folders = {os.path.dirname(path) for path in retry}
    return {folder: digest for folder, digest in stored.items() if folder not in folders} if folders else stored


def forgotten(known: dict[str, KnownFile], retry: Collection[str]) -> dict[str, KnownFile]:
    """What the catalog holds of some folders, less the files to read again: the compare takes their
    acquisitions as new, and they are read (their rows keep their history: a write is by path)."""
    for path in retry:
        known.pop(path, None)
    return known


def _present(catalog: Catalog, folder: str, nested: frozenset[str]) -> tuple[int, int]:
    """`Catalog.present_files` of a folder, less what the roots nested in it hold (their own walks count it)."""
    files, orphans = catalog.present_files(folder)
    for inner in nested:
        if inner.startswith(os.path.join(folder, "")):
            inner_files, inner_orphans = catalog.present_files(inner)
            files, orphans = files - inner_files, orphans - inner_orphans
    return files, orphans


def _compare_changed(folders: list[Folder], stored: dict[str, bytes], load_known: Callable[[], dict[str, KnownFile]],
                     result: _SurveyResult, reread: bool = False) -> None:
    """Compare the folders of one part of a root with the catalog, file by file only in those whose
    fingerprint changed. When every folder walked has its stored fingerprint and every stored one
    was walked, the catalog holds exactly these files: nothing is read from it, nothing is gone.
    `reread`: every file found is read again (with `stored` empty: every folder compared)."""
    result.fingerprints.update((folder.path, folder.fingerprint) for folder in folders)
    unchanged = {folder.path for folder in folders if stored.get(folder.path) == folder.fingerprint}
    if folders and len(unchanged) == len(folders) == len(stored):
        for folder in folders:
            _count_unchanged(folder, result)
        return
    result.compared = True  # an unlisted top or a stored folder not walked: compared, and its files gone
    _compare(folders, load_known(), result, unchanged, reread)


def _count_unchanged(folder: Folder, result: _SurveyResult) -> None:
    result.orphans += len(folder.orphans)
    images = sum(len(group.images) for group in folder.groups)
    result.seen += images
    result.skipped += images


def _compare(folders: Iterable[Folder], known: dict[str, KnownFile], result: _SurveyResult,
             unchanged_folders: Collection[str] = (), reread: bool = False) -> None:
    """New and changed acquisitions and files gone, against what the catalog holds of these folders;
    `unchanged_folders` (their fingerprints matched) are counted as unchanged without a look;
    `reread`: every acquisition is taken as changed."""
    present_by_key: dict[str, set[str]] = {}
    for path, row in known.items():
        if row[5] == "present":
            present_by_key.setdefault(row[6], set()).add(path)
    seen: set[str] = set()
    for folder in folders:
        if folder.path in unchanged_folders:
            seen.update(image.path for group in (*folder.groups, *folder.orphans) for image in group.images)
            _count_unchanged(folder, result)
            continue
        result.orphans += len(folder.orphans)
        for group in (*folder.groups, *folder.orphans):
            seen.update(image.path for image in group.images)
            unchanged = not reread and _unchanged(group, known, present_by_key)
            if not group.sidecar_only:
                result.seen += len(group.images)
                result.skipped += len(group.images) if unchanged else 0
            if not unchanged:
                result.changed.append(group)
    result.gone.extend(path for path, row in known.items() if row[5] == "present" and path not in seen)


def _ensure_root(catalog: Catalog, root: RootSpec) -> int:
    """The catalog's id of `root`, its settings recorded as given."""
    return catalog.ensure_root(root.path, root.instrument, root.vendor, root.technique,
                               magnification_reference_m=root.magnification_reference_m, layout=root.layout)


@dataclass(slots=True)
class _RootWalk:
    """One root of a scan: what its walk found so far, and the acquisitions waiting for a read task."""

    spec: RootSpec
    root_id: int
    nested: frozenset[str]  # registered roots inside it: walked as their own, never marked missing by this one
    holders: list[int]  # registered roots around it: what they still hold under it is its own (`take_over`)
    found: _SurveyResult = field(default_factory=_SurveyResult)
    waiting: list[_Packed] = field(default_factory=list)

    def add(self, part: _SurveyResult, summary: ScanSummary) -> None:
        """Take in a survey's result (its changed acquisitions are batched by the caller)."""
        summary.seen += part.seen
        summary.skipped += part.skipped
        summary.orphans += part.orphans
        self.found.gone.extend(part.gone)
        self.found.problems.extend(part.problems)
        self.found.fingerprints.update(part.fingerprints)
        self.found.compared = self.found.compared or part.compared
        self.found.unpaired.extend(part.unpaired)
        self.found.unpaired_subfolders.extend(part.unpaired_subfolders)

    def walk_problems(self, catalog: Catalog) -> list[Problem]:
        """The root's folder-level problems as of this walk: found now, and those stored for the
        entries of folders found unchanged and never paired."""
        found = self.found
        if not found.unpaired:
            return found.problems
        unpaired, relisted = set(found.unpaired), set(found.unpaired_subfolders)
        return [*found.problems, *(problem for problem in catalog.walk_problems(self.root_id)
                                   if os.path.dirname(problem.path) in unpaired and problem.path not in relisted)]


def _start_root(catalog: Catalog, root: RootSpec, root_id: int, registered: Mapping[str, int], pool: Pool,
                pack_size: int, reread: bool, retry: Collection[str]) -> tuple[_RootWalk, list[_Survey], _SurveyResult]:
    """List a root's top folder in this process: the root, the surveys of its subfolders, and what
    the top folder itself holds (its files, and the files of top-level folders gone since);
    `reread`: every file of the root is read again; `retry`: these files are, and their folders compared."""
    nested = nested_roots(root.path, registered)
    walked = _SurveyResult()
    top = list(walk(root.path, walked.problems, recurse=False, nested=nested))
    stored = {} if reread else _compared(catalog.folder_fingerprints(root_id, root.path, root.path, alone=True), retry)
    _compare_changed(top, stored,
                     lambda: forgotten(catalog.known_files(root_id, root.path, direct=True), retry), walked, reread)
    subfolders = [folder for listed in top for folder in listed.subfolders]
    below = os.path.join(root.path, "")
    by_top: dict[str, set[str]] = {}  # the files to read again by the top-level folder that holds them: one pass
    for path in retry:
        name, sep, _ = path[len(below):].partition(os.sep)
        if sep and path.startswith(below):
            by_top.setdefault(below + name, set()).add(path)

    def retried(folder: str) -> frozenset[str]:
        return frozenset(by_top.get(folder, ()))

    if pool.local:
        surveys = [_Survey(folder, root.path, pack_size, catalog=os.path.abspath(catalog.path), root_id=root_id,
                           nested=nested, reread=reread, retry=retried(folder)) for folder in subfolders]
    else:
        surveys = [_Survey(folder, root.path, pack_size, catalog.known_files(root_id, folder),
                           catalog.folder_fingerprints(root_id, root.path, folder), _present(catalog, folder, nested),
                           nested=nested, reread=reread, retry=retried(folder))
                   for folder in subfolders]
    if walked.compared:  # the root's listing changed: a top-level folder may be gone, with all it held
        for name in catalog.known_folders(root_id) - {os.path.basename(folder) for folder in subfolders}:
            gone_folder = catalog.known_files(root_id, os.path.join(root.path, name))
            walked.gone.extend(path for path, row in gone_folder.items() if row[5] == "present")
    return _RootWalk(root, root_id, nested, _holders(root.path, registered)), surveys, walked


def _scan_roots(
    catalog: Catalog,
    scan_id: int,
    roots: Sequence[RootSpec],
    pool: Pool,
    progress: ScanProgress | None,
    batch_size: int,
    summary: ScanSummary,
    retry_unread: bool = False,
) -> None:
    """Walk and read every root through one queue of tasks: the pool stays busy across the end of
    one root and the start of the next (with few, uneven top-level folders, a root's last survey
    would otherwise run alone). Each root is closed (files gone marked missing, its walk problems,
    its fingerprints) once all of it was walked and written. Every root is registered before any is
    walked: a root's walk leaves out the roots nested in it (`scan.nesting`)."""
    firsts: dict[str, tuple[RootSpec, int]] = {}
    for spec in roots:  # a root named twice: its settings recorded, its files walked and read once
        firsts.setdefault(spec.path, (spec, _ensure_root(catalog, spec)))
    registered = _registered(catalog)
    started = [_start_root(catalog, spec, root_id, registered, pool, batch_size, reread=catalog.reads_again(root_id),
                           retry=catalog.unread_for_limits(root_id, LIMIT_REASONS) if retry_unread else ())
               for spec, root_id in _read_as_held(catalog, firsts.values())]
    in_flight: set[Ticket] = set()  # reading tasks out
    max_in_flight = 4 * pool.width
    ready: deque[_Task] = deque()  # reading tasks made, waiting for room in the pool
    surveys: deque[tuple[_RootWalk, _Survey]] = deque((root, one) for root, parts, _ in started for one in parts)
    surveying: dict[Ticket, _RootWalk] = {}

    def collect(tickets: Iterable[Ticket]) -> None:
        """Write the results of every finished task, one transaction per root: the more the
        reading is ahead of the writing, the fewer commits."""
        by_root: dict[int, GroupRows] = {}
        for ticket in tickets:
            in_flight.discard(ticket)
            rows = ticket.value
            if rows.root_id in by_root:
                by_root[rows.root_id].extend(rows)
            else:
                by_root[rows.root_id] = rows
        for rows in by_root.values():
            catalog.write_rows(rows)
            _tally(rows, summary, progress)

    def make_task(root: _RootWalk) -> None:
        task = _Task(root.spec, root.spec.path, root.waiting, scan_id, root.root_id, catalog.root_settings(root.root_id),
                     pool.file_timeout)
        root.waiting = []
        if progress:  # image files, as `_tally` counts them done
            progress.queued(sum(pack.images for pack in task.packs))
        ready.append(task)

    def take(root: _RootWalk, part: _SurveyResult) -> None:
        """A survey's result: its changed acquisitions batched into reading tasks."""
        root.add(part, summary)
        packs = [*part.packs, *_pack(part.changed, batch_size)]  # changed: found in this process (top folders)
        bulk.surveyed(root.root_id, sum(pack.files for pack in packs))
        for pack in packs:
            root.waiting.append(pack)
            if sum(waiting.acquisitions for waiting in root.waiting) >= batch_size:
                make_task(root)

    # One loop waits for surveys and reads alike: while a big folder is walked, the reads found so
    # far keep being written and new ones sent (waiting on the survey alone let the other workers
    # run out of reads). Surveys go out `width` at a time while fewer reading tasks wait than four
    # times those in flight (16 a worker, each `batch_size` acquisitions pickled: ~2.4 MB a worker
    # at 512, ~300 bytes an acquisition), so the walk keeps ahead of the reading with memory flat
    # (plus what the `width` surveys out find: each a top-level folder's whole tree).
    # Many rows for the catalog's size go in without per-row index upkeep (the catalog is whole
    # again once every read is written, or on an interrupt).
    with catalog.bulk_load({root.root_id: len(parts) + 1 for root, parts, _ in started}) as bulk:
        for root, _, top in started:
            take(root, top)
        while True:
            if not surveys and not surveying:  # the walk is over: what waits for a full batch goes now
                for root, _, _ in started:
                    if root.waiting:
                        make_task(root)
            while ready and len(in_flight) < max_in_flight:
                task = ready.popleft()
                in_flight.add(pool.submit(read_groups, task, task.file_count))
            while surveys and len(surveying) < pool.width and len(ready) < 4 * max_in_flight:
                root, one = surveys.popleft()
                surveying[pool.submit(survey, one)] = root
            if not in_flight and not surveying:
                break
            finished = _waited(pool, in_flight | surveying.keys())
            collect([ticket for ticket in finished if ticket in in_flight])
            for ticket in finished:
                if ticket in surveying:
                    take(surveying.pop(ticket), _of_this_code(ticket.value))

    for root, _, _ in started:
        found, problems = root.found, root.walk_problems(catalog)
        summary.missing += catalog.mark_missing(scan_id, outside(found.gone, root.nested))
        summary.missing += catalog.take_over(scan_id, root.root_id, root.spec.path, root.holders, root.nested)
        catalog.replace_walk_state(scan_id, root.root_id, problems)
        if found.compared:  # every file is now catalogued as walked: the fingerprints vouch for the next scan
            catalog.store_folder_fingerprints(scan_id, root.root_id, root.spec.path, found.fingerprints)
        summary.errors += sum(1 for p in problems if p.severity == "error")
        summary.warnings += sum(1 for p in problems if p.severity == "warning")


def _waited(pool: Pool, tickets: set[Ticket]) -> set[Ticket]:
    """`pool.wait(tickets)`; on an executor given by the caller (Dask), a task that failed is told in
    one line: surveys and reads never raise on a file (each failure is recorded), so a task that
    raised met a process whose code or packages differ from this one's (one older than the packs'
    `TASK_LAYOUT` fails on them without knowing why), unless distributed raised it (the cluster's
    own failure: a task whose workers all died, the scheduler gone)."""
    try:
        return pool.wait(tickets)
    except EmcensusError:
        raise
    except Exception as exc:
        if pool.local:
            raise
        failure = f"({type(exc).__name__}: {' '.join(str(exc).split())})"
        if type(exc).__module__.partition(".")[0] == "distributed":
            raise EmcensusError(f"the Dask cluster failed a task {failure}: its scheduler's and workers' logs "
                                "say why") from exc
        raise ForeignCodeError(f"a reading process failed a task {failure}: "
                               f"its emcensus or packages differ from this one's? {SAME_CODE}") from exc


def _of_this_code(result: _SurveyResult) -> _SurveyResult:
    """A survey's result, once the process that made it runs this code (on Dask, where a worker of
    other code would read the packs it made without ever meeting this code's check)."""
    if result.made_by[:1] != (TASK_LAYOUT,):
        raise _foreign_code(result.made_by[1:])
    return result


def _tally(rows: GroupRows, summary: ScanSummary, progress: ScanProgress | None) -> None:
    summary.read += rows.files  # image files; orphans are tallied by the walk
    summary.errors += rows.errors
    summary.limited += sum(1 for reason in rows.reasons() if reason.startswith(LIMIT_REASONS))
    summary.warnings += rows.warnings
    if progress:
        progress.done(rows.files, rows.errors)


# ---------------------------------------------------------------- folders walked by the caller (watch)
class FolderCensus:
    """The census of single folders that the caller lists itself (`walk(folder, recurse=False)`)
    while holding the catalog's scan lock: the watch, which decides each cycle which folders to
    look at and which acquisitions are still being written (`hold`: paths not read yet). The same
    comparison with the catalog, reading under the pool's time budget, and writing as `scan`."""

    def __init__(self, catalog: Catalog, roots: Sequence[RootSpec], pool: Pool):
        self.catalog, self.pool = catalog, pool
        specs, _ = _with_nested(catalog, _checked_roots(catalog, roots))  # the roots nested in them watched too
        registering = {spec.path: (spec, _ensure_root(catalog, spec)) for spec in specs}
        #: roots whose vendor or technique changed since their files were read (this run or one stopped
        #: before its end): every file read again at their first full sweep
        self.reread = {path for path, (_, root_id) in registering.items() if catalog.reads_again(root_id)}
        self.roots: dict[str, tuple[RootSpec, int]] = {
            spec.path: (spec, root_id) for spec, root_id in _read_as_held(catalog, registering.values())}
        registered = _registered(catalog)
        #: per root, every registered root inside it: those whose folder is gone at its full sweep are closed
        self.inside = {path: [other for other in registered if enclosing_roots(other, [path])] for path in self.roots}
        #: per root, the registered roots inside it: its listings leave them out (`walk(nested=...)`)
        self.nested = {path: nested_roots(path, registered) for path in self.roots}
        self.holders = {path: _holders(path, registered) for path in self.roots}

    def catalogued(self, root: str, folder: str) -> dict[str, KnownFile]:
        """What the catalog holds directly in `folder` of `root`."""
        return self.catalog.known_files(self.roots[root][1], folder, direct=True)

    def catalogued_by_folder(self, root: str) -> dict[str, dict[str, KnownFile]]:
        """What the catalog holds under `root`, by folder: one query for a whole sweep, not one per folder."""
        by_folder: dict[str, dict[str, KnownFile]] = {}
        for path, row in self.catalog.known_files(self.roots[root][1]).items():
            by_folder.setdefault(os.path.dirname(path), {})[path] = row
        return by_folder

    def holds_files(self, root: str) -> bool:
        """Whether the catalog holds present files under `root` (an empty listing of it is then suspect)."""
        root_id = self.roots[root][1]
        return bool(self.catalog.known_folders(root_id)) or any(
            row[5] == "present" for row in self.catalog.known_files(root_id, root, direct=True).values())

    def update(self, root: str, folders: Sequence[Folder], catalogued: Mapping[str, dict[str, KnownFile]], *,
               hold: Collection[str] = (), gone_folders: Sequence[str] = (),
               walk_problems: Sequence[Problem] | None = None, stop: Callable[[], bool] = lambda: False, batch_size: int = 128) -> ScanSummary:
        """Bring `folders` of `root` up to date: new or changed acquisitions are read unless one of
        their files is in `hold`; catalogued files not on disk now, and every file under
        `gone_folders`, are marked missing. `walk_problems` given: `folders` is the whole root
        (what the catalog holds outside them is gone, and the root's walk problems are replaced).
        `catalogued`: what the catalog holds by folder, read since its last write (`catalogued` of
        each folder, or `catalogued_by_folder` of the whole root): the watch decides on the same rows.
        No scan is recorded when nothing changed; `stop()` is asked after each commit. The first whole
        listing of a root whose vendor or technique changed reads every file again (`Catalog.reads_again`)."""
        spec, root_id = self.roots[root]
        summary = ScanSummary(roots=[spec.path])
        started = time.perf_counter()
        found = _SurveyResult()
        if walk_problems is not None:
            _compare(folders, {path: row for rows in catalogued.values() for path, row in rows.items()}, found,
                     reread=root in self.reread)
        else:
            for folder in folders:
                _compare([folder], catalogued[folder.path], found)
        for folder_path in gone_folders:
            found.gone.extend(path for path, row in self.catalog.known_files(root_id, folder_path).items()
                              if row[5] == "present")
        held = set(hold)
        ready = [group for group in found.changed
                 if not any(f.path in held for f in (*group.images, *([group.sidecar] if group.sidecar else [])))]
        summary.seen, summary.skipped, summary.orphans = found.seen, found.skipped, found.orphans
        if not ready and not found.gone and walk_problems is None:
            summary.complete = True
            return summary
        scan_id = self.catalog.begin_scan([spec.path])
        settings = self.catalog.root_settings(root_id)
        tasks = deque(_Task(spec, spec.path, [pack], scan_id, root_id, settings, self.pool.file_timeout)
                      for pack in _pack(ready, batch_size))
        in_flight: set[Ticket] = set()
        try:
            while (tasks or in_flight) and not stop():
                while tasks and len(in_flight) < self.pool.width:
                    task = tasks.popleft()
                    in_flight.add(self.pool.submit(read_groups, task, task.file_count))
                done = self.pool.wait(in_flight)
                in_flight.difference_update(done)
                for ticket in done:
                    self.catalog.write_rows(ticket.value)
                    _tally(ticket.value, summary, None)
            # each folder's comparison is whole; what the catalog holds under a nested root is that root's
            summary.missing = self.catalog.mark_missing(scan_id, outside(found.gone, self.nested[root]))
            summary.complete = not tasks and not in_flight
            if walk_problems is not None and summary.complete:
                self.catalog.replace_walk_state(scan_id, root_id, walk_problems)
                summary.missing += _close_gone(self.catalog, scan_id,
                                               [inner for inner in self.inside[root] if not os.path.isdir(inner)])
                if len(ready) == len(found.changed):  # every file found is written: the rest under it is gone
                    summary.missing += self.catalog.take_over(scan_id, root_id, spec.path, self.holders[root],
                                                              self.nested[root])
                    if root in self.reread:
                        self.catalog.read_again_done(root_id)
                        self.reread.discard(root)
        finally:
            summary.seconds = time.perf_counter() - started
            self.catalog.finish_scan(scan_id, "complete" if summary.complete else "interrupted", vars(summary))
        return summary


__all__ = ["FILE_TIMEOUT_S", "FolderCensus", "RootSpec", "ScanProgress", "ScanSummary", "forgotten", "scan"]
