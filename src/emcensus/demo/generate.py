"""Generate a realistic electron-microscopy facility archive, with its ground truth.

Modelled on the facility study in `shared/paper/lost-data-in-em.txt`: 152,097 images over
2011-2023 (119,557 SEM incl. STEM, 32,540 TEM; about 74 % SEM, 23 % TEM, 3 % STEM a year, more
every year), 141,681 of them with a metadata file; Hitachi SU8000 and SU8230 (later writing
`Regulus8230`) SEMs with STEM detectors, and an HT7700 TEM.

    from emcensus.demo import generate_archive, paper_scale
    manifest = generate_archive(tmp / "archive", 500, seed=1)
    manifest = generate_archive(Path("/tmp/paper-archive"), **paper_scale())

Layout: `dest/SU8000`, `dest/SU8230`, `dest/HT7700` (one root per microscope PC share), each
`{group}/{project}/{YYYY-MM-DD}/{stem}.tif` + `{stem}.txt` with irregular variants, and the ground
truth in `dest/manifest.json` (outside the roots). Images are tiny real TIFF/JPEG/BMP files
(64x48 to 128x128 px) so that the paper's scale fits in about 2.5 GB; sidecars give the true size.

Everything is decided up front by one seeded `random.Random` (the plan); writing the files is then
a pure function of the plan and may run in a process pool. Same seed, same archive, byte for byte
(file contents and the manifest; mtimes are set from naive local times, so their epoch values
follow the machine's time zone while their local reading stays the same).
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Iterable, Sequence

from emcensus.demo.manifest import MANIFEST_NAME, Manifest, ManifestFile, OrphanSidecar
from emcensus.demo.sidecars import HITACHI_REFERENCE_NM, TEM_CAMERA_WIDTH_NM, encode_sidecar, sidecar_text

INSTRUMENTS: tuple[str, ...] = ("SU8000", "SU8230", "HT7700")
INSTRUMENT_TECHNIQUE = {"SU8000": "SEM", "SU8230": "SEM", "HT7700": "TEM"}

PAPER_IMAGES = 152_097
PAPER_TEM = 32_540
PAPER_WITH_METADATA = 141_681
PAPER_YEARS = (2011, 2023)
STEM_SHARE = 0.03
ORPHAN_SHARE = 0.004

#: Microscope magnification steps: 1, 1.2, 1.5 ... 8 x 10^n.
NICE_MANTISSAS = (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8, 10)

_EXT_FORMAT = {".tif": "tiff", ".jpg": "jpeg", ".bmp": "bmp"}


def paper_scale() -> dict[str, Any]:
    """Keyword arguments reproducing the paper's archive: `generate_archive(dest, **paper_scale())`."""
    return {"n_images": PAPER_IMAGES, "years": PAPER_YEARS, "instruments": INSTRUMENTS}


# --------------------------------------------------------------------------- helpers


def allocate(total: int, weights: Sequence[float]) -> list[int]:
    """Split `total` into integers proportional to `weights` (largest remainder, exact sum)."""
    s = sum(weights)
    if total <= 0 or s <= 0:
        return [0] * len(weights)
    raw = [total * w / s for w in weights]
    out = [int(math.floor(r)) for r in raw]
    rest = total - sum(out)
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - out[i]), i))
    for i in order[:rest]:
        out[i] += 1
    return out


def nice_magnification(value: float) -> int:
    """The microscope step nearest (in log scale) to `value`."""
    exponent = math.floor(math.log10(value))
    best = min(
        (m * 10**exponent for m in NICE_MANTISSAS),
        key=lambda v: abs(math.log10(v) - math.log10(value)),
    )
    return int(round(best))


def _year_weight(year: int) -> float:
    """Images per year rise from ~6.5k to ~17k at paper scale, unevenly but every year."""
    wiggle = {2011: 0.0, 2012: 0.3, 2013: -0.2, 2014: 0.3, 2015: 0.0, 2016: 0.35, 2017: -0.3,
              2018: 0.2, 2019: 0.35, 2020: -0.3, 2021: 0.1, 2022: 0.3, 2023: 0.0}
    return max(1.0, 6.0 + 0.95 * (year - 2011) + wiggle.get(year, 0.0))


#: Yearly variation of the TEM and STEM shares (instrument downtime, projects).
_TEM_VAR = {2011: 1.1, 2012: 1.0, 2013: 0.92, 2014: 1.05, 2015: 0.95, 2016: 1.08, 2017: 1.0,
            2018: 0.9, 2019: 1.04, 2020: 0.97, 2021: 1.06, 2022: 0.95, 2023: 1.0}
_STEM_VAR = {2011: 0.6, 2012: 0.8, 2013: 1.1, 2014: 0.9, 2015: 1.2, 2016: 1.1, 2017: 0.9,
             2018: 1.0, 2019: 1.15, 2020: 0.9, 2021: 1.1, 2022: 1.0, 2023: 1.05}


def _su8000_share(year: int) -> float:
    """SU8000 share of SU-series images; the SU8230 arrived in 2015 and took over."""
    return {2015: 0.6, 2016: 0.35, 2017: 0.15, 2018: 0.05}.get(year, 1.0 if year < 2015 else 0.0)


