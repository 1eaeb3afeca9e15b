"""Flags relative to comparable images: percentiles within instrument x magnification decade."""

from __future__ import annotations

import numpy as np

from emcensus.quality.flags import MIN_GROUP, comparable_group, percentiles, relative_quality


def _row(image_id: int, sharpness: float, *, instrument: str = "SU8230", magnification: float | None = 5000,
         snr: float = 5.0, charging: float = 0.05, drift: float = 0.1, **extra) -> dict:
    return {"image_id": image_id, "instrument": instrument, "magnification": magnification, "error": None,
            "blank": 0, "clipped_low": 0.0, "clipped_high": 0.001, "sharpness": sharpness, "snr": snr,
            "charging": charging, "drift": drift} | extra


def test_percentiles_run_from_0_to_100_and_ties_share_their_rank() -> None:
    assert percentiles(np.array([3.0, 1.0, 2.0])).tolist() == [100.0, 0.0, 50.0]
    assert percentiles(np.array([1.0, 1.0, 2.0])).tolist() == [25.0, 25.0, 100.0]


def test_one_defocused_frame_among_good_ones_is_blurred_and_the_good_ones_are_ok() -> None:
    rng = np.random.default_rng(0)
    rows = [_row(i, float(0.3 * np.exp(rng.normal(0, 0.05)))) for i in range(1, 20)]
    rows.append(_row(20, 0.05))  # six times less sharp than its neighbours
    result = relative_quality(rows)
    assert result[20] == {"sharpness_pct": 0.0, "quality_flag": "blurred"}
    assert all(result[i]["quality_flag"] == "ok" for i in range(1, 20))
    assert max(result[i]["sharpness_pct"] for i in range(1, 20)) == 100.0


def test_a_group_of_equally_good_images_flags_none_even_its_least_sharp() -> None:
    rows = [_row(i, 0.3 + 0.001 * i) for i in range(1, 16)]
    assert {value["quality_flag"] for value in relative_quality(rows).values()} == {"ok"}


def test_images_are_ranked_only_among_their_instrument_and_magnification_decade() -> None:
    sem = [_row(i, 0.3 + 0.01 * i, magnification=5000 + i) for i in range(MIN_GROUP)]
    high_mag = [_row(100 + i, 0.05 + 0.001 * i, magnification=200000) for i in range(MIN_GROUP)]
    result = relative_quality(sem + high_mag)
    # the high-magnification images are less sharp than every SEM one, but not blurred for their decade
    assert all(result[100 + i]["quality_flag"] == "ok" for i in range(MIN_GROUP))
    assert result[100 + MIN_GROUP - 1]["sharpness_pct"] == 100.0
    assert comparable_group("SU8230", 5000) == ("SU8230", 3) and comparable_group("SU8230", None) == ("SU8230", None)


def test_too_few_comparable_images_give_no_percentile_and_no_relative_flag() -> None:
    # MIN_GROUP - 1 ranked: the clipped frame counts among them, the blank one and the failed one do not
    rows = [_row(i, 0.3) for i in range(1, MIN_GROUP - 1)] + [
        _row(50, 0.3, blank=1), _row(51, 0.3, clipped_high=0.2), _row(52, None, error="cannot decode")]
    result = relative_quality(rows)
    assert all(result[i] == {"sharpness_pct": None, "quality_flag": None} for i in range(1, MIN_GROUP - 1))
    assert result[50]["quality_flag"] == "blank" and result[51]["quality_flag"] == "clipped"
    assert 52 not in result  # not measured: neither ranked nor flagged


def test_a_clipped_frame_is_ranked_and_keeps_its_flag() -> None:
    rows = [_row(i, 0.3 + 0.01 * i) for i in range(1, MIN_GROUP + 2)] + [_row(99, 0.9, clipped_low=0.3)]
    assert relative_quality(rows)[99] == {"sharpness_pct": 100.0, "quality_flag": "clipped"}


def test_the_most_serious_flag_wins() -> None:
    rows = [_row(i, 0.3, charging=0.05) for i in range(1, 20)]
    rows.append(_row(20, 0.05, charging=0.9))  # charged and blurred: charging is named
    assert relative_quality(rows)[20]["quality_flag"] == "charging"
