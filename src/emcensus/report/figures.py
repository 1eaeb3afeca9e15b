"""The paper's Figures 2 and 3 from plain data, as PNG and SVG.

Each function takes dicts, an output folder and a file stem, and returns the paths it wrote.
Figures are built with matplotlib's object API on the Agg canvas (no pyplot, no global backend
switch), so they render in servers and threads without a display. Colours are Okabe–Ito and every
series also differs by marker or hatch, so nothing depends on telling colours apart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from emcensus.analysis.fov import DECADE_LABELS, decade_sort_key
from emcensus.outputs import whole_file
from emcensus.palette import ARCHIVE_GREY, OKABE_ITO, TECHNIQUE_COLOURS
from emcensus.vocab import technique_order

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
HATCHES = ("", "//", "..", "xx", "\\\\", "oo", "++", "--")
TECHNIQUE_STYLE = {"SEM": (TECHNIQUE_COLOURS["SEM"], "o", ""), "TEM": (TECHNIQUE_COLOURS["TEM"], "s", "//"),
                   "STEM": (TECHNIQUE_COLOURS["STEM"], "^", "..")}

_RC = {
    "font.size": 10,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.labelsize": 10.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.6,
    "axes.axisbelow": True,
    "legend.frameon": False,
    "svg.fonttype": "none",  # text stays text: smaller files, searchable in the HTML report
    "svg.hashsalt": "emcensus",  # stable element ids, so the same data gives the same SVG
}
FORMATS = ("png", "svg")


def _render(draw: Callable[[], Figure], out_dir: str | Path, stem: str) -> list[Path]:
    """Draw under the house style and save as PNG and SVG; the paths written, PNG first."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{stem}.{fmt}" for fmt in FORMATS]
    with mpl.rc_context(_RC):
        figure = draw()
        FigureCanvasAgg(figure)
        for path, fmt in zip(paths, FORMATS):
            with whole_file(path) as partial:  # a report rewritten in place: each figure old or new, never half
                # No creation date in the metadata: the same data gives the same files.
                figure.savefig(partial, format=fmt, dpi=150, bbox_inches="tight",
                               metadata={"Date": None} if fmt == "svg" else None)
    return paths


def _style(name: str, index: int) -> tuple[str, str, str]:
    """Colour, marker, hatch of a series: fixed for techniques, by position otherwise."""
    return TECHNIQUE_STYLE.get(name, (OKABE_ITO[index % 8], MARKERS[index % 8], HATCHES[index % 8]))


def _no_data(ax: Axes) -> None:
    ax.text(0.5, 0.5, "No data", ha="center", va="center", transform=ax.transAxes, fontsize=14, color="#777777")
    ax.set_xticks([])
    ax.set_yticks([])


def _thousands(ax: Axes) -> None:
    ax.yaxis.set_major_formatter(mpl.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))


