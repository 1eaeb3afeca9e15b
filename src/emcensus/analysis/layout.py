"""Group and project from the folder layout, through a pattern in the facility file.

    layout = "{group}/{project}/**"

The pattern is matched against the *folders* of a path relative to the scan root (the file name is
dropped), one pattern segment per folder:

* `{name}` captures one folder name, or part of one (`{year}-{operator}`, `proj_{project}`);
* `*` matches any part of one folder name, `?` one character;
* `**` (a whole segment) matches zero or more folders.

So with `{group}/{project}/**`, `groupA/p1/2016-06-23/img.tif` gives `{"group": "groupA",
"project": "p1"}`, while a file lying directly in `groupA/` matches nothing and gives `{}`: a file
name is never taken for a project.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from emcensus.errors import ConfigError

_TOKEN = re.compile(r"\{([^{}]*)\}|\*|\?|[{}]|[^{}*?]+")


@dataclass(frozen=True, slots=True)
class Layout:
    """A compiled layout pattern; call it with a relative file path to get its fields."""

    pattern: str
    fields: tuple[str, ...]
    _regex: re.Pattern[str]

    def __call__(self, relpath: str) -> dict[str, str]:
        """Fields of the file at `relpath` (relative to its scan root); {} when the layout does not fit."""
        folders = [part for part in relpath.replace("\\", "/").split("/") if part not in ("", ".")][:-1]
        match = self._regex.match("".join(f"{folder}/" for folder in folders))
        return dict(match.groupdict()) if match else {}


def _segment_regex(segment: str, pattern: str, seen: list[str]) -> str:
    parts = []
    for token in _TOKEN.finditer(segment):
        text, name = token.group(0), token.group(1)
        if name is not None:
            if not name.isidentifier():
                raise ConfigError(f"layout {pattern!r}: {{{name}}} is not a valid field name")
            if name in seen:
                raise ConfigError(f"layout {pattern!r}: field {{{name}}} appears twice")
            seen.append(name)
            parts.append(f"(?P<{name}>[^/]+?)")
        elif text in ("{", "}"):
            raise ConfigError(f"layout {pattern!r}: unbalanced brace in {segment!r}")
        elif text == "*":
            parts.append("[^/]*")
        elif text == "?":
            parts.append("[^/]")
        else:
            parts.append(re.escape(text))
    return "".join(parts)


def compile_layout(pattern: str) -> Layout:
    """Turn a facility-file layout pattern into a matcher; bad patterns raise ConfigError."""
    segments = [part for part in pattern.strip().replace("\\", "/").split("/") if part]
    if not segments:
        raise ConfigError("layout pattern is empty")
    seen: list[str] = []
    regex = []
    for segment in segments:
        if segment == "**":
            regex.append("(?:[^/]+/)*")
        elif "**" in segment:
            raise ConfigError(f"layout {pattern!r}: '**' must be a whole folder, not part of {segment!r}")
        else:
            regex.append(_segment_regex(segment, pattern, seen) + "/")
    return Layout(pattern, tuple(seen), re.compile("^" + "".join(regex) + "$"))
