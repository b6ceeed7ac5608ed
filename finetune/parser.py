"""``python -m finetune.parser``: the LoRA *parser* adapter — the LLM that reads the loose clauses of a
conversational request (:class:`~llmrec.converse.reader.IntentReader`), served beside the ranking adapter by
the same engine and chosen per call.

1. rows from the constraint benchmark's **train templates only** and hand-written paraphrases
   (:mod:`finetune.parser_data`): each loose clause the deterministic parser leaves, labelled with the intent
   letter that makes the parse correct ("A" when no intent is needed);
2. the prompt is exactly the reader's (``prompts/parse_intent.jinja`` through the chat template,
   :meth:`IntentReader.prompt_text`), the answer its letter; the loss is the cross-entropy of the letter at
   the answer position over the nine letters, the softmax the reader scores with (the ranking adapter's
   trainer, :class:`~finetune.trainer.RankTrainer`);
3. every ``--eval-steps`` (and before the first) the letter accuracy on clauses of held-out train templates
   and phrases is measured, as the reader reads them; the best checkpoint is kept;
4. the adapter is written atomically with a manifest (kind ``lora-adapter``, ``task: parser``) and a card
   that records the templates it was trained and validated on.

    python -m finetune.parser --output runs/parser-lora
    python -m eval --conversation --split validation --parser-adapter runs/parser-lora
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from finetune.config import AdapterConfig, SaveConfig, TrainingConfig
from finetune.parser_data import PHRASES, ParserRows, build_rows, row_dict
from llmrec.artifacts import atomic_directory, atomic_write_text, write_manifest
from llmrec.configargs import add_config_arguments, arg, config_from_args, config_values, run_main
from llmrec.errors import ConfigError
from llmrec.llm.adapters import ADAPTER_KIND, model_fingerprint
from llmrec.tables import format_table

__all__ = ["ParserDataConfig", "ParserTrainConfig", "ParserValidator", "main", "train_parser"]

log = logging.getLogger(__name__)

HANDWRITTEN = ("tests/data/requests_handwritten.jsonl", "tests/data/requests_handwritten_blind.jsonl")


@dataclass(frozen=True, kw_only=True)
class ParserDataConfig:
    """Where the rows come from and how they are split."""

    data: str | None = arg(
        None, help="MovieLens-100K directory (default: $LLMREC_DATA or ../shared/data/ml-100k)")
    requests: int = arg(3000, help="requests generated from the benchmark's train templates")
    val_templates: float = arg(0.25, help="share of the train templates held out for validation")
    val_phrases: float = arg(0.2, help="share of the paraphrases held out for validation")
    phrases: str = arg(str(PHRASES), help="the hand-written paraphrases (JSON)")

    def __post_init__(self) -> None:
        for name, ok, rule in (("requests", self.requests >= 100, "must be >= 100"),
                               ("val_templates", 0 < self.val_templates < 1, "must be in (0, 1)"),
                               ("val_phrases", 0 < self.val_phrases < 1, "must be in (0, 1)")):
            if not ok:
                raise ConfigError(f"--{name.replace('_', '-')} {rule}, got {getattr(self, name)!r}")


@dataclass(frozen=True, kw_only=True)
class ParserTrainConfig:
    """Everything ``python -m finetune.parser`` takes (groups flattened into flags, as finetune.lora)."""

    save: SaveConfig = arg(default_factory=lambda: SaveConfig(output="runs/parser-lora"),
                           help="where the adapter is written")
    rows: ParserDataConfig = arg(default_factory=ParserDataConfig, help="training and validation rows")
    adapter: AdapterConfig = arg(default_factory=lambda: AdapterConfig(r=8, alpha=16, scoring="letters"),
                                 help="base model and LoRA")
    training: TrainingConfig = arg(
        default_factory=lambda: TrainingConfig(max_steps=300, batch_size=8, eval_steps=50, lr=5e-4),
        help="optimisation, validation, checkpoints")
    smoke: bool = arg(False, help="a tiny configuration (tests)")
    progress: bool = arg(True, help="show progress bars")

    def resolved(self) -> ParserTrainConfig:
        if not self.smoke:
            return self
        return dataclasses.replace(
            self, rows=dataclasses.replace(self.rows, requests=200),
            adapter=dataclasses.replace(self.adapter, r=4, alpha=8, layers=1),
            training=dataclasses.replace(self.training, max_steps=4, batch_size=4, eval_steps=2))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m finetune.parser", description=__doc__.split("\n")[0])
    add_config_arguments(parser, ParserTrainConfig, skip=("val_users", "trunk_cache", "scoring", "loss"))
    cfg = config_from_args(ParserTrainConfig, parser.parse_args(argv))
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    card = train_parser(cfg)
    print(format_table([[k, v] for k, v in card["validation"].items()],
                       ["validation (chosen checkpoint)", "value"]))
    t = card["training"]
    print(f"wrote {cfg.save.output}: {t['rows']} rows, {t['steps']} steps, {t['seconds']:.0f} s "
          f"(zero-shot validation accuracy {card['validation_zero_shot'].get('accuracy', float('nan')):.4f})")
    return 0


class ParserValidator:
    """Letter accuracy on the validation rows, read as the reader reads them (an intent only when it beats
    "none" by ``margin``)."""

    def __init__(self, rows: list[dict[str, Any]], label_ids: list[int], pad_id: int, *, bf16: bool,
                 batch_size: int = 32, margin: float = 0.0):
        self.rows, self.label_ids, self.pad_id = rows, label_ids, pad_id
        self.bf16, self.batch_size, self.margin = bf16, batch_size, margin
        self.requests = rows  # the Trainer's eval_dataset
        self.seconds = 0.0

    def predictions(self, model) -> list[int]:
        import numpy as np
        import torch

        from llmrec.llm.backends import left_pad

        out: list[int] = []
        order = sorted(range(len(self.rows)), key=lambda i: len(self.rows[i]["input_ids"]))
        scored: dict[int, int] = {}
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            for start in range(0, len(order), self.batch_size):
                batch = order[start:start + self.batch_size]
                ids, mask, _ = left_pad([list(self.rows[i]["input_ids"]) for i in batch], self.pad_id)
                logits = model(input_ids=ids, attention_mask=mask, logits_to_keep=1).logits[:, -1].float()
                lp = torch.log_softmax(logits[:, self.label_ids], -1).numpy()
                for i, row in zip(batch, lp):
                    best = int(np.argmax(row[1:])) + 1
                    scored[i] = best if row[best] - row[0] > self.margin else 0
        out = [scored[i] for i in range(len(self.rows))]
        return out

    def evaluate(self, model) -> dict[str, float]:
        t0, training = time.perf_counter(), model.training
        model.eval()
        try:
            pred = self.predictions(model)
        finally:
            model.train(training)
        gold = [r["answer"] for r in self.rows]
        hits = [p == g for p, g in zip(pred, gold)]
        intents = [h for h, g in zip(hits, gold) if g]
        none = [h for h, g in zip(hits, gold) if not g]
        self.seconds += time.perf_counter() - t0
        return {"accuracy": sum(hits) / max(1, len(hits)),
                "accuracy_intents": sum(intents) / max(1, len(intents)),
                "accuracy_none": sum(none) / max(1, len(none)),
                "false_intents": sum(1 for p, g in zip(pred, gold) if p and not g)}


def train_parser(cfg: ParserTrainConfig) -> dict:
    """Build the rows, train, keep the checkpoint with the best validation letter accuracy, write the adapter
    to ``cfg.save.output``; returns the card."""
    from transformers import set_seed
    from transformers.trainer_utils import get_last_checkpoint

    from finetune.lora import _training_arguments, wrap_model
    from finetune.trainer import RankTrainer, collate_examples, encode_rows, length_grouped_order
    from llmrec.converse.parse import RequestParser
    from llmrec.converse.reader import IntentReader
    from llmrec.data import load_dataset
    from llmrec.models import resolve_llm

    requested, cfg = cfg, cfg.resolved()
    set_seed(cfg.training.seed)
    t0 = time.perf_counter()
    dataset = load_dataset(cfg.rows.data)
    counts = dataset.interactions.frame["item"].value_counts()
    popularity = {int(i): int(c) for i, c in counts.items()}
    parser = RequestParser(dataset.catalog, popularity)
    phrases = json.loads(Path(cfg.rows.phrases).read_text(encoding="utf-8"))
    rows = build_rows(parser, dataset.catalog, popularity, n=cfg.rows.requests, seed=cfg.training.seed,
                      validation_templates=cfg.rows.val_templates, validation_phrases=cfg.rows.val_phrases,
                      phrases=phrases, handwritten=list(HANDWRITTEN))
    build_seconds = time.perf_counter() - t0
    wrapped = wrap_model(cfg, resolve_llm(cfg.adapter.model))
    tok = wrapped.tokenizer
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    reader = IntentReader(SimpleNamespace(tokenizer=tok))

    def encoded(part):
        return encode_rows([{"prompt": reader.prompt_text(r.clause), "answer": r.answer} for r in part], tok)

    fit, val = encoded(rows.fit), encoded(rows.validation)
    order = length_grouped_order([len(r["input_ids"]) for r in fit], cfg.training.batch_size,
                                 cfg.training.seed)
    fit = [fit[i] for i in order]
    validator = ParserValidator(val, reader.label_ids, tok.pad_token_id, bf16=wrapped.bf16)
    log.info("parser rows: fit=%d validation=%d dropped=%s tokens_max=%d", len(fit), len(val), rows.dropped,
             max(len(r["input_ids"]) for r in fit))
    checkpoints = Path(f"{cfg.save.output}.checkpoints")
    trainer = RankTrainer(model=wrapped.model, args=_training_arguments(cfg, checkpoints, wrapped.bf16,
                                                                        metric="accuracy"),
                          train_dataset=fit, eval_dataset=val, data_collator=collate_examples(tok),
                          label_ids=reader.label_ids, loss=cfg.adapter.loss, validator=validator)
    resume = get_last_checkpoint(str(checkpoints)) if cfg.training.resume and checkpoints.is_dir() else None
    t = time.perf_counter()
    out = trainer.train(resume_from_checkpoint=resume)
    seconds = time.perf_counter() - t
    card = _card(requested, cfg, wrapped, rows, reader, trainer, float(out.training_loss), seconds,
                 build_seconds, time.perf_counter() - t0, validator)
    _save(wrapped.model, card, rows)
    log.info("parser adapter written: output=%s accuracy zero_shot=%.4f chosen=%.4f step=%s", cfg.save.output,
             card["validation_zero_shot"].get("accuracy", float("nan")), card["validation"]["accuracy"],
             card["validation"]["step"])
    return card


def _card(requested: ParserTrainConfig, cfg: ParserTrainConfig, wrapped, rows: ParserRows, reader, trainer,
          train_loss: float, seconds: float, build_seconds: float, total_seconds: float, validator) -> dict:
    import peft
    import torch
    import transformers

    from eval.conversation_data import split_templates
    from finetune.validate import chosen_checkpoint
    from llmrec.converse.reader import INTENT_ORDER

    state = trainer.state
    history, zero_shot, step, chosen = chosen_checkpoint(state, "accuracy")
    best = state.best_model_checkpoint
    t = cfg.training
    return {
        "name": cfg.save.name or Path(cfg.save.output).name,
        "task": "parser",
        "base_model": cfg.adapter.model or "smollm2-135m-instruct",
        "base_model_path": wrapped.path,
        "base_fingerprint": model_fingerprint(wrapped.path),
        "prompt_version": reader.prompt.version,
        "letters": {letter: intent for letter, intent in zip("ABCDEFGHI", INTENT_ORDER)},
        "data": {**rows.summary(), "test_templates_excluded": sorted(split_templates(t.seed)[1]),
                 "requests": cfg.rows.requests, "phrases": cfg.rows.phrases,
                 "build_seconds": round(build_seconds, 1)},
        "config": config_values(requested) | {"resolved": config_values(cfg)},
        "validation": {"rows": len(rows.validation), "step": step, **chosen},
        "validation_zero_shot": zero_shot,
        "validation_history": [{"step": r.get("step"), "accuracy": r["eval_accuracy"]} for r in history],
        "best_checkpoint": best,
        "training": {"rows": len(rows.fit), "steps": state.global_step,
                     "epochs": round(float(state.epoch or 0), 3),
                     "seconds": round(seconds, 1), "validation_seconds": round(validator.seconds, 1),
                     "seconds_per_step": round((seconds - validator.seconds) / max(1, state.global_step), 3),
                     "train_loss": round(train_loss, 4), "bf16": wrapped.bf16, "batch_size": t.batch_size,
                     "total_seconds": round(total_seconds, 1)},
        "versions": {"transformers": transformers.__version__, "torch": torch.__version__,
                     "peft": peft.__version__},
    }


def _save(model, card: dict, rows: ParserRows) -> Path:
    """The peft adapter, ``card.json``, ``README.md``, the rows it was trained on and the manifest, written
    atomically."""
    out = card["config"]["resolved"]["output"]
    with atomic_directory(out) as tmp:
        model.save_pretrained(tmp)
        atomic_write_text(tmp / "card.json", json.dumps(card, indent=2, default=str))
        atomic_write_text(tmp / "README.md", _card_markdown(card))
        atomic_write_text(tmp / "rows.jsonl", "".join(
            json.dumps({**row_dict(r), "split": split}, ensure_ascii=False) + "\n"
            for split, part in (("fit", rows.fit), ("validation", rows.validation)) for r in part))
        write_manifest(tmp, ADAPTER_KIND, name=card["name"], task="parser", base_model=card["base_model"],
                       base_fingerprint=card["base_fingerprint"], prompt_version=card["prompt_version"],
                       scoring="letters", rank=card["config"]["resolved"]["r"], validation=card["validation"])
    return Path(out)


def _card_markdown(card: dict) -> str:
    v, z, t, d = card["validation"], card["validation_zero_shot"], card["training"], card["data"]
    rows = "\n".join(f"| {k} | {z.get(k, float('nan')):.4f} | {v[k]:.4f} |"
                     for k in ("accuracy", "accuracy_intents", "accuracy_none") if k in v)
    return f"""---
