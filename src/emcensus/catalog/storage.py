"""Storage queries of `Catalog`: bytes of published and lost data, and acquisition times for sessions.

"Published" means what `lost` means by it: an acquisition with a file linked to a facility
article; all its files (exports and copies) count as published bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from emcensus.catalog.ledger import FACILITY_LINKED
from emcensus.catalog.query import ImageFilter, group_columns

if TYPE_CHECKING:
    _Base = Any  # the Catalog this mixes into: db, _grouped, storage
else:
    _Base = object

#: Acquisitions with a file used in a facility article.
_PUBLISHED_KEYS = f"acquisition_key IN (SELECT acquisition_key FROM images WHERE id IN ({FACILITY_LINKED}))"


class StorageMixin(_Base):
    """Storage methods of `Catalog`."""

    def storage_published(self, by: Any = (), **filters: Any) -> list[dict[str, Any]]:
        """Bytes of published and of lost acquisitions per group, as `published_bytes` and `lost_bytes`."""
        names = [name for name, _ in group_columns(by)]
        published = {tuple(row[n] for n in names): row["bytes"] for row in
                     self._grouped(by, "coalesce(sum(size_bytes), 0)", "bytes", _PUBLISHED_KEYS, dict(filters))}
        rows = []
        for row in self.storage(by, **filters):
            total = row.pop("bytes")
            row["published_bytes"] = published.get(tuple(row[n] for n in names), 0)
            rows.append({**row, "lost_bytes": total - row["published_bytes"]})
        return rows

    def count_level_published(self) -> int:
        """Images of facility articles given as counts only: published, but no file says which."""
        return self.db.execute(
            """SELECT coalesce(sum(c.count), 0) FROM article_counts c JOIN articles a ON a.id = c.article_id
               WHERE a.source = 'facility'""").fetchone()[0]

    def acquisition_times(self, **filters: Any) -> Iterator[tuple[str | None, str | None, bool]]:
        """(instrument, acquired_at, published) of every acquisition, by instrument then time."""
        where, params = ImageFilter.from_kwargs(**filters).where(self.db)
        yield from self.db.execute(
            f"""SELECT instrument, acquired_at, {_PUBLISHED_KEYS} FROM images
                WHERE {where} AND is_primary = 1 ORDER BY instrument, acquired_at""", params)
