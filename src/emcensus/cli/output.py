"""Rows of dicts to the terminal as a table, CSV or JSON: one place so every command agrees.

One word for a value nobody knows: "unknown" in tables (null in JSON, empty in CSV). Floats are
rounded to what they can mean (6 significant digits; percentages to 2 decimals in tables), lists
stay lists in JSON, an empty result still says so (a "no rows" line, a CSV header), and identifiers
are never cut short.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from collections.abc import Sequence
from typing import Any

import click

from emcensus.catalog.paths import display_path

FORMATS = ("table", "csv", "json")
format_option = click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True, help="Output format."
)

#: What a table shows for a value that is not known.
UNKNOWN = "unknown"

_PLAIN_NUMBERS = ("year", "id", "width_px", "height_px", "root_id")

#: Columns holding identifiers: a table keeps them whole (other columns wrap instead).
_IDENTIFIERS = ("id", "article", "path", "paths", "acquisition_key", "root", "sidecar_path")

#: Significant digits kept in JSON and CSV: more is float noise (119.99976834021555 → 120.0).
_DIGITS = 6


def _rounded(value: Any) -> Any:
    """A float without its noise, None for NaN and infinities (JSON has neither); lists and dicts
    rounded throughout, except `original_metadata` (what the vendor wrote stays as written)."""
    if isinstance(value, float):
        return float(f"{value:.{_DIGITS}g}") if math.isfinite(value) else None
    if isinstance(value, (list, tuple)):
        return [_rounded(item) for item in value]
    if isinstance(value, dict):
        return {key: item if key == "original_metadata" else _rounded(item) for key, item in value.items()}
    return value


def json_text(data: Any) -> str:
    """`data` as indented JSON, floats without their noise: every command's JSON goes through here."""
    return json.dumps(_rounded(data), indent=2, ensure_ascii=False, default=str)


def _cell(value: Any, column: str) -> str:
    if value is None:
        return UNKNOWN
    if isinstance(value, (list, tuple)):
        return "\n".join(_cell(item, column) for item in value)
    if isinstance(value, bool) or column in _PLAIN_NUMBERS:
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return UNKNOWN
        if column.endswith("_pct"):
            return f"{value:.2f}"
        return f"{value:.4g}" if abs(value) < 1e-2 or abs(value) >= 1e6 else f"{value:,.6g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _csv_cell(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return " | ".join(str(item) for item in value)
    return _rounded(value)


def _shown(value: Any) -> Any:
    """Catalog text for people: a name's undecodable bytes as U+FFFD (`catalog.paths`)."""
    if isinstance(value, str):
        return display_path(value)
    if isinstance(value, (list, tuple)):
        return [_shown(item) for item in value]
    return value


def emit(rows: Sequence[dict[str, Any]], fmt: str, title: str | None = None, columns: Sequence[str] | None = None) -> None:
    """Print rows; `columns` (all keys of the first row by default) gives an empty result its header."""
    columns = list(columns or (rows[0].keys() if rows else []))
    rows = [{key: _shown(value) for key, value in row.items()} for row in rows]
    if fmt == "json":
        click.echo(json_text(list(rows)))
    elif fmt == "csv":
        if not columns:
            click.echo("no rows", err=True)
            return
        writer = csv.DictWriter(sys.stdout, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows({key: _csv_cell(value) for key, value in row.items()} for row in rows)
    elif not rows:
        click.echo(f"{title}: no rows" if title else "no rows")
    else:
        from rich.console import Console  # a table costs rich's import; csv, json and counts do not
        from rich.table import Table

        console = Console(soft_wrap=True)
        table = Table(title=title, show_lines=False, header_style="bold")
        # An identifier gets its whole width while every other column keeps at least 3 characters.
        room = max(console.width - 3 * (len(columns) - 1) - 4, 20)
        for column in columns:
            numeric = isinstance(rows[0].get(column), (int, float))
            widest = max((len(line) for row in rows for line in _cell(row.get(column), column).splitlines()), default=0)
            table.add_column(column, justify="right" if numeric else "left", overflow="fold",
                             min_width=min(widest, room) if column in _IDENTIFIERS else None)
        for row in rows:
            table.add_row(*(_cell(row.get(c), c) for c in columns))
        console.print(table)
