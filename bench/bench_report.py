"""Table 1, every figure and the HTML report on the paper-scale catalog (target: <= 10 s in all).

    .venv/bin/python bench/bench_report.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from paper_catalog import paper_catalog  # noqa: E402

from emcensus.catalog import Catalog  # noqa: E402
from emcensus.report.build import build_report_data, catalog_table1  # noqa: E402
from emcensus.report.html import write_report  # noqa: E402


def main() -> None:
    path = paper_catalog()
    with Catalog(path, readonly=True) as catalog, tempfile.TemporaryDirectory() as out:
        images, articles = catalog.total(), len(catalog.articles())
        started = time.perf_counter()
        catalog_table1(catalog, until=2023)
        t_table = time.perf_counter() - started
        data = build_report_data(catalog, until=2023)
        t_data = time.perf_counter() - started - t_table
        output = write_report(Path(out), data)
        total = time.perf_counter() - started
    print(f"catalog: {path} — {images:,} images, {articles:,} articles")
    print(f"Table 1                       : {t_table * 1000:8.0f} ms")
    print(f"report data (all breakdowns)  : {t_data * 1000:8.0f} ms")
    print(f"figures + HTML + CSV/JSON     : {(total - t_table - t_data) * 1000:8.0f} ms ({len(output.figures)} figure files)")
    print(f"total                         : {total:8.2f} s   ({total / 10:.2f} of the 10 s target)")


if __name__ == "__main__":
    main()
