"""Small procedural micrographs and published variants of them, for the matcher's tests.

Each specimen is a seeded scene of particles, pores, fibres and grain edges drawn with OpenCV, with
its own detector noise per shot, so a repeat of a field shares structure but not noise. Archive files
are written as Hitachi SEM TIFFs with a data bar below the image area and a sidecar that gives the
image area's size and pixel size, as PC-SEM writes them.
"""

from __future__ import annotations

import io
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np
import tifffile
from PIL import Image

from emcensus.figures.features import ARCHIVE_FEATURES, extract
from emcensus.figures.index import VisualIndex, archive_thumbnail
from emcensus.figures.textures import micrograph
from support import hitachi_sidecar

#: Archive image area and the data bar PC-SEM burns in below it.
WIDTH, HEIGHT, BAR = 640, 480, 40


def scene(seed: int, size: int = 1400) -> np.ndarray:
    """A specimen larger than one field: shapes of many sizes on a shaded background (float32, 0..255)."""
    rng = np.random.default_rng(seed)
    image = np.full((size, size), rng.uniform(60, 120), np.float32)
    for _ in range(int(size * size / 2500)):
        x, y = rng.integers(0, size, 2)
        r = int(rng.pareto(1.8) * 4 + 3)
        level = float(rng.uniform(0, 255))
        kind = rng.integers(0, 4)
        if kind == 0:
            cv2.circle(image, (int(x), int(y)), r, level, -1, cv2.LINE_AA)
        elif kind == 1:
            axes = (r, max(2, int(r * rng.uniform(0.3, 0.9))))
            cv2.ellipse(image, (int(x), int(y)), axes, float(rng.uniform(0, 180)), 0, 360, level, -1, cv2.LINE_AA)
        elif kind == 2:
            points = (np.array([x, y]) + rng.normal(0, r * 1.5, (int(rng.integers(3, 7)), 2))).astype(np.int32)
            cv2.fillPoly(image, [points], level, cv2.LINE_AA)
        else:
            end = (np.array([x, y]) + rng.normal(0, r * 6, 2)).astype(int)
            cv2.line(image, (int(x), int(y)), (int(end[0]), int(end[1])), level, int(rng.integers(1, 4)), cv2.LINE_AA)
    return cv2.GaussianBlur(image, (0, 0), 1.0)


def shot(specimen: np.ndarray, x: int, y: int, zoom: float, seed: int) -> np.ndarray:
    """One acquisition: the WIDTH x HEIGHT field at (x, y) of the specimen, `zoom` specimen px per
    image px, with this shot's own noise (uint8)."""
    rng = np.random.default_rng(seed)
    window = specimen[y:y + int(HEIGHT * zoom), x:x + int(WIDTH * zoom)]
    image = cv2.resize(window, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA if zoom > 1 else cv2.INTER_CUBIC)
    image = image + rng.normal(0, 6, image.shape).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8)


