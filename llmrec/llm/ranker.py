"""``LLMRanker`` ("llm"): the two-stage recommender — dense recall, then one-pass LLM reranking.

The retriever's top-K candidates are written into the ranking prompt and all K are scored from one forward
pass, in one of two ways (``scoring``):

* ``letters`` (LlamaRec's verbalizer, ``prompts/rank.jinja``): the candidates are labelled A, B, C, ... and
  scored by the next-token log-probabilities of their label tokens after the prompt;
* ``marks`` (``prompts/rank_marks.jinja``): each candidate line ends with a mark token (" yes") and the
  candidate is scored by the log-odds of its mark against " no" at that place given everything before it
  (the backends' ``token_logprobs`` with ``against``: one pass on transformers, prefix requests sharing the
  cache on vLLM).  The log-odds, a logit difference, is used rather than the mark's own log-probability
  because that one saturates: fine-tuning drove p(" yes") to ~1 after every candidate (the input itself
  writes " yes" after each), all K scores to ~0 and the gradients to nothing.  Each score is read right after
  the candidate's own text, a pointwise read-out that a small model learns far more easily than pointing
  at a letter; the training loss is still listwise (a softmax over the K marks).

Either way the K log-probabilities are renormalised over the candidates.  With ``permutations`` P > 1 the
candidate order is cyclically shifted P times and each candidate's log-probability averaged, which cancels
most of the position bias.  The final score fuses the LLM score with the retriever's:
``llm_weight * llm + retriever_weight * z(retriever)`` (weights are chosen on the validation split).

For full-ranking evaluation, the K candidates are placed above every other item, which keeps the
retriever's order.

When the LLM is unavailable (server down, timeout, malformed answer: :class:`~llmrec.errors.LLMUnavailable`)
a request gets the retriever's order with ``meta["degraded"] = True`` and the reason, and a warning is
logged; :meth:`LLMRanker.stats` counts such users.  A remote server that cannot be reached when the ranker
is fitted is an error, since nothing has been served yet.

The backend starts when the ranker is fitted, or earlier and in the background with
:meth:`LLMRanker.start` (``background=True``, as :class:`~llmrec.pipeline.Pipeline` does): the engine then
loads while the retriever fits and recalls, and the first request that needs the LLM waits for it.  A
background start that fails with a user error (a bad setting, an adapter that does not fit) raises it at
that first use; any other failure (the engine did not come up, the server cannot be reached) makes the
requests that need the LLM degraded, with the start's error as the reason.  :meth:`LLMRanker.rank` records
its stage seconds (``recall``, ``engine_wait``, ``ranking``) in ``meta["timings"]``, and reports progress
lines to ``progress`` when one is set.
"""

from __future__ import annotations

import logging

import numpy as np

from llmrec.data import Dataset
from llmrec.errors import ConfigError, LLMUnavailable
from llmrec.history import History, HistoryFormat
from llmrec.items import ItemList
from llmrec.llm.adapters import ADAPTER_FIELDS, Adapter, resolve_adapter, trained_fields
from llmrec.llm.backends import LLMBackend
from llmrec.llm.rank_backend import RankBackend
from llmrec.llm.rank_config import (
    LABELS,
    MARK,
    NOT_MARK,
    RANK_HISTORY_FORMAT,
    RANK_HISTORY_FORMAT_FULL,
    ZERO_SHOT_RETRIEVER_WEIGHT,
    LLMRankerConfig,
)
from llmrec.llm.rank_prompts import RankPrompts
from llmrec.llm.rank_scoring import RankScoring
from llmrec.llm.starting import BackendStart
from llmrec.prompts import load_prompt
from llmrec.recommenders.base import Recommender, Retriever, check_n, create_recommender, fit_retriever
from llmrec.request import Request
from llmrec.timing import Progress, Stages

__all__ = ["ADAPTER_FIELDS", "LABELS", "MARK", "NOT_MARK", "RANK_HISTORY_FORMAT", "RANK_HISTORY_FORMAT_FULL",
           "LLMRanker", "LLMRankerConfig"]

log = logging.getLogger(__name__)

_PROMPTS = {"letters": "rank", "marks": "rank_marks"}
#: The ranking prompts of requests that carry text (the user's words, quoted as data).
_REQUEST_PROMPTS = {"letters": "rank_request", "marks": "rank_marks_request"}


