"""Figures and the self-contained HTML report, from plain data (see `ReportData`)."""

from emcensus.report.html import (
    DataTable,
    ReportData,
    ReportOutput,
    build_tables,
    render_figures,
    write_report,
)

__all__ = ["DataTable", "ReportData", "ReportOutput", "build_tables", "render_figures", "write_report"]
