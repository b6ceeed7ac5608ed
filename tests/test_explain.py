"""Explanations: the LLM's structured answer becomes a sentence citing only the user's history and the item's
own genres; answers that fail the checks are replaced by verified catalog facts; the deletion test."""

import json
import re

import numpy as np
import pandas as pd
import pytest
from test_llm_ranker import LetterTokenizer

from eval.explanations import deletion_drops, evaluate_explanations
from finetune.data import citable_by_genre, explanation_answer
from llmrec.data import Catalog, Dataset, Interactions
from llmrec.explain.claims import check_explanation
from llmrec.explain.explainer import (
    Explainer,
    ExplainerConfig,
    check_problems,
    fact_sentence,
    render_explanation,
)
from llmrec.history import History, histories
from llmrec.items import ItemList
from llmrec.llm.memo import MemoBackend
from llmrec.llm.ranker import LLMRanker, LLMRankerConfig
from llmrec.request import Request
from llmrec.split import seeded_sample

MOVIES = [("Toy Story", 1995, "Animation|Children's|Comedy"), ("Finding Nemo", 2003, "Animation|Children's"),
          ("Halloween", 1978, "Horror"), ("Scream", 1996, "Horror|Thriller"),
          ("Alien", 1979, "Horror|Sci-Fi"), ("The Shining", 1980, "Horror"),
          ("Heat", 1995, "Action|Crime|Thriller"), ("Fargo", 1996, "Crime|Drama|Thriller")]
FARGO, HEAT, ALIEN, SCREAM = 8, 7, 5, 4


class ScriptedBackend:
    """Ranks Fargo first when Heat is in the shown history; answers explanation requests with ``answer``
    (a function of the prompt) and records the schemas it was given."""

    def __init__(self, answer):
        self.tokenizer, self.answer, self.schemas, self.config = LetterTokenizer(), answer, [], None

    def label_logprobs(self, prompts, token_ids, adapter=None):
        rows = []
        for p in prompts:
            watched = re.search(r"Watched \(newest first\): (.*)", p).group(1)
            labels = dict(re.findall(r"^([A-Z])\. (.+)$", p, flags=re.MULTILINE))
            logits = np.array([3.0 * (labels[chr(t)] == "Fargo" and "Heat" in watched) for t in token_ids])
            rows.append(logits - np.logaddexp.reduce(logits))
        return np.array(rows)

    def generate(self, prompts, max_tokens, adapter=None, json_schema=None, temperature=0.0, seeds=None):
        self.schemas += json_schema
        self.sampling = (temperature, seeds)
        return [self.answer(p) for p in prompts]


@pytest.fixture(scope="module")
def movies() -> Dataset:
    catalog = Catalog(pd.DataFrame({"item": range(1, 9), "title": [m[0] for m in MOVIES],
                                    "year": [m[1] for m in MOVIES], "genres": [m[2] for m in MOVIES]}
                                   ).set_index("item"))
    rows = [(u, i, 4.0, 10 * k) for u in range(1, 5) for k, i in enumerate([3, 1, HEAT, 2])]
    return Dataset(Interactions(pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])), catalog)


def explainer(movies, answer, **config) -> Explainer:
    ranker = LLMRanker(LLMRankerConfig(candidates=4), backend=ScriptedBackend(answer)).fit(movies)
    return Explainer(ranker, ExplainerConfig(**config))


def answer_json(because, genres, reason):
    return lambda prompt: json.dumps({"because": because, "genres": genres, "reason": reason})


CANDS = np.array([ALIEN, FARGO, SCREAM, 6])


def test_an_answer_becomes_one_sentence_citing_the_history_and_the_items_genres(movies):
    ex = explainer(movies, answer_json(["Heat"], ["Crime", "Thriller"],
                                       "both are crime films from the nineties"))
    h = histories(movies.interactions)[1]
    [e] = ex.explain_many([Request(h, CANDS, FARGO)])
    assert e.text == ("Because you watched Heat: Fargo (1996) is a crime and thriller film; "
                      "both are crime films from the nineties.")
    assert (e.cited_items, e.genres, e.replaced, e.problems) == ((HEAT,), ("Crime", "Thriller"), False, ())
    assert e.raw_text == e.text and e.raw_cited_items == (HEAT,)


