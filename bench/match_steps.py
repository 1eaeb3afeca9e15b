"""Per panel, per polarity, per step of the matcher: what each step found and what it cost (issue 8).

A panel that ends without a match runs every fallback step in both polarities; a rule that stops that
work early must not lose a match anywhere. This records, for every panel the product's `Matcher`
matches in this process (`--workers 0`), the evidence each step had (the top votes, the best inliers,
whether a fit stood) and its CPU seconds, so that such a rule can be read off the records of several
corpora. The matcher's methods are wrapped on the class while `traced()` is active (nothing is
changed when it is not), so the records come from the product's own code paths.

    .venv/bin/python bench/bench_figures.py --keep DIR --workers 0 --steps OUT.json
    .venv/bin/python bench/bench_index_scale.py DIR ... --match-workers 0 --steps OUT.json
    .venv/bin/python -m pytest -p match_steps tests/figures/...   (PYTHONPATH=bench, MATCH_STEPS=OUT.json)
    .venv/bin/python bench/match_steps.py OUT.json...            (the table of steps)

Steps, in the order `Matcher._search` runs them (each only while nothing stood before it): `vote`,
`indexed` (the voted candidates on their indexed keypoints), `dense1` / `dense2` (the best-voted on
dense keypoints at the file's size / twice it; `native vote` before `dense2` on a small panel),
`around` (images acquired around a doubtful fit), `near` (around a weak one, at twice the size),
`fit scale`, `deep`, `deep around`, `confirm`; then `aligned around`; per panel `whole fields` after both polarities.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from emcensus.figures import match
from emcensus.figures.match import Fit, Matcher

#: Fits made by `Matcher._fits` called straight from `_search`, in call order (each runs only while
#: nothing stood, so the n-th such call is always the same step).
_DIRECT_FITS = ("indexed", "dense1", "dense2", "near")
#: Methods whose work is one step of its own (their `_fits` calls belong to them).
_STEP_METHODS = {"_around": "around", "_at_fit_scale": "fit scale", "_deeper": "deep",
                 "_aligned_around": "aligned around", "_whole_fields": "whole fields"}


class StepTrace:
    """The records of the panels matched while `traced()` is active: one dict per panel."""

    def __init__(self) -> None:
        self.panels: list[dict[str, Any]] = []
        self.context: dict[str, Any] = {}  # what the caller says the current panel is (document, page, ...)
        self._panel: dict[str, Any] | None = None
        self._stack: list[str] = []
        self._polarity: dict[str, Any] | None = None

    # ------------------------------------------------------------------ records
    def _step(self, name: str, seconds: float, fits: list[Fit] | None = None, matcher: Matcher | None = None,
              **evidence: Any) -> None:
        record: dict[str, Any] = {"step": name, "cpu": round(seconds, 4), **evidence}
        if fits is not None and matcher is not None:
            record["fits"] = len(fits)
            record["best_inliers"] = max((f.inliers for f in fits), default=0)
            record["stood"] = sorted({Path(matcher.index.images[f.position]["path"]).name
                                      for f in fits if matcher._stands(f)})  # noqa: SLF001
            record["weak"] = sum(1 for f in fits if match.WEAK_INLIERS <= f.inliers < matcher.min_inliers)
        target = self._polarity["steps"] if self._polarity is not None else self._panel["steps"]
        target.append(record)

    @contextmanager
    def traced(self) -> Iterator[StepTrace]:
        """The matcher's methods wrapped on the class while inside."""
        originals = {name: getattr(Matcher, name) for name in  # `_ballot`: votes are recorded where it exists
                     ("match_panel", "_search", "_ballot", "_fits", "_confirm", *_STEP_METHODS) if hasattr(Matcher, name)}
        trace = self

        def wrap(name: str, method: Any) -> Any:
            @functools.wraps(method)
            def wrapper(matcher: Matcher, *args: Any, **kwargs: Any) -> Any:
                if trace._panel is None and name != "match_panel":
                    return method(matcher, *args, **kwargs)
                return getattr(trace, f"_on{name}")(matcher, method, *args, **kwargs) \
                    if hasattr(trace, f"_on{name}") else trace._on_step(name, matcher, method, *args, **kwargs)
            return wrapper

        for name, method in originals.items():
            setattr(Matcher, name, wrap(name, method))
        try:
            yield self
        finally:
            for name, method in originals.items():
                setattr(Matcher, name, method)

    def _onmatch_panel(self, matcher: Matcher, method: Any, pixels: np.ndarray, **kwargs: Any) -> Any:
        self._panel = {**self.context, "shape": list(pixels.shape[:2]), "steps": [], "polarities": []}
        start = time.process_time()
        try:
            result = method(matcher, pixels, **kwargs)
        finally:
            self._panel["cpu"] = round(time.process_time() - start, 4)
            panel, self._panel, self._stack, self._polarity = self._panel, None, [], None
            self.panels.append(panel)
        panel["matches"] = [[Path(m.path).name, m.inliers, m.score] for m in result.matches]
        return result

    def _on_search(self, matcher: Matcher, method: Any, grey: np.ndarray, inverted: bool, *args: Any,
                   **kwargs: Any) -> Any:
        self._polarity = {"inverted": inverted, "fallbacks": kwargs.get("fallbacks", True), "steps": [],
                          "direct": 0}
        self._panel["polarities"].append(self._polarity)
        self._stack.append("_search")
        start = time.process_time()
        try:
            return method(matcher, grey, inverted, *args, **kwargs)
        finally:
            self._stack.pop()
            self._polarity["cpu"] = round(time.process_time() - start, 4)
            self._polarity = None

    def _on_ballot(self, matcher: Matcher, method: Any, variants: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.process_time()
        counts = method(matcher, variants, *args, **kwargs)
        seconds = time.process_time() - start
        top = np.sort(counts)[::-1][:matcher.candidates]
        votes = sum(len(v.voting) for v in variants)
        voted = self._polarity is not None and any(step["step"] == "vote" for step in self._polarity["steps"])
        name = "native vote" if voted else "vote"
        if kwargs.get("kept") is not None:  # the mirror image votes after the printed candidates stood on nothing
            # (`Matcher._indexed`): one `vote` and one `indexed` step, as the joint ballot they end in
            steps = self._polarity["steps"]
            printed = steps.pop()  # its indexed step, if any, then its vote
            if printed["step"] == "indexed":
                self._polarity["carried"] = printed["cpu"]
                printed = steps.pop()
            self._polarity["direct"] = 0
            name, seconds = "vote", seconds + printed["cpu"]
        self._step(name, seconds, top=[int(v) for v in top[:5]], descriptors=votes)
        return counts

    def _on_fits(self, matcher: Matcher, method: Any, variants: Any, voted: Any, *args: Any, **kwargs: Any) -> Any:
        if self._stack and self._stack[-1] != "_search":  # a part of the step that called it
            return method(matcher, variants, voted, *args, **kwargs)
        name = _DIRECT_FITS[min(self._polarity["direct"], len(_DIRECT_FITS) - 1)]
        self._polarity["direct"] += 1
        self._stack.append(name)
        start = time.process_time()
        try:
            fits = method(matcher, variants, voted, *args, **kwargs)
        finally:
            self._stack.pop()
        seconds = time.process_time() - start + self._polarity.pop("carried", 0.0)
        self._step(name, seconds, fits, matcher, tried=len(voted))
        return fits

    def _on_confirm(self, matcher: Matcher, method: Any, fit: Fit, grey: np.ndarray) -> Any:
        if self._stack and self._stack[-1] != "_search":
            return method(matcher, fit, grey)
        start = time.process_time()
        method(matcher, fit, grey)
        self._step("confirm", time.process_time() - start, [fit], matcher)

    def _on_step(self, name: str, matcher: Matcher, method: Any, *args: Any, **kwargs: Any) -> Any:
        if self._stack and self._stack[-1] != "_search":  # a part of the step that called it
            return method(matcher, *args, **kwargs)
        self._stack.append(name)
        start = time.process_time()
        try:
            fits = method(matcher, *args, **kwargs)
        finally:
            self._stack.pop()
        step = _STEP_METHODS[name]
        if step == "around" and any(done["step"] == "deep" for done in self._polarity["steps"]):
            step = "deep around"  # the images around what the deep check verified
        self._step(step, time.process_time() - start, list(fits), matcher)
        return fits


@contextmanager
def traced_documents(trace: StepTrace) -> Iterator[None]:
    """`trace` active, and each panel `match_documents` matches in this process named by its document,
    page and box (the product's `_found_in_panel` wrapped)."""
    found_in_panel = match._found_in_panel  # noqa: SLF001

    @functools.wraps(found_in_panel)
    def named(matcher: Matcher, task: Any, warn: Any) -> Any:
        trace.context = {"article": task.article, "document": Path(task.document).name, "page": task.page,
                         "box": [round(v, 1) for v in task.region]}
        return found_in_panel(matcher, task, warn)

    match._found_in_panel = named  # noqa: SLF001
    try:
        with trace.traced():
            yield
    finally:
        match._found_in_panel = found_in_panel  # noqa: SLF001


def first_stood(panel: dict[str, Any]) -> str | None:
    """'polarity/step' where something first stood on the panel, or None."""
    for polarity in panel["polarities"]:
        for step in polarity["steps"]:
            if step.get("stood"):
                return f"{'negative' if polarity['inverted'] else 'printed'}/{step['step']}"
    for step in panel["steps"]:
        if step.get("stood"):
            return f"panel/{step['step']}"
    return None


def table(panels: list[dict[str, Any]]) -> str:
    """CPU and counts per step, for panels matched and panels left without a match; where matches first stood."""
    lines = []
    for matched in (True, False):
        chosen = [p for p in panels if bool(p["matches"]) == matched]
        runs: dict[str, list[float]] = defaultdict(list)
        for panel in chosen:
            for polarity in panel["polarities"]:
                side = "negative" if polarity["inverted"] else "printed"
                for step in polarity["steps"]:
                    runs[f"{side}/{step['step']}"].append(step["cpu"])
            for step in panel["steps"]:
                runs[f"panel/{step['step']}"].append(step["cpu"])
        total = sum(p["cpu"] for p in chosen)
        lines.append(f"{'matched' if matched else 'unmatched'} panels: {len(chosen)}, CPU {total:.1f} s")
        for name, seconds in sorted(runs.items(), key=lambda item: -sum(item[1])):
            lines.append(f"    {name:28s} runs {len(seconds):4d}  CPU {sum(seconds):7.2f} s")
    where: dict[str, int] = defaultdict(int)
    for panel in panels:
        if panel["matches"]:
            where[first_stood(panel) or "?"] += 1
    lines.append("first stood: " + ", ".join(f"{k} {v}" for k, v in sorted(where.items(), key=lambda i: -i[1])))
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------- pytest plugin
_PLUGIN_TRACE: StepTrace | None = None


def pytest_configure(config: Any) -> None:
    """As a pytest plugin (`-p match_steps`): every panel the tests match traced, written to $MATCH_STEPS."""
    global _PLUGIN_TRACE  # noqa: PLW0603
    _PLUGIN_TRACE = StepTrace()
    config._match_steps = _PLUGIN_TRACE.traced()  # noqa: SLF001
    config._match_steps.__enter__()  # noqa: SLF001


def pytest_runtest_setup(item: Any) -> None:
    if _PLUGIN_TRACE is not None:
        _PLUGIN_TRACE.context = {"test": item.nodeid}


def pytest_unconfigure(config: Any) -> None:
    if _PLUGIN_TRACE is not None:
        config._match_steps.__exit__(None, None, None)  # noqa: SLF001
        out = Path(os.environ.get("MATCH_STEPS", "match_steps.json"))  # one file per xdist worker
        worker = os.environ.get("PYTEST_XDIST_WORKER")
        out = out.with_name(f"{out.stem}.{worker}{out.suffix}") if worker else out
        out.write_text(json.dumps(_PLUGIN_TRACE.panels))


def main() -> None:
    panels = [panel for name in sys.argv[1:] for panel in json.loads(Path(name).read_text())]
    print(table(panels))


if __name__ == "__main__":
    main()
