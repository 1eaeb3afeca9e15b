"""Published scale bars: find the bar drawn in a panel and read the value printed next to it.

The value comes from the printed label only, never from the bar's length: authors print values
that are not 1-2-5 steps, and mislabelled bars exist, so a value guessed from the length would be
silently wrong exactly where it matters. Where an archive image was matched, `check_against_fov`
compares the label with bar length × the matched field of view and words the disagreement.

Steps, all pure functions of the pixels except the OCR call (`figures.ocr`):

1. **Bars**, on both polarities (bright on dark, dark on light, or on a box of the other colour;
   the brightest and darkest channel, so coloured bars count; on a coloured panel also the darkest
   and brightest, so a white or black bar on false colour counts): a vertical top-hat keeps what is
   thin and stands out from its surroundings, a horizontal opening keeps what of it is long. A bar
   is a stack of row runs of the same extent (a particle touching it does not join it), aspect
   ≥ 4, collinear pieces merged; its ends are where the contrast falls to half, so the length is
   end to end, to a pixel. Candidates near the top or bottom edge come first; one whose ink goes on
   past its top or bottom edge is a stroke of a glyph and comes last; one inside a label read
   before is skipped. A bar drawn in pure white or black is also found by its saturated ink (a noisy
   bright field breaks its top-hat; a bright region its top-hat runs on into by less than the bar's
   thickness extends it: the flat ink ends it). A bar drawn in one saturated tone or one exact grey
   is measured along its tone (`_tone_measured`: a bright fibre further along does not lengthen it).
2. **Label**: a square top-hat (print over a particle still shows) and a threshold relative to the
   bar's contrast give glyph-sized components of the bar's colour; they form lines, a line grows by
   the glyph-sized pieces beside it within its rows (a glyph run into texture is cut to them), and
   the lines above, below or beside the bar, nearest first, are read (`figures.ocr`, a neural line
   recogniser) on two crops: the line's glyphs alone, and the panel's own pixels around the line
   (a glyph over a particle that the components lost is still there), at a second, higher
   threshold where the first read nothing.
3. **Parse and agree**: number + unit, unit normalised (u/μ → µ, A → Å, nn → nm; l → 1, O → 0,
   S → 5 in numbers), only whitelisted units. A value is taken where the two crops read the same;
   else, where one of them parses, both are read again at another size, and a value needs two
   reads that agree and no read that shows other digits or another unit (a digit lost over a
   particle, a speck read as a digit, m read as n): a wrong value is worse than none.
4. **Windows**: where no line gave a value (print over fibres or grain boundaries is no set of
   components), the panel's pixels where the label would be printed around the likeliest bars are
   read at two sizes (a window beside the bar that reads the part of a label nearer it, "1.5u", is
   read wider: a small panel's label runs past it); both must agree, and no other side may read
   another value.
5. **Readings for a matched FOV**: reads that disagree, reads whose unit the model's per-step output
   spells (`figures.labeldecode`: "2.5jun" → 2.5 µm, the digits kept), and windows whose two sizes
   did not agree are readings, never values: `settle_with_fov` takes the one that bar length × a
   matched field of view confirms. Given those fields of view, reading stops at the first bar whose
   readings one of them settles.

A ruler with a tick at each end reads like a bar. Not done yet: rulers with several ticks and
numbers, labels inside the bar; a label printed over a particle of its own colour is unread.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from emcensus.analysis.fov import format_length
from emcensus.figures.ocr import MAX_WIDTH_PX as OCR_MAX_WIDTH_PX
from emcensus.figures.labeldecode import decoded_units
from emcensus.figures.ocr import LineRead, OcrUnavailableError, read_line

#: Units a scale bar may be labelled in, in metres.
UNITS_M: dict[str, float] = {"pm": 1e-12, "Å": 1e-10, "nm": 1e-9, "µm": 1e-6, "mm": 1e-3}
#: A bar is at least this many times longer than thick (short thick bars exist; the label confirms it).
MIN_ASPECT = 4.0
#: Shortest bar (px): shorter dashes are strokes of letters or texture.
MIN_BAR_PX = 10
#: Grey levels a bar must stand out from what is right above and below it.
MIN_CONTRAST = 40
#: Ink level (of 255) a bar drawn in pure white or black keeps end to end after JPEG.
FLAT_INK = 225
#: Least and most a column of a saturated bar may lie under its tone (its own spread doubled, in these
#: bounds) and still be the bar's (`_tone_measured`)...
TONE_SPREAD = (12.0, 30.0)
#: ... and columns of another tone a bar's run may cross (JPEG, a mark).
TONE_GAP_PX = 2
#: Spread (doubled) of a bar filled with one exact grey, not saturated: a vector figure's bar (seed
#: 11's traced Petrova2023 fig 3f: grey 178 over texture, every pixel alike; JPEG spreads more).
FLAT_FILL = 4.0
#: Relative disagreement between the label and bar length × FOV that `check_against_fov` reports.
FOV_TOLERANCE = 0.10
#: Factor by which the other readings of a label must lie off bar length × FOV for the FOV to choose
#: one that agrees (`settle_with_fov`): the length is measured to a few pixels, so a digit misread
#: ("590 nm" beside "500 nm" for a printed "600 nm", a bar measured 46 px for 43: seed 11) is no
#: reading it tells apart; a point lost (10×) or another unit (1000×) is.
FOV_APART = 1.5
#: Fractions of the bar's contrast a pixel of its label must reach, tried in turn: print over a
#: particle is fainter, print touching a particle's bright edge only comes apart at a higher level.
INK_THRESHOLDS = (0.4, 0.65)
#: ... and, for the likeliest bar where neither gives a line, this one: thin strokes of small print,
#: antialiased and after JPEG, reach a third of a thick bar's contrast.
FAINT_INK = 0.25
#: Panels larger than this (px, either side) are analysed downscaled: bars are never that fine.
MAX_SIDE_PX = 2000
#: Bar candidates whose labels are tried, best first.
MAX_CANDIDATES = 5
#: Text lines near a bar that are OCRed, nearest first.
LINES_PER_BAR = 3
#: Text heights (px) a label line is read at, each on two crops (its glyphs alone; the panel's own
#: pixels around them): a value is taken only where two reads agree and no read says otherwise.
READ_TEXT_PX = (40, 28)
#: Text heights the panel's pixels reach past a line read as a bare number or a bare unit, for the rest.
UNIT_REACH = 3.5
_BARE_NUMBER = re.compile(r"\d+([.,]\d+)?")
_NUMBER_CUT = re.compile(r"\d+([.,]\d+)?[^\W\d_]?")  # a label's number, its unit cut after a letter at most
#: Label lines one panel may have read (2-4 OCR calls of about 30 ms each), over all its bar candidates.
MAX_LINES_READ = 8
#: OCR reads one panel may cost in all, lines and windows (about 30 ms of CPU each): past it the
#: panel keeps what it has (a bar unread). Documents need 5-9 on average, synthetic panels 3.
MAX_READS = 40
#: A window beside a bar read again this many font heights wide where it read half a label (a small
#: panel's "1.5 um", 39 px beside its bar, overran both windows 4.5 heights wide, 27 and 38 px on a
#: 100 px high panel; 6 heights wide for all read less elsewhere: texture in a wider window)
WIDE_BESIDE = 6.0
BESIDE = 4.5  # font heights a window beside a bar spans at first (`_label_windows`)
#: Where no line of glyphs beside a bar gave a value (print over fibres, grain boundaries or noise
#: does not come apart as components), the panel's pixels where its label would be printed are read:
#: at these font sizes, fractions of the panel's height (figure labels are printed at 5-10 %)...
WINDOW_FONTS = (0.06, 0.085)
#: ... around this many of the likeliest bars.
WINDOW_CANDIDATES = 5
#: Reads kept for the likeliest bar's windows (4 sides, each size) whatever the bars' lines took.
_TOP_WINDOW_READS = 4 * len(WINDOW_FONTS)
#: Candidates kept (best first) that are measured along their tone: twice as many as are ever read.
_TONE_MEASURED = 2 * max(MAX_CANDIDATES, WINDOW_CANDIDATES)
#: Height (px) a window's pixels are read at.
WINDOW_READ_PX = 40
#: Share of a window's pixels as bright as the bar (half its contrast) where print may be: a blank
#: field has none, a window wholly inside a region of the bar's colour has most (not read: no print).
WINDOW_INK = (0.03, 0.85)

_NUMBER_FIXES = str.maketrans({"l": "1", "I": "1", "|": "1", "O": "0", "o": "0", "S": "5", "s": "5", ",": "."})
_LABEL = re.compile(r"(?P<number>[0-9lI|OoSs.,]+)(?P<unit>pm|nm|nn|mm|[µμuU]m|Å|A)")
_LOOKS_LIKE_LABEL = re.compile(r"\d.*[nmuµμpÅA]")
#: What a read may start or end with that is no print of the label: the bar's end beside it read as
#: "-", a speck as "•"; a point before the number stays (a digit may be lost before it).
_EDGE_MARKS = re.compile(r"^[^\w.]+|[^\wµμÅ]+$")
_UNIT_FIRST_LETTERS = {unit[0] for unit in UNITS_M}
_NUMBER_AND_UNIT = re.compile(r"(?P<number>[0-9lI|OoSs.,]*)(?P<unit>.*)")
_NUMBER = re.compile(r"\d+(\.\d+)?")
#: What OCR reads a printed µ as in a read that does not parse ("5jm", "6ym" beside "5 μm", "6um").
_MU_MISREADS = ("u", "μ", "i", "j", "y")
#: A point or dash printed nowhere, read between the last digit and the unit's first letter; not
#: before a letter read for a digit (`_NUMBER_FIXES`): "0.S µm" is 0.5 µm, never 05 µm.
_GLUED_MARK = re.compile(r"(?<=\d)[.,-](?=[a-zA-ZµμÅ])(?![lIOoSs])")

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class ScaleBar:
    """A scale bar found in a panel: the printed value (metres, None when unread), the label as read,
    the bar's length end to end and its box (x0, y0, x1, y1 in panel px), the label's box, a note
    saying why the value is missing or doubtful, and, when reads disagreed, the labels they parsed
    to (normalised: what `settle_with_fov` may choose among)."""

    value_m: float | None
    label: str | None
    bar_px: float
    bbox: Box
    label_bbox: Box | None
    note: str | None = None
    readings: tuple[str, ...] = ()


def parse_label(text: str) -> tuple[float, str] | None:
    """(value in metres, normalised label) of a printed scale-bar label, or None unless it is exactly
    a positive number and a whitelisted unit. "pm" stays picometres: `read_scale_bar` tells p from µ."""
    compact = unicodedata.normalize("NFC", "".join(text.split()))
    found = _LABEL.fullmatch(compact)
    if found is None:
        return None
    number = found["number"].translate(_NUMBER_FIXES)
    if _NUMBER.fullmatch(number) is None or float(number) <= 0:
        return None
    unit = found["unit"]
    unit = "µm" if unit[0] in "µμuU" else "Å" if unit in ("A", "Å") else "nm" if unit == "nn" else unit
    return float(number) * UNITS_M[unit], f"{number} {unit}"


def fov_from_bar(bar: ScaleBar | None, panel_width_px: int) -> float | None:
    """The panel's field of view (m) from its printed scale bar: value / bar length × panel width;
    None without a value read (never from the length alone)."""
    if bar is None or bar.value_m is None or bar.bar_px <= 0 or panel_width_px <= 0:
        return None
    return bar.value_m / bar.bar_px * panel_width_px


def check_against_fov(bar: ScaleBar, fov_m: float, panel_width_px: int) -> str | None:
    """A note when the printed value disagrees with bar length × the panel's FOV per px by more than
    `FOV_TOLERANCE` (a calibration or unit error, or a mislabelled bar), else None."""
    if bar.value_m is None or not fov_m > 0 or panel_width_px <= 0 or bar.bar_px <= 0:
        return None
    measured = bar.bar_px * fov_m / panel_width_px
    ratio = bar.value_m / measured
    if abs(ratio - 1) <= FOV_TOLERANCE:
        return None
    return (f"scale bar reads {bar.label} but its {bar.bar_px:.0f} px are {format_length(measured)} "
            f"at the matched field of view (label {ratio:.3g}× the measured length)")


def settle_with_fov(bar: ScaleBar, fov_m: float | None, panel_width_px: int) -> tuple[ScaleBar, str | None]:
    """The bar with the one value its disagreeing reads gave that bar length × the matched FOV
    confirms (within `FOV_TOLERANCE`): "1.5 µm" against "15 µm", "500 nm" against "500 mm"; and the
    check to report with it, naming the reads that disagreed and the one the FOV confirmed: a value
    chosen so is told from one read unambiguously, and where the label really prints another read
    ("10 µm" on a bar of 1 µm, read once as "1 µm") the mislabel stays visible. Never a value no read
    gave: where no reading or several agree with the FOV, the bar is returned as it was (its note
    says the reads disagree) and the check is None; so too where another reading lies within
    `FOV_APART` of the length measured."""
    if bar.value_m is not None or not bar.readings or not fov_m or fov_m <= 0 or panel_width_px <= 0:
        return bar, None
    measured = bar.bar_px * fov_m / panel_width_px
    values = {label: parse_label(label)[0] for label in bar.readings}  # type: ignore[index]
    agreeing = [label for label, value in values.items() if abs(value / measured - 1) <= FOV_TOLERANCE]
    # "010 µm" beside "10 µm" (a speck read before the number) is one value; a reading that is not
    # but lies within `FOV_APART` of the length measured is one the FOV cannot rule out
    near = [label for label, value in values.items()
            if label not in agreeing and max(value / measured, measured / value) < FOV_APART]
    if len({values[label] for label in agreeing}) != 1 or near:
        return bar, None
    value_m, label = parse_label(min(agreeing, key=len))  # type: ignore[misc]
    others = " or ".join(reading for reading in bar.readings if reading not in agreeing)
    mislabel = f"; a label printed {others} would be a mislabelled bar" if others else ""
    check = (f"scale bar reads disagree ({', '.join(bar.readings)}): {label} taken, as its {bar.bar_px:.0f} px are "
             f"{format_length(measured)} at the matched field of view{mislabel}")
    return replace(bar, value_m=value_m, label=label, note=f"{bar.note}; {check}"), check


@dataclass(frozen=True)
class _Bar:
    """A bar candidate in the polarity where it is bright; x ends are sub-pixel."""

    x0: float
    x1: float
    y0: int
    y1: int
    white: bool
    contrast: float
    score: float
    #: found by its extreme ink (`_flat_bars`): its ends are where that ink stops
    flat: bool = False

    @property
    def box(self) -> Box:
        return (math.floor(self.x0 + 0.5), self.y0, math.floor(self.x1 + 0.5), self.y1)


def _polarities(pixels: np.ndarray) -> list[tuple[np.ndarray, bool]]:
    """(image where the ink is bright, whether the ink is white) to look for bars in: grey and its
    inverse; for colour, the max and inverted min channel (coloured bars count) and, where the panel
    is coloured, the min and inverted max channel (a white bar on false colour, whose max channel is
    saturated everywhere)."""
    if pixels.ndim == 2:
        grey = pixels if pixels.dtype == np.uint8 else np.clip(pixels, 0, 255).astype(np.uint8)
        return [(grey, True), (255 - grey, False)]
    if pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
        raise ValueError(f"panel pixels must be (H, W) or (H, W, 3): got shape {pixels.shape}")
    rgb = pixels[..., :3] if pixels.dtype == np.uint8 else np.clip(pixels[..., :3], 0, 255).astype(np.uint8)
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]  # channel by channel: rgb.max(axis=2) is 13x slower
    high, low = np.maximum(np.maximum(red, green), blue), np.minimum(np.minimum(red, green), blue)
    found = [(high, True), (255 - low, False)]
    if float(np.median(high.astype(np.int16) - low)) >= MIN_CONTRAST:
        found += [(low, True), (255 - high, False)]
    return found


def _candidates(pixels: np.ndarray) -> list[tuple[_Bar, np.ndarray]]:
    """Bar candidates of every polarity with the image each was found in, best first, a bar found
    again in another image once; the likeliest measured along their tone (`_tone_measured`: the
    others are never read, and measuring all of them was a fifth of this call's time)."""
    found = sorted(((bar, image) for image, white in _polarities(pixels) for bar in find_bars(image, white)),
                   key=lambda pair: -pair[0].score)
    kept: list[tuple[_Bar, np.ndarray]] = []
    by_rows: dict[tuple[bool, int], list[int]] = {}  # (polarity, top row) -> indices in `kept`
    for bar, image in found:
        if len(kept) < _TONE_MEASURED:
            bar = _tone_measured(image, bar)
        nearby = [index for y in (bar.y0 - 1, bar.y0, bar.y0 + 1) for index in by_rows.get((bar.white, y), ())]
        same = next((index for index in sorted(nearby) if _same_bar(bar, kept[index][0])), None)
        if same is None:
            by_rows.setdefault((bar.white, bar.y0), []).append(len(kept))
            kept.append((bar, image))
            continue
        other, other_image = kept[same]
        if (bar.flat and other.x0 - 1 <= bar.x0 and bar.x1 <= other.x1 + 1 and bar.x1 - bar.x0 < other.x1 - other.x0 - 2
                and _past_flat_ink(image, bar, other)):
            # the top-hat ran on into a bright region or fibre at the bar's end, less than the bar's
            # thickness past it (`_tone_measured` keeps such an end: JPEG dims a bar's last columns
            # as much): the flat ink ends it
            kept[same] = (replace(other, x0=bar.x0, x1=bar.x1), other_image)
        elif (bar.flat and bar.x0 <= other.x0 + 1 and other.x1 - 1 <= bar.x1 and bar.x1 - bar.x0 > other.x1 - other.x0 + 2
                and _flat_ink_stands_out(image, bar, other)):
            # the bar runs over a region nearly of its own colour (a black bar over a dark crack), where
            # its top-hat fades: its flat ink goes on to its true ends
            kept[same] = (replace(other, x0=bar.x0, x1=bar.x1), other_image)
    return kept


def _flat_ink_stands_out(bright: np.ndarray, flat: _Bar, shorter: _Bar) -> bool:
    """Whether the flat ink of `flat` past the ends of the top-hat bar `shorter` is a bar's: the rows
    right above and below it mostly under `FLAT_INK` (not a blob of the bar's colour it runs into)."""
    height = bright.shape[0]
    pieces = [(math.floor(flat.x0), math.floor(shorter.x0 + 0.5)), (math.ceil(shorter.x1), math.ceil(flat.x1))]
    rows = [y for y in (flat.y0 - 2, flat.y0 - 1, flat.y1, flat.y1 + 1) if 0 <= y < height]
    around = np.concatenate([bright[rows, a:b].ravel() for a, b in pieces if b > a])
    return around.size > 0 and float(np.median(around)) < FLAT_INK


def _past_flat_ink(bright: np.ndarray, flat: _Bar, longer: _Bar) -> bool:
    """Whether what the top-hat bar `longer` spans past the ends of `flat`, in its rows, is mostly
    under `FLAT_INK` (a region or fibre the top-hat ran on into), not the bar's own ink broken into
    runs by a few pixels JPEG left under it (a 2 px black bar read 31 of its 42 px so)."""
    rows = bright[flat.y0:flat.y1]
    past = np.concatenate([rows[:, max(0, math.floor(longer.x0 + 0.5)):math.floor(flat.x0)],
                           rows[:, math.ceil(flat.x1):math.floor(longer.x1 + 0.5)]], axis=1)
    return past.size > 0 and float(np.median(past)) < FLAT_INK


def _same_bar(a: _Bar, b: _Bar) -> bool:
    """Whether two candidates are one bar found twice (in two images, or by top-hat and by its flat
    ink): the same polarity and rows to a pixel, overlapping over most of the shorter."""
    overlap = min(a.x1, b.x1) - max(a.x0, b.x0)
    return (a.white == b.white and abs(a.y0 - b.y0) <= 1 and abs(a.y1 - b.y1) <= 1
            and overlap >= 0.8 * min(a.x1 - a.x0, b.x1 - b.x0))


def _ends(profile: np.ndarray, x0: int, x1: int, half: float) -> tuple[float, float] | None:
    """Sub-pixel positions, within [x0, x1), where `profile` crosses `half` at the bar's two ends."""
    above = np.flatnonzero(profile[x0:x1] >= half)
    if above.size == 0:
        return None
    first, last = x0 + int(above[0]), x0 + int(above[-1])

    def crossing(x: int, outside: int) -> float:
        if not 0 <= outside < len(profile):
            return x + (outside - x) * 0.5
        fraction = (profile[x] - half) / max(float(profile[x] - profile[outside]), 1e-6)
        return x + (outside - x) * float(np.clip(fraction, 0.0, 1.0))

    return crossing(first, first - 1), crossing(last, last + 1)


def find_bars(bright: np.ndarray, white: bool) -> list[_Bar]:
    """Bar candidates in an image where the bar is bright, scored by contrast and position."""
    height, width = bright.shape
    vertical = max(9, round(0.1 * min(height, width))) | 1
    horizontal = max(8, round(0.04 * width))
    pad = vertical
    padded = cv2.copyMakeBorder(bright, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=int(np.median(bright)))
    tophat = cv2.morphologyEx(padded, cv2.MORPH_TOPHAT, cv2.getStructuringElement(cv2.MORPH_RECT, (1, vertical)))
    tophat = tophat[pad:-pad, pad:-pad]
    lines = cv2.morphologyEx(tophat, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (horizontal, 1)))
    pieces = sorted(box for box in _stacked_runs(lines >= MIN_CONTRAST, horizontal) if box[3] - box[1] < vertical)
    bars = []
    for x0, y0, x1, y1 in _merge_collinear(pieces):
        thickness = y1 - y0
        profile = tophat[y0:y1].astype(np.float32).mean(axis=0)
        contrast = float(np.median(profile[x0:x1]))
        ends = _ends(profile, x0, x1, contrast / 2)
        if ends is None:
            continue
        left, right = ends
        length = right - left
        if length < max(MIN_BAR_PX, MIN_ASPECT * thickness) or length > 0.8 * width or contrast < MIN_CONTRAST:
            continue
        stroke = _touching(tophat, math.floor(left + 0.5), y0, math.floor(right + 0.5), y1, contrast / 2)
        bars.append(_Bar(left, right, y0, y1, white, contrast, _score(contrast, y0, y1, height, stroke)))
    return bars + _flat_bars(bright, white, horizontal, vertical)


