"""Validation of a model being fine-tuned: the ranker's metrics on validation users, as it is served."""

from __future__ import annotations

import hashlib
import logging
import time

import numpy as np

from llmrec.evaluation.metrics import mrr, ndcg_at, recall_at
from llmrec.history import histories
from llmrec.llm.base import cpu_has_bf16
from llmrec.llm.ranker import LLMRanker
from llmrec.split import HoldoutSplit, seeded_sample, target_items

__all__ = ["FrozenTrunkCache", "RankValidator", "candidate_metrics", "chosen_checkpoint", "cpu_has_bf16"]

log = logging.getLogger(__name__)


def chosen_checkpoint(state, metric: str) -> tuple[list[dict], dict, int, dict]:
    """From a transformers ``TrainerState``: the evaluations that logged ``eval_<metric>`` (in order), the
    metrics at step 0 (the zero-shot model; ``{}`` when not evaluated), the chosen step (the best
    checkpoint's, else the last) and the metrics at that step (the last evaluation's when it has none),
    their names without ``eval_``."""
    history = [r for r in state.log_history if f"eval_{metric}" in r]
    metrics = [{k.removeprefix("eval_"): v for k, v in r.items() if k.startswith("eval_")} for r in history]
    zero_shot = next((m for r, m in zip(history, metrics) if r.get("step") == 0), {})
    best = state.best_model_checkpoint
    step = int(best.rsplit("-", 1)[1]) if best else state.global_step
    chosen = next((m for r, m in zip(history, metrics) if r.get("step") == step),
                  metrics[-1] if metrics else {})
    return history, zero_shot, step, chosen


def candidate_metrics(ranked: list[np.ndarray], targets: list[int]) -> dict[str, float]:
    """NDCG@5/@10, HR@1 and MRR of each user's target within their ranked candidates (0 when absent)."""
    absent = np.iinfo(np.int64).max // 2
    ranks = np.array([int(np.flatnonzero(r == t)[0]) if t in r else absent for r, t in zip(ranked, targets)])
    return {"ndcg@5": float(ndcg_at(ranks, 5).mean()), "ndcg@10": float(ndcg_at(ranks, 10).mean()),
            "hr@1": float(recall_at(ranks, 1).mean()),
            "mrr": float(np.where(ranks < absent, mrr(ranks), 0.0).mean()),
            "in_candidates": float(np.mean(ranks < absent))}


class RankValidator:
    """A seeded sample of validation users with their retriever candidates (retriever order), computed once;
    :meth:`evaluate` scores them with a model through ``ranker``'s prompts and reports candidate metrics."""

    def __init__(self, ranker: LLMRanker, split: HoldoutSplit, *, users: int, seed: int = 0,
                 progress: bool = False):
        self.ranker = ranker
        targets = target_items(split)
        hs = histories(split.train.interactions)
        ids = seeded_sample(sorted(u for u in targets if u in hs), users, seed)
        self.requests = [ranker.request(hs[u]) for u in ids]
        self.targets = [targets[u] for u in ids]
        self.retriever_metrics = candidate_metrics([r.candidates for r in self.requests], self.targets)
        self.seconds = 0.0  # spent in evaluate()

    def evaluate(self, model) -> dict[str, float]:
        """Candidate metrics of the ranker with ``model`` (put in eval mode, and back in train mode after)."""
        t0, training = time.perf_counter(), model.training
        model.eval()
        try:
            scores = self.ranker.llm_scores_many(self.requests)
        finally:
            model.train(training)
            self.seconds += time.perf_counter() - t0
        ranked = [r.candidates[np.lexsort((r.candidates, -s))] for r, s in zip(self.requests, scores)]
        return candidate_metrics(ranked, self.targets)


class FrozenTrunkCache:
    """A causal LM being LoRA-trained on its last layers only, as a model whose forward passes reuse the
    frozen first layers' work: the hidden states entering layer ``first`` (no trained weight comes before it,
    so they never change during training) are kept per batch (its token ids and mask), and a batch seen
    before runs only layers ``first`` and up.  Validation scores the same batches at every evaluation, so
    every evaluation after the first costs about (layers - ``first``) / layers of a full pass.

    The shortcut feeds the kept states to the decoder stack (``inputs_embeds``) with the stack cut to its
    trained layers.  Its first use is checked against a full pass; if they differ (a model that transforms
    ``inputs_embeds``, say) the cache turns itself off and every call is a full pass.  Everything else
    (``generate``, ``train``, ``get_output_embeddings`` ...) is the wrapped model's."""

    def __init__(self, model, first: int, *, atol: float = 1e-4):
        self.model, self.first, self.atol = model, int(first), atol
        self.states: dict[bytes, object] = {}
        self.checked: bool | None = None  # None: the shortcut is not checked yet; False: it is off
        self.hits = 0
        try:
            self._stack = model.get_base_model().model if hasattr(model, "get_base_model") else model.model
            if not 0 < self.first < len(self._stack.layers):
                self.checked = False
        except AttributeError:  # not a decoder stack this knows how to cut
            self.checked = False

    def __getattr__(self, name):
        return getattr(self.model, name)

    def __call__(self, input_ids=None, attention_mask=None, **kwargs):
        if (self.checked is False or input_ids is None or attention_mask is None
                or kwargs.get("past_key_values")):
            return self.model(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
        key = hashlib.sha1(repr(tuple(input_ids.shape)).encode() + input_ids.cpu().numpy().tobytes()
                           + attention_mask.cpu().numpy().tobytes()).digest()
        kept = self.states.get(key)
        if kept is None:
            out = self.model(input_ids=input_ids, attention_mask=attention_mask,
                             **(kwargs | {"output_hidden_states": True}))
            self.states[key] = out.hidden_states[self.first].detach()
            return out
        out = self._top(kept, attention_mask, **kwargs)
        if self.checked is None:
            full = self.model(input_ids=input_ids, attention_mask=attention_mask,
                              **(kwargs | {"output_hidden_states": True}))
            self.checked = bool(all(a.shape == b.shape and (a - b).abs().max().item() <= self.atol
                                    for a, b in ((full.hidden_states[-1], out.hidden_states[-1]),
                                                 (full.logits, out.logits))))
            if not self.checked:
                log.warning("the frozen-trunk shortcut does not reproduce a full forward pass of this model; "
                            "validation runs full passes")
                self.states.clear()
                return full
        self.hits += 1
        return out

    def _top(self, hidden, attention_mask, **kwargs):
        import torch

        layers = self._stack.layers
        self._stack.layers = torch.nn.ModuleList(list(layers)[self.first:])
        try:
            return self.model(inputs_embeds=hidden, attention_mask=attention_mask,
                              **(kwargs | {"output_hidden_states": True, "use_cache": False}))
        finally:
            self._stack.layers = layers
