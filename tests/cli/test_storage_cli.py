"""`emcensus storage` on tiny_archive (see test_pubs_cli): storage, growth, lost vs published bytes, costs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emcensus.catalog import Catalog

LEDGER = """article,year,image,title,journal,category,subcategory,source,technique,count
10.1000/a,2020,groupA/p1/2016-06-23/img001.tif,Article A,J,Materials,,,,
10.1000/a,2020,groupB/p2/2019-01-02/img003.tif,,,,,,,
local-1,2019,,Counted,J,Catalysis,,,TEM,2
"""


@pytest.fixture
def published(census, tmp_path: Path):
    ledger = tmp_path / "ledger.csv"
    ledger.write_text(LEDGER, encoding="utf-8")
    census("pubs", "import", str(ledger))
    return census


def _sizes(tmp_path: Path) -> dict[str, int]:
    with Catalog(tmp_path / "census.sqlite", readonly=True) as catalog:
        return {Path(row["path"]).name: row["size_bytes"] for row in catalog.images(kind="all")}


def test_storage_sections_in_json(published, tmp_path: Path) -> None:
    sizes = _sizes(tmp_path)
    data = json.loads(published("storage", "--format", "json").stdout)
    assert sum(row["bytes"] for row in data["breakdown"]) == sum(sizes.values())
    assert set(data["breakdown"][0]) >= {"year", "instrument", "technique", "group", "bytes", "gb"}
    # 2016 and 2019 (2017 and 2018 wrote nothing): a line, the exponential cannot take a 0
    growth = data["growth"]
    assert growth["model"] == "linear" and [r["year"] for r in growth["rows"] if r["kind"] == "measured"] == [
        2016, 2017, 2018, 2019]
    assert any("rules out the exponential" in line for line in growth["assumptions"])
    # nosidecar is dated by its mtime (this year): stored, not fitted
    assert any("or later" in line for line in growth["assumptions"])
    assert len([r for r in growth["rows"] if r["kind"].startswith("forecast")]) == 3
    total = data["lost"][-1]
    # article A uses img001 (its .tif and its .jpg export) and img003
    assert total["published_bytes"] == sizes["img001.tif"] + sizes["img001.jpg"] + sizes["img003.tif"]
    assert total["published_bytes"] + total["lost_bytes"] == sum(
        size for name, size in sizes.items() if not name.endswith(".txt"))
    assert any("2 published image(s) are count-level" in note for note in data["notes"])
    assert data["costs"] == []


def test_storage_costs_from_the_facility_file(published, tmp_path: Path) -> None:
    config = tmp_path / "facility.toml"  # the file the census was scanned with, [costs] added
    config.write_text(config.read_text() + '\n[costs]\ncurrency = "EUR"\ninstrument_hour = 120\nminutes_per_image = 5\n'
                      "tb_year = 40\nsession_gap_minutes = 30\n")
    published("scan", "--config", str(config), "--workers", "0", "--quiet")  # scan reads the same file
    rows = json.loads(published("storage", "--config", str(config), "--section", "costs", "--format", "json").stdout)
    line = {(r["item"], r["instrument"]): r for r in rows}
    # 5 acquisitions on SU8230, 2 published (img001, img003): 3 lost × 5 min × 120 EUR/h
    assert line["cost of acquiring lost images (by images)", "SU8230"]["value"] == pytest.approx(3 * 5 / 60 * 120)
    assert "3 lost image(s)" in line["instrument time for lost images (by images)", "SU8230"]["assumptions"]
    keep = line["cost of keeping lost data for one year", "TOTAL"]
    assert keep["value"] > 0 and "EUR/TB-year" in keep["assumptions"]
    # nosidecar is dated by its file's mtime only: no session time, said (a lower bound)
    sessions = line["instrument time for lost images (by sessions)", "SU8230"]
    assert "3 lost image(s); sessions" in sessions["assumptions"]
    assert "1 of them with no acquisition time in their metadata" in sessions["assumptions"]
    # img002 and img004 each share a session (same second) with a published image: half of 0 min + the
    # last image's 5 min each; nosidecar has no time in its metadata
    assert sessions["value"] == pytest.approx(5 / 60)
    text = published("storage", "--config", str(config)).stdout
    assert "cost of lost data" in text and "prediction interval" in text


def test_storage_csv_needs_a_section_and_bad_costs_are_refused(published, tmp_path: Path) -> None:
    result = published("storage", "--format", "csv", ok=False)
    assert result.exit_code == 1 and "give --section" in result.output
    csv_text = published("storage", "--section", "lost", "--format", "csv").stdout
    assert csv_text.splitlines()[0] == "technique,published_bytes,published_gb,lost_bytes,lost_gb,lost_pct"
    config = tmp_path / "bad.toml"
    config.write_text("[costs]\ninstrument_hour = -3\n")
    result = published("storage", "--config", str(config), ok=False)
    assert result.exit_code == 1 and "instrument_hour must be a positive number" in result.output
    config.write_text("[costs]\ninstrument_houur = 3\n")
    assert "unknown key(s) instrument_houur" in published("storage", "--config", str(config), ok=False).output
    assert "cannot group by" in published("storage", "--by", "colour", ok=False).output
