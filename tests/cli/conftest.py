"""CLI fixtures: a runner bound to a catalog of its own, and that catalog scanned from `tiny_archive`."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from emcensus.cli.main import main


@pytest.fixture
def cli(tmp_path: Path):
    runner = CliRunner()
    catalog = tmp_path / "census.sqlite"

    def invoke(*args: str, ok: bool = True):
        result = runner.invoke(main, ["--catalog", str(catalog), *args], catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return invoke


@pytest.fixture
def census(cli, tiny_archive: Path, tmp_path: Path):
    """tiny_archive scanned through a facility file with a `{group}/{project}/**` layout."""
    config = tmp_path / "facility.toml"
    config.write_text(f'[facility]\nlayout = "{{group}}/{{project}}/**"\n\n'
                      f'[[instrument]]\nname = "SU8230"\nroots = ["{tiny_archive}"]\n')
    cli("scan", "--config", str(config), "--workers", "0", "--quiet")
    return cli
