"""`per_text`: a reading process's cache of normalised texts holds short texts (and None) only."""

from __future__ import annotations

from emcensus.readers.common import per_text


def test_short_texts_are_computed_once_and_other_values_every_time() -> None:
    calls: list[object] = []

    @per_text
    def parse(text: object, *unit: str) -> object:
        calls.append(text)
        return (text, unit)

    for _ in range(2):
        assert parse("12 kV") == ("12 kV", ())
        assert parse("12", "kV") == ("12", ("kV",))
        assert parse(None) == (None, ())
    assert calls == ["12 kV", "12", None] and parse.cache_info().currsize == 3
    long, raw = "9" * 65, b"x" * 10_000
    for value in (long, raw, ["unhashable"], 1, 1.0, True):
        assert parse(value) == (value, ()) and parse(value) == (value, ())
        assert type(parse(value)[0]) is type(value)  # 1, 1.0 and True are not one key
    assert calls[3:] == [value for value in (long, raw, ["unhashable"], 1, 1.0, True) for _ in range(3)]
    assert parse.cache_info().currsize == 3  # nothing but the short texts is held
