"""An adversarial archive: every kind of entry that has stopped, hung or fooled a census (issue 7).

`make_adversarial_corpus(root, outside)` writes it and returns a manifest that says, for every entry
under `root`, what a correct census does with it: catalogue it as an image, pair it as a sidecar,
or list it in an audit list with a reason. `outside` receives files that links in the archive point
to; they all hold `SECRET` so that a test can prove nothing from outside the roots was read.

Kinds of trouble: names that are not UTF-8, absurd but finite numbers, FIFOs, devices and sockets
named `.tif`, decompression and header bombs, HDF5 external links and external storage, and
symlinks that leave the root, loop or point nowhere.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emcensus.demo.badcorpus import sidecar_bytes, tiff_bytes, write_file

#: Written into every file outside the root: it must appear in no catalog, export, report or page.
SECRET = "SECRET-OUTSIDE-CONTENT"

#: Outcomes a manifest entry may expect. Audit list names (`unreadable`, `warnings`,
#: `orphan-sidecars`) mean "listed there with a reason".
CATALOGUED = "catalogued"  # a present, readable image row
PAIRED = "paired"  # the sidecar of a catalogued image (its `sidecar_path`)

#: The side of the 30,000 x 30,000 zlib TIFF: 900 MB of pixels in about 1 MB on disk.
BOMB_SIDE = 30_000
#: A sidecar just over the 1 MiB a sidecar may be (`readers.base.MAX_SIDECAR_BYTES`).
BIG_SIDECAR_BYTES = (1 << 20) + 4096


@dataclass(frozen=True, slots=True)
class Entry:
    """One archive entry and what a census must do with it."""

    path: bytes  # relative to the root, as the file system holds it (may not be UTF-8)
    outcomes: tuple[str, ...]  # any one of these is right
    item: int  # the issue-7 item it exercises
    why: str

    @property
    def display(self) -> str:
        """The name as a person sees it: undecodable bytes become U+FFFD."""
        return self.path.decode("utf-8", errors="replace")


@dataclass(slots=True)
class AdversarialCorpus:
    """The manifest of a written corpus."""

    root: Path
    outside: Path
    entries: list[Entry] = field(default_factory=list)
    #: Entries that could not be created here, with the reason (e.g. no permission to `mknod`).
    skipped: dict[str, str] = field(default_factory=dict)
    #: Paths below the root that must not be catalogued (files reached through a link to outside).
    never_catalogued: list[bytes] = field(default_factory=list)

    def add(self, path: str | bytes, outcomes: str | tuple[str, ...], item: int, why: str) -> None:
        """Record an entry written under the root."""
        raw = path if isinstance(path, bytes) else os.fsencode(path)
        self.entries.append(Entry(raw, (outcomes,) if isinstance(outcomes, str) else outcomes, item, why))

    def image(self, rel: str | bytes, outcomes: str | tuple[str, ...], item: int, why: str, data: bytes | None = None,
              sidecar: list[str] | None = None, sidecar_outcomes: str | tuple[str, ...] = PAIRED) -> None:
        """Write an image file (a valid small TIFF unless `data`) and, given its lines, a `.txt` sidecar."""
        name = _name(rel) if isinstance(rel, bytes) else rel
        write_file(self.root / name, data if data is not None else tiff_bytes(value=len(self.entries))[0])
        self.add(name, outcomes, item, why)
        if sidecar is not None:
            text = str(Path(name).with_suffix(".txt"))
            write_file(self.root / text, sidecar_bytes(sidecar))
            self.add(text, sidecar_outcomes, item, f"sidecar of {why}")


def _name(raw: bytes) -> str:
    """A bytes file name as a `str` path part (surrogate-escaped where not UTF-8)."""
    return os.fsdecode(raw)


def hitachi_lines(magnification: str = "5000", pixel_size_nm: str = "396.875", comment: str = "",
                  width: int = 64, height: int = 48) -> list[str]:
    """`[SemImageFile]` lines of a plausible SU8230 frame, with the values under test as given.

    The default pixel size agrees with the magnification: 127 mm / 5000 / 64 px = 396.875 nm.
    """
    return [
        "[SemImageFile]", "InstructName=SU8230", "SignalName=SE(U)", f"Magnification={magnification}",
        "AcceleratingVoltage=15000 Volt", "WorkingDistance=8000 um", f"PixelSize={pixel_size_nm}",
        f"DataSize={width}x{height}", "Date=06/23/2016", "Time=10:11:12", f"Comment={comment}",
    ]


def raw_tiff(width: int, height: int, strips: list[bytes], *, bits: int = 8, compression: int = 1,
             rows_per_strip: int | None = None) -> bytes:
    """A little-endian classic TIFF written field by field, so that its header may lie freely."""
    header = 8
    data = b"".join(strips)
    offsets, position = [], header
    for strip in strips:
        offsets.append(position)
        position += len(strip)
    extra = bytearray()
    extra_at = header + len(data)

    def entry(tag: int, kind: int, values: list[int]) -> bytes:
        code = "H" if kind == 3 else "I"
        packed = struct.pack(f"<{len(values)}{code}", *values)
        if len(packed) <= 4:
            return struct.pack("<HHI", tag, kind, len(values)) + packed.ljust(4, b"\0")
        offset = extra_at + len(extra)
        extra.extend(packed)
        return struct.pack("<HHII", tag, kind, len(values), offset)

    entries = [
        entry(256, 4, [width]), entry(257, 4, [height]), entry(258, 3, [bits]), entry(259, 3, [compression]),
        entry(262, 3, [1]), entry(273, 4, offsets or [0]), entry(277, 3, [1]),
        entry(278, 4, [rows_per_strip if rows_per_strip is not None else max(height, 1)]),
        entry(279, 4, [len(s) for s in strips] or [0]),
    ]
    ifd_at = extra_at + len(extra)
    ifd = struct.pack("<H", len(entries)) + b"".join(entries) + struct.pack("<I", 0)
    return b"II*\0" + struct.pack("<I", ifd_at) + data + bytes(extra) + ifd


def zlib_bomb() -> bytes:
    """A 30,000² 8-bit TIFF of zeros, deflate-compressed in strips of 1,000 rows (~0.9 MB on disk)."""
    rows = 1000
    strip = zlib.compress(bytes(BOMB_SIDE * rows), 9)
    return raw_tiff(BOMB_SIDE, BOMB_SIDE, [strip] * (BOMB_SIDE // rows), compression=8, rows_per_strip=rows)


def _mrc(path: Path, patch: dict[int, bytes]) -> None:
    """A valid 4 x 4 MRC, then header fields overwritten at byte offsets (`{offset: bytes}`)."""
    import mrcfile

    path.parent.mkdir(parents=True, exist_ok=True)
    with mrcfile.new(str(path), overwrite=True) as mrc:
        mrc.set_data(np.zeros((4, 4), dtype=np.int8))
    data = bytearray(path.read_bytes())
    for offset, value in patch.items():
        data[offset:offset + len(value)] = value
    path.write_bytes(bytes(data))


def _ser(delta_m: float) -> bytes:
    """A TIA `.ser` holding one 4 x 4 uint8 image whose calibration (m per pixel) is `delta_m`."""
    array_offset = 30
    data_offset = array_offset + 8  # one data offset and one tag offset (0: no time stamp)
    head = b"\x49\x49\x97\x01" + struct.pack("<HIIIIII", 0x210, 0x4122, 0x4152, 1, 1, array_offset, 1)
    table = struct.pack("<II", data_offset, 0)
    image = struct.pack("<ddiddiHII", 0.0, delta_m, 0, 0.0, delta_m, 0, 1, 4, 4) + bytes(16)
    return head + table + image


def _velox_metadata(model: str) -> np.ndarray:
    """A Velox `Metadata` column: zero-padded JSON bytes as uint8, one column."""
    meta = {"Instrument": {"InstrumentModel": model, "Manufacturer": "FEI Company"},
            "Optics": {"AccelerationVoltage": "200000", "NominalMagnification": "50000"},
            "BinaryResult": {"Detector": "BM-Ceta", "PixelUnitX": "m", "PixelSize": {"width": "1e-10"}},
            "Detectors": {"Detector-0": {"DetectorName": "BM-Ceta", "DetectorType": "ImagingDetector"}}}
    raw = json.dumps(meta).encode()
    column = np.zeros((len(raw) + 64, 1), dtype=np.uint8)
    column[: len(raw), 0] = np.frombuffer(raw, dtype=np.uint8)
    return column


def _velox(path: Path, image: str = "a1b2c3") -> None:
    """A minimal Velox `.emd` with one image group `/Data/Image/<image>` (Data + Metadata)."""
    import h5py

    with h5py.File(path, "w") as handle:
        group = handle.create_group(f"Data/Image/{image}")
        group.create_dataset("Data", data=np.zeros((4, 4, 1), dtype=np.uint16))
        group.create_dataset("Metadata", data=_velox_metadata(SECRET))


def _velox_external_link(path: Path, target: Path) -> None:
    """A Velox `.emd` whose only image group is an HDF5 external link to `target` (outside the root)."""
    import h5py

    with h5py.File(path, "w") as handle:
        handle.create_group("Data/Image")["a1b2c3"] = h5py.ExternalLink(str(target), "/Data/Image/a1b2c3")


def _velox_external_storage(path: Path, fifo: Path) -> None:
    """A Velox `.emd` whose Metadata bytes live in external storage: the FIFO `fifo` (made afterwards)."""
    import h5py

    column = _velox_metadata("Talos F200X")
    with h5py.File(path, "w") as handle:
        group = handle.create_group("Data/Image/a1b2c3")
        group.create_dataset("Data", data=np.zeros((4, 4, 1), dtype=np.uint16))
        group.create_dataset("Metadata", shape=column.shape, dtype=column.dtype,
                             external=[(str(fifo), 0, column.nbytes)])
    os.mkfifo(fifo)


def _unix_socket(path: Path) -> None:
    """A bound Unix socket at `path`, left on disk (bound through /proc to keep the address short)."""
    folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.bind(f"/proc/self/fd/{folder}/{path.name}")
    finally:
        os.close(folder)


def _symlink(path: Path, target: str | os.PathLike[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, path)


def _outside(outside: Path) -> dict[str, Path]:
    """The files links in the archive point to; each holds `SECRET`."""
    outside.mkdir(parents=True, exist_ok=True)
    files = {"passwd": outside / "passwd", "image": outside / "image.tif", "sidecar": outside / "secret-sidecar.txt",
             "velox": outside / "velox-external.h5", "fifo": outside / "velox-storage.fifo", "tree": outside / "tree"}
    write_file(files["passwd"], f"{SECRET}:x:0:0:root:/root:/bin/bash\n".encode())
    write_file(files["image"], tiff_bytes(value=40, description=SECRET)[0])
    write_file(files["sidecar"], sidecar_bytes(hitachi_lines(comment=SECRET)))
    _velox(files["velox"])
    write_file(files["tree"] / "tree001.tif", tiff_bytes(value=41)[0])
    write_file(files["tree"] / "tree001.txt", sidecar_bytes(hitachi_lines(comment=SECRET)))
    return files


def make_adversarial_corpus(root: str | os.PathLike[str], outside: str | os.PathLike[str]) -> AdversarialCorpus:
    """Write the adversarial archive under `root` and its link targets under `outside` (both new)."""
    root, outside = Path(root), Path(outside)
    root.mkdir(parents=True)
    corpus = AdversarialCorpus(root, outside)
    targets = _outside(outside)
    # a plain, correct acquisition: what the census is for (and the image a test links to an article)
    corpus.image("good/2016-06-23/ok001.tif", CATALOGUED, 0, "a valid SU8230 frame", sidecar=hitachi_lines())
    corpus.image("good/2016-06-23/ok002.tif", CATALOGUED, 0, "a valid SU8230 frame",
                 sidecar=hitachi_lines(magnification="50000", pixel_size_nm="39.6875"))
    _names(corpus)
    _numbers(corpus)
    _not_files(corpus)
    _bombs(corpus, targets)
    _links(corpus, targets)
    return corpus


def _names(corpus: AdversarialCorpus) -> None:
    """Item 1: names that are not UTF-8 (Latin-1 and cp1251 from Windows shares), and a 255-byte one."""
    root = corpus.root
    corpus.image(b"names/Gr\xf6\xdfe.tif", CATALOGUED, 1, "Latin-1 file name Gr\\xf6\\xdfe.tif",
                 sidecar=hitachi_lines())
    corpus.image(b"names/\xcf\xf0\xee\xe5\xea\xf2/img010.tif", CATALOGUED, 1, "an image in a cp1251 folder name",
                 sidecar=hitachi_lines())
    corpus.image("names/" + "x" * 251 + ".tif", CATALOGUED, 1, "a file name of 255 bytes, the most a name can be",
                 sidecar=hitachi_lines())
    write_file(root / _name(b"names/orphan-\xe4\xf6.txt"), sidecar_bytes(hitachi_lines()))
    corpus.add(b"names/orphan-\xe4\xf6.txt", "orphan-sidecars", 1, "orphan sidecar with a Latin-1 name")
    _symlink(root / _name(b"names/broken-\xe9.tif"), "nowhere/missing.tif")
    corpus.add(b"names/broken-\xe9.tif", "unreadable", 1, "broken symlink with a Latin-1 name")


def _numbers(corpus: AdversarialCorpus) -> None:
    """Item 2: absurd but finite numbers: catalogued, each derived number finite and physical or null."""
    root = corpus.root
    for stem, mag, pixel in (("mag-1e-310", "1e-310", "396.875"), ("mag-1e306", "1e306", "396.875"),
                             ("pixel-1e308", "5000", "1e308")):
        corpus.image(f"numbers/{stem}.tif", CATALOGUED, 2, f"Hitachi sidecar Magnification={mag} PixelSize={pixel}",
                     sidecar=hitachi_lines(magnification=mag, pixel_size_nm=pixel))
    replaced = ("DataSize=", "Date=", "Time=", "AcceleratingVoltage=", "WorkingDistance=")
    wild = [line for line in hitachi_lines(magnification="-0") if not line.startswith(replaced)]
    corpus.image("numbers/huge-integers.tif", CATALOGUED, 2,
                 "sidecar with integers past 64 bits, an infinite voltage, Magnification=-0 and the date 12/31/9999",
                 sidecar=[*wild, "DataSize=99999999999999999999x99999999999999999999", "AcceleratingVoltage=1e400 Volt",
                          "WorkingDistance=99999999999999999999999 um", "Date=12/31/9999", "Time=23:59:59"])
    fei = "\r\n".join(["[User]", "Date=01/02/2020", "Time=11:59:00 AM", "[System]", "SystemType=Helios NanoLab 660",
                       "[Beam]", "HV=2000", "[Scan]", "PixelWidth=1e307", "[Detectors]", "Name=TLD", "Mode=SE",
                       "[Image]", "ResolutionX=64", "ResolutionY=48", "MagCanvasRealWidth=0.1", ""])
    corpus.image("numbers/fei-pixelwidth-1e307.tif", CATALOGUED, 2, "FEI tag 34682 [Scan] PixelWidth=1e307",
                 data=tiff_bytes(value=20, extratags=[(34682, "s", 0, fei, True)])[0])
    corpus.image("numbers/tia-calibration_1.ser", CATALOGUED, 2, "TIA .ser with a calibration of 1e308 m per pixel",
                 data=_ser(1e308))
    _mrc(root / "numbers/mrc-voxel-huge.mrc", {40: struct.pack("<f", 3e38)})
    corpus.add("numbers/mrc-voxel-huge.mrc", CATALOGUED, 2, "MRC whose cell is 3e38 Å wide (voxel 7.5e37 Å)")


def _not_files(corpus: AdversarialCorpus) -> None:
    """Item 4: entries that are not regular files, named like images."""
    root = corpus.root
    special = root / "special"
    special.mkdir()
    os.mkfifo(special / "fifo.tif")
    corpus.add("special/fifo.tif", "unreadable", 4, "a FIFO named .tif (open() blocks forever)")
    for device in ("zero", "urandom"):
        _symlink(special / f"dev-{device}.tif", f"/dev/{device}")
        corpus.add(f"special/dev-{device}.tif", ("unreadable", "warnings"), 4,
                   f"symlink to /dev/{device} named .tif (endless data, outside the root)")
    try:
        os.mknod(special / "chardev.tif", 0o600 | stat.S_IFCHR, os.makedev(1, 5))
        corpus.add("special/chardev.tif", "unreadable", 4, "a character device (/dev/zero's numbers) named .tif")
    except OSError as exc:
        corpus.skipped["special/chardev.tif"] = f"cannot create a character device here: {exc.strerror or exc}"
    try:
        _unix_socket(special / "socket.tif")
        corpus.add("special/socket.tif", "unreadable", 4, "a Unix socket named .tif")
    except OSError as exc:
        corpus.skipped["special/socket.tif"] = f"cannot bind a Unix socket here: {exc.strerror or exc}"


def _bombs(corpus: AdversarialCorpus, targets: dict[str, Path]) -> None:
    """Items 3, 4, 7, 8: a 30,000² image is real (SEM montages reach 100k px); the others lie in their
    header, or keep their data where reading it leaves the root or blocks."""
    root = corpus.root
    corpus.image("bombs/zlib-30000.tif", CATALOGUED, 7, "30,000 x 30,000 deflate TIFF of zeros, 0.9 MB on disk",
                 data=zlib_bomb())
    corpus.image("bombs/zero-size.tif", "unreadable", 4, "TIFF of 0 x 0 pixels", data=raw_tiff(0, 0, []))
    corpus.image("bombs/huge-dims.tif", "unreadable", 4, "TIFF claiming 4294967295 x 4294967295 pixels in 16 bytes",
                 data=raw_tiff(0xFFFFFFFF, 0xFFFFFFFF, [bytes(16)]))
    corpus.image("bombs/bits-1000.tif", (CATALOGUED, "unreadable"), 9, "TIFF with BitsPerSample=1000",
                 data=raw_tiff(4, 4, [bytes(16)], bits=1000))
    for stem, patch, why in (
        ("mrc-nx-negative", {0: struct.pack("<i", -5)}, "MRC header with nx=-5"),
        ("mrc-huge-volume", {0: struct.pack("<3i", *([2**31 - 1] * 3))},
         "MRC header claiming (2^31-1)^3 = 2^93 voxels in 1 KB"),
    ):
        _mrc(root / f"bombs/{stem}.mrc", patch)
        corpus.add(f"bombs/{stem}.mrc", "unreadable", 4, why)
    _velox_external_link(root / "bombs/velox-external-link.emd", targets["velox"])
    corpus.add("bombs/velox-external-link.emd", ("unreadable", "warnings", CATALOGUED), 8,
               "Velox .emd whose image group is an HDF5 external link to a file outside the root")
    _velox_external_storage(root / "bombs/velox-external-fifo.emd", targets["fifo"])
    corpus.add("bombs/velox-external-fifo.emd", ("unreadable", "warnings", CATALOGUED), 3,
               "Velox .emd whose Metadata is HDF5 external storage in a FIFO (reading it blocks forever)")
    big = hitachi_lines()
    while sum(len(line) + 2 for line in big) < BIG_SIDECAR_BYTES:
        big.append(f"Comment{len(big)}=" + "x" * 1000)
    corpus.image("bombs/big-sidecar.tif", CATALOGUED, 4, "a frame whose sidecar is over 1 MiB",
                 sidecar=big, sidecar_outcomes="warnings")


def _links(corpus: AdversarialCorpus, targets: dict[str, Path]) -> None:
    """Items 4, 8: symlinks that leave the root, loop or lead nowhere."""
    root = corpus.root
    _symlink(root / "links/outside-folder", targets["tree"])
    corpus.add("links/outside-folder", ("warnings", "unreadable"), 8, "folder symlink to outside the root")
    corpus.never_catalogued.append(b"links/outside-folder/")
    _symlink(root / "links/passwd.tif", targets["passwd"])
    corpus.add("links/passwd.tif", ("warnings", "unreadable"), 8, "file symlink to a text file outside the root")
    _symlink(root / "links/outside-image.tif", targets["image"])
    corpus.add("links/outside-image.tif", ("warnings", "unreadable"), 8, "file symlink to a TIFF outside the root")
    corpus.image("links/outside-sidecar.tif", CATALOGUED, 8, "a valid frame whose sidecar links outside the root")
    _symlink(root / "links/outside-sidecar.txt", targets["sidecar"])
    corpus.add("links/outside-sidecar.txt", ("warnings", "unreadable"), 8, "sidecar symlink to outside the root")
    _symlink(root / "links/loop", ".")
    corpus.add("links/loop", ("warnings", "unreadable"), 4, "folder symlink to itself (a loop)")
    _symlink(root / "links/broken.tif", "nowhere/missing.tif")
    corpus.add("links/broken.tif", "unreadable", 4, "broken symlink")


__all__ = ["CATALOGUED", "PAIRED", "SECRET", "AdversarialCorpus", "Entry", "hitachi_lines", "make_adversarial_corpus",
           "raw_tiff", "zlib_bomb"]
