"""Pure analysis: FOV and scale bars, the publication ledger, Table 1, lost-data breakdowns, storage.

Data in, data out: no SQL and no file scanning here, so the catalog, the CLI and the web app can
all feed it.
"""

from __future__ import annotations

from emcensus.lazy import lazy_names

#: Where each public name lives, imported on first use: the catalog's use of `analysis.fov` does
#: not load numpy, pyarrow and every other analysis for each command.
_SOURCES = {
    **dict.fromkeys((
        "DECADE_LABELS", "DECADES", "Decade", "FovEstimate", "ReferenceWidth", "conditional_scale_bar",
        "decade_of", "decade_sort_key", "estimate_fov", "format_length", "nice_scale_bar", "reference_width",
        "scale_bar_decade"
    ), "emcensus.analysis.fov"),
    **dict.fromkeys((
        "Layout", "compile_layout"
    ), "emcensus.analysis.layout"),
    **dict.fromkeys((
        "LossBreakdown", "StorageTable", "format_bytes", "loss_breakdown", "storage_table"
    ), "emcensus.analysis.loss"),
    **dict.fromkeys((
        "CostModel", "GrowthFit", "fit_growth"
    ), "emcensus.analysis.storage"),
    **dict.fromkeys((
        "DEFAULT_CATEGORIES", "DEFAULT_VOCABULARY", "Article", "CategoryVocabulary", "Ledger", "PublishedCount",
        "PublishedImage", "RowProblem", "articles_by_category", "images_by_category_year", "merge_articles",
        "normalise_doi", "read_bibliography", "read_bibtex", "read_ledger", "read_ris", "read_scopus_csv",
        "resolve_images"
    ), "emcensus.analysis.publications"),
    **dict.fromkeys((
        "Table1", "Table1Column", "compute_table1"
    ), "emcensus.analysis.table1"),
}

__getattr__ = lazy_names(__name__, _SOURCES)

__all__ = [
    "DECADES", "DECADE_LABELS", "DEFAULT_CATEGORIES", "DEFAULT_VOCABULARY", "Article", "CategoryVocabulary",
    "Decade", "FovEstimate", "Layout", "Ledger", "LossBreakdown", "PublishedCount", "PublishedImage",
    "ReferenceWidth", "RowProblem", "StorageTable", "CostModel", "GrowthFit", "Table1", "Table1Column", "articles_by_category",
    "compile_layout", "compute_table1", "conditional_scale_bar", "decade_of", "decade_sort_key", "estimate_fov",
    "format_bytes", "format_length", "images_by_category_year", "loss_breakdown", "merge_articles",
    "nice_scale_bar", "normalise_doi", "read_bibliography", "read_bibtex", "read_ledger",
    "read_ris", "read_scopus_csv", "reference_width", "resolve_images", "scale_bar_decade", "storage_table",
    "fit_growth",
]
