"""Article topics in the catalog: what `pubs classify` reads, and where it writes its proposals.

A category is the ledger's when `category_source` is NULL or 'ledger' (given by a ledger row or
`pubs add`); 'classified' marks a proposal of `pubs classify`, which it may replace on a later run.
A given category is never overwritten here (the UPDATE itself checks it).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from emcensus.analysis.topics import Classification, TopicInput

    _Base = Any  # the Catalog this mixes into: db
else:
    _Base = object

_GIVEN = "category IS NOT NULL AND coalesce(category_source, 'ledger') <> 'classified'"


class TopicsMixin(_Base):
    """Article-topic methods of `Catalog`."""

    def topic_inputs(self) -> list[TopicInput]:
        """Every article's title, abstract and keywords, with its ledger label when it has one."""
        from emcensus.analysis.topics import TopicInput  # numpy: loaded by the commands that classify only

        rows = self.db.execute(
            f"SELECT id, title, abstract, keywords, category, subcategory, {_GIVEN} FROM articles ORDER BY id")
        return [TopicInput(id_, title, abstract, keywords, (category, subcategory) if given else None)
                for id_, title, abstract, keywords, category, subcategory, given in rows]

    def classified_counts(self) -> tuple[int, int]:
        """(facility articles whose category `pubs classify` proposed, those of them marked for review)."""
        return self.db.execute(
            """SELECT count(*), coalesce(sum(needs_review), 0) FROM articles
               WHERE source = 'facility' AND category_source = 'classified'""").fetchone()

    def save_classifications(self, results: Iterable[Classification]) -> int:
        """Store proposed topics on articles without a ledger category; returns how many were stored."""
        with self.db:
            before = self.db.total_changes
            self.db.executemany(
                f"""UPDATE articles SET category = ?, subcategory = ?, category_source = 'classified',
                      category_confidence = ?, needs_review = ? WHERE id = ? AND NOT ({_GIVEN})""",
                [(r.category, r.subcategory, r.confidence, int(r.needs_review), r.id) for r in results])
            return self.db.total_changes - before
