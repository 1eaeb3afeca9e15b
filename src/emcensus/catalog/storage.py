"""Storage queries of `Catalog`: bytes per group split into published and lost, in one pass over
the files, and acquisition times for sessions.

"Published" means what `lost` means by it: an acquisition with a file linked to a facility
article; all its files (exports and copies) count as published bytes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from emcensus.catalog.ledger import FACILITY_LINKED
from emcensus.catalog.query import ImageFilter, group_columns

if TYPE_CHECKING:
    _Base = Any  # the Catalog this mixes into: db, _root_ids
else:
    _Base = object

#: Acquisitions with a file used in a facility article.
_PUBLISHED_KEYS = f"acquisition_key IN (SELECT acquisition_key FROM images WHERE id IN ({FACILITY_LINKED}))"


class StorageMixin(_Base):
    """Storage methods of `Catalog`."""

    def storage_parts(self, by: Sequence[str], **filters: Any) -> list[dict[str, Any]]:
        """Bytes of every file present (all kinds) per group of `by` plus year and technique, with
        `image` (micrograph files or not) and `published_bytes` (of acquisitions used in a facility
        article): every storage figure from one pass over the table, and one index lookup per
        published acquisition (testing each row against the published set took 3 passes' time)."""
        names = list(dict.fromkeys([*by, "year", "technique"]))
        groups = group_columns(",".join(names))
        where, params = ImageFilter.from_kwargs(**{"kind": "all", **filters}).where(self.db)
        select = ", ".join(f"{expr} AS {name!r}" for name, expr in groups)
        sql = (f"SELECT {select}, kind = 'image' AS image, coalesce(sum(size_bytes), 0) AS bytes FROM images "
               f"WHERE {{where}} GROUP BY {', '.join(str(i + 1) for i in range(len(groups) + 1))}")
        rows = self._dicts(sql.format(where=where), params)
        published = {tuple(row.values())[:-1]: row["bytes"]
                     for row in self._dicts(sql.format(where=f"{where} AND {_PUBLISHED_KEYS}"), params)}
        paths = {rid: path for path, rid in self._root_ids().items()} if "root" in names else {}
        for row in rows:
            row["published_bytes"] = published.get(tuple(row.values())[:-1], 0)
            if paths:
                row["root"] = paths.get(row["root"], row["root"])
        return rows

    def count_level_published(self) -> int:
        """Images of facility articles given as counts only: published, but no file says which."""
        return self.db.execute(
            """SELECT coalesce(sum(c.count), 0) FROM article_counts c JOIN articles a ON a.id = c.article_id
               WHERE a.source = 'facility'""").fetchone()[0]

    def acquisition_times(self, **filters: Any) -> Iterator[tuple[str | None, str | None, bool]]:
        """(instrument, acquired_at, published) of every acquisition, by instrument then time; the
        time only when the instrument's metadata gave it (a file's mtime may be when it was copied)."""
        where, params = ImageFilter.from_kwargs(**filters).where(self.db)
        yield from self.db.execute(
            f"""SELECT instrument, CASE WHEN acquired_at_source = 'metadata' THEN acquired_at END AS t,
                       {_PUBLISHED_KEYS} FROM images
                WHERE {where} AND is_primary = 1 ORDER BY instrument, t""", params)
