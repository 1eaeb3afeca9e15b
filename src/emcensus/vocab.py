"""Facility vocabulary: known instrument models, detector families and how they imply a technique.

The tables are data, not code, so that a facility file can override any entry.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

TECHNIQUES = ("SEM", "TEM", "STEM")


def technique_order(names: Iterable[str]) -> list[str]:
    """SEM, TEM, STEM in the paper's order, then anything else alphabetically."""
    return sorted(set(names), key=lambda t: (TECHNIQUES.index(t) if t in TECHNIQUES else len(TECHNIQUES), t))


@dataclass(frozen=True, slots=True)
class InstrumentModel:
    vendor: str
    technique: str  # the instrument's own technique; STEM images are told apart per image


# Patterns match the model string with spaces, hyphens and underscores removed, case-insensitive.
_MODEL_TABLE: list[tuple[str, InstrumentModel]] = [
    # Hitachi
    (r"^(su8\d{3}|regulus|su[1-9]\d{2,3}|s\d{3,4}n?|tm\d{4}|flexsem|su70|su6600)", InstrumentModel("Hitachi", "SEM")),
    (r"^(ht7[78]\d\d|h\d{4}|hf\d{4}|hf5000|hd2700)", InstrumentModel("Hitachi", "TEM")),
    # JEOL
    (r"^(jsm|jcm|it\d{3})", InstrumentModel("JEOL", "SEM")),
    (r"^(jem|arm\d{3}|cryoarm|grandarm)", InstrumentModel("JEOL", "TEM")),
    # FEI / Thermo Fisher
    (r"^(tecnai|titan|talos|krios|spectra|themis|glacios|tundra|metrios|osiris|morgagni)", InstrumentModel("FEI/Thermo", "TEM")),
    (r"^(helios|quanta|nova|scios|verios|apreo|inspect|magellan|prisma|teneo|axia|versa|phenom|xl\d\d|sirion|strata)", InstrumentModel("FEI/Thermo", "SEM")),
    # Zeiss
    (r"^(ultra|supra|merlin|gemini|sigma|evo|crossbeam|auriga|leo|neon|zeiss)", InstrumentModel("Zeiss", "SEM")),
    (r"^(libra|em\d{3})", InstrumentModel("Zeiss", "TEM")),
    # Tescan
    (r"^(vega|mira|lyra|maia|gaia|amber|solaris|clara|magna|tescan)", InstrumentModel("Tescan", "SEM")),
]
_COMPILED_MODELS = [(re.compile(p, re.IGNORECASE), m) for p, m in _MODEL_TABLE]


def _squash(text: str) -> str:
    return re.sub(r"[\s\-_/]+", "", text)


def lookup_model(model: str | None) -> InstrumentModel | None:
    """Vendor and technique of a model name as microscope software writes it (`SU8230`, `JEM-2100F`)."""
    if not model:
        return None
    squashed = _squash(model)
    for vendor_prefix in ("hitachi", "jeol", "fei", "thermofisher", "thermo", "zeiss", "carlzeiss"):
        if squashed.lower().startswith(vendor_prefix) and len(squashed) > len(vendor_prefix):
            squashed = squashed[len(vendor_prefix):]
            break
    for pattern, known in _COMPILED_MODELS:
        if pattern.search(squashed):
            return known
    return None


