"""`check_text` counts control characters on the text's UTF-8 bytes (in C): it refuses exactly the
texts the character count (a regex over the text) refused, every character and surrogate included."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emcensus.errors import UnreadableFileError
from emcensus.readers.base import check_text

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f]")  # tab, newlines and form feed are text
_CHARACTERS = st.one_of(st.characters(max_codepoint=0x20), st.characters(codec=None),
                        st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF))


def _refused(text: str) -> bool:
    try:
        check_text(text)
    except UnreadableFileError:
        return True
    return False


@settings(max_examples=300, deadline=None)
@given(st.text(_CHARACTERS, max_size=200), st.integers(0, 5000))
def test_refuses_what_the_character_count_refused(text: str, padding: int) -> None:
    for candidate in (text, "é" * padding + text, text + "x" * padding):
        sample = candidate[:4096]
        assert _refused(candidate) == (len(_CONTROL.findall(sample)) > 0.05 * len(sample))


@pytest.mark.parametrize(("text", "refused"), [
    ("a" * 95 + "\x00" * 5, False), ("a" * 94 + "\x01" * 6, True), ("\t\n\r\x0c" * 50, False),
    ("ü" * 95 + "\x1f" * 6, True), ("\x0b" + "a" * 4096 + "\x00" * 4096, False),  # past the first 4,096
])
def test_the_threshold_and_the_characters_that_count(text: str, refused: bool) -> None:
    assert _refused(text) == refused
