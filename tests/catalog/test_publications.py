"""The publication ledger in the catalog: import with refused rows, all-or-nothing writes, links,
published counts per technique and lost data per key."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from emcensus.analysis.publications import (
    Article,
    Ledger,
    PublishedCount,
    PublishedImage,
    read_bibtex,
    read_ledger,
)
from emcensus.catalog import Catalog
from emcensus.errors import CatalogError, NotFoundError
from emcensus.scan import scan
from support import demo_census, instrument_roots

LEDGER = """article,year,image,title,journal,category,subcategory,source,technique,count
10.1000/a,2020,groupA/p1/2016-06-23/img001.tif,Article A,J,Materials,Soft materials,,,
doi:10.1000/A,2020,SU8230/groupA/p1/2016-06-23/img001.jpg,,,,,,,
10.1000/a,2020,groupB/p2/2019-01-02/img003.tif,,,,,,,
10.1000/b,2021,groupB/p2/2019-01-02/img004.tif,Article B,J,Cooking,,,,
10.1000/c,2021,groupB/p2/2019-01-02/ghost.tif,Article C,J,Catalysis,,,,
local-1,2019,,Counted,J,Catalysis,,,TEM,1
ext-1,2018,,Elsewhere,J,,,third-party,SEM,4
ext-2,2018,elsewhere/x.tif,Elsewhere 2,J,,,third-party,TEM,
"""


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    path = tmp_path / "ledger.csv"
    path.write_text(LEDGER, encoding="utf-8")
    return read_ledger(path)


def test_import_reports_bad_rows_and_keeps_the_rest(catalog: Catalog, ledger: Ledger) -> None:
    result = catalog.import_ledger(ledger)
    assert [(p.row, p.reason.split(" (")[0]) for p in result.problems] == [
        (5, "unknown category 'Cooking'"),
        (6, "image groupB/p2/2019-01-02/ghost.tif is not in the catalog"),
    ]
    # 10.1000/c has no accepted row (its one image is not in the catalog): it is not created.
    assert {a.id for a in catalog.articles()} == {"10.1000/a", "local-1", "ext-1", "ext-2"}
    assert result.images == 4 and result.counts == 2
    # img001 linked as tif and jpg is one frame; img003 is STEM; ext-2's image is not in the archive.
    assert sorted(catalog.published_counts(), key=lambda p: (p.article, p.technique or "")) == [
        PublishedCount("10.1000/a", "SEM", 1), PublishedCount("10.1000/a", "STEM", 1),
        PublishedCount("ext-1", "SEM", 4), PublishedCount("ext-2", "TEM", 1), PublishedCount("local-1", "TEM", 1),
    ]


def test_importing_twice_changes_nothing(catalog: Catalog, ledger: Ledger) -> None:
    catalog.import_ledger(ledger)
    again = catalog.import_ledger(ledger)
    assert again.images == 0
    assert sum(p.count for p in catalog.published_counts()) == 8


def test_a_failing_import_writes_nothing(catalog: Catalog) -> None:
    broken = Ledger(articles=[Article("10.1000/ok", 2020)],
                    images=[PublishedImage("10.1000/ok", "groupA/p1/2016-06-23/img001.tif"),
                            PublishedImage("10.1000/not-in-the-ledger", "groupA/p1/2016-06-23/img002.tif")],
                    source_name="broken.csv")
    with pytest.raises(CatalogError, match="nothing was written"):
        catalog.import_ledger(broken)
    assert catalog.articles() == [] and catalog.published_counts() == []


def test_bibliography_fills_blanks_but_never_overrides(catalog: Catalog, ledger: Ledger, tmp_path: Path) -> None:
    catalog.import_ledger(ledger)
    bib = tmp_path / "refs.bib"
    bib.write_text("@article{k1, doi = {10.1000/a}, title = {Other title}, journal = {J}, year = {2020},"
                   " author = {Doe, J.}}\n@article{k2, title = {New}, journal = {K}, year = {2022}}\n")
    catalog.import_ledger(read_bibtex(bib, source="third-party"), fill_only=True)
    article = catalog.article("10.1000/a")
    assert (article.title, article.authors, article.source) == ("Article A", "Doe, J.", "facility")
    assert catalog.article("k2").source == "third-party"


def test_link_and_unlink(catalog: Catalog, tiny_archive: Path) -> None:
    catalog.save_article(Article("10.1000/x", 2022, "X"))
    image = str(tiny_archive / "groupA/p1/2016-06-23/img002.tif")
    assert catalog.link_images("10.1000/x", [image, "groupB/p2/2019-01-02/img004.tif"]) == 2
    assert catalog.link_images("10.1000/x", [image]) == 0
    assert catalog.published("technique") == [{"technique": "SEM", "published": 1},
                                              {"technique": "STEM", "published": 1}]
    assert catalog.unlink_images("10.1000/x", ["groupA/p1/2016-06-23/img002.tif"]) == 1
    assert catalog.published_counts() == [PublishedCount("10.1000/x", "STEM", 1)]
    with pytest.raises(NotFoundError, match="not a catalogued image"):
        catalog.link_images("10.1000/x", ["nowhere.tif"])
    with pytest.raises(NotFoundError, match="pubs add"):
        catalog.link_images("10.1000/unknown", [image])


def test_published_by_year_adds_count_level_rows_by_article_year(catalog: Catalog, ledger: Ledger) -> None:
    catalog.import_ledger(ledger)
    by_year = {row["year"]: row["published"] for row in catalog.published("year")}
    assert by_year == {2016: 1, 2019: 2}  # img001 (2016), img003 (2019) and local-1's TEM image (article 2019)
    assert {row["year"]: row["published"] for row in catalog.published("year", until=2018)} == {2016: 1}
    # Third-party articles never count as facility output; other fields take file-level links only.
    assert catalog.published("instrument") == [{"instrument": "SU8230", "published": 2}]


def test_published_counts_equal_the_links_counted_plainly(tmp_path: Path) -> None:
    """Per article and technique, the distinct acquisitions of its linked files among those the
    filters list, for many links to a demo archive's frames, their exports and files gone missing."""
    archive, path = demo_census(tmp_path, 120, seed=5)
    for gone in sorted(archive.rglob("*.tif"))[::7]:
        gone.unlink()
    pick = random.Random(5)
    with Catalog(path) as catalog:
        scan(catalog, instrument_roots(archive), workers=0)
        every = catalog.images(include_missing=True, kind="all")
        for number in range(25):
            catalog.save_article(Article(f"10.1000/{number}", 2015 + number % 8, f"Article {number}"))
            catalog.link_images(f"10.1000/{number}", [row["path"] for row in pick.sample(every, pick.randint(1, 30))])
        links = catalog.db.execute("SELECT article_id, image_id FROM article_images").fetchall()
        instrument = every[0]["instrument"]
        for filters in ({}, {"instrument": instrument}, {"year": "2016-2019"}, {"include_missing": True, "kind": "all"}):
            listed = {row["id"]: row for row in catalog.images(**filters)}
            frames: dict[tuple[str, str | None], set[str]] = {}
            for article, image in links:
                if image in listed:
                    frames.setdefault((article, listed[image]["technique"]), set()).add(listed[image]["acquisition_key"])
            plain = sorted((PublishedCount(article, technique, len(keys)) for (article, technique), keys in frames.items()),
                           key=lambda p: (p.article, p.technique or ""))
            assert catalog.published_counts(**filters) == plain and plain, filters
