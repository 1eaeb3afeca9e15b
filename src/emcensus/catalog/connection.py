"""Opening a catalog file: where it may be, whether it is whole, and one translation of SQLite errors.

* **Never in an archive.** A catalog opened for writing is checked by the output guard against the
  roots being scanned and the roots it already holds, before SQLite creates or touches anything.
* **Opened, not created, by accident.** A missing file is only created when asked, and appears
  whole (made under a temporary name, then linked into place), so a zero-byte catalog is always
  damage, refused like any other.
* **Whole.** Every open checks that the tables of its schema version are there. A verified open
  also runs `PRAGMA quick_check` (it reads the whole file: a third of a second for a paper-scale
  catalog): every open for writing, so a scan never writes into a damaged file, and every command
  of the CLI, once per change of the file (a clean check is remembered in `<catalog>.verified` by
  size, mtime and inode of the catalog and its WAL; a writer that opened a checked file and closes
  it after no SQLite error re-stamps it, so a scan's own writes are not checked again, while a
  change by anything else is); the dashboard's per-request reads check the schema only.
* **One message.** Every `sqlite3` error that means the file cannot be used (damaged, truncated,
  locked, read-only, disk full) becomes a `CatalogError` saying what is wrong and what to do, here
  and nowhere else; the CLI and the dashboard show it like any other `EmcensusError`.
* **One scan at a time.** `scan_lock` holds an exclusive lock on `<catalog>.lock` for a scan or a
  watch; a second one on the same catalog is refused instead of interleaving with the first, naming
  the command and process that hold it.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import re
import secrets
import sqlite3
import stat
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, NoReturn

from emcensus.catalog.paths import fs_path
from emcensus.catalog.schema import MIGRATIONS, SCHEMA_VERSION
from emcensus.errors import CatalogError, ConfigError, QueryError
from emcensus.outputs import guard_output, whole_file

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows: scans are then not locked against each other
    fcntl = None  # type: ignore[assignment]

#: How long a statement waits for another process's lock before the catalog is called busy.
BUSY_TIMEOUT_S = 30

#: errno values of `link()` on file systems that have no hard links.
_NO_HARD_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EMLINK, errno.ENOSYS}

#: What to do with a catalog that cannot be read any more.
_RECOVER = "restore it from a backup, or scan again into a new catalog file"

#: sqlite3 errors that say something about the file (the rest are programming errors and stay as they are).
_FILE_ERRORS = (sqlite3.OperationalError, sqlite3.InternalError)

#: What SQLite says of a statement past its limits (its `?` parameters, 32,766 by default; its depth):
#: the query asked is too large, the file is not damaged.
_TOO_LARGE = re.compile("too many sql variables|expression tree is too large")


def catalog_error(exc: sqlite3.Error, path: str | os.PathLike[str]) -> CatalogError:
    """The one translation of an SQLite error into a message for people."""
    detail = " ".join(str(exc).split())  # one line, whatever SQLite says
    lowered = detail.lower()
    if "locked" in lowered or "busy" in lowered:
        return CatalogError(f"the catalog {path} is busy: another process kept it locked ({detail}); try again later")
    if "readonly" in lowered or "read-only" in lowered:
        return CatalogError(f"cannot write the catalog {path} ({detail}): check the permissions of the file and its folder")
    if "full" in lowered:
        return CatalogError(f"cannot write the catalog {path} ({detail}): free some disk space and run again")
    if "no such table" in lowered or "no such column" in lowered:
        return CatalogError(f"the catalog {path} lacks part of its schema ({detail}): it was damaged or edited; {_RECOVER}")
    return CatalogError(f"the catalog {path} is damaged or not a catalog ({detail}): {_RECOVER}")


def _reraise(exc: sqlite3.Error, path: str) -> NoReturn:
    """Raise the `CatalogError` for a file-level error, a `QueryError` for a statement past SQLite's limits;
    anything else (a programming error) as it is."""
    if isinstance(exc, sqlite3.OperationalError) and _TOO_LARGE.search(str(exc).lower()):
        raise QueryError(f"the query is larger than SQLite takes in one statement ({' '.join(str(exc).split())}):"
                         " ask for fewer values at once") from exc
    if type(exc) is sqlite3.DatabaseError or isinstance(exc, _FILE_ERRORS):
        raise catalog_error(exc, path) from exc
    raise exc


class CatalogCursor(sqlite3.Cursor):
    """A cursor whose file-level errors arrive as `CatalogError` (also while rows are fetched)."""

    def _wrap(self, call: Any, *args: Any) -> Any:
        try:
            return call(*args)
        except sqlite3.Error as exc:
            self.connection.restamp = False
            _reraise(exc, self.connection.catalog_path)

    def execute(self, sql: str, parameters: Any = (), /) -> CatalogCursor:
        return self._wrap(super().execute, sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> CatalogCursor:
        return self._wrap(super().executemany, sql, parameters)

    def executescript(self, script: str, /) -> CatalogCursor:
        return self._wrap(super().executescript, script)

    def fetchone(self) -> Any:
        return self._wrap(super().fetchone)

    def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._wrap(super().fetchmany) if size is None else self._wrap(super().fetchmany, size)

    def fetchall(self) -> list[Any]:
        return self._wrap(super().fetchall)

    def __next__(self) -> Any:
        try:  # not through _wrap: this runs once per row
            return _next_row(self)
        except sqlite3.Error as exc:
            self.connection.restamp = False
            _reraise(exc, self.connection.catalog_path)


_next_row = sqlite3.Cursor.__next__


class CatalogConnection(sqlite3.Connection):
    """A connection that hands out `CatalogCursor`s and translates errors of commits the same way."""

    catalog_path = ""
    #: Set by a verified writable open and cleared by any SQLite error on this connection: its clean
    #: close re-stamps the file as verified (see `close`).
    restamp = False

    def cursor(self, factory: Any = None) -> CatalogCursor:  # type: ignore[override]
        return super().cursor(factory or CatalogCursor)

    def execute(self, sql: str, parameters: Any = (), /) -> CatalogCursor:  # type: ignore[override]
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> CatalogCursor:  # type: ignore[override]
        return self.cursor().executemany(sql, parameters)

    def executescript(self, script: str, /) -> CatalogCursor:  # type: ignore[override]
        return self.cursor().executescript(script)

    def commit(self) -> None:
        try:
            super().commit()
        except sqlite3.Error as exc:
            self.restamp = False
            _reraise(exc, self.catalog_path)

    def __exit__(self, *exc: Any) -> Any:
        try:
            return super().__exit__(*exc)
        except sqlite3.Error as error:
            self.restamp = False
            _reraise(error, self.catalog_path)

    def close(self) -> None:
        """Close; a writer that opened a verified file and met no SQLite error remembers the new file
        state as verified: it changed the file only through SQLite transactions, so the next command
        (a rescan, a `count`) need not read the whole file again. A file changed by anyone else
        still differs from the stamp and is checked."""
        archives = None
        if self.restamp:
            with contextlib.suppress(sqlite3.Error, CatalogError):
                archives = archive_roots(self)
        super().close()
        if archives is not None and self.restamp and (stamp := file_stamp(Path(self.catalog_path))):
            _write_stamp(Path(self.catalog_path), stamp, archives)


def tables_of(version: int) -> set[str]:
    """The tables a catalog of schema `version` has (from the migrations: one source of truth)."""
    tables: set[str] = set()
    for statements in MIGRATIONS[:version]:
        for statement in statements:
            if match := re.match(r"\s*CREATE TABLE (\w+)", statement):
                tables.add(match[1])
            elif match := re.match(r"\s*DROP TABLE (\w+)", statement):
                tables.discard(match[1])
    return tables


@functools.cache
def canonical_objects(version: int) -> dict[str, tuple[str, str, str]]:
    """The indexes and triggers a catalog of schema `version` has: name -> (type, table, SQL), as
    replaying its migrations into an empty database leaves them (the same source of truth as
    `tables_of`; a bulk load drops some for a while, `catalog.bulk.restore` makes them whole)."""
    db = sqlite3.connect(":memory:")
    try:
        for statements in MIGRATIONS[:version]:
            for statement in statements:
                db.execute(statement)
        return {name: (kind, table, sql) for kind, name, table, sql in db.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') AND sql IS NOT NULL")}
    finally:
        db.close()


def _uri(path: Path, **query: str) -> str:
    """A `file:` URI for SQLite; any character in the path is escaped."""
    return Path(os.path.abspath(path)).as_uri() + "?" + "&".join(f"{k}={v}" for k, v in query.items())


def archive_roots(db: sqlite3.Connection) -> list[str]:
    """File-system paths of the scan roots a catalog holds: the archives no output may enter."""
    if not db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'roots'").fetchone():
        return []
    return [fs_path(row[0]) for row in db.execute("SELECT path FROM roots")]


def stored_roots(path: Path) -> list[str]:
    """`archive_roots` of a catalog file not opened yet, read without creating or changing anything beside it."""
    # Without a -wal file everything is in the main file and `immutable` reads it without a -shm file.
    query = {"mode": "ro"} if Path(f"{path}-wal").exists() else {"immutable": "1"}
    try:
        db = sqlite3.connect(_uri(path, **query), uri=True, factory=CatalogConnection)
    except sqlite3.Error as exc:
        raise catalog_error(exc, path) from exc
    db.catalog_path = str(path)
    try:
        return archive_roots(db)
    finally:
        db.close()


def connect(path: str | os.PathLike[str], *, readonly: bool, create: bool = True,
            archives: Iterable[str | os.PathLike[str]] = (), verify: bool | None = None) -> CatalogConnection:
    """Open the catalog file at `path` and check it; the connection is ready for queries (or migration).

    Read-only opens need an existing catalog. Writable opens refuse a path inside any of `archives`
    or of the roots the catalog already holds, and create the file only when `create` is true (in an
    existing folder: a typo does not grow a tree of folders). `verify` (default: for writing) runs
    SQLite's `quick_check` over the whole file.
    """
    path = Path(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise CatalogError(f"cannot open the catalog {path}: {exc.strerror or exc}") from exc
    if info is None and (readonly or not create):
        raise CatalogError(f"no catalog at {path}: run `emcensus scan` first")
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise CatalogError(f"the catalog {path} is not a regular file")
    if info is not None and info.st_size == 0:
        raise CatalogError(f"the catalog {path} is an empty file (0 bytes), not a catalog: {_RECOVER}")
    if not readonly:
        guard_output(path, [*archives, *(stored_roots(path) if info is not None else [])], what="catalog")
        if info is None:
            _create(path)
    target = _uri(path, mode="ro") if readonly else str(path)
    try:
        db = sqlite3.connect(target, uri=readonly, timeout=BUSY_TIMEOUT_S, check_same_thread=False,
                             factory=CatalogConnection)
    except sqlite3.Error as exc:
        raise catalog_error(exc, path) from exc
    db.catalog_path = str(path)
    try:
        if not readonly:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = ON")
        _check(db, path, readonly, not readonly if verify is None else verify)
    except BaseException:
        db.close()
        raise
    return db


def _create(path: Path) -> None:
    """A new, empty catalog file in WAL mode (readers beside a writer), made under a temporary name
    and linked into place: no process ever sees it half made, and of two processes creating the
    same catalog one links it, the other opens it. The schema comes from the migration."""
    temp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.new")
    try:
        db = sqlite3.connect(temp)
        try:
            db.execute("PRAGMA journal_mode = WAL")
        finally:
            db.close()
        try:
            os.link(temp, path)
        except FileExistsError:
            pass  # another process created it first
        except OSError as exc:
            if exc.errno not in _NO_HARD_LINKS:
                raise
            # A file system without hard links (FAT, some SMB shares): claim the name exclusively;
            # SQLite makes an empty file a database on first write.
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
            except FileExistsError:
                pass
    except (OSError, sqlite3.Error) as exc:
        raise CatalogError(f"cannot create the catalog {path}: {getattr(exc, 'strerror', None) or exc}") from exc
    finally:
        temp.unlink(missing_ok=True)


def _check(db: CatalogConnection, path: Path, readonly: bool, verify: bool) -> None:
    """Refuse what is not a whole emcensus catalog of a version this emcensus can use."""
    # One read transaction: version and tables from the same snapshot, even while another process
    # commits the first migration of a new catalog between the two reads.
    in_transaction = db.in_transaction
    if not in_transaction:
        db.execute("BEGIN")
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        if not in_transaction:
            db.execute("COMMIT")
    if version > SCHEMA_VERSION:
        raise CatalogError(
            f"{path} has schema version {version}, newer than this emcensus ({SCHEMA_VERSION}): upgrade emcensus")
    if version == 0:
        if tables:
            raise CatalogError(f"{path} is an SQLite file but not an emcensus catalog")
        if readonly:
            raise CatalogError(f"the catalog {path} is empty: no scan has written to it yet")
        db.restamp = verify  # a new, empty catalog: whole by construction
        return  # a new catalog, created by the migration
    if missing := tables_of(version) - tables:
        raise CatalogError(
            f"the catalog {path} lacks its table(s) {', '.join(sorted(missing))}: it was damaged or edited; {_RECOVER}")
    if readonly and version < SCHEMA_VERSION:
        raise CatalogError(f"{path} has an old schema ({version}); open it once for writing (any scan does) to migrate it")
    if verify:
        stamp = file_stamp(path)
        if stamp is None or _read_stamp(path) != stamp:  # else verified since its last change
            problems = _quick_check(db)
            if problems != ["ok"]:
                raise CatalogError(f"the catalog {path} is damaged ({'; '.join(problems)}): {_RECOVER}")
            if stamp is not None and readonly:
                _write_stamp(path, stamp, archive_roots(db))
        db.restamp = not readonly


def _quick_check(db: CatalogConnection) -> list[str]:
    """SQLite's check of every page (reads the whole file): `["ok"]` or up to five problems."""
    return [" ".join(row[0].split()) for row in db.execute("PRAGMA quick_check(5)")]


