"""Issue 7 item 2: absurd but finite (or infinite, NaN, subnormal) inputs never crash a derived
number; each derived value is finite and physically plausible, or None with a warning."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emcensus.analysis.fov import (
    DECADE_LABELS,
    FOV_RANGE_M,
    decade_of,
    estimate_fov,
    magnification_decade,
    scale_bar_decade,
)
from emcensus.catalog.derived import MAX_DATE_GAP_DAYS, RootSettings, date_gap_days, derive

ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True)
ABSURD = [1e-310, 5e-324, 1e306, 1e307, 1e308, -1e308, math.inf, -math.inf, math.nan, -5.0]


def _finite_or_none(value: float | None) -> bool:
    return value is None or math.isfinite(value)


@pytest.mark.parametrize("magnification", ABSURD)
def test_absurd_magnification_gives_no_fov_and_a_warning(magnification: float) -> None:
    derived = derive(RootSettings("Hitachi", "SEM"), "a/b.tif", "Hitachi", "SEM", None, 1280, magnification)
    assert derived["fov_m"] is None and derived["scalebar_decade"] is None and derived["scale_bar_m"] is None
    assert any("magnification" in warning for warning in derived.warnings)


@pytest.mark.parametrize("pixel_size", ABSURD)
def test_absurd_pixel_size_falls_back_to_magnification_with_a_warning(pixel_size: float) -> None:
    derived = derive(RootSettings("Hitachi", "SEM"), "a/b.tif", "Hitachi", "SEM", pixel_size, 1280, 5000)
    assert derived["fov_source"] == "magnification" and derived["fov_m"] == pytest.approx(0.127 / 5000)
    assert derived["fov_disagreement"] is None
    assert any("pixel size" in warning for warning in derived.warnings)


def test_plausible_inputs_with_an_absurd_product_warn_about_the_product() -> None:
    estimate = estimate_fov(5e-3, 1_000_000, None, None)  # 5 mm pixels × 10^6 px = 5 km
    assert estimate.fov_width_m is None and "pixel-size FOV" in estimate.warnings[0]


def test_an_ordinary_image_has_no_warnings() -> None:
    derived = derive(RootSettings("Hitachi", "SEM"), "a/b.tif", "Hitachi", "SEM", 0.127 / 5000 / 1280, 1280, 5000)
    assert derived.warnings == () and derived["scalebar_decade"] == "1–10 µm"


@settings(max_examples=300, deadline=None)
@given(ANY_FLOAT, st.one_of(st.none(), st.integers(-10**30, 10**30)), ANY_FLOAT, ANY_FLOAT)
def test_derived_numbers_are_finite_and_plausible_for_any_input(pixel, width, magnification, reference) -> None:
    estimate = estimate_fov(pixel, width, magnification, reference)
    for value in (estimate.fov_width_m, estimate.from_magnification_m, estimate.from_pixel_size_m,
                  estimate.scale_bar_m, estimate.disagreement, estimate.ratio):
        assert _finite_or_none(value)
    if estimate.fov_width_m is not None:
        assert FOV_RANGE_M[0] <= estimate.fov_width_m <= FOV_RANGE_M[1]
        assert scale_bar_decade(estimate.fov_width_m) in DECADE_LABELS
    assert estimate.note is None or "FOV" in estimate.note
    settings_ = RootSettings(None, "SEM", reference if isinstance(reference, float) else None)
    derived = derive(settings_, "x.tif", None, "SEM", pixel, width, magnification)
    assert all(_finite_or_none(v) for v in derived.values() if isinstance(v, float))


@settings(max_examples=300, deadline=None)
@given(ANY_FLOAT)
def test_decades_of_any_float_never_raise_an_overflow(value: float) -> None:
    assert scale_bar_decade(value) in (*DECADE_LABELS, None)
    k = magnification_decade(value)
    assert k is None or 0 <= k <= 8
    if value > 0:
        assert decade_of(value).label in DECADE_LABELS  # inf lands in the overflow bin
    else:
        with pytest.raises(ValueError):
            decade_of(value)


@pytest.mark.parametrize(("acquired_at", "mtime_ns"), [
    ("9999-12-31T23:59:59+14:00", 0), ("0001-01-01T00:00:00-12:00", 0), ("2019-01-01T00:00:00", 2**63 - 1),
    ("2019-01-01T00:00:00", -(2**63)), ("2019-13-45T00:00:00", 0), ("not a date", 0),
])
def test_date_gap_of_absurd_dates_is_none(acquired_at: str, mtime_ns: int) -> None:
    assert date_gap_days(acquired_at, "metadata", mtime_ns) is None


def test_date_gap_of_ordinary_dates() -> None:
    two_days = 1546300800 * 10**9 + 2 * 86400 * 10**9  # 2019-01-03 UTC
    gap = date_gap_days("2019-01-01T00:00:00+00:00", "metadata", two_days)
    assert gap == pytest.approx(2.0) and gap <= MAX_DATE_GAP_DAYS
    assert date_gap_days("2019-01-01T00:00:00", "mtime", two_days) is None


def test_an_old_catalog_holding_absurd_values_recomputes_them_to_none(tiny_archive, tmp_path) -> None:
    from emcensus.catalog import Catalog
    from emcensus.report.build import build_report_data
    from emcensus.scan import RootSpec, scan

    with Catalog(tmp_path / "c.sqlite") as catalog:
        scan(catalog, [RootSpec(str(tiny_archive), "SU8230")], workers=0)
        catalog.db.execute("UPDATE images SET magnification = 1e306, pixel_size_m = NULL, fov_m = 1e306, "
                           "scale_bar_m = 1e305, scalebar_decade = '≥ 1 mm' WHERE path LIKE '%img001%'")
        catalog.db.commit()
        catalog.ensure_root(str(tiny_archive), "SU8230", None, None, magnification_reference_m=0.1)  # recompute
        rows = catalog.db.execute("SELECT fov_m, scale_bar_m, scalebar_decade, fov_disagreement FROM images "
                                  "WHERE path LIKE '%img001%'").fetchall()
        assert rows and all(row == (None, None, None, None) for row in rows)
        assert {row["scalebar_decade"] for row in catalog.count("scalebar_decade")} >= {None}
        assert build_report_data(catalog).archive_without_fov >= 1
