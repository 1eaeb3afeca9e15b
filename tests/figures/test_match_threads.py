"""The matcher searches with one faiss (OpenMP) thread and one BLAS thread, and gives a library user's
settings back: a `Matcher` made or used changes nothing for the caller's own searches and products."""

from __future__ import annotations

from pathlib import Path

import faiss
from threadpoolctl import threadpool_info, threadpool_limits

from emcensus.figures.match import Matcher
from figures.match_support import area_of, build_archive, publish, visual_index


def _blas_threads() -> set[int]:
    return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}


def test_a_panel_is_searched_on_one_thread_and_the_callers_setting_is_given_back(tmp_path: Path, monkeypatch) -> None:
    paths = build_archive(tmp_path / "archive")
    index = visual_index({path: area_of(path) for path in paths.values()})
    during: list[int] = []
    search = index.search

    blas_during: list[set[int]] = []

    def watched(*args, **kwargs):
        during.append(faiss.omp_get_max_threads())
        blas_during.append(_blas_threads())
        return search(*args, **kwargs)

    monkeypatch.setattr(index, "search", watched)
    before = faiss.omp_get_max_threads()
    try:
        with threadpool_limits(limits=3, user_api="blas"):
            faiss.omp_set_num_threads(3)
            matcher = Matcher(index)
            assert faiss.omp_get_max_threads() == 3 and _blas_threads() == {3}  # made: nothing changed
            result = matcher.match_panel(publish(area_of(paths["b"])))
            assert [match.path for match in result.matches] == [str(paths["b"])]
            assert during and set(during) == {1}  # every search of the panel on one thread
            assert blas_during and all(threads == {1} for threads in blas_during)  # and its products
            assert faiss.omp_get_max_threads() == 3 and _blas_threads() == {3}  # used: the caller's settings back
    finally:
        faiss.omp_set_num_threads(before)
