"""The one policy for reading archive files, used by the scan, the readers and the dashboard.

Every archive file emcensus touches goes through here, so that the same rules hold everywhere:

* **Read-only, no timestamps.** Files and folders are opened `O_RDONLY | O_NOATIME` where the OS
  allows it (Linux, when this process owns the file or is root). Elsewhere the kernel may update the
  access time (on mounts with `relatime`, at most once a day); the modification time is never changed.
* **Never blocks.** A FIFO, socket or device named `.tif` would hang `open()` or stream forever; the
  file is opened with `O_NONBLOCK`, checked with `fstat` to be a regular file, and refused otherwise.
* **Bounded.** Reads take a byte limit; callers that hand a path to a library (tifffile, h5py,
  mrcfile, rsciio) call `check_regular` first.
* **Inside the roots.** `inside_roots` resolves symlinks on both sides: a link that leaves every scan
  root is refused, by the scan and the dashboard alike.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from emcensus.errors import EmcensusError, UnreadableFileError

_NOATIME = getattr(os, "O_NOATIME", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_BINARY = getattr(os, "O_BINARY", 0)

#: Whether `O_NOATIME` may be used here: it fails with EPERM on files this process does not own.
_noatime_allowed = bool(_NOATIME)


class OutsideRootsError(EmcensusError):
    """A path resolves outside every scan root (a symlink that leaves the archive)."""


_FILE_TYPES = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISLNK, "a symlink"),
)


def kind_of(mode: int) -> str:
    """A person's word for a non-regular file type."""
    return next((word for test, word in _FILE_TYPES if test(mode)), "not a regular file")


def _open_fd(path: str | os.PathLike[str], flags: int) -> int:
    """`os.open` read-only with O_NOATIME when permitted; falls back without it on EPERM."""
    global _noatime_allowed
    base = os.O_RDONLY | _CLOEXEC | _BINARY | flags
    if _noatime_allowed:
        try:
            return os.open(path, base | _NOATIME)
        except PermissionError as exc:
            if exc.errno != errno.EPERM:
                raise
            # Not the owner: the kernel refuses O_NOATIME. Plain read-only access still works.
            try:
                fd = os.open(path, base)
            except OSError:
                raise exc from None
            _noatime_allowed = False
            return fd
    return os.open(path, base)


def open_fd(path: str | os.PathLike[str]) -> int:
    """A read-only descriptor on a *regular* file, opened without blocking and without touching atime."""
    return _open_regular(path)[0]


def _open_regular(path: str | os.PathLike[str]) -> tuple[int, int]:
    """`open_fd`'s descriptor and the file's size (from the `fstat` that checked it)."""
    try:
        fd = _open_fd(path, _NONBLOCK)
    except OSError as exc:
        raise UnreadableFileError(f"cannot open: {exc.strerror or exc}") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnreadableFileError(f"not a regular file: {kind_of(info.st_mode)}; not read")
        if _NONBLOCK:
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd, info.st_size


def open_file(path: str | os.PathLike[str]) -> BinaryIO:
    """`open(path, "rb")` under the policy: a regular file, read-only, non-blocking open, no atime."""
    return os.fdopen(open_fd(path), "rb")


def file_sha256(path: str | os.PathLike[str], chunk_bytes: int = 1 << 20) -> str:
    """sha256 of a regular file's bytes, read under the policy in chunks (an image may be GBs): the
    content id of an archive file (quality, reuse) and the checksum of an exported one."""
    digest = hashlib.sha256()
    with open_file(path) as handle:
        while chunk := handle.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def read_head(path: str | os.PathLike[str], limit: int) -> bytes:
    """At most `limit` bytes from the start of a regular file: up to its size when it has one (no read
    to find the end: a census reads the head of every file), else to the limit or the end."""
    return read_head_and_size(path, limit)[0]


