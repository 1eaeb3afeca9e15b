"""The watch's local workers end with it: an exception leaving the loop (an error of the caller, a
Ctrl-C that reached Python) kills them at once, as every other user of the scan's `Pool` does."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from emcensus.catalog import Catalog
from emcensus.scan import RootSpec
from emcensus.scan.pool import Pool
from emcensus.watch import WatchSettings, loop, watch

FAST = WatchSettings(interval=0.05, sidecar_timeout=30, answer_timeout=5, max_backoff=0.2)


def test_an_exception_leaving_the_watch_ends_its_workers(tiny_archive: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    for folder, _, files in os.walk(tiny_archive):  # written long ago: read at the first cycle
        for name in files:
            os.utime(Path(folder, name), (1_466_000_000, 1_466_000_000))
    pools: list[Pool] = []

    class Watched(Pool):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            pools.append(self)

    monkeypatch.setattr(loop, "Pool", Watched)

    def log(line: str) -> None:  # the second cycle's line (the first holds files until they held still)
        if "cycle 2" in line:
            pools[0].submit(time.sleep, 60)  # a read in flight when the exception comes: not waited for
            raise KeyboardInterrupt

    started = time.monotonic()
    with Catalog(tmp_path / "c.sqlite") as catalog, pytest.raises(KeyboardInterrupt):
        watch(catalog, [RootSpec(str(tiny_archive), "SU8230")], FAST, stop=threading.Event(), log=log,
              quiet=True, workers=2)
    assert time.monotonic() - started < 30
    (pool,) = pools
    workers = list(pool._local.processes.values())  # noqa: SLF001 - the pool's own processes
    assert workers, "the second cycle read its files on the pool's workers"
    assert all(process.exitcode is not None for process in workers)
