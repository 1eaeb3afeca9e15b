"""A corpus of broken files a facility archive really holds, to test that a scan records and goes on.

`make_bad_corpus(dest)` returns `{relative path: what is wrong}`; the paths are POSIX, relative to
`dest`. Valid images placed next to a bad sidecar are not listed (they must still be counted).
"""

from __future__ import annotations

import io
import os
import random
import stat
from pathlib import Path
from typing import Any

import numpy as np

#: Size of the single-line sidecar: far above `readers.base.MAX_SIDECAR_BYTES` (1 MiB).
HUGE_SIDECAR_BYTES = 10 * 1024 * 1024


def permissions_enforced(path: str | os.PathLike[str] | None = None) -> bool:
    """Whether a mode-000 file is unreadable for this process (False for root, or on Windows).

    With `path` (a mode-000 file) it tries to open it; otherwise it judges by the effective user.
    """
    if path is not None:
        try:
            with open(path, "rb"):
                return False
        except PermissionError:
            return True
    if os.name != "posix":
        return False
    return os.geteuid() != 0


def tiff_bytes(width: int = 64, height: int = 48, value: int = 0, **options: Any) -> tuple[bytes, int, int]:
    """A valid small TIFF, its IFD offset and its pixel-data offset; `options` go to `tifffile.imwrite`."""
    import tifffile

    rng = np.random.default_rng(1000 + value)
    arr = rng.integers(0, 256, (height, width), dtype=np.uint8)
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, arr, photometric="minisblack", metadata=None, software=False, **options)
    data = buffer.getvalue()
    ifd = int.from_bytes(data[4:8], "little")
    with tifffile.TiffFile(io.BytesIO(data)) as tif:
        offset = int(tif.pages.first.dataoffsets[0])
    return data, ifd, offset


def _jpeg() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    arr = np.random.default_rng(7).integers(0, 256, (48, 64), dtype=np.uint8)
    Image.fromarray(arr).save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def write_file(path: Path, data: bytes) -> None:
    """Write `data` at `path`, replacing a symlink or a mode-000 file left by an earlier run."""
    if path.is_symlink():
        path.unlink()
    elif path.exists():
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def sidecar_bytes(lines: list[str]) -> bytes:
    """A Hitachi-style sidecar as the microscope PC writes it: CRLF lines in cp1252."""
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


