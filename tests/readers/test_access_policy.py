"""Every reader opens archive files through `emcensus.access`: no FIFO or device is ever waited on,
and reading leaves the access time alone (O_NOATIME on files this process owns)."""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from emcensus import read_metadata
from emcensus.errors import UnreadableFileError
from emcensus.readers import read_sidecar_only, read_source
from emcensus.readers.base import Source
from support import hitachi_sidecar, write_tiff

OLD_ATIME = 1_000_000_000  # 2001: older than the mtime, so a relatime mount would update it on read


@pytest.fixture
def deadline() -> Iterator[None]:
    """Fail (instead of hanging the suite) when a read blocks: what a FIFO does to a plain open()."""

    def hung(*_: object) -> None:
        raise TimeoutError("the read blocked on a FIFO")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(5)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("name", ["x.tif", "x.jpg", "x.dm3", "x.ser", "x.emd", "x.mrc", "x.elid", "x.txt"])
def test_fifo_is_refused_at_once(name: str, tmp_path: Path, deadline: None) -> None:
    fifo = tmp_path / name
    os.mkfifo(fifo)
    started = time.monotonic()
    with pytest.raises(UnreadableFileError, match="FIFO"):
        read_metadata(fifo)
    assert time.monotonic() - started < 1


def test_fifo_sidecar_is_skipped_with_a_reason(tmp_path: Path, deadline: None) -> None:
    write_tiff(tmp_path / "x.tif")
    os.mkfifo(tmp_path / "x.txt")
    problems = []
    with Source(tmp_path / "x.tif", tmp_path / "x.txt") as source:
        record = read_source(source, problems=problems)
    assert record.width_px == 64 and record.metadata_source == "none"
    assert any("FIFO" in problem.reason for problem in problems)


def test_fifo_emi_beside_a_ser_does_not_hang(tmp_path: Path, deadline: None, samples_dir: Path) -> None:
    shutil.copyfile(samples_dir / "fei-tia-emi-ser/64x64_TEM_images_acquire_1.ser", tmp_path / "a_1.ser")
    os.mkfifo(tmp_path / "a.emi")
    record = read_metadata(tmp_path / "a_1.ser")
    assert record.metadata_source == "tia-ser" and record.width_px == 64


def test_orphan_fifo_sidecar(tmp_path: Path, deadline: None) -> None:
    os.mkfifo(tmp_path / "gone.txt")
    with pytest.raises(UnreadableFileError, match="FIFO"):
        read_sidecar_only(tmp_path / "gone.txt")


def _age(*paths: Path) -> None:
    for path in paths:
        os.utime(path, (OLD_ATIME, path.stat().st_mtime))


@pytest.mark.skipif(not hasattr(os, "O_NOATIME"), reason="O_NOATIME is Linux-only")
def test_reading_keeps_atime_of_image_and_sidecar(tmp_path: Path) -> None:
    image, sidecar = tmp_path / "a.tif", tmp_path / "a.txt"
    write_tiff(image)
    sidecar.write_text(hitachi_sidecar(5000, "SE(U)"), encoding="cp1252")
    _age(image, sidecar)
    record = read_metadata(image)
    assert record.metadata_source == "sidecar:hitachi-sem"
    assert image.stat().st_atime == OLD_ATIME and sidecar.stat().st_atime == OLD_ATIME


@pytest.mark.skipif(not hasattr(os, "O_NOATIME"), reason="O_NOATIME is Linux-only")
@pytest.mark.parametrize("name", [
    "gatan-dm/test_STEM_image.dm3",
    "velox-emd/STEM HAADF Diffraction Micro.emd",
    "mrc/HAADFscan.mrc",
    "fei-tia-emi-ser/16x16_STEM_BF_DF_acquire_1.ser",
    "phenom-elid/Elid2Version4.elid",
    "fei-tfs-tiff/FEI-Helios-Ebeam-8bits.tif",
])
def test_native_readers_keep_atime(name: str, tmp_path: Path, samples_dir: Path) -> None:
    """Copies this process owns (the kernel allows O_NOATIME only on those), read by each native reader."""
    copy = tmp_path / Path(name).name
    shutil.copyfile(samples_dir / name, copy)
    if copy.suffix == ".ser":
        shutil.copyfile(samples_dir / "fei-tia-emi-ser/16x16_STEM_BF_DF_acquire.emi", tmp_path / "16x16_STEM_BF_DF_acquire.emi")
    _age(*tmp_path.iterdir())
    read_metadata(copy)
    assert {path.name: path.stat().st_atime for path in tmp_path.iterdir()} == {
        path.name: OLD_ATIME for path in tmp_path.iterdir()}


