"""``genllm``: the item-token LLM as a recommender — the whole catalog scored from one forward pass per user.

The user's history is written as item tokens (:mod:`llmrec.llm.items`) and the next-token distribution,
restricted to the item tokens, scores every item: no candidates in the prompt, so no position bias.  Through
vLLM (``scoring="hidden"``, the default) a pooling engine returns each prompt's last hidden state and the
item tokens' output rows turn it into the restricted softmax here, one matrix product; with
``scoring="logprobs"`` a generative engine applies the restriction itself (``allowed_token_ids``, the 1,682
log-probabilities after the mask returned per user, which costs more than the forward pass on CPU).  The
transformers reference computes the same softmax (a test compares them).

With a ``retriever`` the scores are fused, ``llm_weight * z(llm) + retriever_weight * z(retriever)`` (each
standardised over the catalog for the user; weights chosen on validation by ``python -m eval.generative``);
with ``candidates`` K only the retriever's top K get the fused score and the rest keep the retriever's order
below them (reranking).  With an ``ensemble`` (more models for the same catalog, e.g. other training seeds)
each model scores every user with its own engine and the mean of their log-probabilities, renormalised over
the catalog, is the LLM's score.

    python -m eval --recommender genllm --param model=runs/items-merged
    python -m eval --recommender genllm --param model=runs/items-merged --param retriever=auto \\
        --param retriever_weight=1.0
    python -m eval --recommender genllm --param model=runs/items-s0 --param 'ensemble=["runs/items-s1"]'
"""

from __future__ import annotations

import logging
import time
from typing import Any, Literal

import numpy as np
from pydantic import Field
from scipy.special import log_softmax

from llmrec.data import Dataset
from llmrec.errors import ConfigError
from llmrec.history import History
from llmrec.llm.items import ItemVocabulary, item_head, load_item_model
from llmrec.recommenders.base import Recommender, RecommenderConfig, fit_retriever

__all__ = ["GenLLM", "GenLLMConfig", "history_key", "zscore"]

log = logging.getLogger(__name__)


class GenLLMConfig(RecommenderConfig):
    model: str | None = Field(None, description="item-token model directory (python -m finetune.items); "
                                                 "required before fit")
    ensemble: list[str] = Field(default_factory=list, description=(
        "more item-token models for the same catalog and data (other training seeds): each scores every user "
        "with its own engine and the log-probabilities are averaged with model's"))
    backend: Literal["vllm", "transformers"] = Field("vllm", description="vLLM engine or transformers "
                                                                         "reference")
    dtype: str = Field("auto", description="auto: bfloat16 on CUDA or a CPU with bf16 units, else float32")
    history: int = Field(200, ge=1, description="most recent history items written in the prompt")
    batch_size: int = Field(16, ge=1, description="users per transformers batch")
    retriever: str | None = Field(None, description="fuse with this retriever ('auto': the cached default)")
    llm_weight: float = Field(1.0, ge=0, description="weight of the LLM's standardised log-probabilities")
    retriever_weight: float = Field(0.0, ge=0, description="weight of the retriever's standardised scores")
    candidates: int | None = Field(None, ge=1, description="rerank only the retriever's top K (None: all)")
    scoring: Literal["hidden", "logprobs"] = Field(
        "hidden", description="vLLM: the last hidden state times the item rows (a pooling engine), or the "
                              "engine's own log-probabilities over allowed_token_ids (slower)")
    kv_cache_gib: float = Field(1.0, gt=0, description="vLLM KV cache")
    enforce_eager: bool | Literal["auto"] = Field("auto", description="vLLM without torch.compile (shorter "
                                                                     "start, slower prompts); auto: compiled")


def zscore(x: np.ndarray) -> np.ndarray:
    """``x`` standardised along its last axis (a constant row becomes zeros)."""
    x = np.asarray(x, dtype=np.float64)
    sd = x.std(axis=-1, keepdims=True)
    return (x - x.mean(axis=-1, keepdims=True)) / np.where(sd > 0, sd, 1.0)


def history_key(history: History) -> tuple:
    """What the LLM's scores depend on: the history's items (the prompt is written from them alone)."""
    return (len(history), history.items.tobytes())