class LLMRanker(RankBackend, RankScoring, RankPrompts, Recommender[LLMRankerConfig]):
    name = "llm"
    config_class = LLMRankerConfig

    def __init__(self, config: LLMRankerConfig | None = None, backend: LLMBackend | None = None,
                 retriever: Retriever | None = None):
        """``backend`` and ``retriever`` may be given as objects (a started backend, a retriever, fitted or
        not); by default the backend starts on first use from ``config`` and the retriever is the registered
        ``dense`` recommender for ``config.retriever``."""
        super().__init__(config)
        self.adapter: Adapter | None = resolve_adapter(self.config.adapter) if self.config.adapter else None
        trained = self._adapter_fields()
        update = {k: trained.get(k, older) for k, older in ADAPTER_FIELDS.items()
                  if getattr(self.config, k) is None}
        if self.config.retriever_weight is None:  # the bundled zero-shot model over a trained retriever
            chosen = (self.config.model is None and self.config.adapter is None
                      and self.config.retriever not in (None, "untrained"))
            update["retriever_weight"] = ZERO_SHOT_RETRIEVER_WEIGHT if chosen else 0.0
        if update:
            self.config = self.config.model_copy(update=update)
        self._backend = backend
        self._start: BackendStart | None = None  # a background start (start(background=True))
        self._label_ids: list[int] | None = None
        self._marks: tuple[int | None, int | None] | None = None
        self.progress: Progress | None = None  # where progress lines go (None: logging only)
        self.retriever = retriever
        self.prompt = load_prompt(self.config.prompt or _PROMPTS[self.config.scoring])
        self.request_prompt = load_prompt(_REQUEST_PROMPTS[self.config.scoring])
        self._llm_seconds: list[float] = []  # per user (amortised over a batch)
        self._prepared: dict[tuple, ItemList] = {}
        self._degraded_users = 0
        self._retriever_data: str | None = None  # fingerprint of the data the retriever was fitted on here
        self._users = None  # the fitted dataset's user profiles, with profile=True
        self.fit_data: Dataset | None = None  # the data fit() last saw (the explainer builds graphs of it)

    def fit(self, data: Dataset) -> LLMRanker:
        self._catalog = data.catalog
        self._users = data.users if self.config.profile else None
        self.fit_data = data
        if self.retriever is None and self.config.graph_weight > 0:  # dense + knowledge-graph candidates
            self.retriever = create_recommender("hybrid", {
                "retriever": self.config.retriever, "dense": {"profile": True} if self.config.profile else {},
                "graph_weight": self.config.graph_weight, **self.config.graph})
        if self.retriever is None and self.config.profile:  # recall with the profile fallback too
            self.retriever = create_recommender("dense", {"retriever": self.config.retriever,
                                                          "profile": True})
        self.retriever, self._retriever_data = fit_retriever(self.retriever, self.config.retriever, data,
                                                             self._retriever_data)
        self.labels = list(LABELS[:self.config.candidates])
        if self._start is None:  # started now (errors here), unless it is starting in the background
            self._read_tokens()
        self._check_adapter_fields()
        base = RANK_HISTORY_FORMAT if self.config.details == "titles" else RANK_HISTORY_FORMAT_FULL
        self.history_format = HistoryFormat(**{**base.__dict__, "max_items": self.config.history_items,
                                               "show_sentiment": self.config.sentiment})
        self._trained = True
        return self

    @property
    def catalog(self):
        """The fitted dataset's catalog (the items the prompts describe)."""
        return self._catalog

    def _adapter_fields(self) -> dict[str, str]:
        """The prompt settings the configured adapter was trained for (``scoring``: older adapters letters;
        ``details``: older adapters titles), or without one, those of a merged model (``python -m
        finetune.merge``) given as the model; empty otherwise (a name a remote server serves, a plain
        model)."""
        if self.adapter is not None:
            return self.adapter.trained_fields()
        return trained_fields(self.config.model)

    def _check_adapter_fields(self) -> None:
        """An adapter (or merged model) trained for one read-out or item text is refused by a ranker
        configured for the other."""
        adapter = self.config.adapter or self.config.model
        for key, trained in self._adapter_fields().items():
            configured = getattr(self.config, key)
            if trained != configured:
                raise ConfigError(f"adapter {adapter} was trained for {key}={trained!r} but the ranker is "
                                  f"configured with {key}={configured!r}; leave {key} unset or set it to "
                                  f"{trained!r} (python -m eval: --param {key}={trained}; finetune.lora: "
                                  f"--{key} {trained})")

    def describe(self) -> dict:
        return {**super().describe(), "prompt_version": self.prompt.version}

    def stats(self) -> dict:
        """Prompt version and the LLM scoring time per user (all P orders, one batch)."""
        t = np.array(self._llm_seconds)
        timing = {"llm_seconds_median": round(float(np.median(t)), 4),
                  "llm_seconds_p90": round(float(np.quantile(t, 0.9)), 4)} if len(t) else {}
        return {"prompt_version": self.prompt.version, "scoring": self.config.scoring,
                "candidates": self.config.candidates,
                "permutations": self.config.permutations, "llm_users": len(t),
                "degraded_users": self._degraded_users, **timing}

    # -- scoring -----------------------------------------------------------------------------------------
    def recall(self, history: History, text: str | None = None) -> ItemList:
        """The retriever's top K (in retriever order, or shuffled when configured)."""
        cands = self.retriever.candidates(history, k=self.config.candidates, request=text)
        if self.config.shuffle_candidates and len(cands):
            perm = np.random.default_rng(history.user).permutation(len(cands))
            return ItemList(cands.items[perm], cands.scores[perm], cands.meta)
        return cands

    def request(self, history: History, text: str | None = None) -> Request:
        """A request for this history with recall's candidates filled in, in the order the prompt shows
        them."""
        return Request(history, self.recall(history, text).items, text=text)

    @staticmethod
    def _key(history: History, text: str | None) -> tuple:
        return history.user, len(history), int(history.items[-1]) if len(history) else -1, text

    def prepare(self, histories: list[History]) -> None:
        """Rank these users' candidates now, in one batched engine call; :meth:`rank` then reuses them."""
        self._prepared.clear()
        self.retriever.prepare(histories)
        recalled = [(h, self.recall(h)) for h in histories]
        recalled = [(h, c) for h, c in recalled if len(c)]
        if not recalled:
            return
        requests = [Request(h, c.items) for h, c in recalled]
        try:
            scores = self.llm_scores_many(requests)
        except LLMUnavailable as err:
            for (h, c), r in zip(recalled, requests):
                self._prepared[self._key(h, None)] = self._degraded(c, r, err)
            return
        for (h, c), r, llm in zip(recalled, requests, scores):
            self._prepared[self._key(h, None)] = self._fuse(c, r, llm)

    def rank(self, request: Request | History) -> ItemList:
        """The K candidates reranked by the fused score, best first; ``meta["request"]`` is the request
        with its candidates in the order the prompt showed them (what an explanation continues)."""
        if isinstance(request, History):
            request = Request(request)
        history, text = request.history, request.text
        prepared = self._prepared.pop(self._key(history, text), None)
        if prepared is not None and request.candidates is None:
            return prepared
        stages = Stages(self.progress)
        with stages.stage("recall") as stage:
            cands = (self.recall(history, text) if request.candidates is None
                     else self._retriever_list(request))
            stage.done = f"recalled {len(cands)} candidates"
        if len(cands) == 0:
            return cands
        request = Request(history, cands.items, text=text)
        try:
            if self._start is not None and not self._start.done():
                with stages.stage("engine_wait", f"waiting for the {self._start.config.title()} "
                                                 f"(starting for {self._start.elapsed():.0f} s)..."):
                    self._read_tokens()
            with stages.stage("ranking", f"ranking {len(cands)} candidates...") as stage:
                ranked = self._fuse(cands, request, self.llm_scores(request))
                stage.done = "ranked"
        except LLMUnavailable as err:
            ranked = self._degraded(cands, request, err)
        return ItemList(ranked.items, ranked.scores, {**ranked.meta, "timings": stages.seconds})

    def rank_candidates(self, request: Request, candidates: ItemList) -> ItemList:
        """``candidates`` (recalled by the caller, e.g. from a constrained catalog, with their retriever
        scores) reranked by the fused score for ``request`` (its text, if any, is shown to the LLM); the
        retriever's order, ``degraded``, when the LLM is unavailable."""
        if len(candidates) == 0:
            return candidates
        request = Request(request.history, candidates.items, text=request.text)
        try:
            if self._start is not None and not self._start.done():
                self._read_tokens()
            return self._fuse(candidates, request, self.llm_scores(request))
        except LLMUnavailable as err:
            return self._degraded(candidates, request, err)

    def _retriever_list(self, request: Request) -> ItemList:
        items = request.need_candidates()
        return ItemList(items, self.retriever.score(request.history, items), {})

    def _degraded(self, cands: ItemList, request: Request, err: LLMUnavailable) -> ItemList:
        """The retriever's order, marked ``degraded`` with the reason (and logged: never silent)."""
        self._degraded_users += 1
        log.warning("LLM unavailable, serving the retriever's order (degraded): %s", err)
        ranked = cands.ranked()
        return ItemList(ranked.items, ranked.scores, {**cands.meta, "stage": "retriever", "degraded": True,
                                                       "reason": str(err), "request": request})

    def _fuse(self, cands: ItemList, request: Request, llm: np.ndarray) -> ItemList:
        r = cands.scores
        z = (r - r.mean()) / (r.std() + 1e-9)
        fused = self.config.llm_weight * llm + self.config.retriever_weight * z
        order = np.lexsort((cands.items, -fused))
        return ItemList(cands.items[order], fused[order], {**cands.meta, "stage": "llm", "request": request,
                                                           "prompt_version": self.prompt.version})

    def recommend(self, history: History, items: np.ndarray, n: int = 10,
                  exclude_seen: bool = True) -> ItemList:
        """The top ``n`` of the reranked candidates (with their ``meta``, e.g. ``degraded``)
        when ``n`` <= K."""
        n = check_n(n)
        if n > self.config.candidates or not exclude_seen:
            return super().recommend(history, items, n, exclude_seen)
        ranked = self.rank(history)
        keep = (np.isin(ranked.items, np.asarray(items, dtype=np.int64))
                & ~np.isin(ranked.items, history.items))
        return ItemList(ranked.items[keep][:n], ranked.scores[keep][:n], ranked.meta)

    def score_many(self, histories: list[History], items: list[np.ndarray]) -> list[np.ndarray]:
        """The fused LLM score of exactly each user's given items (at most K each; e.g. a held-out item among
        sampled ones), shown to the LLM in the retriever's order (or shuffled when configured), all users in
        one engine call.  When the LLM is unavailable the users get the retriever's scores (degraded)."""
        if any(len(i) > self.config.candidates or len(i) == 0 for i in items):
            return super().score_many(histories, items)
        lists = []
        for h, i in zip(histories, items):
            i = np.asarray(i, dtype=np.int64)
            r = self.retriever.score(h, i)
            order = (np.random.default_rng(h.user).permutation(len(i)) if self.config.shuffle_candidates
                     else np.lexsort((i, -r)))
            lists.append(ItemList(i[order], r[order], {}))
        requests = [Request(h, c.items) for h, c in zip(histories, lists)]
        try:
            llm = self.llm_scores_many(requests)
            fused = [self._fuse(c, q, s) for c, q, s in zip(lists, requests, llm)]
        except LLMUnavailable as err:
            fused = [self._degraded(c, q, err) for c, q in zip(lists, requests)]
        out = []
        for i, f in zip(items, fused):
            by_item = dict(zip(f.items.tolist(), f.scores.tolist()))
            out.append(np.array([by_item[int(x)] for x in i], dtype=np.float64))
        return out

    def score(self, history: History, items: np.ndarray) -> np.ndarray:
        """Reranked candidates above all other items (which keep the retriever's order)."""
        items = np.asarray(items, dtype=np.int64)
        base = self.retriever.score(history, items)
        ranked = self.rank(history)
        top = dict(zip(ranked.items.tolist(), ranked.scores.tolist()))
        lift = np.array([top.get(int(i), np.nan) for i in items], dtype=np.float64)
        has = ~np.isnan(lift)
        out = base.copy()
        if has.any():
            out[has] = (base.max() + 1.0) + (lift[has] - lift[has].min())
        return out