def _tone_measured(bright: np.ndarray, bar: _Bar) -> _Bar:
    """The bar with its ends where the run of its own saturated tone ends along its rows: a bar is a
    solid rectangle of one extreme tone, where its top-hat or its pieces stop short over texture (a
    particle of its colour under part of it, a dark crack under a black bar, a bright field beside a
    white bar) or run on into a region of nearly its tone. A column is the bar's where its rows lie
    within `TONE_SPREAD` of the bar's tone (its own variation after JPEG, doubled), gaps of
    `TONE_GAP_PX` are crossed, and the ends are the outermost columns where the rows above or below
    are not of its tone. Where they are (a region of its tone around it), its end is not known: the
    last edge seen is taken, unless the edges show again further on over twice its thickness (a
    particle under it). A bar neither saturated (`FLAT_INK`) nor of one exact grey (`FLAT_FILL`) is
    returned as found."""
    start, stop = math.floor(bar.x0 + 0.5), math.floor(bar.x1 + 0.5)
    block = bright[bar.y0:bar.y1, start:stop]
    if stop - start < 3:
        return bar
    # the rows of the bar's tone (a row a top-hat kept may be its antialiased edge)
    row_tones = np.median(block, axis=1)
    inked = np.flatnonzero(row_tones >= float(row_tones.max()) - TONE_SPREAD[1])
    y0, y1 = bar.y0 + int(inked[0]), bar.y0 + int(inked[-1]) + 1
    rows = bright[y0:y1].astype(np.int16)
    tone = float(np.median(rows[:, start:stop]))
    spread = 2 * (tone - float(np.percentile(rows[:, start:stop], 10)))
    if tone < FLAT_INK and spread > FLAT_FILL:
        return bar  # neither saturated nor one exact fill (a vector figure's bar): texture, as found
    spread = float(np.clip(spread, *TONE_SPREAD))
    # a column is the bar's where all its rows but one are of its tone and that one within twice the
    # spread: an outer row of a bar at a fractional height is part-covered (vector traces, scaled
    # figures). Only a little: 2 x 30 levels is a quarter of a bar's contrast of 240; a row covered
    # about half along the whole bar is left out of `inked` above, but one covered so along part of
    # it ends the bar's tone there (the flat ink or the top-hat then give its length)
    of_tone = ((rows >= tone - spread).sum(axis=0) >= max(1, y1 - y0 - 1)) & (rows >= tone - 2 * spread).all(axis=0)
    height = bright.shape[0]
    above = bright[max(0, y0 - 2):y0].mean(axis=0) if y0 > 0 else np.full(rows.shape[1], 255.0)
    below = bright[y1:min(height, y1 + 2)].mean(axis=0) if y1 < height else np.full(rows.shape[1], 255.0)
    edged = of_tone & (np.minimum(above, below) < tone - spread)
    middle = (start + stop) // 2
    if not of_tone[middle]:
        return bar
    # past a stretch of its tone with no edge as long (the bar over a particle of its colour, or a
    # region of its tone it runs into), the bar is seen again only by as many edged columns in a row
    resumed = max(3, 2 * (y1 - y0))
    toned, edges = of_tone.tolist(), edged.tolist()  # walked column by column: lists index faster

    def outermost_edge(step: int) -> int | None:
        x, gap, last, run, blind, bridged = middle, 0, None, 0, 0, False
        while 0 <= x < len(toned) and gap <= TONE_GAP_PX:
            gap = 0 if toned[x] else gap + 1
            run = run + 1 if edges[x] else 0
            blind = blind + 1 if toned[x] and not edges[x] else 0 if edges[x] else blind
            bridged |= blind >= resumed
            last = x if edges[x] and (not bridged or run >= resumed) else last
            x += step
        return last

    left, right = outermost_edge(-1), outermost_edge(1)
    if left is None or right is None or right + 1 - left < max(MIN_BAR_PX, MIN_ASPECT * (bar.y1 - bar.y0)):
        return bar
    # an end found further out moves out; one found inside moves in only past the bar's thickness (a
    # run into a region of nearly its tone), else it keeps its sub-pixel position where the contrast
    # falls to half: JPEG and antialiasing dim a bar's last columns (a 128 px bar measured 124 so)
    inward = max(1, bar.y1 - bar.y0)
    x0 = float(left) if left < bar.x0 - 1 or left > bar.x0 + inward else bar.x0
    x1 = float(right + 1) if right + 1 > bar.x1 + 1 or right + 1 < bar.x1 - inward else bar.x1
    return replace(bar, x0=x0, x1=x1)


