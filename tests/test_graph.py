"""The knowledge graph: what it links, personalised PageRank as networkx computes it, graph recall, its fusion
with the dense retriever as the LLM ranker's candidates, and graph paths as explanation evidence."""

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from llmrec.data import Catalog, Dataset, Interactions
from llmrec.errors import ConfigError
from llmrec.explain import Explainer, ExplainerConfig, check_problems
from llmrec.explain.check import check_explanation
from llmrec.explain.graph_paths import graph_evidence, path_phrase, path_strength
from llmrec.history import History, histories
from llmrec.llm.ranker import LLMRanker, LLMRankerConfig
from llmrec.recommenders import create_recommender
from llmrec.split import leave_last_out
from llmrec.testing import ScriptedLLM, conformance_dataset
from retrieval.graph import GraphConfig, GraphRecommender, KnowledgeGraph, age_band
from retrieval.graph_fusion import HybridConfig, HybridRetriever, fuse
from retrieval.retriever import DenseRetriever

MOVIES = [("Alien", 1979, "Horror|Sci-Fi"), ("Aliens", 1986, "Action|Horror|Sci-Fi"),
          ("The Thing", 1982, "Horror|Sci-Fi"), ("Heat", 1995, "Action|Crime|Thriller"),
          ("Fargo", 1996, "Crime|Drama|Thriller"), ("Babe", 1995, "Children's|Comedy|Drama"),
          ("Predator", 1987, "Action|Sci-Fi|Thriller")]
ALIEN, ALIENS, THING, HEAT, FARGO, BABE, PREDATOR = range(1, 8)


def movies(rows, users=None) -> Dataset:
    catalog = Catalog(pd.DataFrame({"item": range(1, len(MOVIES) + 1), "title": [m[0] for m in MOVIES],
                                    "year": [m[1] for m in MOVIES], "genres": [m[2] for m in MOVIES]}
                                   ).set_index("item"))
    return Dataset(Interactions(pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])), catalog,
                   name="movies", users=users)


PROFILES = pd.DataFrame({"user": [1, 2, 3, 4], "age": [30, 30, 61, 17], "gender": ["F", "F", "M", "M"],
                         "occupation": ["writer", "writer", "retired", "student"], "zip": ["0"] * 4}
                        ).set_index("user")
ROWS = [(1, ALIEN, 5, 1), (1, THING, 4, 2), (1, ALIENS, 5, 3),
        (2, ALIEN, 5, 1), (2, THING, 5, 2), (2, PREDATOR, 4, 3),
        (3, HEAT, 4, 1), (3, FARGO, 5, 2), (3, BABE, 2, 3)]


def test_the_graph_links_items_to_their_genres_decades_years_and_viewer_groups():
    g = KnowledgeGraph.build(movies(ROWS, PROFILES)).graph
    assert set(g[("item", ALIENS)]) >= {("genre", "Action"), ("genre", "Horror"), ("genre", "Sci-Fi"),
                                        ("decade", 1980), ("year", 1986), ("age", "25-34"), ("gender", "F"),
                                        ("occupation", "writer")}
    # each attribute's group edges share the item's viewers: Heat was watched by user 3 alone
    assert g[("item", HEAT)][("age", "56+")]["weight"] == pytest.approx(GraphConfig().group_weight)
    assert age_band(17) == "under 18" and age_band(34) == "25-34" and age_band(70) == "56+"


def test_co_watch_edges_come_from_the_fit_interactions_only():
    data = movies(ROWS, PROFILES)
    fit = leave_last_out(data, "test").train  # each user's last interaction is held out
    g = KnowledgeGraph.build(fit).graph
    assert g.has_edge(("item", ALIEN), ("item", THING))  # watched together by users 1 and 2 in the fit data
    assert not g.has_edge(("item", ALIEN), ("item", ALIENS))  # only via user 1's held-out Aliens
    assert KnowledgeGraph.build(data).graph.has_edge(("item", ALIEN), ("item", ALIENS))


def test_a_co_watch_window_links_only_items_watched_close_together():
    rows = [(1, ALIEN, 5, 1), (1, HEAT, 5, 2), (1, FARGO, 5, 3), (1, BABE, 5, 4)]
    g = KnowledgeGraph.build(movies(rows), GraphConfig(cowatch_window=1, genre_weight=0, decade_weight=0,
                                                       year_weight=0)).graph
    assert g.has_edge(("item", ALIEN), ("item", HEAT)) and not g.has_edge(("item", ALIEN), ("item", FARGO))


