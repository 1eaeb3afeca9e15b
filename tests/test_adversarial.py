"""End to end over the adversarial corpus (issue 7): emcensus survives it and accounts for every entry.

One module fixture runs, on a real catalog, the CLI (`scan` in a subprocess under a time limit, then
`count`, `audit` and every list, `export` csv and parquet, `pubs`, `table1`, `lost`, `report`) and
crawls the dashboard (every page, image, sidecar and thumbnail) in a forked process under a time
and memory limit, between two snapshots of the archive and of the files outside it. Each test then
checks one concern and names the issue-7 item it belongs to, so a failure says whose it is.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import multiprocessing
import os
import pickle
import re
import resource
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from emcensus.catalog import AUDIT_KINDS, Catalog
from emcensus.demo.adversarial import (
    CATALOGUED,
    PAIRED,
    SECRET,
    AdversarialCorpus,
    hitachi_lines,
    make_adversarial_corpus,
    zlib_bomb,
)
from emcensus.demo.badcorpus import sidecar_bytes, tiff_bytes, write_file

EMCENSUS = str(Path(sys.executable).with_name("emcensus"))
#: Wall-time limits (s): a hang fails the test instead of hanging CI.
SCAN_LIMIT, COMMAND_LIMIT, CRAWL_LIMIT, REQUEST_LIMIT = 60, 30, 60, 10
#: How much a dashboard crawl may grow its resident memory (thumbnails of a 30,000² TIFF included).
CRAWL_MEMORY_LIMIT = 512 << 20
#: The per-file time budget handed to `scan --file-timeout`.
FILE_TIMEOUT_S = "10"  # short, yet far above a legitimate read on a loaded CI machine
NOATIME = getattr(os, "O_NOATIME", 0)
#: An undecodable byte shown to people as itself: a lone surrogate, or a private-use stand-in for one.
RAW_BYTES = re.compile("[\ud800-\udfff\U0010ff7f-\U0010ffff]")
DAY_NS = 86_400 * 10**9


# ------------------------------------------------------------------ helpers
@dataclass
class Command:
    """One CLI run: its arguments, exit code (None: killed at the time limit), output and time."""

    args: list[str]
    rc: int | None
    out: str
    err: str
    seconds: float

    def __str__(self) -> str:
        status = "killed after the time limit" if self.rc is None else f"exit {self.rc}"
        return (f"`emcensus {' '.join(self.args)}`: {status} in {self.seconds:.1f} s\n"
                f"{self.out[-1500:]}{self.err[-1500:]}")


def run_cli(catalog: Path, *args: str, limit: float = COMMAND_LIMIT) -> Command:
    """Run the real CLI in its own session; on timeout kill the whole group (scan workers too)."""
    argv = [EMCENSUS, "--catalog", str(catalog), *args]
    env = {k: v for k, v in os.environ.items() if k not in ("EMCENSUS_CATALOG", "EMCENSUS_TOKEN")}
    start = time.monotonic()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                               start_new_session=True)
    try:
        out, err = process.communicate(timeout=limit)
        rc: int | None = process.returncode
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        rc = None
    decode = lambda b: b.decode("utf-8", errors="replace")  # noqa: E731
    return Command(list(args), rc, decode(out), decode(err), time.monotonic() - start)


def canonical(path: str | bytes) -> str:
    """A path's display form, whatever the catalog chose: undecodable bytes, surrogates, U+FFFD,
    `\\xNN` escapes or a private-use stand-in (U+10FF80 + byte) all become one U+FFFD per run."""
    if isinstance(path, bytes):
        text = path.decode("utf-8", errors="replace")
    else:
        text = path.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="replace")
    return re.sub(r"(?:\ufffd|\\x[0-9a-fA-F]{2}|[\U0010ff80-\U0010ffff])+", "\ufffd", text)


def relative(path: str | bytes, root: Path) -> str:
    text, base = canonical(path), canonical(str(root)).rstrip("/") + "/"
    return text[len(base):] if text.startswith(base) else text


def _walk(folder: bytes, rel: bytes, visit: Any) -> None:
    """Visit every entry below `folder` without following links or touching atimes (O_NOATIME)."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | NOATIME)
    try:
        names = sorted(os.fsencode(n) for n in os.listdir(fd))
        for name in names:
            info = os.stat(name, dir_fd=fd, follow_symlinks=False)
            if stat.S_ISDIR(info.st_mode):
                _walk(os.path.join(folder, name), rel + name + b"/", visit)
            visit(fd, name, rel + name, info)
    finally:
        os.close(fd)


