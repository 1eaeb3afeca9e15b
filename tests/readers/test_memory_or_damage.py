"""A file that declares more than it holds is damaged, said so before anything is allocated; a file that
is whole but needs more memory than the reading process may take is not damaged, and says which limit
it met and how to raise it (`$EMCENSUS_WORKER_MEMORY`): the two lines never stand for each other. Read in
a `Producer`, a process capped as every reading process is."""

from __future__ import annotations

import os
import sqlite3
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from emcensus.errors import UnreadableFileError
from emcensus.figures.documents import FigureError, iter_figures
from emcensus import readers as readers_module
from emcensus.readers import read_metadata
from emcensus.readers.base import Reader, Reading, Source
from emcensus.scan.pool import MEMORY_ENV, MEMORY_LEAST, Producer


def dm3(path: Path, count: int, element: bytes, values: bytes) -> Path:
    """A DM3 file whose root holds one tag, an array of `count` elements (`element`: its info after the
    array's type, 20), then `values`; no image (a whole file is read to its end, then refused for that)."""
    name = b"Values"
    tag = (b"\x15" + struct.pack(">h", len(name)) + name + b"%%%%" + struct.pack(">l", 1 + len(element) // 4)
           + struct.pack(">l", 20) + element + values)
    body = b"\x01\x00" + struct.pack(">l", 1) + tag
    path.write_bytes(struct.pack(">lll", 3, len(body) + 12, 1) + body)
    return path


def strings(path: Path, count: int) -> Path:
    """An array of `count` empty strings: nothing in the file per element."""
    return dm3(path, count, struct.pack(">lll", 18, 0, count), b"")


def floats(path: Path, count: int) -> Path:
    """An array of `count` float32 values, all there."""
    return dm3(path, count, struct.pack(">ll", 6, count), bytes(4 * count))


def _read(path: Path) -> list[str]:
    try:
        read_metadata(path)
    except UnreadableFileError as exc:
        return [str(exc).removeprefix(f"{path}: ")]
    return ["read"]


def _figures(path: Path) -> list[str]:
    """A document's figures as `figures match` reads them (in a `Producer`), or its one line."""
    try:
        return [f"{figure.pixels.shape}" for figure in iter_figures(path)]
    except FigureError as exc:
        return [str(exc)]


def _in_a_capped_process(path: Path, gib: str, read: Callable[[Path], list[str]] = _read, preload: bool = True) -> str:
    """What `read` gives for `path` in a reading process capped at `gib`, forked from a fresh interpreter: a
    fork of this test process would inherit the heap earlier tests freed, which the cap counts as held and the
    reading may fill again (in the whole suite, a 64 MB read passed a 32 MiB cap). `preload`: rsciio loaded
    before the fork, as a scan's workers have it after their first Gatan file; else the reading loads it."""
    code = ("import sys; from pathlib import Path; sys.path[:0] = [sys.argv[1]]; import test_memory_or_damage as t; "
            "print(t._capped(Path(sys.argv[2]), getattr(t, sys.argv[3]), sys.argv[4] == 'preload'))")
    env = {name: value for name, value in os.environ.items() if name != "OPENBLAS_NUM_THREADS"}  # as a user's
    done = subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent), str(path), read.__name__,
                           "preload" if preload else "cold"], env={**env, MEMORY_ENV: gib}, capture_output=True,
                          text=True, timeout=300, check=True)
    return done.stdout.splitlines()[-1]


def _capped(path: Path, read: Callable[[Path], list[str]], preload: bool) -> str:
    if preload:
        import rsciio.digitalmicrograph._api  # noqa: F401

    reader = Producer(read, 120)
    try:
        (line,) = reader.items(path)
    finally:
        reader.close()
    return line


def test_an_array_declared_larger_than_the_file_is_damage_refused_before_allocating(tmp_path: Path) -> None:
    """2**31 - 1 empty strings in a 70-byte file (read one by one they would fill memory one list slot
    at a time): refused at once, with what it declares."""
    bomb = strings(tmp_path / "bomb.dm3", 2**31 - 1)
    assert _in_a_capped_process(bomb, "0.25") == (
        "damaged DM file: a tag declares 2,147,483,647 values of 1 bytes where 0 bytes are left")


