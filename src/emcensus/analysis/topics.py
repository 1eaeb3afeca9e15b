"""Article topics: the study's categories and subcategories for articles the ledger leaves blank.

Offline and deterministic. Title, abstract and keywords become TF-IDF vectors of words (1–2 grams)
and characters (3–5 grams inside words, so "nanocrystals" meets "nanocrystal"), fitted on the
lexicon and the articles at hand. Each topic (a subcategory, or a category without any) has a
centroid: its lexicon entry (`topics_lexicon.toml`, editable) averaged with the articles the ledger
labels with it. An article goes to the nearest centroid by cosine similarity.

Once every class of a level has `MIN_LABELS` labelled articles (labels: ledger categories), that
level is decided by a logistic regression on them, calibrated (sigmoid, 3-fold) so its probability
means what it says; the category level and each category's subcategories are judged separately.

Confidence: the calibrated probability for a regression; for a centroid, the top category's share
of the per-category best similarities (0.2 is a coin among five). Low confidence or no lexicon
overlap at all marks the article "needs review".
"""

from __future__ import annotations

import tomllib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from typing import Any

import numpy as np

from emcensus.analysis.publications import DEFAULT_VOCABULARY, CategoryVocabulary

#: Labelled articles every class of a level needs before a regression decides that level.
MIN_LABELS = 10
#: A centroid decision whose top category holds less of the similarity than this needs review.
REVIEW_SHARE = 0.35
#: A calibrated probability below this needs review.
REVIEW_PROBABILITY = 0.6

Topic = tuple[str, str | None]  # (category, subcategory or None)


@dataclass(frozen=True, slots=True)
class TopicInput:
    """What the classifier reads of an article, and its ledger label if it has one."""

    id: str
    title: str | None = None
    abstract: str | None = None
    keywords: str | None = None
    label: Topic | None = None

    def text(self) -> str:
        return " . ".join(part for part in (self.title, self.keywords, self.abstract) if part)


@dataclass(frozen=True, slots=True)
class Classification:
    """A proposed topic: `method` says which decision made the category (centroid or regression)."""

    id: str
    category: str
    subcategory: str | None
    confidence: float
    needs_review: bool
    method: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "category": self.category, "subcategory": self.subcategory,
                "confidence": self.confidence, "needs_review": self.needs_review, "method": self.method}


