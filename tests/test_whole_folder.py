"""`outputs.whole_folder`, the one way a folder output is written whole or not at all: what a run stopped
in any way leaves, and which leftovers a later run may remove (only its own, of a process that is gone)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from emcensus.outputs import PARTIAL_MARK, ArchiveWriteError, whole_folder


def test_the_folder_appears_whole_at_the_end_and_an_empty_folder_given_is_replaced(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    with whole_folder(target, []) as folder:
        assert folder.parent.parent == tmp_path and folder.name == "out"
        assert folder.parent.name.startswith(f"out.partial-{os.getpid()}-")  # named as a file's partial is
        (folder / "a.txt").write_text("a")
        assert not any(target.iterdir())  # nothing at the target until the end
        assert json.loads((folder.parent / PARTIAL_MARK).read_text()) == {"target": str(target)}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert [p.name for p in target.iterdir()] == ["a.txt"]  # the mark is never part of the output


def test_an_empty_folder_given_keeps_its_permissions_and_group(tmp_path: Path) -> None:
    """A folder made for the export (kept private, or shared with a group: set-group-ID) is replaced by
    the export's with the same mode and group, so what the export writes in it is shared alike."""
    target = tmp_path / "out"
    target.mkdir()
    others = [gid for gid in os.getgroups() if gid != os.getgid()]
    group = 4242 if os.geteuid() == 0 else others[0] if others else os.getgid()  # another than a new folder's
    os.chown(target, -1, group)
    os.chmod(target, 0o2750)
    with whole_folder(target, []) as folder:
        (folder / "a.txt").write_text("a")
    assert oct(target.stat().st_mode & 0o7777) == oct(0o2750) and target.stat().st_gid == group
    assert (target / "a.txt").stat().st_gid == group
    os.chmod(target, 0o700)


def test_an_exception_leaves_the_target_as_it_was(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt), whole_folder(target, []) as folder:
        (folder / "a.txt").write_text("a")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def _partial(tmp_path: Path, name: str, target: Path | None) -> Path:
    """A partial folder `name` as an export leaves it, its mark naming `target` (None: no mark)."""
    folder = tmp_path / name
    (folder / "out").mkdir(parents=True)
    if target is not None:
        (folder / PARTIAL_MARK).write_text(json.dumps({"target": str(target)}))
    return folder


def test_only_partials_of_gone_processes_marked_as_ours_are_removed(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A partial's name proves whose it is, as a file's does (`whole_file`): the next export to OUT removes one
    of a gone process of this machine and boot marked as OUT's; not a live writer's, another machine's (another
    host, container or boot of the same name sharing the folder: a power cut's leftover too, nothing proves it
    gone), another output's, one without the mark, a link, nor one named as before the name was its mark."""
    from emcensus import outputs

    target = tmp_path / "out"
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    gone_pid = int(gone.stdout)
    pid, started, machine = outputs._this_writer()  # noqa: SLF001
    other_boot = tmp_path / "boot_id"
    other_boot.write_text("00000000-0000-4000-8000-000000000000\n")
    monkeypatch.setattr(outputs, "_BOOT_ID", other_boot)
    another_boot = outputs._machine()  # noqa: SLF001 - this host and namespace, another boot
    monkeypatch.undo()
    assert machine != "unknown" and another_boot not in ("unknown", machine)

    stale = _partial(tmp_path, f"out.partial-{gone_pid}-1-{machine}-00000000", target)
    running = _partial(tmp_path, f"out.partial-{pid}-{started}-{machine}-00000000", target)  # an export writing
    reused = _partial(tmp_path, f"out.partial-{pid}-0-{machine}-00000000", target)  # this PID, once another's
    rebooted = _partial(tmp_path, f"out.partial-{gone_pid}-1-{another_boot}-00000000", target)
    unmarked = _partial(tmp_path, f"out.partial-{gone_pid}-1-{machine}-11111111", None)  # people named alike
    other_target = _partial(tmp_path, f"out.partial-{gone_pid}-1-{machine}-22222222", tmp_path / "else")
    unproven = _partial(tmp_path, f"out.partial-{gone_pid}", target)  # a mark's old name: no machine
    elsewhere = _partial(tmp_path, "elsewhere", target)
    os.symlink(elsewhere, tmp_path / f"out.partial-{gone_pid}-1-{machine}-33333333")  # never followed, nor removed
    (tmp_path / f"out.partial-{gone_pid}-1-{machine}-44444444").mkdir()
    os.mkfifo(tmp_path / f"out.partial-{gone_pid}-1-{machine}-44444444" / PARTIAL_MARK)  # never read: no file
    with whole_folder(target, []) as folder:
        (folder / "a.txt").write_text("a")
    assert not stale.exists() and not reused.exists()
    assert running.exists() and rebooted.exists() and unmarked.exists() and other_target.exists()
    assert unproven.exists() and elsewhere.exists()
    assert (tmp_path / f"out.partial-{gone_pid}-1-{machine}-33333333").is_symlink()
    assert (tmp_path / "out" / "a.txt").exists()


