"""Train/validation/test splits without leakage, and the acquisition sessions they respect.

Images that share a project, an acquisition session or a near-duplicate group are one *component*
(identical pixels are exported once, so they need no link): a test image whose twin (a re-save, the
next frame of the same session, the same sample) is in the training set inflates the test score
(duplicates across splits inflate test accuracy by 9–14 % on CIFAR: ciFAIR, 2020). Components are
put in an order given by a salted hash (reproducible with the same secret and seed, not guessable
without it) and each goes whole to the split least filled relative to its share (by image count)
among those with room for it.

A *session* (`analysis.sessions`, as the cost of lost data uses) is a run of images of one
instrument in one folder whose acquisition times are less than `gap_minutes` apart.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Hashable, Iterable, Sequence

from emcensus.errors import ConfigError
from emcensus.unionfind import UnionFind

SPLIT_NAMES = ("train", "validation", "test")
DEFAULT_SPLITS = "80,10,10"
DEFAULT_SESSION_GAP_MINUTES = 30.0


def parse_splits(text: str) -> dict[str, int]:
    """`80,10,10` → {train: 80, validation: 10, test: 10}: three whole percentages that sum to 100."""
    parts = [part.strip() for part in str(text).split(",")]
    if len(parts) != 3 or not all(re.fullmatch(r"\d{1,3}", part) for part in parts):
        raise ConfigError(f"--splits {text!r}: give three whole percentages for train,validation,test, e.g. 80,10,10")
    values = [int(part) for part in parts]
    if sum(values) != 100:
        raise ConfigError(f"--splits {text!r} sums to {sum(values)}, not 100")
    if values[0] == 0:
        raise ConfigError(f"--splits {text!r}: the training split cannot be empty")
    return dict(zip(SPLIT_NAMES, values, strict=True))


def components(n: int, links: Iterable[Sequence[Hashable | None]]) -> list[int]:
    """Component number per item: items sharing any non-None key of a link family are joined.

    `links` holds one sequence per family (project, session, duplicate group, content), a key per
    item. Components are numbered by their smallest item."""
    forest = UnionFind(range(n))
    for keys in links:
        first: dict[Hashable, int] = {}
        for item, key in enumerate(keys):
            if key is None:
                continue
            seen = first.setdefault(key, item)
            if seen != item:
                forest.union(seen, item)
    component_of = forest.smallest()
    return [component_of[item] for item in range(n)]


def assign_splits(component_of: Sequence[int], stable_ids: Sequence[str], ratios: dict[str, int], salt: bytes,
                  seed: int = 0) -> tuple[list[str], dict[int, int]]:
    """(split per item, order rank per component): components in salted-hash order, each whole to
    the split least filled relative to its share (by count) among those with room for it.

    `stable_ids`: a name per item that does not depend on the catalog (its content hash); a
    component is ordered by the smallest of its members', so the same images split the same way."""
    members: dict[int, list[int]] = {}
    for item, component in enumerate(component_of):
        members.setdefault(component, []).append(item)

    def rank_key(component: int) -> bytes:
        name = min(stable_ids[item] for item in members[component])
        return hmac.new(salt, f"{seed}\x00{name}".encode(), hashlib.sha256).digest()

    ordered = sorted(members, key=rank_key)
    total = len(component_of)
    targets = {name: total * share / 100 for name, share in ratios.items()}
    filled = dict.fromkeys(ratios, 0)
    split_of: list[str] = [""] * total
    open_splits = [name for name, share in ratios.items() if share > 0]
    for component in ordered:
        size = len(members[component])
        # among the splits with room for it, the one least filled relative to its share (small
        # splits get their turn early); with room nowhere, the one with most room left
        fitting = [s for s in open_splits if targets[s] - filled[s] >= size]
        if fitting:
            name = max(fitting, key=lambda s: ((targets[s] - filled[s]) / targets[s], -open_splits.index(s)))
        else:
            name = max(open_splits, key=lambda s: (targets[s] - filled[s], -open_splits.index(s)))
        for item in members[component]:
            split_of[item] = name
        filled[name] += size
    return split_of, {component: rank for rank, component in enumerate(ordered)}