def _lines_by_year(series: Mapping[str, Mapping[int, int]], title: str, ylabel: str) -> Figure:
    """One line per series over every year from the first to the last: a year without images or
    publications is drawn as the 0 it is, never bridged by a line from its neighbours."""
    figure = Figure(figsize=(7.5, 4.2))
    ax = figure.add_subplot()
    known = [year for counts in series.values() for year in counts if year is not None]
    years = list(range(min(known), max(known) + 1)) if known else []
    if not years:
        _no_data(ax)
    for index, (name, counts) in enumerate(series.items()):
        colour, marker, _ = _style(name, index)
        ax.plot(years, [counts.get(year, 0) for year in years], marker=marker, color=colour, label=name,
                linewidth=1.8, markersize=6)
    if years:
        ax.set_xticks(years if len(years) <= 25 else years[::-(-len(years) // 25)])
        ax.tick_params(axis="x", labelrotation=45 if len(years) > 8 else 0)
        ax.set_xlabel("Year")
        ax.set_ylabel(ylabel)
        ax.set_ylim(bottom=0)
        _thousands(ax)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside: lines cross anywhere
    ax.set_title(title, loc="left")
    figure.tight_layout()
    return figure


def images_per_year(counts: Mapping[int, Mapping[str, int]], out_dir: str | Path,
                    stem: str = "fig2a_images_per_year") -> list[Path]:
    """Fig. 2A: images acquired per year, one line per technique (year → technique → images)."""
    return _render(lambda: _draw_images_per_year(counts), out_dir, stem)


def _draw_images_per_year(counts: Mapping[int, Mapping[str, int]]) -> Figure:
    techniques = technique_order({t for by_technique in counts.values() for t in by_technique if t})
    series = {t: {year: by_technique.get(t, 0) for year, by_technique in counts.items()} for t in techniques}
    return _lines_by_year(series, "A  Images acquired per year", "Images")


def _grouped_bars(ax: Axes, categories: Sequence[str], series: Mapping[str, Sequence[float]],
                  label: Callable[[float], str], styles: Sequence[tuple[str, str, str]] | None = None) -> None:
    """Bars side by side per category, each labelled with its value; `styles` overrides _style."""
    width = 0.8 / max(len(series), 1)
    for index, (name, values) in enumerate(series.items()):
        colour, _, hatch = styles[index] if styles else _style(name, index)
        offsets = [i + (index - (len(series) - 1) / 2) * width for i in range(len(categories))]
        bars = ax.bar(offsets, values, width, label=name, color=colour, hatch=hatch, edgecolor="white", linewidth=0.5)
        ax.bar_label(bars, labels=[label(v) if v else "" for v in values], fontsize=7.5, padding=2,
                     rotation=90 if len(series) * len(categories) > 14 else 0)
    crowded = len(categories) > 6
    ax.set_xticks(range(len(categories)), categories, rotation=30 if crowded else 0, ha="right" if crowded else "center")
    ax.grid(axis="x", visible=False)
    ax.margins(y=0.15)


def _decades_in_use(*tables: Mapping[str, int]) -> list[str]:
    used = {label for table in tables for label, value in table.items() if value and label in DECADE_LABELS}
    return sorted(used, key=decade_sort_key)


def scale_bar_decades(counts: Mapping[str, Mapping[str, int]], out_dir: str | Path,
                      stem: str = "fig2b_scale_bar_decades", without_fov: int = 0) -> list[Path]:
    """Fig. 2B: images per conditional scale-bar decade, bars per technique (technique → decade → images);
    the axis label says how many images (`without_fov`) have no field of view and are not shown."""
    return _render(lambda: _draw_scale_bar_decades(counts, without_fov), out_dir, stem)


def _without_fov(count: int) -> str:
    return f"\n{count:,} image(s) without a field of view not shown" if count else ""


def _draw_scale_bar_decades(counts: Mapping[str, Mapping[str, int]], without_fov: int = 0) -> Figure:
    figure = Figure(figsize=(7.5, 4.4))
    ax = figure.add_subplot()
    decades = _decades_in_use(*counts.values())
    if not decades:
        _no_data(ax)
        ax.set_xlabel(_without_fov(without_fov).strip())
    else:
        series = {t: [counts[t].get(d, 0) for d in decades] for t in technique_order(counts) if any(counts[t].values())}
        _grouped_bars(ax, decades, series, lambda v: f"{v:,.0f}")
        ax.set_xlabel("Conditional scale bar (10 % of field of view)" + _without_fov(without_fov))
        ax.set_ylabel("Images")
        _thousands(ax)
        ax.legend(loc="upper right")
    ax.set_title("B  Images by scale-bar size", loc="left")
    figure.tight_layout()
    return figure


def articles_by_category(counts: Mapping[str, Mapping[str | None, int]], out_dir: str | Path,
                         stem: str = "fig3a_articles_by_category") -> list[Path]:
    """Fig. 3A: share of articles per category and subcategory (category → subcategory or None → articles)."""
    return _render(lambda: _draw_articles_by_category(counts), out_dir, stem)


def _draw_articles_by_category(counts: Mapping[str, Mapping[str | None, int]]) -> Figure:
    rows: list[tuple[str, str, int]] = []  # (category, bar label, articles)
    for category, by_sub in counts.items():
        for sub, n in sorted(by_sub.items(), key=lambda item: (item[0] is None, -item[1])):
            if n:
                rows.append((category, sub or (category if len(by_sub) == 1 else f"{category} (other)"), n))
    total = sum(n for _, _, n in rows)
    figure = Figure(figsize=(7.5, max(2.5, 0.32 * len(rows) + 1.2)))
    ax = figure.add_subplot()
    if not rows:
        _no_data(ax)
    else:
        colour_of = {category: _style(category, i)[0] for i, category in enumerate(counts)}
        hatch_of = {category: _style(category, i)[2] for i, category in enumerate(counts)}
        positions = range(len(rows))[::-1]
        shares = [100.0 * n / total for _, _, n in rows]
        bars = ax.barh(list(positions), shares, color=[colour_of[c] for c, _, _ in rows],
                       hatch=[hatch_of[c] for c, _, _ in rows], edgecolor="white", linewidth=0.5)
        ax.bar_label(bars, labels=[f"{s:.1f} % ({n})" for s, (_, _, n) in zip(shares, rows)], padding=3, fontsize=8.5)
        ax.set_yticks(list(positions), [label for _, label, _ in rows])
        ax.set_xlabel(f"Share of articles, % (n = {total:,})")
        ax.grid(axis="y", visible=False)
        ax.set_xlim(0, max(shares) * 1.4)  # room for the "21.4 % (30)" labels inside the axes
        handles = [mpl.patches.Patch(facecolor=colour_of[c], hatch=hatch_of[c], edgecolor="white", label=c)
                   for c in counts if any(counts[c].values())]
        # Outside the axes, so it never covers a bar or its label.
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8.5)
    ax.set_title("A  Articles by category", loc="left")
    figure.tight_layout()
    return figure


def published_by_category_year(counts: Mapping[str, Mapping[int, int]], out_dir: str | Path,
                               stem: str = "fig3b_published_by_category_year") -> list[Path]:
    """Fig. 3B: images published per year, one line per category (category → year → images)."""
    return _render(lambda: _lines_by_year(counts, "B  Published images by category and year", "Published images"),
                   out_dir, stem)


def _percentages(counts: Mapping[str, int], decades: Sequence[str]) -> list[float]:
    total = sum(counts.get(d, 0) for d in decades)
    return [100.0 * counts.get(d, 0) / total if total else 0.0 for d in decades]


def published_vs_archive_decades(published: Mapping[str, int], archive: Mapping[str, int], technique: str,
                                 out_dir: str | Path, panel: str = "C", stem: str | None = None) -> list[Path]:
    """Fig. 3C (S(T)EM) / 3D (TEM): published and archived images per scale-bar decade, each as % of its total.

    Percentages, not counts: the archive is a hundred times larger than what was published."""
    stem = stem or f"fig3{panel.lower()}_published_vs_archive"
    return _render(lambda: _draw_published_vs_archive(published, archive, technique, panel), out_dir, stem)


def _draw_published_vs_archive(published: Mapping[str, int], archive: Mapping[str, int], technique: str,
                               panel: str) -> Figure:
    figure = Figure(figsize=(7.5, 4.2))
    ax = figure.add_subplot()
    decades = _decades_in_use(published, archive)
    if not decades:
        _no_data(ax)
    else:
        series = {f"Published (n = {sum(published.values()):,})": _percentages(published, decades),
                  f"Archive (n = {sum(archive.values()):,})": _percentages(archive, decades)}
        own_colour = TECHNIQUE_STYLE.get(technique.replace("(T)", ""), (OKABE_ITO[3], "", ""))[0]  # S(T)EM → SEM
        _grouped_bars(ax, decades, series, lambda v: "<1" if v < 0.5 else f"{v:.0f}",
                      styles=[(own_colour, "", ""), (ARCHIVE_GREY, "", "//")])
        ax.set_xlabel("Conditional scale bar (10 % of field of view)")
        ax.set_ylabel("Share of images, %")
        ax.legend(loc="upper right")
    ax.set_title(f"{panel}  {technique}: published vs archived scale bars", loc="left")
    figure.tight_layout()
    return figure