def test_a_writer_whose_start_cannot_be_read_is_not_taken_for_gone(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """`/proc` mounted `hidepid`: another user's export still writing shows no start here, yet its PID runs;
    its partial is never removed under it."""
    from emcensus import outputs

    target = tmp_path / "out"
    machine = outputs._this_writer()[2]  # noqa: SLF001
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    try:
        started = outputs._process_started(live.pid)  # noqa: SLF001
        writing = _partial(tmp_path, f"out.partial-{live.pid}-{started}-{machine}-00000000", target)
        monkeypatch.setattr(outputs, "_process_started", lambda pid: None)  # every process hidden
        with whole_folder(target, []) as folder:
            (folder / "a.txt").write_text("a")
        assert (writing / "out").is_dir() and (target / "a.txt").exists()
    finally:
        live.kill()
        live.wait()


def _planted(monkeypatch: pytest.MonkeyPatch, target: Path) -> Path:
    """Where this process's next partial of `target` goes, made known to plant something there first."""
    from emcensus import outputs

    monkeypatch.setattr(outputs.secrets, "token_hex", lambda size: "ab" * size)
    return outputs._partial(target)  # noqa: SLF001


def test_the_partial_is_never_inside_an_archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = tmp_path / "out.partial-1"
    archive.mkdir()
    os.symlink(archive, _planted(monkeypatch, tmp_path / "out"))  # a link planted where the partial goes
    with pytest.raises(ArchiveWriteError), whole_folder(tmp_path / "out", [archive]):
        pass
    assert list(archive.iterdir()) == []


def test_a_link_planted_at_the_partial_s_name_is_not_written_through(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "elsewhere"
    os.symlink(elsewhere, _planted(monkeypatch, tmp_path / "out"))
    with pytest.raises(FileExistsError), whole_folder(tmp_path / "out", []):
        pass
    assert not elsewhere.exists() and not (tmp_path / "out").exists()


def test_an_empty_mount_point_given_is_written_in_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A mount point (a disk, a container's volume) cannot be renamed onto (EBUSY, EXDEV), and a partial
    beside it would fill the filesystem it is mounted in: written into, what was written removed on an
    exception, what was there before left."""
    target = tmp_path / "volume"
    target.mkdir()
    (target / "lost+found").mkdir()  # what a fresh disk holds
    ismount = os.path.ismount
    monkeypatch.setattr(os.path, "ismount", lambda path: Path(path) == target or ismount(path))
    with pytest.raises(KeyboardInterrupt), whole_folder(target, []) as folder:
        assert folder == target
        (folder / "data").mkdir()
        (folder / "data" / "a.txt").write_text("a")
        (folder / "card.md").write_text("b")
        raise KeyboardInterrupt
    assert [p.name for p in target.iterdir()] == ["lost+found"]
    with whole_folder(target, []) as folder:
        (folder / "card.md").write_text("b")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["volume"]  # no partial beside it
    assert sorted(p.name for p in target.iterdir()) == ["card.md", "lost+found"]


def test_an_empty_folder_given_in_a_folder_not_writable_is_written_in_place(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder made for the user in a folder they may not write (a shared space): no partial can be made
    beside it, so it is written into, as an export was before partials."""
    target = tmp_path / "given"
    target.mkdir()
    access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: Path(path) != tmp_path and access(path, mode, **kw))
    with whole_folder(target, []) as folder:
        assert folder == target
        (folder / "a.txt").write_text("a")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["given"] and (target / "a.txt").exists()


def test_a_real_mount_point_is_written(tmp_path: Path) -> None:
    target = tmp_path / "volume"
    target.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(target)],
                                           capture_output=True).returncode != 0:
        pytest.skip("mounting a tmpfs needs root")
    try:
        with whole_folder(target, []) as folder:
            (folder / "a.txt").write_text("a")
        assert [p.name for p in target.iterdir()] == ["a.txt"]
        assert sorted(p.name for p in tmp_path.iterdir()) == ["volume"]
    finally:
        subprocess.run(["umount", str(target)], check=True)


