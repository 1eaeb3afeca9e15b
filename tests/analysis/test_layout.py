"""Group/project from the folder layout."""

from __future__ import annotations

import pytest

from emcensus.analysis.layout import compile_layout
from emcensus.errors import ConfigError


def test_group_project_and_deeper_folders():
    layout = compile_layout("{group}/{project}/**")
    assert layout.fields == ("group", "project")
    assert layout("groupA/p1/2016-06-23/img001.tif") == {"group": "groupA", "project": "p1"}
    assert layout("groupA/p1/img001.tif") == {"group": "groupA", "project": "p1"}
    assert layout("groupB\\p2\\deep\\er\\x.tif") == {"group": "groupB", "project": "p2"}


def test_file_name_is_never_a_field():
    layout = compile_layout("{group}/{project}/**")
    assert layout("groupA/img.tif") == {}
    assert layout("img.tif") == {}


def test_exact_depth_without_double_star():
    layout = compile_layout("{group}/{project}")
    assert layout("g/p/x.tif") == {"group": "g", "project": "p"}
    assert layout("g/p/extra/x.tif") == {}


def test_star_and_partial_fields():
    layout = compile_layout("users/*/{year}-{operator}/proj_{project}/**")
    assert layout("users/anna/2019-ak/proj_MOF5/a/b.tif") == {"year": "2019", "operator": "ak", "project": "MOF5"}
    assert layout("users/anna/2019-ak/other/b.tif") == {}
    assert layout("people/anna/2019-ak/proj_x/b.tif") == {}


def test_leading_double_star_takes_the_deepest_match():
    layout = compile_layout("**/{project}")
    assert layout("a/b/c/img.tif") == {"project": "c"}
    assert compile_layout("**")("a/b.tif") == {}


def test_literals_are_not_regular_expressions():
    layout = compile_layout("data.v1/{group}")
    assert layout("data.v1/g/x.tif") == {"group": "g"}
    assert layout("dataXv1/g/x.tif") == {}


@pytest.mark.parametrize("pattern", ["", "{group}/{group}", "{1x}", "{group/x", "a**b/{g}", "{}"])
def test_bad_patterns_raise_config_error(pattern):
    with pytest.raises(ConfigError):
        compile_layout(pattern)
