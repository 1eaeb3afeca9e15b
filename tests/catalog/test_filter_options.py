"""Every filter option of the query commands reaches `ImageFilter`: none is accepted and then ignored."""

from __future__ import annotations

from typing import Any

import click
import click.testing

from emcensus.cli.filters import filter_options, filter_values


def test_every_filter_option_is_handed_to_the_image_filter() -> None:
    @filter_options
    def command(**kwargs: Any) -> None: ...

    given = {param.name: f"value of {param.name}" for param in command.__click_params__}
    assert len(given) >= 19  # year ... quality_flag, path
    left = dict(given)
    filters = filter_values(left)
    assert left == {}  # no option's value stays behind unapplied
    assert filters["path"] == "value of path_glob" and filters["quality_flag"] == "value of quality_flag"
    assert sorted(filters.values()) == sorted(given.values())


def test_options_not_given_are_left_out() -> None:
    @click.command()
    @filter_options
    def command(**kwargs: Any) -> None:
        filters = filter_values(kwargs)
        click.echo(",".join(f"{key}={value}" for key, value in sorted(filters.items())))

    result = click.testing.CliRunner().invoke(command, ["--year", "2019", "--path", "*/GroupA/*"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "path=*/GroupA/*,year=2019"
