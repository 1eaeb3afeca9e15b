"""A synthetic article corpus with its truth: an archive of micrographs and the documents that publish them.

There is no real corpus of articles paired with the archive they came from, so the matcher and the
scale-bar reader are measured on this one. It is made the way a facility and its authors make theirs:

* the archive (`archive/<instrument>/<user>/<date>/<sample>_<n>.tif` + Hitachi `.txt` sidecars, the
  writers of `emcensus.demo.sidecars`) holds six kinds of specimen (`figures.textures`), SEM frames
  with a burned-in data bar below the image area the sidecar's `DataSize` gives, and the hard
  negatives: *repeats* (the same field seconds apart: new noise, a drift of up to a few pixels, and the
  smooth change the earlier shots' contamination and charging left), *magnification
  series* (the same specimen at 1x and 2-10x, with the detail each one resolves) and *tiles* (two
  overlapping fields side by side);
* the articles (`papers/<stem>.pdf`, sometimes `<stem>_SI.pdf`, `<stem>-SI.pdf`, `<stem>_supp1.pdf`)
  are matplotlib PDFs with a title page carrying the DOI (`https://doi.org/10.5555/emc.<n>`), one
  multi-panel figure per page (1x2, 2x2, 2x3, white gutters, panel letters) and captions naming the
  technique. Panels pass through `figures.authoring` (crop, resize, rotation, flip, tone, false
  colour, arrows, labels, inset, new scale bar, JPEG); distractor micrographs from no archive, plots
  and schemes are mixed in; some figures show a series or repeats side by side, some panels are two
  tiles stitched; one figure of the corpus is drawn as vectors (no image object: the page must be
  rendered). With `pictures=True`, a thesis chapter (.docx) and a talk (.pptx), the figure pasted
  into each as one picture, and a slide screenshot (.png) are publications of their own, named by
  their file. With `long_articles`, long publications too (an article and its SI of about ten pages,
  25-40 panels of which about a third come from no archive), the size at which issue 8 times the matcher;
* `truth.json` says for every panel which archive image(s) it shows (or none), where (crop box and
  a 2x3 matrix from archive pixels to panel pixels), at what scale, with what printed scale bar, and
  for every archive image its repeat/series/tiles group; `ledger` is the Table-1 truth (article ->
  archive images).

Same seed, same bytes (TIFFs, sidecars, documents, truth), with any number of workers. Archive
pixel coordinates are those of the TIFF (the data bar lies below the image area). Page numbers count
from 1 (the slide in a .pptx, 0 in a .docx); panel boxes (`Panel.bbox_pt`) are [x0, y0, x1, y1] from
the top-left corner (y down), as `figures match` reports `panel_bbox`: PDF points on a page, pixels
of a picture document.
"""

from __future__ import annotations

import io
import json
import math
import multiprocessing
import os
import textwrap
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from emcensus.demo.generate import nice_magnification
from emcensus.demo.sidecars import HITACHI_REFERENCE_NM, TEM_CAMERA_WIDTH_NM, encode_sidecar, micron_marker_nm, sidecar_text
from emcensus.errors import ConfigError
from emcensus.figures.authoring import PanelTruth, ScaleBarTruth, author_panel, burn_letter
from emcensus.figures.textures import TEXTURES, acquire, make_scene, render
from emcensus.outputs import guard_output

TRUTH_NAME = "truth.json"
PAPERS = "papers"
TRUTH_VERSION = 2  # 2: panel boxes from the top-left corner (1 had PDF's bottom-left origin)
DOI_PREFIX = "10.5555/emc."

#: Panel layouts (rows, columns) of a figure.
LAYOUTS = ((1, 2), (2, 2), (2, 3))
#: Stage step between two tiles, in field widths (15 % overlap for stitching).
TILE_STEP = 0.85
#: Relative magnifications of a series (the lowest first).
SERIES_STEPS = ((1, 2, 5), (1, 2.5, 10), (1, 5, 10), (1, 2, 10))
_PAGE = (8.27, 11.69)  # A4, inches
_SEM_DETECTORS = ("SE(U)", "SE(L)", "SE(UL)", "LA-BSE(U)")
_USERS = ("ivanov", "petrova", "kashin", "chen", "mueller", "sokolova", "guest")
_SAMPLES = {"particles": ("PdC", "Ni-NP", "Au"), "pores": ("foam", "HTC", "ZIF8"), "fibres": ("AgNW", "CNT", "CF"),
            "crystals": ("CeO2", "MOF5", "Cu-BTC"), "films": ("TiO2-film", "ITO", "Pt-film"),
            "tem": ("Pd-C", "Rh", "Fe3O4")}
_TOPICS = {"particles": "supported metal nanoparticles", "pores": "a porous carbon foam", "fibres": "silver nanowire mats",
           "crystals": "faceted oxide crystals", "films": "sputtered thin films", "tem": "nanoparticles on carbon"}
_AUTHORS = ("Ivanov", "Chen", "Müller", "Petrova", "Garcia", "Kashin", "Sato", "Okafor", "Novak", "Rossi")
_JOURNALS = ("ACSCatal", "NanoLett", "JMaterChem", "ChemSci", "Small", "Carbon")


@dataclass
class ArchiveImage:
    """One acquisition in the archive. `width` x `height` is the image area; the TIFF has `data_bar_px` more rows."""

    path: str  # POSIX, relative to the archive folder
    sidecar: str
    group: str  # repeat/series group; a single image is a group of one
    relation: str  # single | repeat | series | tiles
    texture: str
    instrument: str
    technique: str
    detector: str | None
    magnification: int
    pixel_size_m: float
    width: int
    height: int
    data_bar_px: int
    bits: int
    acquired_at: str
    scene_seed: int
    view: list[float]  # centre x, centre y, field width in scene units
    shot_seed: int
    exposed: int = 0  # earlier shots of this field (a repeat's): what they left changes it (`textures.acquire`)


@dataclass
class MontagePart:
    """One archive tile of a stitched panel: where it lies in the stitch, and its own map into the panel."""

    source: str
    offset_px: list[float]  # the tile's origin in the stitched image (the panel geometry's source pixels)
    crop_box_px: list[float]  # the part of the tile the panel shows, tile pixels
    matrix: list[list[float]]  # 2x3, tile pixel -> panel pixel


@dataclass
class Panel:
    """One panel of a figure. `source` is the archive image shown (None: distractor, plot, scheme)."""

    letter: str
    kind: str  # archive | distractor | plot | scheme
    bbox_pt: list[float]  # from the top-left corner, y down: PDF points; pixels in a picture document (.png, .docx, .pptx)
    raster: bool  # the document holds it as pixels (an image object, or part of the picture)
    source: str | None = None
    geometry: PanelTruth | None = None  # crop, scale, matrix, edits, scale bar, insets
    letter_burned: bool = False
    montage: list[MontagePart] = field(default_factory=list)  # a stitched panel: every tile it shows


@dataclass
class Figure:
    document: str  # file name under papers/
    page: int  # from 1 (the slide in a .pptx); 0 in a .docx (no pages)
    number: str  # "2", "S1", "3.1", "slide 2", "slide 5"
    caption: str  # as the document's text gives it ("" for a screenshot: its text is pixels)
    layout: list[int]
    vector: bool  # drawn as vectors: no image object on the page
    panels: list[Panel] = field(default_factory=list)


@dataclass
class Article:
    article: str  # the DOI
    stem: str
    title: str
    year: int
    documents: list[str]
    figures: list[Figure] = field(default_factory=list)
    long: bool = False  # an article of about ten pages with its SI (`long_articles`)


