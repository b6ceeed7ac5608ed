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
from llmrec.explain import Explainer, ExplainerConfig, check_problems, fact_sentence
from llmrec.explain.check import check_explanation
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

#: The scripted LLM's order alone (the bundled model's default fuses the retriever's at a weight of 8).
LLM_ALONE = {"candidates": 4, "retriever_weight": 0.0}


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
    ranker = LLMRanker(LLMRankerConfig(**LLM_ALONE), backend=ScriptedBackend(answer)).fit(movies)
    return Explainer(ranker, ExplainerConfig(**config))


def answer_json(because, reason):
    answer = {"because": because, "reason": reason} if because else {"reason": reason}
    return lambda prompt: json.dumps(answer)


CANDS = np.array([ALIEN, FARGO, SCREAM, 6])
FARGO_REASON = "also a crime and thriller film, with some drama added"  # Heat's genres, then Fargo's own


def user1(movies) -> History:
    return histories(movies.interactions)[1]  # Halloween, Toy Story, Heat, Finding Nemo; all rated 4


def test_an_answer_becomes_one_finished_sentence_citing_the_evidence_and_what_it_shares(movies):
    ex = explainer(movies, answer_json("Heat", "another crime and thriller film from the 1990s, plus a touch "
                                               "of drama"))
    [e] = ex.explain_many([Request(user1(movies), CANDS, FARGO)])
    assert e.text == ("Because you rated Heat 4/5: Fargo (1996) is another crime and thriller film from the "
                      "1990s, plus a touch of drama.")
    assert (e.cited_items, e.genres, e.replaced, e.problems) == ((HEAT,), ("Crime", "Thriller"), False, ())
    assert e.raw_text == e.text and e.raw_cited_items == (HEAT,) and e.reason == e.raw_reason


def test_sampled_explanations_are_seeded_per_user_and_item(movies):
    greedy = explainer(movies, answer_json("Heat", FARGO_REASON), temperature=0.0)
    h = user1(movies)
    greedy.explain_many([Request(h, CANDS, FARGO)])
    assert greedy.ranker.backend.sampling[0] == 0.0
    assert ExplainerConfig().temperature == 0.5  # the default, chosen on validation
    sampled = explainer(movies, answer_json("Heat", FARGO_REASON), temperature=0.8)
    sampled.explain_many([Request(h, CANDS, FARGO), Request(h, CANDS, ALIEN)])
    temperature, seeds = sampled.ranker.backend.sampling
    assert temperature == 0.8 and seeds == [sampled.seed_of(1, FARGO), sampled.seed_of(1, ALIEN)]
    assert (len(set(seeds)) == 2
            and sampled.seed_of(1, FARGO) == explainer(movies, None, temperature=0.8).seed_of(1, FARGO))
    assert explainer(movies, None, seed=1).seed_of(1, FARGO) != sampled.seed_of(1, FARGO)
    with pytest.raises(ValueError, match="temperature"):
        ExplainerConfig(temperature=-1)


def test_the_schema_admits_only_the_evidence_and_predicates_true_of_it(movies):
    ex = explainer(movies, answer_json("Heat", FARGO_REASON), cite="shown")
    h = user1(movies)
    assert ex.evidence(h, FARGO) == [HEAT]  # of the shown films only Heat shares a genre with Fargo
    schema = ex.schema(FARGO, ex.citable(h, FARGO))
    assert schema["properties"]["because"] == {"const": "Heat"}
    reasons = schema["properties"]["reason"]["enum"]
    assert {FARGO_REASON, "another crime and thriller film from the 1990s, plus a touch of drama",
            "a 1990s crime and thriller film too, with some drama added"} <= set(reasons)
    assert all("crime and thriller" in r and "drama" in r for r in reasons)  # every genre, each time
    assert not [r for r in reasons if "horror" in r or "1970s" in r or "action" in r]  # not Fargo's
    ex.explain_many([Request(h, CANDS, FARGO)])
    assert ex.ranker.backend.schemas == [schema]  # one schema per request, passed to the backend
    scream = ex.schema(SCREAM, ex.citable(h, SCREAM))  # Heat (thriller) and Halloween (horror): a branch each
    assert [b["properties"]["because"]["const"] for b in scream["anyOf"]] == ["Heat", "Halloween"]
    heat = ex.options(SCREAM, ex.citable(h, SCREAM))["Heat"][1]  # Scream's horror only as an addition
    assert {p.genres for p in heat} == {("Thriller",)}
    assert "also a thriller film, with some horror added" in heat
    free = explainer(movies, None, cite="shown", reason="free").schema(FARGO, [HEAT])
    assert re.match(free["properties"]["reason"]["pattern"], "a scary horror film")


