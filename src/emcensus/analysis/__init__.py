"""Pure analysis: FOV and scale bars, the publication ledger, Table 1, lost-data breakdowns, storage.

Data in, data out: no SQL and no file scanning here, so the catalog, the CLI and the web app can
all feed it.
"""

from emcensus.analysis.fov import (
    DECADE_LABELS,
    DECADES,
    Decade,
    FovEstimate,
    ReferenceWidth,
    conditional_scale_bar,
    decade_of,
    decade_sort_key,
    estimate_fov,
    format_length,
    nice_scale_bar,
    reference_width,
    scale_bar_decade,
)
from emcensus.analysis.layout import Layout, compile_layout
from emcensus.analysis.loss import (
    LossBreakdown,
    StorageTable,
    format_bytes,
    loss_breakdown,
    storage_table,
)
from emcensus.analysis.storage import CostModel, GrowthFit, fit_growth
from emcensus.analysis.publications import (
    DEFAULT_CATEGORIES,
    DEFAULT_VOCABULARY,
    Article,
    CategoryVocabulary,
    Ledger,
    PublishedCount,
    PublishedImage,
    RowProblem,
    articles_by_category,
    images_by_category_year,
    merge_articles,
    normalise_doi,
    read_bibliography,
    read_bibtex,
    read_ledger,
    read_ris,
    read_scopus_csv,
    resolve_images,
)
from emcensus.analysis.table1 import Table1, Table1Column, compute_table1

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
