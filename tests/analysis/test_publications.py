"""Ledger, BibTeX, RIS and Scopus parsing; bad rows are reported one by one, the rest is kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from emcensus.analysis.publications import (
    DEFAULT_CATEGORIES,
    Article,
    CategoryVocabulary,
    PublishedCount,
    PublishedImage,
    merge_articles,
    normalise_doi,
    read_bibliography,
    read_bibtex,
    read_ledger,
    read_ris,
    read_scopus_csv,
    resolve_images,
)
from emcensus.errors import EmcensusError, LedgerError


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


LEDGER = """\
article,year,image,title,journal,category,subcategory,source,technique,count
https://doi.org/10.3390/Chemistry7050160,2025,/mnt/SU8230/g/p/img1.tif,Lost data,Chemistry,Materials,membranes & porous materials,,,
10.3390/chemistry7050160,2025,SU8230/g/p/img2.tif,,,,,,,
local-7,2019,,Pd on C,J. Catal.,catalysis,Heterogeneous catalysis,,TEM,12
,2019,x.tif,,,,,,,
local-8,19xx,y.tif,,,,,,,
local-9,2020,z.tif,,,Astrology,,,,
local-10,2020,,,,,,,TEM,zero
local-11,2020,a.tif,,,,,,TEM,3
local-12,2020,,,,,,,,
local-7,2018,b.tif,,,,,,,
10.3390/chemistry7050160,2025,SU8230/g/p/img2.tif,,,,,,,
ext-1,2021,,Other,Small,Organic chemistry,,third party,STEM,4
ext-1,2021,,,,,,,SEM,6
local-13,2020,,,,,,,EDX,2
"""


@pytest.fixture
def ledger(tmp_path):
    return read_ledger(write(tmp_path / "ledger.csv", LEDGER))


def test_good_rows_are_parsed(ledger):
    doi = "10.3390/chemistry7050160"
    assert ledger.images == [PublishedImage(doi, "/mnt/SU8230/g/p/img1.tif"), PublishedImage(doi, "SU8230/g/p/img2.tif")]
    assert ledger.counts == [PublishedCount("local-7", "TEM", 12), PublishedCount("ext-1", "STEM", 4),
                             PublishedCount("ext-1", "SEM", 6)]
    articles = {a.id: a for a in ledger.articles}
    assert set(articles) == {doi, "local-7", "ext-1"}
    assert articles[doi] == Article(doi, 2025, "Lost data", "Chemistry", "Materials", "Membranes and porous materials")
    assert articles["local-7"].category == "Catalysis" and articles["local-7"].subcategory == "Heterogeneous catalysis"
    assert articles["ext-1"].source == "third-party"


def test_each_bad_row_has_its_number_and_reason(ledger):
    problems = {p.row: p.reason for p in ledger.problems}
    assert sorted(problems) == [5, 6, 7, 8, 9, 10, 11, 12, 15]
    assert "no article" in problems[5]
    assert "year '19xx'" in problems[6]
    assert "unknown category 'Astrology'" in problems[7] and "Materials" in problems[7]
    assert "count 'zero'" in problems[8]
    assert "not both" in problems[9]
    assert "no image path and no count" in problems[10]
    assert "year 2018 contradicts 2019" in problems[11]
    assert "already listed" in problems[12]
    assert "technique 'EDX'" in problems[15]
    assert str(ledger.problems[0]) == f"row 5: {problems[5]}"


def test_raise_for_problems_lists_every_row(ledger):
    with pytest.raises(LedgerError) as caught:
        ledger.raise_for_problems()
    assert "9 row(s) refused" in str(caught.value) and "row 15:" in str(caught.value)
    assert isinstance(caught.value, EmcensusError)


def test_missing_columns_and_unreadable_files_raise(tmp_path):
    with pytest.raises(LedgerError, match="missing column"):
        read_ledger(write(tmp_path / "l.csv", "article,image\nx,y\n"))
    with pytest.raises(LedgerError, match="cannot read"):
        read_ledger(tmp_path / "absent.csv")


def test_count_only_ledger_needs_no_image_column(tmp_path):
    ledger = read_ledger(write(tmp_path / "l.csv", "article,year,technique,count\nA,2015,SEM,3\n"))
    assert ledger.counts == [PublishedCount("A", "SEM", 3)] and not ledger.problems
    with pytest.raises(LedgerError, match="image or count"):
        read_ledger(write(tmp_path / "m.csv", "article,year,technique\nA,2015,SEM\n"))


def test_semicolon_ledger_with_bom_and_any_header_case(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffArticle;Year;Image\nA-1;2017;dir/a.tif\n".encode("utf-8"))
    ledger = read_ledger(path)
    assert ledger.images == [PublishedImage("A-1", "dir/a.tif")] and not ledger.problems


def test_custom_and_disabled_vocabulary(tmp_path):
    path = write(tmp_path / "l.csv", "article,year,image,category,subcategory\na,2020,x.tif,Optics,Lenses\n")
    assert read_ledger(path).problems
    custom = CategoryVocabulary({"Optics": ("Lenses",)})
    assert read_ledger(path, custom).articles[0].subcategory == "Lenses"
    assert read_ledger(path, None).articles[0].category == "Optics"


def test_default_vocabulary_follows_the_paper():
    assert list(DEFAULT_CATEGORIES) == ["Materials", "Catalysis", "Organic chemistry", "Ionic liquids",
                                        "Microscopic control"]
    assert len(DEFAULT_CATEGORIES["Materials"]) == 10 and len(DEFAULT_CATEGORIES["Catalysis"]) == 2
    vocabulary = CategoryVocabulary()
    assert vocabulary.resolve("catalysis", "homogeneous catalysis & nanocatalysis") == (
        "Catalysis", "Homogeneous catalysis and nanocatalysis")
    with pytest.raises(ValueError, match="without a category"):
        vocabulary.resolve(None, "Soft materials")


def test_doi_normalisation():
    assert normalise_doi("doi:10.1021/ACSCATAL.1c00001") == "10.1021/acscatal.1c00001"
    assert normalise_doi("http://dx.doi.org/10.1002/adma.1") == "10.1002/adma.1"
    assert normalise_doi("local-1") is None


BIBTEX = """\
@article{ananikov2025,
  title = {Lost Data in {Electron} Microscopy},
  author = {Kashin, A. S. and Ananikov, V. P.},
  journal = {Chemistry},
  year = {2025},
  doi = {10.3390/chemistry7050160}
}

