"""Read-only walk of an archive root: folders → acquisitions (image files + their sidecar by stem).

Nothing here opens a file for writing or changes a timestamp: folders are listed and sidecar heads
read through `emcensus.access` (O_NOATIME where the OS allows it; a symlink's own access time is
updated by the kernel whenever it is followed, which no flag prevents). Only regular files are
ever opened: a FIFO, socket or device named like an image is listed as a problem, never read.

Symlinks: one that resolves outside the root is not followed (a folder is not walked, a file not
read) and is listed as a warning, without its target. A symlinked folder that points inside the
root is an alias or a loop and is skipped, since the walk reaches that folder at its real path.
Loops, broken links and unreadable folders become recorded problems, and the walk goes on.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from emcensus import access
from emcensus.errors import EmcensusError
from emcensus.readers import IMAGE_EXTENSIONS, SIDECAR_EXTENSIONS, sidecar_key
from emcensus.readers.base import decode_text
from emcensus.record import Problem, reduce_by_fields

_METADATA_LINE = re.compile(r"^\s*(\[[^\]]+\]|\$\$?[A-Z_]+\s|<\?xml|[\w .()/-]+\s*=)", re.MULTILINE)
_SIDECAR_LIKE = SIDECAR_EXTENSIONS | {".emi"}
_HEAD_BYTES = 512

#: What the audit says of a link that leaves the root (its target is not shown: it is not ours to show).
OUTSIDE_LINK = "symlink to outside this root (target not shown): not followed"


class FileStat(NamedTuple):
    """A census file as the walk found it. A tuple: made for every file of every rescan, three times
    cheaper than a frozen dataclass, and pickled as plainly (tasks travel to the reading processes)."""

    path: str
    size: int
    mtime_ns: int


@dataclass(slots=True)
class Group:
    """One acquisition: files of one frame (same folder, same stem) and the sidecar they share; or,
    `sidecar_only`, a sidecar whose image is gone (in `images`, read alone)."""

    key: str
    images: list[FileStat]
    sidecar: FileStat | None = None
    sidecar_only: bool = False

    __reduce__ = reduce_by_fields


@dataclass(slots=True)
class Folder:
    path: str
    groups: list[Group] = field(default_factory=list)
    orphans: list[Group] = field(default_factory=list)  # sidecars whose image is gone, `sidecar_only`
    subfolders: list[str] = field(default_factory=list)  # what the walk descends into next
    #: Digest of the folder's entries (name, kind, size, mtime, where a link leads): equal at the next scan,
    #: nothing in it changed.
    fingerprint: bytes = b""
    #: Set while the folder is not paired into `groups` (`walk(stored=...)`): its files and the
    #: problems of its entries, until `pair` (a survey that finds no change never pairs it).
    unpaired: _Unpaired | None = None


@dataclass(slots=True)
class _Unpaired:
    plain: list[tuple[str, int, int]]  # regular files: (name, size, mtime_ns), any name
    files: list[tuple[str, str, FileStat]]  # census files that took the slow path: (stem, suffix, stat)
    problems: list[Problem]


def looks_like_metadata(path: str) -> bool:
    """Whether a sidecar-named file holds metadata (not a user's notes), from its first bytes."""
    try:
        head = access.read_head(path, _HEAD_BYTES)
    except EmcensusError:
        return True  # unreadable: report it rather than hide it
    try:
        text = decode_text(head)
    except Exception:  # noqa: BLE001 - any undecodable head is still worth reporting
        return True
    return bool(_METADATA_LINE.search(text))


def walk(top: str, problems: list[Problem], *, boundary: str | None = None, recurse: bool = True,
         stored: Mapping[str, bytes] | None = None, nested: Collection[str] = ()) -> Iterator[Folder]:
    """Folders under `top` (depth first, subfolders in name order) with their acquisitions.

    `boundary`: the scan root `top` belongs to (default: `top`). `recurse=False` yields `top` alone,
    its `subfolders` listed, so that parts of one root can be walked in parallel. `stored`: folder
    fingerprints of the last scan; a folder whose fingerprint is the same comes unpaired (see
    `Folder.unpaired`, `pair`): a rescan that finds nothing changed does no per-file work.
    `nested`: folders that are other roots (`scan.nesting`), listed in their parent but not walked.
    """
    top = os.path.abspath(top)
    boundary = os.path.realpath(boundary or top)
    try:
        info = os.stat(top)
    except OSError as exc:
        problems.append(Problem(top, f"cannot open scan root: {exc.strerror or exc}"))
        return
    visited = {(info.st_dev, info.st_ino)}
    stack = [top]
    while stack:
        folder = _list(stack.pop(), boundary, visited, problems, stored or {}, nested)
        if folder is None:
            continue
        yield folder
        if recurse:
            stack.extend(reversed(folder.subfolders))


def _split(name: str) -> tuple[str, str] | None:
    """(stem, lower-case extension) of an image or sidecar name, else None (not ours to census)."""
    stem, dot, suffix = name.rpartition(".")
    suffix = "." + suffix.lower()
    return (stem, suffix) if dot and stem and (suffix in IMAGE_EXTENSIONS or suffix in _SIDECAR_LIKE) else None


def _list(folder_path: str, boundary: str, visited: set[tuple[int, int]], problems: list[Problem],
          stored: Mapping[str, bytes], nested: Collection[str] = ()) -> Folder | None:
    """One folder's acquisitions, orphan sidecars and the subfolders to walk next (unpaired when its
    fingerprint is the `stored` one)."""
    subfolders: list[str] = []
    plain: list[tuple[str, int, int]] = []
    files: list[tuple[str, str, FileStat]] = []  # (stem, suffix, stat)
    held: list[Problem] = []  # of the entries: given to `problems` when the folder is paired
    marks: list[str] = []  # one per entry, for the fingerprint
    prefix = os.path.join(folder_path, "")
    try:
        with access.scandir(folder_path) as entries:  # entries stat relative to the open folder: use them inside
            for entry in entries:
                name = entry.name
                if name[0] == ".":  # hidden files and folders, macOS `._x.tif` shadows, `.DS_Store`
                    continue
                # Most entries are plain files (the type comes with the listing): only marked here,
                # without a call per entry; folders, links and the rest go through `_entry`.
                try:
                    info = entry.stat() if entry.is_file(follow_symlinks=False) else None
                except OSError:  # gone or unreadable since the listing: `_entry` says which
                    info = None
                if info is None or not stat.S_ISREG(info.st_mode):
                    _entry(entry, prefix, boundary, visited, held, subfolders, files, marks)
                    continue
                size, mtime_ns = info.st_size, info.st_mtime_ns
                marks.append(f"{name}/8:{size}:{mtime_ns}")  # as `_entry` marks a regular file (S_IFREG >> 12)
                plain.append((name, size, mtime_ns))
    except OSError as exc:
        problems.append(Problem(folder_path, f"cannot list folder: {exc.strerror or exc}"))
        return None
    if nested:  # marked in the listing all the same: a nested root appearing or going changes its parent
        subfolders = [path for path in subfolders if path not in nested]
    folder = Folder(folder_path, subfolders=sorted(subfolders), fingerprint=fingerprint(marks),
                    unpaired=_Unpaired(plain, files, held))
    if stored.get(folder_path) != folder.fingerprint:
        pair(folder, problems)
    return folder


def pair(folder: Folder, problems: list[Problem]) -> None:
    """Fill the `groups` and `orphans` of a folder `walk` left unpaired; the problems of its entries
    and of the pairing go to `problems`."""
    unpaired = folder.unpaired
    if unpaired is None:
        return
    folder.unpaired = None
    problems.extend(unpaired.problems)
    prefix = os.path.join(folder.path, "")
    files = unpaired.files
    for name, size, mtime_ns in unpaired.plain:
        named = _split(name)
        if named is not None:
            files.append((*named, FileStat(prefix + name, size, mtime_ns)))
    folder.groups, folder.orphans = _pair(folder.path, files, problems)


def fingerprint(marks: list[str]) -> bytes:
    """The digest of a folder's entry marks, in any order (names cannot hold "/": unambiguous)."""
    marks.sort()
    return hashlib.blake2b("/".join(marks).encode("utf-8", "surrogateescape"), digest_size=16).digest()


def _entry(entry: os.DirEntry[str], prefix: str, boundary: str, visited: set[tuple[int, int]],
           problems: list[Problem], subfolders: list[str], files: list[tuple[str, str, FileStat]],
           marks: list[str]) -> None:
    """Sort one folder entry (its path: `prefix` + name) into a subfolder to walk, a file to census,
    or a recorded problem; mark it for the folder's fingerprint (a subfolder by name and kind: its
    own fingerprint covers the rest)."""
    name = entry.name
    try:
        info = entry.stat(follow_symlinks=True)
    except FileNotFoundError:
        pointed = _link_target(prefix + name)
        marks.append(f"{name}/broken{_target_mark(pointed)}")
        target = f" (points to {pointed!r})" if pointed is not None else ""  # None: gone in the meantime
        problems.append(Problem(prefix + name, f"broken symlink{target}"))
        return
    except OSError as exc:
        marks.append(f"{name}/unreadable")
        problems.append(Problem(prefix + name, f"cannot stat: {exc.strerror or exc}"))
        return
    mode = info.st_mode
    is_folder = stat.S_ISDIR(mode)
    path = prefix + name
    link = "l" if entry.is_symlink() else ""
    # where a link leads is marked too: one led elsewhere changes what its folder reads or the
    # problem it has (a link to a folder is never walked: nothing else of it is marked)
    real = os.path.realpath(path) if link else ""
    aimed = _target_mark(real) if link else ""
    marks.append(f"{name}/{link}d{aimed}" if is_folder
                 else f"{name}/{link}{mode >> 12}:{info.st_size}:{info.st_mtime_ns}{aimed}")
    named = None if is_folder else _split(name)
    if link and (is_folder or named):
        if not access.is_under(real, boundary):
            problems.append(Problem(path, OUTSIDE_LINK, "warning"))
            return
        if is_folder:
            problems.append(Problem(
                path, f"symlink loop or alias: points to {real}, inside this root, walked there; skipped",
                "warning"))
            return
    if is_folder:
        identity = (info.st_dev, info.st_ino)
        if identity in visited:
            problems.append(Problem(path, "symlink loop: this folder was already walked; skipped", "warning"))
            return
        visited.add(identity)
        subfolders.append(path)
    elif named is None:
        return  # not an image or sidecar name: not part of the census
    elif stat.S_ISREG(mode):
        files.append((*named, FileStat(path, info.st_size, info.st_mtime_ns)))
    else:  # never opened: a FIFO or device would block or stream forever
        problems.append(Problem(path, f"{access.kind_of(mode)} named {named[1]}: not a regular file, not read"))


def _link_target(path: str) -> str | None:
    """What the symlink at `path` points to, as written in it; None when it is gone."""
    try:
        return os.readlink(path)
    except OSError:
        return None


def _target_mark(target: str | None) -> str:
    """Where a link leads, in a fingerprint mark: hex, so that no "/" of it can join two marks into one."""
    return "" if target is None else ">" + os.fsencode(target).hex()


def _pair(folder_path: str, files: list[tuple[str, str, FileStat]], problems: list[Problem]
          ) -> tuple[list[Group], list[Group]]:
    """Group images by stem and attach the sidecar of the same stem (never by `ImageName=`); a
    metadata sidecar left over is an orphan (its image is gone) or, beside its image, a second one."""
    sidecars = {(stem.casefold(), suffix): item for stem, suffix, item in files if suffix in _SIDECAR_LIKE}
    used: set[tuple[str, str]] = set()
    groups: dict[str, Group] = {}
    prefix = os.path.join(folder_path, "")
    for stem, suffix, item in files:
        if suffix not in IMAGE_EXTENSIONS:
            continue
        key = stem.casefold()
        group = groups.get(key)
        if group is None:
            group = groups[key] = Group(key=prefix + key, images=[])
            sidecar_stem, extensions = sidecar_key(stem, suffix)
            sidecar_stem = sidecar_stem.casefold()
            for extension in extensions:
                found = sidecars.get((sidecar_stem, extension))
                if found is not None:
                    group.sidecar = found
                    used.add((sidecar_stem, extension))
                    break
        group.images.append(item)
    orphans = []
    for (stem, suffix), item in sidecars.items():
        if (stem, suffix) in used or not looks_like_metadata(item.path):
            continue
        group = groups.get(stem)
        if group is None:
            orphans.append(Group(prefix + stem, [item], sidecar_only=True))
        else:
            chosen = os.path.basename(group.sidecar.path) if group.sidecar else "none"
            problems.append(Problem(item.path, f"second sidecar of {os.path.basename(group.images[0].path)}: "
                                               f"not read (the image's sidecar: {chosen})", "warning"))
    return list(groups.values()), orphans
