"""`pubs classify` and `pubs lexicon`, and bibliographies that keep abstracts and keywords."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emcensus.catalog import Catalog

BIB = """@article{a1, doi = {10.1000/ionic}, year = {2020}, title = {Palladium particles in an imidazolium salt},
  journal = {J}, abstract = {We dissolve cellulose and palladium acetate in a room-temperature ionic liquid.},
  keywords = {ionic liquids; imidazolium}}
@article{a2, doi = {10.1000/given}, year = {2021}, title = {Mesoporous silica membranes}, journal = {J}}
@article{a3, doi = {10.1000/cricket}, year = {2021}, title = {Annual general meeting of the cricket club}, journal = {J}}
"""
RIS = """TY  - JOUR
DO  - 10.1000/ris
TI  - Hydrogels of block copolymers
AB  - Soft gels that swell in water.
KW  - hydrogel
KW  - self-assembly
PY  - 2019
ER  -
"""
SCOPUS = ('Authors,Title,Year,Source title,DOI,Abstract,Author Keywords,Index Keywords\n'
          'X,Graphene films,2018,Carbon,10.1000/scopus,[No abstract available],graphene; CVD,carbon films\n')
LEDGER = "article,year,category,subcategory,technique,count\n10.1000/given,2021,Materials,Soft materials,SEM,2\n"


@pytest.fixture
def articles(cli, tmp_path: Path):
    Catalog(tmp_path / "census.sqlite").close()  # an empty catalog: articles need no scan
    for name, text in (("refs.bib", BIB), ("refs.ris", RIS), ("scopus.csv", SCOPUS), ("ledger.csv", LEDGER)):
        (tmp_path / name).write_text(text, encoding="utf-8")
        cli("pubs", "import", str(tmp_path / name))
    return cli


def _stored(tmp_path: Path) -> dict[str, dict]:
    with Catalog(tmp_path / "census.sqlite", readonly=True) as catalog:
        return {row["id"]: row for row in catalog._dicts("SELECT * FROM articles")}


def test_imports_keep_abstract_and_keywords(articles, tmp_path: Path) -> None:
    stored = _stored(tmp_path)
    assert stored["10.1000/ionic"]["abstract"].startswith("We dissolve cellulose")
    assert stored["10.1000/ionic"]["keywords"] == "ionic liquids; imidazolium"
    assert (stored["10.1000/ris"]["abstract"], stored["10.1000/ris"]["keywords"]) == (
        "Soft gels that swell in water.", "hydrogel; self-assembly")
    assert stored["10.1000/scopus"]["abstract"] is None  # "[No abstract available]" is not an abstract
    assert stored["10.1000/scopus"]["keywords"] == "graphene; CVD; carbon films"
    assert stored["10.1000/given"]["category_source"] == "ledger"


def test_classify_proposes_and_never_overwrites_the_ledger(articles, tmp_path: Path, monkeypatch) -> None:
    dry = json.loads(articles("pubs", "classify", "--dry-run", "--format", "json").stdout)
    assert {row["id"] for row in dry} == {"10.1000/ionic", "10.1000/ris", "10.1000/scopus", "10.1000/cricket"}
    assert _stored(tmp_path)["10.1000/ionic"]["category"] is None  # nothing stored
    result = articles("pubs", "classify")
    assert "4 article(s) classified" in result.stdout and "1 ledger label(s) used, none changed" in result.stdout
    stored = _stored(tmp_path)
    assert stored["10.1000/ionic"]["category"] == "Ionic liquids"
    assert (stored["10.1000/ris"]["category"], stored["10.1000/ris"]["subcategory"]) == ("Materials", "Soft materials")
    assert (stored["10.1000/scopus"]["subcategory"], stored["10.1000/scopus"]["category_source"]) == (
        "Carbon materials", "classified")
    assert stored["10.1000/cricket"]["needs_review"] == 1
    articles("report", str(tmp_path / "report"))
    html = (tmp_path / "report" / "index.html").read_text(encoding="utf-8")
    assert "The categories of 4 facility article(s) in Fig. 3A and 3B were proposed by" in html
    assert f"{sum(row['needs_review'] or 0 for row in stored.values())} of them are marked for review" in html
    assert 0 < stored["10.1000/ionic"]["category_confidence"] <= 1
    given = stored["10.1000/given"]
    assert (given["category"], given["subcategory"], given["category_source"]) == ("Materials", "Soft materials", "ledger")
    # a ledger that later gives a classified article's category takes it over for good
    (tmp_path / "later.csv").write_text("article,year,category,technique,count\n10.1000/ris,2019,Catalysis,TEM,1\n")
    articles("pubs", "import", str(tmp_path / "later.csv"))
    again = json.loads(articles("pubs", "classify", "--format", "json").stdout)
    assert "10.1000/ris" not in {row["id"] for row in again}
    assert _stored(tmp_path)["10.1000/ris"]["category_source"] == "ledger"
    listing = articles("pubs", "list", "--format", "csv").stdout
    assert listing.splitlines()[0].endswith("category_source,category_confidence,needs_review")
    cricket = _stored(tmp_path)["10.1000/cricket"]
    monkeypatch.setenv("COLUMNS", "300")  # a terminal wide enough for no cell to wrap
    table = articles("pubs", "list").stdout  # the confidence and review flag in the source cell
    assert f"classified {cricket['category_confidence']:.2f}, review" in table


def test_edited_lexicon(articles, tmp_path: Path) -> None:
    text = articles("pubs", "lexicon").stdout
    assert '["Ionic liquids"]' in text
    edited = tmp_path / "lexicon.toml"
    edited.write_text(text.replace('"ionic liquid", ', '"ionic liquid", "cricket club", '), encoding="utf-8")
    rows = json.loads(articles("pubs", "classify", "--dry-run", "--lexicon", str(edited), "--format", "json").stdout)
    assert {row["id"]: row["category"] for row in rows}["10.1000/cricket"] == "Ionic liquids"
    edited.write_text('[Cooking]\nterms = ["pan"]\n', encoding="utf-8")
    result = articles("pubs", "classify", "--lexicon", str(edited), ok=False)
    assert result.exit_code == 1 and "unknown category 'Cooking'" in result.output


def test_check_measures_on_the_ledger_labels(articles, tmp_path: Path) -> None:
    assert "no check: 1 ledger-labelled article(s), at least 5 are needed" in articles("pubs", "classify", "--check").stdout
    rows = "".join(f"10.1000/l{i},2020,{title},{category},{sub},SEM,1\n" for i, (title, category, sub) in enumerate([
        ("Ionic liquid electrolytes", "Ionic liquids", ""), ("Imidazolium ionic liquids", "Ionic liquids", ""),
        ("Gold nanoparticles", "Materials", "Metallic nanoparticles"),
        ("Silver nanoparticles and nanorods", "Materials", "Metallic nanoparticles"),
        ("Ionic liquid solvents", "Ionic liquids", ""), ("Platinum nanoparticles", "Materials", "Metallic nanoparticles")]))
    (tmp_path / "labels.csv").write_text("article,year,title,category,subcategory,technique,count\n" + rows)
    articles("pubs", "import", str(tmp_path / "labels.csv"))
    result = articles("pubs", "classify", "--check")
    assert "category macro-F1 1.000 over 7 ledger-labelled article(s)" in result.stdout
    assert _stored(tmp_path)["10.1000/ionic"]["category"] is None  # a check stores nothing
