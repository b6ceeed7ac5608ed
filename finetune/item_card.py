"""The item-token model's card (what it was trained on, how, its validation curve) and how the merged model
is written: weights, tokenizer with the item tokens, ``card.json``, ``README.md`` and the manifest, atomically
(:mod:`finetune.items` trains it)."""

from __future__ import annotations

import json
from pathlib import Path

from finetune.item_config import ItemTrainConfig
from llmrec.artifacts import atomic_directory, atomic_write_text, write_manifest
from llmrec.configargs import config_values
from llmrec.history import histories
from llmrec.llm.adapters import model_fingerprint
from llmrec.llm.items import ITEM_MODEL_KIND, ItemVocabulary
from llmrec.split import HoldoutSplit

__all__ = ["item_card", "save_item_model"]


def item_card(requested: ItemTrainConfig, cfg: ItemTrainConfig, base_path: str, split: HoldoutSplit,
              vocab: ItemVocabulary, init: dict, trainer, train_loss: float, seconds: float, targets: int,
              rows: int, bf16: bool, total_seconds: float, *, validation_users: int = 0,
              validation_seconds: float = 0.0) -> dict:
    """What the model was trained on and how: data, config, validation curve and chosen step, timings."""
    import peft
    import torch
    import transformers

    from finetune.validate import chosen_checkpoint

    state = trainer.state
    history, zero_shot, step, chosen = chosen_checkpoint(state, "ndcg@10")
    losses = [{"step": r["step"], "loss": r["loss"]} for r in state.log_history if "loss" in r]
    train_seconds = seconds - validation_seconds
    return {
        "name": cfg.save.name or Path(cfg.save.output).name,
        "task": "items",
        "base_model": cfg.adapter.model or "smollm2-135m-instruct",
        "base_model_path": base_path,
        "base_fingerprint": model_fingerprint(base_path),
        "data": {"split": split.name, "protocol": cfg.items.protocol,
                 "fit_fingerprint": split.train.interactions.fingerprint(),
                 "interactions": len(split.train.interactions),
                 "users": len(histories(split.train.interactions)), "form": cfg.items.form,
                 "window": cfg.items.window, **init},
        "config": config_values(requested) | {"resolved": config_values(cfg)},
        "validation": {"users": validation_users, "step": step, **chosen},
        "validation_zero_shot": zero_shot,
        "validation_history": [{"step": r.get("step"), "ndcg@10": r["eval_ndcg@10"],
                                "recall@20": r.get("eval_recall@20")} for r in history],
        "loss_history": losses,
        "training": {"rows": rows, "targets": targets, "steps": state.global_step,
                     "epochs": round(float(state.epoch or 0), 3), "seconds": round(seconds, 1),
                     "validation_seconds": round(validation_seconds, 1),
                     "targets_per_second": targets * float(state.epoch or 0) / max(train_seconds, 1e-9),
                     "seconds_per_step": round(train_seconds / max(1, state.global_step), 3),
                     "train_loss": round(train_loss, 4), "bf16": bf16,
                     "batch_size": cfg.training.batch_size, "total_seconds": round(total_seconds, 1)},
        "versions": {"transformers": transformers.__version__, "torch": torch.__version__,
                     "peft": peft.__version__},
    }


def save_item_model(model, tokenizer, vocab: ItemVocabulary, card: dict, output: str) -> Path:
    """Merge the LoRA and the item rows into the base weights and write the model, its tokenizer (with the
    item tokens), ``card.json``, ``README.md`` and the manifest, atomically."""
    merged = model.merge_and_unload()
    with atomic_directory(output) as tmp:
        merged.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        atomic_write_text(tmp / "card.json", json.dumps(card, indent=2, default=str))
        atomic_write_text(tmp / "README.md", _card_markdown(card))
        write_manifest(tmp, ITEM_MODEL_KIND, name=card["name"], base_model=card["base_model"],
                       base_fingerprint=card["base_fingerprint"], trained_on=card["data"]["fit_fingerprint"],
                       split=card["data"]["split"], trained_interactions=card["data"]["interactions"],
                       validation=card["validation"], **vocab.manifest_fields())
    return Path(output)


def _card_markdown(card: dict) -> str:
    v, z, t, d = card["validation"], card["validation_zero_shot"], card["training"], card["data"]
    curve = "\n".join(f"| {r['step']} | {r['ndcg@10']:.4f} | {r['recall@20']:.4f} |"
                      for r in card["validation_history"])
    if d["split"] == "validation":
        chosen = f"""Checkpoint chosen by validation NDCG@10 over the whole
catalog ({v['users']} users): step {v['step']}, NDCG@10 {v.get('ndcg@10', float('nan')):.4f} (before
training {z.get('ndcg@10', float('nan')):.4f}).

| step | validation NDCG@10 | recall@20 |
| --- | --- | --- |
{curve}
"""
    else:
        chosen = f"""A refit for the test split (validation items are targets too): no validation
split is left, the last step ({v['step']}) is kept.  Never evaluate it on the validation split (genllm refuses
fit data smaller than its training data).
"""
    return f"""---
base_model: {card['base_model']}
tags: [llmrec, item-tokens, generative-recommendation]
---
# {card['name']}: an item-token model for llmrec

`{card['base_model']}` with one token per catalog item ({d['form']} form, rows initialised from
{d['init']}), trained as a sequential recommender on the {d['split']} split's fit
sequences{_protocol(d)} of {d['users']} users ({t['targets']} next-item targets, {t['epochs']} epochs,
{t['seconds']:.0f} s, bf16={t['bf16']}); the LoRA and the item rows are merged into the weights.  {chosen}
Serve with `python -m eval --recommender genllm --param model=DIR` (or `llmrec recommend --recommender genllm
--param model=DIR`).
"""


def _protocol(data: dict) -> str:
    protocol = data.get("protocol", "holdout")
    return "" if protocol == "holdout" else f" (the {protocol} protocol's pretraining data)"
