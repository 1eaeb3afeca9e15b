"""`pubs import/add/link/list`, `table1`, `lost` and the new count fields, on tiny_archive.

tiny_archive holds 5 acquisitions: img001 (SE, 2016, also as .jpg), img002 (LA-BSE, 2016), img003
(TE → STEM, 2019), img004 (DF-STEM, 2019) and nosidecar (SEM by instrument, dated by mtime).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

LEDGER = """article,year,image,title,journal,category,subcategory,source,technique,count
10.1000/a,2020,groupA/p1/2016-06-23/img001.tif,Article A,J,Materials,,,,
10.1000/a,2020,groupA/p1/2016-06-23/img001.jpg,,,,,,,
10.1000/a,2020,groupB/p2/2019-01-02/img003.tif,,,,,,,
10.1000/bad,2020,groupB/p2/2019-01-02/img004.tif,Bad,J,Cooking,,,,
local-1,2019,,Counted,J,Catalysis,,,TEM,1
ext-1,2018,,Elsewhere,J,,,third-party,SEM,4
"""


@pytest.fixture
def published(census, tmp_path: Path):
    ledger = tmp_path / "ledger.csv"
    ledger.write_text(LEDGER, encoding="utf-8")
    result = census("pubs", "import", str(ledger))
    assert f"{ledger}: row 5: unknown category 'Cooking'" in result.stderr
    assert "imported 3 article(s), 3 new image link(s), 2 count-level row(s)" in result.stdout
    assert "1 row(s) refused" in result.stdout
    return census


def _json(result) -> list | dict:
    return json.loads(result.stdout)


def test_pubs_list(published) -> None:
    rows = {row["id"]: row for row in _json(published("pubs", "list", "--format", "json"))}
    assert set(rows) == {"10.1000/a", "local-1", "ext-1"}
    assert (rows["10.1000/a"]["linked_images"], rows["local-1"]["counted_images"]) == (3, 1)
    assert rows["ext-1"]["source"] == "third-party"
    assert "10.1000/a,2020,facility,Materials,,J,Article A,3,0" in published("pubs", "list", "--format", "csv").stdout
    assert "articles" in published("pubs", "list").stdout


def test_table1_against_numbers_by_hand(published) -> None:
    # Facility SEM: 5 acquired (3 SEM + 2 STEM folded in), article A shows img001 (tif + jpg: one
    # frame) and img003 (STEM) → 2 published, 40 %. TEM: local-1's one counted image. TOTAL: 3 of 5.
    table = _json(published("table1", "--format", "json"))
    columns = {(c["block"], c["column"]): c for c in table["columns"]}
    assert [columns["facility", "SEM"][k] for k in ("acquired_images", "articles", "published_images")] == [5, 1, 2]
    assert columns["facility", "SEM"]["lost_pct"] == pytest.approx(60.0)
    assert [columns["facility", "TEM"][k] for k in ("acquired_images", "articles", "published_images")] == [0, 1, 1]
    assert [columns["facility", "TOTAL"][k] for k in ("acquired_images", "articles", "published_images")] == [5, 2, 3]
    assert columns["facility", "TOTAL"]["lost_pct"] == pytest.approx(40.0)
    assert [columns["third-party", "SEM"][k] for k in ("acquired_images", "articles", "published_images")] == [None, 1, 4]
    text = published("table1").stdout
    assert "Lost data, %" in text and "60.00" in text and "40.00" in text
    rows = list(csv.DictReader(io.StringIO(published("table1", "--format", "csv").stdout)))
    assert rows[0]["column"] == "SEM" and rows[0]["acquired_images"] == "5"
    until = {(c["block"], c["column"]): c for c in _json(published("table1", "--until", "2016", "--format", "json"))["columns"]}
    assert until["facility", "SEM"]["acquired_images"] == 2  # img001, img002
    restated = _json(published("table1", "--outlier-threshold", "1", "--format", "json"))["restatement"]
    assert (restated["removed_articles"], restated["articles"]) == (1, 1)


def test_lost_by_field(published) -> None:
    rows = {r["technique"]: r for r in _json(published("lost", "--by", "technique", "--format", "json"))}
    assert (rows["SEM"]["acquired"], rows["SEM"]["published"]) == (3, 1)
    assert (rows["STEM"]["acquired"], rows["STEM"]["published"]) == (2, 1)
    assert (rows["TEM"]["acquired"], rows["TEM"]["published"]) == (0, 1)  # count level, technique only
    assert rows["TOTAL"]["lost_pct"] == pytest.approx(40.0)
    decades = [r["scalebar_decade"] for r in _json(published("lost", "--by", "scalebar_decade", "--format", "json"))]
    assert decades == ["10–100 nm", "100 nm–1 µm", "1–10 µm", None, "TOTAL"]  # unknown is null in JSON
    groups = {r["group"]: r for r in _json(published("lost", "--by", "group", "--format", "json"))}
    assert (groups["groupA"]["published"], groups["groupB"]["published"]) == (1, 1)
    assert "lost data by project" in published("lost", "--by", "project").stdout


def test_pubs_add_update_link_and_unlink(census) -> None:
    assert "added article 10.1000/x" in census("pubs", "add", "https://doi.org/10.1000/X", "--year", "2022",
                                               "--category", "catalysis", "--source", "third-party").stdout
    assert "updated" in census("pubs", "add", "10.1000/x", "--title", "Now with a title").stdout
    [article] = _json(census("pubs", "list", "--format", "json"))
    assert (article["title"], article["category"], article["source"]) == ("Now with a title", "Catalysis", "third-party")
    assert "added 2 link(s)" in census("pubs", "link", "10.1000/x", "groupA/p1/2016-06-23/img002.tif",
                                       "SU8230/groupB/p2/2019-01-02/img004.tif").stdout
    assert "removed 1 link(s)" in census("pubs", "link", "--unlink", "10.1000/x", "groupA/p1/2016-06-23/img002.tif").stdout
    bad = census("pubs", "add", "10.1000/y", "--category", "Cooking", ok=False)
    assert bad.exit_code == 1 and "unknown category 'Cooking'" in bad.output
    missing = census("pubs", "link", "10.1000/x", "nowhere.tif", ok=False)
    assert missing.exit_code == 1 and "not a catalogued image" in missing.output


def test_pubs_import_bibliographies(census, tmp_path: Path) -> None:
    (tmp_path / "refs.bib").write_text("@article{k1, doi = {10.1000/b1}, title = {Bib}, journal = {J}, year = {2021}}\n")
    (tmp_path / "refs.ris").write_text("TY  - JOUR\nDO  - 10.1000/r1\nTI  - Ris\nT2  - K\nPY  - 2020\nER  - \n")
    (tmp_path / "scopus.csv").write_text('Authors,Title,Year,Source title,DOI,EID\n"Doe J.",Scopus,2019,L,10.1000/s1,2-s2.0-1\n')
    for name in ("refs.bib", "refs.ris", "scopus.csv"):
        assert "imported 1 article(s)" in census("pubs", "import", str(tmp_path / name), "--source", "third-party").stdout
    rows = {r["id"]: r for r in _json(census("pubs", "list", "--format", "json"))}
    assert set(rows) == {"10.1000/b1", "10.1000/r1", "10.1000/s1"}
    assert rows["10.1000/s1"]["journal"] == "L" and all(r["source"] == "third-party" for r in rows.values())


def test_count_and_filters_on_derived_fields(census) -> None:
    rows = _json(census("count", "--by", "scalebar_decade", "--format", "json"))
    assert [r["scalebar_decade"] for r in rows] == ["10–100 nm", "100 nm–1 µm", "1–10 µm", None]
    rows = _json(census("count", "--by", "group,project", "--format", "json"))
    assert rows == [{"group": "groupA", "project": "p1", "count": 2}, {"group": "groupB", "project": "p2", "count": 3}]
    assert _json(census("count", "--fov", "1um-10um", "--format", "json")) == [{"count": 2}]  # 2.54 and 1.27 µm
    assert _json(census("count", "--scalebar-decade", "10-100nm", "--project", "p2", "--format", "json")) == [{"count": 1}]
    assert _json(census("count", "--group", "groupA", "--format", "json")) == [{"count": 2}]
    bad = census("count", "--fov", "wide", ok=False)
    assert bad.exit_code == 1 and "fov: 'wide'" in bad.output
    assert census("audit", "--list", "fov-disagreement", "--format", "json").stdout.strip() == "[]"


def _table1(cli, *args: str) -> dict[tuple[str, str], dict]:
    return {(c["block"], c["column"]): c for c in _json(cli("table1", *args, "--format", "json"))["columns"]}


def test_table1_window_holds_for_both_sides(published) -> None:
    # Until 2016: img001 (2016) is published; img003 (2019) and local-1 (article 2019) are outside.
    until = _table1(published, "--until", "2016")
    assert [until["facility", "TOTAL"][k] for k in ("acquired_images", "articles", "published_images")] == [2, 1, 1]
    assert until["facility", "TOTAL"]["published_pct"] == pytest.approx(50.0)
    assert until["facility", "TEM"]["published_images"] == 0
    early = _table1(published, "--until", "2000")
    assert [early["facility", "TOTAL"][k] for k in ("acquired_images", "published_images")] == [0, 0]
    # `lost --by technique` answers the same question with the same numbers.
    lost = {r["technique"]: r for r in _json(published("lost", "--by", "technique", "--until", "2016", "--format", "json"))}
    assert (lost["TOTAL"]["acquired"], lost["TOTAL"]["published"]) == (2, 1)
    assert lost["TOTAL"]["published_pct"] == until["facility", "TOTAL"]["published_pct"]
    lost_all = {r["technique"]: r for r in _json(published("lost", "--by", "technique", "--format", "json"))}
    table = _table1(published)
    assert lost_all["TOTAL"]["published"] == table["facility", "TOTAL"]["published_images"] == 3


def test_no_impossible_percentage(census, tmp_path: Path) -> None:
    ledger = tmp_path / "counted.csv"
    ledger.write_text("article,year,technique,count\nlocal-9,2019,SEM,20\n", encoding="utf-8")
    census("pubs", "import", str(ledger))
    total = _table1(census)["facility", "TOTAL"]
    assert (total["acquired_images"], total["published_images"]) == (5, 20)
    assert total["published_pct"] is None and total["lost_pct"] is None
    text = census("table1").stdout
    lost_row = next(line for line in text.splitlines() if line.startswith("Lost data, %"))
    assert lost_row.split()[3:] == ["–", "–", "–"]  # SEM, TEM, TOTAL: no percentage, not -300
    assert "400" not in text and "-300" not in text
    assert "SEM (core facility): 20 published, 5 acquired" in text
    assert "No percentage where more images were published than catalogued in the window" in text
    lost = census("lost", "--by", "technique")
    assert "technique SEM: 20 published, 3 acquired" in lost.stdout
    assert "more images were published than catalogued in the window" in lost.stdout
    rows = {r["technique"]: r for r in _json(census("lost", "--by", "technique", "--format", "json"))}
    assert rows["TOTAL"]["published_pct"] is None and rows["TOTAL"]["lost"] is None


def test_refused_rows_create_no_article(census, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.csv"
    ledger.write_text("article,year,image\n10.1000/ghost,2020,groupB/p2/2019-01-02/ghost.tif\n"
                      "10.1000/ok,2020,groupA/p1/2016-06-23/img001.tif\n10.1000/bad-year,1850,groupA/p1/2016-06-23/img002.tif\n")
    result = census("pubs", "import", str(ledger))
    assert "row 2: image groupB/p2/2019-01-02/ghost.tif is not in the catalog" in result.stderr
    assert "row 4: year 1850 is not a year between 1900 and 2100" in result.stderr
    assert "imported 1 article(s)" in result.stdout and "2 row(s) refused" in result.stdout
    assert [row["id"] for row in _json(census("pubs", "list", "--format", "json"))] == ["10.1000/ok"]


def test_a_row_with_extra_fields_is_refused(census, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.csv"
    ledger.write_text("article,year,image,title\n"
                      "10.1000/a,2020,groupA/p1/2016-06-23/img001.tif,Gold, silver and copper\n"
                      "10.1000/b,2020,groupA/p1/2016-06-23/img002.tif,\"Gold, silver\"\n")
    result = census("pubs", "import", str(ledger))
    assert "row 2: 5 fields where the header names 4 (an unquoted comma?); extra: ' silver and copper'" in result.stderr
    assert "imported 1 article(s), 1 new image link(s)" in result.stdout
    assert [row["title"] for row in _json(census("pubs", "list", "--format", "json"))] == ["Gold, silver"]


def test_an_unterminated_quote_refuses_the_file(census, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.csv"
    ledger.write_text("article,year,image,title\n10.1000/a,2020,groupA/p1/2016-06-23/img001.tif,ok\n"
                      "10.1000/b,2020,groupA/p1/2016-06-23/img002.tif,\"Never closed\n"
                      "10.1000/c,2020,groupB/p2/2019-01-02/img003.tif,swallowed\n")
    result = census("pubs", "import", str(ledger), ok=False)
    assert result.exit_code == 1 and "row 3 is not valid CSV" in result.output and "never closed" in result.output
    assert "not in the catalog" not in result.output
    assert _json(census("pubs", "list", "--format", "json")) == []


def test_excel_encodings(census, tmp_path: Path) -> None:
    cp1252 = tmp_path / "excel.csv"
    cp1252.write_bytes("article;year;image;title\n10.1000/a;2020;groupA/p1/2016-06-23/img001.tif;Caf\u00e9 \u2013 Na\u00efve\n"
                       .encode("cp1252"))
    assert "imported 1 article(s)" in census("pubs", "import", str(cp1252)).stdout
    unicode_text = tmp_path / "unicode.csv"
    unicode_text.write_bytes("article\tyear\timage\ttitle\n10.1000/b\t2021\tgroupA/p1/2016-06-23/img002.tif\tR\u00e9sum\u00e9\n"
                             .encode("utf-16"))
    assert "imported 1 article(s)" in census("pubs", "import", str(unicode_text)).stdout
    titles = {row["id"]: row["title"] for row in _json(census("pubs", "list", "--format", "json"))}
    assert titles == {"10.1000/a": "Caf\u00e9 \u2013 Na\u00efve", "10.1000/b": "R\u00e9sum\u00e9"}
    neither = tmp_path / "neither.csv"
    neither.write_bytes(b"article,year,image\nx\x81\x8d,2020,a.tif\n")
    result = census("pubs", "import", str(neither), ok=False)
    assert result.exit_code == 1 and "neither UTF-8 nor Windows-1252" in result.output and "CSV UTF-8" in result.output


def test_pubs_add_validates_like_import(census) -> None:
    for args, message in ((("",), "an article needs an id"), (("  ",), "an article needs an id"),
                          (("local-1", "--year", "1850"), "year 1850 is not a year between 1900 and 2100"),
                          (("local-1", "--year", "3000"), "year 3000 is not a year between 1900 and 2100")):
        result = census("pubs", "add", *args, ok=False)
        assert result.exit_code == 1 and message in result.output, result.output
    assert _json(census("pubs", "list", "--format", "json")) == []
    assert "added article local-1" in census("pubs", "add", "local-1", "--year", "1900").stdout


def test_report_explains_its_window_and_totals(published, tmp_path: Path) -> None:
    # Facility: article A links img001 (2016, FOV known) and img003 (2019); local-1 counts 1 TEM image.
    published("report", str(tmp_path / "until"), "--until", "2019")
    html = (tmp_path / "until" / "index.html").read_text(encoding="utf-8")
    assert "Window: images acquired up to 2019" in html and "articles published up to 2019" in html
    out = tmp_path / "report"
    published("report", str(out))
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "Window: images acquired in any year" in html
    assert "Table 1 counts 3 published images: 2 linked archive images acquired in the window, and 1 from" in html
    assert "Fig. 3C and 3D (n in their legends) show the 2 linked archive images with a known field of view (linked images without one: 0)" in html
    assert "1 image(s) have no field of view" in html  # nosidecar.tif: not in Fig. 2B
    assert "1 image(s) without a field of view not shown" in (out / "figures" / "fig2b_scale_bar_decades.svg").read_text()
    lost = (out / "data" / "lost_by_scalebar_decade.csv").read_text()
    assert "\n,1,0,1," in lost  # the image of unknown decade: empty key in CSV
    assert "<td>unknown</td>" in html and "<td>–</td>" not in html  # one word for unknown values


def test_an_empty_pubs_list_says_so(census) -> None:
    assert census("pubs", "list").stdout.strip() == "articles: no rows"
    assert census("pubs", "list", "--format", "csv").stdout == (
        "id,year,source,category,subcategory,journal,title,linked_images,counted_images,category_source,"
        "category_confidence,needs_review\n")
    census("pubs", "add", "local-1", "--year", "2020")
    assert list(_json(census("pubs", "list", "--format", "json"))[0]) == list(
        census("pubs", "list", "--format", "csv").stdout.splitlines()[0].split(","))


def test_table1_refuses_a_threshold_below_one(census, tmp_path: Path) -> None:
    for command in (("table1",), ("report", str(tmp_path / "r"))):
        result = census(*command, "--outlier-threshold", "-5", ok=False)
        assert result.exit_code == 2 and "-5 is not in the range x>=1" in result.output
    assert not (tmp_path / "r").exists()


def test_table1_json_is_rounded(census, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.csv"
    ledger.write_text("article,year,technique,count\nlocal-1,2019,SEM,1\nlocal-2,2019,SEM,2\nlocal-3,2019,SEM,1\n")
    census("pubs", "import", str(ledger))
    sem = _table1(census)[("facility", "SEM")]
    assert (sem["images_per_article"], sem["published_pct"], sem["lost_pct"]) == (1.33333, 80.0, 20.0)


@pytest.mark.parametrize("name", ["ledger.csv", "refs.bib"])
def test_a_fifo_given_to_pubs_import_is_one_line_at_once(census, tmp_path: Path, name: str) -> None:
    """A named pipe (or device) given as the ledger or bibliography is refused under the file-access
    policy, not opened and waited on: a hung import would hold the catalog's writer lock."""
    import os
    import threading

    fifo = tmp_path / name
    os.mkfifo(fifo)
    results = []
    worker = threading.Thread(target=lambda: results.append(census("pubs", "import", str(fifo), ok=False)),
                              daemon=True)
    worker.start()
    worker.join(timeout=5)
    if worker.is_alive():  # release the blocked open() so the thread ends, then fail
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(timeout=5)
        pytest.fail("pubs import waited on a FIFO")
    result = results[0]
    assert result.exit_code != 0
    assert "not a regular file: a FIFO" in result.output and len(result.output.strip().splitlines()) == 1
