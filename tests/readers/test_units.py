"""Unit and date parsing shared by the readers."""

from __future__ import annotations

import pytest

from emcensus.readers.common import json_safe, parse_datetime, parse_ini, vendor_from_name
from emcensus.readers.units import to_magnification, to_metres, to_volts


@pytest.mark.parametrize(("text", "default", "metres"), [
    ("7706.35 um", "m", 7.70635e-3), ("7.7mm", "m", 7.7e-3), ("2.77", "mm", 2.77e-3), ("100nm", "um", 1e-7),
    ("5um", "um", 5e-6), ("100µm", "um", 1e-4), ("496.0938", "nm", 496.0938e-9), ("2 A", "m", 2e-10),
    ("1,5 mm", "m", 1.5e-3), ("0.17 1/nm", "m", None), ("-1 mm", "m", None), ("abc", "m", None), ("", "m", None),
    ("12 furlongs", "m", None), (0.004, "m", 0.004),
])
def test_lengths(text, default: str, metres: float | None) -> None:
    assert to_metres(text, default) == (pytest.approx(metres) if metres else None)


@pytest.mark.parametrize(("text", "default", "volts"), [
    ("15000 Volt", "V", 15000), ("15 kV", "V", 15000), ("15.0kV", "V", 15000), ("1.00", "kV", 1000),
    ("500 V", "kV", 500), ("0 Volt", "V", None), ("kV", "V", None),
])
def test_voltages(text: str, default: str, volts: float | None) -> None:
    assert to_volts(text, default) == volts


@pytest.mark.parametrize(("text", "magnification"), [
    ("200", 200), ("x200", 200), ("50.00 K X", 50000), ("X150k", 150000), ("2.5kx", 2500), ("x30.0k", 30000),
    ("10000 X", 10000), (225000.0, 225000), ("0", None), ("fast", None),
])
def test_magnifications(text, magnification: float | None) -> None:
    assert to_magnification(text) == magnification


@pytest.mark.parametrize(("date", "time", "expected"), [
    ("2021/06/23", "16:38:33", "2021-06-23T16:38:33"),  # Hitachi TM, JEOL v1.0
    ("06/23/2016", "10:11:12", "2016-06-23T10:11:12"),  # Hitachi PC-SEM
    ("6/9/2017", "3:04:05 PM", "2017-06-09T15:04:05"),  # JEOL v1.5, DM (US locale)
    ("12/18/2017", "12:04:14 AM", "2017-12-18T00:04:14"),  # FEI, just after midnight
    ("23.06.2016", "08:00", "2016-06-23T08:00:00"),
    ("25 Sep 2018", "8:20:42", "2018-09-25T08:20:42"),  # Zeiss
    ("Sun Feb 21 17:50:18 2016", None, "2016-02-21T17:50:18"),  # TIA, DigiScan
    ("2019-11-27T16:11:26.6205405+09:00", None, "2019-11-27T16:11:26"),  # SightX
    ("2018:11:15 19:42:31", None, "2018-11-15T19:42:31"),  # TIFF DateTime
    ("1970/01/01", None, None), ("2016/02/30", None, None), ("soon", None, None), ("2016/06/23", "25:00", "2016-06-23T00:00:00"),
])
def test_dates(date: str, time: str | None, expected: str | None) -> None:
    when = parse_datetime(date, time)
    assert (when.isoformat() if when else None) == expected


def test_ini_sections_and_loose_lines() -> None:
    parsed = parse_ini("A=1\n[S]\nB = two = 2\nnoise\n[S]\nB=3\n")
    assert parsed == {"": {"A": "1"}, "S": {"B": "two = 2"}}


def test_ini_lines_that_look_like_key_value_but_are_not() -> None:
    """Plain `Key=Value` lines take a short path; headers holding `=`, byte-order marks, keys with
    brackets, empty keys and every line break `str.splitlines` knows are read as before it."""
    text = ("\ufeff k0 = v0\r\n [S=1] \r\n\ufeff\ufeffk1 =\ufeff x \r\na[1]=2\r\n[]=3\r\n = 4\r\n[ T ]\r\n"
            "k=first\rk=second\u2028b = c = d\x0bq=\n")
    assert parse_ini(text) == {"": {"k0": "v0"}, "S=1": {"k1": "\ufeff x", "a[1]": "2", "[]": "3"},
                               "T": {"k": "first", "b": "c = d", "q": ""}}


def test_json_safe_converts_numpy_and_bytes() -> None:
    import numpy as np

    value = json_safe({"a": np.float64(1.5), "b": np.bytes_(b"HAADF\x00"), "c": np.arange(3), "d": float("nan"),
                       "e": b"\x00\x01\x02\x03", 5: (1, 2)})
    assert value == {"a": 1.5, "b": "HAADF", "c": [0, 1, 2], "d": None, "e": "<4 bytes>", "5": [1, 2]}


@pytest.mark.parametrize(("name", "vendor"), [
    ("FEI Tecnai Remote", "FEI/Thermo"), ("FEI Company", "FEI/Thermo"), ("Zeiss SEM COM", "Zeiss"),
    ("JEOL Ltd.", "JEOL"), ("Feist", None), ("", None), (None, None),
])
def test_vendor_from_name(name: str | None, vendor: str | None) -> None:
    assert vendor_from_name(name) == vendor