base_model: {card['base_model']}
library_name: peft
tags: [llmrec, lora, parser]
---
# {card['name']}: LoRA parser adapter for llmrec conversations

Reads a loose clause of a request as one intent letter (prompt `{card['prompt_version']}`): {card['letters']}.

- Base model: `{card['base_model']}` (fingerprint `{card['base_fingerprint']}`).
- Data: {d['fit']['rows']} fit rows, {d['validation']['rows']} validation rows, from the benchmark's train
  templates ({', '.join(d['train_templates'])}; validation: {', '.join(d['validation_templates'])}) and
  the phrases in `{Path(d['phrases']).name}`; nothing from the test templates
  ({len(d['test_templates_excluded'])} excluded) or the hand-written request sets.
- Training: {t['steps']} steps of {t['batch_size']}, {t['seconds']:.0f} s
  ({t['seconds_per_step']:.2f} s/step), bf16={t['bf16']}; checkpoint chosen by validation letter accuracy:
  step {v['step']}.

| validation | zero-shot | this adapter |
| --- | --- | --- |
{rows}

Serve with `llmrec chat --parser-adapter DIR` or `python -m eval --conversation --parser-adapter DIR`.
"""


if __name__ == "__main__":
    raise SystemExit(run_main(main, prog="python -m finetune.parser"))
