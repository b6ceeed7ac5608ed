"""Contrastive fine-tuning of the text channel with the sentence-transformers trainer.

Examples are (history -> next item) pairs from training interactions only: the anchor is the query text of
a user's history before position t (the shared renderer, newest first), the positive is the text of the
item at t.  Positions are sampled uniformly from every position of every user's training sequence.  The
loss is MultipleNegativesRankingLoss (in-batch negatives) plus hard negatives mined from the catalog with
the untrained encoder (``sentence_transformers.util.mine_hard_negatives``; the closest few items are
skipped, as they are often good recommendations rather than negatives).  The checkpoint kept is the one
with the best validation recall@20 of the text channel alone, under the evaluation protocol (items the
user has seen are excluded).
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from sentence_transformers.sentence_transformer.evaluation import SentenceEvaluator

from llmrec.data import Catalog
from llmrec.history import History
from llmrec.split import HoldoutSplit
from retrieval.text import item_texts, query_text

__all__ = ["RecallEvaluator", "TextTrainConfig", "fine_tune_text_encoder", "training_pairs"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TextTrainConfig:
    examples: int = 3000  # (history, next item) pairs sampled from all training positions
    batch_size: int = 32
    max_seq_length: int = 64  # tokens; queries are newest-first, so truncation drops the oldest items
    lr: float = 5e-5
    epochs: int = 1
    hard_negatives: int = 1  # mined negatives per pair (0: in-batch negatives only)
    skip_nearest: int = 10  # nearest items skipped when mining (likely positives, not negatives)
    eval_steps: int = 25  # validation (and checkpoint) every this many steps
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def _prefix(history: History, t: int) -> History:
    return History(history.user, history.items[:t], history.ratings[:t], history.timestamps[:t])


def training_pairs(histories: dict[int, History], catalog: Catalog, n: int,
                   seed: int) -> list[dict[str, str]]:
    """``n`` (anchor, positive) pairs sampled uniformly from all positions t >= 1 of all histories."""
    positions = [(u, t) for u, h in histories.items() for t in range(1, len(h))]
    if not positions:
        raise ValueError("no training pairs: every history has fewer than two items")
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(positions), size=min(n, len(positions)), replace=False)
    pairs = []
    for i in chosen:
        u, t = positions[i]
        h = histories[u]
        pairs.append({"anchor": query_text(_prefix(h, t), catalog),
                      "positive": item_texts(catalog, h.items[t:t + 1])[0]})
    return pairs


class RecallEvaluator(SentenceEvaluator):
    """Text-channel recall@k of a split's targets, seen items excluded (the evaluation protocol).

    A sentence-transformers evaluator (its primary metric drives checkpoint selection); ``evaluate(model)``
    can also be called directly.
    """

    def __init__(self, split: HoldoutSplit, histories: dict[int, History], catalog: Catalog,
                 cutoffs: tuple[int, ...] = (20, 50), name: str = "val"):
        super().__init__()
        self.name, self.cutoffs = name, cutoffs
        self.primary_metric = f"recall@{cutoffs[0]}"  # prefixed with the name after the first call
        self.catalog = catalog
        targets = split.targets
        self.queries = [query_text(histories[u], catalog) for u in targets["user"]]
        self.seen = [catalog.positions(histories[u].items) for u in targets["user"]]
        self.target = catalog.positions(targets["item"].to_numpy())
        self.item_texts = item_texts(catalog, catalog.item_ids)

    def evaluate(self, model) -> dict[str, float]:
        q = model.encode(self.queries, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
        v = model.encode(self.item_texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
        s = q @ v.T
        for row, seen in enumerate(self.seen):
            s[row, seen] = -np.inf
        rank = (s > s[np.arange(len(s)), self.target][:, None]).sum(1) + 1
        return {f"recall@{k}": float((rank <= k).mean()) for k in self.cutoffs}

    def __call__(self, model, output_path=None, epoch: int = -1, steps: int = -1) -> dict[str, float]:
        metrics = self.evaluate(model)
        log.info("text_eval epoch=%s steps=%s %s", epoch, steps, metrics)
        metrics = self.prefix_name_to_metrics(metrics, self.name)
        self.store_metrics_in_model_card_data(model, metrics, epoch, steps)
        return metrics


def fine_tune_text_encoder(base: str, histories: dict[int, History], catalog: Catalog,
                           evaluator: RecallEvaluator, config: TextTrainConfig, output: Path,
                           checkpoints: Path, progress: bool = True) -> dict:
    """Train, keep the best checkpoint by ``evaluator``, save it to ``output``; returns a summary."""
    from datasets import Dataset as HFDataset
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from sentence_transformers.util import mine_hard_negatives

    t0 = time.perf_counter()
    model = SentenceTransformer(base, device="cpu")
    model.max_seq_length = config.max_seq_length
    before = evaluator.evaluate(model)
    data = HFDataset.from_list(training_pairs(histories, catalog, config.examples, config.seed))
    if config.hard_negatives:
        data = mine_hard_negatives(
            data, model, corpus=evaluator.item_texts, range_min=config.skip_nearest,
            range_max=config.skip_nearest + 50, num_negatives=config.hard_negatives,
            sampling_strategy="random", output_format="n-tuple", batch_size=64, verbose=False)
    steps_per_epoch = max(1, len(data) // config.batch_size)
    eval_steps = min(config.eval_steps, steps_per_epoch * config.epochs)
    args = SentenceTransformerTrainingArguments(
        output_dir=str(checkpoints), num_train_epochs=config.epochs,
        per_device_train_batch_size=config.batch_size, learning_rate=config.lr, warmup_steps=0.1,
        seed=config.seed, use_cpu=True, bf16=False,  # bf16 autocast trains ~15x slower on this CPU
        eval_strategy="steps", eval_steps=eval_steps, save_strategy="steps", save_steps=eval_steps,
        save_total_limit=2, load_best_model_at_end=True,
        metric_for_best_model=f"eval_{evaluator.name}_recall@{evaluator.cutoffs[0]}",
        greater_is_better=True, logging_steps=max(1, eval_steps // 5), report_to="none",
        disable_tqdm=not progress, dataloader_drop_last=True)
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=data, loss=MultipleNegativesRankingLoss(model),
        evaluator=evaluator)
    trainer.train()
    after = evaluator.evaluate(model)
    key = f"recall@{evaluator.cutoffs[0]}"
    if after[key] < before[key]:
        log.warning("fine-tuning did not beat the untrained encoder on validation (%s < %s); keeping the "
                    "untrained weights", after, before)
        model = SentenceTransformer(base, device="cpu")
        model.max_seq_length = config.max_seq_length
        after = before
    model.save(str(output))
    shutil.rmtree(checkpoints, ignore_errors=True)
    evals = [{k: v for k, v in e.items() if k.startswith("eval_") or k in ("step", "epoch")}
             for e in trainer.state.log_history if any(k.startswith("eval_") for k in e)]
    return {"examples": len(data), "steps": trainer.state.global_step, "validation_before": before,
            "validation_after": after, "evaluations": evals,
            "best_checkpoint": trainer.state.best_model_checkpoint,
            "seconds": round(time.perf_counter() - t0, 1)}