def test_every_answer_the_schema_admits_is_a_sentence_that_passes_every_check(movies):
    ex = explainer(movies, None, cite="shown")
    h = user1(movies)
    for item in range(1, 9):
        for because, (cited, phrases) in ex.options(item, ex.citable(h, item)).items():
            for reason in phrases:
                e = ex._explanation(Request(h, item=item), answer_json(because, str(reason))(""),
                                    ex.citable(h, item), None, 0.0)
                assert e.problems == () and not e.replaced, (item, e.raw_text, e.problems)


def test_a_film_the_user_disliked_is_no_evidence(movies):
    ex = explainer(movies, answer_json(None, "a horror and sci-fi film from the 1970s"))
    h = History(1, np.array([3, 1, HEAT, 2]), np.array([2.0, 4.0, 4.0, 4.0]), np.arange(4) * 10)
    assert ex.evidence(h, ALIEN) == []  # Halloween shares horror with Alien, but was rated 2/5
    [e] = ex.explain_many([Request(h, CANDS, ALIEN)])
    assert "because" not in ex.ranker.backend.schemas[-1]["properties"]
    assert e.text == "Alien (1979) is a horror and sci-fi film from the 1970s." and e.cited_items == ()
    assert ExplainerConfig(min_rating=2).min_rating == 2


def test_influential_evidence_comes_first_and_only_evidence_is_rescored(movies):
    ex = explainer(movies, answer_json("Heat", FARGO_REASON))  # cite="influential", the default
    h = user1(movies)
    [fargo] = ex.influence([Request(h, CANDS, FARGO)])
    assert set(fargo) == {HEAT} and fargo[HEAT] > 1.0  # only evidence is rescored
    [scream] = ex.influence([Request(h, CANDS, SCREAM)])
    assert set(scream) == {HEAT, 3} and scream[HEAT] < 0 and abs(scream[3]) < 1e-9
    assert ex.citable(h, SCREAM, scream) == [3, HEAT]  # Heat takes from Scream (it lifts Fargo)
    [e] = ex.explain_many([Request(h, CANDS, FARGO)])
    assert e.cited_items == (HEAT,) and e.extra["citable"] == [HEAT] and not e.replaced


def test_the_request_lists_the_citable_movies_with_their_facts_and_ratings(movies):
    prompts = []
    ex = explainer(movies, lambda p: prompts.append(p) or answer_json("Heat", FARGO_REASON)(p))
    h = user1(movies)
    ex.explain_many([Request(h, CANDS, FARGO)])
    question = prompts[-1].rsplit("Why Fargo", 1)[1]
    assert "share its genres: Heat (1995; Action, Crime, Thriller), rated 4/5." in question
    assert "Toy Story" not in question  # citable: Heat only
    none = ex.prompt_text(Request(h, CANDS, ALIEN), citable=[])
    assert '"because"' not in none.rsplit("Why Alien", 1)[1]  # nothing to cite: no citation asked for


def test_the_items_of_one_list_share_their_influence_prompts(movies):
    ex = explainer(movies, answer_json(None, "a horror film"))
    h = user1(movies)
    calls = []
    score = ex.ranker.llm_scores_many
    ex.ranker.llm_scores_many = lambda jobs: calls.append(len(jobs)) or score(jobs)
    fargo, scream = ex.influence([Request(h, CANDS, FARGO), Request(h, CANDS, SCREAM)])
    assert calls == [3]  # the full prompt, without Heat, without Halloween: once for both items
    assert fargo[HEAT] > 1.0 and scream[HEAT] < 0  # Heat lifts Fargo, so it takes from Scream


def test_the_request_continues_the_ranking_prompt_so_its_cache_is_reused(movies):
    ex = explainer(movies, answer_json("Heat", FARGO_REASON))
    h = user1(movies)
    rank_prompt = ex.ranker.prompt_text(h, CANDS)
    explain_prompt = ex.prompt_text(Request(h, CANDS, FARGO), [HEAT])
    assert explain_prompt.startswith(rank_prompt + "B\n")  # Fargo is candidate B
    assert "Fargo" in explain_prompt[len(rank_prompt):]


