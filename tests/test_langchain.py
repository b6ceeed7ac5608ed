"""The LangChain integration (:mod:`integrations.langchain`) over a real recommender on MovieLens-100K, with
the untrained text retriever and no LLM: the langchain-tests standard retriever suite, then what the
retriever and the runnable promise (hard constraints hold, filters and k are obeyed, turns come back as
dicts)."""

from __future__ import annotations

import asyncio

import pytest
from langchain_core.documents import Document
from langchain_tests.integration_tests import RetrieversIntegrationTests

from integrations.langchain import LLMRecRetriever, LLMRecRunnable
from llmrec.converse import Conversations, ConverseConfig, RequestError
from llmrec.errors import ConfigError
from llmrec.recommenders import create_recommender
from retrieval.text import item_text


class _RecallOnly:
    """The ranker slot filled with the untrained text retriever alone.  With ``llm=False`` the recommender
    never ranks, but the default ranker (LLMRanker) would still start the LLM backend in ``fit`` to read its
    label tokens."""

    progress = None

    def __init__(self) -> None:
        self.retriever = create_recommender("dense", {"retriever": None})

    def fit(self, data) -> _RecallOnly:
        self.retriever.fit(data)  # encodes the 1,682 item texts (cached on disk after the first run)
        return self

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def conversations(ml100k):
    conv = Conversations(ml100k, ConverseConfig(retriever=None, llm=False), ranker=_RecallOnly())
    yield conv
    conv.close()


@pytest.fixture
def retriever(conversations) -> LLMRecRetriever:
    return LLMRecRetriever(conversations=conversations, k=10)


@pytest.fixture
def runnable(conversations) -> LLMRecRunnable:
    return LLMRecRunnable(conversations=conversations)


# -- the standard suite -----------------------------------------------------------------------------------
# Its async test needs pytest-asyncio, which this project runs in strict mode: the class is marked, and the
# warning pytest-asyncio gives for the marked sync tests is silenced.
@pytest.mark.asyncio
@pytest.mark.filterwarnings("ignore:.*is marked with '@pytest.mark.asyncio' but it is not an async function")
class TestStandardRetriever(RetrieversIntegrationTests):
    @pytest.fixture(autouse=True)
    def _recommender(self, conversations) -> None:
        self.conversations = conversations  # for the constructor params, which are a property

    @property
    def retriever_constructor(self) -> type[LLMRecRetriever]:
        return LLMRecRetriever

    @property
    def retriever_constructor_params(self) -> dict:
        return {"conversations": self.conversations}

    @property
    def retriever_query_example(self) -> str:
        return "a funny animated film for kids"


# -- the retriever ----------------------------------------------------------------------------------------
def test_documents_carry_the_items_text_and_metadata(retriever, conversations):
    catalog = conversations.catalog
    docs = retriever.invoke("a funny animated film for kids", k=5)
    assert len(docs) == 5 and all(isinstance(d, Document) for d in docs)
    for doc in docs:
        m = doc.metadata
        item = m["item"]
        assert isinstance(item, int) and item in catalog and doc.id == str(item)
        assert doc.page_content == item_text(catalog, item)
        assert m["title"] == catalog.display_title(item) and m["year"] == catalog.year(item)
        assert m["genres"] == list(catalog.genres(item)) and isinstance(m["score"], float)
        assert m["interpretation"] == "Animation and Children's and Comedy"
    scores = [d.metadata["score"] for d in docs]
    assert scores == sorted(scores, reverse=True)
    assert len({d.metadata["item"] for d in docs}) == 5


def test_a_request_with_hard_constraints_returns_only_items_that_satisfy_them(retriever, conversations):
    catalog = conversations.catalog
    docs = retriever.invoke("a comedy from the 90s, no romance")
    assert len(docs) == 10
    for doc in docs:
        item = doc.metadata["item"]
        assert "Comedy" in catalog.genres(item) and "Romance" not in catalog.genres(item)
        assert 1990 <= catalog.year(item) <= 1999
    assert docs[0].metadata["interpretation"] == "Comedy, 1990-1999, no Romance"


def test_filters_are_enforced_from_the_constructor_and_the_call(conversations):
    catalog = conversations.catalog
    query = "a moving drama about a family"
    unfiltered = LLMRecRetriever(conversations=conversations, k=10).invoke(query)
    assert any("Drama" in catalog.genres(d.metadata["item"]) for d in unfiltered)  # else the test is idle
    built = LLMRecRetriever(conversations=conversations, k=10, filters={"genres_none": ["Drama"]})
    called = LLMRecRetriever(conversations=conversations, k=10)
    for docs in (built.invoke(query), called.invoke(query, filters={"genres_none": ["Drama"]})):
        assert len(docs) == 10
        assert not any("Drama" in catalog.genres(d.metadata["item"]) for d in docs)
        assert "no Drama" in docs[0].metadata["interpretation"]


def test_filters_narrow_the_requests_years_and_add_to_its_genres(retriever, conversations):
    catalog = conversations.catalog
    docs = retriever.invoke("a comedy from the 90s", filters={"year_min": 1995, "genres_none": ["Romance"]})
    assert docs
    for doc in docs:
        item = doc.metadata["item"]
        assert 1995 <= catalog.year(item) <= 1999  # the request's upper bound holds too
        assert "Comedy" in catalog.genres(item) and "Romance" not in catalog.genres(item)


