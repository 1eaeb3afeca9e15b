"""The long publication of the figure corpus: a 10-page article with its SI, the size issue 8 times the
matcher at, added without changing the archive or the other publications of a seed."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pypdfium2 as pdfium

from emcensus.figures.synth import LONG_PANELS, TRUTH_NAME, CorpusTruth, make_figure_corpus


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_long_publication_added_without_changing_the_seeds_corpus(tmp_path: Path) -> None:
    made = [make_figure_corpus(tmp_path / f"out{k}", archive=tmp_path / f"arch{k}", articles=2, images=12, seed=7,
                               size=(160, 120), panel_px=(100, 120), pictures=True, long_articles=k)
            for k in (0, 1)]
    plain, with_long = made
    assert _files(tmp_path / "arch0") == _files(tmp_path / "arch1")  # the same archive, byte for byte
    papers = [_files(tmp_path / f"out{k}" / "papers") for k in (0, 1)]
    assert papers[0] == {name: data for name, data in papers[1].items() if name in papers[0]}
    assert with_long.articles[:-1] == plain.articles and not any(a.long for a in plain.articles)

    long = with_long.articles[-1]
    assert long.long and long.article == f"10.5555/emc.{len(plain.articles) + 1}"
    assert len(long.documents) == 2 and re.search(r"(_SI|-SI|_supp1)\.pdf$", long.documents[1])
    panels = [p for f in long.figures for p in f.panels]
    assert LONG_PANELS[0] <= len(panels) <= LONG_PANELS[1]
    kinds = Counter(p.kind for p in panels)
    # many panels come from no archive: distractor micrographs, plots and schemes
    assert kinds["distractor"] + kinds["plot"] + kinds["scheme"] >= len(panels) // 5
    assert kinds["archive"] + kinds["montage"] >= len(panels) // 2
    assert sum(f.vector for f in long.figures) == 1
    pages = 0
    for name in long.documents:
        figures = [f for f in long.figures if f.document == name]
        with pdfium.PdfDocument(Path(with_long.papers) / name) as pdf:
            assert len(pdf) == 1 + len(figures)
            pages += len(pdf)
    assert 8 <= pages <= 14  # about ten pages in all, the SI's included
    assert CorpusTruth.load(tmp_path / "out1" / TRUTH_NAME).articles[-1].long  # the flag survives the truth file