def age_atimes(*tops: Path) -> None:
    """Set every atime two days before its mtime, so that relatime would show any read."""
    def age(fd: int, name: bytes, rel: bytes, info: os.stat_result) -> None:
        os.utime(name, dir_fd=fd, ns=(info.st_mtime_ns - 2 * DAY_NS, info.st_mtime_ns), follow_symlinks=False)
    for top in tops:
        _walk(os.fsencode(top), b"", age)
        info = os.stat(top)
        os.utime(top, ns=(info.st_mtime_ns - 2 * DAY_NS, info.st_mtime_ns))


def snapshot(*tops: Path) -> dict[bytes, tuple[Any, ...]]:
    """Type, size, mode, mtime, atime and content (hash or link target) of everything under `tops`."""
    result: dict[bytes, tuple[Any, ...]] = {}
    prefix = b""

    def record(fd: int, name: bytes, rel: bytes, info: os.stat_result) -> None:
        content: Any = None
        atime = info.st_atime_ns if NOATIME else None  # without O_NOATIME this very snapshot would set it
        if stat.S_ISLNK(info.st_mode):
            content = os.readlink(name, dir_fd=fd)
            atime = None  # following or reading a link sets its atime; O_NOATIME cannot prevent that
        elif stat.S_ISREG(info.st_mode):
            file_fd = os.open(name, os.O_RDONLY | NOATIME | os.O_NONBLOCK, dir_fd=fd)
            with os.fdopen(file_fd, "rb") as handle:
                content = hashlib.sha256(handle.read()).hexdigest()
        result[prefix + rel] = (info.st_mode, info.st_size, info.st_mtime_ns, atime, content)

    for top in tops:
        prefix = os.fsencode(top) + b"/"
        _walk(os.fsencode(top), b"", record)
        info = os.stat(top)
        result[prefix] = (info.st_mode, info.st_size, info.st_mtime_ns, info.st_atime_ns if NOATIME else None, None)
    return result


def changes(before: dict[bytes, tuple[Any, ...]], after: dict[bytes, tuple[Any, ...]]) -> list[str]:
    """What differs between two snapshots, entry by entry, in words."""
    changed = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old != new:
            what = ("created" if old is None else "removed" if new is None
                    else "atime changed (read without O_NOATIME)" if old[:3] + old[4:] == new[:3] + new[4:]
                    else "changed")
            changed.append(f"{canonical(key)}: {what}")
    return changed


#: Requests with absurd ids and parameters: 400 or 404 with a message, never 500 (item 9).
HOSTILE = ("/images/99999999999999999999999", "/api/images/-1", "/api/thumbnail/99999999999999999999",
           "/api/images/99999999999999999999/sidecar", "/explore?page=99999999999999999999",
           "/api/images?offset=99999999999999999999", "/api/audit/unreadable?offset=99999999999999999999",
           "/api/count?year=99999999999999999999", "/api/count?magnification=1e400", "/explore?sort=colour")


def _crawl(catalog: str, out: str, progress: str) -> None:
    """In a forked child: fetch every dashboard page and endpoint, write the answers as JSON."""
    status = Path("/proc/self/status").read_text()
    size_kb = int(re.search(r"VmSize:\s+(\d+)", status).group(1))
    start_rss_kb = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
    limit = size_kb * 1024 + (3 << 30)  # a runaway decode fails here instead of eating the machine
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from fastapi.testclient import TestClient

    from emcensus.web import create_app

    answers: list[dict[str, Any]] = []
    with TestClient(create_app(catalog), raise_server_exceptions=False) as client, open(progress, "w") as log:
        def get(url: str) -> Any:
            log.write(url + "\n")
            log.flush()
            began = time.monotonic()
            response = client.get(url)
            binary = response.headers.get("content-type", "").startswith(("image/png", "image/jpeg"))
            answers.append({"url": url, "status": response.status_code, "seconds": time.monotonic() - began,
                            "type": response.headers.get("content-type", ""),
                            "text": "" if binary else response.text})
            return response

        for url in ("/", "/explore", "/audit", "/api/audit", "/api/count?by=magnification",
                    "/api/count?by=scalebar_decade", "/api/count?by=year,technique", "/api/images.csv",
                    "/api/table1", "/api/roots", "/api/articles"):
            get(url)
        for kind in AUDIT_KINDS:
            get(f"/audit/{kind}")
            get(f"/api/audit/{kind}?limit=1000")
        for url in HOSTILE:
            get(url)
        listing = get("/api/images?limit=1000")
        items = listing.json().get("items", []) if listing.status_code == 200 else []
        for item in items:
            ident = item["id"]
            for url in (f"/images/{ident}", f"/api/images/{ident}", f"/api/images/{ident}/sidecar",
                        f"/api/images/{ident}/neighbours", f"/api/thumbnail/{ident}"):
                get(url)
    status = Path("/proc/self/status").read_text()
    peak_kb = int(re.search(r"VmHWM:\s+(\d+)", status).group(1))
    Path(out).write_text(json.dumps({"answers": answers, "items": items,
                                     "memory_growth": (peak_kb - start_rss_kb) * 1024}))