def _flat_bars(bright: np.ndarray, white: bool, min_length: int, max_thickness: int) -> list[_Bar]:
    """Bars drawn in the extreme ink (`FLAT_INK` and more, end to end) whose rows above and below are
    darker by `MIN_CONTRAST`: on a bright noisy field or fibres the top-hat of a white bar is broken,
    its pixels stay saturated."""
    height, width = bright.shape
    flat = bright >= FLAT_INK
    bars = []
    for x0, y0, x1, y1 in _stacked_runs(flat, min_length):
        thickness = y1 - y0
        if not 2 <= thickness < max_thickness or x1 - x0 < max(MIN_BAR_PX, MIN_ASPECT * thickness) or x1 - x0 > 0.8 * width:
            continue
        if y0 < 1 or y1 + 2 > height:  # no rows above or below to stand out from
            continue
        sides = (float(bright[max(0, y0 - 2):y0, x0:x1].mean()) + float(bright[y1:y1 + 2, x0:x1].mean())) / 2
        contrast = float(bright[y0:y1, x0:x1].mean()) - sides
        if contrast < MIN_CONTRAST:
            continue
        stroke = _touching(flat, x0, y0, x1, y1, 1)
        bars.append(_Bar(float(x0), float(x1), y0, y1, white, contrast, _score(contrast, y0, y1, height, stroke), flat=True))
    return bars


