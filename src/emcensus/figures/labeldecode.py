"""A scale-bar label's unit read again from the recogniser's per-step output, its digits kept as read.

Over fibres, grain boundaries and noise the recogniser often reads a label's digits right and prints its
unit as letters no label has ("2.5jun" for 2.5 µm, "50hr" for 50 nm). Its output (`figures.ocr.LineRead`)
is a probability for every character at each step (CTC): for each whitelisted unit, the likeliest path
that spells exactly the digits read, an optional space and that unit is found (CTC best path, a Viterbi
over the blank-interleaved spelling). The unit whose path is likelier than every other's by
`UNIT_SPREAD`, and not far below what the model printed (`UNIT_BELOW_READ`: "20 ns" is no "20 nm"),
is decoded, or two of nm/µm/mm the model cannot tell apart (1000× apart: a field of view tells them
apart whatever the label). Only ever a reading, never a value: on the regenerated corpora
(seeds 7 and 11) the likeliest unit was right on labels over fibres ("2.5jun" → µm, by 2.0-2.2 nats)
and wrong on others ("200m" → mm for 200 nm, by 1.3; "2 m" → mm for 2 µm, by 1.9), the margins
overlapping: a matched field of view must confirm it (`scalebar.settle_with_fov`).
"""

from __future__ import annotations

import numpy as np

from emcensus.figures.ocr import LineRead

#: The characters the recogniser may print for each glyph of a unit (µ as μ or u, Å as A).
UNIT_SPELLINGS: dict[str, tuple[str, ...]] = {
    "nm": ("n", "m"), "µm": ("µμu", "m"), "mm": ("m", "m"), "pm": ("p", "m"), "Å": ("ÅA",),
}
#: Nats (natural log of a probability ratio) within which of the likeliest unit's path another unit's
#: is as likely: the model cannot tell them apart.
UNIT_SPREAD = 2.0
#: Nats by which the likeliest unit's path may be less likely than what the model printed (its
#: likeliest character at each step): further, the model read other letters there than a unit, not a
#: unit it could not make out. On the regenerated corpora (seeds 7 and 11) every decoded unit a matched
#: field of view confirmed lay within 6.5; clean print of other units lies 9.4-33 below ("5 mA" →
#: Å at 14 px; "20 ns" → nm, "100 ms" → mm, "20 px" → pm at 15-18; "200 kV" → Å at 28-33), a reading a
#: field of view of the right size would have made a printed value.
UNIT_BELOW_READ = 8.0
#: Units 1000× apart, the only ones that may be decoded two at a time (the field of view tells them
#: apart whatever the label; Å and pm lie 10× from nm and µm: one alone or none).
_THOUSANDFOLD = {"nm", "µm", "mm"}
#: Units of one glyph (Å): the cheapest spelling of any stray letter after digits ("2NS", "1T", "6O",
#: "2ク" all decoded as Å on seeds 7 and 11, whose labels print no Å): never decoded, nor anything as
#: likely; a label in Å is read only where its print reads as Å.
_ONE_GLYPH = {unit for unit, glyphs in UNIT_SPELLINGS.items() if len(glyphs) == 1}
_FLOOR = 1e-30  # a probability the model gives as 0: its log stays finite
_IMPOSSIBLE = -1e30


def decoded_units(read: LineRead, number: str) -> tuple[str, ...]:
    """The units whose best path spelling `number` (as read: digits and at most a point), an optional
    space and the unit lies within `UNIT_SPREAD` of the likeliest one's: that one alone, or two of
    nm/µm/mm that the model cannot tell apart; () where more are as likely (no unit there at all), where
    a one-glyph unit is among them (`_ONE_GLYPH`), where the likeliest lies more than `UNIT_BELOW_READ`
    below what the model printed, where the model has no column for a glyph, or the line is too short
    to spell it."""
    columns = {character: index for index, character in enumerate(read.characters)}
    number_glyphs = tuple(".," if glyph in ".," else glyph for glyph in number)
    scores = {unit: max(_path_log_probability(read.steps, columns, number_glyphs + space + glyphs)
                        for space in ((), (" ",)))
              for unit, glyphs in UNIT_SPELLINGS.items()}
    best = max(scores.values())
    printed = float(np.log(np.maximum(read.steps.max(axis=1, initial=0.0), _FLOOR)).sum())
    close = tuple(sorted((unit for unit, score in scores.items() if best - score < UNIT_SPREAD),
                         key=lambda unit: -scores[unit]))
    if best <= _IMPOSSIBLE / 2 or printed - best > UNIT_BELOW_READ:
        return ()
    if len(close) > 2 or (len(close) == 2 and not _THOUSANDFOLD.issuperset(close)) or _ONE_GLYPH.intersection(close):
        return ()
    return close


def _path_log_probability(steps: np.ndarray, columns: dict[str, int], glyphs: tuple[str, ...]) -> float:
    """Log probability of the likeliest CTC path that spells `glyphs` (each a set of characters that
    may print it: the likeliest of them counts) over the steps: blanks between and around glyphs,
    each glyph held over one or more steps, a blank needed between two equal glyphs."""
    length = len(glyphs)
    if length == 0 or length > steps.shape[0]:
        return _IMPOSSIBLE
    glyph_log = np.empty((steps.shape[0], length))
    for position, options in enumerate(glyphs):
        members = [columns[character] for character in options if character in columns]
        if not members:
            return _IMPOSSIBLE
        glyph_log[:, position] = np.log(np.maximum(steps[:, members].max(axis=1), _FLOOR))
    blank_log = np.log(np.maximum(steps[:, 0].astype(np.float64), _FLOOR))
    # states 0..2L: even ones a blank before glyph k/2, odd ones glyph (k-1)/2; a glyph state may be
    # entered from the glyph before it (skipping the blank) unless the two glyphs are the same
    can_skip = np.array([position > 0 and glyphs[position] != glyphs[position - 1] for position in range(length)])
    states = 2 * length + 1
    score = np.full(states, _IMPOSSIBLE)
    score[0], score[1] = blank_log[0], glyph_log[0, 0]
    emit = np.empty(states)
    for step in range(1, steps.shape[0]):
        best = score.copy()
        best[1:] = np.maximum(best[1:], score[:-1])
        best[3::2] = np.maximum(best[3::2], np.where(can_skip[1:], score[1:-2:2], _IMPOSSIBLE))
        emit[0::2], emit[1::2] = blank_log[step], glyph_log[step]
        score = best + emit
    return float(max(score[-1], score[-2]))
