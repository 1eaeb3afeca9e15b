"""The census cube (schema 10): files and bytes per combination of the low-cardinality columns.

At a million images a group-by reads a million index entries (0.4–3 s); the cube holds ~82 k rows
and gives the same numbers, because a query keeps its one WHERE clause and GROUP BY (the cube's
columns have the names and types of `images`) and only its table and aggregate change. Triggers keep
the cube in each writer's own transaction, so it is never behind the table. Queries that read any
other column go to the detail cube (schema 11, ~147 k rows), which does the same for magnification,
FOV and project with the columns that add few rows to them (`schema.DETAIL_COLUMNS`); queries that
read a column of neither (path, quality, or year, detector or month with magnification or project)
go to `images` as before.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from emcensus.catalog.query import GROUP_FIELDS
from emcensus.catalog.schema import CUBE_COLUMNS, DETAIL_COLUMNS

if TYPE_CHECKING:
    _Base = Any  # the Catalog this mixes into: db
else:
    _Base = object

#: What a query may read from each cube, in the order they are tried (the census cube: its columns,
#: the month only as `--by month` reads it; the detail cube, migration 11: its columns).
CUBE_EXPRESSIONS = {
    "census_cube": frozenset(CUBE_COLUMNS.keys() - {"acquired_at"} | {GROUP_FIELDS["month"]}),
    "census_detail": frozenset(DETAIL_COLUMNS),
}

#: Aggregates over `images` that the cube answers, and their form over the cube.
CUBE_AGGREGATES = {"count(*)": "coalesce(sum(n), 0)", "coalesce(sum(size_bytes), 0)": "coalesce(sum(bytes), 0)"}


class CubeMixin(_Base):
    """Chooses the census cube for a query when it holds every column the query reads."""

    def census_source(self, aggregate: str, columns: Iterable[str]) -> tuple[str, str]:
        """(table, aggregate) to compute `aggregate` over the images filtered and grouped on `columns`:
        the cube's when it can answer, `images` and `aggregate` itself otherwise."""
        if aggregate in CUBE_AGGREGATES:
            read = set(columns)
            for cube, expressions in CUBE_EXPRESSIONS.items():
                if read <= expressions:
                    return cube, CUBE_AGGREGATES[aggregate]
        return "images", aggregate