def test_sampled_explanations_are_seeded_per_user_and_item(movies):
    greedy = explainer(movies, answer_json(["Heat"], ["Crime"], "tense"), temperature=0.0)
    h = histories(movies.interactions)[1]
    greedy.explain_many([Request(h, CANDS, FARGO)])
    assert greedy.ranker.backend.sampling[0] == 0.0
    assert ExplainerConfig().temperature == 0.5  # the default, chosen on validation
    sampled = explainer(movies, answer_json(["Heat"], ["Crime"], "tense"), temperature=0.8)
    sampled.explain_many([Request(h, CANDS, FARGO), Request(h, CANDS, ALIEN)])
    temperature, seeds = sampled.ranker.backend.sampling
    assert temperature == 0.8 and seeds == [sampled.seed_of(1, FARGO), sampled.seed_of(1, ALIEN)]
    assert (len(set(seeds)) == 2
            and sampled.seed_of(1, FARGO) == explainer(movies, None, temperature=0.8).seed_of(1, FARGO))
    assert explainer(movies, None, seed=1).seed_of(1, FARGO) != sampled.seed_of(1, FARGO)
    with pytest.raises(ValueError, match="temperature"):
        ExplainerConfig(temperature=-1)


def test_the_schema_allows_only_shown_history_titles_the_items_genres_and_plain_words(movies):
    ex = explainer(movies, answer_json(["Heat"], ["Crime"], "tense"), cite="shown")
    h = histories(movies.interactions)[1]
    schema = ex.schema(h, FARGO)
    assert (schema["properties"]["because"]["items"]["enum"]
            == ["Finding Nemo", "Heat", "Toy Story", "Halloween"])
    assert schema["properties"]["genres"]["items"]["enum"] == ["Crime", "Drama", "Thriller"]
    pattern = re.compile(schema["properties"]["reason"]["pattern"])
    assert pattern.match("both are crime and thriller films, from the nineties")
    assert not pattern.match("like Alien from 1979")  # no titles, no digits
    assert not pattern.match("a scary horror film")  # not a genre of Fargo
    assert not pattern.match("from the seventies")  # not Fargo's decade
    free = explainer(movies, answer_json(["Heat"], ["Crime"], "tense"), cite="shown", reason="free")
    assert re.match(free.schema(h, FARGO)["properties"]["reason"]["pattern"], "a scary horror film")
    ex.explain_many([Request(h, CANDS, FARGO)])
    assert ex.ranker.backend.schemas == [schema]  # one schema per request, passed to the backend


def test_only_history_items_the_ranking_rests_on_may_be_cited(movies):
    ex = explainer(movies, answer_json(["Heat"], ["Crime"], "crime"))  # cite="influential", the default
    h = histories(movies.interactions)[1]
    [influence] = ex.influence([Request(h, CANDS, FARGO)])
    assert set(influence) == set(ex.shown_items(h))
    assert influence[HEAT] > 1.0 and all(abs(d) < 1e-9 for i, d in influence.items() if i != HEAT)
    assert ex.citable(h, influence) == [HEAT]  # the others do not move Fargo's score
    [e] = ex.explain_many([Request(h, CANDS, FARGO)])
    assert ex.ranker.backend.schemas[-1]["properties"]["because"]["items"]["enum"] == ["Heat"]
    assert e.cited_items == (HEAT,) and e.extra["citable"] == [HEAT] and not e.replaced


def test_the_request_lists_the_citable_movies_with_their_catalog_facts(movies):
    prompts = []
    ex = explainer(movies, lambda p: prompts.append(p) or json.dumps(
        {"because": ["Heat"], "genres": ["Crime"], "reason": "tense"}))
    h = histories(movies.interactions)[1]
    ex.explain_many([Request(h, CANDS, FARGO)])
    question = prompts[-1].rsplit("Why Fargo", 1)[1]
    assert ("rests on: Heat (1995; Action, Crime, Thriller)." in question
            and "one or two of those movies" in question)
    assert "Toy Story" not in question  # citable: Heat only
    none = ex.prompt_text(Request(h, CANDS, ALIEN), citable=[])
    assert '"because"' not in none.rsplit("Why Alien", 1)[1]  # nothing to cite: no citation asked for


