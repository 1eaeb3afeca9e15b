"""Read-only walk of an archive root: folders → acquisitions (image files + their sidecar by stem).

Nothing here opens a file for writing or changes a timestamp. Symlinked folders are followed once;
a loop, a broken link or an unreadable folder becomes a recorded problem, and the walk goes on.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field

from emcensus.readers import IMAGE_EXTENSIONS, SIDECAR_EXTENSIONS, sidecar_key
from emcensus.readers.base import decode_text
from emcensus.record import Problem

_METADATA_LINE = re.compile(r"^\s*(\[[^\]]+\]|\$\$?[A-Z_]+\s|<\?xml|[\w .()/-]+\s*=)", re.MULTILINE)
_SIDECAR_LIKE = SIDECAR_EXTENSIONS | {".emi"}


@dataclass(slots=True, frozen=True)
class FileStat:
    path: str
    size: int
    mtime_ns: int


@dataclass(slots=True)
class Group:
    """One acquisition: files of one frame (same folder, same stem) and the sidecar they share."""

    key: str
    images: list[FileStat]
    sidecar: FileStat | None = None


@dataclass(slots=True)
class Folder:
    path: str
    groups: list[Group] = field(default_factory=list)
    orphans: list[FileStat] = field(default_factory=list)


def looks_like_metadata(path: str) -> bool:
    """Whether a sidecar-named file holds metadata (not a user's notes), from its first bytes."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(512)
    except OSError:
        return True  # unreadable: report it rather than hide it
    try:
        text = decode_text(head)
    except Exception:  # noqa: BLE001 - any undecodable head is still worth reporting
        return True
    return bool(_METADATA_LINE.search(text))


def walk(root: str, problems: list[Problem]) -> Iterator[Folder]:
    """Folders under `root` (depth first, subfolders in name order) with their acquisitions."""
    root = os.path.abspath(root)
    try:
        top = os.stat(root)
    except OSError as exc:
        problems.append(Problem(root, f"cannot open scan root: {exc.strerror or exc}"))
        return
    visited = {(top.st_dev, top.st_ino)}
    stack = [root]
    while stack:
        folder_path = stack.pop()
        try:
            with os.scandir(folder_path) as it:
                entries = list(it)
        except OSError as exc:
            problems.append(Problem(folder_path, f"cannot list folder: {exc.strerror or exc}"))
            continue
        subfolders: list[str] = []
        files: list[tuple[str, str, FileStat]] = []  # (stem, suffix, stat)
        for entry in entries:
            name = entry.name
            if name[0] == ".":  # hidden files and folders, macOS `._x.tif` shadows, `.DS_Store`
                continue
            try:
                info = entry.stat(follow_symlinks=True)
            except FileNotFoundError:
                problems.append(Problem(entry.path, f"broken symlink (points to {os.readlink(entry.path)!r})"))
                continue
            except OSError as exc:
                problems.append(Problem(entry.path, f"cannot stat: {exc.strerror or exc}"))
                continue
            if stat.S_ISDIR(info.st_mode):
                identity = (info.st_dev, info.st_ino)
                if identity in visited:
                    problems.append(Problem(entry.path, "symlink loop: this folder was already walked; skipped", "warning"))
                    continue
                visited.add(identity)
                subfolders.append(entry.path)
            elif stat.S_ISREG(info.st_mode):
                stem, dot, suffix = name.rpartition(".")
                suffix = "." + suffix.lower()
                if dot and stem and (suffix in IMAGE_EXTENSIONS or suffix in _SIDECAR_LIKE):
                    files.append((stem, suffix, FileStat(entry.path, info.st_size, info.st_mtime_ns)))
        yield _pair(folder_path, files)
        stack.extend(sorted(subfolders, reverse=True))


def _pair(folder_path: str, files: list[tuple[str, str, FileStat]]) -> Folder:
    """Group images by stem and attach the sidecar of the same stem (never by `ImageName=`)."""
    sidecars = {(stem.casefold(), suffix): item for stem, suffix, item in files if suffix in _SIDECAR_LIKE}
    used: set[tuple[str, str]] = set()
    groups: dict[str, Group] = {}
    for stem, suffix, item in files:
        if suffix not in IMAGE_EXTENSIONS:
            continue
        key = stem.casefold()
        group = groups.get(key)
        if group is None:
            group = groups[key] = Group(key=os.path.join(folder_path, key), images=[])
            sidecar_stem, extensions = sidecar_key(stem, suffix)
            sidecar_stem = sidecar_stem.casefold()
            for extension in extensions:
                found = sidecars.get((sidecar_stem, extension))
                if found is not None:
                    group.sidecar = found
                    used.add((sidecar_stem, extension))
                    break
        group.images.append(item)
    orphans = [
        item for (stem_ext, item) in sidecars.items() if stem_ext not in used and looks_like_metadata(item.path)
    ]
    return Folder(folder_path, list(groups.values()), orphans)