@article{broken, title = {never closed

@inproceedings{nodoi, title = {Talk \\emph{about} SEM}, booktitle = {EMC}, year = {2016}}

@article{badyear, title = {X}, year = {soon}}
"""


def test_bibtex(tmp_path):
    ledger = read_bibtex(write(tmp_path / "refs.bib", BIBTEX))
    articles = {a.id: a for a in ledger.articles}
    assert articles["10.3390/chemistry7050160"].title == "Lost Data in Electron Microscopy"
    assert articles["10.3390/chemistry7050160"].journal == "Chemistry"
    assert articles["10.3390/chemistry7050160"].year == 2025
    assert articles["nodoi"].title == "Talk about SEM" and articles["nodoi"].journal == "EMC"
    rows = {p.row: p.reason for p in ledger.problems}
    assert rows[9] == "not a valid BibTeX entry"
    assert "year 'soon'" in rows[13]


RIS = """\
TY  - JOUR
TI  - Lost data in electron microscopy
AU  - Kashin, A. S.
AU  - Ananikov, V. P.
T2  - Chemistry
PY  - 2025
DO  - https://doi.org/10.3390/chemistry7050160
ER  - 

TI  - a record without type
ER  - 

TY  - JOUR
TI  - Local only
ID  - L-5
PY  - 2019/05/01
ER  - 

TY  - JOUR
TI  - no id at all
ER  - 

TY  - JOUR
TI  - unterminated
"""


def test_ris(tmp_path):
    ledger = read_ris(write(tmp_path / "refs.ris", RIS))
    articles = {a.id: a for a in ledger.articles}
    assert set(articles) == {"10.3390/chemistry7050160", "L-5"}
    assert articles["10.3390/chemistry7050160"].journal == "Chemistry"
    assert articles["10.3390/chemistry7050160"].authors == "Kashin, A. S.; Ananikov, V. P."
    assert articles["L-5"].year == 2019
    rows = {p.row: p.reason for p in ledger.problems}
    assert "TY" in rows[10]
    assert "neither a DOI nor an id" in rows[19]
    assert "not closed" in rows[23]


SCOPUS = """\ufeff"Authors","Author(s) ID","Title","Year","Source title","Volume","DOI","Link","EID"
"Kashin A.S.; Ananikov V.P.","1;2","Lost data in electron microscopy","2025","Chemistry","7","10.3390/chemistry7050160","https://x","2-s2.0-1"
"Someone","3","No DOI here","2018","ACS Catalysis","8","","","2-s2.0-2"
"Nobody","4","Bad year","MMXX","Small","1","10.1/x","",""
"Nobody","4","No ids","2020","Small","1","","",""
"""


def test_scopus_csv(tmp_path):
    ledger = read_scopus_csv(write(tmp_path / "scopus.csv", SCOPUS), source="third-party")
    articles = {a.id: a for a in ledger.articles}
    assert set(articles) == {"10.3390/chemistry7050160", "2-s2.0-2"}
    assert articles["2-s2.0-2"].journal == "ACS Catalysis" and articles["2-s2.0-2"].year == 2018
    assert all(a.source == "third-party" for a in articles.values())
    assert [p.row for p in ledger.problems] == [4, 5]


def test_read_bibliography_dispatches_by_extension(tmp_path):
    assert read_bibliography(write(tmp_path / "a.ris", RIS)).articles
    with pytest.raises(LedgerError, match="unknown bibliography format"):
        read_bibliography(write(tmp_path / "a.txt", ""))


def test_merge_fills_blanks_and_keeps_ledger_values():
    ledger = [Article("10.1/a", year=2020, title="Ledger title")]
    bib = [Article("10.1/a", year=2019, title="Bib title", journal="J"), Article("10.1/b", title="Only bib")]
    merged = merge_articles(ledger, bib)
    assert merged[0] == Article("10.1/a", year=2020, title="Ledger title", journal="J")
    assert merged[1].id == "10.1/b"
    assert ledger[0].journal is None  # inputs are not modified


def test_resolve_images_counts_per_article_and_technique():
    images = [PublishedImage("a", "x.tif"), PublishedImage("a", "y.tif"), PublishedImage("a", "ext.tif", "TEM"),
              PublishedImage("b", "lost.tif")]
    catalog = {"x.tif": "SEM", "y.tif": "STEM"}
    assert sorted(resolve_images(images, catalog.get), key=str) == sorted([
        PublishedCount("a", "SEM", 1), PublishedCount("a", "STEM", 1), PublishedCount("a", "TEM", 1),
        PublishedCount("b", None, 1)], key=str)