@pytest.mark.parametrize("answer, why", [
    (answer_json("Alien", FARGO_REASON), "cites a title the user never watched"),
    (answer_json("Toy Story", FARGO_REASON), "cites a watched film that is no evidence for Fargo"),
    (answer_json("Heat", "another horror film"), "a predicate outside the schema"),
    (lambda prompt: "Fargo is great because of The Matrix",
     "not JSON (a backend without constrained decoding)"),
])
def test_an_unusable_answer_is_replaced_by_a_verified_fact_sentence(movies, answer, why):
    ex = explainer(movies, answer)
    [e] = ex.explain_many([Request(user1(movies), CANDS, FARGO)])
    assert e.replaced and e.problems == ("unusable answer",), why
    assert e.text == ("Because you rated Heat 4/5: Fargo (1996) is also a crime and thriller film from the "
                      "1990s, with some drama added.")
    assert e.cited_items == (HEAT,) and e.genres == ("Crime", "Thriller")


@pytest.mark.parametrize("reason, problem", [
    ("a scary horror story", "claims genres the movies do not have"),
    ("a crime film and a crime film", "repeats itself: 'a crime film'"),
    ("a crime film of the", "is unfinished"),
    ("crime", "gives a reason of fewer than three words"),
])
def test_a_free_reason_that_fails_a_check_is_replaced_and_flagged(movies, reason, problem):
    ex = explainer(movies, answer_json("Heat", reason), reason="free")
    [e] = ex.explain_many([Request(user1(movies), CANDS, FARGO)])
    assert e.replaced and problem in e.problems, e.problems
    assert e.raw_text.endswith(f"is {reason}.") and e.text != e.raw_text and not e.text.endswith(f"{reason}.")


def test_the_fact_sentence_passes_every_check_for_every_item(movies):
    ex = explainer(movies, None)
    disliked = History(1, np.array([3, 1, HEAT, 2]), np.array([2.0, 4.0, 1.0, 4.0]), np.arange(4) * 10)
    for h in (user1(movies), disliked):
        for item in range(1, 9):
            text, cited, _, reason = fact_sentence(movies.catalog, item, h)
            check = check_explanation(text, item, h.items.tolist(), movies.catalog, ex.extractor,
                                      reason=reason)
            assert check_problems(check) == (), (item, text)
            assert set(cited) <= set(ex.evidence(h, item))


def test_explain_attaches_structured_explanations_to_the_ranked_list(movies):
    ex = explainer(movies, answer_json("Heat", FARGO_REASON))
    ranked = ItemList(np.array([FARGO, ALIEN]), np.array([1.0, 0.5]))
    out = ex.explain(ranked, k=1, request=Request(user1(movies), CANDS))
    assert [e.item for e in out.meta["explanations"]] == [FARGO]
    assert out.meta["explanations"][0].to_dict()["cited_items"] == (HEAT,)


def test_the_deletion_test_sees_that_the_ranker_relies_on_the_cited_item(movies):
    ex = explainer(movies, answer_json("Heat", FARGO_REASON))
    h = History(1, np.array([3, 1, HEAT, 2]), np.full(4, 4.0), np.arange(4) * 10)
    cited, rand = deletion_drops(ex.ranker, [(Request(h, CANDS, FARGO), (HEAT,))])
    assert cited[0] > 0.5 and rand[0] == pytest.approx(0.0)


