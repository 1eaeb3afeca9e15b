"""The one guard for every path emcensus writes: catalog, thumbnail cache, exports, reports.

An archive is never written, so every output path is checked *before anything is created*, on
resolved paths (a symlink to the archive, or an archive root given as a symlink, is seen for what it
is). Folders are not created silently except the last one of a report or cache folder, and an output
of an unknown kind is refused rather than guessed. An output is written whole or not at all, beside its
name and renamed onto it when complete: every file (`whole_file`), a new folder (`whole_folder`: `reuse
export`). Not so the folders written into again: a report's (`guard_folder_rewrite`: other files may share
it, its files replaced one by one, each whole) and the visual index's (its own generations, switched to in
one rename: `figures.index`).
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from emcensus.access import is_inside, read_bounded
from emcensus.errors import ConfigError, EmcensusError


class ArchiveWriteError(ConfigError):
    """An output path lies inside an archive (a scan root): emcensus never writes there."""


def guard_output(
    path: str | os.PathLike[str],
    archives: Iterable[str | os.PathLike[str]],
    *,
    what: str = "output",
    folder: bool = False,
    suffixes: Iterable[str] | None = None,
) -> Path:
    """Check an output path and return it resolved; raise `ConfigError` with what to do instead.

    * never inside any of `archives` (resolved on both sides), nor an archive inside a folder output;
    * its parent folder must exist (a typo does not grow a tree of folders);
    * a file output must not be a folder, and its extension must be one of `suffixes` when given;
    * a folder output may exist (it is written into) or be created in an existing folder.
    """
    given = str(path)
    target = Path(os.path.realpath(os.path.abspath(path)))  # through every symlink, also of parts not there yet
    for archive in archives:
        if is_inside(target, archive):
            raise ArchiveWriteError(
                f"{what} {given} is inside the archive {archive}: emcensus never writes into an archive; "
                "choose a path outside it"
            )
        if folder and is_inside(archive, target):
            raise ArchiveWriteError(
                f"{what} {given} contains the archive {archive}: emcensus never writes into an archive; "
                "choose a folder beside it"
            )
    if not target.parent.is_dir():
        raise ConfigError(f"cannot write {what} {given}: folder {target.parent} does not exist (create it first)")
    if folder:
        if target.exists() and not target.is_dir():
            raise ConfigError(f"{what} {given} exists and is not a folder")
    else:
        if target.is_dir():
            raise ConfigError(f"{what} {given} is a folder; give a file name")
        if suffixes is not None:
            allowed = sorted(suffixes)
            suffix = Path(given).suffix
            if suffix.lower() not in allowed:
                raise ConfigError(
                    f"{what} {given}: unknown file type {suffix or '(no extension)'!r}; "
                    f"use one of {', '.join(allowed)}"
                )
    return target


def guard_folder_rewrite(
    folder: str | os.PathLike[str],
    archives: Iterable[str | os.PathLike[str]],
    *,
    what: str = "output",
) -> Path:
    """`guard_output` of a folder written into again (a report rewritten in place), and of every entry
    already in it: writing a file follows a symlink left there, into an archive too. Returns the
    resolved folder, created if new (its parent must exist)."""
    archives = list(archives)
    target = guard_output(folder, archives, what=what, folder=True)
    if target.is_dir():
        with os.scandir(target) as entries:
            for entry in entries:
                guard_output(entry.path, archives, what=what, folder=entry.is_dir())
    target.mkdir(exist_ok=True)
    return target


@contextmanager
def whole_file(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Write a file output whole or not at all: the block writes the path it is given, a new sibling
    `<name>.partial-…` (its mark below; named so that people see it is unfinished, and no `*.csv` glob takes
    it), renamed onto `target` in one step when the block ends; an exception leaving the block removes it,
    and `target` stays as it was. A reader sees the old file or the new one, never half of one; a SIGKILL
    leaves at most the partial. Not synced to disk (no output was before: a report's many files, a
    thumbnail per request). `target`'s folder is already guarded (`guard_output`).

    The partial is made here, exclusively (never a file or a link someone left at that name), with the
    usual permissions (umask's, not mkstemp's 0600); one replacing a file keeps that file's permissions
    and group, as writing into it did.

    A file has no room for a mark: the partial's name is its mark (`_partial`: this process and machine). The
    first write into a folder in a process removes every partial there whose name proves it was left by a
    process of this machine that is gone (its PID not running, or running a process started at another time):
    a `kill -9`'s leftovers, never a live writer's (another command's, or this one's other threads), nor one
    left before the host restarted (a start counted from another boot proves nothing)."""
    target = Path(target)
    _remove_stale_file_partials(target.parent)
    partial = _partial(target)
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666))
    try:
        yield partial
        with suppress(FileNotFoundError):
            _keep_mode(target, partial)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _keep_mode(previous: Path, partial: Path) -> None:
    """Give `partial` the permissions and group of `previous`, which it replaces: a file a file, a folder a
    folder (a link or another kind of entry gives nothing)."""
    given = os.stat(previous, follow_symlinks=False)
    if stat.S_IFMT(given.st_mode) != stat.S_IFMT(os.stat(partial, follow_symlinks=False).st_mode):
        return
    with suppress(OSError):  # a group this user is not in
        os.chown(partial, -1, given.st_gid)
    os.chmod(partial, stat.S_IMODE(given.st_mode))  # after chown, which clears set-group-ID