def test_the_items_of_one_list_share_their_influence_prompts(movies):
    ex = explainer(movies, answer_json([], ["Horror"], "scary"))
    h = histories(movies.interactions)[1]
    calls = []
    score = ex.ranker.llm_scores_many
    ex.ranker.llm_scores_many = lambda jobs: calls.append(len(jobs)) or score(jobs)
    fargo, alien = ex.influence([Request(h, CANDS, FARGO), Request(h, CANDS, ALIEN)])
    assert calls == [1 + len(ex.shown_items(h))]  # the full prompt and one per shown item, once for both
    assert fargo[HEAT] > 1.0 and alien[HEAT] < 0  # Heat lifts Fargo, so it takes from Alien


def test_an_answer_citing_a_watched_but_uninfluential_item_is_refused(movies):
    ex = explainer(movies, answer_json(["Toy Story"], ["Crime"], "tense"))  # watched, but irrelevant to Fargo
    h = histories(movies.interactions)[1]
    [e] = ex.explain_many([Request(h, CANDS, FARGO)])
    assert e.replaced and e.problems == ("unusable answer",) and e.cited_items == (HEAT,)


def test_with_no_influential_item_the_schema_cites_nothing(movies):
    ex = explainer(movies, answer_json([], ["Horror"], "horror from the seventies"))
    h = histories(movies.interactions)[1]
    [e] = ex.explain_many([Request(h, CANDS, ALIEN)])  # no history item moves Alien's score
    assert "because" not in ex.ranker.backend.schemas[-1]["properties"]
    assert e.cited_items == () and e.text.startswith("Alien (1979) is a horror film")


def test_the_request_continues_the_ranking_prompt_so_its_cache_is_reused(movies):
    ex = explainer(movies, answer_json(["Heat"], ["Crime"], "tense"))
    h = histories(movies.interactions)[1]
    rank_prompt = ex.ranker.prompt_text(h, CANDS)
    explain_prompt = ex.prompt_text(Request(h, CANDS, FARGO))
    assert explain_prompt.startswith(rank_prompt + "B\n")  # Fargo is candidate B
    assert "Fargo" in explain_prompt[len(rank_prompt):]


@pytest.mark.parametrize("answer, why", [
    (answer_json(["Alien"], ["Crime"], "scary"), "cites a title the user never watched"),
    (answer_json(["Heat"], ["Horror"], "scary"), "claims a genre Fargo does not have"),
    (lambda prompt: "Fargo is great because of The Matrix",
     "not JSON (a backend without constrained decoding)"),
])
def test_an_unusable_answer_is_replaced_by_a_verified_fact_sentence(movies, answer, why):
    ex = explainer(movies, answer)
    h = histories(movies.interactions)[1]
    [e] = ex.explain_many([Request(h, CANDS, FARGO)])
    assert e.replaced and e.problems, why
    assert e.text == ("Fargo (1996) is a crime, drama and thriller film, like Heat (crime and thriller) "
                      "in your history.")
    assert e.cited_items == (HEAT,)


def test_a_free_reason_that_invents_a_genre_fails_verification_and_is_flagged(movies):
    ex = explainer(movies, answer_json(["Heat"], ["Crime"], "a scary horror story"), reason="free")
    [e] = ex.explain_many([Request(histories(movies.interactions)[1], CANDS, FARGO)])
    assert e.replaced and e.problems == ("claims genres the movies do not have",)
    assert "horror" in e.raw_text and "horror" not in e.text


def test_a_grounded_reason_cannot_name_a_genre_the_item_lacks(movies):
    ex = explainer(movies, answer_json(["Heat"], ["Crime"], "a scary horror story"))  # reason="grounded"
    [e] = ex.explain_many([Request(histories(movies.interactions)[1], CANDS, FARGO)])
    assert e.replaced and e.problems == ("unusable answer",)  # outside the schema: what vLLM cannot produce


def test_the_fact_sentence_passes_every_check_for_every_item(movies):
    ex = explainer(movies, answer_json([], [], ""))
    h = histories(movies.interactions)[1]
    for item in range(1, 9):
        text, cited, _ = fact_sentence(movies.catalog, item, h)
        check = check_explanation(text, item, h.items.tolist(), movies.catalog, ex.extractor)
        assert check_problems(check) == (), (item, text)
        assert set(cited) <= set(h.items.tolist())


def test_explain_attaches_structured_explanations_to_the_ranked_list(movies):
    ex = explainer(movies, answer_json(["Heat"], ["Crime"], "tense"))
    h = histories(movies.interactions)[1]
    ranked = ItemList(np.array([FARGO, ALIEN]), np.array([1.0, 0.5]))
    out = ex.explain(ranked, k=1, request=Request(h, CANDS))
    assert [e.item for e in out.meta["explanations"]] == [FARGO]
    assert out.meta["explanations"][0].to_dict()["cited_items"] == (HEAT,)