def _score(contrast: float, y0: int, y1: int, height: int, stroke: float) -> float:
    """A candidate's rank: its contrast, nearer the top or bottom edge (the bottom a little more)
    first, one that is a stroke of a glyph (`_touching`) last."""
    centre = (y0 + y1) / 2
    near_edge = 1 - min(centre, height - centre) / (height / 2)
    return contrast / 255 * (0.5 + near_edge + 0.2 * (centre > height / 2)) * (1 - 0.8 * stroke)


def _touching(tophat: np.ndarray, x0: int, y0: int, x1: int, y1: int, half: float) -> float:
    """The fraction of a bar's length where ink continues two rows past its top or bottom edge: a
    horizontal stroke of a glyph joins its stems there, a bar stands clear of its label."""
    height = tophat.shape[0]
    sides = []
    for rows in ((y0 - 1, y0 - 2), (y1, y1 + 1)):
        inside = [float((tophat[y, x0:x1] >= half).mean()) for y in rows if 0 <= y < height and x1 > x0]
        sides.append(min(inside) if inside else 0.0)
    return max(sides)


def _stacked_runs(binary: np.ndarray, min_length: int) -> list[Box]:
    """Boxes of horizontal runs stacked row on row with nearly the same extent: a bar's rows. Unlike
    connected components, a particle touching the bar does not join it (its rows are shorter)."""
    edges = np.diff(np.pad(binary.astype(np.int8), ((0, 0), (1, 1))), axis=1)
    # every run of the image at once (row-major: a row's starts and ends pair up in order); only rows
    # with a run long enough are walked: a stack left open over a row without one ends there either way
    rows, starts = np.nonzero(edges == 1)
    ends = np.nonzero(edges == -1)[1]
    long = ends - starts >= min_length
    runs = zip(rows[long].tolist(), starts[long].tolist(), ends[long].tolist())
    open_stacks: list[list[int]] = []  # [x0, y0, x1, y1, last x0, last x1]
    done: list[list[int]] = []
    following: list[list[int]] = []
    row = -1
    for y, x0, x1 in runs:
        if y != row:
            done.extend(open_stacks)
            open_stacks, following, row = following, [], y
        for stack in open_stacks:
            overlap = min(x1, stack[5]) - max(x0, stack[4])
            if stack[3] == y and overlap >= 0.8 * max(x1 - x0, stack[5] - stack[4]):
                open_stacks.remove(stack)
                stack[:] = [min(x0, stack[0]), stack[1], max(x1, stack[2]), y + 1, x0, x1]
                break
        else:
            stack = [x0, y, x1, y + 1, x0, x1]
        following.append(stack)
    done.extend(open_stacks)
    return [(x0, y0, x1, y1) for x0, y0, x1, y1, _, _ in done + following]


def _merge_collinear(pieces: list[Box]) -> list[Box]:
    """Pieces on the same rows (to a pixel) with a gap under a thickness joined: a bar broken by JPEG
    or a mark, never a stroke of its label."""
    merged: list[list[int]] = []
    by_top: dict[int, list[int]] = {}  # a merged box's top row -> its indices in `merged`
    for x0, y0, x1, y1 in pieces:
        # only boxes whose top is within a row of this one's can take it: the first of them in order
        for index in sorted(index for y in (y0 - 1, y0, y0 + 1) for index in by_top.get(y, ())):
            box = merged[index]
            if abs(y1 - box[3]) <= 1 and max(x0 - box[2], box[0] - x1) <= max(2, y1 - y0):
                if y0 < box[1]:
                    by_top[box[1]].remove(index)
                    by_top.setdefault(y0, []).append(index)
                box[:] = [min(x0, box[0]), min(y0, box[1]), max(x1, box[2]), max(y1, box[3])]
                break
        else:
            by_top.setdefault(y0, []).append(len(merged))
            merged.append([x0, y0, x1, y1])
    return [(a, b, c, d) for a, b, c, d in merged]


@dataclass(frozen=True)
class _Label:
    """A line of glyphs near a bar: its box, the ink (0..1) of its components only, glyph boxes, and
    the panel's own pixels around it (ink bright, a text height wider each side: a glyph over a
    particle that the components lost is still there), and those pixels reaching further right and
    left (`UNIT_REACH` text heights: a unit or number too faint to be a component of the line)."""

    box: Box
    ink: np.ndarray
    glyphs: list[Box]
    distance: float
    raw: np.ndarray
    right: np.ndarray
    left: np.ndarray


