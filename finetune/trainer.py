"""The transformers ``Trainer`` with the ranking loss and validation by the ranker's NDCG@10."""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from transformers import Trainer

from llmrec.llm.backends import left_pad, position_logprobs

__all__ = ["RankTrainer", "collate_examples"]


def collate_examples(tokenizer):
    """A collator turning rows into left-padded ids.  A ranking row carries the answer's index: ``{"prompt",
    "answer"}`` (letters: the answer is the next token) or ``{"input_ids", "positions", "answer"}`` (marks: the
    prompt's ids and its K mark positions, shifted here by the row's padding; -1 pads a shorter list).  An
    explanation row ``{"prompt", "completion"}`` is the prompt followed by the completion and EOS, with
    ``answer = -1`` and ``completion_len`` its number of tokens.  Prompts are chat-templated already, so no
    special tokens are added."""
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token

    def encode(text: str) -> list[int]:
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    def collate(rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        seqs, answers, lengths, marks = [], [], [], []
        for r in rows:
            completion = r.get("completion")
            if completion:
                tail = encode(completion + tokenizer.eos_token)
                seqs.append(encode(r["prompt"]) + tail)
                answers.append(-1)
                lengths.append(len(tail))
                marks.append([])
            else:
                seqs.append(list(r["input_ids"]) if "input_ids" in r else encode(r["prompt"]))
                answers.append(r["answer"])
                lengths.append(0)
                marks.append(list(r.get("positions") or []))
        ids, mask, offsets = left_pad(seqs, tokenizer.pad_token_id)
        k = max((len(m) for m in marks), default=0)
        positions = torch.full((len(rows), k), -1, dtype=torch.long)
        for i, (m, o) in enumerate(zip(marks, offsets)):
            positions[i, :len(m)] = torch.tensor([o + j for j in m], dtype=torch.long)
        return {"input_ids": ids, "attention_mask": mask, "answer": torch.tensor(answers, dtype=torch.long),
                "completion_len": torch.tensor(lengths, dtype=torch.long), "positions": positions}

    return collate


class RankTrainer(Trainer):
    """Loss: for letters ranking rows, the cross-entropy of the answer label at the last prompt position (only
    that position's logits are computed), over the K label tokens (``loss="labels"``) or the whole vocabulary;
    for marks ranking rows, the cross-entropy of the answer over the K marks' log-odds against
    ``against`` (the scores the ranker serves; only the K hidden states are projected onto the vocabulary); for explanation rows, the
    token cross-entropy of the completion only.  The batch loss is the mean over rows.
    ``evaluate`` is the validator's ranking metrics (``eval_ndcg@10`` etc.), which the Trainer uses to keep the
    best checkpoint."""

    def __init__(self, *args, label_ids: list[int], loss: Literal["labels", "vocab"], validator,
                 against: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.against = against  # marks: the token each mark is scored against (the ranker's not_mark_id)
        self.label_ids = torch.tensor(label_ids, dtype=torch.long)
        self.rank_loss, self.validator = loss, validator
        self.loss_is_scaled_for_ga = False  # a mean over the batch: the Trainer divides by the accumulation steps

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        answer = inputs.pop("answer")
        lengths = inputs.pop("completion_len", torch.zeros_like(answer))
        positions = inputs.pop("positions", None)
        has_marks = ((positions >= 0).any(1) if positions is not None and positions.numel()
                     else torch.zeros_like(answer, dtype=torch.bool))
        marks = (answer >= 0) & has_marks
        rank = (answer >= 0) & ~has_marks
        losses, out = [], None
        if marks.any():
            pos = positions[marks]
            valid = pos >= 0
            rows = torch.arange(len(pos), device=pos.device)[:, None].expand_as(pos)[valid]
            lp = position_logprobs(model, inputs["input_ids"][marks], inputs["attention_mask"][marks], rows,
                                   pos[valid], self.against)
            scores = torch.full(pos.shape, float("-inf"), device=lp.device)
            scores[valid] = lp
            losses.append(F.cross_entropy(scores, answer[marks], reduction="sum"))
        if rank.any():
            out = model(**{k: v[rank] for k, v in inputs.items()}, logits_to_keep=1)
            logits = out.logits[:, -1, :].float()
            labels = self.label_ids.to(logits.device)
            if self.rank_loss == "labels":
                losses.append(F.cross_entropy(logits[:, labels], answer[rank], reduction="sum"))
            else:
                losses.append(F.cross_entropy(logits, labels[answer[rank]], reduction="sum"))
        explain = answer < 0
        if explain.any():
            ids, lens = inputs["input_ids"][explain], lengths[explain]
            t = int(lens.max())
            out = model(**{k: v[explain] for k, v in inputs.items()}, logits_to_keep=t + 1)
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
