"""Realistic frames for the quality tests: SEM frames with a burned-in data bar below the image area
their Hitachi sidecar describes, an archive of near-duplicates, the stored quality of a catalog in a
comparable form."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image

from emcensus.catalog import Catalog
from emcensus.figures.textures import TEXTURES, acquire, make_scene, render
from emcensus.scan import RootSpec, scan
from support import hitachi_sidecar

WIDTH, HEIGHT, BAR = 640, 480, 36


def frame(kind: str, scene_seed: int, shot_seed: int, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """One 8-bit acquisition of a specimen (the same scene seed is the same field)."""
    return acquire(render(make_scene(kind, scene_seed), (0.5, 0.5), 0.4, width, height), shot_seed)


def with_bar(area: np.ndarray) -> np.ndarray:
    """The frame as the SEM stores it: the image area, then a black data bar with white text."""
    bar = np.zeros((BAR, area.shape[1]), np.uint8)
    bar[8:28, 16:260] = 255
    bar[12:24, 300:330] = 255
    return np.vstack([area, bar])


def write_frame(stem: Path, area: np.ndarray, *, date: str = "01/02/2019", mag: int = 5000, exports: tuple[str, ...] = ()
                ) -> None:
    """`stem.tif` (with the data bar) and its sidecar, plus `exports` (".jpg", ".bmp") of the same frame."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    stored = with_bar(area)
    tifffile.imwrite(stem.with_suffix(".tif"), stored)
    stem.with_suffix(".txt").write_bytes(
        hitachi_sidecar(mag, "SE(U)", date, width=area.shape[1], height=area.shape[0]).encode("cp1252"))
    for suffix in exports:
        Image.fromarray(stored).save(stem.with_suffix(suffix), **({"quality": 90} if suffix == ".jpg" else {}))


def measured_rows(catalog: Catalog) -> list[dict]:
    """Every stored quality row by path, without when it was computed and the catalog's ids."""
    rows = [{k: v for k, v in row.items() if k not in ("computed_at", "image_id", "dup_group")}
            | {"grouped": row["dup_group"] is not None} for row in catalog.quality_rows()]
    return sorted(rows, key=lambda row: row["path"])


@dataclass
class DuplicateArchive:
    """A scanned archive of one frame's copies, a repeat of its field and other fields."""

    root: Path
    catalog: Catalog
    frame_files: list[Path]  # one frame: tif, jpg, bmp, and a cropped JPEG copy elsewhere
    repeat: Path  # a second exposure of the same field
    others: list[Path]  # different fields

    def id_of(self, path: Path) -> int:
        return self.catalog.find_images(str(path))[0][0]


def build_duplicate_archive(tmp_path: Path) -> DuplicateArchive:
    """One frame saved as tif + jpg + bmp and copied cropped, a repeat of its field, and 12 other
    fields, scanned into a catalog (open for writing: close it when done)."""
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
    return DuplicateArchive(root, catalog, files, session / "repeat.tif", others)
