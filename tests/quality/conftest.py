"""The archive of near-duplicates the quality tests share: one frame saved as tif + jpg + bmp and
copied cropped, a repeat of its field, and other fields."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from emcensus.catalog import Catalog
from emcensus.figures.textures import TEXTURES
from emcensus.scan import RootSpec, scan
from quality.quality_support import frame, write_frame


@dataclass
class DuplicateArchive:
    root: Path
    catalog: Catalog
    frame_files: list[Path]  # one frame: tif, jpg, bmp, and a cropped JPEG copy elsewhere
    repeat: Path  # a second exposure of the same field
    others: list[Path]  # different fields

    def id_of(self, path: Path) -> int:
        return self.catalog.find_images(str(path))[0][0]


@pytest.fixture
def duplicate_archive(tmp_path: Path) -> DuplicateArchive:
    root = tmp_path / "archive" / "SU8230"
    session = root / "groupA" / "2019-01-02"
    area = frame("particles", 1, 1)
    write_frame(session / "frame", area, exports=(".jpg", ".bmp"))
    copies = root / "groupA" / "for-slides"
    copies.mkdir(parents=True)
    Image.fromarray(area[10:-10, 12:-12]).save(copies / "frame_crop.jpg", quality=85)  # no sidecar: dated by its file
    write_frame(session / "repeat", frame("particles", 1, 2))
    others = []
    for index in range(12):  # other fields, some of the same specimen kind: none is a duplicate
        write_frame(session / f"other{index:02d}", frame(TEXTURES[index % len(TEXTURES)], 100 + index, 100 + index))
        others.append(session / f"other{index:02d}.tif")
    catalog = Catalog(tmp_path / "c.sqlite")
    scan(catalog, [RootSpec(str(root), "SU8230")], workers=0)
    files = [session / "frame.tif", session / "frame.jpg", session / "frame.bmp", copies / "frame_crop.jpg"]
    yield DuplicateArchive(root, catalog, files, session / "repeat.tif", others)
    catalog.close()
