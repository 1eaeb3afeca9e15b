"""The visual index of the catalogued images: ORB descriptors in a faiss binary index, beside the catalog.

`<catalog>.figures/` holds one generation folder and a `current` file naming it: the image table
(catalog id, path, size, mtime, image-area size, pixel size, year, where its descriptors start),
descriptors (n, 32) uint8, keypoint coordinates (n, 2) for the RANSAC fit, and the faiss index
(exact while small; above `IVF_THRESHOLD` descriptors an `IndexBinaryIVF` of the first `IVF_CODE_BYTES`
of each descriptor, with the inverted list of each in `lists.npy`), each descriptor stored under its
image's position in the table; and a whole-field thumbnail of each image (`thumbnails`), one row per
image of the table in `thumbnails-<format>.npy`.
A rerun keeps every image whose (path, size, mtime) is unchanged and extracts only new or changed
ones, and the list of each kept descriptor; a new generation replaces the old one atomically, so a
killed run leaves the previous index usable. A generation written before thumbnails existed (or
whose thumbnail file does not fit) matches without them; the next run reads only the thumbnails of its
unchanged images and adds the file to it in place (one rename), keypoints and faiss index untouched.

Archive files are read through `emcensus.access` (regular files only, no atime, bounded in pixels).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import faiss
import numpy as np

from emcensus.access import check_regular, open_file, read_bounded
from emcensus.catalog.paths import fs_path
from emcensus.errors import EmcensusError
from emcensus.figures import thumbnails
from emcensus.figures.features import ARCHIVE_FEATURES, MAX_SIDE, extract, image_area, to_grey8
from emcensus.outputs import guard_folder_rewrite, whole_file
from emcensus.scan.pool import FILE_TIMEOUT_S, Budget, Pool, ReadTimeout, timeout_reason

#: Format of the folder; another one is rebuilt from scratch. 2: faiss labels are image positions
#: (1 stored descriptor rows: read as positions, they sent `figures match` out of range). 3: an
#: inverted file holds the first `IVF_CODE_BYTES` of each descriptor (2 held all 32). 4: each image's
#: keypoints spread over ORB's pyramid levels (`features._spread`).
INDEX_VERSION = 4
#: Above this many descriptors the index is an inverted file (approximate, sub-linear search).
IVF_THRESHOLD = 2_000_000
#: Bytes of each descriptor an inverted file holds and searches. ORB's 256 tests were learned greedily
#: (high variance, low correlation first), so the first ones tell the most apart: codes of 16 bytes
#: halve the index's memory (60 M descriptors at 150 k images: 1.92 -> 0.96 GB) and its scan time.
#: The full descriptors stay on disk (memory-mapped) for the verification of the few voted images.
IVF_CODE_BYTES = 16
#: Inverted lists a query descriptor probes. At 150 k images (seed 7 and a long publication, 138
#: panels, one kept index, loaded): 4 found as much as 8 and one pair more (P 1.000, R 0.968 against
#: 0.960), in 68 % of the faiss search's CPU (20.4 s against 30.1 s for the 12 publications); 2 found
#: less (R 0.952) and cost as much in all (more panels fall through to the dense steps). Fewer lists
#: probed also leave fewer near descriptors of other images to fail the vote's ratio test. At 30 k
#: images 8 ranked every panel's source where 16 did, in 61 % of the search's CPU.
NPROBE = 4
#: Pixels an archive image may have to be indexed (a decompression bomb is refused, not decoded).
MAX_PIXELS = 200_000_000
#: Suffixes read here; other catalogued formats (dm3, mrc, emd, ...) are listed as not indexed.
PIXEL_SUFFIXES = {".tif": "tiff", ".tiff": "tiff", ".png": "pil", ".jpg": "pil", ".jpeg": "pil", ".bmp": "pil"}
_DESCRIPTOR_BYTES = 32
#: Generation folders are named gen-NNNNNN; the pointer `current` names one.
_GENERATION = re.compile(r"gen-\d{6,}")
#: Descriptors assigned to their inverted lists at a time (bounds the search's result arrays).
_ASSIGN_CHUNK = 1_000_000
#: Bytes the image table may have (about 300 per image: 3 M images).
_MAX_TABLE_BYTES = 1 << 30
_THUMBNAILS = f"thumbnails-{thumbnails.FORMAT}.npy"


class FigureIndexError(EmcensusError):
    """The visual index is missing, damaged or cannot be written."""


@dataclass(slots=True)
class IndexSummary:
    """What one `figures index` run did."""

    images: int
    descriptors: int
    added: int  # new or changed images read
    removed: int  # images that left the catalog's present, readable micrographs
    kept: int
    skipped: list[tuple[str, str]]  # (path, why not indexed)
    thumbnails_added: int = 0  # unchanged images whose thumbnail the index did not hold yet
    #: (path, why) of each unchanged image whose thumbnail could not be read: indexed still (its keypoints),
    #: no thumbnail candidate; tried again at the next run
    no_thumbnail: list[tuple[str, str]] = field(default_factory=list)

    def paragraph(self) -> str:
        text = (f"visual index: {self.images:,} image(s), {self.descriptors:,} descriptors; "
                f"{self.added:,} added, {self.removed:,} removed, {self.kept:,} unchanged")
        if self.thumbnails_added:
            text += f" ({self.thumbnails_added:,} given their thumbnail)"
        if self.skipped:
            text += f"; {len(self.skipped):,} not indexed"
        if self.no_thumbnail:
            text += f"; {len(self.no_thumbnail):,} without a thumbnail"
        return text


def index_folder(catalog_path: str | os.PathLike[str]) -> Path:
    """Where the index of a catalog lives: `<catalog>.figures/` beside it."""
    return Path(f"{os.path.abspath(catalog_path)}.figures")


def read_pixels(path: str, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """The first image of an archive file, refused when its format is not read here or it is too big."""
    kind = PIXEL_SUFFIXES.get(Path(path).suffix.lower())
    if kind is None:
        raise FigureIndexError(f"format {Path(path).suffix or '(none)'} is not read by the visual index yet")
    with open_file(path) as handle:
        if kind == "tiff":
            import tifffile

            with tifffile.TiffFile(handle, name=os.path.basename(path)) as tif:
                page = tif.pages.first
                if int(np.prod(page.shape)) > max_pixels:
                    raise FigureIndexError(f"{int(np.prod(page.shape)):,} pixels, more than {max_pixels:,}")
                return page.asarray(maxworkers=1)  # the index runs one process per core already
        from PIL import Image

        with Image.open(handle) as image:
            if image.width * image.height > max_pixels:
                raise FigureIndexError(f"{image.width * image.height:,} pixels, more than {max_pixels:,}")
            return np.asarray(image.convert("L") if image.mode not in ("L", "I;16", "I", "F") else image)


#: Images per task of the pool at most: few enough that a lost worker costs little, enough to amortise a task.
_BATCH = 16


#: What a worker returns for an image: id, keypoints, descriptors, thumbnail (`thumbnails.NONE` when it was
#: not read), error (None when read).
_Extracted = tuple[int, np.ndarray, np.ndarray, np.ndarray, str | None]


@dataclass(frozen=True, slots=True)
class _IndexTask:
    """A batch of images to extract (`jobs`: id, path, image rows, whether only its thumbnail is wanted);
    `not_read`: positions given up on by the pool (a read past its budget that the alarm could not stop,
    a worker that died on it)."""

    jobs: tuple[tuple[int, str, int | None, bool], ...]
    file_timeout: float
    not_read: tuple[tuple[int, str], ...] = ()

    def skip(self, indices: Iterable[int] | None, reason: str) -> _IndexTask:
        chosen = range(len(self.jobs)) if indices is None else indices
        return replace(self, not_read=(*self.not_read, *((index, reason) for index in chosen)))


def index_batch(task: _IndexTask) -> list[_Extracted]:
    """(id, points, descriptors, thumbnail, error) of each image of a batch: what a worker returns."""
    given_up = dict(task.not_read)
    # the scan's per-file budget (an alarm in the worker's main thread): a read that blocks, or a
    # decode that runs on, is one line and the index goes on
    with Budget(task.file_timeout) as budget:
        return [(job[0], _NO_POINTS, _NO_DESCRIPTORS, thumbnails.NONE, given_up[index]) if index in given_up
                else _image_features(budget, index, *job) for index, job in enumerate(task.jobs)]


def _image_features(budget: Budget, index: int, image_id: int, path: str, image_rows: int | None,
                    thumbnail_only: bool) -> _Extracted:
    def failed(reason: str) -> _Extracted:
        return image_id, _NO_POINTS, _NO_DESCRIPTORS, thumbnails.NONE, reason

    try:
        with budget.file(index):
            area, factor = _brought_down(read_pixels(path), image_rows)
            thumbnail = archive_thumbnail(area)
            if thumbnail_only:
                return image_id, _NO_POINTS, _NO_DESCRIPTORS, thumbnail, None
            features = extract(area, ARCHIVE_FEATURES)
    except ReadTimeout:
        return failed(timeout_reason(budget.seconds))
    except (EmcensusError, OSError, ValueError) as exc:
        return failed(str(exc) or type(exc).__name__)
    except Exception as exc:  # a decoder's own error on a damaged file: one line, the others go on
        return failed(f"cannot decode: {type(exc).__name__}: {exc}")
    return image_id, features.points / np.float32(factor), features.descriptors, thumbnail, None


def archive_features(pixels: np.ndarray, image_rows: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(points in file pixels, descriptors) of an archive image: `features.extract` on its image area
    (`image_rows` high), brought down to MAX_SIDE first when larger (`_brought_down`)."""
    area, factor = _brought_down(pixels, image_rows)
    features = extract(area, ARCHIVE_FEATURES)
    return features.points / np.float32(factor), features.descriptors