def test_a_whole_file_past_the_memory_cap_says_the_cap_not_damage(tmp_path: Path) -> None:
    """5 M float32 values (20 MB, all there; 160 MB as rsciio's Python list): in a process that may take
    the least a cap may give (0.125 GiB) it is that limit's line, naming it; given the memory, the same file
    reads to its end."""
    whole = floats(tmp_path / "whole.dm3", 5_000_000)
    assert _in_a_capped_process(whole, f"{MEMORY_LEAST / 2**30:g}") == (
        f"needs more memory than a reading process may take (0.125 GiB; ${MEMORY_ENV}=GIB gives each more, "
        "or off); not read")
    assert _in_a_capped_process(whole, "off") == "DM file holds no image (only a thumbnail or nothing)"


def test_a_figure_past_the_memory_cap_says_the_cap(tmp_path: Path) -> None:
    """A picture within the pixels a figure may have (25 Mpx), decoded in a reading process that may take
    0.125 GiB: its line names that limit and how to raise it, as a scan's reader does; given the memory, it
    reads."""
    from PIL import Image

    picture = tmp_path / "figure.png"
    Image.new("RGB", (5000, 5000), (90, 90, 90)).save(picture)
    assert _in_a_capped_process(picture, f"{MEMORY_LEAST / 2**30:g}", _figures) == (
        f"{picture}: needs more memory than a reading process may take (0.125 GiB; ${MEMORY_ENV}=GIB gives "
        "each more, or off); not read")
    assert _in_a_capped_process(picture, "off", _figures) == "(5000, 5000)"


def test_a_scan_given_the_least_cap_loads_the_readers_libraries_and_reads_every_sample(
        vendor_samples: Path, tmp_path: Path) -> None:
    """At the least a cap may give, a scan's worker reads every vendor sample, loading rsciio and scipy's own
    OpenBLAS under the cap on its first Gatan file: that OpenBLAS starts one thread (~40 MiB each), not one per
    core (on 2 cores it spun in its allocation retries: each Gatan file past its time budget). A command of its
    own, as a user's, so that nothing this test process loaded is inherited."""
    catalog = tmp_path / "census.sqlite"
    env = {name: value for name, value in os.environ.items() if name != "OPENBLAS_NUM_THREADS"}
    subprocess.run([sys.executable, "-c", "from emcensus.cli.main import main; main()", "--catalog", str(catalog),
                    "scan", str(vendor_samples), "--instrument", "SU8230", "--workers", "1", "--quiet"],
                   env={**env, MEMORY_ENV: f"{MEMORY_LEAST / 2**30:g}"}, check=True, timeout=600)
    with sqlite3.connect(catalog) as db:
        assert db.execute("SELECT path, error FROM images WHERE error IS NOT NULL").fetchall() == []
        assert db.execute("SELECT count(*) FROM images").fetchone()[0] >= 20


class _Claims(Reader):
    """A reader of `.dm3` that accepts every file; `read` raises `error` (its own words or a MemoryError)."""

    name = vendor = "claims"
    extensions = frozenset({".dm3"})

    def __init__(self, error: BaseException):
        self.error, self.reads = error, 0

    def accepts(self, source: Source) -> bool:
        return True

    def read(self, source: Source) -> Reading:
        self.reads += 1
        raise self.error


def test_memory_met_by_one_reader_is_the_line_and_no_other_reader_is_tried(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file whose first reader ran out of memory is not the next reader's to judge (its words would stand
    for the file: "damaged", "not a ..."); a reader's own words pass the file on, a MemoryError under them
    is memory too."""
    path = floats(tmp_path / "any.dm3", 4)
    for first in (MemoryError(), UnreadableFileError("damaged: MemoryError")):
        if isinstance(first, UnreadableFileError):
            first.__cause__ = MemoryError()
        readers = [_Claims(first), _Claims(UnreadableFileError("not a claims file"))]
        monkeypatch.setattr(readers_module, "READERS", readers)
        assert _read(path) == ["needs more memory than this machine could give; not read"]
        assert [reader.reads for reader in readers] == [1, 0]
    readers = [_Claims(UnreadableFileError("not this one")), _Claims(UnreadableFileError("not a claims file"))]
    monkeypatch.setattr(readers_module, "READERS", readers)
    assert _read(path) == ["not a claims file"] and [reader.reads for reader in readers] == [1, 1]
