"""A demo publication ledger drawn from a generated archive, deterministically from its manifest.

About 2.5 % of the images end up in articles, as in the paper: articles take their images from one
project folder, mostly 2–15 each and, in a large archive, a few over 50. A few facility articles
are recorded at count level only, and a few third-party articles show images from elsewhere.
"""

from __future__ import annotations

import csv
import random
from collections import defaultdict
from pathlib import Path

from emcensus.analysis.publications import DEFAULT_CATEGORIES
from emcensus.demo.manifest import Manifest, ManifestFile
from emcensus.outputs import whole_file

LEDGER_COLUMNS = ("article", "year", "image", "title", "journal", "category", "subcategory", "source", "technique", "count")

_CATEGORY_WEIGHTS = {"Materials": 55, "Catalysis": 22, "Organic chemistry": 12, "Ionic liquids": 7, "Microscopic control": 4}
_JOURNALS = ("Chemistry", "Nanomaterials", "ACS Catalysis", "Journal of Materials Chemistry A", "Molecules",
             "Inorganic Chemistry", "Microscopy and Microanalysis", "Catalysts")
_SUBJECTS = ("Pd nanoparticles on carbon", "porous polymer membranes", "ionic liquid droplets", "MXene flakes",
             "Au nanoparticle assemblies", "cellulose composites", "zeolite crystals", "Ni catalysts")
_VERBS = ("Imaging", "Structure of", "Growth of", "Stability of", "Dynamics of", "Morphology of")


def _article_sizes(rng: random.Random, target: int) -> list[int]:
    """Images per article: mostly 2–15, one in ~35 over 50 where the archive is large enough."""
    sizes: list[int] = []
    while sum(sizes) < target:
        big = target - sum(sizes) > 200 and rng.random() < 0.03
        sizes.append(rng.randint(51, 140) if big else min(2 + int(rng.expovariate(1 / 5)), 15))
    return sizes


def _category(rng: random.Random) -> tuple[str, str]:
    category = rng.choices(list(_CATEGORY_WEIGHTS), weights=list(_CATEGORY_WEIGHTS.values()))[0]
    subcategories = DEFAULT_CATEGORIES[category]
    return category, rng.choice(subcategories) if subcategories else ""


def _article_row(rng: random.Random, article: str, year: int, source: str = "facility") -> dict[str, object]:
    category, subcategory = _category(rng)
    return {"article": article, "year": year, "title": f"{rng.choice(_VERBS)} {rng.choice(_SUBJECTS)}",
            "journal": rng.choice(_JOURNALS), "category": category, "subcategory": subcategory, "source": source}


def demo_ledger_rows(manifest: Manifest, *, seed: int = 2011, fraction: float = 0.025,
                     until: int = 2023) -> list[dict[str, object]]:
    """Ledger rows (one per published image, plus count-level rows) for a generated archive."""
    rng = random.Random(seed)
    projects: dict[str, list[ManifestFile]] = defaultdict(list)
    for item in sorted(manifest.originals(), key=lambda f: f.path):
        if item.year <= until:
            projects["/".join(item.path.split("/")[:3])].append(item)
    for images in projects.values():
        rng.shuffle(images)
    total = sum(len(images) for images in projects.values())
    rows: list[dict[str, object]] = []
    for number, size in enumerate(_article_sizes(rng, max(10, round(fraction * total))), start=1):
        candidates = sorted(p for p, images in projects.items() if len(images) >= size) or [
            max(projects, key=lambda p: len(projects[p]))]
        images = projects[rng.choice(candidates)]
        chosen, images[:] = images[:size], images[size:]
        if not chosen:
            break
        base = _article_row(rng, f"10.5555/emcensus-demo.{number:04d}",
                            min(max(f.year for f in chosen) + rng.choice((0, 1, 1, 2)), until + 2))
        rows += [base | {"image": item.path} for item in chosen]
    count_level = [("demo-local-1", "facility", "SEM", 6), ("demo-local-2", "facility", "TEM", 4),
                   ("demo-local-3", "facility", "SEM", 9)]
    count_level += [(f"10.5555/emcensus-elsewhere.{n}", "third-party", technique, rng.randint(3, 20))
                    for n, technique in enumerate(("SEM", "STEM", "TEM", "SEM", "TEM"), start=1)]
    for article, source, technique, count in count_level:
        rows.append(_article_row(rng, article, rng.randint(until - 6, until), source)
                    | {"technique": technique, "count": count})
    return rows


def write_demo_ledger(manifest: Manifest, path: Path, *, seed: int = 2011) -> Path:
    """Write the demo ledger CSV (the format `emcensus pubs import` reads)."""
    with whole_file(path) as partial, partial.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=LEDGER_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(demo_ledger_rows(manifest, seed=seed))
    return path