@dataclass
class CorpusTruth:
    """Everything the generator knows: images, articles, panels, and the ledger derived from them."""

    seed: int
    archive: str
    papers: str
    images: list[ArchiveImage]
    articles: list[Article]
    timings: dict[str, float] = field(default_factory=dict, compare=False)  # of this run; not saved

    def image_path(self, rel: str) -> Path:
        """The archive path of an image as a scan catalogues it."""
        return Path(self.archive) / rel

    def panels(self) -> list[tuple[Article, Figure, Panel]]:
        return [(a, f, p) for a in self.articles for f in a.figures for p in f.panels]

    def ledger(self) -> dict[str, list[str]]:
        """Table-1 truth: article DOI -> sorted archive paths (relative) of the images it publishes."""
        out: dict[str, set[str]] = {a.article: set() for a in self.articles}
        for a, _, p in self.panels():
            if p.source is not None:
                out[a.article].add(p.source)
            out[a.article].update(part.source for part in p.montage)
        return {k: sorted(v) for k, v in out.items()}

    def pairs(self) -> set[tuple[str, str]]:
        """(article, absolute image path) pairs a matcher should find: precision and recall count these."""
        return {(a, str(self.image_path(rel))) for a, rels in self.ledger().items() for rel in rels}

    def write_ledger(self, path: Path, only: set[tuple[str, str]] | None = None) -> Path:
        """The ledger as the CSV `emcensus pubs import` reads (image paths relative to the archive, as the
        demo ledger writes them): Table 1 from it is what `figures accept` must reproduce. `only`:
        just these (article, relative image path) links (what a matcher found of the truth)."""
        import csv

        from emcensus.demo.publications import LEDGER_COLUMNS

        ledger = self.ledger()
        with Path(path).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=LEDGER_COLUMNS, lineterminator="\n")
            writer.writeheader()
            for article in self.articles:
                for image in ledger[article.article]:
                    if only is not None and (article.article, image) not in only:
                        continue
                    writer.writerow({"article": article.article, "year": article.year, "image": image,
                                     "title": article.title, "source": "facility"})
        return Path(path)

    def groups(self) -> dict[str, list[str]]:
        """Group id -> relative paths of its images (repeats, series, tiles: what `related` should list)."""
        out: dict[str, list[str]] = {}
        for img in self.images:
            out.setdefault(img.group, []).append(img.path)
        return out

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        del data["timings"]
        data["version"] = TRUTH_VERSION
        data["ledger"] = self.ledger()
        return data

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> CorpusTruth:
        from emcensus.figures.authoring import InsetTruth

        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if data.get("version") != TRUTH_VERSION:
            raise ConfigError(f"{path}: truth version {data.get('version')}, this generator writes {TRUTH_VERSION} "
                              "(panel boxes changed convention): generate the corpus again")

        def panel(p: dict) -> Panel:
            g = p.pop("geometry")
            if g is not None:
                bar = g.pop("scale_bar")
                insets = [InsetTruth(**i) for i in g.pop("insets")]
                g = PanelTruth(**g, scale_bar=ScaleBarTruth(**bar) if bar else None, insets=insets)
            montage = [MontagePart(**m) for m in p.pop("montage")]
            return Panel(**p, geometry=g, montage=montage)

        articles = []
        for a in data["articles"]:
            figures = [Figure(**{**f, "panels": [panel(p) for p in f["panels"]]}) for f in a.pop("figures")]
            articles.append(Article(**a, figures=figures))
        return cls(seed=data["seed"], archive=data["archive"], papers=data["papers"],
                   images=[ArchiveImage(**i) for i in data["images"]], articles=articles)


# --------------------------------------------------------------------------- the archive plan


def _fov_m(technique: str, magnification: float) -> float:
    """Field width in metres: Hitachi SEM magnification refers to a 127 mm print, the TEM's to its camera."""
    return (TEM_CAMERA_WIDTH_NM if technique == "TEM" else HITACHI_REFERENCE_NM) * 1e-9 / magnification


def _plan_images(rng: np.random.Generator, n: int, size: tuple[int, int]) -> list[ArchiveImage]:
    """Decide every acquisition, group by group: 35 % of groups single images, 22 % repeats (2-3 shots),
    30 % magnification series (3) and 13 % pairs of tiles (fields side by side overlapping by 15 %, which
    authors stitch); by images about 16 %, 25 %, 49 % and 11 %."""
    width, height = size
    images: list[ArchiveImage] = []
    counters: dict[str, int] = {}
    group_no = 0
    while len(images) < n:
        left = n - len(images)
        relation = str(rng.choice(["single", "repeat", "series", "tiles"], p=[0.35, 0.22, 0.3, 0.13]))
        if relation == "repeat":
            count = min(left, int(rng.integers(2, 4)))
        elif relation == "series":
            count = min(left, 3)
        elif relation == "tiles":
            count = min(left, 2)
        else:
            count = 1
        if count == 1:
            relation = "single"
        group_no += 1
        texture = TEXTURES[int(rng.integers(len(TEXTURES)))]
        technique = "TEM" if texture == "tem" else "SEM"
        year = int(rng.integers(2014, 2023))
        instrument = "HT7700" if technique == "TEM" else ("SU8230" if year >= 2015 else "SU8000")
        detector = None if technique == "TEM" else _SEM_DETECTORS[int(rng.integers(len(_SEM_DETECTORS)))]
        lo, hi = (4.0, 5.2) if technique == "TEM" else (3.3, 4.7)
        base_mag = nice_magnification(10 ** rng.uniform(lo, hi))
        base_fov = float(rng.uniform(0.35, 0.6) if relation != "tiles" else rng.uniform(0.25, 0.4))  # scene units
        when = datetime(year, int(rng.integers(1, 13)), int(rng.integers(1, 29)), int(rng.integers(8, 18)),
                        int(rng.integers(60)), int(rng.integers(60)))
        user = _USERS[int(rng.integers(len(_USERS)))]
        sample = _SAMPLES[texture][int(rng.integers(3))]
        folder = f"{instrument}/{user}/{when:%Y-%m-%d}"
        scene_seed = int(rng.integers(1 << 31))
        bits = 16 if technique == "TEM" and rng.random() < 0.5 else 8
        steps = SERIES_STEPS[int(rng.integers(len(SERIES_STEPS)))] if relation == "series" else (1,) * count
        reach = base_fov * (TILE_STEP if relation == "tiles" else 0)  # the second tile lies to the right
        cx = float(rng.uniform(base_fov / 2 + 0.02, 1 - base_fov / 2 - reach - 0.02))
        cy = float(rng.uniform(base_fov / 2 + 0.02, 1 - base_fov / 2 - 0.02))
        for k in range(count):
            mag = base_mag if relation != "series" else nice_magnification(base_mag * steps[k])
            fov = base_fov * base_mag / mag
            x, y = cx, cy
            if relation == "series" and k:
                room = base_fov * 0.3 - fov / 2  # the zoomed field stays inside the middle of the overview
                x, y = cx + float(rng.uniform(-1, 1)) * max(room, 0), cy + float(rng.uniform(-1, 1)) * max(room, 0)
            elif relation == "tiles" and k:
                x += TILE_STEP * fov
            elif relation == "repeat" and k:
                x += float(rng.uniform(-3, 3)) * fov / width  # stage drift of up to a few pixels
                y += float(rng.uniform(-3, 3)) * fov / width
            counters[folder] = counters.get(folder, 0) + 1
            stem = f"{sample}_{counters[folder]:03d}"
            images.append(ArchiveImage(
                path=f"{folder}/{stem}.tif", sidecar=f"{folder}/{stem}.txt", group=f"g{group_no:05d}",
                relation=relation, texture=texture, instrument=instrument, technique=technique,
                detector=detector, magnification=mag, pixel_size_m=_fov_m(technique, mag) / width,
                width=width, height=height, data_bar_px=0 if technique == "TEM" else round(height / 15),
                bits=bits, acquired_at=when.isoformat(timespec="seconds"), scene_seed=scene_seed,
                view=[round(x, 9), round(y, 9), round(fov, 9)], shot_seed=int(rng.integers(1 << 31)),
                exposed=k if relation == "repeat" else 0))
            when += timedelta(seconds=int(rng.integers(8, 90)))
    return images