def read_head_and_size(path: str | os.PathLike[str], limit: int) -> tuple[bytes, int]:
    """`read_head` and the file's size from the `fstat` that checked it (a reader needs no second stat)."""
    fd, size = _open_regular(path)
    try:
        return _read_fd(fd, min(limit, size) if size else limit, ""), size
    finally:
        os.close(fd)


def read_bounded(path: str | os.PathLike[str], limit: int, what: str = "file") -> bytes:
    """The whole of a regular file that must be small (a sidecar, a header); refused when larger."""
    fd, size = _open_regular(path)
    try:
        if size > limit:
            raise UnreadableFileError(f"{what} is {size:,} bytes, more than the {limit:,} a {what} can be; not read")
        data = _read_fd(fd, size + 1, f" {what}")  # a buffer of the file's size, not of the limit: a census reads one per image
        if len(data) > size:  # grew since the fstat
            data += _read_fd(fd, limit + 1 - len(data), f" {what}")
    finally:
        os.close(fd)
    if len(data) > limit:
        raise UnreadableFileError(f"{what} is more than {limit:,} bytes; not read")
    return data


def _read_fd(fd: int, limit: int, what: str) -> bytes:
    """Up to `limit` bytes from a descriptor: until the limit or the end of the file (a short read
    of a network file system is continued), without the buffered file object's own cost."""
    chunks, left = [], limit
    try:
        while left > 0 and (chunk := os.read(fd, left)):
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise UnreadableFileError(f"cannot read{what}: {exc.strerror or exc}") from exc
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def check_regular(path: str | os.PathLike[str]) -> os.stat_result:
    """Stat (following links) and refuse anything but a regular file, before a library opens it by name."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise UnreadableFileError(f"cannot open: {exc.strerror or exc}") from exc
    if not stat.S_ISREG(info.st_mode):
        raise UnreadableFileError(f"not a regular file: {kind_of(info.st_mode)}; not read")
    return info


@contextlib.contextmanager
def scandir(folder: str) -> Iterator[Iterator[os.DirEntry[str]]]:
    """`os.scandir(folder)` without updating the folder's atime where O_NOATIME is allowed.

    The entries are `os.scandir`'s own, unwrapped (a census lists millions of them): take a path as
    `folder` joined with `entry.name` (from a descriptor scan `entry.path` is the bare name), and
    call `entry.stat()` inside the `with` (it is relative to the open folder).
    """
    try:
        fd = _open_fd(folder, _DIRECTORY)
    except OSError:
        fd = None
    if fd is None or os.scandir not in os.supports_fd:
        if fd is not None:
            os.close(fd)
        with os.scandir(folder) as it:
            yield it
        return
    try:
        with os.scandir(fd) as it:
            yield it
    finally:
        os.close(fd)


def listdir(folder: str | os.PathLike[str]) -> list[str]:
    """`os.listdir(folder)` under the policy: the folder's atime is left alone where O_NOATIME is allowed."""
    with scandir(os.fspath(folder)) as entries:
        return [entry.name for entry in entries]


def is_under(real: str, real_root: str) -> bool:
    """Whether the resolved path `real` is `real_root` or below it (both already resolved)."""
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


def is_inside(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> bool:
    """Whether `path` resolves to `root` or below it (both resolved)."""
    return is_under(os.path.realpath(path), os.path.realpath(root))


def inside_roots(path: str | os.PathLike[str], roots: Iterable[str | os.PathLike[str]]) -> Path:
    """The resolved `path` if it lies in one of `roots` (symlinks resolved on both sides), else raise."""
    real = os.path.realpath(path)
    for root in roots:
        if is_under(real, os.path.realpath(root)):
            return Path(real)
    raise OutsideRootsError("the file resolves outside the catalog's scan roots: not read")


__all__ = [
    "OutsideRootsError",
    "check_regular",
    "inside_roots",
    "is_inside",
    "is_under",
    "kind_of",
    "listdir",
    "open_fd",
    "open_file",
    "read_bounded",
    "read_head",
    "read_head_and_size",
    "scandir",
]