def test_the_faithfulness_evaluation_reports_raw_and_verified_figures(movies):
    ranker = LLMRanker(LLMRankerConfig(**LLM_ALONE),
                       backend=ScriptedBackend(answer_json("Heat", "a crime and horror film")))
    run = evaluate_explanations(movies, ranker, "test", progress=False, config=ExplainerConfig(reason="free"))
    s = run.summary
    assert [e.item for e in run.explanations] == [FARGO] * 4  # everyone's top-1 (Heat is in every history)
    assert s["explained"] == 4 and s["replaced_rate"] == 1.0 and s["unusable_rate"] == 0.0
    assert s["llm_written_rate"] == 0.0
    assert s["raw"]["genre_claim_precision"] == 0.5  # crime is true, horror is not
    assert s["verified"]["genre_claim_precision"] == 1.0
    assert s["raw"]["reason_distinctness"] == 0.25  # one reason, written for all four users
    for stage in ("raw", "verified"):  # Heat shares crime with Fargo; finished sentences, no repeats
        assert (s[stage]["evidence_relevance"], s[stage]["repetition_rate"], s[stage]["truncated_rate"],
                s[stage]["short_reason_rate"], s[stage]["cites_nothing_rate"]) == (1.0, 0.0, 0.0, 0.0, 0.0)
    assert s["deletion"]["n"] == 4 and s["deletion"]["mean_diff"] > 0  # removing Heat costs Fargo its lead


def test_the_deletion_test_can_run_on_the_seeded_sample_a_smaller_run_would_evaluate(movies):
    def run(**kw):
        ranker = LLMRanker(LLMRankerConfig(**LLM_ALONE),
                           backend=ScriptedBackend(answer_json("Heat", FARGO_REASON)))
        return evaluate_explanations(movies, ranker, "test", progress=False, **kw)

    full, without, small = run(deletion_users=2), run(deletion=False), run(users=2)
    assert (full.summary["explained"] == 4 and full.summary["deletion_users"] == 2
            and full.summary["memo_hits"] > 0)
    assert full.summary["deletion"] == small.summary["deletion"]  # the same two users, the same drops
    assert small.summary["deletion"]["n"] == 2 and without.summary["deletion"] == {"n": 0}
    assert (seeded_sample([5, 7, 9], 0) == [5, 7, 9]
            and seeded_sample([5, 7, 9], 2) == seeded_sample([5, 7, 9], 2))


def test_the_deletion_test_does_not_score_the_ranking_prompt_again(movies):
    backend, seen = ScriptedBackend(answer_json("Heat", FARGO_REASON)), []
    read = backend.label_logprobs
    backend.label_logprobs = lambda prompts, ids, adapter=None: seen.extend(prompts) or read(prompts, ids)
    ranker = LLMRanker(LLMRankerConfig(**LLM_ALONE), backend=MemoBackend(backend)).fit(movies)
    h = History(1, np.array([3, 1, HEAT, 2]), np.full(4, 4.0), np.arange(4) * 10)
    ranker.llm_scores(Request(h, CANDS))  # the ranking pass
    deletion_drops(ranker, [(Request(h, CANDS, FARGO), (HEAT,))])
    # the ranking prompt, then without Heat and without one random item
    assert len(seen) == len(set(seen)) == 3
    assert ranker.backend.hits == 1


def test_fact_built_training_targets_are_answers_the_explainer_accepts_and_verifies(movies):
    ex = explainer(movies, None)
    h = user1(movies)
    for item in range(1, 9):
        citable = citable_by_genre(movies.catalog, ex.evidence(h, item), item)
        for pick in range(5):
            answer = explanation_answer(movies.catalog, citable, item, pick=pick)
            e = ex._explanation(Request(h, item=item), json.dumps(answer), citable, None, 0.0)
            assert e.problems == () and not e.replaced, (item, answer, e.problems)
    assert explanation_answer(movies.catalog, [HEAT], FARGO)["because"] == "Heat"  # shares crime and thriller
    assert "because" not in explanation_answer(movies.catalog, [], ALIEN)


def test_fact_built_targets_state_a_shared_decade_only_when_it_is_true_in_varied_words(movies):
    catalog = movies.catalog
    reasons = [explanation_answer(catalog, [HEAT], FARGO, pick=k)["reason"] for k in range(40)]
    assert any("1990s" in r for r in reasons)  # Fargo (1996) and Heat (1995)
    assert all("crime and thriller" in r for r in reasons)  # every genre they share
    assert len(set(reasons)) >= 6  # worded differently from example to example
    others = [explanation_answer(catalog, [SCREAM], ALIEN, pick=k)["reason"] for k in range(40)]
    assert not any(re.search(r"19[79]0s", r) for r in others)  # Alien 1979, Scream 1996
    assert any("sci-fi" in r for r in others)  # Alien's genre Scream lacks, as an addition


