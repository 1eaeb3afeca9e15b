"""`outputs.whole_file`: every file emcensus writes is old or new, never half. A writer failing midway (a
full disk) leaves the previous file as it was and no partial behind, for the helper, a report rewritten
in place (`emcensus report`), `emcensus export` and `emcensus reuse report`; a `report` killed outright (SIGKILL) while it
writes leaves each of its files as it was, its one unfinished file beside them under a partial's name, which
the next report removes (a partial's name proves whose it is: a live writer's is never removed)."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result as CliResult

from emcensus.catalog import Catalog
from emcensus.cli.main import main
from emcensus.outputs import _machine, whole_file

DISK_FULL = OSError(28, "No space left on device")


def _half_then_full(monkeypatch: pytest.MonkeyPatch, failing: str) -> None:
    """`Path.write_text` of a file whose name starts with `failing` writes half its text, then the disk is full."""
    write_text = Path.write_text

    def half(path: Path, text: str, *args, **kwargs) -> int:
        if not path.name.startswith(failing):
            return write_text(path, text, *args, **kwargs)
        write_text(path, text[: len(text) // 2], *args, **kwargs)
        raise DISK_FULL

    monkeypatch.setattr(Path, "write_text", half)


def _contents(folder: Path) -> dict[str, bytes]:
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in sorted(folder.rglob("*"))
            if path.is_file()}


def test_a_file_appears_whole_at_the_end_of_the_block(tmp_path: Path) -> None:
    target = tmp_path / "table.csv"
    with whole_file(target) as partial:
        assert partial.parent == tmp_path and partial.name.startswith(f"table.csv.partial-{os.getpid()}-")
        assert partial.exists() and not target.exists()  # made here, exclusively
        partial.write_text("a,b\n")
        assert not target.exists()
    assert [path.name for path in tmp_path.iterdir()] == ["table.csv"] and target.read_text() == "a,b\n"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask  # the usual permissions, not mkstemp's 0600


#: A partial's name proves its writer gone only where this machine is known (Linux's PID namespace and boot id).
_PROVES_GONE = pytest.mark.skipif(_machine() == "unknown", reason="needs Linux's /proc to prove a writer is gone")


#: A writer in a process of its own: its partial written, its name printed, then killed outright or kept alive.
_WRITER = """
import os, signal, sys, time
from emcensus.outputs import whole_file
with whole_file(sys.argv[1]) as partial:
    partial.write_text("half of the")
    print(partial.name, flush=True)
    if sys.argv[2] == "killed":
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(300)
"""


@_PROVES_GONE
def test_a_partial_left_by_a_killed_writer_is_removed_by_the_next_write_and_a_live_one_s_is_kept(
        tmp_path: Path) -> None:
    """Two writers of the same file: one SIGKILLed midway, one still writing. The next write there removes
    the killed one's partial alone: not the live writer's, not one of another machine (another host or
    container sharing the folder), nor a link or a name that proves nothing."""
    from emcensus import outputs

    target = tmp_path / "table.csv"
    writers = {how: subprocess.Popen([sys.executable, "-c", _WRITER, str(target), how], stdout=subprocess.PIPE,
                                     text=True) for how in ("killed", "alive")}
    try:
        left = {how: writer.stdout.readline().strip() for how, writer in writers.items()}
        assert writers["killed"].wait(60) == -signal.SIGKILL and writers["alive"].poll() is None
        pid, started, machine, _ = left["killed"].removeprefix("table.csv.partial-").split("-")
        other_machine = "0" * 8 if machine != "0" * 8 else "1" * 8
        kept = {f"table.csv.partial-{pid}-{started}-{other_machine}-00000000",
                f"table.csv.partial-{pid}-{started}-{machine}-0000000l", f"table.csv.partial-{pid}-1a2b3c4d"}
        for name in kept:
            (tmp_path / name).write_text("someone's")
        kept.add(left["alive"])
        (tmp_path / "elsewhere").write_text("not ours")
        link = f"table.csv.partial-{pid}-{started}-{machine}-11111111"
        (tmp_path / link).symlink_to(tmp_path / "elsewhere")
        kept.add(link)
        assert str(tmp_path) not in outputs._swept  # noqa: SLF001 - a folder this process never wrote
        with whole_file(target) as partial:
            partial.write_text("whole\n")
        assert sorted(path.name for path in tmp_path.iterdir()) == sorted({*kept, "table.csv", "elsewhere"})
        assert target.read_text() == "whole\n" and (tmp_path / "elsewhere").read_text() == "not ours"
        assert (tmp_path / left["alive"]).read_text() == "half of the"
    finally:
        for writer in writers.values():
            writer.kill()
            writer.communicate()


@_PROVES_GONE
def test_a_partial_of_another_host_of_the_same_name_is_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two machines of one name sharing the folder (cloned VMs, two `localhost`s): every Linux host's first
    PID namespace has the same number, so only the boot's id tells their processes apart. A partial whose
    PID runs nothing here is removed when its mark is this boot's, kept when it is another boot's (a live
    writer there, or one from before this host restarted: nothing proves it gone)."""
    from emcensus import outputs

    ours = outputs._machine()  # noqa: SLF001
    other_boot = tmp_path / "boot_id"
    other_boot.write_text("00000000-0000-4000-8000-000000000000\n")
    monkeypatch.setattr(outputs, "_BOOT_ID", other_boot)
    theirs = outputs._machine()  # noqa: SLF001 - the same host name and namespace, another boot
    monkeypatch.undo()
    assert "unknown" not in (ours, theirs) and theirs != ours
    out = tmp_path / "out"
    out.mkdir()
    never_running = 4194305  # past the largest pid_max
    for machine in (ours, theirs):
        (out / f"table.csv.partial-{never_running}-1-{machine}-00000000").write_text("half")
    not_a_partial = f"table.csv.partial-{never_running}-1-{ours}-00000000\n"  # a name that only ends like one
    (out / not_a_partial).write_text("someone's")
    with whole_file(out / "table.csv") as partial:
        partial.write_text("whole\n")
    assert sorted(path.name for path in out.iterdir()) == sorted([
        "table.csv", f"table.csv.partial-{never_running}-1-{theirs}-00000000", not_a_partial])


