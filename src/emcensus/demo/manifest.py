"""Ground truth of a generated archive: every image file, what it is, and summary counters.

Stored as `manifest.json` next to the instrument roots (`dest/SU8000`, `dest/SU8230`,
`dest/HT7700`), never inside them, so a scan of the roots does not see it. File rows are stored
column-wise (a header and one list per file) to keep a 150,000-image manifest small.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from emcensus.outputs import whole_file

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1


@dataclass(slots=True)
class ManifestFile:
    """One generated image file. Paths are POSIX, relative to the archive folder (`Manifest.root`)."""

    path: str
    frame: int  # acquisition id: exports and copies of one frame share it
    instrument: str  # instrument root folder: SU8000 | SU8230 | HT7700
    model: str  # InstructName the microscope writes (SU8000, SU8230, Regulus8230, HT7700)
    technique: str  # SEM | TEM | STEM
    detector: str | None  # raw SignalName (None for TEM)
    detector_family: str | None  # SE, LA-BSE, HA-BSE, PDBSE, TE, BF-STEM, DF-STEM or None
    magnification: int
    accelerating_voltage_v: int
    working_distance_m: float | None
    pixel_size_m: float  # as the sidecar writes it (also for frames without one)
    width: int
    height: int
    year: int
    acquired_at: str  # ISO, local time, as the sidecar's Date/Time say
    mtime: str  # ISO, local time, the file's modification time
    format: str  # tiff | jpeg | bmp (the real content; extensions match here)
    sidecar: str | None  # relative path of the paired sidecar, None when the frame has none
    sidecar_encoding: str | None  # cp1252 | utf-16-le-bom | cp932
    date_format: str | None  # MM/DD/YYYY | YYYY/MM/DD
    image_name: str | None  # the sidecar's ImageName= (differs from the file name after a rename)
    duplicate_export: bool  # another format (.jpg/.bmp) of a frame whose primary file exists too
    copy: bool  # a later copy into another folder (_shared/, export/)

    @property
    def has_sidecar(self) -> bool:
        return self.sidecar is not None

    @property
    def renamed(self) -> bool:
        return self.image_name is not None and os.path.splitext(self.image_name)[0] != Path(self.path).stem


COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(ManifestFile))


@dataclass(slots=True)
class OrphanSidecar:
    """A sidecar whose image was deleted."""

    path: str
    instrument: str
    technique: str
    year: int
    encoding: str


@dataclass
class Manifest:
    root: Path
    seed: int
    n_images: int
    years: tuple[int, int]
    instruments: tuple[str, ...]
    files: list[ManifestFile] = field(default_factory=list)
    orphan_sidecars: list[OrphanSidecar] = field(default_factory=list)
    sidecars: list[str] = field(default_factory=list)  # every sidecar written, orphans and copies included
    summary: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)  # not saved: differs run to run

    # ------------------------------------------------------------------ views
    def roots(self) -> list[Path]:
        """The instrument roots a scan should be given."""
        return [self.root / name for name in self.instruments if (self.root / name).is_dir()]

    def originals(self) -> list[ManifestFile]:
        """One file per acquisition: the primary file in its first folder."""
        return [f for f in self.files if not f.duplicate_export and not f.copy]

    def abspath(self, rel: str) -> Path:
        return self.root / rel

    # ---------------------------------------------------------------- summary
    def compute_summary(self) -> dict[str, Any]:
        originals = self.originals()
        by_year_tech: dict[str, dict[str, int]] = {}
        files_by_year_tech: dict[str, dict[str, int]] = {}
        for y in range(self.years[0], self.years[1] + 1):
            by_year_tech[str(y)] = {"SEM": 0, "TEM": 0, "STEM": 0}
            files_by_year_tech[str(y)] = {"SEM": 0, "TEM": 0, "STEM": 0}
        for f in originals:
            by_year_tech[str(f.year)][f.technique] += 1
        for f in self.files:
            files_by_year_tech[str(f.year)][f.technique] += 1
        ext = Counter(os.path.splitext(f.path)[1].lower() for f in self.files)
        return {
            "image_files": len(self.files),
            "acquisitions": len(originals),
            "acquisitions_with_sidecar": sum(1 for f in originals if f.sidecar),
            "acquisitions_without_sidecar": sum(1 for f in originals if not f.sidecar),
            "duplicate_exports": sum(1 for f in self.files if f.duplicate_export and not f.copy),
            "copies": sum(1 for f in self.files if f.copy),
            "sidecar_files": len(self.sidecars),
            "orphan_sidecars": len(self.orphan_sidecars),
            "renamed": sum(1 for f in originals if f.renamed),
            "acquisitions_by_technique": dict(sorted(Counter(f.technique for f in originals).items())),
            "acquisitions_by_instrument": dict(sorted(Counter(f.instrument for f in originals).items())),
            "acquisitions_by_model": dict(sorted(Counter(f.model for f in originals).items())),
            "acquisitions_by_detector_family": dict(
                sorted(Counter(f.detector_family or "none" for f in originals).items())
            ),
            "sidecar_encodings": dict(sorted(Counter(f.sidecar_encoding for f in originals if f.sidecar).items())),
            "files_by_extension": dict(sorted(ext.items())),
            "acquisitions_by_year_technique": by_year_tech,
            "files_by_year_technique": files_by_year_tech,
        }

    # ------------------------------------------------------------------- I/O
    def to_json(self) -> dict[str, Any]:
        return {
            "emcensus_demo_manifest": MANIFEST_VERSION,
            "seed": self.seed,
            "n_images": self.n_images,
            "years": list(self.years),
            "instruments": list(self.instruments),
            "summary": self.summary,
            "columns": list(COLUMNS),
            "files": [[getattr(f, c) for c in COLUMNS] for f in self.files],
            "orphan_sidecars": [asdict(o) for o in self.orphan_sidecars],
            "sidecars": self.sidecars,
        }

    def save(self, path: str | os.PathLike[str] | None = None) -> Path:
        target = Path(path) if path is not None else self.root / MANIFEST_NAME
        with whole_file(target) as partial, open(partial, "w", encoding="utf-8") as handle:
            json.dump(self.to_json(), handle, ensure_ascii=False, separators=(",", ":"))
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Manifest:
        """Read `manifest.json` (or the archive folder holding it)."""
        path = Path(path)
        if path.is_dir():
            path = path / MANIFEST_NAME
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        if data.get("emcensus_demo_manifest") != MANIFEST_VERSION:
            raise ValueError(f"{path}: not an emcensus demo manifest (version {MANIFEST_VERSION})")
        columns = data["columns"]
        files = [ManifestFile(**dict(zip(columns, row))) for row in data["files"]]
        return cls(
            root=path.parent,
            seed=data["seed"],
            n_images=data["n_images"],
            years=tuple(data["years"]),
            instruments=tuple(data["instruments"]),
            files=files,
            orphan_sidecars=[OrphanSidecar(**o) for o in data["orphan_sidecars"]],
            sidecars=data["sidecars"],
            summary=data["summary"],
        )