@dataclass
class Crawl:
    answers: list[dict[str, Any]] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)
    memory_growth: int = 0
    failure: str | None = None  # why the crawl did not finish


def crawl_dashboard(catalog: Path, work: Path) -> Crawl:
    out, progress = work / "crawl.json", work / "crawl.log"
    child = multiprocessing.get_context("fork").Process(target=_crawl, args=(str(catalog), str(out), str(progress)))
    child.start()
    child.join(CRAWL_LIMIT)
    if child.is_alive():
        child.kill()
        child.join()
        last = progress.read_text().splitlines()[-1:] if progress.exists() else []
        return Crawl(failure=f"the dashboard crawl hung for {CRAWL_LIMIT} s; last request: {last}")
    if not out.exists():
        return Crawl(failure=f"the dashboard crawl died (exit code {child.exitcode}); "
                             f"last request: {progress.read_text().splitlines()[-1:] if progress.exists() else []}")
    return Crawl(**json.loads(out.read_text()))


@dataclass
class Run:
    corpus: AdversarialCorpus
    catalog: Path
    work: Path
    before: dict[bytes, tuple[Any, ...]]
    after: dict[bytes, tuple[Any, ...]]
    scan: Command
    commands: list[Command]
    crawl: Crawl
    rows: list[dict[str, Any]]
    lists: dict[str, list[dict[str, Any]]]
    catalog_error: str | None
    first_census: set[tuple[Any, ...]]  # after the first scan; `rows` are after the rescan
    rescan: Command