def _model(instrument: str, year: int) -> str:
    if instrument == "SU8230" and year >= 2020:
        return "Regulus8230"  # PC-SEM software upgrade in 2020 renamed the instrument
    return instrument


_ENCODING_WEIGHTS = {
    "SU8000": (("cp1252", 0.93), ("cp932", 0.07)),
    "SU8230": (("cp1252", 0.92), ("cp932", 0.08)),
    "Regulus8230": (("utf-16-le-bom", 0.5), ("cp1252", 0.42), ("cp932", 0.08)),
    "HT7700": (("cp1252", 0.8), ("cp932", 0.2)),
}

_DETECTORS = {
    ("SU8000", "SEM"): (("SE(U)", 0.45), ("SE(L)", 0.2), ("SE(UL)", 0.05), ("LA-BSE(U)", 0.08),
                        ("HA-BSE", 0.05), ("PDBSE", 0.17)),
    ("SU8230", "SEM"): (("SE(U)", 0.38), ("SE(L)", 0.1), ("SE(UL)", 0.12), ("LA-BSE(U)", 0.18),
                        ("HA-BSE", 0.12), ("PDBSE", 0.1)),
    ("SU8000", "STEM"): (("TE", 1.0),),
    ("SU8230", "STEM"): (("TE", 0.3), ("BF-STEM", 0.45), ("DF-STEM", 0.25)),
}
_FAMILY = {"SE(U)": "SE", "SE(L)": "SE", "SE(UL)": "SE", "LA-BSE(U)": "LA-BSE", "HA-BSE": "HA-BSE",
           "PDBSE": "PDBSE", "TE": "TE", "BF-STEM": "BF-STEM", "DF-STEM": "DF-STEM"}

_SIZES = {
    "SU8000": (((64, 48), 0.8), ((128, 96), 0.2)),
    "SU8230": (((128, 96), 0.45), ((64, 48), 0.55)),
    "HT7700": (((64, 64), 0.7), ((128, 128), 0.3)),
}

_GROUPS = (
    "Ananikov Lab", "Catalysis", "Nanomaterials", "Polymers", "Ionic_Liquids", "OrgSynth",
    "MOF-group", "Müller AG", "Лаборатория 12", "external users", "Biomaterials", "Service",
)
_USERS = (
    "ivanov", "a.petrova", "kashin", "smirnov", "egorova", "d.orlov", "galkin", "sokolova",
    "pentsak", "burykina", "chen", "guest", "boiko", "kuznetsov", "mueller", "li.wang",
    "seitkalieva", "romashov", "eremin", "denisova", "polynski", "prima", "gordeev", "karlinskii",
)
_TOPICS = (
    "Pd-C catalysts", "ZIF-8_membranes", "carbon_dots", "IL phase behaviour", "Ni nanoparticles",
    "MOF-5", "CNT growth", "TiO2_photocat", "Cu-BTC", "graphene_oxide", "polymer films",
    "zeolites", "Au NPs", "SiO2@Pt", "Fe3O4 magnetic", "PS-beads", "carbon fibres", "CeO2",
    "Pt-Sn alloys", "Ag nanowires", "biochar", "hydrogels", "perovskites", "cellulose",
    "Pd leaching", "Ni-Mo sulfides", "Co3O4", "ionic liquid crystals", "HTC carbons",
    "thin films", "electrodes", "MXene", "catalyst_QC", "routine", "Rh clusters", "micelles",
    "µ-spheres", "образцы", "試料", "grant RSF 19-13", "thesis", "coatings",
)
_SAMPLES = (
    "PdC", "Pd-C", "ZIF8", "MOF5", "CNT", "TiO2", "CuBTC", "GO", "PS", "CF", "CeO2", "PtSn",
    "AgNW", "Ni", "Co3O4", "Au", "SiO2", "Fe3O4", "zeolite Y", "IL", "HTC", "Rh", "cat",
    "sample", "s", "film", "µ-sph", "образец", "試料", "A", "B", "C", "ref",
)
_COMMENTS_CP1252 = (
    "Pd/C 5 wt%", "after 300 °C", "Ø 20 nm particles", "µ-spheres, batch 2", "repeat",
    "tilt 30", "for paper", "charging!", "Müller sample", "coated 5 nm Pt", "±5 nm",
)
_COMMENTS_CP932 = (
    "触媒試料 Pd/C 焼成後", "ナノ粒子 分散液", "再測定", "試料Ａ 断面", "カーボン蒸着済み",
    "論文用", "チャージアップあり",
)
_DATE_STYLES = (("%Y-%m-%d", 0.75), ("%Y%m%d", 0.1), ("%d.%m.%Y", 0.07), (None, 0.08))


def _choice(rng: random.Random, pairs: Sequence[tuple[Any, float]]) -> Any:
    values = [p[0] for p in pairs]
    return rng.choices(values, weights=[p[1] for p in pairs])[0]


