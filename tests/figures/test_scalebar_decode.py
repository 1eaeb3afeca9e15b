"""A label's unit decoded from the recogniser's per-step output (`figures.labeldecode`), and how the
scale-bar reader uses it: a reading for a matched field of view to confirm, never a value alone."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emcensus.figures import ocr, scalebar
from emcensus.figures.barpanels import draw_scale_bar
from emcensus.figures.labeldecode import _path_log_probability, decoded_units
from emcensus.figures.ocr import LineRead
from emcensus.figures.scalebar import ScaleBar, read_scale_bar, settle_with_fov
from figures.ocr_script import scripted

CHARACTERS = ("blank", "2", ".", "5", "0", "n", "m", "u", "µ", "p", "A", " ", "j", "h", "r")


def _line(*steps: dict[str, float]) -> LineRead:
    """A read whose model output is `steps` (character -> probability at each step; the rest of each
    step's probability goes to the blank), and whose text is the greedy decode, as the model's is."""
    grid = np.zeros((len(steps), len(CHARACTERS)), np.float32)
    for row, step in zip(grid, steps):
        for character, probability in step.items():
            row[CHARACTERS.index(character)] = probability
        row[0] = max(0.0, 1 - row.sum())
    best = grid.argmax(axis=1)
    text = "".join(CHARACTERS[i] for i, previous in zip(best, [-1, *best[:-1]]) if i and i != previous)
    return LineRead(text, 0.5, grid, CHARACTERS)


# "2.5jun": µ printed over fibres read as "j" and "u", m as "n"; µ and m the runners-up
MISREAD_MICRONS = _line({"2": 0.9}, {}, {".": 0.9}, {"5": 0.9}, {}, {"j": 0.6, "µ": 0.3}, {"u": 0.6, "µ": 0.3},
                        {"n": 0.55, "m": 0.4}, {})


def test_the_unit_is_decoded_with_the_digits_kept() -> None:
    assert MISREAD_MICRONS.text == "2.5jun"
    assert decoded_units(MISREAD_MICRONS, "2.5") == ("µm",)
    assert scalebar._decoded_readings(MISREAD_MICRONS.text, MISREAD_MICRONS) == ("2.5 µm",)


def test_units_the_model_cannot_tell_apart() -> None:
    """"50hr" where n and m are equally likely at the first letter: nm and mm, both 1000x apart, for the
    field of view to tell apart; n far likelier: nm alone; where the letters may as well be p or A
    (pm, Å: 10x from nm), no unit."""
    torn = _line({"5": 0.9}, {"0": 0.9}, {}, {"h": 0.5, "n": 0.2, "m": 0.2}, {}, {"r": 0.5, "m": 0.4}, {})
    assert torn.text == "50hr"
    assert sorted(decoded_units(torn, "50")) == ["mm", "nm"]
    leaning = _line({"5": 0.9}, {"0": 0.9}, {}, {"h": 0.5, "n": 0.4, "m": 0.01}, {}, {"r": 0.5, "m": 0.4}, {})
    assert decoded_units(leaning, "50") == ("nm",)
    anything = _line({"5": 0.9}, {"0": 0.9}, {}, {"h": 0.5, "n": 0.1, "p": 0.1, "A": 0.1}, {}, {"r": 0.5, "m": 0.4}, {})
    assert decoded_units(anything, "50") == ()


@pytest.mark.parametrize(("text", "why"), [
    ("2.5 µm", "it parses: no reading is made up beside it"),
    ("2.5", "a bare number: no letters where a unit would be"),
    ("jun", "no digits"),
    ("05jun", "a leading zero: a point lost or a speck, for the FOV to settle as the reads parse"),
])
def test_reads_that_are_not_digits_then_letters_decode_nothing(text: str, why: str) -> None:
    assert scalebar._decoded_readings(text, MISREAD_MICRONS) == (), why


def test_a_model_without_steps_decodes_nothing() -> None:
    empty = LineRead("2.5jun", 0.5, ocr.NO_STEPS, ("blank",))
    assert decoded_units(empty, "2.5") == ()


def test_two_equal_glyphs_need_a_blank_between_them() -> None:
    """"mm" cannot be spelt from one run of m: CTC merges repeats, so a blank must separate them."""
    one_run = _line({"5": 0.9}, {"m": 0.9}, {"m": 0.9})
    columns = {character: i for i, character in enumerate(CHARACTERS)}
    assert _path_log_probability(one_run.steps, columns, ("5", "m", "m")) < -20
    assert _path_log_probability(one_run.steps, columns, ("5", "m")) == pytest.approx(3 * math.log(0.9))


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 5).flatmap(lambda steps: st.tuples(
    st.lists(st.lists(st.floats(0.01, 1.0), min_size=3, max_size=3), min_size=steps, max_size=steps),
    st.lists(st.sampled_from("ab"), min_size=1, max_size=3))))
def test_best_path_equals_the_best_of_every_path(case: tuple[list[list[float]], list[str]]) -> None:
    """Against brute force: the likeliest of all paths (blank, a, b at each step) that collapse to
    the spelling (repeats merged, then blanks dropped)."""
    rows, spelling = case
    steps = np.array([np.array(row) / sum(row) for row in rows], np.float32)
    best = -math.inf
    for path in itertools.product(range(3), repeat=len(rows)):
        merged = [c for i, c in enumerate(path) if i == 0 or c != path[i - 1]]
        if "".join("_ab"[c] for c in merged if c) == "".join(spelling):
            best = max(best, sum(math.log(max(float(steps[t, c]), 1e-30)) for t, c in enumerate(path)))
    found = _path_log_probability(steps, {"a": 1, "b": 2}, tuple(spelling))
    if best == -math.inf:
        assert found < -1e29
    else:
        assert found == pytest.approx(best, abs=1e-4)


def _panel() -> np.ndarray:
    field = np.full((225, 300), 90, np.uint8)
    pixels, _, _ = draw_scale_bar(field, "2.5 µm", 80, white=True, font_px=16)
    return pixels


def test_a_decoded_unit_is_a_reading_that_only_a_matched_field_of_view_confirms(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Every crop reads "2.5jun" (the label's real crops; the model's output scripted): no value from
    the reads alone, the decoded "2.5 µm" as a reading; a field of view that measures the 80 px bar as
    2.5 µm takes it, one that measures it as 2.5 nm does not."""
    monkeypatch.setattr(scalebar, "read_line", lambda image: MISREAD_MICRONS)
    pixels = _panel()
    found = read_scale_bar(pixels)
    assert found is not None and found.value_m is None and found.readings == ("2.5 µm",), found
    assert "decoded" in (found.note or "")
    width = pixels.shape[1]
    settled, check = settle_with_fov(found, 2.5e-6 * width / found.bar_px, width)
    assert settled.value_m == pytest.approx(2.5e-6) and check is not None
    unsettled, check = settle_with_fov(found, 2.5e-9 * width / found.bar_px, width)
    assert unsettled.value_m is None and check is None


def test_reads_that_parse_keep_the_windows_unread_decoded_units_do_not(monkeypatch: pytest.MonkeyPatch) -> None:
    """Readings parsed from reads skip the windows (a matched FOV settles them); readings only decoded
    are weaker: the windows around the bars are still read, and their value stands."""
    windows: list[int] = []
    read_windows = scalebar._read_windows

    def counted_windows(bright: np.ndarray, bar: object, ocr: scalebar._Reads) -> tuple:
        windows.append(1)
        return read_windows(bright, bar, ocr)

    monkeypatch.setattr(scalebar, "_read_windows", counted_windows)
    monkeypatch.setattr(scalebar, "read_line", lambda image: MISREAD_MICRONS)
    read_scale_bar(_panel())
    assert windows
    windows.clear()
    disagreeing = itertools.cycle(["2.5 µm", "25 µm"])
    monkeypatch.setattr(scalebar, "read_line", scripted(lambda image: (next(disagreeing), 0.9)))
    found = read_scale_bar(_panel())
    assert found is not None and found.value_m is None and found.readings == ("2.5 µm", "25 µm") and not windows



def test_windows_reads_no_two_sizes_confirmed_are_for_a_matched_field_of_view_only(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Print no line is found for (over fibres): the window below the bar reads "2 µm" at one size and
    "2 m" at the other. Alone: no value, and no bar kept on it. With a field of view that measures the
    bar as 2 µm: the bar comes back with that reading, for the caller to settle; with one that
    measures another length: as alone."""
    sizes = itertools.cycle(["2 µm", "2 m"])
    monkeypatch.setattr(scalebar, "_label_lines", lambda bright, bar, threshold: [])
    monkeypatch.setattr(scalebar, "read_line", scripted(lambda image: (next(sizes), 0.9)))
    field = np.full((225, 300), 90, np.uint8)
    pixels, _, _ = draw_scale_bar(field, "2 µm", 80, white=True, font_px=16, label_side="below")
    alone = read_scale_bar(pixels)
    assert alone is None or alone.value_m is None and not alone.readings
    fov = 2e-6 * pixels.shape[1] / 80
    sizes = itertools.cycle(["2 µm", "2 m"])
    found = read_scale_bar(pixels, [fov])
    assert found is not None and found.value_m is None and "2 µm" in found.readings, found
    assert settle_with_fov(found, fov, pixels.shape[1])[0].value_m == pytest.approx(2e-6)
    sizes = itertools.cycle(["2 µm", "2 m"])
    other = read_scale_bar(pixels, [fov * 3])
    assert other is None or other.value_m is None and not other.readings


def test_letters_the_model_printed_surely_are_no_unit_it_could_not_make_out() -> None:
    """"20 ns" read surely (s at 0.95): nm is the likeliest unit path, yet far below what the model
    printed (`UNIT_BELOW_READ`): no unit. The same line with s as unsure as "2.5jun"'s letters: nm."""
    characters = (*CHARACTERS, "s")
    def line(s: float, m: float) -> LineRead:
        grid = np.zeros((6, len(characters)), np.float32)
        for row, (character, probability) in zip(grid, [("2", 0.9), ("0", 0.9), (" ", 0.9), ("n", 0.9), ("s", s), ("", 0)]):
            if character:
                row[characters.index(character)] = probability
        grid[4, characters.index("m")] = m
        grid[:, 0] = 1 - grid.sum(axis=1)
        return LineRead("20 ns", 0.9, grid, characters)
    assert decoded_units(line(0.95, 1e-5), "20") == ()
    assert decoded_units(line(0.55, 0.4), "20") == ("nm",)


@pytest.mark.parametrize(("label", "measured_m"), [
    ("20 ns", 20e-9), ("100 ms", 100e-3), ("5 ps", 5e-12), ("20 px", 20e-12), ("200 kV", 200e-10),
    ("3 min", 3e-3), ("50 mV", 50e-3), ("5 mA", 5e-10)])
def test_a_label_of_another_unit_is_no_length_even_where_a_field_of_view_would_confirm_one(
        label: str, measured_m: float) -> None:
    """Real print, the real model: a bar labelled in another unit ("20 ns" beside a bar that a matched
    field of view measures as 20 nm, "200 kV" beside one measured as 200 Å) gets no value and no
    reading: the model printed those letters, it did not miss a unit's."""
    if ocr.model_path() is None:
        pytest.skip("rapidocr with its model is not installed")
    field = np.full((225, 300), 90, np.uint8)
    pixels, _, _ = draw_scale_bar(field, label, 80, white=True, font_px=16)
    fov = measured_m * pixels.shape[1] / 80
    found = read_scale_bar(pixels, [fov])
    assert found is None or found.value_m is None and not found.readings, found
    assert found is None or settle_with_fov(found, fov, pixels.shape[1])[0].value_m is None


def test_a_stray_letter_after_digits_is_never_decoded_as_a_one_glyph_unit() -> None:
    """"2h" where A is the runner-up at the letter: Å, one glyph, is the cheapest spelling of any stray
    letter (seeds 7 and 11 decoded "2NS", "1T", "6O", "2ク" so, none printed in Å): no unit, where
    a two-glyph unit as likely would be decoded ("2.5jun" above)."""
    stray = _line({"2": 0.9}, {}, {"h": 0.6, "A": 0.35}, {})
    assert stray.text == "2h"
    assert decoded_units(stray, "2") == ()
    assert scalebar._decoded_readings(stray.text, stray) == ()


def test_a_read_that_parses_spells_the_unit_the_model_finds_as_likely_as_a_reading() -> None:
    """"500mm" where n was as likely as m at the unit's first letter (seed 7's Sato2023 fig 2d, printed
    "500 nm"): 500 nm is a reading beside the 500 mm read, for a matched field of view to choose (a
    1000x apart, which it tells apart); where m was far likelier, no other reading."""
    unsure = _line({"5": 0.9}, {}, {"0": 0.9}, {}, {"0": 0.9}, {}, {"m": 0.5, "n": 0.45}, {}, {"m": 0.9}, {})
    sure = _line({"5": 0.9}, {}, {"0": 0.9}, {}, {"0": 0.9}, {}, {"m": 0.95, "n": 0.001}, {}, {"m": 0.9}, {})
    assert unsure.text == sure.text == "500mm"
    assert scalebar._decoded_readings(unsure.text, unsure) == ("500 nm",)
    assert scalebar._decoded_readings(sure.text, sure) == ()
    # the other way round, a "500nm" read where m was as likely: nm is what labels print, mm the
    # misread; a read that parses in another unit than mm spells nothing else (decoding every parsed
    # read cost a matched panel ~10 ms CPU and added readings no document needed)
    nm_read = _line({"5": 0.9}, {}, {"0": 0.9}, {}, {"0": 0.9}, {}, {"n": 0.5, "m": 0.45}, {}, {"m": 0.9}, {})
    assert nm_read.text == "500nm" and sorted(decoded_units(nm_read, "500")) == ["mm", "nm"]
    assert scalebar._decoded_readings(nm_read.text, nm_read) == ()
    bar = ScaleBar(None, "500mm", 50.0, (10, 200, 60, 204), None, "the reads disagree", ("500 mm", "500 nm"))
    settled, check = settle_with_fov(bar, 3e-6, 300)  # 50 px of 300 at a 3 µm field of view: 500 nm
    assert settled.value_m == pytest.approx(500e-9) and settled.label == "500 nm"
    # chosen, not corrected silently: the check names the read the FOV ruled out, as a mislabel
    assert check is not None and check.endswith("a label printed 500 mm would be a mislabelled bar"), check
