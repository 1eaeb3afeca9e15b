"""One palette for the report's figures and the dashboard's charts: a technique has one colour everywhere."""

from __future__ import annotations

#: Okabe & Ito (2008) colour-blind-safe palette, black left out for data series.
OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
#: The grey that usually completes Okabe–Ito, for "everything else".
ARCHIVE_GREY = "#999999"
#: Colour of each technique in every chart, report and dashboard alike.
TECHNIQUE_COLOURS = {"SEM": OKABE_ITO[0], "TEM": OKABE_ITO[1], "STEM": OKABE_ITO[2]}

__all__ = ["ARCHIVE_GREY", "OKABE_ITO", "TECHNIQUE_COLOURS"]
