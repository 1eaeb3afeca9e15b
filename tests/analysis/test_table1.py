"""Table 1 against the paper's numbers, rebuilt from a synthetic set of articles."""

from __future__ import annotations

import csv
import io
import json

import pytest

from emcensus.analysis.publications import Article, PublishedCount
from emcensus.analysis.table1 import compute_table1


def _spread(total: int, parts: int) -> list[int]:
    """`total` images over `parts` articles as evenly as possible (every article gets at least one)."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def paper_facility() -> list[PublishedCount]:
    """292 articles: 238 with SEM, 94 with TEM, 40 with both; 3,054 SEM and 523 TEM images;
    8 SEM-only articles over 50 images hold 1,724 images, leaving 1,853 in 284 articles."""
    counts = [PublishedCount(f"outlier-{i}", "SEM", n) for i, n in enumerate([215] * 7 + [219])]
    sem_only, both, tem_only = 190, 40, 54  # + 8 outliers = 238 SEM articles; 94 TEM articles
    sem = _spread(3054 - 1724, sem_only + both)
    tem = _spread(523, both + tem_only)
    # Some SEM images are STEM images: they count as SEM in the facility block.
    counts += [PublishedCount(f"sem-{i}", "STEM" if i % 7 == 0 else "SEM", n) for i, n in enumerate(sem[:sem_only])]
    counts += [PublishedCount(f"both-{i}", "SEM", n) for i, n in enumerate(sem[sem_only:])]
    counts += [PublishedCount(f"both-{i}", "TEM", n) for i, n in enumerate(tem[:both])]
    counts += [PublishedCount(f"tem-{i}", "TEM", n) for i, n in enumerate(tem[both:])]
    return counts


def paper_third_party() -> tuple[list[Article], list[PublishedCount]]:
    """200 articles: 158 with SEM (1,624 images), 38 with STEM (274), 122 with TEM (818).

    The paper's TOTAL (2,766) is 50 more than the columns' sum (2,716): modelled as 50 images whose
    technique the ledger does not state, which count in TOTAL only."""
    ids = [f"tp-{i}" for i in range(200)]
    counts = [PublishedCount(ids[i], "SEM", n) for i, n in enumerate(_spread(1624, 158))]
    counts += [PublishedCount(ids[199 - i], "STEM", n) for i, n in enumerate(_spread(274, 38))]
    counts += [PublishedCount(ids[78 + i], "TEM", n) for i, n in enumerate(_spread(818, 122))]
    counts += [PublishedCount(ids[0], None, 50)]
    return [Article(i, source="third-party") for i in ids], counts


ACQUIRED = {"SEM": 116_000, "STEM": 3_557, "TEM": 32_540}  # 119,557 S(T)EM images in all


@pytest.fixture
def table():
    articles, third_party = paper_third_party()
    facility = paper_facility()
    # sanity of the synthetic set itself
    assert len({c.article for c in facility}) == 292
    assert sum(c.count for c in facility) == 3577
    assert all(1 <= c.count <= 50 for c in facility if not c.article.startswith("outlier"))
    return compute_table1(ACQUIRED, facility + third_party, articles)


def test_facility_block_matches_the_paper(table):
    sem, tem, total = table.facility
    assert (sem.acquired, tem.acquired, total.acquired) == (119_557, 32_540, 152_097)
    assert (sem.articles, tem.articles, total.articles) == (238, 94, 292)
    assert (sem.published, tem.published, total.published) == (3054, 523, 3577)
    assert [round(c.per_article, 2) for c in table.facility] == [12.83, 5.56, 12.25]
    assert [round(c.published_pct, 2) for c in table.facility] == [2.55, 1.61, 2.35]
    assert [round(c.lost_pct, 2) for c in table.facility] == [97.45, 98.39, 97.65]


def test_third_party_block_matches_the_paper(table):
    assert [c.label for c in table.third_party] == ["SEM", "STEM", "TEM", "TOTAL"]
    assert [c.articles for c in table.third_party] == [158, 38, 122, 200]
    assert [c.published for c in table.third_party] == [1624, 274, 818, 2766]
    assert [round(c.per_article, 2) for c in table.third_party] == [10.28, 7.21, 6.70, 13.83]
    assert all(c.acquired is None and c.published_pct is None and c.lost_pct is None for c in table.third_party)


def test_outlier_restatement_matches_the_paper(table):
    r = table.restatement
    assert (r.threshold, r.removed_articles, r.removed_images) == (50, 8, 1724)
    assert (r.images, r.articles) == (1853, 284)
    assert round(r.per_article, 1) == 6.5


def test_text_table_prints_every_number(table):
    text = table.to_text()
    for number in ["119,557", "32,540", "152,097", "238", "94", "292", "3,054", "523", "3,577",
                   "12.83", "5.56", "12.25", "2.55", "1.61", "2.35", "97.45", "98.39", "97.65",
                   "158", "38", "122", "200", "1,624", "274", "818", "2,766", "10.28", "7.21", "6.70", "13.83",
                   "1,853 images in 284 articles", "6.5 images per article", "no data"]:
        assert number in text, number
    rows = {line.split("  ")[0].strip(): line.split() for line in text.splitlines()}
    assert rows["Published data, %"][-7:-4] == ["2.55", "1.61", "2.35"]
    assert rows["Lost data, %"][-7:-4] == ["97.45", "98.39", "97.65"]
    assert rows["Images per article"][-7:] == ["12.83", "5.56", "12.25", "10.28", "7.21", "6.70", "13.83"]
    assert "Core user facility" in text and "Third-party facilities" in text


def test_json_and_csv_carry_the_same_numbers(table):
    data = json.loads(table.to_json())
    by_column = {(c["block"], c["column"]): c for c in data["columns"]}
    assert by_column[("facility", "TOTAL")]["published_pct"] == pytest.approx(100 * 3577 / 152097)
    assert by_column[("third-party", "TOTAL")]["images_per_article"] == pytest.approx(13.83)
    assert data["restatement"]["images"] == 1853 and data["restatement"]["articles"] == 284
    rows = list(csv.DictReader(io.StringIO(table.to_csv())))
    assert len(rows) == 8
    assert rows[0]["column"] == "SEM" and float(rows[0]["lost_pct"]) == pytest.approx(97.4455, abs=1e-3)
    assert rows[-1]["published_images"] == "1853"


def test_article_with_sem_and_tem_counts_once_in_total_and_unknown_technique_counts_in_total_only():
    table = compute_table1({"SEM": 100, "TEM": 50, None: 10}, [
        PublishedCount("a", "SEM", 2), PublishedCount("a", "TEM", 3), PublishedCount("b", None, 4)])
    sem, tem, total = table.facility
    assert (sem.articles, tem.articles, total.articles) == (1, 1, 2)
    assert total.published == 9 and total.acquired == 160
    assert table.third_party == ()
    assert "Third-party" not in table.to_text()


def test_threshold_is_a_parameter_and_empty_input_has_no_ratios():
    table = compute_table1({"SEM": 10}, [PublishedCount("a", "SEM", 5)], outlier_threshold=4)
    assert table.restatement.removed_articles == 1 and table.restatement.per_article is None
    empty = compute_table1({}, [])
    assert empty.facility[0].per_article is None and empty.facility[0].published_pct is None
    assert "–" in empty.to_text()


def test_overview_table1_from_its_cube_read_equals_the_counted_one(tmp_path) -> None:
    """The Overview hands Table 1 the images per technique of its one cube read (`count_several`):
    the same table as `catalog_table1` counting them itself, the page showing its cells."""
    from fastapi.testclient import TestClient

    from emcensus.catalog import Catalog
    from emcensus.report.build import catalog_table1
    from emcensus.web.app import create_app, table1
    from support import demo_census

    _, path = demo_census(tmp_path, 80, seed=3)
    with Catalog(path) as catalog:
        every = catalog.images(kind="all")
        for number in range(6):
            catalog.save_article(Article(f"10.1000/{number}", 2016 + number, f"Article {number}"))
            catalog.link_images(f"10.1000/{number}", [row["path"] for row in every[number::9]])
    with Catalog(path, readonly=True) as catalog:
        [by_technique] = catalog.count_several([("technique", False)])
        from_cube = table1(catalog, {row["technique"]: row["count"] for row in by_technique})
        assert from_cube == catalog_table1(catalog) and from_cube.facility[-1].published > 0
    page = TestClient(create_app(path)).get("/", headers={"accept": "text/html"}).text
    for title, cells in from_cube.rows():
        assert f"<th>{title}</th>" + "".join(f'<td class="n">{cell}</td>' for cell in cells) in page, title