class GenLLM(Recommender[GenLLMConfig]):
    name = "genllm"
    config_class = GenLLMConfig

    def __init__(self, config: GenLLMConfig | None = None, *, backend=None, retriever=None,
                 cache: dict[tuple, np.ndarray] | None = None):
        """``backend`` (started), ``retriever`` (fitted or not) and ``cache`` (history -> LLM scores, e.g. one
        shared by several fusion weights on the same split) may be given; by default they are made here."""
        super().__init__(config)
        self.backend, self.retriever = backend, retriever
        self.vocab: ItemVocabulary | None = None
        self.manifest: dict[str, Any] = {}
        self._cache: dict[tuple, np.ndarray] = {} if cache is None else cache
        self._retriever_data: str | None = None
        self._seconds, self._users = 0.0, 0
        self._head: np.ndarray | None = None
        self.members: list[GenLLM] = []

    # -- fitting ---------------------------------------------------------------------------------------
    def fit(self, data: Dataset) -> GenLLM:
        """Check the model against ``data``'s catalog (a model for another catalog is refused) and fit the
        retriever when one is fused.  The model itself was trained by ``python -m finetune.items``."""
        if self.config.model is None:
            raise ConfigError("genllm needs an item-token model: --param model=DIR (train one with python -m "
                              "finetune.items)")
        self.manifest, self.vocab = load_item_model(self.config.model, data.catalog)
        trained = self.manifest.get("trained_interactions")
        if (trained is not None and len(data.interactions) < trained
                and self.manifest.get("trained_on") != data.interactions.fingerprint()):
            split = self.manifest.get("split")
            raise ConfigError(
                f"{self.config.model} was trained on {trained} interactions (the {split} split's fit "
                f"data), more than the {len(data.interactions)} it is fitted on here: items held out of "
                "this data would have been its training targets. Use a model trained on this split's fit "
                "data (python -m finetune.items --split validation for the validation split)")
        self._catalog = data.catalog.item_ids
        if self.vocab.item_ids.tolist() != self._catalog.tolist():
            raise ConfigError("the item vocabulary is not in the catalog's order")
        models = [self.config.model, *self.config.ensemble]
        if len(set(models)) < len(models):
            raise ConfigError(f"genllm: a model is listed twice in model and ensemble ({models})")
        # each member checks its own model against the data as this one did (a refit keeps their engines)
        own = self.config.model_copy(update={"ensemble": [], "retriever": None, "retriever_weight": 0.0,
                                             "candidates": None})
        self.members = ([m.fit(data) for m in self.members]
                        or [GenLLM(own.model_copy(update={"model": m})).fit(data)
                            for m in self.config.ensemble])
        if self.config.retriever is not None or self.retriever is not None:
            self.retriever, self._retriever_data = fit_retriever(self.retriever, self.config.retriever, data,
                                                                 self._retriever_data)
        self._seconds, self._users = 0.0, 0  # stats() counts the scoring since the last fit
        self._trained = True
        return self

    def _start(self):
        if self.backend is None:
            from llmrec.llm.backends import TransformersBackend, TransformersConfig, VLLMBackend, VLLMConfig
            from llmrec.llm.base import fast_dtype

            dtype = fast_dtype() if self.config.dtype == "auto" else self.config.dtype
            if self.config.backend == "vllm":
                how = ({"runner": "pooling"} if self.config.scoring == "hidden"
                       else {"max_logprobs": len(self.vocab), "logprobs_mode": "processed_logprobs"})
                self.backend = VLLMBackend(VLLMConfig(
                    model=self.config.model, dtype=dtype, workload="batch", max_model_len=self._max_len(),
                    enforce_eager=self.config.enforce_eager, kv_cache_gib=self.config.kv_cache_gib, **how))
            else:
                self.backend = TransformersBackend(TransformersConfig(model=self.config.model, dtype=dtype,
                                                                      batch_size=self.config.batch_size))
        return self.backend

    def _max_len(self) -> int:
        per_item = 1 + (max((len(t) for t in self.vocab.titles.values()), default=0))
        return int(len(self.vocab.prefix_ids) + per_item * self.config.history + 8)

    # -- scoring ---------------------------------------------------------------------------------------
    def prompt(self, history: History) -> list[int]:
        """The prompt's token ids: the last ``history`` items as tokens (in the model's form)."""
        return self.vocab.encode(history.items[-self.config.history:])[0]

    def item_logprobs(self, histories: list[History]) -> np.ndarray:
        """``(users, catalog items)``: each user's next-item log-probabilities over the whole catalog (with an
        ``ensemble``, the renormalised mean of every model's log-probabilities)."""
        self._require()
        missing = [h for h in histories if history_key(h) not in self._cache]
        if missing:
            # members score without caching (this model's cache holds the mean), so a bounded cache bounds all
            rows = np.mean([self._own_logprobs(missing), *(m._own_logprobs(missing) for m in self.members)],
                           axis=0)
            if self.members:
                rows = log_softmax(rows, axis=1)
            for h, row in zip(missing, rows):
                self._cache[history_key(h)] = np.asarray(row, dtype=np.float64)
        return np.stack([self._cache[history_key(h)] for h in histories])

    def _own_logprobs(self, missing: list[History]) -> np.ndarray:
        """This model's log-probabilities for ``missing`` (one engine call), without its ensemble."""
        backend = self._start()  # the engine's start is not scoring time
        t0 = time.perf_counter()
        prompts = [self.prompt(h) for h in missing]
        if getattr(getattr(backend, "config", None), "runner", None) == "pooling":
            if self._head is None:  # the item tokens' output rows: hidden states -> item logits
                self._head = item_head(self.config.model, self.vocab.token_ids)
            logits = backend.last_hidden(prompts).astype(np.float64) @ self._head.T.astype(np.float64)
            rows = log_softmax(logits, axis=1)
        else:
            rows = backend.allowed_logprobs(prompts, self.vocab.token_ids.tolist())
        self._seconds += time.perf_counter() - t0
        self._users += len(missing)
        return np.asarray(rows, dtype=np.float64)

    def prepare(self, histories: list[History]) -> None:
        """Score every user's whole catalog in one engine call (the harness scores them one by one next)."""
        self.item_logprobs(histories)
        if self.retriever is not None:
            self.retriever.prepare(histories)

    def catalog_scores(self, history: History) -> np.ndarray:
        """The final score of every catalog item (catalog order) for this user."""
        llm = self.item_logprobs([history])[0]
        if self.retriever is None or self.config.retriever_weight == 0:
            return llm
        retr = np.asarray(self.retriever.score(history, self._catalog), dtype=np.float64)
        fused = self.config.llm_weight * zscore(llm) + self.config.retriever_weight * zscore(retr)
        if self.config.candidates is None:
            return fused
        # rerank: the retriever's top K (unseen) by the fused score, above every other item in retriever order
        unseen = ~np.isin(self._catalog, history.items)
        order = np.flatnonzero(unseen)[np.argsort(-retr[unseen], kind="stable")]
        top = order[:self.config.candidates]
        out = zscore(retr) - 1e6
        out[top] = fused[top]
        return out

    def score(self, history: History, items: np.ndarray) -> np.ndarray:
        self._require()
        items = np.asarray(items, dtype=np.int64)
        return self.catalog_scores(history)[self.vocab.positions(items)]

    def _require(self) -> None:
        if not self._trained:
            raise ConfigError("genllm is not fitted: call fit(data) first")

    def stats(self) -> dict[str, Any]:
        seconds = self._seconds + sum(m._seconds for m in self.members)  # every model's engine time
        return {"llm_users": self._users, "llm_seconds": round(seconds, 3),
                "llm_seconds_per_user": round(seconds / max(self._users, 1), 4),
                "model": self.config.model, "ensemble": list(self.config.ensemble),
                "form": self.manifest.get("form"),
                "catalog": self.manifest.get("catalog")}

    def close(self) -> None:
        for m in self.members:
            m.close()
        if self.backend is not None and hasattr(self.backend, "close"):
            self.backend.close()
        self.backend = None
