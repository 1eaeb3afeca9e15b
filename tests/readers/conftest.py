"""Fixtures for reader tests: the real vendor files beside the repository, skipped when absent."""

from __future__ import annotations

from pathlib import Path

import pytest

#: Real files written by vendor software (see ../shared/vendor-samples/PROVENANCE.md); never copied
#: into the repository, only read where they are.
SAMPLES_DIR = (Path(__file__).resolve().parents[2] / ".." / "shared" / "vendor-samples").resolve()


@pytest.fixture
def samples_dir() -> Path:
    """The vendor-samples folder, or a skip that says where it was looked for."""
    if not SAMPLES_DIR.is_dir():
        pytest.skip(f"../shared/vendor-samples not found: {SAMPLES_DIR} (real vendor files live beside the repo)")
    return SAMPLES_DIR


@pytest.fixture
def sample(request: pytest.FixtureRequest, samples_dir: Path) -> Path:
    """One real file, named relative to the samples folder by indirect parametrisation."""
    path = samples_dir / request.param
    if not path.is_file():
        pytest.skip(f"vendor sample missing: {path}")
    return path
