"""The publication ledger inside the catalog: articles, file-level links to images, count-level rows.

A mixin of `Catalog` (it is catalog code: the only other place that speaks SQL), kept apart so the
census core stays readable. Ledger paths resolve against the scan roots, so a ledger can name
`groupA/p1/img.tif` (relative to a root) or `SU8230/groupA/p1/img.tif` (relative to its parent).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from emcensus.analysis.publications import Article, Ledger, PublishedCount, RowProblem, check_article
from emcensus.catalog.query import ImageFilter, group_columns
from emcensus.errors import CatalogError, LedgerError, NotFoundError

if TYPE_CHECKING:
    _Base = Any  # the Catalog this mixes into: db, _dicts, _root_ids, _grouped
else:
    _Base = object

_ARTICLE_COLUMNS = ("id", "year", "title", "journal", "category", "subcategory", "source", "authors", "abstract",
                    "keywords")
_CATEGORY_PARAM = _ARTICLE_COLUMNS.index("category") + 1  # its SQL parameter number

#: Image ids linked to facility articles: what "published" means for lost data.
FACILITY_LINKED = """SELECT l.image_id FROM article_images l JOIN articles a ON a.id = l.article_id
                      WHERE a.source = 'facility' AND l.image_id IS NOT NULL"""


@dataclass(slots=True)
class LedgerImport:
    """What one import wrote, and every row it refused (row number + reason)."""

    articles: int = 0
    images: int = 0
    counts: int = 0
    problems: list[RowProblem] = field(default_factory=list)


class LedgerMixin(_Base):
    """Publication ledger methods of `Catalog`."""

    # ----------------------------------------------------------------- articles
    def article(self, article_id: str) -> Article | None:
        rows = self._dicts(f"SELECT {', '.join(_ARTICLE_COLUMNS)} FROM articles WHERE id = ?", (article_id,))
        return Article(**rows[0]) if rows else None

    def has_articles(self) -> bool:
        """Whether any article is known, without reading them all (the Overview asks on every visit)."""
        return self.db.execute("SELECT EXISTS (SELECT 1 FROM articles)").fetchone()[0] == 1

    def articles(self) -> list[Article]:
        return [Article(**row) for row in
                self._dicts(f"SELECT {', '.join(_ARTICLE_COLUMNS)} FROM articles ORDER BY year, id")]

    def save_article(self, article: Article) -> None:
        """Add an article, or update the values given (None keeps the stored value); LedgerError for
        an article a ledger row could not hold either (empty id, a year outside 1900–2100)."""
        try:
            check_article(article)
        except ValueError as exc:
            raise LedgerError(str(exc)) from exc
        with self.db:
            self._save_article(article, fill_only=False)

    def _save_article(self, article: Article, fill_only: bool) -> None:
        """Upsert; `fill_only` (bibliographies) only fills blanks and never changes the source."""
        pick = "coalesce({col}, excluded.{col})" if fill_only else "coalesce(excluded.{col}, {col})"
        updates = [f"{col} = {pick.format(col=col)}" for col in _ARTICLE_COLUMNS[1:] if col != "source"]
        if not fill_only:
            updates.append("source = excluded.source")
            # a category the ledger gives is its own: `pubs classify` never changes it
            updates += [f"{col} = CASE WHEN excluded.category IS NULL THEN {col} ELSE {value} END"
                        for col, value in (("category_source", "'ledger'"), ("category_confidence", "NULL"),
                                           ("needs_review", "NULL"))]
        self.db.execute(
            f"""INSERT INTO articles({', '.join(_ARTICLE_COLUMNS)}, category_source)
                VALUES ({', '.join('?' * len(_ARTICLE_COLUMNS))}, CASE WHEN ?{_CATEGORY_PARAM} IS NULL THEN NULL ELSE 'ledger' END)
                ON CONFLICT(id) DO UPDATE SET {', '.join(updates)}""",
            [getattr(article, col) for col in _ARTICLE_COLUMNS],
        )

    def article_summaries(self) -> list[dict[str, Any]]:
        """Every article with how many images it holds, file level and count level."""
        return self._dicts(
            """SELECT a.id, a.year, a.source, a.category, a.subcategory, a.journal, a.title,
                 (SELECT count(*) FROM article_images l WHERE l.article_id = a.id) AS linked_images,
                 (SELECT coalesce(sum(c.count), 0) FROM article_counts c WHERE c.article_id = a.id) AS counted_images,
                 a.category_source, a.category_confidence, a.needs_review
               FROM articles a ORDER BY a.year, a.id"""
        )

    def articles_of_image(self, image_id: int) -> list[dict[str, Any]]:
        """The articles an image is linked to (file level), newest first."""
        return self._dicts(
            """SELECT a.id, a.year, a.title, a.journal, a.source FROM articles a
               JOIN article_images l ON l.article_id = a.id WHERE l.image_id = ? ORDER BY a.year DESC, a.id""",
            (int(image_id),),
        )

    # ----------------------------------------------------------------- images
    def find_images(self, path: str) -> list[tuple[int, str]]:
        """(id, path) of the catalogued files a ledger path can mean: absolute, or relative to a scan
        root or to a root's parent folder."""
        if os.path.isabs(path):
            candidates = {os.path.normpath(path)}
        else:
            candidates = {os.path.normpath(os.path.join(base, path))
                          for root in self._root_ids() for base in (root, os.path.dirname(root))}
        marks = ", ".join("?" * len(candidates))
        return self.db.execute(f"SELECT id, path FROM images WHERE path IN ({marks}) ORDER BY path",
                               sorted(candidates)).fetchall()

    def _image(self, path: str) -> tuple[int, str]:
        found = self.find_images(path)
        if not found:
            raise NotFoundError(f"{path} is not a catalogued image (paths are absolute or relative to a scan root)")
        if len(found) > 1:
            raise NotFoundError(f"{path} is ambiguous: {', '.join(p for _, p in found)}")
        return found[0]

    def _require_article(self, article_id: str) -> None:
        if self.article(article_id) is None:
            raise NotFoundError(f"no article {article_id!r}: add it first (emcensus pubs add)")

    def link_images(self, article_id: str, paths: Iterable[str]) -> int:
        """Link catalogued images to an article (all or none); returns how many links are new."""
        self._require_article(article_id)
        images = [self._image(path) for path in paths]
        with self.db:
            before = self.db.total_changes
            self.db.executemany("INSERT OR IGNORE INTO article_images(article_id, path, image_id) VALUES (?, ?, ?)",
                                [(article_id, path, image_id) for image_id, path in images])
            return self.db.total_changes - before

    def unlink_images(self, article_id: str, paths: Iterable[str]) -> int:
        """Remove links (by catalogued path, or as the ledger wrote a path not in the archive)."""
        self._require_article(article_id)
        targets = [found[0][1] if len(found := self.find_images(path)) == 1 else path for path in paths]
        with self.db:
            before = self.db.total_changes
            self.db.executemany("DELETE FROM article_images WHERE article_id = ? AND path = ?",
                                [(article_id, path) for path in targets])
            return self.db.total_changes - before

    # ----------------------------------------------------------------- import
    def import_ledger(self, ledger: Ledger, *, fill_only: bool = False) -> LedgerImport:
        """Store a parsed ledger or bibliography in one transaction.

        Rows the reader refused, and images that are neither in the catalog nor given a technique,
        are reported per row; the rest is imported. A failing write rolls everything back.
        Count-level rows replace the stored ones of their article, so importing twice is harmless.
        `fill_only` (bibliographies) fills blanks of known articles instead of overwriting them.
        """
        result = LedgerImport(problems=list(ledger.problems))
        links = []
        for image in ledger.images:
            found = self.find_images(image.path)
            if len(found) > 1:
                result.problems.append(RowProblem(image.row or 0, f"image {image.path} is ambiguous: "
                                                  + ", ".join(p for _, p in found)))
            elif found:
                links.append((image.article, found[0][1], found[0][0], image.technique))
            elif image.technique:
                links.append((image.article, image.path, None, image.technique))  # not from this archive
            else:
                result.problems.append(RowProblem(image.row or 0, f"image {image.path} is not in the catalog "
                                                  "(give its technique if it comes from elsewhere)"))
        result.problems.sort(key=lambda p: p.row)
        # An article comes in with an accepted row; one whose every row was refused stays out.
        # Bibliographies name no images: all their articles come in.
        accepted = {link[0] for link in links} | {count.article for count in ledger.counts}
        named = {image.article for image in ledger.images} | accepted
        articles = [article for article in ledger.articles if article.id in accepted or article.id not in named]
        try:
            with self.db:
                for article in articles:
                    self._save_article(article, fill_only)
                before = self.db.total_changes
                self.db.executemany(
                    "INSERT OR IGNORE INTO article_images(article_id, path, image_id, technique) VALUES (?, ?, ?, ?)", links)
                result.images = self.db.total_changes - before
                self.db.executemany("DELETE FROM article_counts WHERE article_id = ?",
                                    [(article,) for article in {c.article for c in ledger.counts}])
                self.db.executemany("INSERT INTO article_counts(article_id, technique, count) VALUES (?, ?, ?)",
                                    [(c.article, c.technique, c.count) for c in ledger.counts])
        except sqlite3.Error as exc:
            raise CatalogError(f"{ledger.source_name or 'ledger'}: import failed, nothing was written ({exc})") from exc
        result.articles, result.counts = len(articles), len(ledger.counts)
        return result

    # ----------------------------------------------------------------- published images
    def published_counts(self, **filters: Any) -> list[PublishedCount]:
        """Images per article and technique, in the window the filters give (one definition for
        Table 1 and `lost`, see `_count_level_window`):

        * a file-level link counts when its image is one of the acquired images the filters select,
          by the catalog's technique; a frame linked as tif and jpg counts once;
        * a link to an image outside the archive (the ledger's technique) and a count-level row count
          by their article's year.
        """
        image_filter = ImageFilter.from_kwargs(**filters)
        where, params = image_filter.where(self.db)
        # Kept for a read-only catalog while it is unchanged (Table 1 on every visit). The links are
        # walked in image id order, so their images are read in the table's order, not the articles'
        # (1 M images, 25 k links, SQLite's cache cold: 80-86 -> 64-65 ms CPU).
        rows = self._fetch(
            f"""SELECT l.article_id, i.technique, count(DISTINCT i.acquisition_key)
                FROM article_images l INDEXED BY article_images_image
                CROSS JOIN (SELECT id, technique, acquisition_key FROM images WHERE {where}) i ON i.id = l.image_id
                WHERE l.image_id IS NOT NULL GROUP BY 1, 2""", params)[1]
        window = _count_level_window(image_filter, filters)
        if window is not None:
            rows += self._fetch(
                f"""SELECT l.article_id, l.technique, count(DISTINCT l.path) FROM article_images l
                    JOIN articles a ON a.id = l.article_id WHERE l.image_id IS NULL AND {window[0]} GROUP BY 1, 2
                    UNION ALL
                    SELECT c.article_id, c.technique, sum(c.count) FROM article_counts c
                    JOIN articles a ON a.id = c.article_id WHERE {window[0]} GROUP BY 1, 2""",
                window[1] * 2)[1]
        totals: dict[tuple[str, str | None], int] = {}
        for article, technique, count in rows:
            totals[(article, technique)] = totals.get((article, technique), 0) + count
        return [PublishedCount(article, technique, count) for (article, technique), count in sorted(
            totals.items(), key=lambda item: (item[0][0], item[0][1] or ""))]

    def published(self, by: Any = (), **filters: Any) -> list[dict[str, Any]]:
        """Distinct archive images (acquisitions) used in facility articles, grouped like `count`,
        as `published`.

        Count-level rows name no image, only a technique and their article's year; they are added
        when grouping by technique or by year alone (standing in for images of the article's year,
        inside the year window) and no filter other than the window is given.
        """
        rows = self._grouped(by, "count(DISTINCT acquisition_key)", "published", f"id IN ({FACILITY_LINKED})",
                             dict(filters))
        names = [name for name, _ in group_columns(by)]
        window = _count_level_window(ImageFilter.from_kwargs(**filters), filters)
        if names not in (["technique"], ["year"]) or window is None:
            return rows
        extra = self.db.execute(
            f"""SELECT {'c.technique' if names == ['technique'] else 'a.year'}, sum(c.count)
                FROM article_counts c JOIN articles a ON a.id = c.article_id
                WHERE a.source = 'facility' AND {window[0]} GROUP BY 1""",
            window[1],
        ).fetchall()
        merged = {row[names[0]]: row["published"] for row in rows}
        for key, count in extra:
            merged[key] = merged.get(key, 0) + count
        return [{names[0]: key, "published": count} for key, count in merged.items()]


#: Filters that also apply to count-level rows (through their article's year).
_WINDOW_FILTERS = frozenset({"year", "since", "until"})


def _count_level_window(image_filter: ImageFilter, filters: dict[str, Any]) -> tuple[str, list[Any]] | None:
    """SQL condition on `a.year` (and its parameters) that places count-level rows and images from
    outside the archive in the filters' year window; None when other filters are given (such rows
    name no instrument, detector or decade, so they cannot be placed). Without a window every
    article counts; with one, an article of unknown year is outside it."""
    if set(filters) - _WINDOW_FILTERS:
        return None
    low, high = image_filter.year_range()
    clauses, params = ["1"], []
    if low is not None:
        clauses.append("a.year >= ?")
        params.append(low)
    if high is not None:
        clauses.append("a.year <= ?")
        params.append(high)
    return " AND ".join(clauses), params
