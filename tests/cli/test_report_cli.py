"""`emcensus report` and the demo's report, end to end."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from emcensus.cli.main import main

LEDGER = """article,year,image,title,journal,category,subcategory,source,technique,count
10.1000/a,2020,groupA/p1/2016-06-23/img001.tif,Article A,J,Materials,Soft materials,,,
10.1000/a,2020,groupB/p2/2019-01-02/img003.tif,,,,,,,
local-1,2019,,Counted,J,Catalysis,,,TEM,1
"""


def test_report_writes_html_figures_and_data(census, tmp_path: Path) -> None:
    (tmp_path / "ledger.csv").write_text(LEDGER, encoding="utf-8")
    census("pubs", "import", str(tmp_path / "ledger.csv"))
    out = tmp_path / "report"
    assert f"wrote {out / 'index.html'}" in census("report", str(out), "--facility", "Tiny lab").stdout
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "Tiny lab" in html and "Table 1" in html and "<svg" in html
    assert "40.00" in html  # SEM: img001 and img003 of 5 acquisitions published
    assert {p.name.split("_")[0] for p in (out / "figures").glob("*.png")} == {"fig2a", "fig2b", "fig3a", "fig3b", "fig3c", "fig3d"}
    table1 = json.loads((out / "data" / "table1.json").read_text())
    assert table1["columns"][0]["published_images"] == 2
    lost = json.loads((out / "data" / "lost_by_scalebar_decade.json").read_text())
    assert [row["scalebar_decade"] for row in lost][:3] == ["10–100 nm", "100 nm–1 µm", "1–10 µm"]
    assert (out / "data" / "lost_by_project.csv").exists() and (out / "data" / "storage_by_year.csv").exists()
    audit = {row["item"]: row["value"] for row in json.loads((out / "data" / "audit.json").read_text())}
    assert audit["acquisitions"] == 5 and audit["fov-disagreement"] == 0
    assert not (out / "data" / "storage_costs.csv").exists() and "report --config facility.toml" in html
    (tmp_path / "costs.toml").write_text("[costs]\ninstrument_hour = 100\nminutes_per_image = 6\n")
    census("report", str(out), "--config", str(tmp_path / "costs.toml"))
    costs = {(r["item"], r["instrument"]): r for r in json.loads((out / "data" / "storage_costs.json").read_text())}
    # 3 of SU8230's 5 acquisitions are lost: 3 × 6 min at 100/h; keeping them has no price given
    assert costs["cost of acquiring lost images (by images)", "TOTAL"]["value"] == 30.0
    assert costs["cost of keeping lost data for one year", "TOTAL"]["value"] is None
    assert "Cost of the lost data" in (out / "index.html").read_text(encoding="utf-8")


def test_demo_ends_with_table1_and_the_report(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["demo", "--dir", str(tmp_path / "demo"), "--images", "400"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Table 1. Electron microscopy images acquired, published and lost" in result.output
    index = tmp_path / "demo" / "report" / "index.html"
    assert f"Report: {index}" in result.output and index.exists()
    assert (tmp_path / "demo" / "publications.csv").exists()
    assert len(list((tmp_path / "demo" / "report" / "figures").glob("fig3*.png"))) >= 3


def test_a_report_folder_with_links_into_the_archive_is_refused(census, tiny_archive: Path, tmp_path: Path) -> None:
    """A report is written again into its folder: a symlink left there (data/ or index.html) into the
    archive would be followed by the write. Every entry is guarded, the archive keeps every byte."""
    import os

    archive_file = next(path for path in sorted(tiny_archive.rglob("*.txt")))
    folder = archive_file.parent
    before = {path: path.read_bytes() for path in folder.iterdir()}
    for link, target in (("data", folder), ("index.html", archive_file)):
        out = tmp_path / f"report-{link}"
        out.mkdir()
        os.symlink(target, out / link)
        result = census("report", str(out), ok=False)
        assert result.exit_code != 0 and "inside the archive" in result.output, result.output
    assert {path: path.read_bytes() for path in folder.iterdir()} == before