def make_bad_corpus(dest: str | os.PathLike[str], *, extras: bool = False) -> dict[str, str]:
    """Write the broken files under `dest` (created if needed); return {relative path: what is wrong}.

    `extras` adds an empty sidecar, a file name that is not UTF-8, a folder named like an image and
    a sidecar whose DataSize contradicts its image.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    bad: dict[str, str] = {}
    rng = random.Random("emcensus-bad-corpus")

    write_file(dest / "zero-byte.tif", b"")
    bad["zero-byte.tif"] = "empty file (0 bytes)"

    tiff, ifd, pixels = tiff_bytes(value=1)
    cut = ifd + 2 + 12 * 3 + 5  # inside the fourth IFD entry
    write_file(dest / "truncated-ifd.tif", tiff[:cut])
    bad["truncated-ifd.tif"] = f"truncated TIFF: valid header, cut inside the IFD ({cut} of {len(tiff)} bytes)"
    end = pixels + (64 * 48) // 2
    write_file(dest / "truncated-data.tif", tiff[:end])
    bad["truncated-data.tif"] = f"truncated TIFF: complete header and IFD, pixel data cut in half ({end} of {len(tiff)} bytes)"

    write_file(dest / "not-an-image.tif", b"Sample list for Monday\r\nPdC-1, PdC-2, ZIF8-3\r\n")
    bad["not-an-image.tif"] = "text file named .tif: not an image"

    write_file(dest / "jpeg-named.tif", _jpeg())
    bad["jpeg-named.tif"] = "wrong extension: a valid JPEG image named .tif"

    # sidecars next to valid images: the image must still be counted
    good, _, _ = tiff_bytes(value=2)
    write_file(dest / "undecodable-sidecar.tif", good)
    junk = bytes([0x81, 0x8D, 0xFF, 0xFD]) + bytes(rng.randrange(0x80, 0x100) for _ in range(1020))
    write_file(dest / "undecodable-sidecar.txt", junk)
    bad["undecodable-sidecar.txt"] = (
        "sidecar of random high bytes: invalid UTF-8, cp932 and cp1252 (no text in any encoding); "
        "its image undecodable-sidecar.tif is valid"
    )

    good, _, _ = tiff_bytes(value=3)
    write_file(dest / "binary-sidecar.tif", good)
    blob = bytearray(rng.randrange(256) for _ in range(2048))
    blob[0:4] = b"\x00\x13\x8a\x00"
    for i in range(8, len(blob), 37):
        blob[i] = 0
    write_file(dest / "binary-sidecar.txt", bytes(blob))
    bad["binary-sidecar.txt"] = "binary junk with NUL bytes named .txt; its image binary-sidecar.tif is valid"

    good, _, _ = tiff_bytes(value=4)
    unreadable = dest / "unreadable.tif"
    write_file(unreadable, good)
    os.chmod(unreadable, 0)
    enforced = permissions_enforced(unreadable)
    bad["unreadable.tif"] = "permissions 000: cannot be read" + (
        "" if enforced else " (but this process runs as root, so it can still be read)"
    )

    loop_dir = dest / "loop"
    loop_dir.mkdir(exist_ok=True)
    good, _, _ = tiff_bytes(value=5)
    write_file(loop_dir / "inside-loop.tif", good)
    link = loop_dir / "parent"
    if link.is_symlink() or link.exists():
        link.unlink()
    os.symlink("..", link, target_is_directory=True)
    bad["loop/parent"] = "symlink loop: a folder link to its parent's parent (following links never ends)"

    broken = dest / "broken-link.tif"
    if broken.is_symlink() or broken.exists():
        broken.unlink()
    os.symlink("missing/never-there.tif", broken)
    bad["broken-link.tif"] = "broken symlink: its target does not exist"

    good, _, _ = tiff_bytes(value=6)
    write_file(dest / "huge-sidecar.tif", good)
    head = b"[SemImageFile] InstructName=SU8230 Comment="
    write_file(dest / "huge-sidecar.txt", head + b"A" * (HUGE_SIDECAR_BYTES - len(head)))
    bad["huge-sidecar.txt"] = "10 MB sidecar on a single line (no line breaks); its image huge-sidecar.tif is valid"

    good, _, _ = tiff_bytes(value=7)
    write_file(dest / "garbage-values.tif", good)
    write_file(dest / "garbage-values.txt", sidecar_bytes([
        "[SemImageFile]",
        "InstructName=SU8230",
        "ImageName=garbage-values.tif",
        "Date=99/99/9999",
        "Time=25:61:99",
        "DataSize=axb",
        "PixelSize=NaN",
        "SignalName=",
        "AcceleratingVoltage=fast Volt",
        "Magnification=abc",
        "WorkingDistance=-1 um",
        "=no key",
        "no equals sign here",
    ]))
    bad["garbage-values.txt"] = (
        "sidecar with garbage values: Magnification=abc, Date=99/99/9999, Time=25:61:99, DataSize=axb, "
        "PixelSize=NaN, AcceleratingVoltage=fast Volt, WorkingDistance=-1 um; its image is valid"
    )

    if extras:
        good, _, _ = tiff_bytes(value=8)
        write_file(dest / "empty-sidecar.tif", good)
        write_file(dest / "empty-sidecar.txt", b"")
        bad["empty-sidecar.txt"] = "empty sidecar (0 bytes); its image is valid"

        name = os.fsdecode(b"bad-\xff\xfe-name.tif")  # cp1251 bytes copied off a Windows share
        write_file(dest / name, good)
        bad[name] = "file name is not valid UTF-8 (undecodable bytes; valid TIFF inside)"

        (dest / "folder.tif").mkdir(exist_ok=True)
        bad["folder.tif"] = "a folder named like an image"

        write_file(dest / "size-mismatch.tif", good)
        write_file(dest / "size-mismatch.txt", sidecar_bytes([
            "[SemImageFile]", "InstructName=SU8230", "Date=06/23/2016", "Time=10:00:00",
            "DataSize=1280x960", "PixelSize=99.2188", "SignalName=SE(U)", "AcceleratingVoltage=5000 Volt",
            "Magnification=1000", "WorkingDistance=8000 um",
        ]))
        bad["size-mismatch.txt"] = "sidecar DataSize=1280x960 but the image is 64x48"
    return bad
