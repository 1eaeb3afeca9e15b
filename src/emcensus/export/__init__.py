"""Exports of the catalog for other tools: Parquet (DuckDB, Polars, Spark) and CSV."""

from __future__ import annotations

import csv
import itertools
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from emcensus.catalog import Catalog
from emcensus.catalog.connection import archive_roots
from emcensus.errors import ConfigError, OutputError
from emcensus.outputs import guard_output, whole_file

#: Rows per Parquet row group, and rows read from the catalog and converted at a time. The peak memory
#: is the rows in flight, whatever the catalog's size: Python rows (~4.6 KB each with their metadata
#: JSON) 1,000 at a time, since pyarrow's conversion of a batch of tuples reserves several times the
#: Arrow size it returns; a row group gathers their compact Arrow columns (1 M images: 296 -> ~200 MB).
ROW_GROUP, READ_BATCH = 5_000, 1_000

#: Export formats by file extension.
FORMATS = {".parquet": "parquet", ".csv": "csv"}

#: Column types, so that an empty or all-null batch still has a stable schema.
_INT_COLUMNS = {
    "id", "root_id", "is_primary", "width_px", "height_px", "year", "sidecar_size", "sidecar_mtime_ns",
    "size_bytes", "mtime_ns", "readable", "first_seen_scan", "missing_since_scan",
}
_FLOAT_COLUMNS = {
    "magnification", "accelerating_voltage_v", "working_distance_m", "pixel_size_m", "fov_width_m", "date_gap_days",
    "fov_m", "fov_mag_m", "fov_disagreement", "scale_bar_m",
}


def _schema(columns: list[str]) -> pa.Schema:
    def kind(name: str) -> pa.DataType:
        if name in _INT_COLUMNS:
            return pa.int64()
        if name in _FLOAT_COLUMNS:
            return pa.float64()
        return pa.string()

    return pa.schema([(name, kind(name)) for name in columns])


def export_catalog(catalog: Catalog, out: str | os.PathLike[str], fmt: str | None = None) -> int:
    """Stream every catalogued file (one row each) to `out`; returns the number of rows.

    `fmt` (parquet or csv) defaults to what `out`'s extension says; any other extension is refused
    rather than guessed. `out` passes the output guard (never in an archive, in an existing folder),
    and is written whole (`whole_file`), so a failed export leaves no half file behind.
    """
    if fmt is not None and fmt not in FORMATS.values():
        raise ConfigError(f"unknown export format {fmt!r}: {' or '.join(FORMATS.values())}")
    target = guard_output(out, archive_roots(catalog.db), what="export", suffixes=None if fmt else FORMATS)
    fmt = fmt or FORMATS[Path(out).suffix.lower()]
    try:
        with whole_file(target) as partial:
            return _write(catalog, partial, fmt)
    except OSError as exc:
        raise OutputError(f"cannot write the export {out}: {exc.strerror or exc}") from exc


def _write(catalog: Catalog, out: Path, fmt: str) -> int:
    """Stream the catalog's rows to `out`, a batch at a time: column arrays for Parquet, tuples for CSV."""
    columns = catalog.export_columns()
    rows = 0
    if fmt == "parquet":
        schema = _schema(columns)
        row_type = pa.struct(list(schema))  # rows (tuples) to columns inside pyarrow: 2-3x less CPU than transposing
        # no batch: a readable empty file; each row group is encoded and compressed in a thread
        # (pyarrow releases the GIL) while the next one is read from the catalog
        with pq.ParquetWriter(out, schema, compression="zstd") as writer, ThreadPoolExecutor(1) as encoder:
            written, group = None, []
            for batch in itertools.chain(catalog.iter_export_batches(READ_BATCH), [None]):
                if batch:
                    group.append(pa.RecordBatch.from_struct_array(pa.array(batch, type=row_type)))
                    rows += len(batch)
                if group and (batch is None or sum(map(len, group)) >= ROW_GROUP):
                    if written is not None:
                        written.result()
                    written = encoder.submit(writer.write_table, pa.Table.from_batches(group), ROW_GROUP)
                    group = []
            if written is not None:
                written.result()
        return rows
    with open(out, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for batch in catalog.iter_export_batches(READ_BATCH):
            writer.writerows(batch)
            rows += len(batch)
    return rows