# Detector families. Keys are squashed, upper-case raw names (suffixes like "(U)" removed first).
_DETECTOR_FAMILIES: dict[str, str] = {
    # secondary electrons
    "SE": "SE", "SEI": "SE", "LEI": "SE", "ETD": "SE", "TLD": "SE", "INLENS": "SE", "SE2": "SE",
    "SE1": "SE", "LFD": "SE", "GSED": "SE", "ICE": "SE", "UED": "SE", "SED": "SE", "INBEAM": "SE",
    "SEL": "SE", "SEU": "SE", "SEUL": "SE", "ESB": "BSE",
    # backscattered electrons (the paper's Hitachi detectors stay distinct)
    "LABSE": "LA-BSE", "HABSE": "HA-BSE", "PDBSE": "PDBSE", "BSE": "BSE", "BSD": "BSE", "BEI": "BSE",
    "COMPO": "BSE", "CBS": "BSE", "VCD": "BSE", "ABS": "BSE", "QBSD": "BSE", "ASB": "BSE", "YAGBSE": "BSE",
    "BSECOMP": "BSE", "BSETOPO": "BSE", "BSE3D": "BSE", "BSESHADOW": "BSE",
    "BSDALL": "BSE", "BSDTOPO": "BSE", "BSDTOPOA": "BSE", "BSDTOPOB": "BSE",  # Phenom: bsd-all, bsd-topo-a
    # transmitted electrons (STEM-in-SEM and STEM on a TEM)
    "TE": "TE", "BFSTEM": "BF-STEM", "ABF": "BF-STEM", "STEMBF": "BF-STEM",
    "DFSTEM": "DF-STEM", "ADF": "DF-STEM", "HAADF": "DF-STEM", "DF2": "DF-STEM",
    "DF4": "DF-STEM", "STEMDF": "DF-STEM", "STEMHAADF": "DF-STEM",
    # cathodoluminescence
    "CL": "CL", "MONOCL": "CL",
    # light: DualBeam navigation cameras photograph the stage, they are not electron images
    "NAVCAM": "OPTICAL", "OPTICAL": "OPTICAL",
}
#: FEI detectors that collect SE or BSE depending on their mode, written `ETD (BSE)` by the FEI reader.
_MODE_DEPENDENT = frozenset({"ETD", "TLD", "ICE", "LFD", "GSED"})
_TEM_CAMERA = re.compile(
    r"ceta|orius|ultrascan|oneview|rio|metro|k2|k3|falcon|tvips|f\d{3}|eagle|ccd|camera|quemesa|veleta|morada|emsis|xarosa",
    re.IGNORECASE,
)

#: Families whose images are STEM, whatever the instrument.
STEM_FAMILIES = frozenset({"TE", "BF-STEM", "DF-STEM"})
#: Families whose images are not electron images at all: no technique.
NON_ELECTRON_FAMILIES = frozenset({"OPTICAL"})


# Plain "BF"/"DF" mean bright/dark field: STEM detectors only when the file says it is in STEM mode.
_STEM_MODE_ONLY = {"BF": "BF-STEM", "DF": "DF-STEM", "STEM": "BF-STEM"}


def detector_family(raw: str | None, technique_hint: str | None = None) -> str | None:
    """Normalise a vendor detector name: `SE(U)` → `SE`, `LA-BSE(U)` → `LA-BSE`, `HAADF` → `DF-STEM`."""
    if not raw or not raw.strip():
        return None
    base = re.sub(r"\(.*?\)", "", raw).strip()
    key = _squash(base).upper()
    if technique_hint == "STEM" and key in _STEM_MODE_ONLY:
        return _STEM_MODE_ONLY[key]
    mode = re.search(r"\((.*?)\)", raw)
    if key in _MODE_DEPENDENT and mode and _squash(mode[1]).upper() in ("SE", "BSE"):
        return _squash(mode[1]).upper()
    if key in _DETECTOR_FAMILIES:
        return _DETECTOR_FAMILIES[key]
    # Hitachi writes mixtures such as "SE(L)+BSE": the first signal names the family.
    first = re.split(r"[+&,]", key)[0]
    if first in _DETECTOR_FAMILIES:
        return _DETECTOR_FAMILIES[first]
    if _TEM_CAMERA.search(raw):
        return "CAMERA"
    return key or None


def infer_technique(
    family: str | None,
    reported: str | None,
    instrument_technique: str | None,
) -> str | None:
    """SEM, TEM or STEM for one image: transmitted-electron detectors win, then what the file says,
    then what the instrument is; optical images have none."""
    if family in NON_ELECTRON_FAMILIES:
        return None
    if family in STEM_FAMILIES:
        return "STEM"
    if reported in TECHNIQUES:
        return reported
    return instrument_technique if instrument_technique in TECHNIQUES else None
