"""Realistic frames for the quality tests: SEM frames with a burned-in data bar below the image area
their Hitachi sidecar describes; the stored quality of a catalog in a comparable form."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile
from PIL import Image

from emcensus.catalog import Catalog
from emcensus.figures.textures import acquire, make_scene, render
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