def parse_lexicon(text: str, vocabulary: CategoryVocabulary = DEFAULT_VOCABULARY, name: str = "lexicon"
                  ) -> dict[Topic, tuple[str, ...]]:
    """Terms per topic from lexicon TOML: `[Category] terms = [...]` and `[Category."Subcategory"]`.

    A category's own terms count for each of its subcategories. Every topic of the vocabulary must
    have terms (a topic without any could never be proposed); ValueError says what is wrong."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{name} is not valid TOML: {exc}") from exc
    lexicon: dict[Topic, list[str]] = {}
    shared: dict[str, list[str]] = {}
    for category_name, table in data.items():
        if not isinstance(table, dict):
            raise ValueError(f"{name}: [{category_name}] must be a table with terms = [...]")
        category, _ = _resolve(vocabulary, category_name, None, name)
        shared[category] = _terms(table.get("terms", []), f"{name}: [{category_name}]")
        for sub_name, sub_table in table.items():
            if sub_name == "terms":
                continue
            if not isinstance(sub_table, dict):
                raise ValueError(f"{name}: [{category_name}.{sub_name}] must be a table with terms = [...]")
            topic = _resolve(vocabulary, category, sub_name, name)
            lexicon[topic] = _terms(sub_table.get("terms", []), f"{name}: [{category_name}.{sub_name}]")
    result = {}
    for category, subs in vocabulary.categories.items():
        for sub in subs or (None,):
            terms = (*shared.get(category, []), *lexicon.get((category, sub), []))
            if not terms:
                raise ValueError(f"{name}: no terms for {category}{' / ' + sub if sub else ''}")
            result[(category, sub)] = tuple(terms)
    return result


def _resolve(vocabulary: CategoryVocabulary, category: str, sub: str | None, name: str) -> Topic:
    try:
        resolved = vocabulary.resolve(category, sub)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from exc
    return resolved[0] or category, resolved[1]


def _terms(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(term, str) and term.strip() for term in value):
        raise ValueError(f"{where}: terms must be a list of words or phrases in quotes")
    return [term.strip() for term in value]


def default_lexicon_text() -> str:
    """The TOML of the lexicon shipped with emcensus (`analysis/topics_lexicon.toml`)."""
    return resources.files("emcensus.analysis").joinpath("topics_lexicon.toml").read_text(encoding="utf-8")


def default_lexicon() -> dict[Topic, tuple[str, ...]]:
    return parse_lexicon(default_lexicon_text(), name="topics_lexicon.toml")


def _vectorizer() -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: PLC0415 (heavy: only when classifying)
    from sklearn.pipeline import FeatureUnion  # noqa: PLC0415

    return FeatureUnion([
        ("words", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, strip_accents="unicode",
                                  stop_words="english", token_pattern=r"(?u)\b\w[\w-]*\b")),
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, strip_accents="unicode")),
    ])


def _regression(features: np.ndarray, labels: Sequence[Any]) -> Any:
    from sklearn.calibration import CalibratedClassifierCV  # noqa: PLC0415
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415

    # saga: faster than lbfgs on these sparse n-grams (2,180 articles: 32 s vs 56 s); a fixed seed keeps runs identical
    model = CalibratedClassifierCV(LogisticRegression(C=10.0, solver="saga", max_iter=1000, tol=1e-4, random_state=0),
                                   method="sigmoid", cv=3)
    return model.fit(features, np.array(labels, dtype=object))


def _regressions(labelled: Sequence[TopicInput], vectors: Any, topics: Sequence[Topic], min_labels: int
                 ) -> tuple[Any, dict[str, Any]]:
    """The category regression and each category's subcategory regression, where every class of
    that level has `min_labels` labelled articles (None / left out otherwise)."""
    def fit(indices: list[int], labels: list[str], classes: set[str]) -> Any:
        counts = Counter(labels)
        if not classes or set(counts) < classes or min(counts.values()) < min_labels:
            return None
        return _regression(vectors[indices], labels)

    categories = {category for category, _ in topics}
    category_model = fit(list(range(len(labelled))), [a.label[0] for a in labelled if a.label], categories)
    sub_models = {}
    for category in categories:
        rows = [i for i, a in enumerate(labelled) if a.label and a.label[0] == category and a.label[1] is not None]
        model = fit(rows, [labelled[i].label[1] for i in rows if labelled[i].label],
                    {sub for cat, sub in topics if cat == category and sub is not None})
        if model is not None:
            sub_models[category] = model
    return category_model, sub_models


def classify(articles: Sequence[TopicInput], lexicon: Mapping[Topic, tuple[str, ...]], *,
             min_labels: int = MIN_LABELS) -> list[Classification]:
    """A topic for every article without a label (labelled ones teach, they are never re-labelled)."""
    from sklearn.preprocessing import normalize  # noqa: PLC0415

    if min_labels < 3:
        raise ValueError("a calibrated regression needs at least 3 labelled articles per class (3-fold calibration)")
    todo = [article for article in articles if article.label is None]
    if not todo:
        return []
    labelled = [article for article in articles if article.label is not None and article.label in lexicon]
    topics = list(lexicon)
    lexicon_texts = [" . ".join(terms) for terms in lexicon.values()]
    vectorizer = _vectorizer()
    matrix = vectorizer.fit_transform(lexicon_texts + [a.text() for a in labelled + todo]).tocsr()  # sparse
    lexicon_vectors, labelled_vectors = matrix[:len(topics)], matrix[len(topics):len(topics) + len(labelled)]
    todo_vectors = matrix[len(topics) + len(labelled):]
    centroids = np.vstack([
        np.asarray((lexicon_vectors[index].sum(axis=0) + labelled_vectors[members].sum(axis=0)) / (1 + len(members)))
        for index, topic in enumerate(topics)
        for members in [[i for i, a in enumerate(labelled) if a.label == topic]]])
    similarity = np.asarray(normalize(todo_vectors) @ normalize(centroids).T)  # articles × topics, cosine
    # the word part alone says whether any lexicon word or phrase occurs at all
    words = vectorizer.transformer_list[0][1]
    word_overlap = (words.transform([a.text() for a in todo]) @ words.transform(lexicon_texts).T).max(axis=1).toarray()
    category_model, sub_models = _regressions(labelled, labelled_vectors, topics, min_labels)
    categories = list(dict.fromkeys(category for category, _ in topics))
    # one prediction call per model for all articles (a calibrated model's call has a fixed cost)
    category_probabilities = category_model.predict_proba(todo_vectors) if category_model is not None else None
    sub_predictions = {category: model.classes_[np.argmax(model.predict_proba(todo_vectors), axis=1)]
                       for category, model in sub_models.items()}

    results = []
    for row, article in enumerate(todo):
        if category_probabilities is not None:
            top = int(np.argmax(category_probabilities[row]))
            category, confidence = str(category_model.classes_[top]), float(category_probabilities[row, top])
            method = "regression"
            review = confidence < REVIEW_PROBABILITY
        else:
            best = {c: max(similarity[row, i] for i, topic in enumerate(topics) if topic[0] == c) for c in categories}
            category = max(categories, key=lambda c: (best[c], -categories.index(c)))
            total = sum(best.values())
            confidence, method = float(best[category] / total) if total > 0 else 0.0, "centroid"
            review = confidence < REVIEW_SHARE
        subcategory = None
        if category in sub_predictions:
            subcategory = str(sub_predictions[category][row])
        elif any(cat == category and sub is not None for cat, sub in topics):
            nearest = max((i for i, topic in enumerate(topics) if topic[0] == category), key=lambda i: similarity[row, i])
            subcategory = topics[nearest][1]
        results.append(Classification(article.id, category, subcategory, round(confidence, 4),
                                      bool(review or word_overlap[row, 0] == 0), method))
    return results


def cross_check(articles: Sequence[TopicInput], lexicon: Mapping[Topic, tuple[str, ...]], *, folds: int = 5,
                min_labels: int = MIN_LABELS) -> tuple[float | None, int]:
    """(category macro-F1, labelled articles) when the ledger's labels are hidden one fold at a time
    and the other folds teach: how far to trust the proposals on this facility's own articles.
    None when there are fewer labelled articles than folds."""
    labelled = [article for article in articles if article.label is not None]
    if len(labelled) < folds:
        return None, len(labelled)
    truth = {article.id: article.label[0] for article in labelled if article.label}
    expected, predicted = [], []
    for fold in range(folds):
        run = [replace(article, label=None) if index % folds == fold else article
               for index, article in enumerate(labelled)]
        for result in classify(run, lexicon, min_labels=min_labels):
            expected.append(truth[result.id])
            predicted.append(result.category)
    return macro_f1(expected, predicted), len(labelled)


def macro_f1(truth: Sequence[Any], predicted: Sequence[Any]) -> float:
    """Unweighted mean F1 over the true classes (each class counts the same, rare ones included)."""
    from sklearn.metrics import f1_score  # noqa: PLC0415

    return float(f1_score(truth, predicted, labels=sorted(set(truth), key=str), average="macro", zero_division=0))
