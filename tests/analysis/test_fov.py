"""FOV routes, the conditional scale bar, 1-2-5 values and decade bins."""

from __future__ import annotations

import math

import pytest

from emcensus.analysis.fov import (
    DECADE_LABELS,
    HITACHI_SEM_REFERENCE_WIDTH_M,
    decade_of,
    decade_sort_key,
    estimate_fov,
    format_length,
    nice_scale_bar,
    reference_width,
    scale_bar_decade,
)


def test_hitachi_sem_reference_is_127_mm():
    ref = reference_width("Hitachi", "SEM")
    assert ref is not None and ref.width_m == pytest.approx(0.127) == HITACHI_SEM_REFERENCE_WIDTH_M
    assert ref.source == "default:Hitachi SEM"


def test_reference_width_facility_value_wins_and_defaults_are_documented():
    assert reference_width("Hitachi", "SEM", configured_m=0.1).source == "facility"
    assert reference_width("JEOL", "SEM").source == "default:any SEM"
    assert reference_width(None, "TEM").width_m == pytest.approx(4096 * 15e-6)
    assert reference_width(None, None) is None


@pytest.mark.parametrize(("magnification", "fov_m"), [(1000, 127e-6), (100_000, 1.27e-6), (25, 5.08e-3)])
def test_hitachi_fov_from_magnification(magnification, fov_m):
    estimate = estimate_fov(None, None, magnification, 0.127)
    assert estimate.source == "magnification"
    assert estimate.fov_width_m == pytest.approx(fov_m)
    assert estimate.scale_bar_m == pytest.approx(fov_m / 10)


def test_pixel_size_route_is_preferred_and_agreement_within_2_percent_passes():
    # Hitachi sidecar for 5000x on 1280 px: pixel = 127 mm / 5000 / 1280
    pixel = 0.127 / 5000 / 1280
    estimate = estimate_fov(pixel * 1.015, 1280, 5000, 0.127)
    assert estimate.source == "pixel-size"
    assert estimate.fov_width_m == pytest.approx(0.127 / 5000 * 1.015)
    assert estimate.from_magnification_m == pytest.approx(0.127 / 5000)
    assert not estimate.disagrees and estimate.note is None


def test_unit_error_is_flagged_with_its_likely_cause():
    pixel_in_wrong_unit = 0.127 / 5000 / 1280 * 1000  # nm written where µm was meant
    estimate = estimate_fov(pixel_in_wrong_unit, 1280, 5000, 0.127)
    assert estimate.disagrees
    assert estimate.ratio == pytest.approx(1000)
    assert "unit error" in estimate.note


def test_other_disagreement_points_at_the_reference_width():
    estimate = estimate_fov(0.127 / 5000 / 1280 * 1.2, 1280, 5000, 0.127)
    assert estimate.disagrees and estimate.disagreement == pytest.approx(0.2)
    assert "reference width" in estimate.note


def test_no_route_gives_no_fov():
    estimate = estimate_fov(None, 1280, None, 0.127)
    assert estimate.fov_width_m is None and estimate.source is None and estimate.scale_bar_m is None
    assert estimate_fov(1e-9, 100, 0, None).source == "pixel-size"


@pytest.mark.parametrize(("length", "nice"), [
    (12.7e-6, 10e-6), (1e-6, 1e-6), (1.99e-6, 1e-6), (2e-6, 2e-6), (4.99e-9, 2e-9), (5e-9, 5e-9),
    (9.99e-3, 5e-3), (0.1 * 1e-7, 1e-8), (3e-10, 2e-10),
])
def test_nice_scale_bar_is_largest_1_2_5_value_not_above(length, nice):
    assert nice_scale_bar(length) == pytest.approx(nice)
    mantissa = nice / 10 ** math.floor(math.log10(nice) + 1e-9)
    assert round(mantissa, 6) in (1, 2, 5)


def test_nice_scale_bar_rejects_non_positive():
    with pytest.raises(ValueError):
        nice_scale_bar(0)


def test_decade_labels_cover_1_nm_to_1_mm():
    assert DECADE_LABELS == ("< 1 nm", "1–10 nm", "10–100 nm", "100 nm–1 µm", "1–10 µm", "10–100 µm",
                             "100 µm–1 mm", "≥ 1 mm")


@pytest.mark.parametrize(("length", "label"), [
    (1e-9, "1–10 nm"), (9.9e-9, "1–10 nm"), (1e-8, "10–100 nm"), (0.1 * 1e-7, "10–100 nm"),
    (5e-7, "100 nm–1 µm"), (1e-6, "1–10 µm"), (5e-5, "10–100 µm"), (9e-4, "100 µm–1 mm"),
    (1e-3, "≥ 1 mm"), (2e-10, "< 1 nm"),
])
def test_decade_bins_are_half_open(length, label):
    assert decade_of(length).label == label
    assert decade_of(nice_scale_bar(length)).label == label  # the nice value never changes the bin


def test_scale_bar_decade_uses_10_percent_of_fov():
    assert scale_bar_decade(0.127 / 1000) == "10–100 µm"  # 1000x on a Hitachi SEM: 12.7 µm bar
    assert scale_bar_decade(0.127 / 800_000) == "10–100 nm"  # 15.9 nm
    assert scale_bar_decade(None) is None


def test_format_length_and_sort_key():
    assert [format_length(x) for x in (5e-8, 2e-6, 1e-3, 5e-10)] == ["50 nm", "2 µm", "1 mm", "0.5 nm"]
    assert sorted(["1–10 µm", None, "< 1 nm", "10–100 nm"], key=decade_sort_key) == [
        "< 1 nm", "10–100 nm", "1–10 µm", None]