def write_archive_image(path: Path, pixels: np.ndarray, *, mag: int = 20000, date: str = "06/23/2016") -> None:
    """A Hitachi TIFF (image area + a white-on-black data bar) and its sidecar."""
    path.parent.mkdir(parents=True, exist_ok=True)
    bar = np.zeros((BAR, pixels.shape[1]), np.uint8)
    cv2.putText(bar, "SU8230 15.0kV 8.0mm x20.0k SE(U)", (8, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.7, 255, 1)
    tifffile.imwrite(path, np.vstack([pixels, bar]))
    sidecar = hitachi_sidecar(mag, "SE(U)", date=date, width=pixels.shape[1], height=pixels.shape[0])
    path.with_suffix(".txt").write_text(sidecar, newline="")


def publish(pixels: np.ndarray, *, crop: tuple[float, float, float, float] = (0.1, 0.1, 0.7, 0.7),
            width: int = 300, quality: int = 70, flip: bool = False, invert: bool = False,
            angle: float = 0.0, gamma: float = 1.0) -> np.ndarray:
    """What an author does: crop (fractions x0, y0, x1, y1), resize to `width`, gamma, flip,
    invert, rotate a little, draw an arrow and a label, save as JPEG."""
    h, w = pixels.shape[:2]
    x0, y0, x1, y1 = int(crop[0] * w), int(crop[1] * h), int(crop[2] * w), int(crop[3] * h)
    panel = pixels[y0:y1, x0:x1]
    panel = cv2.resize(panel, (width, max(8, round(width * (y1 - y0) / (x1 - x0)))), interpolation=cv2.INTER_AREA)
    panel = np.clip(255 * (panel / 255.0) ** gamma, 0, 255).astype(np.uint8)
    if flip:
        panel = np.ascontiguousarray(panel[:, ::-1])
    if invert:
        panel = 255 - panel
    if angle:
        centre = (panel.shape[1] / 2, panel.shape[0] / 2)
        panel = cv2.warpAffine(panel, cv2.getRotationMatrix2D(centre, angle, 1.0), (panel.shape[1], panel.shape[0]),
                               borderMode=cv2.BORDER_REFLECT)
    ph, pw = panel.shape
    cv2.arrowedLine(panel, (pw // 5, ph // 5), (pw // 3, ph // 3), 255, 2)
    cv2.putText(panel, "a", (6, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 255, 2)
    buffer = io.BytesIO()
    Image.fromarray(panel).save(buffer, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("L"))


def build_archive(root: Path) -> dict[str, Path]:
    """An SU8230 root of 8 acquisitions: specimen A shot twice seconds apart plus a 2.5x zoom into
    it, specimens B and C once, three unrelated specimens. Returns name -> TIFF path."""
    shots = {
        "a": (0, 100, 100, 1.0, 1), "a_repeat": (0, 100, 100, 1.0, 2), "a_zoom": (0, 250, 200, 0.4, 3),
        "b": (1, 150, 80, 1.0, 4), "c": (2, 60, 120, 1.0, 5),
        "d1": (3, 100, 100, 1.0, 6), "d2": (4, 100, 100, 1.0, 7), "d3": (5, 100, 100, 1.0, 8),
    }
    paths, specimens = {}, {}
    for name, (specimen, x, y, zoom, noise) in shots.items():
        if specimen not in specimens:
            specimens[specimen] = scene(100 + specimen)
        paths[name] = root / "groupA" / "p1" / f"{name}.tif"
        write_archive_image(paths[name], shot(specimens[specimen], x, y, zoom, seed=noise),
                            mag=50000 if name == "a_zoom" else 20000)
    return paths


def area_of(path: Path) -> np.ndarray:
    """The image area of an archive TIFF written by `write_archive_image` (data bar cut off)."""
    return tifffile.imread(path)[:HEIGHT]


def figure_pdf(path: Path, panels: list[np.ndarray], *, doi: str | None = None) -> None:
    """An article page made with matplotlib: the panels side by side (imshow: stored flipped,
    placed with a matrix, as real matplotlib PDFs are), a caption, the DOI in the text."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.0), squeeze=False)
    for axis, panel in zip(axes[0], panels, strict=True):
        axis.imshow(panel, cmap="gray", vmin=0, vmax=255, interpolation="none")
        axis.set_axis_off()
    figure.text(0.02, 0.01, f"Figure 1. SEM images. doi:{doi}" if doi else "Figure 1. SEM images.", fontsize=7)
    figure.savefig(path, dpi=150)
    plt.close(figure)


def visual_index(images: Mapping[Path, np.ndarray], *, area: tuple[int, int] = (WIDTH, HEIGHT),
                 pixel_size_m: float | None | Mapping[Path, float | None] = 1e-8,
                 years: Mapping[Path, int] | None = None, unvoted: Collection[Path] = (),
                 thumbnails: bool = False) -> VisualIndex:
    """An index of `images` (their files at those paths, written by the caller) as `figures index` keeps
    it; `area` is each image area's (width, height), `unvoted` images hold no descriptors (the vote never
    brings them in), `thumbnails`: with their whole-field thumbnails."""
    table, points, descriptors, rows, start = [], [], [], [], 0
    for image_id, (path, pixels) in enumerate(images.items(), start=1):
        features = extract(pixels, ARCHIVE_FEATURES)
        kept = 0 if path in unvoted else len(features)
        size = pixel_size_m.get(path) if isinstance(pixel_size_m, Mapping) else pixel_size_m
        table.append({"id": image_id, "path": str(path), "width_px": area[0], "height_px": area[1],
                      "pixel_size_m": size, "year": (years or {}).get(path, 2016), "start": start, "count": kept})
        points.append(features.points[:kept])
        descriptors.append(features.descriptors[:kept])
        if thumbnails:
            rows.append(archive_thumbnail(pixels))
        start += kept
    return VisualIndex(table, np.concatenate(descriptors), np.concatenate(points),
                       thumbnail_rows=np.stack(rows) if thumbnails else None)


def texture_archive(root: Path, kinds: Sequence[str], seeds: Iterable[int], *, width: int = WIDTH,
                    height: int = HEIGHT) -> tuple[dict[str, np.ndarray], VisualIndex]:
    """Generated micrographs, one per (kind, seed), each as a TIFF in a folder of its own under `root` (no
    neighbour brings a source in), and their index as `figures index` keeps it: name -> pixels, index."""
    images = {f"{kind}_{seed}": micrograph(kind, seed, width, height) for kind in kinds for seed in seeds}
    files = {root / name / "image.tif": pixels for name, pixels in images.items()}
    for path, pixels in files.items():
        path.parent.mkdir()
        tifffile.imwrite(path, pixels)
    return images, visual_index(files, area=(width, height))
