"""The watch reads what the catalog holds of a folder once a cycle: the settling decides on those rows
and the census compares the disk with the same rows (a sweep reads the whole root once)."""

from __future__ import annotations

import os
import threading
from collections import Counter
from pathlib import Path

import pytest

from emcensus.catalog import Catalog
from emcensus.watch import WatchSettings, watch
from emcensus.scan import RootSpec
from support import census_rows, write_tiff

LONG_AGO = 1_466_000_000


def test_each_folder_is_read_from_the_catalog_once_a_cycle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "archive"
    folders = [root / "groupA" / "p1", root / "groupA" / "p2", root / "groupB"]
    for index, folder in enumerate(folders):
        write_tiff(folder / f"old{index}.tif", seed=index)
    for folder, _, files in os.walk(root):
        for name in files:
            os.utime(Path(folder, name), (LONG_AGO, LONG_AGO))

    reads: list[Counter] = [Counter()]  # per cycle: (folder or None for the whole root, direct) -> reads
    real = Catalog.known_files

    def counting(self, root_id, folder=None, *, direct=False):  # type: ignore[no-untyped-def]
        reads[-1][(folder, direct)] += 1
        return real(self, root_id, folder, direct=direct)

    monkeypatch.setattr(Catalog, "known_files", counting)
    busy = folders[0]

    def log(line: str) -> None:
        if " cycle " in line:
            if len(reads) == 1:  # after the first sweep, a new file where the acquisition software writes
                write_tiff(busy / "new.tif", seed=9)
                os.utime(busy / "new.tif", (LONG_AGO, LONG_AGO))
            reads.append(Counter())

    settings = WatchSettings(interval=0.01, sidecar_timeout=30, full_sweep_hour=None, recent_days=0)
    with Catalog(tmp_path / "c.sqlite") as catalog:
        assert watch(catalog, [RootSpec(str(root), "SU8230")], settings, stop=threading.Event(), log=log,
                     cycles=3) == 3
        rows = {Path(row["path"]).name for row in census_rows(catalog)}
    sweep, *hot = reads[:3]
    assert sweep[(None, False)] == 1 and not [key for key in sweep if key[0] is not None]
    # cycle 2: every folder listed again (first seen in the sweep, not settled yet), busy's mtime changed too;
    # cycle 3: busy again (its new file settles): each folder listed is read once, not once more to compare
    assert {key[0] for key in hot[0]} == {str(folder) for folder in folders}
    assert set(hot[1]) == {(str(busy), True)}
    assert all(key[1] and count == 1 for cycle in hot for key, count in cycle.items())
    assert rows == {"old0.tif", "old1.tif", "old2.tif", "new.tif"}