def test_personalised_pagerank_is_networkx_pagerank():
    kg = KnowledgeGraph.build(conformance_dataset())
    restart = {("item", 1): 2.0, ("item", 4): 1.0}
    ours = kg.pagerank(kg.restart(restart), damping=0.7, iterations=500, tolerance=1e-14)
    ref = nx.pagerank(kg.graph, alpha=0.7, personalization=restart, weight="weight", tol=1e-14, max_iter=500)
    np.testing.assert_allclose(ours, [ref[n] for n in kg.nodes], atol=1e-9)
    batched = kg.pagerank(np.stack([kg.restart(restart), kg.restart({("item", 2): 1.0})], axis=1), 0.7, 500,
                          1e-14)
    np.testing.assert_allclose(batched[:, 0], ours, atol=1e-12)


def test_liked_items_pull_recall_towards_their_neighbours():
    data = movies(ROWS, PROFILES)
    rec = GraphRecommender(GraphConfig(liked_weight=5.0, recency_half_life=None)).fit(data)
    # a user who loved Alien and disliked Heat: Alien's neighbours before Heat's
    h = History(9, np.array([ALIEN, HEAT]), np.array([5.0, 1.0]), np.array([1, 2]))
    scores = dict(zip([THING, FARGO], rec.score(h, np.array([THING, FARGO]))))
    assert scores[THING] > scores[FARGO]
    flipped = History(9, np.array([ALIEN, HEAT]), np.array([1.0, 5.0]), np.array([1, 2]))
    scores = dict(zip([THING, FARGO], rec.score(flipped, np.array([THING, FARGO]))))
    assert scores[FARGO] > scores[THING]


def test_recency_decay_favours_the_newest_items_neighbours():
    data = movies(ROWS, PROFILES)
    h = History(9, np.array([HEAT, ALIEN]), np.array([4.0, 4.0]), np.array([1, 2]))  # Alien is newest
    decayed = GraphRecommender(GraphConfig(recency_half_life=1.0)).fit(data)
    s = dict(zip([THING, FARGO], decayed.score(h, np.array([THING, FARGO]))))
    assert s[THING] > s[FARGO]


def test_a_user_without_history_is_served_from_their_profile_groups_else_by_popularity():
    data = movies(ROWS, PROFILES)
    rec = GraphRecommender(GraphConfig(profile_weight=1.0)).fit(data)
    writer, items = History.empty(1), np.array([ALIEN, HEAT, FARGO, THING])
    scores = rec.score(writer, items)
    assert scores[0] > scores[1]  # writers (users 1 and 2) watched Alien, not Heat
    pop = create_recommender("popularity").fit(data)
    np.testing.assert_allclose(rec.score(History.empty(99), items), pop.score(History.empty(99), items))


def test_fusion_with_weight_zero_keeps_the_dense_order_and_an_unknown_method_is_named():
    rng = np.random.default_rng(0)
    dense, graph, seen = rng.random(20), rng.random(20), np.zeros(20, bool)
    seen[:3] = True
    for method in ("rrf", "zscore"):
        fused = fuse(dense, graph, seen, 0.0, method)
        unseen = ~seen
        assert np.argsort(-fused[unseen]).tolist() == np.argsort(-dense[unseen]).tolist()
        heavy = fuse(dense, graph, seen, 1e6, method)
        assert np.argsort(-heavy[unseen])[:5].tolist() == np.argsort(-graph[unseen])[:5].tolist()
    with pytest.raises(ValueError, match="'max'"):
        fuse(dense, graph, seen, 1.0, "max")


def test_hybrid_candidates_are_the_fused_top_k_of_unseen_items():
    data = conformance_dataset()
    hybrid = HybridRetriever(HybridConfig(graph_weight=1.0)).fit(data)
    for h in histories(data.interactions).values():
        cands = hybrid.candidates(h, k=3)
        unseen = data.catalog.item_ids[~np.isin(data.catalog.item_ids, h.items)]
        scores = hybrid.score(h, unseen)
        assert not np.isin(cands.items, h.items).any()
        assert sorted(cands.scores.tolist(), reverse=True) == sorted(scores, reverse=True)[:3]
    dense_only = HybridRetriever(HybridConfig(graph_weight=0.0)).fit(data)
    dense = DenseRetriever().fit(data)
    h = next(iter(histories(data.interactions).values()))
    assert dense_only.candidates(h, 5).items.tolist() == dense.candidates(h, 5).items.tolist()


def test_a_bad_graph_setting_is_named_when_the_hybrid_is_made():
    with pytest.raises(ConfigError, match="no_such_setting"):
        create_recommender("hybrid", {"graph": {"no_such_setting": 1}})


def test_the_llm_ranker_takes_fused_candidates_only_when_the_graph_weight_is_set():
    data = conformance_dataset()
    plain = LLMRanker(LLMRankerConfig(candidates=5), backend=ScriptedLLM()).fit(data)
    assert isinstance(plain.retriever, DenseRetriever)
    ranker = LLMRanker(LLMRankerConfig(candidates=5, graph_weight=2.0, graph={"method": "zscore"}),
                       backend=ScriptedLLM()).fit(data)
    assert isinstance(ranker.retriever, HybridRetriever)
    assert ranker.retriever.config.graph_weight == 2.0 and ranker.retriever.config.method == "zscore"
    h = next(iter(histories(data.interactions).values()))
    assert ranker.recall(h).items.tolist() == ranker.retriever.candidates(h, 5).items.tolist()


