"""Facility vocabulary: detector families, instrument models and the technique they imply."""

from __future__ import annotations

import pytest

from emcensus.vocab import detector_family, infer_technique, lookup_model


@pytest.mark.parametrize(("raw", "family"), [
    ("SE(U)", "SE"), ("SE(L)", "SE"), ("SE(UL)", "SE"), ("SE(L)+BSE", "SE"),
    ("LA-BSE(U)", "LA-BSE"), ("LA-BSE", "LA-BSE"), ("HA-BSE", "HA-BSE"), ("PDBSE", "PDBSE"), ("BSE", "BSE"),
    ("TE", "TE"), ("BF-STEM", "BF-STEM"), ("DF-STEM", "DF-STEM"), ("HAADF", "DF-STEM"), ("DF4", "DF-STEM"),
    ("SEI", "SE"), ("InLens", "SE"), ("ETD (SE)", "SE"), ("LFD (SE)", "SE"),
    ("TLD (BSE)", "BSE"), ("ETD (BSE)", "BSE"),  # FEI detectors that collect what their mode says
    ("BM-Ceta", "CAMERA"), ("WA-Orius", "CAMERA"), ("F416", "CAMERA"),
    ("Nav-Cam", "OPTICAL"), ("CL", "CL"),
    (None, None), ("", None), ("  ", None),
])
def test_detector_families(raw: str | None, family: str | None) -> None:
    assert detector_family(raw) == family


@pytest.mark.parametrize(("raw", "hint", "family"), [
    ("BF", "STEM", "BF-STEM"), ("DF", "STEM", "DF-STEM"), ("BF", None, "BF"), ("BF", "TEM", "BF"),
])
def test_plain_bright_and_dark_field_need_stem_mode(raw: str, hint: str | None, family: str) -> None:
    assert detector_family(raw, hint) == family


@pytest.mark.parametrize(("model", "vendor", "technique"), [
    ("SU8000", "Hitachi", "SEM"), ("SU8230", "Hitachi", "SEM"), ("Regulus8230", "Hitachi", "SEM"),
    ("S-4800", "Hitachi", "SEM"), ("TM4000", "Hitachi", "SEM"), ("Hitachi SU8230", "Hitachi", "SEM"),
    ("HT7700", "Hitachi", "TEM"), ("HT7800", "Hitachi", "TEM"), ("HT-7700", "Hitachi", "TEM"),
    ("Tecnai 200 kV D2267 SuperTwin", "FEI/Thermo", "TEM"), ("FEI Titan", "FEI/Thermo", "TEM"),
    ("TalosF200X 200 kV D6308 XTwin", "FEI/Thermo", "TEM"), ("Spectra", "FEI/Thermo", "TEM"),
    ("Helios NanoLab 660", "FEI/Thermo", "SEM"), ("Quanta FEG", "FEI/Thermo", "SEM"),
    ("JEM-2100F", "JEOL", "TEM"), ("JEM-ARM200F", "JEOL", "TEM"), ("JSM-7600F", "JEOL", "SEM"),
    ("ULTRA 55", "Zeiss", "SEM"),
])
def test_known_models(model: str, vendor: str, technique: str) -> None:
    known = lookup_model(model)
    assert known is not None and (known.vendor, known.technique) == (vendor, technique)


@pytest.mark.parametrize("model", [None, "", "MCL_04", "Zeiss SEM COM", "Quemesa"])
def test_unknown_models(model: str | None) -> None:
    assert lookup_model(model) is None


@pytest.mark.parametrize(("family", "reported", "instrument", "technique"), [
    ("TE", None, "SEM", "STEM"),  # STEM-in-SEM: the detector wins over the instrument
    ("DF-STEM", "TEM", "TEM", "STEM"),
    ("SE", None, "SEM", "SEM"),
    ("CAMERA", "TEM", "SEM", "TEM"),  # what the file says wins over the instrument
    ("CAMERA", None, "TEM", "TEM"),
    ("OPTICAL", None, "SEM", None),  # a navigation-camera photograph is no electron image
    (None, None, None, None),
])
def test_infer_technique(family: str | None, reported: str | None, instrument: str | None,
                         technique: str | None) -> None:
    assert infer_technique(family, reported, instrument) == technique
