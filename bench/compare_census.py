"""Two emcensus source trees must catalogue an archive identically: a lever on the census's speed is
kept only when this prints `identical` for every archive.

    .venv/bin/python bench/compare_census.py OLD_SRC NEW_SRC ARCHIVE... [--odd DIR]

Each tree censuses each archive (every top-level folder a root, one command, a local pool) in a fresh
catalog; the catalogs are compared joined by path: every `images` column both schemas have (scan ids aside), the stored
metadata JSON text, the problems and the folder fingerprints; and every cube both have (`census_*`, rows as stored: what
the census counted, not the table refilled). `--odd DIR` first writes there an archive
of the odd cases: the real vendor samples (../shared/vendor-samples, when present), the bad corpus and
the adversarial corpus of `emcensus.demo`, and plain TIFFs written by Pillow and tifffile.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

_CENSUS = ("import sys; from emcensus.catalog import Catalog; from emcensus.scan import RootSpec, scan\n"
           "with Catalog(sys.argv[1]) as c: scan(c, [RootSpec(r) for r in sys.argv[2:]])")
_VENDOR_SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "vendor-samples"


def census(source_tree: str, catalog: Path, roots: list[str]) -> None:
    env = dict(os.environ, PYTHONPATH=source_tree)
    subprocess.run([sys.executable, "-c", _CENSUS, str(catalog), *roots], check=True, env=env)


def image_columns(catalog: Path) -> list[str]:
    """The `images` columns a census fills (scan ids and row ids aside)."""
    return [row[1] for row in sqlite3.connect(catalog).execute("PRAGMA table_info(images)")
            if row[1] not in ("id", "first_seen_scan", "missing_since_scan")]


def cube_tables(catalog: Path) -> list[str]:
    """The catalog's cubes (`census_*` tables)."""
    return [name for (name,) in sqlite3.connect(catalog).execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name GLOB 'census_*' ORDER BY name")]


def contents(catalog: Path, columns: list[str], cubes: list[str]) -> dict[str, object]:
    """What a census stored in `columns` and beside them, keyed so that two catalogs compare by path,
    and the rows of `cubes` (keyed by their values: root ids are given in the same order)."""
    db = sqlite3.connect(catalog)
    return {
        "images": {row[0]: row for row in db.execute(f"SELECT path, {', '.join(columns)} FROM images")},
        "metadata": dict(db.execute("SELECT i.path, m.json FROM images i JOIN metadata m ON m.image_id = i.id")),
        "problems": sorted(db.execute("SELECT group_key, path, severity, reason FROM problems"), key=repr),
        "folders": sorted(db.execute("SELECT * FROM folders"), key=repr),
        **{cube: sorted(db.execute(f"SELECT * FROM {cube}"), key=repr) for cube in cubes},
    }


def write_odd_archive(dest: Path) -> None:
    """Vendor samples, the bad and adversarial corpora, and plain TIFFs from two writers, as four roots."""
    import numpy as np
    import tifffile
    from PIL import Image

    from emcensus.demo.adversarial import make_adversarial_corpus
    from emcensus.demo.badcorpus import make_bad_corpus

    dest.mkdir(parents=True)
    if _VENDOR_SAMPLES.is_dir():
        shutil.copytree(_VENDOR_SAMPLES, dest / "vendor")
    make_bad_corpus(dest / "bad", extras=True)
    make_adversarial_corpus(dest / "adversarial", dest.parent / f"{dest.name}-outside")
    plain = dest / "plain"
    plain.mkdir()
    for index, mode in enumerate(("L", "RGB", "I;16")):
        Image.new(mode, (40 + index, 30), 7).save(plain / f"pil{index}.tif", tiffinfo={306: f"2019:01:0{index + 1} 03:04:05"})
    tifffile.imwrite(plain / "tf-be.tif", np.zeros((30, 40), np.uint16), byteorder=">", metadata=None, software=False)
    tifffile.imwrite(plain / "tf-strips.tif", np.zeros((300, 400), np.uint8), metadata=None, software=False, rowsperstrip=7)
    tifffile.imwrite(plain / "tf-described.tif", np.zeros((30, 40), np.uint8))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("archives", nargs="*", type=Path)
    parser.add_argument("--odd", type=Path, help="write the odd-case archive here (new folder) and compare it too")
    args = parser.parse_args()
    archives = list(args.archives)
    if args.odd:
        write_odd_archive(args.odd)
        archives.append(args.odd)
    failed = False
    for archive in archives:
        roots = sorted(str(path) for path in archive.iterdir() if path.is_dir())
        with tempfile.TemporaryDirectory() as work:
            census(args.old, Path(work) / "old.sqlite", roots)
            census(args.new, Path(work) / "new.sqlite", roots)
            old_columns, new_columns = image_columns(Path(work) / "old.sqlite"), image_columns(Path(work) / "new.sqlite")
            columns = [name for name in old_columns if name in new_columns]  # a schema change adds or drops some
            cubes = [cube for cube in cube_tables(Path(work) / "old.sqlite") if cube in cube_tables(Path(work) / "new.sqlite")]
            old, new = (contents(Path(work) / "old.sqlite", columns, cubes),
                        contents(Path(work) / "new.sqlite", columns, cubes))
        if columns != old_columns or columns != new_columns:
            print(f"{archive}: compared the columns both schemas have; only old {sorted(set(old_columns) - set(columns))}, "
                  f"only new {sorted(set(new_columns) - set(columns))}")
        differ = [name for name in old if old[name] != new[name]]
        print(f"{archive}: {len(old['images']):,} files, {len(old['problems']):,} problems: "
              f"{'identical' if not differ else 'DIFFER in ' + ', '.join(differ)}", flush=True)
        for name in differ:
            failed = True
            if isinstance(old[name], dict):
                keys = [key for key in old[name].keys() | new[name].keys() if old[name].get(key) != new[name].get(key)]
                for key in sorted(keys, key=repr)[:3]:
                    print(f"  {name} {key!r}:\n    old {old[name].get(key)!r}\n    new {new[name].get(key)!r}")
            else:
                print(f"  {name}: only old {[r for r in old[name] if r not in new[name]][:3]}, "
                      f"only new {[r for r in new[name] if r not in old[name]][:3]}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