def _label_lines(bright: np.ndarray, bar: _Bar, threshold: float) -> list[_Label]:
    """Lines of glyph-sized components of the bar's colour above, below or beside it, nearest first."""
    height, width = bright.shape
    bx0, by0, bx1, by1 = bar.box
    thick = by1 - by0
    # a label beside the bar may be longer than the bar: the window spans the panel's width
    reach_y = 0.3 * height + 3 * thick
    wx0, wx1 = 0, width
    wy0, wy1 = max(0, int(by0 - reach_y)), min(height, int(by1 + reach_y))
    # a square top-hat wider than a stroke keeps print and drops blobs, so text over a particle shows
    size = max(5, round(0.04 * height)) | 1
    padded = cv2.copyMakeBorder(bright[wy0:wy1, wx0:wx1], size, size, size, size, cv2.BORDER_REPLICATE)
    tophat = cv2.morphologyEx(padded, cv2.MORPH_TOPHAT, cv2.getStructuringElement(cv2.MORPH_RECT, (size, size)))
    ink = np.clip(tophat[size:-size, size:-size].astype(np.float32) / bar.contrast, 0, 1)
    mask = (ink >= threshold).astype(np.uint8)
    mask[max(0, by0 - wy0 - 1):by1 - wy0 + 1, max(0, bx0 - wx0 - 1):bx1 - wx0 + 1] = 0
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    peaks = np.zeros(count, np.float32)  # each component's own ink: print over a particle is fainter
    np.maximum.at(peaks, labels.ravel(), ink.ravel())
    corners = stats[:, :4].astype(np.int64)
    corners[:, 2:] += corners[:, :2]
    areas = stats[:, cv2.CC_STAT_AREA]
    boxes: list[Box] = [tuple(corner) for corner in corners.tolist()]  # type: ignore[misc]
    max_h = max(12, 0.25 * height)
    glyph_h, glyph_w = corners[:, 3] - corners[:, 1], corners[:, 2] - corners[:, 0]
    glyph_sized = (4 <= glyph_h) & (glyph_h <= max_h) & (glyph_w <= 3 * glyph_h + 2)
    glyph_sized[0] = False  # the background
    candidates = np.flatnonzero(glyph_sized).tolist()
    found = []
    for line in _group_lines([boxes[i] for i in candidates]):
        members = [candidates[i] for i in line]
        if len(members) < 2:
            continue
        text_h = float(np.median([boxes[i][3] - boxes[i][1] for i in members]))
        # a glyph run into texture or a particle's rim is taller than its neighbours: it sets no band
        regular = [boxes[i] for i in members if boxes[i][3] - boxes[i][1] <= 1.35 * text_h] or [boxes[i] for i in members]
        band = (max(0, min(g[1] for g in regular) - round(0.1 * text_h)),
                min(mask.shape[0], max(g[3] for g in regular) + round(0.1 * text_h)))
        faint, speck = 0.5 * float(np.median(peaks[members])), (0.12 * text_h) ** 2
        glyph_ids = _extend_line(members, corners, areas, peaks, band, text_h, faint, speck)
        glyphs = sorted((b[0], max(b[1], band[0]), b[2], min(b[3], band[1])) for b in (boxes[i] for i in glyph_ids))
        lx0, lx1 = glyphs[0][0], max(g[2] for g in glyphs)
        line_box = (lx0 + wx0, band[0] + wy0, lx1 + wx0, band[1] + wy0)
        distance = _distance_to_bar(line_box, bar.box, text_h, thick)
        if distance is None or _contains(line_box, bar.box):
            continue
        margin = max(2, round(0.25 * text_h))
        cx0, cy0 = max(0, lx0 - margin), max(0, band[0] - margin)
        cx1, cy1 = min(mask.shape[1], lx1 + margin), min(mask.shape[0], band[1] + margin)
        # the line's glyphs, and what else lies wholly inside it as strongly inked and not a speck:
        # decimal points, the ring of Å
        keep = ((cx0 <= corners[:, 0]) & (cy0 <= corners[:, 1]) & (corners[:, 2] <= cx1) & (corners[:, 3] <= cy1)
                & (peaks >= faint) & (areas >= speck))
        keep[0] = False  # the background
        keep[glyph_ids] = True
        # faint parts of glyphs (print over a particle) stay, as grey; other components, and whatever
        # a glyph runs into above or below the line, go
        crop_labels = labels[cy0:cy1, cx0:cx1]
        line_ink = np.clip(ink[cy0:cy1, cx0:cx1] / float(np.median(peaks[members])), 0, 1)
        line_ink = np.where((crop_labels > 0) & ~keep[crop_labels], 0, line_ink)
        line_ink[:max(0, band[0] - cy0)] = 0
        line_ink[band[1] - cy0:] = 0
        wide, reach = round(text_h), round(UNIT_REACH * text_h)
        rows = bright[cy0 + wy0:cy1 + wy0]
        found.append(_Label(
            (cx0 + wx0, cy0 + wy0, cx1 + wx0, cy1 + wy0), line_ink,
            [(g[0] - cx0, g[1] - cy0, g[2] - cx0, g[3] - cy0) for g in glyphs],
            distance, rows[:, max(0, cx0 - wide):min(width, cx1 + wide)],
            rows[:, max(0, cx0 - wide):min(width, cx1 + reach)], rows[:, max(0, cx0 - reach):min(width, cx1 + wide)],
        ))
    return sorted(found, key=lambda label: label.distance)


def _extend_line(members: list[int], corners: np.ndarray, areas: np.ndarray, peaks: np.ndarray, band: tuple[int, int],
                 text_h: float, faint: float, speck: float) -> list[int]:
    """The line's glyphs and, left and right of them, components that are glyph-sized within the
    line's rows (a glyph run into texture or a particle only joins the line here), gaps under a glyph.
    `corners`: every component's (x0, y0, x1, y1), the background's first."""
    line = list(members)
    x0, x1 = int(corners[line, 0].min()), int(corners[line, 2].max())
    inside_h = np.minimum(corners[:, 3], band[1]) - np.maximum(corners[:, 1], band[0])
    fits = ((inside_h >= 0.4 * text_h) & (corners[:, 2] - corners[:, 0] <= 1.5 * text_h) & (peaks >= faint)
            & (areas >= speck))
    fits[0] = False  # the background
    fits[line] = False
    others = [(index, bx0, bx1) for index, bx0, bx1 in zip(np.flatnonzero(fits).tolist(),
                                                         corners[fits, 0].tolist(), corners[fits, 2].tolist())]
    grown = True
    while grown:
        grown = False
        for index, bx0, bx1 in others:
            if index not in line and max(bx0 - x1, x0 - bx1) <= 0.8 * text_h and len(line) < 12:
                line.append(index)
                x0, x1, grown = min(x0, bx0), max(x1, bx1), True
    return line


def _group_lines(glyphs: list[Box]) -> list[list[int]]:
    """Indices of glyphs of similar height side by side, with gaps under a glyph height, by line
    (each line's indices ascending, the lines by their first)."""
    parent = list(range(len(glyphs)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    boxes = np.array(glyphs, np.int64).reshape(-1, 4)
    x0, y0, x1, y1 = boxes.T
    heights = y1 - y0
    # the pairs that join, a block of rows at a time (a textured panel has thousands of glyph-sized
    # components: all pairs at once would take gigabytes)
    for start in range(0, len(glyphs), 512):
        rows = slice(start, start + 512)
        ha, hb = heights[rows, None], heights[None, :]
        low, high = np.minimum(ha, hb), np.maximum(ha, hb)
        overlap = np.minimum(y1[rows, None], y1[None, :]) - np.maximum(y0[rows, None], y0[None, :])
        gap = np.maximum(x0[rows, None] - x1[None, :], x0[None, :] - x1[rows, None])
        joins = (high <= 2.2 * low) & (overlap >= 0.5 * low) & (gap <= 0.9 * high)
        for i, j in zip(*np.nonzero(np.triu(joins, start + 1))):
            parent[root(start + int(i))] = root(int(j))
    lines: dict[int, list[int]] = {}
    for i in range(len(glyphs)):
        lines.setdefault(root(i), []).append(i)
    return list(lines.values())


def _intersects(a: Box, b: Box) -> bool:
    return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])