def _stamp_path(path: Path) -> Path:
    return path.with_name(f"{path.name}.verified")


def file_stamp(path: Path) -> str | None:
    """Size and modification time of the catalog and its WAL: any write changes them. An empty WAL
    (a connection opened since the last one closed) holds nothing: it reads as no WAL."""
    parts = []
    for name in (str(path), f"{path}-wal"):
        try:
            info = os.stat(name)
        except FileNotFoundError:
            parts.append("-")
            continue
        except OSError:
            return None
        parts.append(f"{info.st_size}:{info.st_mtime_ns}:{info.st_ino}" if info.st_size or name == str(path) else "-")
    return " ".join(parts)


def stamp_settled(stamp: str, seconds: float) -> bool:
    """Whether every file of `stamp` (from `file_stamp`) was last written `seconds` ago or more. A
    file system stores mtimes in coarse ticks, so two writes within one tick can leave size and mtime
    alike (a WAL rewritten from its start keeps its size): only a settled stamp tells them apart."""
    newest = max((int(part.split(":")[1]) for part in stamp.split() if part != "-"), default=0)
    return time.time_ns() - newest >= seconds * 1e9


def _read_stamp(path: Path) -> str | None:
    try:
        with open(_stamp_path(path), encoding="ascii") as handle:
            return handle.read(200).strip()
    except (OSError, ValueError):
        return None


