"""Explanations worth reading: relevant evidence, no repeated phrase, a finished sentence, a real reason —
checked on hand-written sentences (ones a small model wrote, and good ones), and pooled by the faithfulness
eval."""

import math

import pandas as pd
import pytest

from eval.faithfulness import faithfulness_metrics
from llmrec.data import Catalog
from llmrec.explain import ClaimExtractor, check_explanation, check_problems, predicates, render
from llmrec.explain.quality import is_truncated, relevant_citations, repeated_trigrams

FILMS = [("The Birdcage", 1996, "Comedy"), ("The Rock", 1996, "Action|Adventure|Thriller"),
         ("Mars Attacks!", 1996, "Action|Comedy|Sci-Fi|War"), ("That Thing You Do!", 1996, "Comedy"),
         ("Star Trek: The Wrath of Khan", 1982, "Action|Adventure|Sci-Fi"),
         ("Star Trek III: The Search for Spock", 1984, "Action|Adventure|Sci-Fi"),
         ("Alien", 1979, "Action|Horror|Sci-Fi|Thriller"), ("Aliens", 1986, "Action|Sci-Fi|Thriller|War")]
BIRDCAGE, ROCK, MARS, THING, KHAN, SPOCK, ALIEN, ALIENS = range(1, 9)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    frame = pd.DataFrame({"item": range(1, 9), "title": [f[0] for f in FILMS], "year": [f[1] for f in FILMS],
                          "genres": [f[2] for f in FILMS]})
    return Catalog(frame.set_index("item"))


@pytest.fixture(scope="module")
def extractor(catalog) -> ClaimExtractor:
    return ClaimExtractor(catalog)


def check(catalog, extractor, text, item, history=(BIRDCAGE, THING, KHAN, ALIEN), **kw):
    return check_explanation(text, item, list(history), catalog, extractor, **kw)


@pytest.mark.parametrize("text", [
    ("Because you watched That Thing You Do!: Mars Attacks! (1996) is an action, comedy, sci-fi and war "
     "film; that it is a comedy that is a comedy that is a comedy that."),
    "The Rock (1996) is the war of the choice of the choice of the choice.",
    "Mars Attacks! is a comedy film and a comedy film.",
])
def test_a_phrase_said_twice_is_repetition(catalog, extractor, text):
    assert check(catalog, extractor, text, MARS).repeated


@pytest.mark.parametrize("text", [
    ("Because you rated Star Trek: The Wrath of Khan 5/5: Star Trek III: The Search for Spock (1984) is also "
     "an action, adventure and sci-fi film from the 1980s."),  # the titles share words: masked, no repeat
    ("Because you rated Alien 5/5 and Star Trek: The Wrath of Khan 4/5: Aliens (1986) is also an action and "
     "sci-fi film."),
])
def test_titles_sharing_words_are_no_repetition(catalog, extractor, text):
    c = check(catalog, extractor, text, SPOCK if "Spock" in text else ALIENS)
    assert c.repeated == () and check_problems(c) == ()


@pytest.mark.parametrize("text", [
    "Because you watched The Birdcage: The Rock (1996) is an action film; the.",  # ends on a function word
    "Mars Attacks! (1996) is an action film that is a comedy that.",
    "The Rock (1996) is an action film",  # no full stop
    "The Rock (1996 is an action film.",  # an open bracket
    'The Rock is "an action film.',  # an open quote
    "",
])
def test_an_unfinished_sentence_is_truncated(text):
    assert is_truncated(text)


@pytest.mark.parametrize("text", [
    "The Rock (1996) is an action film.", "Is The Rock an action film?",
    'It is "an action film."', "Because you rated Alien 5/5: Aliens (1986) is also a sci-fi film (and more)!",
])
def test_a_finished_sentence_is_not_truncated(text):
    assert not is_truncated(text)