def _magnification(rng: random.Random, technique: str, family: str | None) -> int:
    if technique == "TEM":
        if rng.random() < 0.1:
            value = 10 ** rng.uniform(3.0, 4.2)
        else:
            value = 10 ** rng.gauss(4.78, 0.3)
        value = min(max(value, 1000), 800_000)
    elif technique == "STEM":
        value = min(max(10 ** rng.gauss(4.9, 0.3), 20_000), 500_000)
    else:
        if rng.random() < 0.03:
            value = 10 ** rng.uniform(1.3, 2.3)  # overview
        elif family in ("LA-BSE", "HA-BSE", "PDBSE"):
            value = 10 ** rng.gauss(3.2, 0.6)
        else:
            value = 10 ** rng.gauss(3.85, 0.55)
        value = min(max(value, 20), 300_000)
    return min(max(nice_magnification(value), 20), 800_000)


def _kv(rng: random.Random, technique: str, family: str | None) -> float:
    if technique == "TEM":
        return rng.choices((80, 100, 120), weights=(2, 6, 3))[0]
    if technique == "STEM":
        return rng.choices((20, 25, 30), weights=(1, 1, 8))[0]
    if family in ("LA-BSE", "HA-BSE", "PDBSE"):
        return rng.choices((5, 10, 15, 20, 25, 30), weights=(4, 12, 20, 10, 2, 4))[0]
    return rng.choices((0.5, 1, 1.5, 2, 3, 5, 10, 15, 20, 30), weights=(2, 10, 5, 8, 6, 12, 8, 12, 4, 2))[0]


def _wd_um(rng: random.Random, technique: str, detector: str | None) -> float | None:
    if technique == "TEM":
        return None
    if technique == "STEM":
        mm = rng.uniform(7.8, 8.6)
    elif detector == "SE(L)":
        mm = rng.uniform(8.0, 15.0)
    elif detector in ("SE(U)", "SE(UL)"):
        mm = rng.uniform(3.0, 8.5)
    else:
        mm = rng.uniform(5.0, 12.0)
    return round(mm * 1000, 2)


# --------------------------------------------------------------------------- the plan


@dataclass
class _Project:
    group: str
    name: str
    folder: str  # under the instrument root, without the date folder
    start: int
    end: int
    weight: float
    affinity: str  # SEM | TEM | both
    date_style: str | None
    deep: bool
    users: list[str]
    samples: list[str]
    unique: int = 0  # >0: a one-off project of that many images


@dataclass
class _Plan:
    frames: list[dict] = field(default_factory=list)  # originals and orphans
    used: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))


def _folder_name(text: str) -> str:
    return text.replace("/", "-").replace("\\", "-").strip()