def test_the_deletion_test_sees_that_the_ranker_relies_on_the_cited_item(movies):
    ex = explainer(movies, answer_json(["Heat"], ["Crime"], "tense"))
    h = History(1, np.array([3, 1, HEAT, 2]), np.full(4, 4.0), np.arange(4) * 10)
    cited, rand = deletion_drops(ex.ranker, [(Request(h, CANDS, FARGO), (HEAT,))])
    assert cited[0] > 0.5 and rand[0] == pytest.approx(0.0)


def test_the_faithfulness_evaluation_reports_raw_and_verified_figures(movies):
    ranker = LLMRanker(LLMRankerConfig(candidates=4),
                       backend=ScriptedBackend(answer_json(["Heat"], ["Crime"], "a scary horror story")))
    run = evaluate_explanations(movies, ranker, "test", progress=False, config=ExplainerConfig(reason="free"))
    s = run.summary
    assert [e.item for e in run.explanations] == [FARGO] * 4  # everyone's top-1 (Heat is in every history)
    assert s["explained"] == 4 and s["replaced_rate"] == 1.0 and s["unusable_rate"] == 0.0
    assert s["raw"]["genre_claim_precision"] == 0.5  # crime is true, horror is not
    assert s["verified"]["genre_claim_precision"] == 1.0
    assert s["raw"]["reason_distinctness"] == 0.25  # one reason, written for all four users
    assert s["deletion"]["n"] == 4 and s["deletion"]["mean_diff"] > 0  # removing Heat costs Fargo its lead


def test_the_deletion_test_can_run_on_the_seeded_sample_a_smaller_run_would_evaluate(movies):
    def run(**kw):
        ranker = LLMRanker(LLMRankerConfig(candidates=4),
                           backend=ScriptedBackend(answer_json(["Heat"], ["Crime"], "")))
        return evaluate_explanations(movies, ranker, "test", progress=False, **kw)

    full, without, small = run(deletion_users=2), run(deletion=False), run(users=2)
    assert (full.summary["explained"] == 4 and full.summary["deletion_users"] == 2
            and full.summary["memo_hits"] > 0)
    assert full.summary["deletion"] == small.summary["deletion"]  # the same two users, the same drops
    assert small.summary["deletion"]["n"] == 2 and without.summary["deletion"] == {"n": 0}
    assert (seeded_sample([5, 7, 9], 0) == [5, 7, 9]
            and seeded_sample([5, 7, 9], 2) == seeded_sample([5, 7, 9], 2))


def test_the_deletion_test_does_not_score_the_ranking_prompt_again(movies):
    backend, seen = ScriptedBackend(answer_json(["Heat"], ["Crime"], "")), []
    read = backend.label_logprobs
    backend.label_logprobs = lambda prompts, ids, adapter=None: seen.extend(prompts) or read(prompts, ids)
    ranker = LLMRanker(LLMRankerConfig(candidates=4), backend=MemoBackend(backend)).fit(movies)
    h = History(1, np.array([3, 1, HEAT, 2]), np.full(4, 4.0), np.arange(4) * 10)
    ranker.llm_scores(Request(h, CANDS))  # the ranking pass
    deletion_drops(ranker, [(Request(h, CANDS, FARGO), (HEAT,))])
    # the ranking prompt, then without Heat and without one random item
    assert len(seen) == len(set(seen)) == 3
    assert ranker.backend.hits == 1


def test_fact_built_training_targets_are_answers_the_explainer_accepts_and_verifies(movies):
    ex = explainer(movies, answer_json([], [], ""))
    h = histories(movies.interactions)[1]
    shown = ex.shown_items(h)
    for item in (FARGO, ALIEN, SCREAM, 6):
        answer = explanation_answer(movies.catalog, shown, item, pick=item)
        assert ex.parse(h, item, json.dumps(answer)) is not None, answer
        cited, genres, reason = ex.parse(h, item, json.dumps(answer))
        text = render_explanation(movies.catalog, item, cited, genres, reason)
        assert check_problems(check_explanation(text, item, h.items.tolist(), movies.catalog,
                                                ex.extractor)) == ()
    # shares crime and thriller
    assert explanation_answer(movies.catalog, shown, FARGO)["because"] == ["Heat"]


