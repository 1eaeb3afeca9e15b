"""Helpers that build small archives and check that scans leave them untouched."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import tifffile

REPO = Path(__file__).resolve().parents[1]
VENDOR_SAMPLES = (REPO / ".." / "shared" / "vendor-samples").resolve()


def catalog_cli(catalog: Path):
    """`emcensus --catalog CATALOG ARGS...` in this process (click's runner): a call asserts exit 0
    and shows the output when not, unless given ok=False; `env`: variables set for the call."""
    from click.testing import CliRunner

    from emcensus.cli.main import main

    runner = CliRunner()

    def invoke(*args: str, ok: bool = True, env: dict[str, str] | None = None):
        result = runner.invoke(main, ["--catalog", str(catalog), *args], catch_exceptions=False, env=env)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return invoke


def hitachi_sidecar(mag: int, signal: str, date: str = "06/23/2016", model: str = "SU8230", width: int = 64,
                    height: int = 48) -> str:
    pixel_nm = 127e6 / mag / width
    return "\r\n".join([
        "[SemImageFile]",
        f"InstructName={model}",
        f"SignalName={signal}",
        f"Magnification={mag}",
        "AcceleratingVoltage=15000 Volt",
        "WorkingDistance=8000 um",
        f"PixelSize={pixel_nm:.4f}",
        f"DataSize={width}x{height}",
        f"Date={date}",
        "Time=10:11:12",
        "",
    ])


def write_tiff(path: Path, seed: int = 0, shape: tuple[int, int] = (48, 64)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(path, np.random.default_rng(seed).integers(0, 255, shape, dtype=np.uint8))


def fingerprint(root: Path) -> dict[str, tuple[str, int, int]]:
    """Content hash, mtime and mode of everything under `root`: what 'untouched' means."""
    result = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder, name)
            info = path.lstat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() and not path.is_symlink() and os.access(path, os.R_OK) else ""
            result[str(path.relative_to(root))] = (digest, info.st_mtime_ns, info.st_mode)
    return result


def census_rows(catalog) -> list[dict]:
    """Everything a census says about the archive, in a comparable form (scan ids left out)."""
    rows = catalog.images(include_missing=True)
    ignore = {"id", "first_seen_scan", "missing_since_scan"}
    return [{k: v for k, v in row.items() if k not in ignore} for row in rows]


#: Debian's chromium, driven by Playwright in the browser tests (scripts/test.sh installs it).
CHROMIUM = Path("/usr/bin/chromium")


def demo_census(folder: Path, images: int, *, seed: int, layout: str | None = None) -> tuple[Path, Path]:
    """A generated archive (`folder/archive`) censused in this process, a root per instrument folder,
    into `folder/c.sqlite`: both paths."""
    from emcensus.catalog import Catalog
    from emcensus.demo.generate import generate_archive
    from emcensus.scan import scan

    archive, path = folder / "archive", folder / "c.sqlite"
    generate_archive(archive, images, seed=seed)
    with Catalog(path) as catalog:
        scan(catalog, instrument_roots(archive, layout), workers=0)
    return archive, path


def instrument_roots(archive: Path, layout: str | None = None) -> list:
    """A root per instrument folder of a generated archive (`emcensus.demo`), named after it."""
    from emcensus.scan import RootSpec

    return [RootSpec(str(archive / name), name, layout=layout) for name in sorted(os.listdir(archive))
            if (archive / name).is_dir()]


class InterruptAfter:
    """Scan progress at which the user presses Ctrl-C once `files` image files are written (a scan
    stopped midway, as a killed or interrupted census leaves the catalog)."""

    def __init__(self, files: int = 1) -> None:
        self.left = files

    def queued(self, files: int) -> None:
        pass

    def done(self, files: int, errors: int) -> None:
        self.left -= files
        if self.left <= 0:
            raise KeyboardInterrupt
