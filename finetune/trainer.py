"""The transformers ``Trainer`` with the ranking loss and validation by the ranker's NDCG@10."""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from transformers import Trainer

__all__ = ["RankTrainer", "collate_examples"]


def collate_examples(tokenizer):
    """A collator turning rows into left-padded ids.  A ranking row ``{"prompt", "answer"}`` carries the answer's
    index; an explanation row ``{"prompt", "completion"}`` is the prompt followed by the completion and EOS, with
    ``answer = -1`` and ``completion_len`` its number of tokens (the prompts are chat-templated already, so no
    special tokens are added)."""
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token

    def collate(rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        texts, answers, lengths = [], [], []
        for r in rows:
            completion = r.get("completion")
            if completion:
                tail = completion + tokenizer.eos_token
                texts.append(r["prompt"] + tail)
                answers.append(-1)
                lengths.append(len(tokenizer(tail, add_special_tokens=False)["input_ids"]))
            else:
                texts.append(r["prompt"])
                answers.append(r["answer"])
                lengths.append(0)
        enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        return {**enc, "answer": torch.tensor(answers, dtype=torch.long),
                "completion_len": torch.tensor(lengths, dtype=torch.long)}

    return collate


class RankTrainer(Trainer):
    """Loss: for ranking rows, the cross-entropy of the answer label at the last prompt position (only that
    position's logits are computed), over the K label tokens (``loss="labels"``) or the whole vocabulary; for
    explanation rows, the token cross-entropy of the completion only.  The batch loss is the mean over rows.
    ``evaluate`` is the validator's ranking metrics (``eval_ndcg@10`` etc.), which the Trainer uses to keep the
    best checkpoint."""

    def __init__(self, *args, label_ids: list[int], loss: Literal["labels", "vocab"], validator, **kwargs):
        super().__init__(*args, **kwargs)
        self.label_ids = torch.tensor(label_ids, dtype=torch.long)
        self.rank_loss, self.validator = loss, validator
        self.loss_is_scaled_for_ga = False  # a mean over the batch: the Trainer divides by the accumulation steps

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        answer = inputs.pop("answer")
        lengths = inputs.pop("completion_len", torch.zeros_like(answer))
        rank = answer >= 0
        losses, out = [], None
        if rank.any():
            out = model(**{k: v[rank] for k, v in inputs.items()}, logits_to_keep=1)
            logits = out.logits[:, -1, :].float()
            labels = self.label_ids.to(logits.device)
            if self.rank_loss == "labels":
                losses.append(F.cross_entropy(logits[:, labels], answer[rank], reduction="sum"))
            else:
                losses.append(F.cross_entropy(logits, labels[answer[rank]], reduction="sum"))
        if (~rank).any():
            ids, lens = inputs["input_ids"][~rank], lengths[~rank]
            t = int(lens.max())
            out = model(**{k: v[~rank] for k, v in inputs.items()}, logits_to_keep=t + 1)
            logits = out.logits[:, :-1, :].float()  # these positions predict the last t tokens
            targets = ids[:, -t:].clone()
            targets[torch.arange(t, device=ids.device)[None, :] < (t - lens)[:, None]] = -100  # prompt, not answer
            per_token = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                        ignore_index=-100, reduction="none").view(len(ids), t)
            losses.append((per_token.sum(1) / lens.clamp(min=1)).sum())
        loss = torch.stack(losses).sum() / len(answer)
        return (loss, out) if return_outputs else loss

    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix: str = "eval") -> dict[str, float]:
        metrics = {f"{metric_key_prefix}_{k}": v for k, v in self.validator.evaluate(self.model).items()}
        self.log(metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics
