"""The transformers ``Trainer`` with the ranking loss and validation by the ranker's NDCG@10."""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from transformers import Trainer

__all__ = ["RankTrainer", "collate_examples"]


def collate_examples(tokenizer):
    """A collator turning ``{"prompt", "answer"}`` rows into left-padded ids and the answer indices (the
    prompts are chat-templated already, so no special tokens are added)."""
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token

    def collate(rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        enc = tokenizer([r["prompt"] for r in rows], return_tensors="pt", padding=True, add_special_tokens=False)
        return {**enc, "answer": torch.tensor([r["answer"] for r in rows], dtype=torch.long)}

    return collate


class RankTrainer(Trainer):
    """Loss: cross-entropy of the answer label at the last prompt position (only that position's logits are
    computed), over the K label tokens (``loss="labels"``) or the whole vocabulary.  ``evaluate`` is the
    validator's ranking metrics (``eval_ndcg@10`` etc.), which the Trainer uses to keep the best checkpoint."""

    def __init__(self, *args, label_ids: list[int], loss: Literal["labels", "vocab"], validator, **kwargs):
        super().__init__(*args, **kwargs)
        self.label_ids = torch.tensor(label_ids, dtype=torch.long)
        self.rank_loss, self.validator = loss, validator
        self.loss_is_scaled_for_ga = False  # a mean over the batch: the Trainer divides by the accumulation steps

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        answer = inputs.pop("answer")
        out = model(**inputs, logits_to_keep=1)
        logits = out.logits[:, -1, :].float()
        if self.rank_loss == "labels":
            loss = F.cross_entropy(logits[:, self.label_ids.to(logits.device)], answer)
        else:
            loss = F.cross_entropy(logits, self.label_ids.to(logits.device)[answer])
        return (loss, out) if return_outputs else loss

    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix: str = "eval") -> dict[str, float]:
        metrics = {f"{metric_key_prefix}_{k}": v for k, v in self.validator.evaluate(self.model).items()}
        self.log(metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics
