"""The LoRA adapter's card (base model, data, configuration, validation curve and chosen checkpoint, training
speed) and how the adapter directory is written: peft weights, ``card.json``, ``README.md`` and the manifest,
atomically (:mod:`finetune.lora` trains it)."""

from __future__ import annotations

import json
from pathlib import Path

from finetune.config import LoraTrainConfig
from finetune.lora_run import TrainingData, TrainingRun, WrappedModel
from finetune.validate import chosen_checkpoint
from llmrec.artifacts import atomic_directory, atomic_write_text, write_manifest
from llmrec.configargs import config_values
from llmrec.llm.adapters import ADAPTER_KIND, model_fingerprint

__all__ = ["adapter_card", "save_adapter"]


def save_adapter(model, card: dict, cfg: LoraTrainConfig) -> Path:
    """Write the peft adapter, ``card.json``, ``README.md`` and the manifest to ``cfg.save.output``,
    atomically."""
    with atomic_directory(cfg.save.output) as tmp:
        model.save_pretrained(tmp)
        atomic_write_text(tmp / "card.json", json.dumps(card, indent=2, default=str))
        atomic_write_text(tmp / "README.md", _card_markdown(card))
        write_manifest(tmp, ADAPTER_KIND, name=card["name"], base_model=card["base_model"],
                       base_fingerprint=card["base_fingerprint"], prompt_version=card["prompt_version"],
                       scoring=cfg.adapter.scoring, details=cfg.examples.details,
                       candidates=cfg.examples.candidates, rank=cfg.adapter.r, validation=card["validation"])
    return Path(cfg.save.output)


def adapter_card(requested: LoraTrainConfig, cfg: LoraTrainConfig, wrapped: WrappedModel, data: TrainingData,
                 run: TrainingRun, *, total_seconds: float) -> dict:
    """The adapter's card: base model, data, configuration (as given and as trained), validation, training."""
    import peft
    import torch
    import transformers

    history, zero_shot, best_step, chosen = chosen_checkpoint(run.trainer.state, "ndcg@10")
    examples = data.examples
    return {
        "name": cfg.save.name or Path(cfg.save.output).name,
        "base_model": cfg.adapter.model or "smollm2-135m-instruct",
        "base_model_path": wrapped.path,
        "base_fingerprint": model_fingerprint(wrapped.path),
        "prompt_version": data.ranker.prompt.version,
        "scoring": cfg.adapter.scoring,
        "details": cfg.examples.details,
        "candidates": cfg.examples.candidates,
        "data": {"dataset": data.dataset.name, "fingerprint": data.dataset.interactions.fingerprint(),
                 "fit": "validation split's fit data (no validation or test item)", "examples": len(examples),
                 "sources": {s: sum(e.source == s for e in examples) for s in ("retriever", "random")},
                 "explanation_examples": len(data.explain_rows),
                 "shared_prompt_rows": data.shared_prompt_rows, "retriever": data.retriever},
        "config": config_values(requested) | {"resolved": config_values(cfg)},
        "validation": {"users": len(data.validator.requests), "step": best_step, **chosen},
        "validation_zero_shot": zero_shot,
        "validation_retriever_order": data.validator.retriever_metrics,
        "validation_history": [{"step": r.get("step"), "ndcg@10": r["eval_ndcg@10"]} for r in history],
        "best_checkpoint": run.trainer.state.best_model_checkpoint,
        "beats_zero_shot": bool(chosen.get("ndcg@10", 0.0) > zero_shot.get("ndcg@10", 0.0)),
        "training": _training_summary(cfg, wrapped, data, run, total_seconds),
        "versions": {"transformers": transformers.__version__, "torch": torch.__version__,
                     "peft": peft.__version__},
    }


def _training_summary(cfg: LoraTrainConfig, wrapped: WrappedModel, data: TrainingData, run: TrainingRun,
                      total_seconds: float) -> dict:
    state, t = run.trainer.state, cfg.training
    n_examples = len(data.examples) + len(data.explain_rows)  # answers trained; a shared row carries two
    rows_per_second = state.global_step * t.batch_size * t.grad_accum / max(1e-9, run.seconds
                                                                              - data.validator.seconds)
    return {"examples": n_examples, "steps": state.global_step, "epochs": round(float(state.epoch or 0), 3),
            "seconds": round(run.seconds, 1), "example_build_seconds": round(data.build_seconds, 1),
            "validation_seconds": round(data.validator.seconds, 1),
            "validation_trunk_cache": getattr(data.scorer, "checked", None),
            "rows": len(data.rows), "rows_per_second": round(rows_per_second, 3),
            "examples_per_second": round(rows_per_second * n_examples / max(1, len(data.rows)), 3),
            "train_loss": round(run.train_loss, 4), "bf16": wrapped.bf16,
            "total_seconds": round(total_seconds, 1)}


def _card_markdown(card: dict) -> str:
    v, z, t = card["validation"], card["validation_zero_shot"], card["training"]
    r, prompt, speed = card["validation_retriever_order"], card["prompt_version"], t["examples_per_second"]
    rows = "\n".join(f"| {k} | {r.get(k, float('nan')):.4f} | {z.get(k, float('nan')):.4f} | {v[k]:.4f} |"
                     for k in ("ndcg@5", "ndcg@10", "hr@1", "mrr") if k in v)
    return f"""---
base_model: {card['base_model']}
library_name: peft
tags: [llmrec, lora, recommendation]
---
# {card['name']}: LoRA adapter for the llmrec ranker

- Base model: `{card['base_model']}` (fingerprint `{card['base_fingerprint']}`), prompt `{prompt}`,
  K = {card['candidates']} candidates.
- Data: {card['data']['dataset']} ({card['data']['fingerprint']}), {card['data']['fit']};
  {card['data']['examples']} examples ({card['data']['sources']}).
- Training: {t['steps']} steps over {t['rows']} rows, {t['seconds']:.0f} s, {speed:.2f} examples/s,
  bf16={t['bf16']}.
- Checkpoint chosen by validation NDCG@10 ({v['users']} users): `{card['best_checkpoint']}`.

| validation | retriever order | zero-shot LLM | this adapter |
| --- | --- | --- | --- |
{rows}

Serve with `llmrec recommend --adapter DIR`, `python -m eval --recommender llm --adapter DIR`, or
`llmrec serve-llm --lora {card['name']}=DIR`.
"""