#: A partial's name after `<name>` (`_partial`): the writer's PID, its start, its machine (`_machine`), a random part.
_PARTIAL = re.compile(r"\.partial-(\d+)-(\d+)-([0-9a-f]{8})-[0-9a-f]{8}\Z", re.ASCII)  # \Z: `$` takes "...\n"
_swept: set[str] = set()  # folders whose stale file partials this process removed (once each: a thumbnail
# cache holds a file per image, and is written per request)


#: This boot's random id (Linux): a process's start is counted from its boot.
_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def _machine() -> str:
    """This host, its boot and its PID namespace, as 8 hex digits (`unknown` where the namespace or the boot
    is not known: no proof). The boot tells apart hosts of one name sharing a folder (two machines named
    `localhost`, cloned VMs): every Linux host's first PID namespace has the same number, so host and
    namespace alone made another machine's live writer look like a gone one of this machine."""
    namespace = _pid_namespace()
    try:
        boot = _BOOT_ID.read_text(encoding="ascii").strip()
    except (OSError, ValueError):
        return "unknown"
    if namespace is None or not boot:
        return "unknown"
    return hashlib.sha256(f"{socket.gethostname()}\0{boot}\0{namespace}".encode()).hexdigest()[:8]


_writer: tuple[int, str, str] | None = None  # this process's PID, start and machine: `_this_writer`


def _this_writer() -> tuple[int, str, str]:
    """This process as a partial's name marks it: its PID, its start (`unknown` where not known) and its machine
    (`_machine`). Read from /proc once per process (the thumbnail cache writes a file per image), again in a
    forked child, whose PID and start are its own."""
    global _writer
    pid = os.getpid()
    if _writer is None or _writer[0] != pid:
        _writer = pid, _process_started(pid) or "unknown", _machine()
    return _writer


def _partial(target: Path) -> Path:
    """The partial sibling a writer of `target` makes (`whole_file`, `whole_folder`): `<name>.partial-<pid>-
    <process start>-<machine>-<random>`. Its name proves whose it is (`_left_by_a_gone_process`); the random
    part keeps apart this process's writers of one name (threads: a thumbnail asked twice)."""
    pid, started, machine = _this_writer()
    return target.with_name(f"{target.name}.partial-{pid}-{started}-{machine}-{secrets.token_hex(4)}")


def _left_by_a_gone_process(name: str) -> bool:
    """Whether a partial's name (`_partial`) proves it was left by a process of this machine (host, boot and
    PID namespace) that is gone. One left before the host restarted is not: a start counted from another boot
    proves nothing, and another host of the same name and namespace sharing the folder has another boot."""
    mark = _PARTIAL.search(name)
    return bool(mark) and mark[3] == _this_writer()[2] and _gone(int(mark[1]), mark[2])


def _remove_stale_file_partials(folder: Path) -> None:
    """Remove, once per process, the file partials in `folder` left by a gone process of this machine
    (`whole_file`): regular files only, whose names say so; anything else is left for people to judge."""
    if str(folder) in _swept:
        return
    _swept.add(str(folder))
    if _this_writer()[2] == "unknown":
        return
    try:
        with os.scandir(folder) as entries:
            names = [entry.name for entry in entries if ".partial-" in entry.name and entry.is_file(follow_symlinks=False)]
    except OSError:
        return
    for name in names:
        if _left_by_a_gone_process(name):
            with suppress(OSError):
                os.unlink(folder / name)


#: In a folder output's partial sibling: the output it is written for, so that a later run can prove a leftover
#: is emcensus's own partial of that output (whose it is, its name says: `_partial`).
PARTIAL_MARK = "emcensus-partial.json"