# -- graph paths as explanation evidence ---------------------------------------------------------------

def explained_data() -> Dataset:
    rows = [(1, ALIEN, 5, 1), (1, HEAT, 5, 2), (1, THING, 5, 3), (1, BABE, 2, 4), (1, FARGO, 4, 5),
            (2, ALIEN, 5, 1), (2, THING, 4, 2), (2, ALIENS, 5, 3), (3, THING, 5, 1), (3, ALIENS, 4, 2)]
    return movies(rows, PROFILES)


def test_graph_evidence_orders_liked_items_by_the_strength_of_their_paths():
    data = explained_data()
    kg = KnowledgeGraph.build(data)
    h = histories(data.interactions)[1]
    found = graph_evidence(kg, data.catalog, PREDATOR, h)
    # Predator (1987; Action, Sci-Fi, Thriller): Heat shares Action and Thriller; Alien and The Thing share
    # Sci-Fi; The Thing also the 1980s; Babe was disliked; Fargo shares only Thriller
    assert BABE not in found and set(found) == {HEAT, ALIEN, THING, FARGO}
    assert found.index(HEAT) < found.index(FARGO) and found.index(THING) < found.index(ALIEN)
    assert path_strength(kg, PREDATOR, THING) > path_strength(kg, PREDATOR, ALIEN)
    assert path_phrase(kg, PREDATOR, THING) == "shares Sci-Fi and the 1980s"


def test_graph_evidence_explanations_cite_liked_history_and_pass_every_check():
    data = explained_data()
    ranker = LLMRanker(LLMRankerConfig(candidates=3, history_items=2), backend=ScriptedLLM()).fit(data)
    explainer = Explainer(ranker, ExplainerConfig(evidence="graph", cite="shown"))
    h = histories(data.interactions)[1]
    ranked = ranker.rank(h)
    out = explainer.explain(ranked, k=3).meta["explanations"]
    assert out
    for e in out:  # the scripted LLM answers "{}": unusable, so the verified fact sentence is shown
        assert e.replaced and e.cited_items
        assert set(e.cited_items) <= set(h.items.tolist()) - {BABE}
        assert e.cited_items[0] in e.extra["citable"]
        check = check_explanation(e.text, e.item, h.items.tolist(), data.catalog, reason=e.reason)
        assert check_problems(check) == () and not check.hallucinated
    # The Thing is graph evidence for Aliens though the ranking prompt shows only the last two items
    assert THING in explainer.citable(h, ALIENS) and THING not in explainer.shown_items(h)


def test_the_graph_evidence_prompt_says_what_each_citable_movie_shares():
    data = explained_data()
    ranker = LLMRanker(LLMRankerConfig(candidates=3), backend=ScriptedLLM()).fit(data)
    explainer = Explainer(ranker, ExplainerConfig(evidence="graph", cite="shown"))
    h = histories(data.interactions)[1]
    request = ranker.rank(h).meta["request"]
    item = int(request.candidates[0])
    citable = explainer.citable(h, item)
    prompt = explainer.prompt_text(request.about(item), citable)
    for cited in citable:
        assert f"{explainer.facts(cited, h)}; {path_phrase(explainer.graph, item, cited)}" in prompt
    assert path_phrase(explainer.graph, ALIENS, THING) == "shares Horror, Sci-Fi and the 1980s"


def test_an_unknown_evidence_source_is_named():
    with pytest.raises(ValueError, match="'paths'"):
        ExplainerConfig(evidence="paths")


def test_a_dataset_without_profiles_has_no_group_nodes(tiny):
    kg = KnowledgeGraph.build(tiny)
    assert kg.graph.number_of_nodes() > len(tiny.catalog)
    assert not any(n[0] in ("age", "gender", "occupation") for n in kg.nodes)


def test_the_validation_sweep_ranks_held_out_items_as_the_harness_does():
    from eval.graph import target_ranks
    from llmrec.evaluation.harness import evaluate

    data = conformance_dataset()
    held = leave_last_out(data, "validation")
    rec = GraphRecommender().fit(held.train)
    harness = evaluate(rec, held, progress=False).ranks.set_index("user")
    hs = histories(held.train.interactions)
    users = harness.index.to_numpy()
    ids = data.catalog.item_ids
    scores = np.stack([rec.score(hs[u], ids) for u in users])
    seen = np.stack([np.isin(ids, hs[u].items) for u in users])
    ours = target_ranks(scores, seen, data.catalog.positions(harness["item"].to_numpy()), ids)
    assert ours.tolist() == harness["rank"].tolist()