def _contains(outer: Box, inner: Box) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and inner[2] <= outer[2] and inner[3] <= outer[3]


def _distance_to_bar(line: Box, bar: Box, text_h: float, thick: int) -> float | None:
    """How far a text line is from the bar where it could be its label (above, below, beside), else None."""
    lx0, ly0, lx1, ly1 = line
    bx0, by0, bx1, by1 = bar
    near = max(2 * thick, 1.0 * text_h)
    overlaps_x = min(lx1, bx1) - max(lx0, bx0) > 0
    if overlaps_x and ly1 <= by0 + 1 and by0 - ly1 <= near:
        return by0 - ly1
    if overlaps_x and ly0 >= by1 - 1 and ly0 - by1 <= near:
        return ly0 - by1
    if ly0 <= (by0 + by1) / 2 <= ly1:
        gap = max(bx0 - lx1, lx0 - bx1)
        if 0 <= gap <= 1.5 * text_h:
            return gap
    return None


def _text_height(label: _Label) -> float:
    return float(np.median([g[3] - g[1] for g in label.glyphs]))


def _ink_image(label: _Label, text_px: float) -> np.ndarray:
    """The line's glyphs alone, dark on white, upscaled to `text_px` high, with a white border."""
    scale = min(max(1.0, text_px / _text_height(label)), (OCR_MAX_WIDTH_PX - 40) / label.ink.shape[1])
    big = cv2.resize(label.ink, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    image = (255 - np.clip(big, 0, 1) * 255).astype(np.uint8)
    return cv2.copyMakeBorder(image, 20, 20, 20, 20, cv2.BORDER_CONSTANT, value=255)


def _raw_image(label: _Label, text_px: float, raw: np.ndarray | None = None) -> np.ndarray:
    """The panel's pixels around the line (or `raw`, pixels of its rows), contrast stretched, ink
    dark, upscaled to `text_px` high."""
    raw = label.raw if raw is None else raw
    return _stretched(raw, min(max(1.0, text_px / _text_height(label)), (OCR_MAX_WIDTH_PX - 20) / raw.shape[1]))


def _stretched(raw: np.ndarray, scale: float) -> np.ndarray:
    """Pixels where the ink is bright, contrast stretched, ink dark on light, scaled by `scale`."""
    grey = raw.astype(np.float32)
    low, high = np.percentile(grey, 2), np.percentile(grey, 99.5)
    stretched = np.clip((grey - low) / max(float(high - low), 1.0), 0, 1)
    big = cv2.resize(stretched, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    image = (255 - np.clip(big, 0, 1) * 255).astype(np.uint8)
    return cv2.copyMakeBorder(image, 10, 10, 10, 10, cv2.BORDER_REPLICATE)


def _read(label: _Label, ocr: _Reads) -> tuple[float | None, str, str | None, tuple[str, ...], tuple[str, ...]]:
    """(value, text, note, readings, decoded) of a label line: value None with a note when it cannot
    be trusted, and then the labels its reads parsed to, and apart the labels its reads spell with
    their unit decoded (`_decoded_readings`): weaker, only for a matched FOV.

    The line is read on its glyphs alone and on the panel's pixels around it: the first loses a
    glyph the components missed (print over a particle of its colour), the second picks up texture.
    Both agreeing is a value; else, where one of them parses as a label, both are read again at a
    second size, and a value needs two reads that agree and no read that shows other digits or
    another unit. A line neither crop parses is a figure's text or texture: on the synthetic set
    (seed 5, 300 panels) no line whose value came from the second size lacked a parse at the first,
    and reading such lines again was 17 % of all reads."""
    reads: list[str] = []
    crops: list[bool] = []  # whether each read is of the glyphs alone
    lines: list[tuple[str, LineRead | None]] = []  # each read whole, decoded only where no value agreed

    def read(image: np.ndarray) -> str:
        text = ocr.text(image)
        lines.append((text, ocr.last))
        return text

    def decoded_besides(readings: tuple[str, ...]) -> tuple[str, ...]:
        spelt = {other for text, line in lines for other in _decoded_readings(text, line)}
        return tuple(sorted(spelt - set(readings)))

    for text_px in READ_TEXT_PX:
        reads += [read(_ink_image(label, text_px)), read(_raw_image(label, text_px))]
        crops += [True, False]
        value, normalised = _agreed(reads, crops)
        if value is not None:
            return value, normalised, None, (), ()
        readings = tuple(sorted({found[1] for found in map(parse_label, reads) if found}))
        if not readings:
            break
    half = _half_label(reads)
    if not readings and half:
        # a bare number (its unit too faint to join the line) or a bare unit: the pixels further on,
        # one crop read twice: a faint "nm" read "mm" both times on a synthetic panel, so what they
        # say is a reading for a matched field of view to confirm (`settle_with_fov`), never a value
        further = label.right if half == "right" else label.left
        reads += [read(_raw_image(label, text_px, further)) for text_px in READ_TEXT_PX]
        readings = tuple(sorted({found[1] for found in map(parse_label, reads) if found}))
        if readings:
            return (None, reads[-2], f"label read {reads[0]!r}, the rest on the panel's pixels only: {reads[-2]!r}",
                    readings, decoded_besides(readings))
    spelt = decoded_besides(readings)
    if not readings and spelt:
        return None, reads[0], f"label read {', '.join(repr(text) for text in reads)}: a unit decoded as {' or '.join(spelt)}", (), spelt
    if not readings:
        return None, reads[0], f"label {reads[0]!r} is not a number and a length unit", (), ()
    return None, reads[0], f"label read {', '.join(repr(text) for text in reads)}: the reads disagree", readings, spelt


def _half_label(reads: list[str]) -> str | None:
    """"right" where a crop reads a bare number and the other the same or nothing, "left" where both
    read a bare unit (its number lost in a crack), else None: which way the rest of the label may
    lie. A texture line read as a digit on one crop and as something else on the other is common
    and was never half a label."""
    glyphs, pixels = ("".join(text.split()) for text in reads[:2])
    if {glyphs, pixels} - {""} and all(_BARE_NUMBER.fullmatch(text) for text in {glyphs, pixels} - {""}) and (
            glyphs == pixels or "" in (glyphs, pixels)):
        return "right"
    bare_unit = lambda text: parse_label(f"1{text}") is not None  # noqa: E731
    if bare_unit(glyphs) and bare_unit(pixels):
        return "left"
    return None


class _ReadsSpent(Exception):
    """A panel's `MAX_READS` OCR reads are spent."""


#: Reads a panel keeps to answer an image read again (`_Reads`): each holds its per-step output (40 steps x
#: 18,710 characters, 3 MB); keeping all of a panel's (up to `MAX_READS`) added ~100 MB to each matching
#: process's peak at 150 k. A line read as two crops at two sizes repeats its crops two reads apart.
_KEPT_READS = 2


@dataclass
class _Reads:
    """The OCR reads a panel has left (each read of a line or window takes one), and the last read
    whole (its per-step output: `_decoded_readings`). An image read among the last `_KEPT_READS` is not
    read again (the recogniser gives it the same read; it still takes one): a line's crop is one image
    at both `READ_TEXT_PX` where its print is that high already, a window read wider the same where the
    panel's edge keeps it as it was (30 of 2,928 reads on the four corpora's 438 document panels, all kept)."""

    left: int
    last: LineRead | None = None
    kept: dict[tuple[str, tuple[int, ...], bytes], LineRead] = field(default_factory=dict)

    def text(self, image: np.ndarray) -> str:
        """The text OCR reads on `image`, without marks at its ends that are no print of a label."""
        if self.left <= 0:
            raise _ReadsSpent
        self.left -= 1
        key = (image.dtype.str, image.shape, image.tobytes())  # the same bytes as another dtype are other pixels
        self.last = self.kept.pop(key, None) or read_line(image)
        self.kept[key] = self.last  # the latest last: the oldest is dropped first
        if len(self.kept) > _KEPT_READS:
            del self.kept[next(iter(self.kept))]
        return _EDGE_MARKS.sub("", self.last.text)


#: A read whose digits may be a label's number and whose letters no unit: "2.5jun", "50hr", "200 m".
_DIGITS_THEN_LETTERS = re.compile(r"(?P<number>\d+(?:[.,]\d+)?)\s?(?P<rest>[^\W\d_]+)")


def _decoded_readings(text: str, read: LineRead | None) -> tuple[str, ...]:
    """The labels a read spells when its unit is decoded from the recogniser's per-step output
    (`labeldecode.decoded_units`), its digits kept as read, other than what it parses to: readings for
    a matched field of view to confirm, never a value. A read that does not parse ("2.5jun"), and one
    that parses as mm where the output finds another unit as likely ("500mm" for a printed "500 nm",
    m and n as likely at its first letter: seed 7's Sato2023 fig 2d). None where the read is not
    digits then letters (a bare number has no unit to decode), or starts with a zero before a digit
    (`_agreed`)."""
    found = _DIGITS_THEN_LETTERS.fullmatch(text)
    if read is None or found is None or re.match(r"0\d", found["number"]):
        return ()
    as_read = parse_label(text)
    if as_read is not None and not as_read[1].endswith(" mm"):
        return ()  # micrographs' labels print mm the least, and it is how "nm" is misread: the one decoded
    spelt = (parse_label(f"{found['number']} {unit}") for unit in decoded_units(read, found["number"]))
    return tuple(parsed[1] for parsed in spelt if parsed and parsed != as_read)


def _agreed(reads: list[str], crops: list[bool]) -> tuple[float | None, str]:
    """(value, normalised label) that at least two reads parse to, where no read parses to another
    and no unparsed read contradicts it (`_contradicts`). `reads` alternate the line's glyphs alone
    and the panel's pixels around it (`crops`: whether each is of the glyphs). Two reads of the pixels
    alone are the same pixels read twice: they stand where the glyphs read as something (a letter
    lost or broken), not where the glyphs read as nothing at all: on 1,000 synthetic panels (seeds
    0-4) and seed 7's documents, 26 values read on the pixels alone, the glyphs read as a fragment,
    were all right; the one whose glyphs read nothing was wrong ("1 µm" read "1pm"). A value in Å
    needs both crops to read it (an "A" read on one crop only was fibres over "1.5 um" and a plot's
    letter on the article corpus). On a line's crops, a point or dash glued between the number and the
    unit ("50.nm": a speck in the space) reads as the label beside a read that parses as it is: seed
    11's vector "50 nm" read so three times of four; never alone ("5.nm" may be "5.5 nm" its last
    digit lost), nor on windows alone, which may start inside a label ("0.5 µm" read "5.um" and "5 um"
    above a stroke of its 5, synthetic seed 1)."""
    parsed = [parse_label(text) for text in reads]
    if any(crops) and any(parsed):
        parsed = [found or parse_label(_GLUED_MARK.sub("", text)) for found, text in zip(parsed, reads)]
    values = {found[1] for found in parsed if found}
    if len(values) != 1 or sum(found is not None for found in parsed) < 2:
        return None, ""
    value_m, normalised = next(found for found in parsed if found)
    number, unit = normalised.split()
    if re.match(r"0\d", number):
        # "05 µm": "0.5 µm" its point lost, or a speck before "5 µm" (labels print no leading zero):
        # a reading for a matched field of view to settle (`settle_with_fov`), never a value
        return None, ""
    if any(crops) and not any(text.strip() for text, glyphs in zip(reads, crops) if glyphs):
        return None, ""  # the glyphs read as nothing: the pixels around them read twice confirm nothing
    glyphs_parse = any(found for found, glyphs in zip(parsed, crops) if glyphs)
    if unit == "Å" and not (glyphs_parse and any(found for found, glyphs in zip(parsed, crops) if not glyphs)):
        return None, ""  # "A" is also a letter texture reads as: Å needs both crops, glyphs alone and pixels
    if unit == "mm" and not glyphs_parse:
        return None, ""  # pixels read a faint "nm" as "mm" at two sizes: mm needs the glyphs to read it
    for text, found in zip(reads, parsed):
        if found is None and _contradicts(text, number, unit):
            return None, ""
    return value_m, normalised


def _contradicts(text: str, number: str, unit: str) -> bool:
    """Whether a read that did not parse says something else than `number` and `unit`: other digits,
    or a unit whose first letter is another unit's ("500 mm" read "500ñ" once is not 500 nm) or, after
    digits, no unit's at all. A letter lost or broken after the first says nothing ("2.5 μr", "50 n"),
    nor does a read without digits whose first letter starts no unit (a glyph cut by texture), nor µ
    read as i, j or y (it still contradicts nm or mm), nor a point or dash glued between the digits
    and the unit ("400.nm": a speck in the space; "2. µm", spaced, may be a digit lost after the
    point and still contradicts "2 µm"), nor letters of a script no label is printed in read where the
    unit is ("2月" beside "2μm" read three times: seed 11's vector fig 3d)."""
    split = _NUMBER_AND_UNIT.fullmatch("".join(_GLUED_MARK.sub("", text).split()))
    digits, first = split["number"].translate(_NUMBER_FIXES), split["unit"][:1]
    first = "µ" if first in _MU_MISREADS else "Å" if first == "A" else first
    if digits and digits != number:
        return True
    if split["unit"] and all(unicodedata.category(char) == "Lo" and char >= "\u0370" for char in split["unit"]):
        # where the unit would be, only letters of a script no label prints (the model reads many:
        # "2月", "2ク" for "2μm"): texture, says nothing; not a Latin-looking one ("2ǀ" may be 21), nor
        # one between digits and a unit ("2口nm" may be 20 nm)
        return False
    return first not in ("", unit[0]) and (bool(digits) or first in _UNIT_FIRST_LETTERS)


def read_scale_bar(pixels: np.ndarray, fovs_m: Sequence[float] = ()) -> ScaleBar | None:
    """The scale bar of a published panel with its printed value, or None when no bar with a label
    beside it is found. A label misread (digits and unit letters that do not parse) gives the bar
    with value None and a note; without an OCR engine the likeliest bar with text beside it is
    returned that way. At most `MAX_READS` OCR reads are spent on it, the likeliest bar's windows
    always keep theirs. `fovs_m`: the panel's fields of view from matched images, if any: reading
    stops at the first bar whose readings one of them settles (`settle_with_fov`), as the caller
    would settle them (reads further on cost time and could only add readings that disagree)."""
    shrink = max(1, math.ceil(max(pixels.shape[:2]) / MAX_SIDE_PX))
    if shrink > 1:
        pixels = cv2.resize(pixels, None, fx=1 / shrink, fy=1 / shrink, interpolation=cv2.INTER_AREA)
    candidates = _candidates(pixels)
    unread: ScaleBar | None = None
    parsed_readings = False  # whether `unread`'s readings include labels reads parsed to
    lines_read = 0
    labels_read: list[Box] = []
    ocr = _Reads(MAX_READS - _TOP_WINDOW_READS)
    try:
        for rank, (bar, ink) in enumerate(candidates[:MAX_CANDIDATES]):
            if any(_intersects(bar.box, box) for box in labels_read):  # a stroke of a label misread before
                continue
            tried: set[Box] = set()
            doubts: list[tuple[Box, str, tuple[str, ...]]] = []  # (line, digits, readings) of this bar, not trusted
            for threshold in (*INK_THRESHOLDS, FAINT_INK):
                if threshold == FAINT_INK and (tried or rank > 0):  # the likeliest bar, where no line was found
                    break
                for label in _label_lines(ink, bar, threshold)[:LINES_PER_BAR]:
                    if label.box in tried or lines_read == MAX_LINES_READ:
                        continue
                    tried.add(label.box)
                    lines_read += 1
                    try:
                        value, text, note, readings, spelt = _read(label, ocr)
                    except OcrUnavailableError as exc:
                        return _scaled(ScaleBar(None, None, bar.x1 - bar.x0, bar.box, label.box, f"label not read: {exc}"), shrink)
                    digits = re.sub(r"[^0-9.]", "", text).strip(".")  # a point lost at one threshold is other digits
                    same_print = [seen for box, other, seen in doubts if _intersects(box, label.box) and other != digits]
                    if value is not None and same_print:
                        # the same print read with other digits at another threshold (a glyph over a particle)
                        readings = tuple(sorted({text, *same_print[0]}))
                        value, note = None, f"label read {text!r} here, other digits at another threshold"
                    found = ScaleBar(value, text, bar.x1 - bar.x0, bar.box, label.box, note,
                                     tuple(sorted({*readings, *spelt})))
                    if value is not None or any(settle_with_fov(found, fov, pixels.shape[1])[0].value_m for fov in fovs_m):
                        return _scaled(found, shrink)
                    looks_like_label = bool(_LOOKS_LIKE_LABEL.search(text))  # else text of a figure, or texture
                    # the first such line stands (or one whose units the model's output spells), or the
                    # same print read again, or one whose reads parsed over one whose units were decoded
                    if (looks_like_label or spelt) and (unread is None or (same_print and unread.bbox == found.bbox)
                                                       or (readings and unread.readings and not parsed_readings)):
                        unread, parsed_readings = found, bool(readings)
                    if looks_like_label:
                        labels_read.append(label.box)
                        doubts.append((label.box, digits, readings))
    except _ReadsSpent:
        pass  # the lines' share of the panel's reads is spent: the windows still have theirs
    ocr.left += _TOP_WINDOW_READS
    try:
        # reads of a label that disagreed are left to a matched field of view (`settle_with_fov`): the
        # same print read again around the bar confirms a misread as often ("200 nm" read "20 nm");
        # units only decoded (`_decoded_readings`) leave the windows to be read
        for bar, ink in candidates[:WINDOW_CANDIDATES] if not parsed_readings else ():
            try:
                value, label, window, readings = _read_windows(ink, bar, ocr)
            except OcrUnavailableError as exc:  # as for a line: the bar measured, its value unread
                return _scaled(unread or ScaleBar(None, None, bar.x1 - bar.x0, bar.box, None, f"label not read: {exc}"), shrink)
            if value is not None:
                return _scaled(ScaleBar(value, label, bar.x1 - bar.x0, bar.box, window), shrink)
            # the windows' reads that no two sizes of a side confirmed: a matched FOV may settle them
            around = ScaleBar(None, None, bar.x1 - bar.x0, bar.box, None,
                              f"windows around the bar read {' or '.join(readings)}, no side at two sizes", readings)
            if readings and any(settle_with_fov(around, fov, pixels.shape[1])[0].value_m for fov in fovs_m):
                return _scaled(around, shrink)
    except _ReadsSpent:
        pass  # the panel's OCR reads are spent: what was read stands
    return _scaled(unread, shrink) if unread else None


def _label_windows(shape: tuple[int, ...], bar: Box, font_px: float, beside_heights: float = BESIDE
                   ) -> dict[str, Box]:
    """Where the bar's label would lie if printed `font_px` high: centred above or below it, or beside
    it (`beside_heights` wide), with the gap authors leave; only windows inside the panel."""
    height, width = shape[:2]
    x0, y0, x1, y1 = bar
    centre_x, centre_y = (x0 + x1) / 2, (y0 + y1) / 2
    tall, gap = 1.25 * font_px, max(1.0, 0.1 * font_px)
    half_wide, beside = (max(x1 - x0, 3.2 * font_px) + 0.6 * font_px) / 2, beside_heights * font_px
    windows = {
        "above": (centre_x - half_wide, y0 - gap - tall, centre_x + half_wide, y0 - gap + 1),
        "below": (centre_x - half_wide, y1 + gap - 1, centre_x + half_wide, y1 + gap + tall),
        "right": (x1 + 1, centre_y - tall / 2, x1 + 1 + beside, centre_y + tall / 2),
        "left": (x0 - 1 - beside, centre_y - tall / 2, x0 - 1, centre_y + tall / 2),
    }
    inside = {}
    for side, (wx0, wy0, wx1, wy1) in windows.items():
        box = (max(0, int(wx0)), max(0, int(wy0)), min(width, int(wx1) + 1), min(height, int(wy1) + 1))
        if box[3] - box[1] >= 0.8 * tall and box[2] - box[0] >= 2 * font_px:
            inside[side] = box
    return inside


def _read_windows(bright: np.ndarray, bar: _Bar, ocr: _Reads) -> tuple[float | None, str, Box | None, tuple[str, ...]]:
    """(value, normalised label, window, readings) read on the panel's pixels where the bar's label
    would be, each side at `WINDOW_FONTS` sizes: a value needs the two sizes of one side to agree
    (`_agreed`, as pixels alone: never Å nor mm) and no other side to read another value. Without
    one, the labels its reads parsed to or spelt (`_decoded_readings`): only for a matched FOV."""
    found: dict[str, Box] = {}
    read_by_side: list[list[str]] = []
    readings: set[str] = set()
    x0, y0, x1, y1 = bar.box
    ink_level = float(bright[y0:y1, x0:x1].mean()) - 0.5 * bar.contrast
    for side in ("above", "below", "right", "left"):
        reads: list[str] = []
        read_by_side.append(reads)
        window, beside = None, BESIDE
        for fraction in WINDOW_FONTS:
            window = _label_windows(bright.shape, bar.box, fraction * bright.shape[0], beside).get(side)
            if window is None:
                break
            raw = bright[window[1]:window[3], window[0]:window[2]]
            if not WINDOW_INK[0] <= float((raw >= ink_level).mean()) <= WINDOW_INK[1]:
                break  # nothing as bright as the bar there, or a region of its colour: no print
            reads.append(ocr.text(_window_image(raw)))
            parsed = parse_label(reads[-1])
            wider = (_label_windows(bright.shape, bar.box, fraction * bright.shape[0], WIDE_BESIDE).get(side)
                     if parsed is None and beside < WIDE_BESIDE and _runs_on(reads[-1], side) else None)
            if wider:
                # the label runs on past the window (its number read alone right of the bar, its unit
                # alone left of it): the side is read as wide as a small panel's label, at each size
                window, beside = wider, WIDE_BESIDE
                reads[-1] = ocr.text(_window_image(bright[window[1]:window[3], window[0]:window[2]]))
                parsed = parse_label(reads[-1])
            readings.update([parsed[1]] if parsed else _decoded_readings(reads[-1], ocr.last))
            if parsed is None:
                break  # nothing parses at this size: not read again
        value, normalised = _agreed(reads, [False] * len(reads))
        if value is not None and window is not None:
            found[normalised] = window
    if len(found) != 1:
        return None, "", None, tuple(sorted(readings))
    normalised, window = next(iter(found.items()))
    if any(_other_digits(text, normalised) for reads in read_by_side for text in reads):
        return None, "", None, tuple(sorted(readings))
    return parse_label(normalised)[0], normalised, window, ()  # type: ignore[index]


def _window_image(raw: np.ndarray) -> np.ndarray:
    """A window's pixels as OCR reads them: stretched, `WINDOW_READ_PX` high (within its widest)."""
    return _stretched(raw, min(WINDOW_READ_PX / raw.shape[0], (OCR_MAX_WIDTH_PX - 20) / raw.shape[1]))


def _runs_on(text: str, side: str) -> bool:
    """Whether a window's read beside a bar is the part of a label nearer the bar: right of it a number
    alone or with one letter ("1.5", "1.5u"), left of it a unit alone (the rest lies further out)."""
    glyphs = "".join(text.split())
    if side == "right":
        return bool(_NUMBER_CUT.fullmatch(glyphs))
    return side == "left" and bool(glyphs) and parse_label(f"1{glyphs}") is not None


def _other_digits(text: str, normalised: str) -> bool:
    """Whether a window's read shows another value than `normalised` or, not parsing, other digits: a
    window that starts inside the label cuts it ("0.5 µm" read "5 µm" at both sizes right of a piece
    beside the bar, while the window above it read "05"). Letters and a lone digit say nothing here:
    texture or an edge around a bar reads so (a "1" beside a bar read "500nm" at both sizes, seed 7)."""
    parsed = parse_label(text)
    if parsed is not None:
        return parsed[1] != normalised
    digits = re.sub(r"[^0-9.]", "", text).strip(".")
    return len(digits) >= 2 and digits != normalised.split()[0]


def _scaled(bar: ScaleBar, factor: int) -> ScaleBar:
    """A bar found on a downscaled panel, in the panel's own pixels."""
    if factor == 1:
        return bar
    grow = lambda box: tuple(v * factor for v in box)  # noqa: E731
    return replace(bar, bar_px=bar.bar_px * factor, bbox=grow(bar.bbox),
                   label_bbox=grow(bar.label_bbox) if bar.label_bbox else None)