def test_jpeg_is_read_through_the_policy(tmp_path: Path) -> None:
    from PIL import Image

    Image.new("L", (40, 30)).save(tmp_path / "a.jpg")
    _age(tmp_path / "a.jpg")
    assert (read_metadata(tmp_path / "a.jpg").width_px, read_metadata(tmp_path / "a.jpg").height_px) == (40, 30)
    if hasattr(os, "O_NOATIME"):
        assert (tmp_path / "a.jpg").stat().st_atime == OLD_ATIME


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_symlink_to_a_device_is_refused(device: str, tmp_path: Path, deadline: None) -> None:
    if not os.path.exists(device):
        pytest.skip(f"{device} not present")
    (tmp_path / "x.tif").symlink_to(device)
    with pytest.raises(UnreadableFileError, match="character device"):
        read_metadata(tmp_path / "x.tif")
    with Source(tmp_path / "x.tif") as source, pytest.raises(UnreadableFileError, match="character device"):
        source.head  # noqa: B018 - the first read is the check


def test_inside_means_below_the_root_not_a_name_that_starts_like_it(tmp_path: Path) -> None:
    """`/x/arch2` shares the text `/x/arch` but is not in it; a link into the root is inside it."""
    from emcensus.access import OutsideRootsError, inside_roots, is_inside

    root, sibling = tmp_path / "arch", tmp_path / "arch2"
    (root / "a").mkdir(parents=True)
    sibling.mkdir()
    (sibling / "link").symlink_to(root / "a")
    assert is_inside(root / "a", root) and is_inside(root, root)
    assert not is_inside(sibling, root)
    assert inside_roots(sibling / "link", [root]) == (root / "a").resolve()
    with pytest.raises(OutsideRootsError):
        inside_roots(sibling, [root])


@pytest.mark.skipif(not hasattr(os, "O_NOATIME"), reason="O_NOATIME is Linux-only")
@pytest.mark.parametrize("name", ["a.tif", "a.emi"])
def test_finding_the_sidecar_keeps_the_folders_atime(name: str, tmp_path: Path, samples_dir: Path) -> None:
    """`read_metadata` lists the folder for the sidecar (or the `.ser` of an `.emi`): that listing too
    leaves the access time alone."""
    folder = tmp_path / "folder"
    folder.mkdir()
    if name == "a.emi":
        shutil.copyfile(samples_dir / "fei-tia-emi-ser/16x16_STEM_BF_DF_acquire.emi", folder / "a.emi")
        shutil.copyfile(samples_dir / "fei-tia-emi-ser/16x16_STEM_BF_DF_acquire_1.ser", folder / "a_1.ser")
    else:
        write_tiff(folder / "a.tif")
        (folder / "a.txt").write_text(hitachi_sidecar(5000, "SE(U)"), encoding="cp1252")
    _age(folder, *folder.iterdir())
    read_metadata(folder / name)
    assert folder.stat().st_atime == OLD_ATIME


def test_heads_and_small_files_are_read_whole_and_bounded(tmp_path: Path) -> None:
    """A head stops at the file's size or the limit, whichever comes first; a small file is read whole
    and refused when over its limit; a file of size 0 (no size said) is read to the limit."""
    from emcensus.access import read_bounded, read_head, read_head_and_size

    (tmp_path / "small").write_bytes(b"0123456789")
    (tmp_path / "big").write_bytes(bytes(range(256)) * 64)
    (tmp_path / "empty").write_bytes(b"")
    assert read_head(tmp_path / "small", 8192) == b"0123456789"
    assert read_head(tmp_path / "big", 100) == (bytes(range(256)) * 64)[:100]
    assert read_head(tmp_path / "empty", 8192) == b""
    assert read_head_and_size(tmp_path / "big", 100) == ((bytes(range(256)) * 64)[:100], 256 * 64)
    assert read_bounded(tmp_path / "small", 10) == b"0123456789"
    with pytest.raises(UnreadableFileError, match="10 bytes, more than the 9"):
        read_bounded(tmp_path / "small", 9)
