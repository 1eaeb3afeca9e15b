"""The one guard for every path emcensus writes: catalog, thumbnail cache, exports, reports.

An archive is never written, so every output path is checked *before anything is created*, on
resolved paths (a symlink to the archive, or an archive root given as a symlink, is seen for what it
is). Folders are not created silently except the last one of a report or cache folder, and an output
of an unknown kind is refused rather than guessed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from emcensus.access import is_inside
from emcensus.errors import ConfigError


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


__all__ = ["ArchiveWriteError", "guard_folder_rewrite", "guard_output"]