def _write_stamp(path: Path, stamp: str, archives: list[str]) -> None:
    """Remember a clean quick_check beside the catalog; best effort (a read-only folder just checks
    again). A catalog someone put inside one of its archives is read, but nothing is written beside it."""
    target = _stamp_path(path)
    try:
        guard_output(target, archives, what="verification stamp")
    except ConfigError:
        return
    with contextlib.suppress(OSError), whole_file(target) as partial:
        partial.write_text(stamp, encoding="ascii")


#: Lock files held by scans of this process: POSIX locks do not exclude their own process.
_HELD: set[str] = set()


@contextlib.contextmanager
def scan_lock(path: str | os.PathLike[str], archives: Iterable[str | os.PathLike[str]] = (),
              command: str = "scan") -> Iterator[None]:
    """Hold `<catalog>.lock` for a scan (or a watch: `command` names the holder); a second writer of
    the same catalog is refused, naming the command and process that hold it (written into the lock
    file). The lock file stays (removing it would race with the next scan).

    A POSIX record lock (`lockf`), not `flock`: forked pool workers do not inherit it, so a scan
    killed with `kill -9` frees the catalog at once, not when its orphaned workers exit; it also
    works on NFS. A set of held paths refuses a second scan from the same process. `archives`: the
    roots being scanned, which the lock file may not resolve into."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    # An output like the catalog: a `.lock` name planted as a link into an archive is refused.
    lock_path = str(guard_output(f"{path}.lock", archives, what="scan lock"))
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        try:
            if lock_path in _HELD:
                raise BlockingIOError
            _lock_soon(fd)
        except OSError as exc:
            if not isinstance(exc, BlockingIOError) and exc.errno not in (errno.EACCES, errno.EAGAIN):
                raise CatalogError(f"cannot lock the catalog {path} for a scan: {exc.strerror or exc}") from exc
            raise CatalogError(_held_by(os.pread(fd, 64, 0), path)) from None
        _HELD.add(lock_path)
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()} {command}\n".encode(), 0)
            yield
        finally:
            _HELD.discard(lock_path)
    finally:
        os.close(fd)  # closing releases the lock


def _lock_soon(fd: int, seconds: float = 0.25) -> None:
    """Take the scan lock, waiting a moment for one held only as long as `scan_running` looks."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as exc:
            if exc.errno not in (errno.EACCES, errno.EAGAIN) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def scan_running(path: str | os.PathLike[str]) -> bool:
    """Whether a scan or watch (this process's or another's) holds the catalog's scan lock now: a
    writable open leaves a bulk load's dropped indexes to that load (`catalog.bulk`). The test takes
    the lock for an instant, which `scan_lock` waits out."""
    if fcntl is None:  # pragma: no cover
        return False
    lock_path = os.path.realpath(f"{path}.lock")
    if lock_path in _HELD:
        return True  # never locked and closed again here: closing any descriptor drops this process's lock
    try:
        fd = os.open(lock_path, os.O_RDWR | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return False  # no scan ever ran (or the lock file cannot be written: nor can the catalog)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        return exc.errno in (errno.EACCES, errno.EAGAIN)
    finally:
        os.close(fd)  # releases the instant's lock
    return False


def _held_by(lock_text: bytes, path: str | os.PathLike[str]) -> str:
    """The refusal for a catalog whose lock file reads `lock_text` ("PID COMMAND"): what holds it and
    what to do (a watch runs until stopped: waiting for it is no advice)."""
    words = lock_text.decode("ascii", "replace").split()
    pid = words[0] if words else "unknown"
    command = words[1] if len(words) > 1 else "scan or watch"
    advice = "stop it" if command == "watch" else "wait for it to finish"
    return (f"another {command} (process {pid}) is writing to the catalog {path}: {advice}, "
            "or scan into another catalog file")


__all__ = ["CatalogConnection", "archive_roots", "canonical_objects", "catalog_error", "connect", "file_stamp", "scan_lock", "scan_running", "stamp_settled", "stored_roots", "tables_of"]
