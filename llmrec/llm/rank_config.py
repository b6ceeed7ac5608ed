"""The LLM ranker's configuration and the fixed parts of its prompts (labels, marks, history formats).

:class:`LLMRankerConfig` holds what the ranker reads (candidates, read-out, fusion weights, item text), the
backend kind, model and adapter, and the backend's own construction settings in ``engine`` (validated
against :mod:`llmrec.llm.config` when the config is made).
"""

from __future__ import annotations

import string
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from llmrec.history import HistoryFormat
from llmrec.llm.config import BackendKind, backend_config, backend_fields
from llmrec.recommenders.base import RecommenderConfig

__all__ = ["LABELS", "MARK", "NOT_MARK", "RANK_HISTORY_FORMAT", "RANK_HISTORY_FORMAT_FULL",
           "ZERO_SHOT_RETRIEVER_WEIGHT", "LLMRankerConfig"]

LABELS = string.ascii_uppercase  # single tokens for common tokenizers; checked at start-up
#: The mark ending each candidate line with ``scoring="marks"`` (one token; checked at start-up).
MARK = " yes"
#: The token a mark is scored against (``scoring="marks"``: the score is log p(MARK) - log p(NOT_MARK)).
NOT_MARK = " no"

#: How the ranking prompt writes the history with ``details="titles"`` (the default): the last 10 titles,
#: newest first, on one line.  Years cost ~6 tokens a title with this tokenizer and prompt length is the
#: cost of CPU scoring, so they are left out.
RANK_HISTORY_FORMAT = HistoryFormat(max_items=10, order="newest_first", style="compact", show_year=False,
                                    show_genres=False, show_rating=False, show_recency=False)
#: ``details="full"``: one line per item with year, genres and rating (about 3x the tokens).
RANK_HISTORY_FORMAT_FULL = HistoryFormat(max_items=10, order="newest_first", style="lines", show_rating=True,
                                         show_recency=False)


#: The bundled zero-shot model's fusion weight (``retriever_weight`` with ``llm_weight`` 1), chosen on the
#: validation split over the default retriever (recipe 2) by ``python -m eval.fusion --weights 0 0.25 0.5 1
#: 2 4 8``: NDCG@10 0.1338 for the LLM alone, 0.1373 for the retriever's order, 0.1391 at 8.  Zero-shot, the
#: 135M model reading titles ranks below that retriever; at this weight it breaks the retriever's near-ties.
ZERO_SHOT_RETRIEVER_WEIGHT = 8.0


class LLMRankerConfig(RecommenderConfig):
    retriever: str | None = Field(None, description="trained retriever directory, or 'auto' for the cached "
                                                    "default one; None: untrained text retriever")
    backend: BackendKind = Field(
        "vllm", description="LLM backend: the in-process vLLM engine, transformers (reference), or a remote "
                            "OpenAI-compatible vLLM server at engine.url")
    model: str | None = Field(None, description="LLM (hub id or path); None: bundled SmolLM2-135M-Instruct")
    adapter: str | None = Field(None, description="LoRA adapter directory from `python -m finetune.lora` "
                                                  "(remote backend: or the name the server serves it under)")
    extra_adapters: list[str] = Field(default_factory=list, description=(
        "further LoRA adapters the same engine serves beside `adapter`, chosen per call by their name (e.g. "
        "the conversation parser's, python -m finetune.parser)"))
    engine: dict[str, Any] = Field(default_factory=dict, description=(
        "the backend's construction settings (llmrec.llm.config: e.g. enforce_eager, block_size, "
        "kv_cache_gib, dtype for vllm; url, timeout, retries for remote; batch_size for transformers); "
        "a setting given at the top level (--param enforce_eager=true) is taken as one of these"))
    scoring: Literal["letters", "marks"] | None = Field(
        None, description="how the K candidates are scored in one pass: letters (the next-token "
                          "log-probability of each candidate's label) or marks (the log-probability of the "
                          "mark ending each candidate's line); None: the adapter's (from its manifest), "
                          "else letters")
    candidates: int = Field(20, ge=1, le=len(LABELS), description="K: retriever candidates the LLM reranks")
    permutations: int = Field(1, ge=1, description="P cyclic shifts of the candidate order averaged")
    llm_weight: float = Field(1.0, ge=0, description="weight of the LLM score")
    retriever_weight: float | None = Field(None, ge=0, description=(
        "weight of the standardised retriever score; None: ZERO_SHOT_RETRIEVER_WEIGHT (8) for the bundled "
        "model without an adapter over a trained retriever (chosen on validation with python -m "
        "eval.fusion), else 0"))
    history_items: int = Field(10, ge=1, description="history items written into the prompt")
    details: Literal["titles", "full"] | None = Field(
        None, description="item facts in the prompt: titles only (short, fast) or title, year, genres and "
                          "rating; None: the adapter's (from its manifest), else titles")
    prompt: str | None = Field(None, description="prompt template name in prompts/ (None: rank for letters, "
                                                 "rank_marks for marks)")
    shuffle_candidates: bool = Field(False, description="shuffle the candidate order (seeded by user) "
                                                        "instead of the retriever's order")
    sentiment: bool = Field(False, description="mark the history's items liked (rated >= 4) or disliked "
                                               "(rated <= 2) in the prompt")
    profile: bool = Field(False, description="write the user's profile (age band, gender, occupation) into "
                                             "the prompt, and recall with the retriever's profile fallback "
                                             "(demographic popularity for empty and short histories)")
    graph_weight: float = Field(0.0, ge=0, description=(
        "weight of the knowledge graph's personalised PageRank in the candidate set, fused with the dense "
        "retriever's (retrieval.graph_fusion, registered as hybrid); 0: the dense retriever alone"))
    graph: dict[str, Any] = Field(default_factory=dict, description=(
        "with graph_weight > 0: the fusion's settings (method, rrf_k) and the graph's (graph: {...}, "
        "retrieval.graph.GraphConfig)"))

    @model_validator(mode="before")
    @classmethod
    def _engine_settings(cls, values: Any) -> Any:
        """Settings of the chosen backend given at the top level go into ``engine``."""
        if not isinstance(values, dict):
            return values
        kind = values.get("backend", "vllm")
        own = set(cls.model_fields)
        moved = {k: v for k, v in values.items() if k not in own and k in backend_fields(str(kind))}
        if not moved:
            return values
        rest = {k: v for k, v in values.items() if k not in moved}
        return {**rest, "engine": {**dict(values.get("engine") or {}), **moved}}

    @field_validator("engine")
    @classmethod
    def _engine_known(cls, engine: dict[str, Any], info) -> dict[str, Any]:
        if set(engine) & {"model", "adapters"}:
            raise ValueError("set the model and the adapter with the ranker's own model and adapter fields")
        backend_config(info.data.get("backend", "vllm"), **engine)  # an unknown or bad setting is named now
        return engine
