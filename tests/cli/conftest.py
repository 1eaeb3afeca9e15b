"""CLI fixtures: a runner bound to a catalog of its own, and that catalog scanned from `tiny_archive`."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import catalog_cli


@pytest.fixture
def cli(tmp_path: Path):
    return catalog_cli(tmp_path / "census.sqlite")


@pytest.fixture
def census(cli, tiny_archive: Path, tmp_path: Path):
    """tiny_archive scanned through a facility file with a `{group}/{project}/**` layout."""
    config = tmp_path / "facility.toml"
    config.write_text(f'[facility]\nlayout = "{{group}}/{{project}}/**"\n\n'
                      f'[[instrument]]\nname = "SU8230"\nroots = ["{tiny_archive}"]\n')
    cli("scan", "--config", str(config), "--workers", "0", "--quiet")
    return cli