@_PROVES_GONE
def test_a_writer_whose_start_cannot_be_read_is_not_taken_for_gone(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """`/proc` mounted `hidepid` (systemd's `ProtectProc=invisible`): another user's process shows no start
    here, yet its PID runs. Its partial is kept; one whose PID runs nothing is removed."""
    from emcensus import outputs

    machine = outputs._machine()  # noqa: SLF001
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    try:
        started = outputs._process_started(live.pid)  # noqa: SLF001
        monkeypatch.setattr(outputs, "_process_started", lambda pid: None)  # every process hidden
        hidden, gone = (f"table.csv.partial-{pid}-{started}-{machine}-00000000" for pid in (live.pid, 4194305))
        for name in (hidden, gone):
            (tmp_path / name).write_text("half")
        with whole_file(tmp_path / "table.csv") as partial:
            partial.write_text("whole\n")
        assert sorted(path.name for path in tmp_path.iterdir()) == ["table.csv", hidden]
    finally:
        live.kill()
        live.wait()


def test_a_failure_midway_leaves_the_previous_file_and_its_permissions(tmp_path: Path) -> None:
    target = tmp_path / "table.csv"
    target.write_text("previous\n")
    target.chmod(0o640)
    with pytest.raises(OSError, match="No space"), whole_file(target) as partial:
        partial.write_text("half of the n")
        raise DISK_FULL
    assert [path.name for path in tmp_path.iterdir()] == ["table.csv"] and target.read_text() == "previous\n"
    with whole_file(target) as partial:
        partial.write_text("new\n")
    assert target.read_text() == "new\n" and stat.S_IMODE(target.stat().st_mode) == 0o640  # as writing into it kept


def _report(catalog_path: Path, out: Path) -> CliResult:
    return CliRunner().invoke(main, ["--catalog", str(catalog_path), "report", str(out)])


def _previous_and_new(catalog_path: Path, out: Path) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """A report of the catalog in `out`, each of its files then holding its own name (told apart from a
    rerun's); and what a rerun writes (in a folder beside)."""
    assert _report(catalog_path, out).exit_code == 0
    (out / "notes.txt").write_text("someone's notes, beside the report\n")
    for path in out.rglob("*.*"):
        path.write_bytes(b"previous " + path.name.encode())
    rerun = out.with_name("rerun")
    assert _report(catalog_path, rerun).exit_code == 0
    return _contents(out), _contents(rerun)


def _each_old_or_new(after: dict[str, bytes], before: dict[str, bytes], new: dict[str, bytes]) -> bool:
    return after.keys() == before.keys() and all(after[name] in (before[name], new.get(name)) for name in after)


def test_a_report_failing_midway_keeps_every_previous_file(
        catalog: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "report"
    before, new = _previous_and_new(catalog.path, out)
    data_file = next(name for name in before if name.startswith("data/") and name.endswith(".json"))
    assert before.keys() >= {"index.html", "notes.txt"} and any(name.startswith("figures/") for name in before)
    for failing in (data_file, "index.html"):  # a data file; the page, written last
        with monkeypatch.context() as patch:
            _half_then_full(patch, Path(failing).name)
            result = _report(catalog.path, out)
        assert result.exit_code != 0 and "Traceback" not in result.output, result.output
        after = _contents(out)
        assert _each_old_or_new(after, before, new)  # each file whole, no partial left behind
        assert after[failing] == before[failing]
    assert _report(catalog.path, out).exit_code == 0
    assert (out / "index.html").read_text(encoding="utf-8").rstrip().endswith("</html>")
    assert (out / "notes.txt").read_bytes() == before["notes.txt"]


def test_export_and_reuse_report_failing_midway_keep_the_previous_file(
        catalog: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    out.mkdir()
    page = out / "groupA.html"
    page.write_text("the previous page\n")
    with monkeypatch.context() as patch:
        _half_then_full(patch, "groupA.html")
        result = CliRunner().invoke(main, ["--catalog", str(catalog.path), "reuse", "report", str(page),
                                           "--group", "groupA"])
    assert result.exit_code != 0 and "Traceback" not in result.output, result.output
    assert [path.name for path in out.iterdir()] == ["groupA.html"] and page.read_text() == "the previous page\n"

    export = out / "all.csv"
    export.write_text("the previous export\n")
    first_batch = next(catalog.iter_export_batches())

    def disk_full_after_one_batch(self: Catalog, batch_size: int = 0):
        yield first_batch
        raise DISK_FULL

    monkeypatch.setattr(Catalog, "iter_export_batches", disk_full_after_one_batch)
    result = CliRunner().invoke(main, ["--catalog", str(catalog.path), "export", str(export)])
    assert result.exit_code == 1 and "No space left" in result.output, result.output
    assert sorted(path.name for path in out.iterdir()) == ["all.csv", "groupA.html"]
    assert export.read_text() == "the previous export\n"


#: Run in the `report` command's process: its first file is written whole under the partial's name, then the
#: process notes which and waits, as a write stalled on a slow disk, to be killed.
_STALL_AFTER_THE_FIRST_FILE = """
import time
from pathlib import Path
write_text = Path.write_text
def stalled(self, *args, **kwargs):
    write_text(self, *args, **kwargs)
    with open({marker!r}, "w") as note:
        note.write(str(self))
    time.sleep(300)
Path.write_text = stalled
from emcensus.cli.main import main
main(prog_name="emcensus")
"""


def test_a_report_killed_while_it_writes_leaves_no_half_file(catalog: Catalog, tmp_path: Path) -> None:
    out, marker = tmp_path / "report", tmp_path / "writing"
    before, new = _previous_and_new(catalog.path, out)
    command = subprocess.Popen(
        [sys.executable, "-c", _STALL_AFTER_THE_FIRST_FILE.format(marker=str(marker)),
         "--catalog", str(catalog.path), "report", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists() or not marker.read_text():
            assert command.poll() is None, command.communicate()
            assert time.monotonic() < deadline, "the report never wrote a file"
            time.sleep(0.05)
    finally:
        os.killpg(command.pid, signal.SIGKILL)
        command.communicate()
    unfinished = Path(marker.read_text()).relative_to(out).as_posix()
    final, _, _ = unfinished.partition(f".partial-{command.pid}-")
    assert final in before and final != unfinished  # written under a partial's name
    after = _contents(out)
    assert after.pop(unfinished) == new[final]  # whole there, not yet renamed: left, named as unfinished
    assert after[final] == before[final] and _each_old_or_new(after, before, new)
    if _machine() != "unknown":  # the next report (a process of its own) removes the killed one's partial
        subprocess.run([sys.executable, "-c", "from emcensus.cli.main import main; main(prog_name='emcensus')",
                        "--catalog", str(catalog.path), "report", str(out)], check=True, capture_output=True)
        assert _contents(out).keys() == before.keys()  # the partial gone, at any depth


@_PROVES_GONE
def test_the_writer_s_mark_is_read_once_per_process_and_a_forked_child_marks_its_own(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The thumbnail cache writes a file per image: the machine (host, boot, PID namespace) is read and hashed
    once per process, not per write. A child forked after that marks its partials with its own PID and start
    (a mark of its parent's would let the parent's next command take the live child's partials for gone ones)."""
    from emcensus import outputs

    machine = outputs._machine  # noqa: SLF001
    reads = []
    monkeypatch.setattr(outputs, "_machine", lambda: reads.append(1) or machine())
    monkeypatch.setattr(outputs, "_writer", None)  # as a fresh process
    names = []
    for folder in ("a", "b", "c"):
        (tmp_path / folder).mkdir()
        with whole_file(tmp_path / folder / "table.csv") as partial:
            names.append(partial.name)
    assert len(reads) == 1 and len({name.split("-")[1] for name in names}) == 1
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child writes a file, says its partial's name and its own start, and leaves at once
        try:
            with whole_file(tmp_path / "a" / "child.csv") as partial:
                os.write(write, f"{partial.name} {outputs._process_started(os.getpid())}".encode())  # noqa: SLF001
        finally:
            os._exit(0)
    os.close(write)
    said = os.read(read, 4096).decode().split()
    os.close(read)
    os.waitpid(child, 0)
    pid, started, child_machine, _ = said[0].removeprefix("child.csv.partial-").split("-")
    assert (int(pid), started, child_machine) == (child, said[1], names[0].split("-")[3])