def test_filters_with_an_unknown_field_or_genre_are_refused(retriever):
    with pytest.raises(RequestError, match="genre_none"):
        retriever.invoke("a comedy", filters={"genre_none": ["Drama"]})
    with pytest.raises(ConfigError, match="Dramma"):
        retriever.invoke("a comedy", filters={"genres_none": ["Dramma"]})


def test_k_from_the_field_the_call_and_the_request(conversations):
    r = LLMRecRetriever(conversations=conversations, k=2)
    assert len(r.invoke("a thriller")) == 2
    assert len(r.invoke("a thriller", k=7)) == 7
    assert len(r.invoke("3 thrillers")) == 3  # the request's own count beats the field
    assert len(r.invoke("3 thrillers", k=5)) == 5  # the call's k beats the request's
    with pytest.raises(RequestError, match="k must be"):
        r.invoke("a thriller", k=0)
    with pytest.raises(ValueError):
        LLMRecRetriever(conversations=conversations, k=0)


def test_fewer_documents_when_few_items_qualify(retriever, conversations):
    docs = retriever.invoke("a western from 1994")
    allowed = [i for i in conversations.catalog.item_ids
               if "Western" in conversations.catalog.genres(i) and conversations.catalog.year(i) == 1994]
    assert 0 < len(allowed) < 10
    assert sorted(d.metadata["item"] for d in docs) == sorted(int(i) for i in allowed)
    assert retriever.invoke("a western", filters={"year_min": 2001}) == []


def test_seeds_excluded_titles_and_the_users_seen_items_are_never_returned(conversations):
    seen = {int(i) for i in conversations.history(1).items}
    docs = LLMRecRetriever(conversations=conversations, k=20, user=1).invoke("like Toy Story")
    items = {d.metadata["item"] for d in docs}
    assert len(items) == 20 and not items & seen
    anon = LLMRecRetriever(conversations=conversations, k=20)
    assert 1 not in {d.metadata["item"] for d in anon.invoke("like Toy Story")}  # the seed itself
    assert 1 not in {d.metadata["item"] for d in anon.invoke("an animated comedy, not Toy Story")}


def test_unknown_users_and_empty_queries_are_refused(conversations):
    with pytest.raises(RequestError, match="unknown user"):
        LLMRecRetriever(conversations=conversations, user=10**6).invoke("a comedy")
    with pytest.raises(RequestError, match="non-empty"):
        LLMRecRetriever(conversations=conversations).invoke("   ")


def test_ainvoke_passes_k_and_filters_through(retriever, conversations):
    docs = asyncio.run(retriever.ainvoke("a comedy", k=3, filters={"genres_none": ["Drama"]}))
    assert len(docs) == 3
    assert not any("Drama" in conversations.catalog.genres(d.metadata["item"]) for d in docs)


# -- the runnable -----------------------------------------------------------------------------------------
def test_the_runnable_answers_text_and_dicts_with_a_turn_dict(runnable, conversations):
    catalog = conversations.catalog
    out = runnable.invoke("a comedy from the 90s, no romance")
    assert isinstance(out, dict) and out["interpretation"] == "Comedy, 1990-1999, no Romance"
    assert len(out["items"]) == conversations.config.k and out["conversation_id"] is None
    for it in out["items"]:
        assert "Comedy" in it["genres"] and "Romance" not in it["genres"]
        assert it["title"] == catalog.display_title(it["item"]) and 1990 <= it["year"] <= 1999
    out = runnable.invoke({"request": "a thriller", "k": 3, "user": 1})
    assert len(out["items"]) == 3
    assert not {it["item"] for it in out["items"]} & {int(i) for i in conversations.history(1).items}


def test_the_runnable_batches(runnable):
    outs = runnable.batch(["a western", {"request": "a horror film", "k": 2}])
    assert [len(o["items"]) for o in outs] == [10, 2]
    assert "Western" in outs[0]["items"][0]["genres"] and "Horror" in outs[1]["items"][0]["genres"]
    out = asyncio.run(runnable.ainvoke({"request": "a musical", "k": 1}))
    assert len(out["items"]) == 1


def test_the_runnable_continues_a_conversation(runnable, conversations):
    cid = conversations.create()
    first = runnable.invoke({"request": "a comedy from the 90s", "conversation_id": cid})
    second = runnable.invoke({"request": "nothing before 1995", "conversation_id": cid, "k": 4})
    assert first["conversation_id"] == second["conversation_id"] == cid and second["turn"] == 2
    assert second["parse"]["genres_all"] == ["Comedy"] and second["parse"]["year_min"] == 1995
    assert len(second["items"]) == 4 and all(it["year"] >= 1995 for it in second["items"])


def test_the_runnable_states_its_input_and_refuses_bad_fields(runnable):
    schema = runnable.input_schema.model_json_schema()
    fields = schema["$defs"]["RecommendInput"]
    assert fields["required"] == ["request"]
    assert {"request", "user", "k", "conversation_id"} <= set(fields["properties"])
    assert {"type": "string"} in schema["anyOf"]
    assert runnable.output_schema.model_json_schema()["type"] == "object"
    with pytest.raises(RequestError, match="k"):
        runnable.invoke({"request": "a comedy", "k": "3"})
    with pytest.raises(RequestError, match="top_k"):
        runnable.invoke({"request": "a comedy", "top_k": 3})
    with pytest.raises(RequestError, match="not both"):
        runnable.invoke({"request": "a comedy", "user": 1, "conversation_id": "x"})
