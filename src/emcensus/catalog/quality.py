"""Per-image quality metrics and near-duplicate groups (issue 9), table `quality` (schema 8).

A mixin of `Catalog` (the only code that speaks SQL). A row holds what one file state measured
(size and modification time): `emcensus quality` recomputes a row only when either changes, and
copies the metrics of another row whose file has the same content hash (a moved or copied file).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from emcensus.catalog.paths import fs_path

if TYPE_CHECKING:
    _Base = Any  # the Catalog this mixes into: db, _dicts
else:
    _Base = object

#: Columns that a measurement writes (the state and the bookkeeping come on top).
MEASURED_COLUMNS = ("content_sha256", "pixel_sha256", "blank", "clipped_low", "clipped_high", "noise_sigma", "snr",
                    "sharpness", "resolution_px", "resolution_m", "charging", "drift", "phash", "dhash", "error")
#: Columns that depend on the other images (recomputed after every change).
RELATIVE_COLUMNS = ("sharpness_pct", "quality_flag", "dup_group")
#: Images measured: present, readable micrographs, every file (a tif and its jpg export are compared).
_MEASURED_IMAGES = "i.status = 'present' AND i.readable = 1 AND i.kind = 'image'"
#: A quality row that describes its image's current file (a changed file's old row does not): the
#: join every reader of measured values uses (quality here, the reuse export and report).
CURRENT_FILE = "i.id = q.image_id AND i.size_bytes = q.size_bytes AND i.mtime_ns = q.mtime_ns"


class QualityMixin(_Base):
    """Quality methods of `Catalog`."""

    def quality_images(self) -> list[dict[str, Any]]:
        """Every image to measure, with its stored quality state (NULL columns when never measured);
        paths as the file system names them."""
        rows = self._dicts(
            f"""SELECT i.id, i.path, i.size_bytes, i.mtime_ns, i.height_px, i.pixel_size_m,
                       q.size_bytes AS q_size, q.mtime_ns AS q_mtime, q.metric_version AS q_version
                FROM images i LEFT JOIN quality q ON q.image_id = i.id WHERE {_MEASURED_IMAGES} ORDER BY i.id""")
        for row in rows:
            row["path"] = fs_path(row["path"])
        return rows

    def quality_contents(self, sizes: Iterable[int], version: int) -> dict[int, set[str]]:
        """Content hashes of measured files (no error, this metric version) per file size, for the sizes given."""
        wanted = sorted(set(sizes))
        found: dict[int, set[str]] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            for size, digest in self.db.execute(
                    f"""SELECT size_bytes, content_sha256 FROM quality WHERE error IS NULL AND metric_version = ?
                        AND content_sha256 IS NOT NULL AND size_bytes IN ({', '.join('?' * len(chunk))})""",
                    (version, *chunk)):
                found.setdefault(size, set()).add(digest)
        return found

    def quality_by_content(self, content_sha256: str, version: int) -> dict[str, Any] | None:
        """The measured columns of a row whose file had this content (for a moved or copied file)."""
        rows = self._dicts(
            f"SELECT {', '.join(MEASURED_COLUMNS)} FROM quality WHERE content_sha256 = ? AND error IS NULL"
            " AND metric_version = ? LIMIT 1", (content_sha256, version))
        return rows[0] if rows else None

    def save_quality(self, rows: Sequence[Mapping[str, Any]], version: int) -> None:
        """Store measured rows (keys: image_id, size_bytes, mtime_ns and MEASURED_COLUMNS) in one transaction."""
        columns = ("image_id", "size_bytes", "mtime_ns", *MEASURED_COLUMNS)
        now = datetime.now().isoformat(timespec="seconds")
        with self.db:
            self.db.executemany(
                f"""INSERT OR REPLACE INTO quality({', '.join(columns)}, metric_version, computed_at)
                    VALUES ({', '.join('?' * len(columns))}, ?, ?)""",
                [(*(row.get(c) for c in columns), version, now) for row in rows])

    def quality_rows(self) -> list[dict[str, Any]]:
        """The stored quality of every measured image, with what grouping and percentiles need."""
        return self._dicts(
            f"""SELECT q.*, i.path, i.height_px, i.instrument, i.acquired_at, i.acquired_at_source, i.magnification
                FROM quality q JOIN images i ON i.id = q.image_id WHERE {_MEASURED_IMAGES} ORDER BY q.image_id""")

    def set_quality_relative(self, values: Mapping[int, Mapping[str, Any]]) -> None:
        """Write percentile, flag and duplicate group of every measured image (one transaction);
        images not in `values` get none."""
        with self.db:
            self.db.execute(f"UPDATE quality SET {', '.join(f'{c} = NULL' for c in RELATIVE_COLUMNS)}")
            self.db.executemany(
                f"UPDATE quality SET {', '.join(f'{c} = ?' for c in RELATIVE_COLUMNS)} WHERE image_id = ?",
                [(*(value.get(c) for c in RELATIVE_COLUMNS), image_id) for image_id, value in values.items()])

    def quality_orphans(self) -> int:
        """Rows of images no longer measured (gone missing, unreadable) that still carry a percentile,
        flag or group: the ranking is out of date."""
        return self.db.execute(
            f"""SELECT count(*) FROM quality q WHERE ({' OR '.join(f'q.{c} IS NOT NULL' for c in RELATIVE_COLUMNS)})
                AND NOT EXISTS (SELECT 1 FROM images i WHERE i.id = q.image_id AND {_MEASURED_IMAGES})""").fetchone()[0]

    def quality_orphan_groups(self) -> set[int]:
        """Duplicate groups that held an image no longer measured: their other pairs are confirmed again."""
        return {row[0] for row in self.db.execute(
            f"""SELECT DISTINCT q.dup_group FROM quality q WHERE q.dup_group IS NOT NULL
                AND NOT EXISTS (SELECT 1 FROM images i WHERE i.id = q.image_id AND {_MEASURED_IMAGES})""")}

    def image_quality(self, image_id: int) -> dict[str, Any] | None:
        """One image's quality, measured on its current file, with the other members of its
        duplicate group (id, path); None when its current file was never measured."""
        rows = self._dicts(f"SELECT q.* FROM quality q JOIN images i ON {CURRENT_FILE} WHERE q.image_id = ?", (int(image_id),))
        if not rows:
            return None
        row = rows[0]
        row["duplicates"] = [] if row["dup_group"] is None else self._dicts(
            """SELECT i.id, i.path FROM quality q JOIN images i ON i.id = q.image_id
               WHERE q.dup_group = ? AND q.image_id <> ? ORDER BY i.id""", (row["dup_group"], int(image_id)))
        return row

    def quality_of_images(self, image_ids: Iterable[int], columns: Sequence[str]) -> dict[int, dict[str, Any]]:
        """`columns` of the quality measured on the current files of these images (absent: not measured)."""
        unknown = set(columns) - set((*MEASURED_COLUMNS, *RELATIVE_COLUMNS))
        if unknown:
            raise ValueError(f"not quality columns: {sorted(unknown)}")
        ids = sorted({int(i) for i in image_ids})
        found: dict[int, dict[str, Any]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            for row in self._dicts(
                    f"""SELECT q.image_id, {', '.join(f'q.{c}' for c in columns)} FROM quality q JOIN images i ON {CURRENT_FILE}
                        WHERE q.image_id IN ({', '.join('?' * len(chunk))})""", chunk):
                found[row.pop("image_id")] = row
        return found

    def quality_summary(self) -> dict[str, int]:
        """How many measured images there are, with an error, and in duplicate groups."""
        measured, errors, grouped, groups = self.db.execute(
            """SELECT count(*), coalesce(sum(error IS NOT NULL), 0), coalesce(sum(dup_group IS NOT NULL), 0),
                      count(DISTINCT dup_group) FROM quality""").fetchone()
        return {"measured": measured, "errors": errors, "in_duplicate_groups": grouped, "duplicate_groups": groups}
