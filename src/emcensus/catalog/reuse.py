"""What the reuse export and the per-group report read from the catalog (issue 9).

A mixin of `Catalog` (catalog code: the only place that speaks SQL). An image here is an
acquisition: its primary file, present and readable, of kind `image` unless the filter asks for
others. It is *published* when any file of its acquisition is linked to an article (a frame shown
as a JPEG copy is published too). Quality metrics count only when they were measured on the file as
it is now (same size and mtime); otherwise they are unknown (None), never a stale number.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from emcensus.catalog.paths import fs_path
from emcensus.catalog.quality import CURRENT_FILE
from emcensus.catalog.query import ImageFilter
from emcensus.errors import QueryError

if TYPE_CHECKING:
    _Base = Any  # the Catalog this mixes into: db, _dicts
else:
    _Base = object

#: Quality columns the export carries (schema 8), unknown when not measured on the current file.
QUALITY_COLUMNS = (
    "blank", "clipped_low", "clipped_high", "noise_sigma", "snr", "sharpness", "resolution_px", "resolution_m",
    "charging", "drift", "sharpness_pct", "quality_flag",
)

#: Acquisitions with a file linked to any article.
_PUBLISHED_KEYS = """SELECT j.acquisition_key FROM article_images l JOIN images j ON j.id = l.image_id"""

_SUMMARY_FIELDS = ("year", "technique", "instrument", "project")

#: What the export reads of each image (its pixels' size comes from the pixels themselves).
_IMAGE_COLUMNS = (
    "id", "path", "instrument", "vendor", "technique", "detector", "detector_family", "magnification",
    "pixel_size_m", "fov_m", "scalebar_decade", "accelerating_voltage_v", "working_distance_m", "acquired_at",
    "group_name", "project",
)


class ReuseMixin(_Base):
    """Reuse-export and group-report queries of `Catalog`."""

    def reuse_candidates(self, image_filter: ImageFilter | None = None, *, batch_size: int = 20_000
                         ) -> Iterator[dict[str, Any]]:
        """Every acquisition the filter selects, with `published`, its original metadata (parsed)
        and the quality columns measured on its current file (None when not measured), in id order.

        Paths are file-system paths (`fs_path`), ready to open."""
        where, params = (image_filter or ImageFilter()).where(self.db)
        columns = ", ".join(f"i.{name}" for name in _IMAGE_COLUMNS)
        quality = ", ".join(f"q.{name}" for name in (*QUALITY_COLUMNS, "dup_group"))
        cursor = self.db.execute(
            f"""SELECT {columns}, i.acquisition_key IN ({_PUBLISHED_KEYS}) AS published, m.json AS metadata_json,
                       q.image_id IS NOT NULL AS measured, {quality}
                FROM (SELECT * FROM images WHERE {where} AND is_primary = 1) i
                LEFT JOIN quality q ON {CURRENT_FILE} AND q.error IS NULL
                LEFT JOIN metadata m ON m.image_id = i.id
                ORDER BY i.id""", params)
        names = [d[0] for d in cursor.description]
        while batch := cursor.fetchmany(batch_size):
            for row in batch:
                item = dict(zip(names, row, strict=True))
                item["path"] = fs_path(item["path"])
                item["published"] = bool(item["published"])
                item["measured"] = bool(item["measured"])
                text = item.pop("metadata_json")
                item["original_metadata"] = json.loads(text) if text else {}
                yield item

    # ----------------------------------------------------------------- the group report
    def group_summary(self, group: str, by: Sequence[str] = ("year", "technique")) -> list[dict[str, Any]]:
        """Acquired and published acquisitions of `group` per `by` fields (the report's table)."""
        unknown = set(by) - set(_SUMMARY_FIELDS)
        if unknown:
            raise QueryError(f"cannot summarise a group by {', '.join(sorted(unknown))}; fields: {', '.join(_SUMMARY_FIELDS)}")
        image_filter = ImageFilter(group=group)
        where, params = image_filter.where(self.db)
        keys = ", ".join(by)
        return self._dicts(
            f"""SELECT {keys}, count(*) AS acquired, sum(acquisition_key IN ({_PUBLISHED_KEYS})) AS published
                FROM (SELECT acquisition_key, {', '.join(_SUMMARY_FIELDS)} FROM images
                      WHERE {where} AND is_primary = 1)
                GROUP BY {keys} ORDER BY {keys}""", params)

    def group_articles(self, group: str) -> list[dict[str, Any]]:
        """Articles showing images of `group`, with how many of its acquisitions each shows, newest first."""
        where, params = ImageFilter(group=group).where(self.db)
        return self._dicts(
            f"""SELECT a.id, a.year, a.title, a.journal, count(DISTINCT i.acquisition_key) AS images
                FROM article_images l JOIN articles a ON a.id = l.article_id
                JOIN (SELECT id, acquisition_key FROM images WHERE {where}) i ON i.id = l.image_id
                GROUP BY a.id ORDER BY a.year DESC, a.id""", params)

    def best_unpublished(self, group: str, limit: int) -> list[dict[str, Any]]:
        """The sharpest unpublished, non-blank, measured acquisitions of `group` (sharpness percentile
        within instrument × magnification decade first), as file-system paths."""
        where, params = ImageFilter(group=group).where(self.db)
        rows = self._dicts(
            f"""SELECT i.id, i.path, i.project, i.instrument, i.technique, i.magnification, i.acquired_at,
                       q.sharpness_pct, q.snr, q.quality_flag
                FROM (SELECT * FROM images WHERE {where} AND is_primary = 1
                      AND acquisition_key NOT IN ({_PUBLISHED_KEYS})) i
                JOIN quality q ON {CURRENT_FILE}
                WHERE q.error IS NULL AND coalesce(q.blank, 0) = 0 AND q.sharpness_pct IS NOT NULL
                ORDER BY q.sharpness_pct DESC, q.snr DESC, i.id LIMIT ?""", [*params, int(limit)])
        for row in rows:
            row["path"] = fs_path(row["path"])
        return rows

    def unmeasured_count(self, group: str) -> int:
        """Acquisitions of `group` without a quality measurement of their current file."""
        where, params = ImageFilter(group=group).where(self.db)
        return self.db.execute(
            f"""SELECT count(*) FROM (SELECT * FROM images WHERE {where} AND is_primary = 1) i
                WHERE NOT EXISTS (SELECT 1 FROM quality q WHERE {CURRENT_FILE} AND q.error IS NULL)""", params).fetchone()[0]
