"""Figures 2A–3D: files are written, PNGs decode, SVGs parse, labels are there as text."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from PIL import Image

from emcensus.report import figures

SVG = "{http://www.w3.org/2000/svg}"


def check(paths: list[Path], *texts: str) -> None:
    """Both formats exist; the PNG is a real, reasonably sized image; the SVG holds the given texts."""
    png, svg = paths
    assert (png.suffix, svg.suffix) == (".png", ".svg")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(png) as image:
        image.verify()
    with Image.open(png) as image:
        assert image.width >= 800 and image.height >= 300
    root = ET.parse(svg).getroot()
    assert root.tag == f"{SVG}svg"
    words = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    for text in texts:
        assert text in words, text


def test_images_per_year(tmp_path):
    counts = {2011: {"SEM": 5000, "TEM": 1500, "STEM": 300}, 2012: {"SEM": 6000, "TEM": 1700}, 2013: {"TEM": 10}}
    check(figures.images_per_year(counts, tmp_path), "SEM", "TEM", "STEM", "2013", "6,000", "Year")


def test_scale_bar_decades(tmp_path):
    counts = {"TEM": {"10–100 nm": 900, "1–10 nm": 200}, "SEM": {"1–10 µm": 40_000, "100 nm–1 µm": 30_000}}
    paths = figures.scale_bar_decades(counts, tmp_path, stem="decades")
    assert paths[0].name == "decades.png"
    check(paths, "1–10 nm", "1–10 µm", "40,000", "10 % of field of view")


def test_articles_by_category(tmp_path):
    counts = {"Materials": {"Soft materials": 30, "Biomaterials": 10}, "Catalysis": {"Heterogeneous catalysis": 5},
              "Ionic liquids": {None: 5}}
    check(figures.articles_by_category(counts, tmp_path), "Soft materials", "Ionic liquids", "60.0 % (30)", "n = 50")


def test_published_by_category_year(tmp_path):
    counts = {"Materials": {2015: 40, 2017: 80}, "Organic chemistry": {2016: 12}}
    check(figures.published_by_category_year(counts, tmp_path), "Materials", "Organic chemistry", "2016")


def test_published_vs_archive_decades_are_percentages(tmp_path):
    paths = figures.published_vs_archive_decades({"10–100 nm": 3, "100 nm–1 µm": 1}, {"10–100 nm": 1000, "1–10 µm": 3},
                                                 "S(T)EM", tmp_path, panel="C")
    assert paths[0].name == "fig3c_published_vs_archive.png"
    check(paths, "75", "25", "<1", "Published (n = 4)", "Archive (n = 1,003)", "S(T)EM")


@pytest.mark.parametrize("draw", [
    lambda out: figures.images_per_year({}, out),
    lambda out: figures.scale_bar_decades({}, out),
    lambda out: figures.articles_by_category({}, out),
    lambda out: figures.published_by_category_year({}, out),
    lambda out: figures.published_vs_archive_decades({}, {}, "TEM", out, panel="D"),
])
def test_empty_data_gives_a_no_data_figure(tmp_path, draw):
    check(draw(tmp_path), "No data")


def test_same_data_gives_the_same_svg(tmp_path):
    counts = {2011: {"SEM": 1}, 2012: {"SEM": 2}}
    first = figures.images_per_year(counts, tmp_path / "a")[1].read_bytes()
    assert figures.images_per_year(counts, tmp_path / "b")[1].read_bytes() == first


def _overlaps(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_articles_by_category_legend_covers_no_label():
    counts = {"Materials": {"Soft materials": 30, "Biomaterials": 28, "Carbon materials": 27},
              "Catalysis": {"Heterogeneous catalysis": 29}, "Ionic liquids": {None: 26}}
    figure = figures._draw_articles_by_category(counts)
    FigureCanvasAgg(figure)
    renderer = figure.canvas.get_renderer()
    [ax] = figure.axes
    legend = ax.get_legend().get_window_extent(renderer)
    labels = [text.get_window_extent(renderer) for text in ax.texts]  # "60.0 % (30)" beside each bar
    labels += [tick.get_window_extent(renderer) for tick in ax.get_yticklabels()]
    labels += [bar.get_window_extent(renderer) for bar in ax.patches]
    assert len(ax.texts) == 5 and not any(_overlaps(legend, label) for label in labels)


def test_years_without_publications_are_drawn_as_zero():
    figure = figures._lines_by_year({"Materials": {2015: 40, 2018: 80}, "Catalysis": {2016: 5}}, "B", "Images")
    lines = {line.get_label(): line for line in figure.axes[0].get_lines()}
    assert list(lines["Materials"].get_xdata()) == [2015, 2016, 2017, 2018]
    assert list(lines["Materials"].get_ydata()) == [40, 0, 0, 80]  # not a line from 40 straight to 80


def test_scale_bar_decades_say_how_many_images_have_no_fov(tmp_path):
    counts = {"SEM": {"1–10 µm": 40}}
    check(figures.scale_bar_decades(counts, tmp_path, without_fov=1234), "1,234 image(s) without a field of view")
    check(figures.scale_bar_decades({}, tmp_path / "empty", without_fov=7), "No data", "7 image(s) without")