def archive_thumbnail(area: np.ndarray) -> np.ndarray:
    """The whole-field thumbnail (`thumbnails.thumbnail`) of an image area as `_brought_down` gives it;
    colour is read as `features.to_grey8` reads it (a colour map's values), grey as it is (ranks ignore
    bit depth and stretch)."""
    if area.ndim != 2 or area.dtype not in (np.uint8, np.uint16):
        area = to_grey8(area)
    return thumbnails.thumbnail(area)


def _brought_down(pixels: np.ndarray, image_rows: int | None) -> tuple[np.ndarray, float]:
    """An archive image's area (`image_rows` high) brought down to MAX_SIDE when larger, and the factor
    from file pixels to it. The same pixels ORB would see for 8-bit grey (the same keypoints); for deeper
    ones it spares the percentile stretch of a full-size float copy (textured 16-bit frames, CPU per
    image: 2048x1536 85 -> 39 ms, 4096x3072 469 -> 42 ms)."""
    area = image_area(pixels, image_rows)
    longer = max(area.shape[:2]) if area.ndim >= 2 else 0
    factor = MAX_SIDE / longer if longer > MAX_SIDE else 1.0
    if factor < 1.0 and (area.ndim == 2 or area.shape[2] <= 4):
        if area.dtype not in (np.uint8, np.uint16, np.float32):
            area = area.astype(np.float32)
        size = (max(1, round(area.shape[1] * factor)), max(1, round(area.shape[0] * factor)))
        area = cv2.resize(np.ascontiguousarray(area), size, interpolation=cv2.INTER_AREA)
    else:
        factor = 1.0
    return area, factor


