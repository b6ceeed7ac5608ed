"""Claims in explanations: titles, genres and years are found fuzzily and checked against the catalog.

Item ids below are MovieLens-100K's: 1 Toy Story (1995), 11 Seven (1995), 12 The Usual Suspects (1995),
50 Star Wars (1977), 100 Fargo (1996), 135 2001: A Space Odyssey (1968), 273 Heat (1995), 318
Schindler's List (1993), 543 Les Misérables (1995).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from eval.faithfulness import deletion_effect, faithfulness_metrics
from llmrec.data import Catalog
from llmrec.explain import ClaimExtractor, check_explanation, normalize_title

TOY_STORY, SEVEN, USUAL_SUSPECTS, STAR_WARS, FARGO, ODYSSEY, HEAT, SCHINDLER, MISERABLES = \
    1, 11, 12, 50, 100, 135, 273, 318, 543


@pytest.fixture(scope="module")
def catalog(ml100k):
    return ml100k.catalog


@pytest.fixture(scope="module")
def ex(catalog) -> ClaimExtractor:
    return ClaimExtractor(catalog)


def found(ex: ClaimExtractor, text: str) -> list[tuple[str, tuple[int, ...]]]:
    return [(m.text, m.items) for m in ex.titles(text)]


def genres_in(ex: ClaimExtractor, text: str) -> set[str]:
    return {g.genre for g in ex.genres(text)}


# -- normalization ------------------------------------------------------------------------------------

def test_normalize_title_moves_the_article_and_drops_the_year():
    assert normalize_title("Usual Suspects, The (1995)") == "the usual suspects"
    assert normalize_title("  The   USUAL suspects ") == "the usual suspects"
    assert normalize_title("Schindler’s List") == normalize_title("Schindler's List") == "schindlers list"
    assert normalize_title("Les Misérables") == "les miserables"
    assert normalize_title("Romeo & Juliet") == "romeo and juliet"
    assert normalize_title("Usual Suspects") != normalize_title("Usual Suspects, The")


# -- titles -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "Usual Suspects, The is a classic.",
    "You will enjoy the usual suspects.",
    "Watch The Usual Suspects (1995) tonight.",
    "If you liked usual suspects, the, you'll love this.",
    "the Usual Suspects' twist",
])
def test_the_usual_suspects_is_found_however_written(ex, text):
    assert [items for _, items in found(ex, text)] == [(USUAL_SUSPECTS,)]


def test_words_never_match_inside_words_nor_lower_case_single_word_titles(ex):
    assert found(ex, "In the heat of the moment, he acts.") == []
    assert found(ex, "A heated, feverish thriller.") == []
    assert found(ex, "usual suspects") == []  # two lower-case words, no cue: too weak


def test_single_word_titles_need_a_capital_and_must_not_be_part_of_a_name(ex):
    assert found(ex, "You may enjoy Heat, a crime saga.") == [("Heat", (HEAT,))]
    assert found(ex, "Michael Mann's Heat is tense.") == [("Heat", (HEAT,))]
    assert found(ex, "Heat is tense.") == [("Heat", (HEAT,))]
    assert found(ex, "Jack Nicholson is superb here.") == []      # not the film Jack (1996)
    assert found(ex, "A drama set in Manhattan.") == []           # a place, not Manhattan (1979)
    assert found(ex, "Kids will love it. Trust me.") == []         # sentence starts, not Kids / Trust


def test_longest_title_wins_and_sequels_are_different_titles(ex):
    assert found(ex, "Alien 3 is darker than Alien.") == [("Alien 3", (665,)), ("Alien", (183,))]
    (mention,) = ex.titles("Toy Story 2 is a sweet sequel.")
    assert mention.text == "Toy Story 2" and mention.items == ()
    assert found(ex, "You rated Fargo 5 stars.") == [("Fargo", (FARGO,))]


def test_accents_curly_apostrophes_and_possessives_match(ex):
    assert found(ex, "Les Miserables moved you.") == [("Les Miserables", (MISERABLES,))]
    assert found(ex, "Les Misérables moved you.") == [("Les Misérables", (MISERABLES,))]
    assert found(ex, "Like Schindler’s List, it is harrowing.")[0][1] == (SCHINDLER,)
    assert found(ex, "Fargo's dark humor shines.") == [("Fargo's", (FARGO,))]


def test_alternative_titles_in_parentheses_are_aliases(ex):
    assert found(ex, "Se7en is bleak.") == [("Se7en", (SEVEN,))]
    assert found(ex, "Seven (1995) is bleak.") == [("Seven", (SEVEN,))]


def test_titles_with_punctuation_keep_it_and_lists_continue_past_it(ex):
    text = "Because you watched Seven (Se7en), I.Q. and M*A*S*H: Love! Valour! Compassion! (1997) is a drama."
    assert [(m.text, m.items, m.cue) for m in ex.titles(text)] == [
        ("Seven (Se7en)", (SEVEN,), "watched"), ("I.Q.", (49,), "watched"), ("M*A*S*H", (211,), "watched"),
        ("Love! Valour! Compassion!", (1160,), None)]
    assert [(m.text, m.items) for m in ex.titles("Since you watched 187, try this.")] == [("187", (330,))]


def test_quoted_titles_outside_the_catalog_are_title_mentions(ex):
    (mention,) = ex.titles("Fans of 'Blade Runner 2049' will enjoy it.")
    assert (mention.text, mention.items, mention.compare) == ("Blade Runner 2049", (), "Fans of")
    assert ex.titles('A "feel-good" movie.') == []  # lower-case quotes are not titles
    assert found(ex, "*Casablanca* is timeless.") == [("Casablanca", (483,))]


def test_capitalised_runs_after_a_history_cue_are_titles(ex, catalog):
    assert all(normalize_title(catalog.title(i)) != "the matrix" for i in catalog.item_ids)
    (mention,) = ex.titles("Because you loved The Matrix, you will enjoy this.")
    assert (mention.text, mention.items, mention.cue) == ("The Matrix", (), "loved")
    assert ex.titles("If you liked Westerns and Quentin Tarantino's films, try this.") == []
    assert ex.titles("Fans of Hitchcock will enjoy it.") == []   # one word after a comparison: a name


def test_cues_cover_lists_and_the_clause_but_not_the_recommendation(ex):
    text = "Because you watched Fargo, Toy Story and The Usual Suspects, you may enjoy Heat (1995)."
    assert [(m.text, m.cue) for m in ex.titles(text)] == [
        ("Fargo", "watched"), ("Toy Story", "watched"), ("The Usual Suspects", "watched"), ("Heat", None)]
    assert ex.titles("Because you loved the dark humor of Fargo, try Heat.")[0].cue == "loved"
    assert [m.cue for m in ex.titles("Heat is tense, like Fargo which you loved.")] == [None, "loved"]
    compared = ex.titles("Much like Aladdin and The Lion King, Pocahontas is a joy.")
    assert [m.compare for m in compared] == ["like", "like", None]  # "A and B," closes the list


@pytest.mark.parametrize("text", ["You'd like Heat.", "A highly rated Heat.", "Heat was loved by critics."])
def test_verbs_about_the_recommendation_or_critics_are_not_history_cues(ex, text):
    assert [m.cue for m in ex.titles(text)] == [None]


# -- genres and years ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "genre"), [
    ("a sci-fi gem", "Sci-Fi"), ("classic science fiction", "Sci-Fi"), ("scifi", "Sci-Fi"),
    ("an animated tale", "Animation"), ("a cartoon", "Animation"), ("fun for kids", "Children's"),
    ("a children's classic", "Children's"), ("a family film", "Children's"), ("funny", "Comedy"),
    ("comedies", "Comedy"), ("comedic", "Comedy"), ("romantic", "Romance"), ("a love story", "Romance"),
    ("film noir", "Film-Noir"), ("noir", "Film-Noir"), ("westerns", "Western"), ("mysteries", "Mystery"),
    ("a war movie", "War"), ("musicals", "Musical"), ("a documentary", "Documentary"),
    ("adventurous", "Adventure"), ("dramatic", "Drama"), ("a gangster tale", "Crime"),
])
def test_genre_synonyms_map_to_the_canonical_genre(ex, text, genre):
    assert genres_in(ex, text) == {genre}


def test_romantic_comedy_claims_two_genres(ex):
    assert genres_in(ex, "a romantic comedy") == {"Romance", "Comedy"}
    assert genres_in(ex, "a rom-com") == {"Romance", "Comedy"}


@pytest.mark.parametrize("text", [
    "Star Wars is wonderful.", "an award-winning, thrilling, suspenseful ride", "a family reunion",
    "a great musical score", "the horrors of growing up", "Warren Beatty stars",
])
def test_words_that_are_not_genre_claims(ex, text):
    assert genres_in(ex, text) == set()


def test_years_and_decades_outside_titles(ex):
    ys = ex.years("A 1995 thriller in the spirit of the 90s, the 1980s and the seventies.")
    assert [(y.year, y.decade) for y in ys] == [(1995, False), (1990, True), (1980, True), (1970, True)]
    assert ex.years("Heat (1995) and 2001: A Space Odyssey are great.") == []
    assert ex.years("A drama set in the 1940s, during 1944.") == []
    assert ex.years("It earned $2000 and 1,995 fans.") == []


# -- checking an explanation --------------------------------------------------------------------------

def test_grounded_titles_history_claims_and_cited_items(catalog, ex):
    text = "Because you watched Fargo and The Usual Suspects, you may enjoy Heat (1995), a crime thriller."
    check = check_explanation(text, HEAT, [USUAL_SUSPECTS, SEVEN], catalog, ex)
    assert [m.text for m in check.hallucinated] == ["Fargo"]           # Fargo is not in the history
    assert (check.history_claims, check.history_claims_true) == (2, 1)
    assert check.cited_items == (USUAL_SUSPECTS,)
    assert (check.genre_claims, check.genre_claims_true) == (("Crime", "Thriller"), 2)
    assert check.about_item


def test_titles_outside_the_catalog_are_hallucinated(catalog, ex):
    check = check_explanation("Because you loved The Matrix, try this.", STAR_WARS, [TOY_STORY], catalog, ex)
    assert [(m.text, m.items) for m in check.hallucinated] == [("The Matrix", ())]
    assert (check.history_claims, check.history_claims_true, check.unknown_titles) == (1, 0, 1)
    quoted = check_explanation("Fans of 'Blade Runner 2049' will love it.", STAR_WARS, [], catalog, ex)
    assert len(quoted.hallucinated) == 1


def test_wrong_genres_are_flagged_but_a_cited_item_genre_is_true(catalog, ex):
    wrong = check_explanation("A horror comedy.", USUAL_SUSPECTS, [], catalog, ex)
    assert (wrong.genre_claims, wrong.genre_claims_true) == (("Horror", "Comedy"), 0)
    cited = check_explanation("Because you loved Toy Story, an animated comedy, try this.",
                              USUAL_SUSPECTS, [TOY_STORY], catalog, ex)
    assert (cited.genre_claims, cited.genre_claims_true) == (("Animation", "Comedy"), 2)
    uncited = check_explanation("An animated comedy.", USUAL_SUSPECTS, [TOY_STORY], catalog, ex)
    assert uncited.genre_claims_true == 0


def test_a_year_of_a_cited_history_item_is_a_true_claim(catalog, ex):
    text = "Because you loved Toy Story, a 1995 classic, try this."
    assert check_explanation(text, STAR_WARS, [TOY_STORY], catalog, ex).year_claims_true == 1
    assert check_explanation(text, STAR_WARS, [SEVEN], catalog, ex).year_claims_true == 0  # not cited


@pytest.mark.parametrize(("text", "right"), [
    ("A thriller from 1995.", 1), ("A thriller from 1982.", 0), ("A 90s thriller.", 1),
    ("A 1980s thriller.", 0),
])
def test_year_claims_are_checked_against_the_item(catalog, ex, text, right):
    check = check_explanation(text, HEAT, [], catalog, ex)
    assert (len(check.year_claims), check.year_claims_true) == (1, right)


def test_about_item_is_false_only_when_another_movie_is_the_subject(catalog, ex):
    text = "Heat (1995) is a tense crime saga."
    assert check_explanation(text, HEAT, [], catalog, ex).about_item
    assert not check_explanation(text, TOY_STORY, [], catalog, ex).about_item
    assert check_explanation("A tense crime saga you will love.", TOY_STORY, [], catalog, ex).about_item
    assert check_explanation("Heat is tense; you loved it.", TOY_STORY, [HEAT], catalog, ex).about_item
    reason = "Because you loved Fargo, this crime saga will grip you."
    assert check_explanation(reason, TOY_STORY, [], catalog, ex).about_item  # a false reason, same subject
    assert check_explanation("Fans of Fargo will love this.", TOY_STORY, [], catalog, ex).about_item
    assert not check_explanation("You'll love 'Blade Runner 2049'.", TOY_STORY, [], catalog, ex).about_item


# -- tiny catalogs: titles shared by two items --------------------------------------------------------

def test_tiny_catalog_titles_and_genres(tiny):
    ex = ClaimExtractor(tiny.catalog)
    check = check_explanation("Because you watched Movie 1, you may like Movie 4, a horror film from 1994.",
                              4, [1], tiny.catalog, ex)
    assert [(m.text, m.items) for m in check.titles] == [("Movie 1", (1,)), ("Movie 4", (4,))]
    assert (check.hallucinated, check.cited_items) == ((), (1,))
    assert (check.genre_claims_true, check.year_claims_true) == (1, 1)
    assert [m.items for m in ex.titles("Movie 12 is not Movie 1.")] == [(1,)]  # "Movie 12" is no title


def test_a_shared_title_is_grounded_by_any_of_its_items_and_narrowed_by_its_year():
    frame = pd.DataFrame({"item": [1, 2, 3], "title": ["Hamlet", "Hamlet", "Fargo"],
                          "year": [1990, 1996, 1996],
                          "genres": ["Drama", "Drama", "Crime"]}).set_index("item")
    catalog = Catalog(frame)
    ex = ClaimExtractor(catalog)
    assert [m.items for m in ex.titles("Because you loved Hamlet, try Fargo.")] == [(1, 2), (3,)]
    assert [m.items for m in ex.titles("Hamlet (1996) is great.")] == [(2,)]
    check = check_explanation("Because you loved Hamlet, try Fargo.", 3, [1], catalog, ex)
    assert check.hallucinated == () and check.history_claims_true == 1


# -- aggregate metrics --------------------------------------------------------------------------------

def test_faithfulness_metrics_pool_counts_and_report_nan_without_claims(catalog, ex):
    checks = [check_explanation("Because you watched Fargo, try Heat (1995), a crime thriller.", HEAT,
                                [FARGO], catalog, ex),
              check_explanation("Because you loved The Matrix, this horror film from 1982 awaits.", HEAT,
                                [FARGO], catalog, ex)]
    m = faithfulness_metrics(checks)
    assert (m["explanations"], m["title_mentions"], m["history_claims"]) == (2, 3, 2)
    assert m["hallucinated_title_rate"] == 0.5 and m["hallucinated_title_mentions"] == pytest.approx(1 / 3)
    assert m["history_grounding_precision"] == 0.5
    assert m["genre_claim_precision"] == pytest.approx(2 / 3) and m["year_accuracy"] == 0.0
    assert m["item_consistency"] == 1.0 and m["citation_rate"] == 0.5
    silent = faithfulness_metrics([check_explanation("Enjoy!", HEAT, [], catalog, ex)])
    assert math.isnan(silent["history_grounding_precision"]) and silent["history_claims"] == 0
    assert math.isnan(faithfulness_metrics([])["distinctness"])


def test_distinctness_is_low_for_template_text_and_high_for_varied_text(catalog, ex):
    template = [check_explanation(f"Because you watched {a}, you may enjoy {b}. It is a great pick.", HEAT,
                                  [], catalog, ex)
                for a, b in [("Fargo", "Heat"), ("Toy Story", "Seven"), ("Heat", "Fargo"), ("Seven", "Babe")]]
    varied = [check_explanation(t, HEAT, [], catalog, ex) for t in
              ["A tense heist saga.", "Sharp dialogue and moody streets.",
               "Two rivals, one city. Unforgettable."]]
    assert faithfulness_metrics(template)["distinctness"] == pytest.approx(2 / 8)
    assert faithfulness_metrics(varied)["distinctness"] == 1.0


def test_deletion_effect_interval_excludes_zero_only_for_a_real_effect():
    rng = np.random.default_rng(1)
    random_drops = rng.normal(0.0, 1.0, 300)
    clear = deletion_effect(random_drops + 0.5 + rng.normal(0, 0.3, 300), random_drops)
    assert clear["ci_low"] > 0 and clear["excludes_0"] == 1.0 and clear["n"] == 300
    assert clear["mean_diff"] == pytest.approx(0.5, abs=0.1)
    noise = deletion_effect(rng.normal(0.0, 1.0, 300), rng.normal(0.0, 1.0, 300))
    assert noise["ci_low"] < 0 < noise["ci_high"] and noise["excludes_0"] == 0.0
    with_nan = deletion_effect([1.0, np.nan, 2.0], [0.0, 0.0, 0.5])
    assert with_nan["n"] == 2 and with_nan["mean_diff"] == pytest.approx(1.25)
    assert (deletion_effect(clear_drops := [1.0, 2.0], [0.0, 0.0], seed=3)
            == deletion_effect(clear_drops, [0.0, 0.0], seed=3))
    with pytest.raises(ValueError):
        deletion_effect([1.0, 2.0], [1.0])