def _scan_arguments(root: Path) -> list[str]:
    """`scan ROOT` with a short per-file time budget (item 3)."""
    return ["scan", str(root), "--instrument", "SU8230", "--workers", "2", "--quiet", "--file-timeout", FILE_TIMEOUT_S]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The whole run, once per session: pytest-xdist workers share it through a pickle under a lock."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return _run(tmp_path_factory.mktemp("adversarial"))
    shared = tmp_path_factory.getbasetemp().parent  # this session's folder, common to its workers
    with open(shared / "adversarial.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        cache = shared / "adversarial.pickle"
        if not cache.exists():
            cache.write_bytes(pickle.dumps(_run(tmp_path_factory.mktemp("adversarial"))))
        return pickle.loads(cache.read_bytes())


def _run(base: Path) -> Run:
    corpus = make_adversarial_corpus(base / "archive" / "SU8230", base / "outside")
    work = base / "work"
    work.mkdir()
    catalog = work / "census.sqlite"
    age_atimes(corpus.root, corpus.outside)
    before = snapshot(corpus.root, corpus.outside)

    scan = run_cli(catalog, *_scan_arguments(corpus.root), limit=SCAN_LIMIT)
    first_census = _census(catalog)
    rescan = run_cli(catalog, *_scan_arguments(corpus.root), limit=SCAN_LIMIT)
    good = str(corpus.root / "good/2016-06-23/ok001.tif")
    commands = [run_cli(catalog, *args) for args in (
        ["pubs", "add", "local-adversarial", "--year", "2016", "--title", "Adversarial"],
        ["pubs", "link", "local-adversarial", good],
    )]
    with ThreadPoolExecutor(2) as pool:  # the rest only read the catalog
        commands += pool.map(lambda args: run_cli(catalog, *args), (
            ["count"], ["count", "--by", "year,technique"], ["count", "--files", "--format", "json"],
            ["count", "--by", "magnification"], ["count", "--by", "scalebar_decade"],
            ["audit"], *(["audit", "--list", kind] for kind in AUDIT_KINDS),
            ["audit", "--list", "unreadable", "--format", "json"],
            ["export", str(work / "census.csv")], ["export", str(work / "census.parquet")],
            ["table1"], ["lost", "--by", "year"], ["lost", "--by", "technique"],
            ["report", str(work / "report")],
        ))
    crawl = crawl_dashboard(catalog, work)
    after = snapshot(corpus.root, corpus.outside)

    rows: list[dict[str, Any]] = []
    lists: dict[str, list[dict[str, Any]]] = {}
    catalog_error = None
    try:
        with Catalog(catalog, readonly=True) as opened:
            rows = [row for batch in opened.iter_export_rows() for row in batch]
            lists = {kind: opened.audit_list(kind) for kind in AUDIT_KINDS}
    except Exception as exc:  # reported by the tests that need the catalog
        catalog_error = f"{type(exc).__name__}: {exc}"
    return Run(corpus, catalog, work, before, after, scan, commands, crawl, rows, lists, catalog_error,
               first_census, rescan)


def _census(catalog: Path) -> set[tuple[Any, ...]]:
    """What a catalog holds, file by file, with the audit lists: what a rescan must leave alone."""
    try:
        with Catalog(catalog, readonly=True) as opened:
            rows = {(r["path"], r["status"], r["readable"], r.get("kind"), r.get("sidecar_path"))
                    for batch in opened.iter_export_rows() for r in batch}
            return rows | {(kind, r.get("path"), r.get("reason")) for kind in AUDIT_KINDS
                           for r in opened.audit_list(kind)}
    except Exception as exc:  # reported by the rescan test
        return {("the catalog cannot be read", f"{type(exc).__name__}: {exc}")}


def accounted(images: list[dict[str, Any]], lists: dict[str, list[dict[str, Any]]], root: Path
              ) -> dict[str, list[str]]:
    """Where the catalog put each path below `root`: catalogued, paired as a sidecar, or an audit list
    (with a reason where the list has one)."""
    found: dict[str, list[str]] = {}
    for row in images:
        found.setdefault(relative(row["path"], root), []).append(CATALOGUED)
        if row.get("sidecar_path"):
            found.setdefault(relative(row["sidecar_path"], root), []).append(PAIRED)
    for kind, entries in lists.items():
        for row in entries:
            if "path" in row and (kind == "orphan-sidecars" or str(row.get("reason") or "").strip()):
                found.setdefault(relative(row["path"], root), []).append(kind)
    return found


def _readable(run: Run) -> list[dict[str, Any]]:
    assert run.catalog_error is None, f"the catalog cannot be read after the scan: {run.catalog_error}"
    return [r for r in run.rows if r.get("status") == "present" and r.get("readable")]


# ------------------------------------------------------------------ the scan
def test_scan_finishes_in_bounded_time_without_a_traceback(run: Run) -> None:
    """Items 1, 2, 3: a bad name, an absurd number or a blocking read must not stop or hang the scan."""
    assert run.scan.rc is not None, f"item 3: the scan hung (killed after {SCAN_LIMIT} s): {run.scan}"
    assert "Traceback" not in run.scan.out + run.scan.err, f"items 1/2: the scan crashed: {run.scan}"
    assert run.scan.rc == 0, f"items 1/2/3: the scan failed: {run.scan}"


def test_a_rescan_of_an_unchanged_archive_changes_nothing(run: Run) -> None:
    """Items 1, 3, 4: a second scan finishes too and finds the same census (no name that fails to match
    itself and turns missing, no problem that comes or goes)."""
    assert run.rescan.rc == 0 and "Traceback" not in run.rescan.out + run.rescan.err, f"items 1/3: {run.rescan}"
    after = _census(run.catalog)
    changed = sorted(map(str, run.first_census ^ after))
    assert not changed, "items 1/4: the rescan changed the census:\n" + "\n".join(changed)


def test_every_entry_is_catalogued_or_listed_with_a_reason(run: Run) -> None:
    """Items 1, 4, 8: every manifest entry is an image, a paired sidecar, or in the audit list it belongs to."""
    found = accounted(_readable(run), run.lists, run.corpus.root)
    wrong = []
    for entry in run.corpus.entries:
        where = found.get(canonical(entry.path), [])
        if not set(where) & set(entry.outcomes):
            wrong.append(f"item {entry.item}: {entry.display} ({entry.why}): expected one of {list(entry.outcomes)}, "
                         f"found {where or 'nowhere'}")
    assert not wrong, f"{len(wrong)} of {len(run.corpus.entries)} entries not accounted for:\n" + "\n".join(wrong)


def test_impossible_dimensions_and_non_files_are_not_counted(run: Run) -> None:
    """Item 4: a 0x0 or 4294967295² TIFF, a bad MRC, a FIFO or device is never a readable image."""
    counted = {relative(r["path"], run.corpus.root) for r in _readable(run) if r.get("kind", "image") == "image"}
    wrongly = [e.display for e in run.corpus.entries if CATALOGUED not in e.outcomes and canonical(e.path) in counted]
    assert not wrongly, f"item 4: counted as readable images: {wrongly}"
    impossible = [(r["path"], r.get("width_px"), r.get("height_px")) for r in _readable(run)
                  if not all(v is None or 1 <= v <= 1_000_000 for v in (r.get("width_px"), r.get("height_px")))]
    assert not impossible, f"item 4: impossible dimensions in the catalog: {impossible}"


#: Physical ranges of the catalog's numeric columns (SI units); a value outside must be null instead.
RANGES = {
    "magnification": (1e-3, 1e8), "accelerating_voltage_v": (1.0, 1e7), "working_distance_m": (1e-7, 1.0),
    "pixel_size_m": (1e-14, 1e-1), "fov_width_m": (1e-12, 10.0), "fov_m": (1e-12, 10.0),
    "fov_mag_m": (1e-12, 10.0), "scale_bar_m": (1e-13, 1.0), "fov_disagreement": (0.0, 1e12),
    "date_gap_days": (0.0, 1e6), "year": (1950, datetime.now().year + 1),
}


def test_no_impossible_number_in_the_catalog(run: Run) -> None:
    """Item 2: every derived number is finite and physical, or null with a recorded warning."""
    bad = []
    for row in run.rows:
        for column, (low, high) in RANGES.items():
            value = row.get(column)
            if value is not None and not (isinstance(value, int | float) and low <= value <= high):
                bad.append(f"{relative(row['path'], run.corpus.root)}: {column}={value!r}")
    assert not bad, "item 2: impossible numbers in the catalog:\n" + "\n".join(bad)
    warned = {relative(r["path"], run.corpus.root) for r in run.lists.get("warnings", [])}
    absurd = [e for e in run.corpus.entries if e.item == 2 and e.outcomes == (CATALOGUED,)]
    assert absurd, "the corpus has no catalogued entry of absurd values: nothing below is checked"
    silent = [e.display for e in absurd
              if canonical(e.path) not in warned and canonical(os.path.splitext(e.path)[0] + b".txt") not in warned]
    assert not silent, f"item 2: absurd values dropped without a warning for {silent}"


# ------------------------------------------------------------------ the CLI and the dashboard
def test_every_command_exits_zero_without_a_traceback(run: Run) -> None:
    """Items 1, 2, 5, 11, 13 and the rest: each command a user runs on this catalog answers cleanly."""
    failed = [str(c) for c in run.commands if c.rc != 0 or "Traceback" in c.out + c.err]
    assert not failed, f"{len(failed)} of {len(run.commands)} commands failed:\n" + "\n\n".join(failed)
    unreadable = [" ".join(c.args) for c in run.commands if RAW_BYTES.search(c.out + c.err)]
    assert not unreadable, f"item 1: output shows undecodable bytes raw instead of U+FFFD: {unreadable}"


def test_dashboard_serves_every_page_without_error(run: Run) -> None:
    """Items 1, 2, 7, 9: Overview, Explore, Audit, every image page, sidecar and thumbnail answer, fast."""
    assert run.crawl.failure is None, f"item 7: {run.crawl.failure}"
    errors = [f"{a['url']}: {a['status']} {a['text'][:300]}" for a in run.crawl.answers if a["status"] >= 500]
    assert not errors, "items 2/7/9: HTTP 500 from the dashboard:\n" + "\n".join(errors)
    slow = [f"{a['url']}: {a['seconds']:.1f} s" for a in run.crawl.answers if a["seconds"] > REQUEST_LIMIT]
    assert not slow, "item 7: requests slower than the per-file time bound:\n" + "\n".join(slow)
    refused = [f"{a['url']}: {a['status']}" for a in run.crawl.answers if a["status"] != 200
               and a["url"] not in HOSTILE]
    assert not refused, "the dashboard refused its own links:\n" + "\n".join(refused)
    accepted = [f"{a['url']}: {a['status']}" for a in run.crawl.answers
                if a["url"] in HOSTILE and a["status"] not in (400, 404)]
    assert not accepted, "items 9/12: absurd ids or parameters not answered 400/404:\n" + "\n".join(accepted)
    unreadable = [a["url"] for a in run.crawl.answers
                  if a["type"].startswith("text/html") and RAW_BYTES.search(a["text"])]
    assert not unreadable, f"item 1: pages show undecodable bytes raw instead of U+FFFD: {unreadable}"
    listed = {canonical(relative(item["path"], run.corpus.root)) for item in run.crawl.items}
    names = [e for e in run.corpus.entries if e.item == 1 and CATALOGUED in e.outcomes]
    unlisted = [e.display for e in names if canonical(e.path) not in listed]
    assert not unlisted, f"item 1: images with non-UTF-8 names missing from the dashboard: {unlisted}"


def test_dashboard_memory_is_bounded(run: Run) -> None:
    """Item 7: thumbnails of a 30,000² zlib TIFF must not decode the whole page."""
    assert run.crawl.failure is None, f"item 7: {run.crawl.failure}"
    assert run.crawl.memory_growth < CRAWL_MEMORY_LIMIT, (
        f"item 7: the dashboard grew by {run.crawl.memory_growth / 2**20:.0f} MB serving this catalog "
        f"(limit {CRAWL_MEMORY_LIMIT >> 20} MB)")


def _numbers(tree: Any, key: str = "") -> list[tuple[str, Any]]:
    """Every (key, value) leaf of a JSON document."""
    if isinstance(tree, dict):
        return [leaf for k, v in tree.items() for leaf in _numbers(v, k)]
    if isinstance(tree, list):
        return [leaf for v in tree for leaf in _numbers(v, key)]
    return [(key, tree)]


def test_no_impossible_percentage_or_count(good_catalog: tuple[Path, Path], tmp_path: Path) -> None:
    """Item 11: with more images published than catalogued, no share leaves 0-100 % and no count is negative."""
    catalog = tmp_path / "census.sqlite"
    shutil.copyfile(good_catalog[0], catalog)
    ledger = tmp_path / "ledger.csv"  # 6 images catalogued in 2016; an article shows 500 of them
    ledger.write_text("article,year,image,title,journal,category,subcategory,source,technique,count\n"
                      "local-counted,2016,,Counted,,,,,SEM,500\n")
    imported = run_cli(catalog, "pubs", "import", str(ledger))
    assert imported.rc == 0, imported
    bad = []
    for args in (["table1"], ["table1", "--until", "2015"], ["lost", "--by", "year"], ["lost", "--by", "technique"]):
        command = run_cli(catalog, *args, "--format", "json")
        assert command.rc == 0 and "Traceback" not in command.err, f"item 11: {command}"
        for key, value in _numbers(json.loads(command.out)):
            if not isinstance(value, int | float) or isinstance(value, bool):
                continue
            if "pct" in key or "percent" in key:
                if not 0 <= value <= 100:
                    bad.append(f"`{' '.join(command.args)}`: {key}={value}")
            elif value < 0:
                bad.append(f"`{' '.join(command.args)}`: {key}={value}")
    assert not bad, "item 11: impossible numbers:\n" + "\n".join(bad)


# ------------------------------------------------------------------ the archive and outside it
def test_archive_and_outside_files_untouched_including_atimes(run: Run) -> None:
    """Items 5, 6, 8: no entry written, created, removed, or read without O_NOATIME (atime older than mtime)."""
    changed = changes(run.before, run.after)
    assert not changed, "items 5/6/8: the archive or the files outside it changed:\n" + "\n".join(changed)


def _outputs(run: Run) -> dict[str, str]:
    """Every text emcensus produced: catalog bytes, exports, report files, CLI output, dashboard answers."""
    texts = {}
    files = [run.catalog, Path(f"{run.catalog}-wal"), run.work / "census.csv", *(run.work / "report").rglob("*")]
    for path in files:
        if path.is_file():
            texts[str(path)] = path.read_bytes().decode("latin-1")
    parquet = run.work / "census.parquet"
    if parquet.is_file():
        import pyarrow.parquet as pq

        texts[str(parquet)] = json.dumps(pq.read_table(parquet).to_pylist(), default=str)
    for command in [run.scan, *run.commands]:
        texts[f"emcensus {' '.join(command.args)}"] = command.out + command.err
    for answer in run.crawl.answers:
        texts[f"GET {answer['url']}"] = answer["text"]
    return texts


def test_nothing_from_outside_the_roots_leaks(run: Run) -> None:
    """Item 8: links that leave the root are not followed, by the scan, the readers, the API or pages."""
    leaks = [where for where, text in _outputs(run).items() if SECRET in text]
    assert not leaks, f"item 8: content of files outside the root appears in: {leaks}"
    root = os.path.realpath(run.corpus.root)
    through = [r["path"] for r in run.rows
               if any(canonical(r["path"]).startswith(canonical(str(run.corpus.root / os.fsdecode(prefix))))
                      for prefix in run.corpus.never_catalogued)
               or not os.path.realpath(r["path"]).startswith(root + os.sep)]
    assert not through, f"item 8: catalogued through a link that leaves the root: {through}"


# ------------------------------------------------------------------ damaged catalogs
@pytest.fixture(scope="module")
def good_catalog(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A small healthy catalog and the root it was scanned from."""
    from emcensus.scan import RootSpec, scan

    base = tmp_path_factory.mktemp("catalogs")
    root = base / "archive" / "SU8230"
    for index in range(6):
        write_file(root / f"g/p/img{index:03}.tif", tiff_bytes(value=index)[0])
        write_file(root / f"g/p/img{index:03}.txt", sidecar_bytes(hitachi_lines()))
    path = base / "good.sqlite"
    with Catalog(path) as catalog:
        scan(catalog, [RootSpec(str(root), "SU8230")], workers=0)
    return path, root


def _damaged(source: Path, target: Path, damage: str) -> None:
    """Copy a catalog and damage the copy; the damage is checked to be visible to SQLite itself."""
    shutil.copyfile(source, target)
    if damage == "zero-length":
        target.write_bytes(b"")
    elif damage == "truncated":
        data = target.read_bytes()
        target.write_bytes(data[: len(data) // 2])
    elif damage == "dropped-table":
        with sqlite3.connect(target) as db:
            db.execute("PRAGMA foreign_keys = OFF")
            db.execute("DROP TABLE images")
        sqlite3.connect(target).close()
    elif damage == "flipped-bytes":
        data = bytearray(target.read_bytes())
        page = int.from_bytes(data[16:18], "big") or 65536
        pages = len(data) // page
        with sqlite3.connect(source) as db:
            images_root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'images'").fetchone()[0]
        for number in (pages // 2, images_root - 1):  # the middle page, else the images table's root page
            damaged = bytearray(data)
            start = number * page + (100 if number == 0 else 0)
            damaged[start:start + 256] = bytes(b ^ 0xFF for b in damaged[start:start + 256])
            target.write_bytes(bytes(damaged))
            try:
                with sqlite3.connect(f"file:{target}?mode=ro", uri=True) as db:
                    healthy = db.execute("PRAGMA quick_check").fetchone()[0] == "ok"
            except sqlite3.DatabaseError:
                healthy = False
            if not healthy:
                break
        assert not healthy, "could not damage the catalog visibly"


@pytest.mark.parametrize("damage", ["flipped-bytes", "truncated", "dropped-table", "zero-length"])
@pytest.mark.parametrize("command", ["count", "audit", "scan"])
def test_a_damaged_catalog_is_refused_with_one_clear_line(good_catalog: tuple[Path, Path], tmp_path: Path,
                                                          damage: str, command: str) -> None:
    """Item 10: no traceback, no write into a damaged catalog, exit non-zero with what is wrong."""
    source, root = good_catalog
    target = tmp_path / f"{damage}.sqlite"
    _damaged(source, target, damage)
    args = [command]
    if command == "scan":
        args += [str(root), "--instrument", "SU8230", "--workers", "0", "--quiet"]
    result = run_cli(target, *args)
    output = (result.out + result.err).strip()
    assert result.rc is not None and "Traceback" not in output, f"item 10: {result}"
    assert result.rc != 0, f"item 10: a {damage} catalog was accepted: {result}"
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and "catalog" in output.lower(), f"item 10: not one clear line about the catalog: {result}"
    assert "migrate" not in output, f"item 10: misleading advice for a {damage} catalog: {result}"


# ------------------------------------------------------------------ the project's own corpus
#: What the census reads (README "Pairing", plus Phenom `.elid`) and what it pairs as metadata.
IMAGE_SUFFIXES = {".tif", ".tiff", ".jpg", ".jpeg", ".png", ".bmp", ".dm3", ".dm4", ".ser", ".emd", ".mrc", ".elid"}
SIDECAR_SUFFIXES = {".txt", ".hdr", ".emi"}
LISTED = ("unreadable", "warnings")


def test_the_project_corpus_is_accounted_for(vendor_samples: Path, tmp_path: Path) -> None:
    """Items 1, 4, 16-18: the real vendor files and the bad-file corpus (extras included) scan cleanly,
    every image file is catalogued or listed, every sidecar paired or listed, and nothing is touched."""
    from emcensus.demo import make_bad_corpus

    vendor, bad = tmp_path / "archive" / "vendor", tmp_path / "archive" / "bad"
    shutil.copytree(vendor_samples, vendor, symlinks=True)
    make_bad_corpus(bad, extras=True)
    age_atimes(vendor, bad)
    before = snapshot(vendor, bad)
    catalog = tmp_path / "census.sqlite"
    result = run_cli(catalog, "scan", str(vendor), str(bad), "--instrument", "SU8230", "--workers", "2", "--quiet",
                     limit=SCAN_LIMIT)
    assert result.rc == 0 and "Traceback" not in result.out + result.err, f"items 1/3/4: {result}"
    wrong = [f"items 5/6: {change}" for change in changes(before, snapshot(vendor, bad))]
    with Catalog(catalog, readonly=True) as opened:
        images = [r for batch in opened.iter_export_rows() for r in batch  # every kind: spectra too
                  if r.get("status") == "present" and r.get("readable")]
        lists = {kind: opened.audit_list(kind) for kind in AUDIT_KINDS}
    for root in (vendor, bad):
        found = accounted(images, lists, root)
        for folder, dirs, files in os.walk(os.fsencode(root)):
            for name in dirs + files:
                path = os.path.join(folder, name)
                rel = os.path.relpath(path, os.fsencode(root))
                suffix = os.path.splitext(name)[1].decode("ascii", "replace").lower()
                info = os.lstat(path)
                if stat.S_ISLNK(info.st_mode) or not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
                    expected: tuple[str, ...] = LISTED
                elif stat.S_ISDIR(info.st_mode) or name.startswith(b"."):
                    continue
                elif suffix in IMAGE_SUFFIXES:
                    expected = (CATALOGUED, *LISTED)
                elif suffix in SIDECAR_SUFFIXES:
                    expected = (PAIRED, "orphan-sidecars", *LISTED)
                else:
                    continue  # not something a census reads (README.md, PROVENANCE.md)
                where = found.get(canonical(rel), [])
                if not set(where) & set(expected):
                    wrong.append(f"items 1/4/16-18: {root.name}/{canonical(rel)}: expected one of {list(expected)}, "
                                 f"found {where or 'nowhere'}")
    assert not wrong, "files not accounted for, or changed by the scan:\n" + "\n".join(wrong)


def test_files_replaced_by_fifos_and_a_bomb_do_not_hang_or_swell_the_dashboard(tmp_path: Path) -> None:
    """Item 7: a catalogued image and sidecars later replaced by FIFOs, an image replaced by a link to
    /dev/zero, and the thumbnail of a 30,000² zlib TIFF: every page, sidecar and thumbnail answers in
    bounded time and memory, never 500."""
    from emcensus.scan import RootSpec, scan

    root = tmp_path / "archive" / "SU8230"
    for index in range(3):
        write_file(root / f"g/img{index:03}.tif", tiff_bytes(value=index)[0])
        write_file(root / f"g/img{index:03}.txt", sidecar_bytes(hitachi_lines()))
    write_file(root / "g/bomb.tif", zlib_bomb())
    catalog = tmp_path / "census.sqlite"
    with Catalog(catalog) as opened:
        scan(opened, [RootSpec(str(root), "SU8230")], workers=0)
    for name in ("img000.tif", "img000.txt", "img001.txt"):
        (root / "g" / name).unlink()
        os.mkfifo(root / "g" / name)
    (root / "g/img002.tif").unlink()
    (root / "g/img002.tif").symlink_to("/dev/zero")
    crawl = crawl_dashboard(catalog, tmp_path)
    assert crawl.failure is None, f"item 7: {crawl.failure}"
    assert len(crawl.items) == 4, crawl.items
    errors = [f"{a['url']}: {a['status']} {a['text'][:200]}" for a in crawl.answers if a["status"] >= 500]
    assert not errors, "item 7: HTTP 500 for files replaced by FIFOs or devices:\n" + "\n".join(errors)
    slow = [f"{a['url']}: {a['seconds']:.1f} s" for a in crawl.answers if a["seconds"] > REQUEST_LIMIT]
    assert not slow, "item 7: requests slower than the per-file time bound:\n" + "\n".join(slow)
    assert crawl.memory_growth < CRAWL_MEMORY_LIMIT, (
        f"item 7: the dashboard grew by {crawl.memory_growth / 2**20:.0f} MB for one 30,000² thumbnail")


def test_first_scans_at_once_none_crashes(good_catalog: tuple[Path, Path], tmp_path: Path) -> None:
    """Item 10: simultaneous first scans of a new catalog: each waits or refuses in one line."""
    _, root = good_catalog
    catalog = tmp_path / "new.sqlite"
    args = ["scan", str(root), "--instrument", "SU8230", "--workers", "0", "--quiet"]
    with ThreadPoolExecutor(4) as pool:  # four make the race of schema creation likely, not just possible
        results = list(pool.map(lambda _: run_cli(catalog, *args), range(4)))
    for result in results:
        output = (result.out + result.err).strip()
        assert result.rc is not None and "Traceback" not in output, f"item 10: {result}"
        assert result.rc == 0 or len(output.splitlines()) == 1, f"item 10: not one clear line: {result}"
    assert any(r.rc == 0 for r in results), f"item 10: neither scan finished: {results}"
    count = run_cli(catalog, "count", "--files", "--format", "json")
    assert count.rc == 0 and json.loads(count.out) == [{"count": 6}], f"item 10: {count}"