def test_fact_built_targets_state_a_shared_decade_only_when_it_is_true(movies):
    catalog = movies.catalog
    reasons = [explanation_answer(catalog, [HEAT], FARGO, pick=k)["reason"] for k in range(40)]
    assert any("the nineties" in r for r in reasons)  # Fargo (1996) and Heat (1995)
    assert all(re.fullmatch(r"[a-z][a-z ,'-]{2,80}", r) for r in reasons)
    assert len(set(reasons)) > 10  # worded differently from example to example
    others = [explanation_answer(catalog, [SCREAM], ALIEN, pick=k)["reason"] for k in range(40)]
    assert not any(re.search(r"the (seventies|nineties)", r) for r in others)  # Alien 1979, Scream 1996
    assert any("sci-fi" in r for r in others)  # Alien's genre Scream lacks, as a contrast


def test_training_citations_stand_in_for_influence_by_shared_genres(movies):
    shown = [2, HEAT, 1, 3]  # newest first
    assert citable_by_genre(movies.catalog, shown, FARGO) == [HEAT]  # the only one sharing a genre
    assert citable_by_genre(movies.catalog, shown, 6) == [3]  # The Shining: Halloween, a horror film
    # newest of the ties
    assert citable_by_genre(movies.catalog, [SCREAM, 3, HEAT], ALIEN, pool=1) == [SCREAM]


def test_no_connective_word_alone_or_beside_another_makes_a_genre_or_year_claim():
    from llmrec.explain._text import find_genres, find_years
    from llmrec.explain.words import CONNECTIVES

    words = sorted(CONNECTIVES)
    texts = [f"{a} {b}" for a in words for b in words] + [f"{a}, {b}" for a in words for b in words]
    assert [t for t in texts if find_genres(t, []) or find_years(t, [])] == []


def test_every_fact_built_target_fits_the_grounded_reason_pattern(movies):
    ex = explainer(movies, answer_json([], [], ""))
    for item in range(1, 9):
        pattern = re.compile(ex.reason_pattern(item))
        for pick in range(30):
            reason = explanation_answer(movies.catalog, [HEAT, SCREAM, 1, 3], item, pick=pick)["reason"]
            assert pattern.match(reason), (item, reason)


def test_explainer_settings_come_from_explain_param_and_bad_ones_are_named():
    from eval.cli import explainer_config
    from llmrec.errors import LLMRecError

    assert (explainer_config(["temperature=0.7", "cite=shown"])
            == ExplainerConfig(temperature=0.7, cite="shown"))
    with pytest.raises(LLMRecError, match="unknown --explain-param temprature"):
        explainer_config(["temprature=0.7"])
    with pytest.raises(LLMRecError, match="temperature must be in"):
        explainer_config(["temperature=5"])


class SeededBackend(ScriptedBackend):
    """Greedy: one reason for everyone; sampled: the reason follows the request's seed."""

    REASONS = ("crime", "more drama", "a thriller", "crime and drama", "the same drama")

    def generate(self, prompts, max_tokens, adapter=None, json_schema=None, temperature=0.0, seeds=None):
        self.schemas += json_schema
        return [json.dumps({"because": ["Heat"], "genres": ["Crime"],
                            "reason": self.REASONS[seed % 5] if temperature else "crime"}) for seed in seeds]


def test_the_temperature_is_chosen_as_the_lowest_that_makes_explanations_distinct(movies):
    from eval.sampling import compare_temperatures, select_temperature

    ranker = LLMRanker(LLMRankerConfig(candidates=4), backend=SeededBackend(None))
    greedy, sampled = compare_temperatures(movies, ranker, "test", [0.0, 1.0], progress=False)
    assert (greedy["temperature"], greedy["users"], sampled["users"]) == (0.0, 4, 4)
    assert greedy["raw"]["distinctness"] == 0.25 and sampled["raw"]["distinctness"] > 0.25  # the same 4 items
    assert greedy["raw"]["genre_claim_precision"] == sampled["raw"]["genre_claim_precision"] == 1.0
    runs = [{"temperature": t, "raw": {"distinctness": d}} for t, d in [(0.0, 0.7), (0.5, 0.93), (1.0, 0.97)]]
    assert select_temperature(runs, 0.9) == 0.5
    assert select_temperature(runs, 0.99) == 1.0  # none reaches it: the most distinct