def test_a_reason_of_one_or_two_words_is_too_short(catalog, extractor):
    text = "The Rock (1996) is an action film; exciting."
    assert check(catalog, extractor, text, ROCK, reason="exciting").short_reason
    assert check(catalog, extractor, text, ROCK, reason="the movie").short_reason
    assert not check(catalog, extractor, text, ROCK, reason="an action film").short_reason
    assert not check(catalog, extractor, text, ROCK).short_reason  # no separate reason: nothing to judge
    assert "gives a reason of fewer than three words" in check_problems(
        check(catalog, extractor, text, ROCK, reason="its"))


def test_evidence_is_relevant_when_it_shares_a_genre_or_measurably_moves_the_score(catalog, extractor):
    birdcage = "Because you watched The Birdcage: The Rock (1996) is an action film."
    c = check(catalog, extractor, birdcage, ROCK)
    assert c.cited_items == (BIRDCAGE,) and c.relevant_cited == 0  # a comedy as the reason for an action film
    assert "cites history items unrelated to the movie" in check_problems(c)
    assert check(catalog, extractor, birdcage, ROCK, influence={BIRDCAGE: 0.4}).relevant_cited == 1
    assert check(catalog, extractor, birdcage, ROCK, influence={BIRDCAGE: -0.1}).relevant_cited == 0
    khan = "Because you rated Star Trek: The Wrath of Khan 5/5: The Rock (1996) is also an action film."
    assert check(catalog, extractor, khan, ROCK).relevant_cited == 1  # action, adventure
    assert relevant_citations(catalog, ALIENS, [ALIEN, BIRDCAGE, KHAN]) == 2


def test_repeated_trigrams_are_named_and_numbers_and_masked_spans_are_skipped():
    assert repeated_trigrams("a comedy that is a comedy that") == ("a comedy that",)
    assert repeated_trigrams("rated it 5/5 and 5/5 again") == ()
    assert repeated_trigrams("Alien is sci-fi. Aliens is sci-fi.") == ("is sci fi",)
    text = "Star Trek: The Wrath of Khan, then Star Trek: The Search for Spock"
    assert repeated_trigrams(text) == ("star trek the",)
    assert repeated_trigrams(text, [(0, 28), (35, 66)]) == ()  # each title read as its own token


def test_every_predicate_makes_a_finished_relevant_non_repeating_sentence(catalog, extractor):
    history = [BIRDCAGE, THING, KHAN, ALIEN, ALIENS, MARS]
    for item in range(1, 9):
        pairs = [(KHAN, ALIEN)] if item not in (KHAN, ALIEN) else []
        for cited in [(), *[(h,) for h in history if h != item], *pairs]:
            for p in predicates(catalog, item, cited):
                text = render(catalog, item, cited, p)
                c = check(catalog, extractor, text, item, [h for h in history if h != item], reason=p)
                assert check_problems(c) == (), (text, check_problems(c))
                assert c.cited_items == tuple(cited), text


def test_the_faithfulness_figures_pool_the_new_checks(catalog, extractor):
    texts = [("Because you watched The Birdcage: The Rock (1996) is an action film; the.", ROCK, "the"),
             ("Because you rated Alien 5/5: Aliens (1986) is also an action, sci-fi and thriller film.",
              ALIENS, "also an action, sci-fi and thriller film"),
             ("Mars Attacks! (1996) is a comedy that is a comedy that.", MARS,
              "a comedy that is a comedy that"),
             ("The Rock (1996) is an action and thriller film.", ROCK, None)]
    m = faithfulness_metrics([check(catalog, extractor, t, i, reason=r) for t, i, r in texts])
    assert m["evidence_relevance"] == 0.5  # Birdcage no, Alien yes
    assert m["repetition_rate"] == 0.25 and m["truncated_rate"] == 0.5  # "...; the." and "...that."
    assert m["short_reason_rate"] == pytest.approx(1 / 3)  # "the", of three reasons given
    assert m["cites_nothing_rate"] == 0.5 and m["citation_rate"] == 0.5
    none = faithfulness_metrics([check(catalog, extractor, "The Rock (1996) is an action film.", ROCK)])
    assert math.isnan(none["evidence_relevance"]) and math.isnan(none["short_reason_rate"])  # none to judge
