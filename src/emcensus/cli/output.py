"""Rows of dicts to the terminal as a table, CSV or JSON: one place so every command agrees."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from typing import Any

import click
from rich.console import Console
from rich.table import Table

FORMATS = ("table", "csv", "json")
format_option = click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True, help="Output format."
)


_PLAIN_NUMBERS = ("year", "id", "width_px", "height_px", "root_id")


def _cell(value: Any, column: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool) or column in _PLAIN_NUMBERS:
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e-2 or abs(value) >= 1e6 else f"{value:,.6g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def emit(rows: Sequence[dict[str, Any]], fmt: str, title: str | None = None, columns: Sequence[str] | None = None) -> None:
    columns = list(columns or (rows[0].keys() if rows else []))
    if fmt == "json":
        click.echo(json.dumps(list(rows), indent=2, ensure_ascii=False, default=str))
    elif fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    else:
        table = Table(title=title, show_lines=False, header_style="bold")
        for column in columns:
            numeric = bool(rows) and isinstance(rows[0].get(column), (int, float))
            table.add_column(column, justify="right" if numeric else "left")
        for row in rows:
            table.add_row(*(_cell(row.get(c), c) for c in columns))
        Console(soft_wrap=True).print(table)