_NO_POINTS = np.zeros((0, 2), np.float32)
_NO_DESCRIPTORS = np.zeros((0, _DESCRIPTOR_BYTES), np.uint8)


class VisualIndex:
    """A loaded index: image table, descriptors, keypoints and the faiss index over the descriptors."""

    def __init__(self, images: list[dict[str, Any]], descriptors: np.ndarray, points: np.ndarray,
                 faiss_index: Any | None = None, lists: np.ndarray | None = None,
                 thumbnail_rows: np.ndarray | None = None, generation: Path | None = None):
        self.images = images
        self.descriptors = descriptors
        self.points = points
        #: The thumbnails (a row per image of the table, `thumbnails.NONE`: not read) in a faiss index that
        #: holds them (`thumbnails.searcher`: read once, the file not kept mapped); None for an index written
        #: before thumbnails existed
        self.thumbnail_search = None if thumbnail_rows is None else thumbnails.searcher(thumbnail_rows)
        #: The folder this index was loaded from (None when built in memory)
        self.generation = generation
        #: Width / height of each image's area (nan where the catalog does not know it)
        self.aspects = np.array([image["width_px"] / image["height_px"] if image.get("width_px") and image.get("height_px")
                                 else np.nan for image in images], np.float64)
        if faiss_index is None:
            faiss_index, lists = build_faiss(descriptors, _positions(images))
        self.faiss = faiss_index
        #: The inverted list of each descriptor (None for an exact index): what a rerun keeps.
        self.lists = lists
        # faiss labels are image positions (-1: none): no table of the image of each descriptor,
        # which would take 4 bytes a descriptor (240 MB at 150 k images)
        self.position_of = {image["id"]: position for position, image in enumerate(images)}

    @property
    def thumbnails(self) -> np.ndarray | None:
        """(images, `thumbnails.PIXELS`) uint8: the thumbnail of each image of the table, or None."""
        return None if self.thumbnail_search is None else thumbnails.held(self.thumbnail_search)

    @property
    def code_bits(self) -> int:
        """Bits of each descriptor the faiss index compares (256, or the inverted file's shorter codes)."""
        return int(self.faiss.d)

    def search(self, descriptors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(Hamming distances over `code_bits`, image positions) of the `k` nearest stored descriptors
        of each of `descriptors` (full 32-byte ones), nearest first; position -1: none.

        Asking faiss for (list, offset) pairs instead of its stored labels, mapped to images through a
        table of 4 bytes a descriptor, was measured and left out: the labels lie beside the codes of each
        list in the mapped file, so the kernel maps them in with the codes anyway (150 k images: the
        whole faiss.index resident, 1,364 MiB, plus the table's 229 MiB)."""
        codes = np.ascontiguousarray(np.asarray(descriptors, np.uint8)[:, :self.code_bits // 8])
        return self.faiss.search(codes, min(k, self.faiss.ntotal))

    def __len__(self) -> int:
        return len(self.images)

    def features_of(self, position: int) -> tuple[np.ndarray, np.ndarray]:
        """(points, descriptors) of the image at `position` in the table."""
        image = self.images[position]
        rows = slice(image["start"], image["start"] + image["count"])
        return self.points[rows], self.descriptors[rows]

    @classmethod
    def load(cls, folder: Path) -> VisualIndex:
        """The current generation in `folder`; FigureIndexError when there is none or it is damaged.

        Every file is read under the access policy (regular files only, small ones bounded); the
        descriptors, keypoints and the inverted file's lists are memory-mapped, so what a process
        holds is the image table (and, for an exact index, its codes): a query touches only the lists it probes."""
        try:
            name = read_bounded(folder / "current", 64, "index pointer").decode("ascii").strip()
            if not _GENERATION.fullmatch(name):
                raise ValueError(f"the pointer names {name!r}, not a generation")
            generation = folder / name
            table = json.loads(read_bounded(generation / "images.json", _MAX_TABLE_BYTES, "index table"))
            descriptors = _load_array(generation / "descriptors.npy", np.uint8, _DESCRIPTOR_BYTES)
            points = _load_array(generation / "points.npy", np.float32, 2)
            check_regular(generation / "faiss.index")
            faiss_index = faiss.read_index_binary(str(generation / "faiss.index"), faiss.IO_FLAG_MMAP_IFC)
            lists = None
            if isinstance(faiss_index, faiss.IndexBinaryIVF):
                lists = _load_array(generation / "lists.npy", np.int32, None)
                faiss_index.nprobe = NPROBE  # this version's, not the one written with the file
            stored_thumbnails = _optional_thumbnails(generation, table)
        except (EmcensusError, OSError, ValueError, RuntimeError) as exc:
            raise FigureIndexError(f"no usable visual index in {folder}: run `emcensus figures index` first ({exc})") from exc
        images = table.get("images") if isinstance(table, dict) and table.get("version") == INDEX_VERSION else None
        if not isinstance(images, list) or not 0 < faiss_index.d <= 8 * _DESCRIPTOR_BYTES or faiss_index.d % 8 \
                or len(descriptors) != faiss_index.ntotal or len(points) != len(descriptors) \
                or _counted(images) != len(descriptors) or (lists is not None and len(lists) != len(descriptors)):
            raise FigureIndexError(f"the visual index in {folder} is damaged or from another version: "
                                   "run `emcensus figures index` again")
        return cls(images, descriptors, points, faiss_index, lists, stored_thumbnails, generation)


def _optional_thumbnails(generation: Path, table: Any) -> np.ndarray | None:
    """The generation's thumbnails (memory-mapped until `VisualIndex` copies them into its search), or None
    when it has none, or none that fit its table (the next `figures index` writes them; matching goes on
    without)."""
    try:
        stored = _load_array(generation / _THUMBNAILS, np.uint8, thumbnails.PIXELS)
    except (EmcensusError, OSError, ValueError):
        return None
    images = table.get("images") if isinstance(table, dict) else None
    return stored if isinstance(images, list) and len(stored) == len(images) else None


def _positions(images: list[dict[str, Any]]) -> np.ndarray:
    """The image position of every descriptor: the faiss label each is stored under."""
    return np.repeat(np.arange(len(images), dtype=np.int64), [image["count"] for image in images])


def _counted(images: list[Any]) -> int | None:
    """Descriptors the image table says it holds (None when an entry is not an image's)."""
    try:
        return sum(int(image["count"]) for image in images)
    except (TypeError, KeyError, ValueError):
        return None


def _load_array(path: Path, dtype: type, columns: int | None) -> np.ndarray:
    """A memory-mapped (n, columns) array of `dtype` ((n,) when `columns` is None), refused when the
    file holds anything else."""
    check_regular(path)
    array = np.load(path, mmap_mode="r", allow_pickle=False)
    if array.ndim == 0 or array.dtype != dtype or array.shape != array.shape[:1] + ((columns,) if columns else ()):
        wanted = f"(n, {columns})" if columns else "(n,)"
        raise ValueError(f"{path.name} holds {array.dtype} {array.shape}, not {wanted} {np.dtype(dtype)}")
    return array


def build_faiss(descriptors: np.ndarray, labels: np.ndarray, previous: tuple[Any, np.ndarray] | None = None,
                code_bytes: int = IVF_CODE_BYTES) -> tuple[Any, np.ndarray | None]:
    """The faiss index of `descriptors`, each stored under its label (int64), and the inverted list
    of each (None for an exact index): exact Hamming search while small; an inverted file (about
    4·√n lists) of the first `code_bytes` of each descriptor above IVF_THRESHOLD.

    The lists' centroids are descriptors drawn at random, found through an HNSW graph: k-means over
    lists x 64 samples and an exhaustive assignment took about 18 min to add the 38 M descriptors of
    150 k images. On 4 M descriptors (bytes of real ORB descriptors): 50 s CPU to build, against 316 s
    (277 s of k-means); on 1 M, recall@1 of perturbed descriptors 0.999 at nprobe 16 (1.000 exhaustively).
    A two-level quantizer (an inverted file over the centroids) assigned 4x faster but found a
    descriptor 40 bits away 0.70 of the time against HNSW's 0.93 (3 M descriptors, nprobe 16).

    `previous`: (quantizer, list of each descriptor or -1) kept from the last generation, as
    `kept_lists` gives them: its centroids stay while their number suits the new size, and only the
    descriptors without a list are assigned (assigning is the cost: about 15 µs a descriptor)."""
    labels = np.ascontiguousarray(labels, dtype=np.int64)
    if len(descriptors) < IVF_THRESHOLD:
        index = faiss.IndexBinaryIDMap(faiss.IndexBinaryFlat(_DESCRIPTOR_BYTES * 8))
        if len(descriptors):
            index.add_with_ids(np.ascontiguousarray(descriptors, dtype=np.uint8), labels)
        return index, None
    data = np.ascontiguousarray(np.asarray(descriptors, np.uint8)[:, :code_bytes])
    bits = code_bytes * 8
    lists = int(4 * np.sqrt(len(data)))
    if previous is not None and previous[0].d == bits and lists / 2 <= previous[0].ntotal <= lists * 2:
        quantizer, assigned = previous[0], np.array(previous[1], np.int64)
    else:
        quantizer = faiss.IndexBinaryHNSW(bits, 32)
        quantizer.add(data[np.random.default_rng(0).choice(len(data), lists, replace=False)])
        assigned = np.full(len(data), -1, np.int64)
    index = faiss.IndexBinaryIVF(quantizer, bits, quantizer.ntotal)
    index.is_trained = True  # the centroids are in the quantizer: nothing to train
    index.nprobe = NPROBE
    unassigned = np.flatnonzero(assigned < 0)
    for first in range(0, len(unassigned), _ASSIGN_CHUNK):
        rows = unassigned[first:first + _ASSIGN_CHUNK]
        assigned[rows] = quantizer.search(data[rows], 1)[1][:, 0]
    index.add_core(len(data), faiss.swig_ptr(data), faiss.swig_ptr(labels), faiss.swig_ptr(assigned))
    return index, assigned.astype(np.int32)


def kept_lists(index: VisualIndex, old_rows: np.ndarray) -> tuple[Any, np.ndarray] | None:
    """For `build_faiss`: the quantizer of an inverted-file index, and the list of each new
    descriptor that held row `old_rows[i]` in it (-1: a new descriptor); None for an exact index."""
    if index.lists is None:
        return None
    return index.faiss.quantizer, np.where(old_rows >= 0, np.asarray(index.lists)[np.maximum(old_rows, 0)], -1)


def update_index(catalog: Any, catalog_path: str | os.PathLike[str], *, workers: int | None = None,
                 executor: Executor | None = None, progress: Callable[[int, int], None] | None = None,
                 file_timeout: float = FILE_TIMEOUT_S) -> IndexSummary:
    """Bring the visual index of `catalog` up to date with its images (see the module docstring).

    `workers` processes read and extract (default: all cores; 0: this process), or `executor` (a
    Dask cluster's) when given; each image may take `file_timeout` seconds to read and extract."""
    folder = guard_folder_rewrite(index_folder(catalog_path), [fs_path(root["path"]) for root in catalog.roots()],
                                  what="visual index folder")
    try:
        old, loaded = VisualIndex.load(folder), True
    except FigureIndexError:
        old, loaded = VisualIndex([], _NO_DESCRIPTORS, _NO_POINTS), False
    wanted = {row["id"]: row for row in catalog.figure_index_images()}
    kept_ids = {image["id"] for image in old.images
                if (row := wanted.get(image["id"])) is not None and _state(row) == _state(image)}
    old_thumbnails = _thumbnails_by_id(old)
    todo = [row for image_id, row in wanted.items() if image_id not in kept_ids]
    skipped: list[tuple[str, str]] = []
    no_thumbnail: list[tuple[str, str]] = []
    fresh: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    new_thumbnails: dict[int, np.ndarray] = {}
    jobs = [(row["id"], row["path"], row["height_px"], False) for row in todo] + [
        (image_id, wanted[image_id]["path"], wanted[image_id]["height_px"], True)
        for image_id in sorted(kept_ids - old_thumbnails.keys())]
    extracted = _extract_all(jobs, workers, executor, file_timeout)
    for done, (image_id, points, descriptors, thumbnail, error) in enumerate(extracted, start=1):
        if image_id not in kept_ids and error is None:
            fresh[image_id] = (points, descriptors)
        elif image_id not in kept_ids:  # left out of the table: tried again at the next run
            skipped.append((wanted[image_id]["path"], error))
        elif error is not None:  # an unchanged image whose thumbnail could not be read keeps none: tried again next run
            no_thumbnail.append((wanted[image_id]["path"], error))
        if error is None:
            new_thumbnails[image_id] = thumbnail
        if progress:
            progress(done, len(jobs))
    images, point_parts, descriptor_parts, row_parts, start = [], [], [], [], 0
    for image_id in sorted(kept_ids | set(fresh)):
        row = wanted[image_id]
        if image_id in fresh:
            points, descriptors = fresh[image_id]
            row_parts.append(np.full(len(points), -1, np.int64))
        else:
            points, descriptors = old.features_of(old.position_of[image_id])
            first = old.images[old.position_of[image_id]]["start"]
            row_parts.append(np.arange(first, first + len(points), dtype=np.int64))
        images.append({"id": image_id, "path": row["path"], "size_bytes": row["size_bytes"], "mtime_ns": row["mtime_ns"],
                       "width_px": row["width_px"], "height_px": row["height_px"],
                       "pixel_size_m": row["pixel_size_m"], "year": row["year"], "start": start, "count": len(points)})
        point_parts.append(points)
        descriptor_parts.append(descriptors)
        start += len(points)
    removed = sum(1 for image in old.images if image["id"] not in wanted)
    given = sum(1 for image_id in new_thumbnails if image_id in kept_ids)
    summary = IndexSummary(len(images), start, len(todo), removed, len(kept_ids), skipped, given, no_thumbnail)
    stored = _stacked({**old_thumbnails, **new_thumbnails}, images)
    if loaded and images == old.images:  # the keypoints unchanged: the current generation stands
        if given and old.generation is not None:
            _save_array(old.generation / _THUMBNAILS, stored)
            for stale in old.generation.glob("thumbnails-*.npy"):  # of another format
                if stale.name != _THUMBNAILS:
                    stale.unlink()
        return summary
    descriptors = np.concatenate([_NO_DESCRIPTORS, *descriptor_parts])
    points = np.concatenate([_NO_POINTS, *point_parts]).astype(np.float32)
    old_rows = np.concatenate([np.zeros(0, np.int64), *row_parts])
    write_generation(folder, images, descriptors, points, kept_lists(old, old_rows), thumbnail_rows=stored)
    return summary


def _thumbnails_by_id(index: VisualIndex) -> dict[int, np.ndarray]:
    """The thumbnail of each image of `index` that holds one (a row of `thumbnails.NONE` holds none)."""
    rows = index.thumbnails  # a view of the search's codes, taken once (0.4 s a view per row at 150 k)
    if rows is None:
        return {}
    return {index.images[position]["id"]: rows[position] for position in np.flatnonzero(rows.any(axis=1))}


def _stacked(by_id: dict[int, np.ndarray], images: list[dict[str, Any]]) -> np.ndarray:
    """The thumbnails of `images` in table order, `thumbnails.NONE` for one not read."""
    rows = np.zeros((len(images), thumbnails.PIXELS), np.uint8)
    for position, image in enumerate(images):
        rows[position] = by_id.get(image["id"], thumbnails.NONE)
    return rows


def _save_array(path: Path, array: np.ndarray) -> None:
    """`array` saved as `path` whole: a reader sees the old file, or none, or the whole new one."""
    with whole_file(path) as partial, open(partial, "wb") as handle:
        np.save(handle, array)


def _state(row: dict[str, Any]) -> tuple[Any, ...]:
    """What says an image is unchanged: its path, size and modification time."""
    return row["path"], row["size_bytes"], row["mtime_ns"], row["height_px"]


def _extract_all(jobs: Sequence[tuple[int, str, int | None, bool]], workers: int | None, executor: Executor | None,
                 file_timeout: float) -> Iterator[_Extracted]:
    """Each job's features, in batches on the scan's pool (its per-file budget, its watchdog for a
    read no alarm stops, its recovery from a worker that dies, a bounded number of batches in flight)."""
    if executor is None and len(jobs) < 8:
        workers = 0  # starting processes would cost more than the few images
    with Pool(executor, workers, file_timeout) as pool:  # a caller that stops midway ends its workers at once
        size = max(1, min(_BATCH, len(jobs) // (4 * pool.width)))  # every worker busy on a small index too
        tasks = [_IndexTask(tuple(jobs[start:start + size]), file_timeout) for start in range(0, len(jobs), size)]
        for batch in pool.results(index_batch, tasks, lambda task: len(task.jobs)):
            yield from batch


def write_generation(folder: Path, images: list[dict[str, Any]], descriptors: np.ndarray, points: np.ndarray,
                     previous: tuple[Any, np.ndarray] | None = None, code_bytes: int = IVF_CODE_BYTES,
                     thumbnail_rows: np.ndarray | None = None) -> None:
    """Write an index into `folder` (already guarded; `previous`, `code_bytes`: see `build_faiss`; `thumbnail_rows`:
    a thumbnail per image, none written when None): a new generation folder, then `current` switched to it in one rename,
    then the old one removed."""
    current = folder / "current"
    number = 1 + max((int(p.name[4:]) for p in folder.glob("gen-*") if p.name[4:].isdigit()), default=0)
    generation = folder / f"gen-{number:06d}"
    generation.mkdir()
    np.save(generation / "descriptors.npy", descriptors)
    np.save(generation / "points.npy", points)
    faiss_index, lists = build_faiss(descriptors, _positions(images), previous, code_bytes)
    faiss.write_index_binary(faiss_index, str(generation / "faiss.index"))
    if lists is not None:
        np.save(generation / "lists.npy", lists)
    if thumbnail_rows is not None:
        np.save(generation / _THUMBNAILS, thumbnail_rows)
    (generation / "images.json").write_text(json.dumps({"version": INDEX_VERSION, "images": images}))
    pointer = folder / "current.tmp"
    pointer.write_text(generation.name)
    os.replace(pointer, current)
    for stale in folder.glob("gen-*"):
        if stale.name != generation.name:
            shutil.rmtree(stale, ignore_errors=True)
