"""The archive of near-duplicates the quality tests share (`quality_support.build_duplicate_archive`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from quality.quality_support import DuplicateArchive, build_duplicate_archive


@pytest.fixture
def duplicate_archive(tmp_path: Path) -> Iterator[DuplicateArchive]:
    archive = build_duplicate_archive(tmp_path)
    yield archive
    archive.catalog.close()
