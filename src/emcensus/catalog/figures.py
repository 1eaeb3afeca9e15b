"""Matches of published panels to archive images, kept for review (issue 8).

A mixin of `Catalog` (catalog code: the only place that speaks SQL). `figures match` proposes,
a person (the review page) or `figures accept --min-score` decides. An accepted match becomes a
ledger link of source 'matched', so Table 1, `lost` and the report count it like a typed ledger row;
a decided (article, image) pair, rejected ones included, is remembered and never proposed again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from emcensus.catalog.paths import db_text, fs_path
from emcensus.errors import NotFoundError, QueryError

if TYPE_CHECKING:
    _Base = Any  # the Catalog this mixes into: db, _dicts
else:
    _Base = object

STATUSES = ("proposed", "accepted", "rejected")


@dataclass(slots=True)
class ProposedMatch:
    """One panel matched to one catalogued image, as `figures match` found it."""

    article: str
    document: str
    page: int | None
    panel_bbox: Sequence[float]
    image_id: int
    score: float
    inliers: int
    crop_box: Sequence[float]
    scale: float
    scale_bar_m: float | None = None
    panel_fov_m: float | None = None
    related: Sequence[int] = ()
    caption: str | None = None
    scale_bar_check: str | None = None


def _bbox(values: Sequence[float]) -> str:
    return json.dumps([round(float(v), 2) for v in values])


class FiguresMixin(_Base):
    """Figure-match methods of `Catalog`."""

    def figure_index_images(self) -> list[dict[str, Any]]:
        """What the visual index holds: present, readable micrographs, one file per acquisition,
        with what a match needs (image-area size, pixel size, year); paths as the file system names them."""
        rows = self._dicts(
            """SELECT id, path, size_bytes, mtime_ns, width_px, height_px, pixel_size_m, year FROM images
               WHERE status = 'present' AND readable = 1 AND kind = 'image' AND is_primary = 1 ORDER BY id""")
        for row in rows:
            row["path"] = fs_path(row["path"])
        return rows

    def save_figure_matches(self, matches: Iterable[ProposedMatch]) -> int:
        """Propose matches (one transaction); an (article, image) pair already decided (accepted:
        it is a ledger link; rejected: remembered) is not proposed again, a proposed match is
        refreshed. Returns how many were stored or refreshed."""
        now = _now()
        rows = [(m.article, db_text(m.document), m.page, _bbox(m.panel_bbox), int(m.image_id), float(m.score), int(m.inliers),
                 _bbox(m.crop_box), float(m.scale), m.scale_bar_m, m.panel_fov_m,
                 json.dumps([int(i) for i in m.related]), m.caption, now, m.scale_bar_check) for m in matches]
        with self.db:
            before = self.db.total_changes
            self.db.executemany(
                """INSERT INTO figure_matches(article, document, page, panel_bbox, image_id, score, inliers, crop_box,
                     scale, scale_bar_m, panel_fov_m, related_json, caption, found_at, scale_bar_check)
                   SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
                   WHERE NOT EXISTS (SELECT 1 FROM figure_matches r WHERE r.article = ?1 AND r.image_id = ?5
                                     AND r.status <> 'proposed')
                   ON CONFLICT(article, image_id, document, page, panel_bbox) DO UPDATE SET
                     score = excluded.score, inliers = excluded.inliers, crop_box = excluded.crop_box,
                     scale = excluded.scale, scale_bar_m = excluded.scale_bar_m, panel_fov_m = excluded.panel_fov_m,
                     related_json = excluded.related_json, caption = excluded.caption, found_at = excluded.found_at,
                     scale_bar_check = excluded.scale_bar_check
                   WHERE status = 'proposed'""",
                rows)
            return self.db.total_changes - before

    def figure_matches(self, status: str | None = None, *, limit: int | None = None,
                       offset: int = 0) -> list[dict[str, Any]]:
        """Stored matches, surest first, with the image's catalogued path and related paths
        (`limit`/`offset`: one page of the review queue)."""
        _check_status(status)
        return self._match_rows("?1 IS NULL OR m.status = ?1", (status,), limit, offset)

    def figure_review_page(self, status: str, *, limit: int, offset: int = 0) -> list[dict[str, Any]]:
        """One page of the review queue as `figure_matches` gives it, each with the archive image's
        catalog-relative path and size in pixels (to outline `crop_box` on its thumbnail): one query
        for the page, not one per row."""
        _check_status(status)
        return self._match_rows("m.status = ?1", (status,), limit, offset, with_image=True)

    def figure_match_count(self, status: str | None = None) -> int:
        """How many matches have `status` (all when None): the length of the review queue."""
        _check_status(status)
        return self.db.execute("SELECT COUNT(*) FROM figure_matches WHERE ?1 IS NULL OR status = ?1",
                               (status,)).fetchone()[0]

    def figure_match(self, match_id: int) -> dict[str, Any]:
        """One stored match by id (the review page addresses matches by id), with its image as in
        `figure_review_page`."""
        rows = self._match_rows("m.id = ?1", (int(match_id),), None, with_image=True)
        if not rows:
            raise NotFoundError(f"no figure match with id {match_id}")
        return rows[0]

    def _match_rows(self, where: str, params: tuple[Any, ...], limit: int | None,
                    offset: int = 0, *, with_image: bool = False) -> list[dict[str, Any]]:
        image = ", i.rel_path AS image_rel_path, i.width_px, i.height_px" if with_image else ""
        rows = self._dicts(
            f"""SELECT m.*, i.path AS image, i.pixel_size_m{image} FROM figure_matches m JOIN images i ON i.id = m.image_id
                WHERE {where} ORDER BY m.score DESC, m.id LIMIT {-1 if limit is None else int(limit)}
                OFFSET {int(offset)}""", params)
        paths = self._paths_of({i for row in rows for i in json.loads(row["related_json"])})
        for row in rows:
            row["panel_bbox"] = json.loads(row["panel_bbox"])
            row["crop_box"] = json.loads(row["crop_box"])
            row["related"] = [paths[i] for i in json.loads(row.pop("related_json")) if i in paths]
        return rows

    def _paths_of(self, image_ids: set[int]) -> dict[int, str]:
        if not image_ids:
            return {}
        marks = ", ".join("?" * len(image_ids))
        return dict(self.db.execute(f"SELECT id, path FROM images WHERE id IN ({marks})", sorted(image_ids)))

    def accept_figure_matches(self, min_score: float = 0.0) -> int:
        """Accept every proposed match scoring at least `min_score`; returns how many."""
        ids = [row[0] for row in self.db.execute(
            "SELECT id FROM figure_matches WHERE status = 'proposed' AND score >= ?", (float(min_score),))]
        with self.db:
            for match_id in ids:
                self._decide(match_id, "accepted")
        return len(ids)

    def decide_figure_match(self, match_id: int, status: str) -> None:
        """Accept (a ledger link of source 'matched'), reject (remembered; an accepted match's link
        goes unless another accepted panel shows the same image) or put a match back as proposed."""
        _check_status(status)
        with self.db:
            self._decide(int(match_id), status)

    def _decide(self, match_id: int, status: str) -> None:
        found = self.db.execute("SELECT article, image_id FROM figure_matches WHERE id = ?", (match_id,)).fetchone()
        if found is None:
            raise NotFoundError(f"no figure match with id {match_id}")
        article, image_id = found
        self.db.execute("UPDATE figure_matches SET status = ?, decided_at = ? WHERE id = ?",
                        (status, None if status == "proposed" else _now(), match_id))
        if status == "accepted":
            self.db.execute("INSERT OR IGNORE INTO articles(id, source) VALUES (?, 'facility')", (article,))
            self.db.execute(
                """INSERT OR IGNORE INTO article_images(article_id, path, image_id, source)
                   SELECT ?, path, id, 'matched' FROM images WHERE id = ?""", (article, image_id))
        elif not self.db.execute("SELECT 1 FROM figure_matches WHERE article = ? AND image_id = ? AND status = 'accepted'",
                                 (article, image_id)).fetchone():
            self.db.execute("DELETE FROM article_images WHERE article_id = ? AND image_id = ? AND source = 'matched'",
                            (article, image_id))


def _check_status(status: str | None) -> None:
    if status is not None and status not in STATUSES:
        raise QueryError(f"unknown match status {status!r}; statuses: {', '.join(STATUSES)}")


def _now() -> str:
    return datetime.now().isoformat(timespec="seconds")