def _data_bar(img: ArchiveImage) -> np.ndarray:
    """The strip PC-SEM burns in below the image: conditions as text and the micron marker ruler."""
    w, h = img.width, img.data_bar_px
    bar = np.zeros((h, w), np.uint8)
    size = h / 50
    fov_nm = img.pixel_size_m * 1e9 * w
    mag = f"x{img.magnification / 1000:.1f}k" if img.magnification >= 1000 else f"x{img.magnification}"
    text = f"{img.instrument} 5.0kV 8.0mm {mag} {img.detector}"
    cv2.putText(bar, text, (round(w * 0.01), round(h * 0.65)), cv2.FONT_HERSHEY_SIMPLEX, size, 255, 1, cv2.LINE_AA)
    marker = micron_marker_nm(fov_nm)
    length = round(marker / (img.pixel_size_m * 1e9))
    x0 = w - length - round(w * 0.02)
    y = round(h * 0.55)
    cv2.line(bar, (x0, y), (x0 + length, y), 255, 1)
    for t in range(11):
        xt = x0 + round(length * t / 10)
        cv2.line(bar, (xt, y - max(2, h // 8)), (xt, y), 255, 1)
    label = f"{marker / 1000:.2f}um" if marker >= 1000 else f"{marker}nm"
    cv2.putText(bar, label, (x0, round(h * 0.9)), cv2.FONT_HERSHEY_SIMPLEX, size * 0.8, 255, 1, cv2.LINE_AA)
    return bar


def _sidecar_fields(img: ArchiveImage, number: int) -> dict[str, Any]:
    """The frame dict `demo.sidecars` writes from (the same keys as the demo archive's plan)."""
    when = datetime.fromisoformat(img.acquired_at)
    stem = Path(img.path).stem
    return {
        "technique": img.technique, "model": img.instrument, "width": img.width, "height": img.height,
        "magnification": img.magnification, "kv": 100.0 if img.technique == "TEM" else 5.0, "wd_um": 8000.0,
        "pixel_size_m": img.pixel_size_m, "detector": img.detector or "", "data_number": f"{img.instrument} {number:04d}",
        "sample": stem.rsplit("_", 1)[0], "primary_ext": ".tif", "image_name": f"{stem}.tif",
        "pc_directory": f"C:\\SemImage\\{img.path.split('/')[1]}\\", "when": when,
        "date_format": "YYYY/MM/DD" if when.year >= 2017 else "MM/DD/YYYY", "variant": number,
        "comment": "", "user": img.path.split("/")[1], "emission_na": 10000, "condenser": 5000,
        "stage_x": 1000 * number, "stage_y": 2000 * number,
    }


def image_pixels(img: ArchiveImage) -> np.ndarray:
    """The image area of an acquisition (no data bar): a pure function of its plan."""
    scene = make_scene(img.texture, img.scene_seed)
    signal = render(scene, (img.view[0], img.view[1]), img.view[2], img.width, img.height)
    return acquire(signal, img.shot_seed, bits=img.bits, exposed=img.exposed)


def _write_image(archive: Path, img: ArchiveImage, number: int) -> np.ndarray:
    """Write the TIFF (image area + data bar) and its sidecar; return the image area's pixels."""
    import tifffile

    pixels = image_pixels(img)
    stored = pixels
    if img.data_bar_px:
        bar = _data_bar(img)
        if pixels.dtype != np.uint8:
            bar = bar.astype(pixels.dtype) * (np.iinfo(pixels.dtype).max // 255)
        stored = np.vstack([pixels, bar])
    path = archive / img.path
    path.parent.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(path, stored, photometric="minisblack", metadata=None, software=False)
    (archive / img.sidecar).write_bytes(encode_sidecar(sidecar_text(_sidecar_fields(img, number)), "cp1252"))
    stamp = datetime.fromisoformat(img.acquired_at).timestamp() + 2
    os.utime(path, (stamp, stamp))
    os.utime(archive / img.sidecar, (stamp, stamp))
    return pixels


# --------------------------------------------------------------------------- the article plan


@dataclass
class _PanelJob:
    """A panel to make: from an archive image (`image` index) or a distractor scene, or a plot/scheme."""

    key: tuple[int, int, int]  # article, figure, panel
    kind: str
    size: tuple[int, int]
    seed: int
    image: int | None = None
    texture: str | None = None
    partner: int | None = None  # the second tile of a stitched panel


@dataclass
class _Pool:
    """What figures draw their archive images from: the published images not shown yet (`take`),
    the groups of several published images (series, repeats, shown side by side) and the tile pairs."""

    images: list[ArchiveImage]
    published: list[int]
    unused: list[int]
    multi: list[list[int]]
    tiles: list[list[int]]

    def take(self, rng: np.random.Generator) -> int:
        return self.unused.pop() if self.unused else int(rng.choice(self.published))

    def used(self, i: int) -> None:
        if i in self.unused:
            self.unused.remove(i)


def _plan_figure(rng: np.random.Generator, pool: _Pool, a: int, f: int, layout: tuple[int, int],
                 panel_px: tuple[int, int], odd_panels: int = 1) -> tuple[dict, list[_PanelJob]]:
    """One figure of an article: its panels' jobs (a series or repeats side by side, a stitched pair of
    tiles, and `odd_panels` draws of a panel that may be a distractor, a plot or a scheme)."""
    images = pool.images
    rows, cols = layout
    n = rows * cols
    pw = int(rng.integers(panel_px[0], panel_px[1] + 1))
    ph = round(pw * float(rng.choice([0.75, 1.0, 0.75, 0.8])))
    kinds = ["archive"] * n
    sources: list[int | None] = [None] * n
    side_by_side = pool.multi and rng.random() < 0.3
    if side_by_side:  # a series low to high magnification, or repeats, next to each other
        group = pool.multi[int(rng.integers(len(pool.multi)))]
        for k, i in enumerate(sorted(group, key=lambda i: images[i].magnification)[:n]):
            sources[k] = i
            pool.used(i)
    partners: list[int | None] = [None] * n
    free = [k for k in range(n) if sources[k] is None]
    if pool.tiles and len(free) > 1 and rng.random() < 0.3:  # two tiles stitched into one panel
        k = free[-1]
        sources[k], partners[k] = pool.tiles[int(rng.integers(len(pool.tiles)))]
        kinds[k] = "montage"
        for i in (sources[k], partners[k]):
            pool.used(i)
    for _ in range(odd_panels):
        odd = int(rng.integers(n))
        if sources[odd] is None:
            roll = rng.random()
            kinds[odd] = "distractor" if roll < 0.3 else "plot" if roll < 0.5 else "scheme" if roll < 0.6 else "archive"
    jobs = []
    for k in range(n):
        if kinds[k] == "archive" and sources[k] is None:
            sources[k] = pool.take(rng)
        jobs.append(_PanelJob(key=(a, f, k), kind=kinds[k], size=(pw, ph), seed=int(rng.integers(1 << 31)),
                              image=sources[k], texture=TEXTURES[int(rng.integers(len(TEXTURES)))],
                              partner=partners[k]))
    return {"si": False, "layout": [rows, cols], "size": (pw, ph), "vector": False,
            "letters_burned": rng.random() < 0.5}, jobs


def _article_plan(rng: np.random.Generator, a: int, figures: list[dict], n_main: int) -> dict:
    """An article's names and where its DOI is printed."""
    return {"kind": "article", "figures": figures, "n_main": n_main, "doi": f"{DOI_PREFIX}{a + 1}",
            "author": _AUTHORS[int(rng.integers(len(_AUTHORS)))],
            "journal": _JOURNALS[int(rng.integers(len(_JOURNALS)))],
            "si_name": str(rng.choice(["_SI", "-SI", "_supp1"])),
            "si_doi": rng.random() < 0.5, "meta_doi": rng.random() < 0.5}


def _published_pool(rng: np.random.Generator, images: list[ArchiveImage]) -> _Pool:
    """About 60 % of the archive is published: those images, in the order figures take them."""
    order = rng.permutation(len(images))
    published = sorted(order[: max(1, round(len(images) * 0.6))].tolist())
    groups: dict[str, list[int]] = {}
    for i in published:
        groups.setdefault(images[i].group, []).append(i)
    multi = [g for g in groups.values() if len(g) > 1]
    tiles = [g for g in multi if images[g[0]].relation == "tiles" and len(g) == 2]
    unused = list(published)
    rng.shuffle(unused)
    return _Pool(images, published, unused, multi, tiles)


def _plan_articles(rng: np.random.Generator, images: list[ArchiveImage], n_articles: int,
                   panel_px: tuple[int, int], pictures: bool) -> tuple[list[dict], list[_PanelJob]]:
    """Decide articles, figures and which archive image each panel shows (about 60 % are published).

    `pictures`: also a thesis chapter (.docx) and a talk (.pptx), each with the figure pasted as one
    picture, and a screenshot of a slide (.png), each a publication of its own with one figure of
    archive panels.
    """
    pool = _published_pool(rng, images)
    plans: list[dict] = []
    jobs: list[_PanelJob] = []
    for a in range(n_articles):
        figures = []
        n_main = int(rng.integers(2, 4))
        n_si = int(rng.integers(1, 3)) if rng.random() < 0.5 or a == min(1, n_articles - 1) else 0
        for f in range(n_main + n_si):
            layout = LAYOUTS[int(rng.integers(len(LAYOUTS)))]
            figure, made = _plan_figure(rng, pool, a, f, layout, panel_px)
            figures.append({**figure, "si": f >= n_main})
            jobs += made
        plans.append(_article_plan(rng, a, figures, n_main))
    # one figure of the corpus is drawn as vectors (a page render is the only way to see it)
    plans[0]["figures"][plans[0]["n_main"] - 1]["vector"] = True
    for kind in ("thesis", "slide", "talk") if pictures else ():
        a = len(plans)
        rows, cols = LAYOUTS[int(rng.integers(2))]
        pw = int(rng.integers(panel_px[0], panel_px[1] + 1))
        size = (pw, round(pw * 0.75))
        for k in range(rows * cols):
            jobs.append(_PanelJob(key=(a, 0, k), kind="archive", size=size, seed=int(rng.integers(1 << 31)),
                                  image=pool.take(rng)))
        plans.append({"kind": kind, "author": _AUTHORS[int(rng.integers(len(_AUTHORS)))],
                      "figures": [{"si": False, "layout": [rows, cols], "size": size, "vector": False,
                                   "letters_burned": True, "interpolation": "bilinear"}]})
    return plans, jobs


#: Panels of a long publication: an article and its SI of 5-13 figures of 2-6 panels, a figure a page and a
#: title page each, 7-15 pages in all (10-11 typically; 8-12 for 87 % of seeds 0-399, 32 panels on average).
LONG_PANELS = (25, 40)


def _plan_long(rng: np.random.Generator, images: list[ArchiveImage], first: int, count: int,
               panel_px: tuple[int, int]) -> tuple[list[dict], list[_PanelJob]]:
    """`count` long publications, numbered from `first`: an article and its SI with `LONG_PANELS`
    panels in all, of which many come from no archive (every figure draws a panel once per panel, 60 % of
    draws turning a panel without a source yet into a distractor, plot or scheme: 31 % of the panels on
    average, 17-46 % for 90 % of seeds), the hard cases of `figures.authoring` and one figure drawn as vectors.
    Their own random stream, which also draws their own 60 % of the archive to publish (not the other
    publications' share): the archive and the other publications of a seed do not change."""
    pool = _published_pool(rng, images)
    plans: list[dict] = []
    jobs: list[_PanelJob] = []
    for a in range(first, first + count):
        target = int(rng.integers(LONG_PANELS[0] + 1, LONG_PANELS[1] + 1))  # one short of it at most: no 1-panel layout
        layouts: list[tuple[int, int]] = []
        while target - sum(r * c for r, c in layouts) >= 2:
            left = target - sum(r * c for r, c in layouts)
            fitting = [layout for layout in LAYOUTS if layout[0] * layout[1] <= left]
            layouts.append(fitting[int(rng.integers(len(fitting)))])
        n_main = math.ceil(len(layouts) * 0.6)
        figures = []
        for f, layout in enumerate(layouts):
            figure, made = _plan_figure(rng, pool, a, f, layout, panel_px, odd_panels=layout[0] * layout[1])
            figures.append({**figure, "si": f >= n_main})
            jobs += made
        figures[int(rng.integers(len(figures)))]["vector"] = True
        plans.append({**_article_plan(rng, a, figures, n_main), "long": True})
    return plans, jobs


def _distractor(job: _PanelJob) -> tuple[np.ndarray, float]:
    """A micrograph from no archive: a scene seed at or above 2**31, which the archive plan never draws."""
    rng = np.random.default_rng([job.seed, 1])
    scene = make_scene(job.texture or "particles", (1 << 31) + job.seed)
    fov = float(rng.uniform(0.2, 0.5))
    w = max(job.size[0] * 2, 320)
    h = round(w * 0.75)
    signal = render(scene, (0.5, 0.5), fov, w, h)
    pixel_m = _fov_m("SEM", nice_magnification(10 ** rng.uniform(3.3, 4.7))) / w
    return acquire(signal, job.seed, bits=8), pixel_m


def _plot(job: _PanelJob) -> np.ndarray:
    """A line plot or size histogram rendered to pixels (a pasted chart)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MplFigure

    rng = np.random.default_rng([job.seed, 2])
    w, h = job.size
    fig = MplFigure(figsize=(w / 100, h / 100), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_axes([0.18, 0.2, 0.78, 0.74])
    _draw_plot(ax, rng)
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def _draw_plot(ax: Any, rng: np.random.Generator) -> None:
    if rng.random() < 0.5:
        x = np.linspace(10, 80, 400)
        y = sum(rng.uniform(0.3, 1) * np.exp(-((x - c) ** 2) / 0.5) for c in rng.uniform(20, 75, 5))
        ax.plot(x, y + rng.normal(0, 0.02, x.size), lw=0.8)
        ax.set_xlabel("2θ (°)", fontsize=6)
    else:
        ax.hist(rng.lognormal(2.5, 0.3, 300), bins=20, color="0.5", edgecolor="k", lw=0.3)
        ax.set_xlabel("d (nm)", fontsize=6)
    ax.tick_params(labelsize=5)


def _draw_scheme(ax: Any, rng: np.random.Generator) -> None:
    """A reaction-scheme-like drawing of circles and arrows (vector, no image)."""
    from matplotlib.patches import Circle

    ax.set_xlim(0, 4)
    ax.set_ylim(0, 3)
    ax.set_axis_off()
    for x in (0.6, 2.0, 3.4):
        for _ in range(int(rng.integers(3, 8))):
            ax.add_patch(Circle((x + rng.normal(0, 0.2), 1.5 + rng.normal(0, 0.3)), rng.uniform(0.05, 0.15),
                                color="0.3"))
    for x in (1.1, 2.5):
        ax.annotate("", xy=(x + 0.5, 1.5), xytext=(x, 1.5), arrowprops={"arrowstyle": "->", "lw": 1})


def _tile_offset(first: ArchiveImage, second: ArchiveImage) -> int:
    """Where the second tile starts in the stitch, in the first tile's pixels (the stage step)."""
    return round((second.view[0] - first.view[0]) / (first.view[2] / first.width))


def _stitch(first: ArchiveImage, second: ArchiveImage, left: np.ndarray, right: np.ndarray, size: tuple[int, int],
            rng: np.random.Generator) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """Two tiles joined in the middle of their overlap, and a panel box across the seam."""
    dx = _tile_offset(first, second)
    height, width = left.shape
    seam = dx + (width - dx) // 2
    stitched = np.concatenate([left[:, :seam], right[:, seam - dx:]], axis=1)
    cw = min(float(rng.uniform(0.5, 0.9)) * stitched.shape[1], height * size[0] / size[1])
    ch = min(cw * size[1] / size[0], float(height))
    x0 = float(rng.uniform(max(0.0, seam - 0.8 * cw), min(stitched.shape[1] - cw, seam - 0.2 * cw)))
    y0 = float(rng.uniform(0, max(0.0, height - ch)))
    return stitched, (x0, y0, x0 + cw, y0 + ch)


def _montage_parts(first: ArchiveImage, second: ArchiveImage, truth: PanelTruth) -> list[MontagePart]:
    """Each tile's share of a stitched panel: its part of the crop box and its own matrix."""
    dx = _tile_offset(first, second)
    seam = dx + (first.width - dx) // 2
    x0, y0, x1, y1 = truth.crop_box_px
    m = np.vstack([np.array(truth.matrix), [0, 0, 1]])
    parts = []
    for img, offset, lo, hi in ((first, 0, x0, min(x1, seam)), (second, dx, max(x0, seam), x1)):
        to_stitch = np.array([[1, 0, offset], [0, 1, 0], [0, 0, 1]], float)
        parts.append(MontagePart(
            source=img.path, offset_px=[float(offset), 0.0],
            crop_box_px=[round(lo - offset, 3), y0, round(hi - offset, 3), y1],
            matrix=[[round(float(v), 6) for v in row] for row in (m @ to_stitch)[:2]]))
    return parts


def _make_panels(archive: str, images: list[ArchiveImage], jobs: list[_PanelJob], numbers: list[int],
                 write: list[int]) -> tuple[dict[tuple[int, int, int], tuple[np.ndarray | None, PanelTruth | None]], float]:
    """Write archive images `write` and make every panel of `jobs` (a unit of work for one process)."""
    t0 = time.process_time()
    pixels: dict[int, np.ndarray] = {}
    for i in write:
        px = _write_image(Path(archive), images[i], numbers[i])
        if any(i in (j.image, j.partner) for j in jobs):
            pixels[i] = px
    out: dict[tuple[int, int, int], tuple[np.ndarray | None, PanelTruth | None]] = {}
    for job in jobs:
        rng = np.random.default_rng(job.seed)
        if job.kind == "archive":
            assert job.image is not None
            src = pixels.get(job.image)
            if src is None:
                src = image_pixels(images[job.image])
            out[job.key] = author_panel(src, images[job.image].pixel_size_m, job.size, rng)
        elif job.kind == "montage":
            assert job.image is not None and job.partner is not None
            tiles = [pixels.get(i) for i in (job.image, job.partner)]
            tiles = [t if t is not None else image_pixels(images[i]) for t, i in zip(tiles, (job.image, job.partner))]
            stitched, box = _stitch(images[job.image], images[job.partner], tiles[0], tiles[1], job.size, rng)
            out[job.key] = author_panel(stitched, images[job.image].pixel_size_m, job.size, rng, box=box)
        elif job.kind == "distractor":
            src, pixel_m = _distractor(job)
            out[job.key] = author_panel(src, pixel_m, job.size, rng)
        elif job.kind == "plot" and rng.random() < 0.5:
            out[job.key] = (_plot(job), None)
        else:
            out[job.key] = (None, None)  # drawn as vectors on the page
    return out, time.process_time() - t0


# --------------------------------------------------------------------------- the PDFs


def _caption(number: str, panels: list[tuple[_PanelJob, ArchiveImage | None]], topic: str) -> str:
    parts = []
    for k, (job, img) in enumerate(panels):
        letter = chr(ord("a") + k)
        if job.kind == "archive" and img is not None:
            what = f"{img.technique} image of {_TOPICS[img.texture]}"
        elif job.kind == "montage" and img is not None:
            what = f"stitched {img.technique} images of {_TOPICS[img.texture]}"
        elif job.kind == "distractor":
            what = f"SEM image of a reference {topic} sample"
        elif job.kind == "plot":
            what = "XRD pattern / size distribution"
        else:
            what = "scheme of the synthesis"
        parts.append(f"({letter}) {what}")
    return f"Figure {number}. " + "; ".join(parts) + "."


def _draw_panels(fig: Any, fig_plan: dict, panels: list[tuple[_PanelJob, Any, Any]], rng: np.random.Generator,
                 region: tuple[float, float, float, float]) -> tuple[list[list[float]], float]:
    """Lay the panels out on a grid with white gutters inside `region` (left, top, width, max height,
    figure fractions); return each panel's box [x0, y0, x1, y1] in figure fractions and the grid's bottom."""
    rows, cols = fig_plan["layout"]
    pw, ph = fig_plan["size"]
    fw, fh = fig.get_size_inches()
    left, top, usable, tallest = region
    gutter = float(rng.uniform(0.008, 0.02))
    cell_w = (usable - gutter * (cols - 1)) / cols
    cell_h = cell_w * (ph / pw) * fw / fh
    if rows * cell_h + (rows - 1) * gutter > tallest:
        shrink = tallest / (rows * cell_h + (rows - 1) * gutter)
        cell_w, cell_h = cell_w * shrink, cell_h * shrink
    boxes = []
    for k, (job, pixels, truth) in enumerate(panels):
        r, c = divmod(k, cols)
        x0 = left + c * (cell_w + gutter)
        y0 = top - (r + 1) * cell_h - r * gutter * fw / fh
        ax = fig.add_axes([x0, y0, cell_w, cell_h])
        prng = np.random.default_rng([job.seed, 3])
        if pixels is None:
            if job.kind == "plot":
                _draw_plot(ax, prng)
            else:
                _draw_scheme(ax, prng)
        else:
            ax.set_axis_off()
            if fig_plan["vector"]:
                _trace(ax, pixels, truth.scale_bar if truth is not None else None)
            else:
                # "none": the PDF keeps the panel's own pixels; a picture is resampled as a screen does
                ax.imshow(pixels, cmap="gray", vmin=0, vmax=255, interpolation=fig_plan.get("interpolation", "none"),
                          aspect="auto", extent=(0, pixels.shape[1], pixels.shape[0], 0))
        letter = chr(ord("a") + k)
        if not (fig_plan["letters_burned"] and pixels is not None):
            fig.text(x0 - 0.004, y0 + cell_h, letter, fontsize=11, fontweight="bold", ha="right", va="top")
        boxes.append([x0, y0, x0 + cell_w, y0 + cell_h])
    return boxes, top - rows * cell_h - (rows - 1) * gutter * fw / fh


def _trace(ax: Any, pixels: np.ndarray, bar: ScaleBarTruth | None = None) -> None:
    """An "image trace" of a panel, as vector tools turn a bitmap into paths: 16 tones in stacked filled
    layers, each over the region of the tones after it. A colour panel is traced in 16 of its colours, as
    the tools' colour presets do: traced in grey, a false-colour (jet) panel would show the map's
    brightness, which goes up and down along the map, not the micrograph.

    A panel's scale bar is drawn again over the trace as vectors, as authors of vector figures do: the
    trace's 16 tones at 160 px would smear a 3 px white bar into grey and its label into blobs."""
    if bar is not None and not bar.box:
        pixels = _without_bar(pixels, bar)
    tw = min(160, pixels.shape[1])
    small = cv2.resize(pixels, (tw, round(tw * pixels.shape[0] / pixels.shape[1])), interpolation=cv2.INTER_AREA)
    small = np.ascontiguousarray(small[::-1])  # contourf's y runs up
    if small.ndim == 2:
        ax.contourf(small.astype(np.float32), levels=np.linspace(0, 256, 17), cmap="gray", vmin=0, vmax=255)
    else:
        from PIL import Image

        quantized = Image.fromarray(small).quantize(16, method=Image.Quantize.MEDIANCUT)
        labels = np.asarray(quantized)
        palette = np.array(quantized.getpalette()[:3 * (int(labels.max()) + 1)], float).reshape(-1, 3) / 255
        order = np.argsort(palette @ np.array([0.299, 0.587, 0.114]), kind="stable")
        rank = np.empty(len(order), int)
        rank[order] = np.arange(len(order))
        layer = rank[labels]
        height, width = layer.shape
        lowest, *others = np.unique(layer)
        ax.fill([0, width - 1, width - 1, 0], [0, 0, height - 1, height - 1], color=palette[order[lowest]],
                linewidth=0)
        for k in others:
            ax.contourf((layer >= k).astype(np.float32), levels=[0.5, 1.5], colors=[palette[order[k]]])
    if bar is not None:
        _vector_bar(ax, pixels.shape[:2], small.shape[:2], bar)


def _without_bar(pixels: np.ndarray, bar: ScaleBarTruth) -> np.ndarray:
    """The panel with its burned bar and label glyphs painted over from around them (the traced original)."""
    grey = pixels if pixels.ndim == 2 else cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
    mask = np.zeros(grey.shape, np.uint8)
    x0, y0, x1, y1 = bar.bbox
    mask[max(0, y0):y1, max(0, x0):x1] = 1
    lx0, ly0, lx1, ly1 = bar.label_bbox
    region = (slice(max(0, ly0 - 2), ly1 + 2), slice(max(0, lx0 - 2), lx1 + 2))
    ink = 255 if bar.white else 0
    mask[region] |= (np.abs(grey[region].astype(np.int16) - ink) < 96).astype(np.uint8)
    mask = cv2.dilate(mask, np.ones((5, 5), np.uint8))
    return cv2.inpaint(np.ascontiguousarray(pixels), mask, 3, cv2.INPAINT_TELEA)


def _vector_bar(ax: Any, panel_hw: tuple[int, int], small_hw: tuple[int, int], bar: ScaleBarTruth) -> None:
    """Draw `bar` (its box, bar and label, as `barpanels.draw_scale_bar` placed them) on a trace's axes."""
    from emcensus.figures.barpanels import dejavu_font

    (ph, pw), (th, tw) = panel_hw, small_hw

    def xy(x: float, y: float) -> tuple[float, float]:  # panel pixel edges -> the trace's data coordinates
        return x * tw / pw - 0.5, (ph - y) * th / ph - 0.5

    def rect(box: list[int] | tuple[int, ...], tone: float, zorder: int) -> None:
        (ax0, ay0), (ax1, ay1) = xy(box[0], box[1]), xy(box[2], box[3])
        ax.fill([ax0, ax1, ax1, ax0], [ay0, ay0, ay1, ay1], color=(tone,) * 3, linewidth=0, zorder=zorder)

    ink, paper = (1.0, 0.0) if bar.white else (0.0, 1.0)
    ax.set_xlim(0, tw - 1)
    ax.set_ylim(0, th - 1)
    lx0, ly0, lx1, ly1 = bar.label_bbox
    if bar.box:
        gap = max(2, (ly1 - ly0) // 3)
        rect([min(bar.bbox[0], lx0) - gap, min(bar.bbox[1], ly0) - gap, max(bar.bbox[2], lx1) + gap,
              max(bar.bbox[3], ly1) + gap], paper, 5)
    rect(bar.bbox, ink, 6)
    font = dejavu_font(bar.font_px or max(10, round(1.4 * (ly1 - ly0))), bar.bold)
    ox, oy = font.getbbox(bar.label)[:2]
    height_pt = ax.get_position().height * ax.figure.get_figheight() * 72
    ax.text(*xy(lx0 - ox, ly0 - oy + font.getmetrics()[0]), bar.label, color=(ink,) * 3, ha="left", va="baseline",
            fontsize=font.size * height_pt / ((th - 1) * ph / th), fontfamily="DejaVu Sans",
            fontweight="bold" if bar.bold else "normal", zorder=7)


def _figure_page(pdf: Any, fig_plan: dict, caption: str, panels: list[tuple[_PanelJob, Any, Any]],
                 rng: np.random.Generator) -> list[list[float]]:
    """One figure page: the panels, the caption and some text; return each panel's box in PDF points
    from the page's top-left corner."""
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=_PAGE)
    boxes, bottom = _draw_panels(fig, fig_plan, panels, rng, (0.08, 0.92, 0.84, 0.6))
    fig.text(0.08, bottom - 0.02, "\n".join(textwrap.wrap(caption, 110)), fontsize=8, va="top")
    body = " ".join(["The morphology was examined at several magnifications and compared with the reference."] * 4)
    fig.text(0.08, bottom - 0.12, "\n".join(textwrap.wrap(body, 110)), fontsize=9, va="top")
    pdf.savefig(fig)
    return [[round(x0 * _PAGE[0] * 72, 3), round((1 - y1) * _PAGE[1] * 72, 3), round(x1 * _PAGE[0] * 72, 3),
             round((1 - y0) * _PAGE[1] * 72, 3)] for x0, y0, x1, y1 in boxes]


def _write_document(path: Path, title: str, lines: list[str], metadata: dict[str, str],
                    figures: list[tuple[dict, str, str, list]], rng: np.random.Generator) -> list[list[list[float]]]:
    """A title page with `lines`, then one page per figure; return the panel boxes per figure."""
    import matplotlib
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure as MplFigure

    buffer = io.BytesIO()
    boxes = []
    with matplotlib.rc_context({"image.composite_image": False, "pdf.compression": 6}):
        with PdfPages(buffer, metadata={"CreationDate": None, "ModDate": None, **metadata}) as pdf:
            page = MplFigure(figsize=_PAGE)
            page.text(0.08, 0.92, "\n".join(textwrap.wrap(title, 60)), fontsize=16, fontweight="bold", va="top")
            page.text(0.08, 0.82, "\n".join(lines), fontsize=10, va="top")
            abstract = ("Electron micrographs of the samples were acquired at the facility and are shown in the "
                        "figures below together with size distributions and diffraction data. ") * 3
            page.text(0.08, 0.7, "\n".join(textwrap.wrap(abstract, 100)), fontsize=9, va="top")
            pdf.savefig(page)
            for fig_plan, number, caption, panels in figures:
                boxes.append(_figure_page(pdf, fig_plan, caption, panels, rng))
    path.write_bytes(buffer.getvalue())
    return boxes


def _displayed(truth: PanelTruth, box: list[float]) -> PanelTruth:
    """The panel's truth as it appears in a picture, shown `box` wide (pixels) instead of its own size."""
    d = (box[2] - box[0]) / truth.size_px[0]
    to_shown = np.array([[d, 0, 0.5 * d - 0.5], [0, d, 0.5 * d - 0.5], [0, 0, 1]])
    matrix = to_shown @ np.vstack([np.array(truth.matrix), [0, 0, 1]])

    def scaled(values: list) -> list[int]:
        return [round(v * d) for v in values]

    bar = truth.scale_bar
    if bar is not None:
        bar = replace(bar, bar_px=round(bar.bar_px * d, 3), bbox=scaled(bar.bbox), label_bbox=scaled(bar.label_bbox))
    return replace(truth, size_px=[round(box[2] - box[0]), round(box[3] - box[1])], scale=round(truth.scale * d, 6),
                   matrix=[[round(float(v), 6) for v in row] for row in matrix[:2]],
                   edits=[*truth.edits, f"shown at {d:.2f}x"], scale_bar=bar,
                   insets=[replace(i, bbox_px=scaled(i.bbox_px), region_px=scaled(i.region_px),
                                   scale=round(i.scale * d, 6)) for i in truth.insets])


def _picture(fig_plan: dict, panels: list[tuple[_PanelJob, Any, Any]], rng: np.random.Generator,
             inches: tuple[float, float], dpi: int, region: tuple[float, float, float, float],
             title: str | None) -> tuple[bytes, list[list[float]]]:
    """The figure as a PNG (a slide or a figure pasted into a thesis); panel boxes in its pixels, top left origin."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MplFigure
    from PIL import Image

    fig = MplFigure(figsize=inches, dpi=dpi)
    FigureCanvasAgg(fig)
    if title:
        fig.text(0.05, 0.95, title, fontsize=24, fontweight="bold", va="top")
    boxes, _ = _draw_panels(fig, fig_plan, panels, rng, region)
    fig.canvas.draw()
    rgb = np.asarray(fig.canvas.buffer_rgba())[..., :3]
    height, width = rgb.shape[:2]
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue(), [[round(x0 * width, 3), round((1 - y1) * height, 3), round(x1 * width, 3),
                                round((1 - y0) * height, 3)] for x0, y0, x1, y1 in boxes]


_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_RELS_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
_OFFICE_TYPE = "application/vnd.openxmlformats-officedocument."


def _relationships(targets: dict[str, tuple[str, str]]) -> str:
    """A relationships part: id -> (type under the officeDocument namespace, target)."""
    return (f'{_XML_HEAD}<Relationships xmlns="{_RELS_NS}">'
            + "".join(f'<Relationship Id="{rid}" Type="{_REL}/{kind}" Target="{target}"/>'
                      for rid, (kind, target) in targets.items()) + "</Relationships>")


def _ooxml(parts: dict[str, str], content_types: dict[str, str], picture_name: str, picture: bytes) -> bytes:
    """A minimal Office Open XML package (zip) of XML `parts` and one PNG picture, with fixed member
    dates so the same seed writes the same bytes. `content_types`: part name -> type under _OFFICE_TYPE."""
    import zipfile

    types = (f'{_XML_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
             '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
             '<Default Extension="xml" ContentType="application/xml"/>'
             '<Default Extension="png" ContentType="image/png"/>'
             + "".join(f'<Override PartName="/{name}" ContentType="{_OFFICE_TYPE}{kind}"/>'
                       for name, kind in content_types.items()) + "</Types>")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        for name, text in {"[Content_Types].xml": types, **parts}.items():
            package.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), text.encode("utf-8"), zipfile.ZIP_DEFLATED)
        package.writestr(zipfile.ZipInfo(picture_name, (2020, 1, 1, 0, 0, 0)), picture, zipfile.ZIP_STORED)
    return buffer.getvalue()


def _docx(paragraphs: list[str], picture: bytes, size_px: tuple[int, int], caption: str) -> bytes:
    """A minimal WordprocessingML package: text paragraphs, one inline picture, its caption."""
    from xml.sax.saxutils import escape

    emu_w = 5_943_600  # 6.5 inches
    emu_h = round(emu_w * size_px[1] / size_px[0])

    def para(text: str) -> str:
        return f'<w:p><w:r><w:t xml:space="preserve">{escape(text)}</w:t></w:r></w:p>'

    drawing = (
        f'<w:p><w:r><w:drawing><wp:inline><wp:extent cx="{emu_w}" cy="{emu_h}"/><wp:docPr id="1" name="Picture 1"/>'
        '<a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/picture"><pic:pic>'
        '<pic:nvPicPr><pic:cNvPr id="1" name="image1.png"/><pic:cNvPicPr/></pic:nvPicPr>'
        '<pic:blipFill><a:blip r:embed="rIdImage1"/><a:stretch><a:fillRect/></a:stretch></pic:blipFill>'
        f'<pic:spPr><a:xfrm><a:off x="0" y="0"/><a:ext cx="{emu_w}" cy="{emu_h}"/></a:xfrm>'
        '<a:prstGeom prst="rect"><a:avLst/></a:prstGeom></pic:spPr></pic:pic></a:graphicData></a:graphic>'
        '</wp:inline></w:drawing></w:r></w:p>')
    document = (
        f'{_XML_HEAD}<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
        f'xmlns:r="{_REL}" xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing" '
        'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
        'xmlns:pic="http://schemas.openxmlformats.org/drawingml/2006/picture"><w:body>'
        + "".join(para(t) for t in paragraphs) + drawing + para(caption) + "<w:sectPr/></w:body></w:document>")
    parts = {"_rels/.rels": _relationships({"rId1": ("officeDocument", "word/document.xml")}),
             "word/document.xml": document,
             "word/_rels/document.xml.rels": _relationships({"rIdImage1": ("image", "media/image1.png")})}
    return _ooxml(parts, {"word/document.xml": "wordprocessingml.document.main+xml"}, "word/media/image1.png", picture)


def _pptx(title: str, slide_texts: list[str], picture: bytes, size_px: tuple[int, int]) -> bytes:
    """A minimal PresentationML package: a title slide, then a slide with text and the figure pasted
    as one picture (what a talk made from a paper's figure holds)."""
    from xml.sax.saxutils import escape

    slide_w, slide_h = 12_192_000, 6_858_000  # 16:9, EMU
    pic_w = round(slide_w * 0.62)
    pic_h = round(pic_w * size_px[1] / size_px[0])
    ns = ('xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
          f'xmlns:r="{_REL}" xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"')

    def text_box(shape_id: int, texts: list[str], y: int) -> str:
        paragraphs = "".join(f"<a:p><a:r><a:t>{escape(t)}</a:t></a:r></a:p>" for t in texts)
        return (f'<p:sp><p:nvSpPr><p:cNvPr id="{shape_id}" name="Text {shape_id}"/><p:cNvSpPr txBox="1"/><p:nvPr/>'
                f'</p:nvSpPr><p:spPr><a:xfrm><a:off x="457200" y="{y}"/><a:ext cx="{slide_w - 914400}" cy="914400"/>'
                f'</a:xfrm><a:prstGeom prst="rect"><a:avLst/></a:prstGeom></p:spPr><p:txBody><a:bodyPr/>'
                f'{paragraphs}</p:txBody></p:sp>')

    def slide(shapes: str) -> str:
        return (f'{_XML_HEAD}<p:sld {ns}><p:cSld><p:spTree><p:nvGrpSpPr><p:cNvPr id="1" name=""/><p:cNvGrpSpPr/>'
                f'<p:nvPr/></p:nvGrpSpPr><p:grpSpPr/>{shapes}</p:spTree></p:cSld></p:sld>')

    picture_shape = (
        '<p:pic><p:nvPicPr><p:cNvPr id="4" name="Picture 4"/><p:cNvPicPr/><p:nvPr/></p:nvPicPr>'
        '<p:blipFill><a:blip r:embed="rIdImage1"/><a:stretch><a:fillRect/></a:stretch></p:blipFill>'
        f'<p:spPr><a:xfrm><a:off x="457200" y="1143000"/><a:ext cx="{pic_w}" cy="{pic_h}"/></a:xfrm>'
        '<a:prstGeom prst="rect"><a:avLst/></a:prstGeom></p:spPr></p:pic>')
    presentation = (f'{_XML_HEAD}<p:presentation {ns}><p:sldIdLst><p:sldId id="256" r:id="rId1"/>'
                    f'<p:sldId id="257" r:id="rId2"/></p:sldIdLst><p:sldSz cx="{slide_w}" cy="{slide_h}"/>'
                    '<p:notesSz cx="6858000" cy="9144000"/></p:presentation>')
    parts = {"_rels/.rels": _relationships({"rId1": ("officeDocument", "ppt/presentation.xml")}),
             "ppt/presentation.xml": presentation,
             "ppt/_rels/presentation.xml.rels": _relationships({"rId1": ("slide", "slides/slide1.xml"),
                                                                "rId2": ("slide", "slides/slide2.xml")}),
             "ppt/slides/slide1.xml": slide(text_box(2, [title], 2_286_000)),
             "ppt/slides/slide2.xml": slide(text_box(2, slide_texts[:1], 228_600) + picture_shape
                                            + text_box(3, slide_texts[1:], 1_143_000 + pic_h + 91_440)),
             "ppt/slides/_rels/slide2.xml.rels": _relationships({"rIdImage1": ("image", "../media/image1.png")})}
    slide_type = "presentationml.slide+xml"
    return _ooxml(parts, {"ppt/presentation.xml": "presentationml.presentation.main+xml",
                          "ppt/slides/slide1.xml": slide_type, "ppt/slides/slide2.xml": slide_type},
                  "ppt/media/image1.png", picture)


def _write_picture_document(papers: Path, plan: dict, images: list[ArchiveImage],
                            panels: list[tuple[_PanelJob, Any, Any]], rng: np.random.Generator) -> Article:
    """A thesis chapter (.docx) or a talk (.pptx) with the figure pasted as one picture, or a slide
    screenshot (.png): a publication named by its file, no DOI."""
    from PIL import Image

    fp = plan["figures"][0]
    sources = [images[j.image] for j, _, _ in panels if j.image is not None]
    year = max(datetime.fromisoformat(i.acquired_at).year for i in sources) + 1
    topic = _TOPICS[sources[0].texture]
    caption = _caption("3.1" if plan["kind"] == "thesis" else "1", [(j, images[j.image]) for j, _, _ in panels], topic)
    shown_caption = caption
    if plan["kind"] == "thesis":
        stem = f"{plan['author']}_PhD_thesis_{year}_chapter3"
        picture, boxes = _picture(fp, panels, rng, (6.5, 5.2), 150, (0.04, 0.97, 0.92, 0.94), None)
        name = f"{stem}.docx"
        size = Image.open(io.BytesIO(picture)).size
        text = [f"Chapter 3. Electron microscopy of {topic}", f"{plan['author']}, PhD thesis, {year}.",
                "The samples were imaged at the facility; representative micrographs are shown in Figure 3.1."]
        (papers / name).write_bytes(_docx(text, picture, size, caption))
        page, number = 0, "3.1"
    elif plan["kind"] == "talk":
        stem = f"{plan['author']}_seminar_{year}"
        picture, boxes = _picture(fp, panels, rng, (8.0, 5.0), 150, (0.03, 0.97, 0.94, 0.94), None)
        name = f"{stem}.pptx"
        size = Image.open(io.BytesIO(picture)).size
        (papers / name).write_bytes(_pptx(f"Electron microscopy of {topic}", [f"Results: {topic}", caption],
                                          picture, size))
        page, number = 2, "slide 2"
    else:
        stem = f"{plan['author']}_group_meeting_{year}_slide5"
        picture, boxes = _picture(fp, panels, rng, (12.8, 7.2), 100, (0.05, 0.85, 0.9, 0.78), f"Results: {topic}")
        name = f"{stem}.png"
        (papers / name).write_bytes(picture)
        page, number, shown_caption = 1, "slide 5", ""  # a screenshot's text is pixels
    figure = Figure(document=name, page=page, number=number, caption=shown_caption,
                    layout=list(fp["layout"]), vector=False)
    for (job, pixels, truth), box in zip(panels, boxes):
        figure.panels.append(Panel(letter=chr(ord("a") + job.key[2]), kind=job.kind, bbox_pt=box, raster=True,
                                   source=images[job.image].path if job.image is not None else None,
                                   geometry=_displayed(truth, box), letter_burned=True))
    return Article(article=stem, stem=stem, title=f"{plan['kind']}: {topic}", year=year, documents=[name],
                   figures=[figure])


def _write_article(papers: str, images: list[ArchiveImage], a: int, plan: dict,
                   panels_of: dict[int, list[tuple[_PanelJob, Any, Any]]], seed: int) -> Article:
    """Write the documents of publication `a` from its made panels (figure -> panels); a unit of work."""
    rng = np.random.default_rng([seed, 9, a])
    for f, fp in enumerate(plan["figures"]):
        if fp["letters_burned"]:
            panels_of[f] = [(job, burn_letter(pixels, chr(ord("a") + job.key[2])) if pixels is not None else None,
                             truth) for job, pixels, truth in panels_of[f]]
    if plan["kind"] != "article":
        return _write_picture_document(Path(papers), plan, images, panels_of[0], rng)
    panel_sources = [images[j.image] for panels in panels_of.values() for j, _, _ in panels if j.image is not None]
    year = max(datetime.fromisoformat(i.acquired_at).year for i in panel_sources) + int(rng.integers(1, 3))
    textures = [i.texture for i in panel_sources]
    topic = _TOPICS[max(sorted(set(textures)), key=textures.count)]
    title = f"Structure and catalytic behaviour of {topic} studied by electron microscopy ({a + 1})"
    stem = f"{plan['author']}{year}_{plan['journal']}_{a + 1:03d}"
    doi = plan["doi"]
    article = Article(article=doi, stem=stem, title=title, year=year, documents=[], long=plan.get("long", False))
    for si in (False, True):
        fig_ids = [f for f, fp in enumerate(plan["figures"]) if fp["si"] == si]
        if not fig_ids:
            continue
        name = f"{stem}{plan['si_name']}.pdf" if si else f"{stem}.pdf"
        doc_title = f"Supporting Information for: {title}" if si else title
        lines = [f"{plan['author']} A., Chen L., Petrova M.", f"{plan['journal']} {year}"]
        if not si or plan["si_doi"]:
            lines.append(f"https://doi.org/{doi}")
        meta = {"Title": doc_title, "Author": plan["author"]}
        if plan["meta_doi"]:
            meta["Subject"] = f"doi:{doi}"
        page_figs = []
        for n, f in enumerate(fig_ids):
            number = f"S{n + 1}" if si else str(n + 1)
            caption = _caption(number, [(j, images[j.image] if j.image is not None else None)
                                        for j, _, _ in panels_of[f]], topic)
            page_figs.append((plan["figures"][f], number, caption, panels_of[f]))
        boxes = _write_document(Path(papers) / name, doc_title, lines, meta, page_figs, rng)
        article.documents.append(name)
        for page, ((fp, number, caption, panels), fig_boxes) in enumerate(zip(page_figs, boxes), start=2):
            figure = Figure(document=name, page=page, number=number, caption=caption,
                            layout=list(fp["layout"]), vector=fp["vector"])
            for (job, pixels, truth), box in zip(panels, fig_boxes):
                figure.panels.append(Panel(
                    letter=chr(ord("a") + job.key[2]), kind=job.kind, bbox_pt=box,
                    raster=pixels is not None and not fp["vector"],
                    source=images[job.image].path if job.image is not None else None,
                    geometry=truth, letter_burned=bool(fp["letters_burned"] and pixels is not None),
                    montage=_montage_parts(images[job.image], images[job.partner], truth)
                    if job.partner is not None else []))
            article.figures.append(figure)
    return article


# --------------------------------------------------------------------------- entry point


def _empty_or_absent(path: Path) -> bool:
    return not path.exists() or (path.is_dir() and not any(path.iterdir()))


def make_figure_corpus(out: Path, *, archive: Path, articles: int = 60, images: int = 2000, seed: int = 0,
                       size: tuple[int, int] = (1280, 960), panel_px: tuple[int, int] | None = None,
                       pictures: bool = False, long_articles: int = 0, workers: int = 1) -> CorpusTruth:
    """Write an archive of `images` acquisitions under `archive`, `articles` articles under `out/papers`,
    and the truth to `out/truth.json`; return the truth.

    `size`: image area of every archive image (tests use 320x240). `panel_px`: range of panel widths
    in pixels (default 100 px to half the image width, at least 100-160). `workers`: processes
    rendering images and panels, then writing documents (the output does not depend on it). `pictures`: add a thesis
    chapter (.docx), a talk (.pptx) and a slide screenshot (.png) beside the PDFs. `long_articles`: add that many
    articles of about ten pages with their SI (`LONG_PANELS` panels each, many from no archive), after the others and from
    their own random stream: the archive and the other publications are those of the seed without them. Both
    folders must be empty or absent, and neither may lie inside the other.
    """
    t0 = time.perf_counter()
    out, archive = Path(out), Path(archive)
    for folder in (out, archive):
        if not _empty_or_absent(folder):
            raise ConfigError(f"{folder} is not empty: the corpus is written only into a new or empty folder")
    if articles < 1 or images < 3:
        raise ConfigError("a figure corpus needs at least 1 article and 3 archive images")
    archive.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    papers = guard_output(out / PAPERS, [archive], what="article folder", folder=True)
    if Path(os.path.realpath(archive)).is_relative_to(papers) or Path(os.path.realpath(archive)).is_relative_to(
            Path(os.path.realpath(out))):
        raise ConfigError(f"the archive {archive} must not lie inside the corpus folder {out}")
    papers.mkdir(exist_ok=True)
    panel_px = panel_px or (100, max(160, size[0] // 2))

    rng = np.random.default_rng([seed, 8])
    plan = _plan_images(rng, images, size)
    plans, jobs = _plan_articles(rng, plan, articles, panel_px, pictures)
    if long_articles > 0:
        long_plans, long_jobs = _plan_long(np.random.default_rng([seed, 10]), plan, len(plans), long_articles, panel_px)
        plans, jobs = plans + long_plans, jobs + long_jobs
    numbers = list(range(1, len(plan) + 1))
    t_plan = time.perf_counter()

    # units of work: images split in chunks, each chunk with the panels made from its images
    chunk = max(1, math.ceil(len(plan) / max(1, workers * 4)))
    units = []
    for start in range(0, len(plan), chunk):
        write = list(range(start, min(start + chunk, len(plan))))
        mine = set(write)
        units.append((str(archive), plan, [j for j in jobs if j.image in mine], numbers, write))
    units[-1][2].extend(j for j in jobs if j.image is None)
    with ExitStack() as stack:
        run = map
        if workers > 1:
            pool = stack.enter_context(ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver")))
            run = pool.map
        made: dict = {}
        busy = 0.0
        for result, spent in run(_make_panels, *zip(*units)):
            made.update(result)
            busy += spent
        t_images = time.perf_counter()
        # then one unit per publication: its documents from its panels
        docs = []
        for a, doc_plan in enumerate(plans):
            panels_of: dict[int, list] = {}
            for job in sorted((j for j in jobs if j.key[0] == a), key=lambda j: j.key):
                panels_of.setdefault(job.key[1], []).append((job, *made[job.key]))
            docs.append((str(papers), plan, a, doc_plan, panels_of, seed))
        written = list(run(_write_article, *zip(*docs)))
    truth = CorpusTruth(seed=seed, archive=str(Path(os.path.realpath(archive))), papers=str(papers),
                        images=plan, articles=written)
    truth.save(Path(os.path.realpath(out)) / TRUTH_NAME)
    t_end = time.perf_counter()
    # images_and_panels_cpu_s: CPU seconds of the processes that rendered (a loaded machine inflates wall time)
    truth.timings = {"plan_s": t_plan - t0, "images_and_panels_s": t_images - t_plan,
                     "images_and_panels_cpu_s": busy, "documents_s": t_end - t_images, "total_s": t_end - t0}
    return truth


__all__ = ["Article", "ArchiveImage", "CorpusTruth", "Figure", "Panel", "TRUTH_NAME", "image_pixels",
           "make_figure_corpus"]