def _make_projects(rng: random.Random, n: int, y0: int, y1: int) -> list[_Project]:
    groups = list(_GROUPS[: max(8, min(len(_GROUPS), 8 + n // 40_000))])
    group_users = {g: rng.sample(_USERS, rng.randint(3, 6)) for g in groups}
    n_routine = max(8, round(n / 420))
    n_unique = max(2, round(n / 2500))
    projects: list[_Project] = []
    names_seen: dict[str, set[str]] = defaultdict(set)

    def new_name(group: str, base: str) -> str:
        name, k = _folder_name(base), 2
        while name.lower() in names_seen[group]:
            name, k = f"{_folder_name(base)}_{k}", k + 1
        names_seen[group].add(name.lower())
        return name

    span = y1 - y0 + 1
    for i in range(n_routine + n_unique):
        unique = i >= n_routine
        group = groups[i % len(groups)] if i < len(groups) else rng.choice(groups)
        users = group_users[group]
        user = rng.choice(users)
        topic = rng.choice(_TOPICS)
        if unique:
            name = new_name(group, rng.choice((f"one-off {topic}", f"{user}_test", f"sample for {user}",
                                                f"{topic} check")))
        else:
            name = new_name(group, topic)
        style = rng.random()
        if style < 0.2:
            folder = f"{group}/{user}_{name}"
        elif style < 0.27:
            folder = f"{group}/projects/{name}"
        else:
            folder = f"{group}/{name}"
        duration = rng.randint(1, 6)
        start = rng.randint(y0 - 2, y1) if span > 1 else y0
        start = max(y0, min(start, y1))
        samples = rng.sample(_SAMPLES, rng.randint(1, 4))
        projects.append(_Project(
            group=group, name=name, folder=folder, start=start, end=min(y1, start + duration - 1),
            weight=rng.lognormvariate(0, 0.9), affinity=_choice(rng, (("SEM", 0.6), ("TEM", 0.2), ("both", 0.2))),
            date_style=_choice(rng, _DATE_STYLES), deep=rng.random() < 0.12, users=[user] + rng.sample(users, 1),
            samples=samples, unique=rng.randint(2, 10) if unique else 0,
        ))
    return projects


_ELIGIBLE = {"SEM": ("SEM", "both"), "STEM": ("SEM", "both", "TEM"), "TEM": ("TEM", "both")}


def _workday(rng: random.Random, year: int) -> date:
    first = date(year, 1, 1)
    days = (date(year + 1, 1, 1) - first).days
    while True:
        day = first + timedelta(days=rng.randrange(days))
        if day.weekday() < 5 or rng.random() < 0.1:
            return day


def _streams(n: int, years: list[int], instruments: Sequence[str]) -> dict[int, dict[tuple[str, str], int]]:
    """Exact number of acquisitions per year and (instrument, technique)."""
    has_tem = "HT7700" in instruments
    su = [i for i in instruments if i in ("SU8000", "SU8230")]
    per_year = allocate(n, [_year_weight(y) for y in years])
    if has_tem and su:
        tem_total = round(n * PAPER_TEM / PAPER_IMAGES)
        stem_total = round(n * STEM_SHARE)
    elif has_tem:
        tem_total, stem_total = n, 0
    else:
        tem_total, stem_total = 0, round(n * STEM_SHARE)
    tem = allocate(tem_total, [c * _TEM_VAR.get(y, 1.0) for c, y in zip(per_year, years)])
    stem = allocate(stem_total, [c * _STEM_VAR.get(y, 1.0) for c, y in zip(per_year, years)])
    out: dict[int, dict[tuple[str, str], int]] = {}
    for y, total, t, s in zip(years, per_year, tem, stem):
        t, s = min(t, total), min(s, max(0, total - t))
        sem = total - t - s
        streams: dict[tuple[str, str], int] = {}
        if t:
            streams[("HT7700", "TEM")] = t
        if su:
            if len(su) == 2:
                f = _su8000_share(y)
                weights = [f, 1 - f]
            else:
                weights = [1.0]
            for tech, count in (("SEM", sem), ("STEM", s)):
                for inst, c in zip(su, allocate(count, weights)):
                    if c:
                        streams[(inst, tech)] = c
        out[y] = streams
    return out


def _session_size(rng: random.Random, technique: str) -> int:
    mean = {"SEM": 24, "TEM": 20, "STEM": 10}[technique]
    return min(250, 1 + int(rng.expovariate(1 / mean)))


def plan_archive(
    n_images: int,
    *,
    seed: int = 0,
    years: tuple[int, int] = PAPER_YEARS,
    instruments: Sequence[str] = INSTRUMENTS,
) -> _Plan:
    """Decide every acquisition (no file is written)."""
    y0, y1 = int(years[0]), int(years[1])
    if y1 < y0:
        raise ValueError(f"years {years}: the last year comes before the first")
    unknown = set(instruments) - set(INSTRUMENTS)
    if unknown or not instruments:
        raise ValueError(f"instruments must be among {INSTRUMENTS}, got {tuple(instruments)}")
    rng = random.Random(f"emcensus-demo/{seed}")
    year_list = list(range(y0, y1 + 1))
    streams = _streams(n_images, year_list, instruments)
    projects = _make_projects(rng, n_images, y0, y1)
    plan = _Plan()
    counters = {"data_number": defaultdict(int), "frame": 0}

    def eligible(year: int, technique: str) -> tuple[list[_Project], list[float]]:
        pool = [p for p in projects if not p.unique and p.start <= year <= p.end and p.affinity in _ELIGIBLE[technique]]
        if not pool:
            pool = [p for p in projects if not p.unique and p.start <= year <= p.end] or [p for p in projects if not p.unique]
        weights = list(_accumulate(p.weight for p in pool))
        return pool, weights

    # one-off projects first: a single session of 2-10 images in their start year
    sessions: list[tuple[int, str, str, _Project, int]] = []
    for p in projects:
        if not p.unique:
            continue
        year = p.start
        options = [(k, c) for k, c in streams[year].items() if c >= p.unique and k[1] in _techniques_for(p.affinity)]
        options = options or [(k, c) for k, c in streams[year].items() if c >= p.unique]
        if not options:
            continue
        (inst, tech), _ = rng.choice(sorted(options))
        streams[year][(inst, tech)] -= p.unique
        sessions.append((year, inst, tech, p, p.unique))
    for year in year_list:
        cache: dict[str, tuple[list[_Project], list[float]]] = {}
        for (inst, tech), count in sorted(streams[year].items()):
            if tech not in cache:
                cache[tech] = eligible(year, tech)
            pool, cum = cache[tech]
            remaining = count
            while remaining > 0:
                size = min(remaining, _session_size(rng, tech))
                project = rng.choices(pool, cum_weights=cum)[0]
                sessions.append((year, inst, tech, project, size))
                remaining -= size
    for year, inst, tech, project, size in sessions:
        _plan_session(rng, plan, counters, seed, year, inst, tech, project, size)
    _assign_sidecars(rng, plan, n_images)
    _add_orphans(rng, plan, n_images)
    _add_copies(rng, plan, y1)
    _guarantee_variety(rng, plan)
    return plan


def _techniques_for(affinity: str) -> tuple[str, ...]:
    return {"SEM": ("SEM", "STEM"), "TEM": ("TEM", "STEM"), "both": ("SEM", "TEM", "STEM")}[affinity]


def _accumulate(values: Iterable[float]) -> list[float]:
    out, total = [], 0.0
    for v in values:
        total += v
        out.append(total)
    return out


def _unique_stem(plan: _Plan, root: str, folder: str, wanted: str) -> str:
    used = plan.used[(root, folder)]
    stem, k = wanted, 2
    while stem.lower() in used:
        stem, k = f"{wanted} ({k})", k + 1
    used.add(stem.lower())
    return stem


def _plan_session(rng, plan, counters, seed, year, inst, tech, project: _Project, size: int) -> None:
    model = _model(inst, year)
    day = _workday(rng, year)
    when = datetime(day.year, day.month, day.day, rng.randint(8, 17), rng.randrange(60), rng.randrange(60))
    date_folder = day.strftime(project.date_style) if project.date_style else None
    folder = project.folder + (f"/{date_folder}" if date_folder else "")
    sample = rng.choice(project.samples)
    if project.deep:
        folder += f"/{_folder_name(sample)}" if rng.random() < 0.7 else "/raw"
    width, height = _choice(rng, _SIZES[inst])
    encoding = _choice(rng, _ENCODING_WEIGHTS[model])
    date_format = "YYYY/MM/DD" if model == "Regulus8230" or (inst == "HT7700" and year >= 2017) else "MM/DD/YYYY"
    user = rng.choice(project.users)
    primary = _choice(rng, ((".tif", 0.97), (".jpg", 0.03)) if inst == "HT7700" else ((".tif", 0.93), (".jpg", 0.05), (".bmp", 0.02)))
    exports: list[str] = []
    if primary == ".tif":
        if rng.random() < 0.12:
            exports.append(".jpg")
        if rng.random() < 0.02:
            exports.append(".bmp")
    renamed = rng.random() < 0.08
    naming = rng.random()
    main_detector = _choice(rng, _DETECTORS[(inst, tech)]) if tech != "TEM" else None
    kv_session = _kv(rng, tech, _FAMILY.get(main_detector) if main_detector else None)
    wd_session = _wd_um(rng, tech, main_detector)
    comment_pool = _COMMENTS_CP932 if encoding == "cp932" else _COMMENTS_CP1252
    pc_dir = ("D:\\HT7700\\Data\\" if inst == "HT7700" else "C:\\SemImage\\") + f"{project.group}\\{user}\\"
    for i in range(size):
        counters["frame"] += 1
        frame_id = counters["frame"]
        counters["data_number"][inst] += 1
        number = counters["data_number"][inst] % 10000
        detector = main_detector
        if tech != "TEM" and rng.random() < 0.3:
            detector = _choice(rng, _DETECTORS[(inst, tech)])
        family = _FAMILY.get(detector) if detector else None
        mag = _magnification(rng, tech, family)
        kv = kv_session if rng.random() < 0.85 else _kv(rng, tech, family)
        wd = wd_session if wd_session is None or rng.random() < 0.7 else _wd_um(rng, tech, detector)
        if naming < 0.55:
            wanted = f"{sample}_{i + 1:03d}"
        elif naming < 0.7:
            wanted = f"{sample}{i + 1:02d}"
        elif naming < 0.85:
            wanted = f"{sample}_x{mag / 1000:g}k_{i + 1:02d}" if mag >= 1000 else f"{sample}_x{mag}_{i + 1:02d}"
        elif naming < 0.95:
            wanted = f"{model}_{number:04d}"
        else:
            wanted = f"{sample} ({i + 1})"
        stem = _unique_stem(plan, inst, folder, wanted)
        image_name = (f"{'画像' if encoding == 'cp932' else 'Image'}_{number:04d}{primary}" if renamed else f"{stem}{primary}")
        pixel_nm = (TEM_CAMERA_WIDTH_NM if tech == "TEM" else HITACHI_REFERENCE_NM) / mag / width
        plan.frames.append({
            "id": frame_id, "instrument": inst, "model": model, "technique": tech, "detector": detector,
            "family": family, "magnification": mag, "kv": kv, "wd_um": wd, "width": width, "height": height,
            "pixel_size_m": pixel_nm * 1e-9, "variant": rng.randrange(1 << 16), "when": when, "year": year,
            "folder": folder, "stem": stem, "primary_ext": primary, "exports": list(exports),
            "sidecar": True, "encoding": encoding, "date_format": date_format, "image_name": image_name,
            "data_number": f"{model} {number:04d}", "sample": sample, "pc_directory": pc_dir,
            "comment": rng.choice(comment_pool) if rng.random() < 0.15 else "", "user": user,
            "emission_na": rng.randint(7000, 20000) if tech != "TEM" else rng.randint(6000, 9000),
            "condenser": rng.randint(3000, 9999), "stage_x": rng.randint(0, 35_000_000),
            "stage_y": rng.randint(0, 35_000_000), "saved": rng.uniform(0.5, 4.0), "orphan": False, "copies": [],
        })
        when += timedelta(seconds=rng.randint(15, 240))


def _assign_sidecars(rng: random.Random, plan: _Plan, n: int) -> None:
    """Exactly n - n*141,681/152,097 frames lose their sidecar; most of them HT7700 sessions."""
    without = n - round(n * PAPER_WITH_METADATA / PAPER_IMAGES)
    tem = [f for f in plan.frames if f["technique"] == "TEM"]
    other = [f for f in plan.frames if f["technique"] != "TEM"]
    tem_budget = min(len(tem), round(without * 0.69))
    other_budget = min(len(other), without - tem_budget)
    tem_budget = min(len(tem), without - other_budget)
    # TEM: whole sessions (camera software that wrote no sidecar), in random order
    sessions: dict[tuple, list[dict]] = defaultdict(list)
    for f in tem:
        sessions[(f["folder"], f["when"].date(), f["encoding"])].append(f)
    keys = sorted(sessions, key=lambda k: (k[0], k[1].isoformat(), k[2]))
    rng.shuffle(keys)
    left = tem_budget
    for key in keys:
        if left <= 0:
            break
        for f in sessions[key][:left]:
            f["sidecar"] = False
        left -= min(left, len(sessions[key]))
    for f in rng.sample(other, other_budget):
        f["sidecar"] = False


def _add_orphans(rng: random.Random, plan: _Plan, n: int) -> None:
    """Sidecars whose image was deleted (a retake; the bad shot removed, its .txt forgotten)."""
    count = round(n * ORPHAN_SHARE) or (1 if n >= 30 else 0)
    candidates = [f for f in plan.frames if f["sidecar"]]
    next_id = max((f["id"] for f in plan.frames), default=0)
    for base in rng.sample(candidates, min(count, len(candidates))):
        next_id += 1
        orphan = dict(base)
        orphan.update(
            id=next_id, orphan=True, exports=[], copies=[],
            stem=_unique_stem(plan, base["instrument"], base["folder"], f"{base['stem']}_2"),
            when=base["when"] + timedelta(seconds=rng.randint(10, 60)),
            magnification=nice_magnification(base["magnification"] * 1.25), variant=rng.randrange(1 << 16),
        )
        orphan["image_name"] = orphan["stem"] + orphan["primary_ext"]
        orphan["pixel_size_m"] = base["pixel_size_m"] * base["magnification"] / orphan["magnification"]
        plan.frames.append(orphan)


def _add_copies(rng: random.Random, plan: _Plan, last_year: int) -> None:
    """About 3 % of sessions partly copied later into `{group}/_shared/{project}` or `export/{user}/{YYYY-MM}`."""
    sessions: dict[tuple, list[dict]] = defaultdict(list)
    for f in plan.frames:
        if not f["orphan"]:
            sessions[(f["instrument"], f["folder"], f["when"].date())].append(f)
    cap = datetime(last_year + 1, 1, 31, 12)  # no copy far beyond the archive's last year
    for key in sorted(sessions, key=lambda k: (k[0], k[1], k[2].isoformat())):
        if rng.random() >= 0.03:
            continue
        frames = sessions[key]
        chosen = [f for f in frames if rng.random() < 0.6] or frames[:1]
        first = frames[0]
        copied = first["when"] + timedelta(days=rng.uniform(1, 700))
        copied = min(copied, cap) if cap > first["when"] + timedelta(days=1) else first["when"] + timedelta(days=1)
        group = first["folder"].split("/")[0]
        project = first["folder"].split("/")[1] if "/" in first["folder"] else "misc"
        if rng.random() < 0.6:
            target = f"{group}/_shared/{project}"
        else:
            target = f"export/{first['user']}/{copied:%Y-%m}"
        for f in chosen:
            wanted = f["stem"]
            if wanted.lower() in plan.used[(f["instrument"], target)]:
                wanted = f"{wanted} - Copy"  # as Windows Explorer names it
            stem = _unique_stem(plan, f["instrument"], target, wanted)
            f["copies"].append((target, stem, copied + timedelta(seconds=rng.uniform(0, 30))))


def _guarantee_variety(rng: random.Random, plan: _Plan) -> None:
    """Small archives still hold one of each case the tests look for."""
    originals = [f for f in plan.frames if not f["orphan"]]
    if len(originals) < 30:
        return
    with_sidecar = [f for f in originals if f["sidecar"]]
    present = {f["encoding"] for f in with_sidecar} | {o["encoding"] for o in plan.frames if o["orphan"]}
    spare = [f for f in with_sidecar if f["encoding"] == "cp1252"]
    for encoding in ("utf-16-le-bom", "cp932"):
        if encoding not in present and spare:
            f = spare.pop(rng.randrange(len(spare)))
            f["encoding"] = encoding
    if not any(".jpg" in f["exports"] for f in originals):
        tifs = [f for f in originals if f["primary_ext"] == ".tif"]
        if tifs:
            rng.choice(tifs)["exports"].append(".jpg")
    if not any(".bmp" in f["exports"] or f["primary_ext"] == ".bmp" for f in originals):
        tifs = [f for f in originals if f["primary_ext"] == ".tif" and ".bmp" not in f["exports"]]
        if tifs:
            rng.choice(tifs)["exports"].append(".bmp")
    if not any(f["copies"] for f in originals):
        f = rng.choice(originals)
        target = f"{f['folder'].split('/')[0]}/_shared"
        stem = _unique_stem(plan, f["instrument"], target, f["stem"])
        f["copies"].append((target, stem, f["when"] + timedelta(days=30)))


# --------------------------------------------------------------------------- files of a frame


def _outputs(f: dict) -> list[tuple[str, str, datetime, str]]:
    """(relative path, content kind, mtime, role) of every file a frame leaves on disk."""
    inst = f["instrument"]
    saved = f["when"] + timedelta(seconds=f["saved"])
    out: list[tuple[str, str, datetime, str]] = []
    if f["orphan"]:
        return [(f"{inst}/{f['folder']}/{f['stem']}.txt", "txt", saved, "orphan")]
    exts = [f["primary_ext"]] + f["exports"]
    for folder, stem, mtime, copy in [(f["folder"], f["stem"], saved, False)] + [
        (folder, stem, when, True) for folder, stem, when in f["copies"]
    ]:
        for k, ext in enumerate(exts):
            role = ("copy-" if copy else "") + ("export" if k else "primary")
            out.append((f"{inst}/{folder}/{stem}{ext}", ext[1:], mtime + timedelta(seconds=k), role))
        if f["sidecar"]:
            out.append((f"{inst}/{folder}/{stem}.txt", "txt", mtime, "copy-sidecar" if copy else "sidecar"))
    return out


def _manifest_rows(plan: _Plan) -> tuple[list[ManifestFile], list[OrphanSidecar], list[str]]:
    files: list[ManifestFile] = []
    orphans: list[OrphanSidecar] = []
    sidecars: list[str] = []
    for f in plan.frames:
        outputs = _outputs(f)
        if f["orphan"]:
            orphans.append(OrphanSidecar(outputs[0][0], f["instrument"], f["technique"], f["year"], f["encoding"]))
            sidecars.append(outputs[0][0])
            continue
        sidecar_by_folder = {p.rsplit("/", 1)[0]: p for p, kind, _, _ in outputs if kind == "txt"}
        sidecars.extend(sidecar_by_folder.values())
        for path, kind, mtime, role in outputs:
            if kind == "txt":
                continue
            files.append(ManifestFile(
                path=path, frame=f["id"], instrument=f["instrument"], model=f["model"], technique=f["technique"],
                detector=f["detector"], detector_family=f["family"], magnification=f["magnification"],
                accelerating_voltage_v=int(round(f["kv"] * 1000)),
                working_distance_m=round(f["wd_um"] * 1e-6, 9) if f["wd_um"] is not None else None,
                pixel_size_m=f["pixel_size_m"], width=f["width"], height=f["height"], year=f["year"],
                acquired_at=f["when"].isoformat(timespec="seconds"), mtime=mtime.isoformat(timespec="seconds"),
                format=_EXT_FORMAT["." + kind], sidecar=sidecar_by_folder.get(path.rsplit("/", 1)[0]),
                sidecar_encoding=f["encoding"] if f["sidecar"] else None,
                date_format=f["date_format"] if f["sidecar"] else None,
                image_name=f["image_name"] if f["sidecar"] else None,
                duplicate_export=role.endswith("export"), copy=role.startswith("copy"),
            ))
    return files, orphans, sidecars


# --------------------------------------------------------------------------- writing

_BANK: Any = None


def _bank(seed: int):
    global _BANK
    from emcensus.demo.pixels import PixelBank

    if _BANK is None or _BANK.seed != seed:
        _BANK = PixelBank(seed)
    return _BANK


_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)


def _write_frames(dest: str, seed: int, frames: list[dict]) -> int:
    """Write every file of `frames` under `dest` and set their mtimes. Returns the number of files."""
    from emcensus.demo.pixels import encode_pillow, frame_stamp, stamped_array, stamped_tiff

    bank = _bank(seed)
    made: set[str] = set()
    written = 0
    for f in frames:
        kind = f["technique"]
        stamp = frame_stamp(seed, f["id"])
        specimen = "/".join(f["folder"].split("/")[:2] + [f["sample"]])  # a project's sample: one texture
        contents: dict[str, bytes] = {}
        for rel, content, mtime, _role in _outputs(f):
            data = contents.get(content)
            if data is None:
                if content == "txt":
                    data = encode_sidecar(sidecar_text(f), f["encoding"])
                elif content == "tif":
                    data = stamped_tiff(bank, f["width"], f["height"], kind, f["variant"], stamp, specimen)
                else:
                    arr = stamped_array(bank, f["width"], f["height"], kind, f["variant"], stamp, specimen)
                    data = encode_pillow(arr, "jpeg" if content == "jpg" else "bmp")
                contents[content] = data
            path = os.path.join(dest, rel)
            parent = os.path.dirname(path)
            if parent not in made:
                os.makedirs(parent, exist_ok=True)
                made.add(parent)
            # os.open/os.write: fewer system calls than io.open (creating files dominates the time)
            fd = os.open(path, _CREATE_FLAGS, 0o644)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
            stamp_time = mtime.timestamp()
            os.utime(path, (stamp_time, stamp_time))
            written += 1
    return written


def _set_folder_mtimes(dest: Path, plan: _Plan) -> None:
    """Folders carry the time of their newest file, as after a copy that preserves times."""
    newest: dict[str, float] = {}
    for f in plan.frames:
        for rel, _, mtime, _ in _outputs(f):
            t = mtime.timestamp()
            parts = rel.split("/")[:-1]
            for depth in range(1, len(parts) + 1):
                key = "/".join(parts[:depth])
                if t > newest.get(key, 0.0):
                    newest[key] = t
    for key in sorted(newest, key=lambda k: -k.count("/")):
        os.utime(dest / key, (newest[key], newest[key]))


def generate_archive(
    dest: str | os.PathLike[str],
    n_images: int = 2000,
    *,
    seed: int = 0,
    years: tuple[int, int] = PAPER_YEARS,
    instruments: Sequence[str] = INSTRUMENTS,
    workers: int | None = None,
    overwrite: bool = False,
) -> Manifest:
    """Write an archive of `n_images` acquisitions under `dest` and return (and save) its manifest.

    `dest/<instrument>` are the roots to scan; `dest/manifest.json` is the ground truth.
    `workers`: processes writing files (default: up to 4 for big archives, 1 below 5,000 images).
    `overwrite`: replace the instrument roots and manifest a previous run left in `dest`.
    """
    t0 = time.perf_counter()
    dest = Path(dest)
    instruments = tuple(instruments)
    if n_images < 0:
        raise ValueError("n_images must be >= 0")
    existing = [dest / name for name in (*INSTRUMENTS, MANIFEST_NAME) if (dest / name).exists()]
    if existing:
        if not overwrite:
            raise FileExistsError(f"{dest} already holds a generated archive ({existing[0].name}); pass overwrite=True")
        for path in existing:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
    dest.mkdir(parents=True, exist_ok=True)

    plan = plan_archive(n_images, seed=seed, years=years, instruments=instruments)
    t_plan = time.perf_counter()

    if workers is None:
        workers = 1 if n_images < 5000 else max(1, min(4, os.cpu_count() or 1))
    chunks: dict[tuple[str, int], list[dict]] = defaultdict(list)
    for f in plan.frames:
        chunks[(f["instrument"], f["year"])].append(f)
    # big chunks split so the pool stays busy to the end
    work: list[list[dict]] = []
    for key in sorted(chunks):
        frames = chunks[key]
        step = 2500
        work.extend(frames[i : i + step] for i in range(0, len(frames), step))
    work.sort(key=len, reverse=True)
    if workers <= 1 or len(work) <= 1:
        written = sum(_write_frames(str(dest), seed, w) for w in work)
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        from emcensus.demo.pixels import all_tiles, install_tiles

        context = multiprocessing.get_context("forkserver" if sys.platform != "win32" else "spawn")
        # texture tiles rendered once here, not once per worker
        with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=install_tiles,
                                 initargs=(all_tiles(),)) as pool:
            written = sum(pool.map(_write_frames, [str(dest)] * len(work), [seed] * len(work), work))
    _set_folder_mtimes(dest, plan)
    t_write = time.perf_counter()

    files, orphans, sidecars = _manifest_rows(plan)
    manifest = Manifest(
        root=dest, seed=seed, n_images=n_images, years=(int(years[0]), int(years[1])),
        instruments=tuple(i for i in INSTRUMENTS if i in instruments),
        files=files, orphan_sidecars=orphans, sidecars=sidecars,
    )
    manifest.summary = manifest.compute_summary()
    manifest.save()
    t_end = time.perf_counter()
    manifest.timings = {"plan_s": t_plan - t0, "write_s": t_write - t_plan, "manifest_s": t_end - t_write,
                        "total_s": t_end - t0, "files_written": float(written), "workers": float(workers)}
    return manifest


# --------------------------------------------------------------------------- command line


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m emcensus.demo.generate",
        description="Write a synthetic Hitachi facility archive (SU8000, SU8230, HT7700) with its ground truth.",
    )
    parser.add_argument("dest", type=Path, help="folder to create the archive in")
    parser.add_argument("--images", type=int, default=2000, help="acquisitions to generate (default 2000)")
    parser.add_argument("--paper", action="store_true", help=f"the paper's scale: {PAPER_IMAGES:,} images, 2011-2023")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--years", type=int, nargs=2, metavar=("FIRST", "LAST"), default=PAPER_YEARS)
    parser.add_argument("--instruments", nargs="+", choices=INSTRUMENTS, default=list(INSTRUMENTS))
    parser.add_argument("--workers", type=int, default=None, help="writing processes")
    parser.add_argument("--overwrite", action="store_true", help="replace an archive already in DEST")
    parser.add_argument("--bad-corpus", type=Path, default=None, metavar="DIR",
                        help="also write the bad-file corpus into DIR")
    args = parser.parse_args(argv)
    kwargs: dict[str, Any] = {"n_images": args.images, "years": tuple(args.years), "instruments": args.instruments}
    if args.paper:
        kwargs.update(paper_scale())
    # the importable module (not __main__) so that pool workers find the writer by name
    from emcensus.demo.generate import generate_archive as generate

    try:
        manifest = generate(args.dest, seed=args.seed, workers=args.workers, overwrite=args.overwrite, **kwargs)
    except (FileExistsError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    s = manifest.summary
    print(
        f"{s['acquisitions']:,} acquisitions in {s['image_files']:,} image files and {s['sidecar_files']:,} sidecars "
        f"({s['acquisitions_without_sidecar']:,} without sidecar, {s['orphan_sidecars']:,} orphan sidecars, "
        f"{s['duplicate_exports']:,} duplicate exports, {s['copies']:,} copies) "
        f"in {manifest.timings['total_s']:.1f} s"
    )
    print("by technique:", s["acquisitions_by_technique"])
    print("roots:", " ".join(str(r) for r in manifest.roots()))
    print("manifest:", manifest.root / MANIFEST_NAME)
    if args.bad_corpus is not None:
        from emcensus.demo.badcorpus import make_bad_corpus

        corpus = make_bad_corpus(args.bad_corpus)
        print(f"bad corpus: {len(corpus)} cases in {args.bad_corpus}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