def test_training_citations_stand_in_for_influence_by_shared_genres(movies):
    shown = [2, HEAT, 1, 3]  # newest first
    assert citable_by_genre(movies.catalog, shown, FARGO) == [HEAT]  # the only one sharing a genre
    assert citable_by_genre(movies.catalog, shown, 6) == [3]  # The Shining: Halloween, a horror film
    # newest of the ties
    assert citable_by_genre(movies.catalog, [SCREAM, 3, HEAT], ALIEN, pool=1) == [SCREAM]


def test_explainer_settings_come_from_explain_param_and_bad_ones_are_named():
    from eval.modes import explainer_config
    from llmrec.errors import LLMRecError

    assert (explainer_config(["temperature=0.7", "cite=shown"])
            == ExplainerConfig(temperature=0.7, cite="shown"))
    with pytest.raises(LLMRecError, match="unknown --explain-param temprature"):
        explainer_config(["temprature=0.7"])
    with pytest.raises(LLMRecError, match="temperature must be in"):
        explainer_config(["temperature=5"])


class SeededBackend(ScriptedBackend):
    """Greedy: one reason for everyone; sampled: the reason follows the request's seed."""

    def generate(self, prompts, max_tokens, adapter=None, json_schema=None, temperature=0.0, seeds=None):
        self.schemas += json_schema
        out = []
        for schema, seed in zip(json_schema, seeds):
            reasons = schema["properties"]["reason"]["enum"]
            out.append(json.dumps({"because": "Heat", "reason": reasons[seed % 5 if temperature else 0]}))
        return out


def test_the_temperature_is_chosen_as_the_lowest_that_makes_explanations_distinct(movies):
    from eval.sampling import compare_temperatures, select_temperature

    ranker = LLMRanker(LLMRankerConfig(**LLM_ALONE), backend=SeededBackend(None))
    greedy, sampled = compare_temperatures(movies, ranker, "test", [0.0, 1.0], progress=False)
    assert (greedy["temperature"], greedy["users"], sampled["users"]) == (0.0, 4, 4)
    assert greedy["raw"]["distinctness"] == 0.25 and sampled["raw"]["distinctness"] > 0.25  # the same 4 items
    assert greedy["raw"]["genre_claim_precision"] == sampled["raw"]["genre_claim_precision"] == 1.0
    runs = [{"temperature": t, "raw": {"distinctness": d}} for t, d in [(0.0, 0.7), (0.5, 0.93), (1.0, 0.97)]]
    assert select_temperature(runs, 0.9) == 0.5
    assert select_temperature(runs, 0.99) == 1.0  # none reaches it: the most distinct


def test_the_examples_page_shows_raw_shown_and_tuned_sentences_side_by_side(movies):
    from eval.examples import BEGIN, END, render_page, replace_section

    ex = explainer(movies, answer_json("Heat", FARGO_REASON))
    h = user1(movies)
    [good] = ex.explain_many([Request(h, CANDS, FARGO)])
    wrong = explainer(movies, answer_json("Heat", "another horror film"))
    bad = wrong.explain_many([Request(h, CANDS, FARGO)])
    shown = {1: ex.ranker.shown_history(h)}
    page = render_page(movies.catalog, shown, {"zero-shot": [good], "tuned, shown": bad},
                       {"zero-shot, raw": {"evidence_relevance": 1.0}}, "python -m eval.examples --users 1")
    rows = [line for line in page.splitlines() if line.startswith("| Fargo")]
    assert rows == [(f"| Fargo (1996) | Because you rated Heat 4/5: Fargo (1996) is {FARGO_REASON}. | "
                     "(same) | "
                     "Because you rated Heat 4/5: Fargo (1996) is also a crime and thriller film from the "
                     "1990s, with some drama added. *(replaced: unusable answer)* |")]
    assert ("**User 1** — the history the ranking prompt showed, newest first: Finding Nemo (2003) 4/5, "
            "Heat (1995) 4/5, Toy Story (1995) 4/5, Halloween (1978) 4/5") in page
    assert "`python -m eval.examples --users 1`" in page and "| evidence_relevance | 1.000 |" in page
    doc = f"# Guide\n\nintro\n\n{BEGIN}\nold\n{END}\n\n## After\n"
    assert replace_section(doc, page) == f"# Guide\n\nintro\n\n{page}\n\n## After\n"
    assert replace_section("# Guide\n", page) == f"# Guide\n\n## Examples\n\n{page}\n"