def test_a_bind_mount_of_the_same_filesystem_is_written_in_place(tmp_path: Path) -> None:
    """A folder bound onto OUT (a container's volume of the same disk) is no other filesystem's root, so only
    the mount table tells it is a mount point: written into, not renamed onto at the end (EBUSY then, after
    the whole export was written)."""
    shared, target = tmp_path / "shared folder", tmp_path / "bound out"  # names the table escapes
    shared.mkdir()
    target.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "--bind", str(shared), str(target)],
                                           capture_output=True).returncode != 0:
        pytest.skip("a bind mount needs root")
    try:
        assert not os.path.ismount(target)
        with whole_folder(target, []) as folder:
            (folder / "a.txt").write_text("a")
        assert folder == target and [p.name for p in shared.iterdir()] == ["a.txt"]
        assert sorted(p.name for p in tmp_path.iterdir()) == ["bound out", "shared folder"]
    finally:
        subprocess.run(["umount", str(target)], check=True)


def test_the_mount_table_names_a_bind_mount_as_the_kernel_escapes_it(tmp_path: Path) -> None:
    """Without root too (the test above skips): Linux's mount table writes a mount point's bytes as they are
    (UTF-8 or not, whatever the locale), but a space, a tab, a newline and a backslash in octal. No table
    (another system): no bind mount seen."""
    from emcensus.outputs import _mount_point

    target = tmp_path / os.fsdecode(b"bound out\t\\ M\xc3\xbcller \xff")
    target.mkdir()
    written = os.fsencode(tmp_path) + b"/bound\\040out\\011\\134\\040M\xc3\xbcller\\040\xff"
    table = tmp_path / "mountinfo"
    for point, bound in ((os.fsencode(target), False), (os.fsencode(tmp_path), False), (written, True)):
        table.write_bytes(b"22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
                          b"36 22 8:1 /srv/shared\\040folder " + point + b" rw,relatime shared:1 - ext4 /dev/sda1 rw\n")
        assert _mount_point(target, table) is bound, point
    assert _mount_point(target, tmp_path / "absent") is False


def test_a_leftover_partial_scanned_since_as_an_archive_is_never_removed(tmp_path: Path) -> None:
    """A partial of a process that is gone, whose folder (or one inside it) is since an archive's root:
    like anything of an archive, never removed, even with its mark."""
    from emcensus.outputs import _this_writer

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    target = tmp_path / "out"
    leftover = _partial(tmp_path, f"out.partial-{gone.stdout.strip()}-1-{_this_writer()[2]}-00000000", target)
    (leftover / "out" / "images").mkdir()
    with whole_folder(target, [leftover / "out" / "images"]) as folder:
        (folder / "a.txt").write_text("a")
    assert (leftover / "out" / "images").is_dir() and (leftover / PARTIAL_MARK).exists()
    assert (target / "a.txt").exists()
