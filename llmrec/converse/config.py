"""``ConverseConfig``: how the conversational recommender is built (construction settings; k, explain and the
objective weights may also be given per call)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ConverseConfig"]


class ConverseConfig(BaseModel):
    """How conversations are served (construction settings; k and explain may also be given per turn)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    retriever: str | None = Field("auto", description="trained retriever directory, 'auto' (the cached "
                                                      "default) or None (the untrained text retriever)")
    llm: bool = Field(True, description="use the LLM (reading loose language, reranking); False: "
                                        "deterministic parsing and the retriever only")
    ranker: dict[str, Any] = Field(default_factory=dict, description="LLMRankerConfig values (backend, "
                                                                     "model, adapter, engine settings, ...)")
    rerank: bool = Field(True, description="the LLM reranks the recalled candidates")
    read_loose: bool | None = Field(None, description=(
        "the LLM reads loose clauses into intents; None: only with a parser adapter (zero-shot SmolLM2-135M "
        "lowered parse exact match on the benchmark's training templates from 0.998 to 0.712)"))
    parser_adapter: str | None = Field(None, description=(
        "LoRA parser adapter directory (python -m finetune.parser) that reads the loose clauses, served by "
        "the ranker's engine beside its ranking adapter and chosen per call"))
    reader_margin: float = Field(0.0, description="log-odds an intent must beat 'none' by")
    k: int = Field(10, ge=1, le=50, description="items per answer unless the request or the call says")
    explain: int = Field(0, ge=0, le=10, description="explain the top N items of each answer")
    candidates: int = Field(20, ge=1, le=26, description="K: recalled candidates the LLM reranks")
    seed_weight: float = Field(1.0, ge=0, description="weight of the 'like X' items' vectors in recall")
    llm_retry_after: float = Field(30.0, ge=0, description=(
        "after the LLM fails, answer without it (degraded, at once) for this many seconds before trying it "
        "again, so that turns do not queue behind the backend's retries"))
    db: str = Field(":memory:", description="SQLite file of the conversations (':memory:': this process)")
    max_request_chars: int = Field(2000, ge=1, description="longest request accepted")
    item_index: bool = Field(True, description=(
        "recall searches through the retriever's FAISS item index (exact inner product: the same ranking "
        "as without it), which new items (add_item) join without a rebuild"))
    items_model: str | None = Field(None, description=(
        "item-token model directory (python -m finetune.items): with llm, it ranks every item the turn "
        "allows, its scores from the history fused with the retriever's request-aware ones "
        "(llmrec.converse.itemrank), instead of the title-reading rerank of the retriever's top K"))
    items_ensemble: list[str] = Field(default_factory=list, description=(
        "with items_model: more item-token models for the same catalog (other training seeds); the mean of "
        "their log-probabilities is the LLM's score (llmrec.llm.generative), each model on its own engine"))
    items_weight: float = Field(8.0, ge=0, description=(
        "with items_model: the item-token LLM's weight against the retriever's 1, chosen on validation by "
        "simulated users (hit@10 within 5 turns, 0.5 to 8; smaller weights find more at the first turn)"))
    items_seed_weight: float | None = Field(0.0, ge=0, description=(
        "with items_model: the item-token LLM's weight on a turn that names 'like X' items (None: "
        "items_weight). The model reads the history, not the request, so at items_weight it pulls the list "
        "away from the seeds; 0 (the retriever's seeded order) was chosen on validation by simulated users "
        "(0, 2, 4, 8 at items_weight 8)"))
    items_seeds: bool = Field(False, description=(
        "with items_model: the request's 'like X' items are written at the end of the history in the "
        "item-token model's prompt, as if watched last (moved there when the history holds them)"))
    milvus_uri: str | None = Field(None, description=(
        "with item_index: the item index on Milvus instead of FAISS, at a Milvus Lite file (a path ending in "
        ".db) or a cluster URI (http://host:19530); exact inner product, the same ranking"))
