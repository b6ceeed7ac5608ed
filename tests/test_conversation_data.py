"""Ground truth of the conversational constraint benchmark: generated requests and the hand-written set."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from eval import conversation_data as cd
from llmrec.converse.query import Query

HANDWRITTEN = Path(__file__).parent / "data" / "requests_handwritten.jsonl"


@pytest.fixture(scope="module")
def popularity(ml100k) -> dict[int, int]:
    return ml100k.interactions.frame["item"].value_counts().to_dict()


@pytest.fixture(scope="module")
def cases(ml100k, popularity) -> list[cd.Case]:
    return cd.generate(ml100k.catalog, popularity=popularity)


def _satisfying(parse: dict, catalog) -> int:
    return len(Query.from_parse(parse).constraints.mask(catalog))


def test_the_generator_is_deterministic_per_seed(ml100k, popularity, cases):
    assert cd.generate(ml100k.catalog, popularity=popularity) == cases
    other = cd.generate(ml100k.catalog, seed=1, popularity=popularity)
    assert [c.text for c in other] != [c.text for c in cases]
    assert cd.generate(ml100k.catalog, seed=1, popularity=popularity) == other


def test_the_default_benchmark_has_at_least_500_distinct_requests_over_every_family_and_language(cases):
    assert len(cases) >= 500
    assert len({c.text.casefold() for c in cases}) == len(cases)
    assert set(Counter(c.family for c in cases)) == set(cd.FAMILIES)
    languages = Counter(c.language for c in cases)
    assert set(languages) == set(cd.LANGUAGES)
    assert all(languages[lang] >= 20 for lang in ("es", "fr", "de")), languages
    assert sum(c.family == "impossible" for c in cases) >= 40


def test_every_generated_case_validates(cases, ml100k):
    for case in cases:
        cd.validate(case, ml100k.catalog)


def test_there_are_at_least_60_templates_in_every_language_and_family():
    assert len(cd.TEMPLATES) >= 60
    assert {t.family for t in cd.TEMPLATES.values()} == set(cd.FAMILIES)
    assert {t.language for t in cd.TEMPLATES.values()} == set(cd.LANGUAGES)


def test_train_and_test_templates_are_disjoint_and_each_covers_every_family_and_language():
    train, test = cd.split_templates()
    assert not train & test
    assert train | test == set(cd.TEMPLATES)
    for half in (train, test):
        assert {cd.TEMPLATES[t].family for t in half} == set(cd.FAMILIES)
        assert {cd.TEMPLATES[t].language for t in half} == set(cd.LANGUAGES)
    assert abs(len(train) - len(test)) <= 1
    assert cd.split_templates() == (train, test)


def test_a_split_generates_only_from_its_own_templates(ml100k, popularity):
    train, test = cd.split_templates()
    for split, ids in (("train", train), ("test", test)):
        made = cd.generate(ml100k.catalog, n=300, split=split, popularity=popularity)
        assert len(made) == 300
        assert {c.template for c in made} <= ids
        assert {c.family for c in made} == set(cd.FAMILIES)


def test_impossible_requests_have_no_satisfying_item_and_all_others_have_some(cases, ml100k):
    for case in cases:
        n = _satisfying(case.parse, ml100k.catalog)
        if case.family == "impossible":
            assert n == 0, case
        else:
            assert n > 0, case


def test_seeds_and_exclusions_name_titles_the_request_mentions(cases, ml100k):
    """A generated "like X" / "not X" request names X in its text (case aside, article and year optional)."""
    for case in cases:
        for item in case.parse["seeds"] + case.parse["exclude_items"]:
            title = ml100k.catalog.title(item).split(" (")[0]
            assert title.lower().removeprefix("the ") in case.text.lower(), (title, case.text)


def test_the_handwritten_requests_are_at_least_60_valid_lines():
    lines = HANDWRITTEN.read_text(encoding="utf-8").splitlines()
    assert len(lines) >= 60
    texts = [json.loads(line)["text"] for line in lines]
    assert len(set(texts)) == len(texts)


def test_every_handwritten_request_has_a_valid_parse_and_a_note(ml100k):
    for line in HANDWRITTEN.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        assert set(row) == {"text", "parse", "note"}, row
        assert row["text"].strip() and row["note"].strip()
        cd.validate_parse(row["parse"], ml100k.catalog)


def test_the_handwritten_set_covers_other_languages_unsupported_asks_and_impossible_requests(ml100k):
    rows = [json.loads(line) for line in HANDWRITTEN.read_text(encoding="utf-8").splitlines()]
    assert sum(bool(r["parse"]["unsupported"]) for r in rows) >= 10
    assert sum(_satisfying(r["parse"], ml100k.catalog) == 0 for r in rows) >= 5
    assert sum(r["note"].startswith(("es:", "fr:", "de:")) for r in rows) >= 15


def test_handwritten_requests_are_not_generator_wordings(cases):
    generated = {c.text.casefold() for c in cases}
    for line in HANDWRITTEN.read_text(encoding="utf-8").splitlines():
        assert json.loads(line)["text"].casefold() not in generated
