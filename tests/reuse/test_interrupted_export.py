"""Ctrl-C during a pooled `reuse export`: one line, exit status 130, its workers ended at once (not after
the images in flight), no process left, and no export folder, whole or half: the next export writes it.
An export that fails (a full disk) leaves the folder it was given as it was."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from emcensus.catalog import Catalog
from emcensus.cli.main import INTERRUPTED
from emcensus.errors import OutputError
from emcensus.reuse import describe
from emcensus.reuse.export import ReuseOptions, export_reuse
from interrupting import SLOW_PIXELS, busy_workers, interrupt_cli
from reuse.support_reuse import SECRET, Census
from support import fingerprint


def test_ctrl_c_during_an_export_leaves_no_folder_and_the_next_export_writes_it(census: Census, exported: Path,
                                                                                 tmp_path: Path) -> None:
    out, marker, began = tmp_path / "dataset", tmp_path / "reads", []
    export = ["reuse", "export", str(out), "--license", "CC-BY-4.0", "--secret-file", str(census.secret_file)]
    done = interrupt_cli(["--catalog", str(census.catalog), *export, "--workers", "2"],
                         SLOW_PIXELS.format(marker=str(marker)), marker, busy_workers(began))
    assert done.returncode == 130
    assert "Traceback" not in done.stderr and done.stderr.count(INTERRUPTED) == 1, done.stderr
    assert done.stderr.rstrip().endswith(INTERRUPTED)
    # the images in flight were not staged (14 more reads each, 0.2 s apiece): a read or two that began
    # between the check and the signal at most
    assert len(marker.read_text().split()) <= began[0] + 2
    assert sorted(path.name for path in tmp_path.iterdir()) == ["reads"]  # nothing of the export, hidden or not
    assert fingerprint(census.root) == census.untouched

    census.invoke(*export, "--workers", "0")
    assert sorted(path.relative_to(out) for path in out.rglob("*")) == \
        sorted(path.relative_to(exported) for path in exported.rglob("*"))
    assert _data_digests(out) == _data_digests(exported)


def _data_digests(folder: Path) -> list[str]:
    """The manifest's lines of the images and their metadata (the descriptions say when they were written)."""
    return [line for line in (folder / "manifest-sha256.txt").read_text().splitlines() if "  data/" in line]


def test_an_export_that_fails_at_its_last_file_leaves_the_empty_folder_given_empty(
        census: Census, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "dataset"
    out.mkdir()
    written = describe.write_manifest

    def disk_full(folder: Path) -> Path:
        written(folder)  # the manifest too: every file of the export is there when the disk fills
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(describe, "write_manifest", disk_full)
    with Catalog(census.catalog, readonly=True) as catalog, pytest.raises(OutputError) as failed:
        export_reuse(catalog, out, ReuseOptions(license="CC-BY-4.0"), SECRET.encode(), workers=2)
    assert "No space left on device" in str(failed.value) and "nothing of it was left" in str(failed.value)
    assert out.is_dir() and not any(out.iterdir())
    assert sorted(path.name for path in tmp_path.iterdir()) == ["dataset"]


def test_a_sigkill_midway_leaves_a_partial_named_so_and_the_next_export_removes_it(census: Census, exported: Path,
                                                                                   tmp_path: Path) -> None:
    """SIGKILL (no handler runs) to every process of `reuse export` while it stages images: no folder at the
    export's name, only `dataset.partial-PID-…` beside it, marked as the export's own; the next export to the
    same folder removes it (its process is gone) and writes the whole export. A folder people named
    alike, without the mark, is left alone."""
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    from emcensus.outputs import PARTIAL_MARK
    from interrupting import SLOW_PIXELS

    out, marker = tmp_path / "dataset", tmp_path / "reads"
    theirs = tmp_path / "dataset.partial-notes"
    theirs.mkdir()
    export = ["reuse", "export", str(out), "--license", "CC-BY-4.0", "--secret-file", str(census.secret_file)]
    run = SLOW_PIXELS.format(marker=str(marker)) + "\nfrom emcensus.cli.main import main\nmain(prog_name='emcensus')\n"
    command = subprocess.Popen([sys.executable, "-c", run, "--catalog", str(census.catalog), *export, "--workers", "2"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while len(marker.read_text().split()) < 6 if marker.exists() else True:
            assert command.poll() is None, command.communicate()
            assert time.monotonic() < deadline, "the export never began staging"
            time.sleep(0.05)
    finally:
        os.killpg(command.pid, signal.SIGKILL)
        command.communicate(timeout=60)
    assert command.returncode == -signal.SIGKILL
    (partial,) = tmp_path.glob(f"dataset.partial-{command.pid}-*")
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(["dataset.partial-notes", partial.name, "reads"])
    assert json.loads((partial / PARTIAL_MARK).read_text()) == {"target": str(out)}
    assert [path.name for path in partial.iterdir() if path.is_dir()] == ["dataset"]  # unfinished, under its name

    census.invoke(*export, "--workers", "0")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["dataset", "dataset.partial-notes", "reads"]
    assert sorted(path.relative_to(out) for path in out.rglob("*")) == \
        sorted(path.relative_to(exported) for path in exported.rglob("*"))
    assert _data_digests(out) == _data_digests(exported)
    assert fingerprint(census.root) == census.untouched
