"""The transformers ``Trainer`` with the ranking loss and validation by the ranker's NDCG@10."""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from transformers import Trainer

from llmrec.llm.backends import hidden_logprobs, left_pad

__all__ = ["RankTrainer", "collate_examples", "encode_rows", "length_grouped_order", "merge_prompts"]


def encode_rows(rows: list[dict[str, Any]], tokenizer) -> list[dict[str, Any]]:
    """Rows as token ids, as :func:`collate_examples` would encode them: a ``{"prompt", "answer"}`` row
    becomes ``{"input_ids", "answer"}``, an explanation row ``{"prompt", "completion"}`` becomes
    ``{"input_ids", "answer": -1, "completion_len"}``; rows with ``input_ids`` are kept.  Encoded rows have
    known lengths (:func:`length_grouped_order`) and are not re-tokenized at every step."""
    return [r if "input_ids" in r else _encode_row(r, tokenizer) for r in rows]


def merge_prompts(rows: list[dict[str, Any]], explain_rows: list[dict[str, Any]], tokenizer
                  ) -> tuple[list[dict[str, Any]], int]:
    """Training rows with each explanation row folded into the ranking row it continues: an explanation row
    ``{"prompt", "completion", "example": i}`` whose tokens begin with those of the marks row ``rows[i]`` (the
    explanation request follows the ranking conversation) replaces it with ``{"input_ids", "positions",
    "answer", "completion_len"}``: both answers, trained from one pass over the longer prompt, where two rows
    computed the ranking prompt twice (about a fifth of the default run's tokens).  Explanation rows that do
    not continue their row token for token stay separate.  Returns the encoded rows and how many were
    merged."""
    out = encode_rows(rows, tokenizer)
    separate, merged = [], 0
    for row in explain_rows:
        encoded = _encode_row(row, tokenizer)
        i = row.get("example")
        base = out[i] if i is not None else None
        if (base is not None and base.get("positions") and "completion_len" not in base
                and encoded["input_ids"][:len(base["input_ids"])] == list(base["input_ids"])):
            out[i] = {"input_ids": encoded["input_ids"], "positions": list(base["positions"]),
                      "answer": base["answer"], "completion_len": encoded["completion_len"]}
            merged += 1
        else:
            separate.append(encoded)
    return out + separate, merged


def length_grouped_order(lengths: list[int], batch_size: int, seed: int = 0, group: int = 50) -> list[int]:
    """An epoch's order of rows that puts rows of similar length into the same batch, so a batch pads little:
    a seeded permutation is cut into groups of ``group`` batches, each group is sorted by length and cut into
    batches, and then all the batches are shuffled.  Which rows share a batch stays random within a length
    band, and long and short batches alternate at random through the epoch (unlike the transformers
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
    """A collator turning rows into left-padded ids.  A ranking row carries the answer's index:
    ``{"prompt", "answer"}`` (letters: the answer is the next token) or ``{"input_ids", "positions",
    "answer"}`` (marks: the prompt's ids and its K mark positions, shifted here by the row's padding; -1 pads
    a shorter list).  An explanation row ``{"prompt", "completion"}`` is the prompt followed by the
    completion and EOS, with ``answer = -1`` and ``completion_len`` its number of tokens (or, encoded by
    :func:`encode_rows`, ``{"input_ids", "answer": -1, "completion_len"}``).  Prompts are chat-templated
    already, so no special tokens are added."""
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
    """Loss: for letters ranking rows, the cross-entropy of the answer label at the last prompt position
    (only that position's logits are computed), over the K label tokens (``loss="labels"``) or the whole
    vocabulary; for marks ranking rows, the cross-entropy of the answer over the K marks' log-odds against
    ``against`` (the scores the ranker serves; only the K hidden states are projected onto the vocabulary);
    for explanation rows, the token cross-entropy of the completion only.  The batch loss is the mean over
    rows.  ``evaluate`` is the validator's ranking metrics (``eval_ndcg@10`` etc.), which the Trainer uses to
    keep the best checkpoint."""

    def __init__(self, *args, label_ids: list[int], loss: Literal["labels", "vocab"], validator,
                 against: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.against = against  # marks: the token each mark is scored against (the ranker's not_mark_id)
        self.label_ids = torch.tensor(label_ids, dtype=torch.long)
        self.rank_loss, self.validator = loss, validator
        # a mean over the batch: the Trainer divides by the accumulation steps
        self.loss_is_scaled_for_ga = False

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        answer = inputs.pop("answer")
        lengths = inputs.pop("completion_len", torch.zeros_like(answer))
        positions = inputs.pop("positions", None)
        has_marks = ((positions >= 0).any(1) if positions is not None and positions.numel()
                     else torch.zeros_like(answer, dtype=torch.bool))
        marks = (answer >= 0) & has_marks
        rank = (answer >= 0) & ~has_marks
        # an explanation row, or a marks row continued by its explanation (merge_prompts)
        explain = lengths > 0
        losses, out = [], None
        if rank.any():
            out = model(**{k: v[rank] for k, v in inputs.items()}, logits_to_keep=1)
            logits = out.logits[:, -1, :].float()
            labels = self.label_ids.to(logits.device)
            if self.rank_loss == "labels":
                losses.append(F.cross_entropy(logits[:, labels], answer[rank], reduction="sum"))
            else:
                losses.append(F.cross_entropy(logits, labels[answer[rank]], reduction="sum"))
        one = marks | explain  # one pass serves both: only the needed hidden states meet the vocabulary
        if one.any():
            ids = inputs["input_ids"][one]
            out = model(input_ids=ids, attention_mask=inputs["attention_mask"][one],
                        output_hidden_states=True, logits_to_keep=1)
            hidden, head = out.hidden_states[-1], model.get_output_embeddings()
            if marks[one].any():
                m = marks[one]
                losses.append(self._marks_loss(head, hidden[m], ids[m], positions[one][m], answer[one][m]))
            if explain[one].any():
                e = explain[one]
                losses.append(_completion_loss(head, hidden[e], ids[e], lengths[one][e]))
        loss = torch.stack(losses).sum() / len(answer)
        return (loss, out) if return_outputs else loss

    def _marks_loss(self, head, hidden, ids, positions, answer):
        """The summed cross-entropy of each row's answer over its marks' scores (log-odds against
        ``self.against``, as served)."""
        valid = positions >= 0
        rows = torch.arange(len(positions), device=positions.device)[:, None].expand_as(positions)[valid]
        scores = torch.full(positions.shape, float("-inf"), device=hidden.device)
        scores[valid] = hidden_logprobs(head, hidden, ids, rows, positions[valid], self.against)
        return F.cross_entropy(scores, answer, reduction="sum")

    def evaluate(self, eval_dataset=None, ignore_keys=None,
                 metric_key_prefix: str = "eval") -> dict[str, float]:
        metrics = {f"{metric_key_prefix}_{k}": v for k, v in self.validator.evaluate(self.model).items()}
        self.log(metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics


def _completion_loss(head, hidden, ids, lengths):
    """The summed per-row mean token cross-entropy of each row's last ``lengths`` tokens (its completion)."""
    t = int(lengths.max())
    logits = head(hidden[:, -t - 1:-1]).float()  # these positions predict the last t tokens
    targets = ids[:, -t:].clone()
    targets[torch.arange(t, device=ids.device)[None, :] < (t - lengths)[:, None]] = -100  # prompt, not answer
    per_token = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100,
                                reduction="none").view(len(ids), t)
    return (per_token.sum(1) / lengths.clamp(min=1)).sum()
