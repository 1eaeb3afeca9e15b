"""Issue 7 item 12: a filter that makes no sense is refused with a message (never a plausible 0),
values the catalog does not know are listed, and `kind` keeps non-images out of counts."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emcensus.catalog import Catalog
from emcensus.catalog.query import ImageFilter
from emcensus.errors import QueryError


@pytest.mark.parametrize(("filters", "message"), [
    ({"magnification": "-5"}, "magnification '-5' must be a positive number"),
    ({"magnification": "0"}, "must be a positive number"),
    ({"magnification": 0}, "must be a positive number"),
    ({"magnification": "inf"}, "not a number"),
    ({"magnification": "50000-1000"}, "magnification range 50000–1000 is reversed"),
    ({"fov": "10um-1um"}, "fov range 10 µm–1 µm is reversed"),
    ({"fov": "-1um"}, "fov"),
    ({"year": "2019.5"}, "'2019.5' is not a year"),
    ({"year": 2019.5}, "not a year"),
    ({"year": "abc"}, "year: 'abc' is not a year or a range of years like 2015-2019"),
    ({"year": "2019-2015"}, "year range 2019–2015 is reversed"),
    ({"year": "99999999999999999999999"}, "not a year between 1900 and 2100"),
    ({"since": 2020, "until": 2015}, "the first year (2020) is after the last (2015)"),
    ({"year": "2015-2017", "since": 2019}, "the first year (2019) is after the last (2017)"),
    ({"technique": "XEM"}, "unknown technique 'XEM'; known: SEM, TEM, STEM"),
    ({"kind": "photo"}, "unknown kind 'photo'; kinds: image, spectrum"),
    ({"scalebar_decade": "1-2nm"}, "scale-bar decade '1-2nm' is not a decade"),
])
def test_nonsense_is_refused_without_quoting_cli_flags(filters: dict, message: str) -> None:
    with pytest.raises(QueryError) as error:
        ImageFilter.from_kwargs(**filters)
    assert message in str(error.value)
    assert "--" not in str(error.value)  # the API and the dashboard show the same words


def test_sensible_filters_pass() -> None:
    image_filter = ImageFilter.from_kwargs(year="2015-", magnification=":50000", fov="1um-10um", since=2016)
    assert image_filter.year_range() == (2016, None)
    assert ImageFilter.from_kwargs(year="2015:2019", until=2017).year_range() == (2015, 2017)
    assert ImageFilter.from_kwargs(magnification="1e3-5e4", kind="all, spectrum") is not None


@pytest.mark.parametrize(("filters", "message"), [
    ({"instrument": "SU9000"}, "unknown instrument 'SU9000'; known: SU8230"),
    ({"instrument": "su8230,SU9000"}, "unknown instrument 'SU9000'"),
    ({"detector": "XYZ"}, "unknown detector 'XYZ'; known: DF-STEM, LA-BSE, SE, TE"),
    ({"vendor": "Acme"}, "unknown vendor 'Acme'; known: Hitachi"),
    ({"group": "groupZ"}, "unknown group 'groupZ'; known: none"),
    ({"project": "p9"}, "unknown project 'p9'; known: none"),
    ({"root": "/nowhere"}, "/nowhere is not a scan root of this catalog; roots: "),
])
def test_values_unknown_to_the_catalog_are_listed(catalog: Catalog, filters: dict, message: str) -> None:
    with pytest.raises(QueryError) as error:
        catalog.total(**filters)
    assert message in str(error.value) and "--" not in str(error.value)


def test_known_values_match_whatever_the_case(catalog: Catalog) -> None:
    assert catalog.total(instrument="su8230", detector="se") == 1
    assert catalog.total(technique="TEM") == 0  # a known technique without images is a true 0


def test_counts_hold_images_only_unless_another_kind_is_asked_for(catalog: Catalog) -> None:
    catalog.db.execute("UPDATE images SET kind = 'spectrum' WHERE path LIKE '%img002%'")
    catalog.db.execute("UPDATE images SET kind = 'diffraction' WHERE path LIKE '%img003%'")
    catalog.db.commit()
    assert catalog.total() == 3
    assert catalog.total(kind="spectrum") == 1
    assert catalog.total(kind="spectrum,diffraction") == 2
    orphans = catalog.total(kind="sidecar-only")  # the orphan sidecar, where the scan records it as a row
    assert catalog.total(kind="all") == 5 + orphans
    assert [row for row in catalog.count("kind", kind="all") if row["kind"] != "sidecar-only"] == [
        {"kind": "diffraction", "count": 1}, {"kind": "image", "count": 3}, {"kind": "spectrum", "count": 1}]
    assert all(row["kind"] != "spectrum" for row in catalog.images())


def test_counts_seek_on_the_census_index(catalog: Catalog) -> None:
    image_filter = ImageFilter.from_kwargs(year="2016-2019", instrument="SU8230", technique="SEM")
    where, params = image_filter.where(catalog.db)
    plan = " ".join(row[-1] for row in catalog.db.execute(
        f"EXPLAIN QUERY PLAN SELECT technique, count(*) FROM images WHERE {where} AND is_primary = 1 GROUP BY 1",
        params))
    assert "USING COVERING INDEX images_census (is_primary=? AND kind=? AND year>? AND year<?)" in plan, plan


def test_an_old_catalog_gets_the_index_with_kind(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    Catalog(path).close()
    sql = sqlite3.connect(path).execute("SELECT sql FROM sqlite_master WHERE name = 'images_census'").fetchone()[0]
    assert "is_primary, kind, year" in sql


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(["year", "magnification", "fov", "scalebar_decade", "kind", "technique", "since", "until"]),
       st.one_of(st.text(max_size=30), st.integers(-10**30, 10**30), st.floats(allow_nan=True, allow_infinity=True)))
def test_any_filter_value_is_accepted_or_refused_with_a_query_error(name: str, value) -> None:
    try:
        image_filter = ImageFilter.from_kwargs(**{name: value})
    except QueryError as error:  # the API and Explore show the same message: it names no CLI flag
        unquoted = re.sub(r"'[^']*'|\"[^\"]*\"", "", str(error))  # the value itself may be anything
        assert not re.search(r"--(?:year|since|until|magnification|fov|scalebar-decade|kind|technique)\b",
                             unquoted), str(error)
        return
    low, high = image_filter.year_range()
    assert low is None or 1900 <= low <= (2100 if high is None else high)


def test_a_printed_magnification_finds_its_images(catalog: Catalog) -> None:
    catalog.db.execute("UPDATE images SET magnification = 119.99976834021555 WHERE path LIKE '%img002%'")
    catalog.db.commit()
    assert catalog.total(magnification="120") == 1 and catalog.total(magnification="119.9") == 0
    assert catalog.total(magnification=50000) == 0 and catalog.total(magnification="5000") == 1


def test_messages_quote_at_most_40_characters_of_a_value() -> None:
    for filters in ({"year": "9" * 5000}, {"magnification": "x" * 5000}, {"kind": "k" * 5000}):
        with pytest.raises(QueryError) as error:
            ImageFilter.from_kwargs(**filters)
        assert len(str(error.value)) < 160
