"""The transformers ``Trainer`` with the ranking loss and validation by the ranker's NDCG@10."""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from transformers import Trainer

from llmrec.llm.backends import left_pad, position_logprobs

__all__ = ["RankTrainer", "collate_examples", "encode_rows", "length_grouped_order"]


def encode_rows(rows: list[dict[str, Any]], tokenizer) -> list[dict[str, Any]]:
    """Rows as token ids, as :func:`collate_examples` would encode them: a ``{"prompt", "answer"}`` row becomes
    ``{"input_ids", "answer"}``, an explanation row ``{"prompt", "completion"}`` becomes ``{"input_ids",
    "answer": -1, "completion_len"}``; rows with ``input_ids`` are kept.  Encoded rows have known lengths
    (:func:`length_grouped_order`) and are not re-tokenized at every step."""
    return [r if "input_ids" in r else _encode_row(r, tokenizer) for r in rows]


def length_grouped_order(lengths: list[int], batch_size: int, seed: int = 0, group: int = 50) -> list[int]:
    """An epoch's order of rows that puts rows of similar length into the same batch, so a batch pads little:
    a seeded permutation is cut into groups of ``group`` batches, each group is sorted by length and cut into
    batches, and then all the batches are shuffled.  Which rows share a batch stays random within a length band,
    and long and short batches alternate at random through the epoch (unlike the transformers
    ``group_by_length`` sampler, which walks each group from its longest batch to its shortest)."""
    import numpy as np

    rng = np.random.default_rng([seed, 2])
    perm = rng.permutation(len(lengths))
    span = batch_size * group
    batches = []
    for start in range(0, len(perm), span):
        part = sorted(perm[start:start + span].tolist(), key=lambda i: -lengths[i])
        batches += [part[i:i + batch_size] for i in range(0, len(part), batch_size)]
    return [i for b in rng.permutation(len(batches)) for i in batches[int(b)]]


def collate_examples(tokenizer):
    """A collator turning rows into left-padded ids.  A ranking row carries the answer's index: ``{"prompt",
    "answer"}`` (letters: the answer is the next token) or ``{"input_ids", "positions", "answer"}`` (marks: the
    prompt's ids and its K mark positions, shifted here by the row's padding; -1 pads a shorter list).  An
    explanation row ``{"prompt", "completion"}`` is the prompt followed by the completion and EOS, with
    ``answer = -1`` and ``completion_len`` its number of tokens (or, encoded by :func:`encode_rows`, ``{"input_ids",
    "answer": -1, "completion_len"}``).  Prompts are chat-templated already, so no
    special tokens are added."""
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token

    def collate(rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        seqs, answers, lengths, marks = [], [], [], []
        for r in rows:
            r = r if "input_ids" in r else _encode_row(r, tokenizer)
            seqs.append(list(r["input_ids"]))
            answers.append(r["answer"])
            lengths.append(r.get("completion_len", 0))
            marks.append(list(r.get("positions") or []))
        ids, mask, offsets = left_pad(seqs, tokenizer.pad_token_id)
        k = max((len(m) for m in marks), default=0)
        positions = torch.full((len(rows), k), -1, dtype=torch.long)
        for i, (m, o) in enumerate(zip(marks, offsets)):
            positions[i, :len(m)] = torch.tensor([o + j for j in m], dtype=torch.long)
        return {"input_ids": ids, "attention_mask": mask, "answer": torch.tensor(answers, dtype=torch.long),
                "completion_len": torch.tensor(lengths, dtype=torch.long), "positions": positions}

    return collate


def _encode_row(row: dict[str, Any], tokenizer) -> dict[str, Any]:
    def encode(text: str) -> list[int]:
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    if row.get("completion"):
        tail = encode(row["completion"] + tokenizer.eos_token)
        return {"input_ids": encode(row["prompt"]) + tail, "answer": -1, "completion_len": len(tail)}
    return {"input_ids": encode(row["prompt"]), "answer": row["answer"]}


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
