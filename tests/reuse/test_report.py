"""`emcensus reuse report OUT.html --group G`: what a group took, published and left unused."""

from __future__ import annotations

import re
from pathlib import Path

from emcensus.catalog import Catalog
from reuse.support_reuse import ARTICLE, Census


def test_group_report_counts_and_best_images(census: Census, tmp_path: Path):
    with Catalog(census.catalog, readonly=True) as catalog:
        published = [catalog.images(path=path)[0] for path in census.published_paths]
        group = catalog.db.execute("""SELECT i.group_name FROM quality q JOIN images i ON i.id = q.image_id
                                      WHERE q.blank = 0 GROUP BY 1 ORDER BY count(*) DESC""").fetchone()[0]
        taken = catalog.total(group=group)
        linked = sum(row["group_name"] == group for row in published)
        measured = catalog.best_unpublished(group, 50)
    out = tmp_path / "group.html"
    result = census.invoke("reuse", "report", str(out), "--group", group)
    assert str(out) in result.output
    html = out.read_text()
    totals = re.sub(r"\s+", " ", re.search(r'<p id="totals">(.*?)</p>', html, re.S).group(1))
    assert f"{taken:,} images taken" in totals and f"{linked:,} of them published" in totals
    assert f"{100 * (taken - linked) / taken:.1f} %" in totals
    assert measured  # the fixture measured images of this group
    figures = re.findall(r"<figure>", html)
    assert len(figures) == len(measured) and all(row["quality_flag"] != "blank" for row in measured)
    assert html.count("data:image/png;base64,") == len(measured)
    percentiles = [row["sharpness_pct"] for row in measured]
    assert percentiles == sorted(percentiles, reverse=True)
    assert 'id="unmeasured"' in html  # most of the group's images have no quality metrics yet
    assert "http://" not in html and "https://" not in html  # self-contained


def test_group_report_lists_the_articles_of_the_group(census: Census, tmp_path: Path):
    with Catalog(census.catalog, readonly=True) as catalog:
        published = [catalog.images(path=path)[0] for path in census.published_paths]
    group = published[0]["group_name"]
    out = tmp_path / "published.html"
    census.invoke("reuse", "report", str(out), "--group", group)
    table = re.search(r'<table id="articles">(.*?)</table>', out.read_text(), re.S).group(1)
    shown = sum(row["group_name"] == group for row in published)
    assert re.search(rf"<td>{re.escape(ARTICLE)}</td><td>2020</td><td>A test article</td><td></td><td>{shown}</td>", table)


def test_group_report_refuses_unknown_groups_and_archive_paths(census: Census, tmp_path: Path):
    result = census.invoke("reuse", "report", str(tmp_path / "x.html"), "--group", "Nobody", ok=False)
    assert result.exit_code == 1 and "unknown group 'Nobody'" in result.output
    inside = census.root / "SU8230" / "report.html"
    result = census.invoke("reuse", "report", str(inside), "--group", "Catalysis", ok=False)
    assert "never writes into an archive" in result.output and not inside.exists()
    result = census.invoke("reuse", "report", str(tmp_path / "x.pdf"), "--group", "Catalysis", ok=False)
    assert "unknown file type" in result.output


def test_the_reuse_commands_load_when_the_cli_runs_as_a_module():
    """`python -m emcensus.cli.main` (how `serve` starts its server) imports the command modules
    while `main` is `__main__`: none of them may import `emcensus.cli.main` back."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "emcensus.cli.main", "reuse", "export", "--help"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "--license" in done.stdout and "--blank" in done.stdout  # the shared filters too


def test_a_thumbnail_that_cannot_be_read_is_a_line_not_a_failure(tmp_path: Path):
    import os

    import numpy as np
    import tifffile

    from emcensus.reuse.report import thumbnail_data

    good = tmp_path / "good.tif"
    tifffile.imwrite(good, (np.arange(64 * 48, dtype=np.uint16) * 13).reshape(48, 64))
    damaged = tmp_path / "damaged.tif"
    damaged.write_bytes(good.read_bytes()[:200])
    fifo = tmp_path / "blocked.dm3"
    os.mkfifo(fifo)
    data, error = thumbnail_data(str(good))
    assert data.startswith("data:image/png;base64,") and error is None
    for path in (damaged, fifo):  # the FIFO would block a reader that opened it
        data, error = thumbnail_data(str(path))
        assert data is None and error, path
