"""The matcher searches with one faiss (OpenMP) thread, and gives a library user's setting back: a
`Matcher` made or used changes nothing for the caller's own faiss searches."""

from __future__ import annotations

from pathlib import Path

import faiss

from emcensus.figures.match import Matcher
from figures.match_support import area_of, build_archive, publish, visual_index


def test_a_panel_is_searched_on_one_thread_and_the_callers_setting_is_given_back(tmp_path: Path, monkeypatch) -> None:
    paths = build_archive(tmp_path / "archive")
    index = visual_index({path: area_of(path) for path in paths.values()})
    during: list[int] = []
    search = index.search

    def watched(*args, **kwargs):
        during.append(faiss.omp_get_max_threads())
        return search(*args, **kwargs)

    monkeypatch.setattr(index, "search", watched)
    before = faiss.omp_get_max_threads()
    try:
        faiss.omp_set_num_threads(3)
        matcher = Matcher(index)
        assert faiss.omp_get_max_threads() == 3  # made: nothing changed
        result = matcher.match_panel(publish(area_of(paths["b"])))
        assert [match.path for match in result.matches] == [str(paths["b"])]
        assert during and set(during) == {1}  # every search of the panel on one thread
        assert faiss.omp_get_max_threads() == 3  # used: the caller's setting back
    finally:
        faiss.omp_set_num_threads(before)
