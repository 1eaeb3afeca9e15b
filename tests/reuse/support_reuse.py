"""Independent readings of an archive and of an export, for the reuse tests."""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import tifffile
from PIL import Image

from emcensus.catalog import Catalog
from emcensus.demo.manifest import Manifest
from support import catalog_cli

SECRET = "s3cret-facility-key-0123456789abcdef"
ARTICLE = "10.1000/reuse-test"


@dataclass
class Census:
    """A generated archive and its catalog: what the export tests compare against."""

    root: Path
    manifest: Manifest
    catalog: Path
    secret_file: Path
    published_paths: list[str]
    blank_ids: list[int]
    untouched: dict  # the archive's fingerprint (support.fingerprint) before any export

    def invoke(self, *args: str, ok: bool = True, env: dict[str, str] | None = None):
        return catalog_cli(self.catalog)(*args, ok=ok, env=env)

_DATE_LIKE = re.compile(r"[\d\-_.]+")
#: Folder names of the generated archive that are words of any export's own vocabulary, not names.
_FORMAT_WORDS = {"export", "projects"}


def decode(path: str | Path) -> np.ndarray:
    """Pixels of an original file, read here with tifffile or Pillow (not emcensus's reader)."""
    if str(path).lower().endswith((".tif", ".tiff")):
        return tifffile.imread(path)
    with Image.open(path) as image:
        return np.asarray(image.convert("L"))


def pixel_digest(pixels: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(pixels).tobytes()).hexdigest()


def eligible(catalog_path: Path, blank_ids: list[int], *, include_published: bool = False,
             acquired_before: str | None = None) -> dict[str, Path]:
    """What the default export must hold, by the catalog: pixel digest → original path, for present,
    readable primary images, unpublished, not measured blank (one per identical pixel content)."""
    with Catalog(catalog_path, readonly=True) as catalog:
        linked = {row[0] for row in catalog.db.execute(
            "SELECT j.acquisition_key FROM article_images l JOIN images j ON j.id = l.image_id")}
        rows = catalog.images(order="path")
    chosen: dict[str, Path] = {}
    for row in sorted(rows, key=lambda r: r["id"]):
        if not row["is_primary"] or row["id"] in blank_ids:
            continue
        if row["acquisition_key"] in linked and not include_published:
            continue
        if acquired_before and (row["acquired_at"] or "9999") >= acquired_before:
            continue
        chosen.setdefault(pixel_digest(decode(row["path"])), Path(row["path"]))
    return chosen


def real_names(root: Path) -> set[str]:
    """Every folder and file stem under the archive's instrument roots, and every sidecar's
    UserName=, that could identify a group, project, person or sample (4 characters or more)."""
    names: set[str] = set()
    for path in root.rglob("*"):
        if path.name == "manifest.json" or path.parent == root:
            continue
        names.add(path.stem if path.is_file() else path.name)
        if path.suffix.lower() == ".txt":
            text = path.read_bytes()
            for encoding in ("utf-16", "cp932", "cp1252"):
                try:
                    decoded = text.decode(encoding)
                except UnicodeDecodeError:
                    continue
                if "UserName=" in decoded:
                    names.update(re.findall(r"UserName=([^\r\n]+)", decoded))
                    break
    return {name.strip() for name in names
            if len(name.strip()) >= 4 and not _DATE_LIKE.fullmatch(name) and name not in _FORMAT_WORDS}


def exported_texts(out: Path) -> list[tuple[str, bytes]]:
    """Every file's bytes, and what compression hides: each Parquet value, each tar member."""
    texts = []
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        data = path.read_bytes()
        texts.append((str(path), data))
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            for name in table.column_names:
                raw: list[bytes] = []
                values = json.dumps(table.column(name).to_pylist(), ensure_ascii=False,
                                    default=lambda value: raw.append(value) or "")
                texts.append((f"{path}:{name}", values.encode() + b"".join(raw)))
        if path.suffix == ".tar":
            with tarfile.open(path) as tar:
                for member in tar.getmembers():
                    texts.append((f"{path}:{member.name}", member.name.encode() + tar.extractfile(member).read()))
    return texts


def tiff_tags(data: bytes) -> set[int]:
    with tifffile.TiffFile(io.BytesIO(data)) as tif:
        return {tag.code for page in tif.pages for tag in page.tags}