@contextmanager
def whole_folder(target: Path, archives: Iterable[str | os.PathLike[str]], *, what: str = "output") -> Iterator[Path]:
    """Write a folder output whole or not at all: `target` (resolved by `guard_output`; absent, or an empty
    folder) appears complete when the block ends, or never. The block writes into the folder it is given,
    `<parent>/<name>.partial-…/<name>` (a sibling named so that people see it is unfinished, as `whole_file`'s:
    `_partial`); at the end that folder is renamed onto `target` in one step, and an exception leaving the block
    removes it. A partial left by a process killed outright (SIGKILL) is removed by the next run to the same
    target, once its mark (`PARTIAL_MARK`) proves it is emcensus's own partial of `target` and its name that its
    process, of this machine and boot, is gone; one left before the host restarted (a power cut) is not.

    An empty folder given that is a mount point (a disk, a container's volume) cannot be renamed onto, and
    a partial beside it would be written on the filesystem it is mounted in; one in a folder this process
    may not write (made for the user there) has no room beside it: the block writes into either, and an
    exception leaving the block removes what was written (a SIGKILL there leaves what it wrote)."""
    if target.is_dir() and (_mount_point(target) or not os.access(target.parent, os.W_OK | os.X_OK)):
        there = set(os.listdir(target))
        try:
            yield target
        except BaseException:
            for written in (target / name for name in set(os.listdir(target)) - there):
                if written.is_dir() and not written.is_symlink():
                    shutil.rmtree(written, ignore_errors=True)
                else:
                    written.unlink(missing_ok=True)
            raise
        return
    archives = list(archives)
    _remove_stale_partials(target, archives)
    partial = _partial(target)
    guard_output(partial, archives, what=what, folder=True)
    partial.mkdir()  # new, at its own name: never a folder or a link someone left there
    try:
        (partial / PARTIAL_MARK).write_text(json.dumps({"target": str(target)}))
        inner = partial / target.name
        inner.mkdir()
        if target.is_dir():  # the empty folder given, replaced at the end: its group and permissions stay
            _keep_mode(target, inner)
        yield inner
        os.rename(inner, target)  # replaces an empty folder given as the target; refused if it filled meanwhile
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def _mount_point(folder: Path, mountinfo: Path = Path("/proc/self/mountinfo")) -> bool:
    """Whether `folder` (resolved) is a mount point: another filesystem's root (`os.path.ismount`), or a bind
    mount of a folder of the same filesystem, which only the mount table tells (Linux's; elsewhere none)."""
    if os.path.ismount(folder):
        return True
    try:
        table = mountinfo.read_bytes()  # a path's bytes, as the kernel writes them (not the locale's text)
    except OSError:
        return False
    escaped = re.sub(rb"[ \t\n\\]", lambda char: b"\\%03o" % char[0][0], os.fsencode(folder))  # as the table does
    return any(len(fields) > 4 and fields[4] == escaped for fields in map(bytes.split, table.splitlines()))


def _pid_namespace() -> str | None:
    """This process's PID namespace (Linux), None where that is not known."""
    with suppress(OSError):
        return os.readlink("/proc/self/ns/pid")
    return None


def _process_started(pid: int) -> str | None:
    """When process `pid` started (clock ticks since boot; Linux), None where that is not known or it is gone."""
    with suppress(OSError, IndexError):
        stat_line = Path(f"/proc/{pid}/stat").read_text()
        return stat_line[stat_line.rindex(")") + 2:].split()[19]
    return None


def _gone(pid: int, started: object) -> bool:
    """Whether the process `pid` of this machine that started at `started` (`_process_started`) is gone: its
    PID runs no process, or one started at another time. A process whose start this one may not read
    (`/proc` mounted `hidepid`, systemd's `ProtectProc=invisible`: another user's) is there when its PID is
    (`kill(pid, 0)`: refused, not "no such process"), never taken for gone; nor one whose mark has no start."""
    if not isinstance(started, str) or pid <= 0:
        return False
    now = _process_started(pid)
    if now is not None:
        return now != started
    try:
        os.kill(pid, 0)  # signal 0: only whether it exists
    except ProcessLookupError:
        return True
    except (OSError, OverflowError):  # there, another user's (EPERM); or no PID at all
        pass
    return False


def _remove_stale_partials(target: Path, archives: list[str | os.PathLike[str]]) -> None:
    """Remove every partial of `target` left by a process that is gone (`_left_by_a_gone_writer`), but one
    that holds an archive (a leftover someone scanned since: never removed, like anything of an archive)."""
    try:
        siblings = list(target.parent.glob(f"{glob.escape(target.name)}.partial-*"))
    except OSError:
        return
    for sibling in siblings:
        if _left_by_a_gone_writer(sibling, target) and not any(is_inside(archive, sibling) for archive in archives):
            shutil.rmtree(sibling, ignore_errors=True)


def _left_by_a_gone_writer(folder: Path, target: Path) -> bool:
    """Whether `folder` is a partial of `target` (its mark names it) whose name proves it was left by a gone
    process of this machine (`_left_by_a_gone_process`); anything else, a folder people made among them, is
    left for them to judge."""
    if folder.is_symlink() or not folder.is_dir() or not _left_by_a_gone_process(folder.name):
        return False
    try:
        mark = json.loads(read_bounded(folder / PARTIAL_MARK, 4096, "partial's mark"))
    except (EmcensusError, ValueError):
        return False
    return isinstance(mark, dict) and mark.get("target") == str(target)


__all__ = ["ArchiveWriteError", "PARTIAL_MARK", "guard_folder_rewrite", "guard_output", "whole_file", "whole_folder"]
