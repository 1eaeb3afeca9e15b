"""Fixtures shared by every test package (helpers live in support.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from emcensus.catalog import Catalog
from emcensus.scan import RootSpec, scan
from support import VENDOR_SAMPLES, hitachi_sidecar, write_tiff


@pytest.fixture
def tiny_archive(tmp_path: Path) -> Path:
    """An SU8230 root: 4 frames with sidecars (one also exported as JPEG), one image without a
    sidecar, one orphan sidecar. 6 image files, 5 acquisitions."""
    root = tmp_path / "archive" / "SU8230"
    frames = [
        ("groupA/p1/2016-06-23/img001", 5000, "SE(U)", "06/23/2016", "cp1252"),
        ("groupA/p1/2016-06-23/img002", 50000, "LA-BSE(U)", "06/23/2016", "utf-16"),
        ("groupB/p2/2019-01-02/img003", 200000, "TE", "2019/01/02", "cp932"),
        ("groupB/p2/2019-01-02/img004", 100000, "DF-STEM", "01/02/2019", "cp1252"),
    ]
    for index, (stem, mag, signal, date, encoding) in enumerate(frames):
        write_tiff(root / f"{stem}.tif", seed=index)
        (root / f"{stem}.txt").write_bytes(hitachi_sidecar(mag, signal, date).encode(encoding))
    Image.open(root / f"{frames[0][0]}.tif").convert("L").save(root / f"{frames[0][0]}.jpg")
    write_tiff(root / "groupB/p2/2019-01-02/nosidecar.tif", seed=9)
    (root / "groupB/p2/2019-01-02/deleted.txt").write_bytes(hitachi_sidecar(1000, "SE(L)").encode("cp1252"))
    return root


@pytest.fixture
def catalog(tiny_archive: Path, tmp_path: Path) -> Iterator[Catalog]:
    """A real catalog of `tiny_archive` (scanned in this process)."""
    with Catalog(tmp_path / "c.sqlite") as catalog:
        scan(catalog, [RootSpec(str(tiny_archive), "SU8230")], workers=0)
        yield catalog


@pytest.fixture
def vendor_samples() -> Path:
    if not VENDOR_SAMPLES.is_dir():
        pytest.skip(f"real vendor files not found at {VENDOR_SAMPLES} (../shared/vendor-samples beside the repo)")
    return VENDOR_SAMPLES
