"""``python -m finetune.lora``: LoRA fine-tuning of the ranking LLM, served afterwards by vLLM as an adapter.

1. builds instruction examples from training interactions only (:mod:`finetune.data`): the ranking prompt
   for an earlier history, K candidates (by default the retriever's, in its order, as served), the target's
   position as the answer; and (``--explain-examples``)
   explanation targets: the explanation request after such a prompt, answered with JSON built from catalog
   facts (the shown history items sharing the target's genres, those genres), so the one adapter ranks and
   explains;
2. trains a peft LoRA with the transformers ``Trainer`` (progress bar, checkpoints, ``--resume``, seed,
   gradient accumulation).  The loss is the cross-entropy of the answer at the answer position only — by
   default over the K label tokens, the same softmax the ranker scores with (``--loss vocab``: over the
   whole vocabulary).  Only the last position's logits are computed;
3. evaluates the ranker every ``--eval-steps`` on validation users (their validation item, the retriever's
   candidates in the retriever's order, as served) and keeps the checkpoint with the best validation
   NDCG@10; the zero-shot model is evaluated first for comparison;
4. writes a standard peft adapter directory atomically with a manifest (base model fingerprint, prompt
   version, K) and a card (``README.md``, ``card.json``: base model, data, config, validation metrics,
   examples/s, wall time).

``--quantize 4bit`` loads the base model in 4 bit with bitsandbytes (QLoRA) and needs CUDA.  ``--smoke`` is
a tiny configuration that runs end to end in about a minute (used by the tests).

    python -m finetune.lora --retriever auto --output runs/lora
    python -m eval --recommender llm --retriever auto --adapter runs/lora
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from finetune.data import ExampleConfig, Negatives, build_examples, build_explanation_examples
from finetune.validate import FrozenTrunkCache, RankValidator, cpu_has_bf16
from llmrec.artifacts import atomic_directory, atomic_write_text, write_manifest
from llmrec.configargs import add_config_arguments, arg, config_from_args
from llmrec.data import load_dataset
from llmrec.errors import ConfigError
from llmrec.llm.adapters import ADAPTER_KIND, model_fingerprint
from llmrec.models import resolve_llm
from llmrec.split import leave_last_out
from llmrec.tables import format_table

__all__ = ["LoraTrainConfig", "main", "train_lora"]

log = logging.getLogger(__name__)

_ALL_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclass(frozen=True, kw_only=True)
class LoraTrainConfig:
    output: str = arg(help="directory to write the adapter to")
    data: str | None = arg(None, help="MovieLens-100K directory (default: $LLMREC_DATA or ../shared/data/ml-100k)")
    retriever: str = arg("auto", help="trained retriever directory for the candidates; 'auto': the cached default "
                                      "one; 'untrained': the text-only retriever")
    model: str | None = arg(None, help="base LLM (hub id or path; default: the bundled SmolLM2-135M-Instruct)")
    name: str | None = arg(None, help="the adapter's served name (default: the output directory's name)")
    # LoRA
    r: int = arg(16, help="LoRA rank")
    alpha: int = arg(32, help="LoRA alpha")
    dropout: float = arg(0.0, help="LoRA dropout (on CPU its random masks cost ~15%% of a step; one epoch over "
                                   "examples seen once hardly needs it)")
    target_modules: list[str] = arg(default_factory=lambda: list(_ALL_MODULES),
                                    help="modules that get LoRA weights (keep lm_head out: vLLM drops it)")
    layers: int = arg(8, help="LoRA on the last N decoder layers only (0: all); backpropagation stops there, "
                               "which makes a step ~2x cheaper on CPU")
    # data
    per_user: int = arg(10, help="training targets per user (the most recent of the fit history); retriever "
                                  "examples are kept only when the retriever proposes the target")
    negatives: Negatives = arg("retriever", help="candidates of an example: the retriever's top K (when it holds "
                                                 "the target; what the ranker is served), random items, or half "
                                                 "of each")
    retriever_order: bool = arg(True, help="retriever examples keep the retriever's candidate order (as served); "
                                           "--no-retriever-order shuffles them")
    max_examples: int | None = arg(1600, help="cap on training examples (a seeded sample); the default keeps "
                                              "training within ~40 min on 2 CPU cores")
    candidates: int = arg(20, help="K candidates per prompt (as the ranker)")
    scoring: Literal["letters", "marks"] = arg("marks", help="the ranker's one-pass read-out the adapter is trained "
                                                             "for: each candidate's mark (a softmax over the K "
                                                             "marks) or the answer letter")
    details: Literal["titles", "full"] = arg("titles", help="item facts in the ranking prompt the adapter is "
                                                           "trained for (recorded in its manifest; the ranker "
                                                           "serving it uses the same): titles, or title, year, "
                                                           "genres and rating (~3x the tokens, ~3x the time)")
    explain_examples: int = arg(600, help="explanation targets trained alongside the ranking answers (the "
                                          "explanation request after an example's ranking prompt, answered from "
                                          "catalog facts: shared genres, cited history items); 0: none")
    shared_prompts: bool = arg(True, help="an explanation example continues its ranking example's prompt: train "
                                          "both answers from one row, one pass over that prompt (--no-shared-"
                                          "prompts: two rows)")
    # training
    epochs: float = arg(1.0, help="passes over the examples")
    max_steps: int = arg(-1, help="stop after this many optimizer steps (-1: epochs decide)")
    batch_size: int = arg(8, help="examples per step")
    length_batches: bool = arg(True, help="batch examples of similar length together (less padding; ranking and "
                                          "explanation rows differ by ~2x), batches in random order; with "
                                          "--epochs > 1 every epoch repeats that order")
    grad_accum: int = arg(1, help="gradient accumulation steps")
    lr: float = arg(5e-4, help="peak learning rate (linear decay, warm-up ratio 0.05)")
    loss: Literal["labels", "vocab"] = arg("labels", help="letters scoring: softmax over the K label tokens or the "
                                                         "whole vocabulary")
    eval_steps: int = arg(50, help="validation and checkpoint interval in optimizer steps")
    val_users: int = arg(200, help="validation users scored at each evaluation (a seeded sample)")
    trunk_cache: bool = arg(True, help="with --layers N: keep the validation prompts' hidden states below the "
                                       "trained layers (frozen, so they never change) and run only the trained "
                                       "layers at later evaluations")
    precision: Literal["auto", "fp32", "bf16"] = arg("auto", help="auto: bf16 autocast on CUDA or a CPU with bf16 "
                                                                  "units, fp32 elsewhere")
    quantize: Literal["none", "4bit"] = arg("none", help="4bit: bitsandbytes QLoRA (needs CUDA)")
    seed: int = arg(0, help="random seed")
    resume: bool = arg(False, help="resume from the last checkpoint in <output>.checkpoints")
    smoke: bool = arg(False, help="a tiny configuration that trains end to end in about a minute (tests)")
    progress: bool = arg(True, help="show progress bars")

    def resolved(self) -> LoraTrainConfig:
        """The configuration actually trained (``--smoke`` overrides the sizes)."""
        if not self.smoke:
            return self
        return dataclasses.replace(self, r=4, alpha=8, layers=2, per_user=1, max_examples=24, max_steps=6,
                                   explain_examples=4,
                                   batch_size=4, eval_steps=3, val_users=12, candidates=min(self.candidates, 8))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m finetune.lora", description=__doc__.split("\n")[0])
    add_config_arguments(parser, LoraTrainConfig)
    cfg = config_from_args(LoraTrainConfig, parser.parse_args(argv))
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    card = train_lora(cfg)
    print(format_table([[k, v] for k, v in card["validation"].items()], ["validation (chosen checkpoint)", "value"]))
    print(f"wrote {cfg.output}: {card['training']['examples']} examples, {card['training']['seconds']:.0f} s "
          f"({card['training']['examples_per_second']:.2f} examples/s)")
    return 0


def _precision(cfg: LoraTrainConfig) -> bool:
    """Whether to train in bf16 autocast."""
    import torch

    if cfg.precision == "bf16":
        return True
    if cfg.precision == "fp32":
        return False
    return torch.cuda.is_available() or cpu_has_bf16()


def _base_model(cfg: LoraTrainConfig, model_path: str):
    import torch
    from transformers import AutoModelForCausalLM

    if cfg.quantize == "4bit":
        if not torch.cuda.is_available():
            raise ConfigError("--quantize 4bit (bitsandbytes QLoRA) needs a CUDA GPU and this machine has none; "
                              "train without --quantize (the LoRA is then trained on the full-precision model)")
        from peft import prepare_model_for_kbit_training
        from transformers import BitsAndBytesConfig

        bnb = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                 bnb_4bit_compute_dtype=torch.bfloat16)
        model = AutoModelForCausalLM.from_pretrained(model_path, quantization_config=bnb, device_map="auto")
        return prepare_model_for_kbit_training(model)
    return AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32)


def _lora_model(cfg: LoraTrainConfig, model):
    from peft import LoraConfig, get_peft_model

    n_layers = model.config.num_hidden_layers
    if not 0 <= cfg.layers <= n_layers:
        raise ConfigError(f"--layers must be between 0 and {n_layers} (the model's layers), got {cfg.layers}")
    if "lm_head" in cfg.target_modules:
        raise ConfigError("--target-modules must not include lm_head: vLLM drops a LoRA delta on it")
    layers = list(range(n_layers - cfg.layers, n_layers)) if cfg.layers else None
    lora = LoraConfig(r=cfg.r, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout, target_modules=cfg.target_modules,
                      layers_to_transform=layers, task_type="CAUSAL_LM", bias="none")
    return get_peft_model(model, lora)


def train_lora(cfg: LoraTrainConfig) -> dict:
    """Train, choose the checkpoint by validation NDCG@10 and write the adapter to ``cfg.output``; returns
    the card."""
    import torch
    import transformers
    from transformers import TrainingArguments, set_seed
    from transformers.trainer_utils import get_last_checkpoint

    from finetune.trainer import (
        RankTrainer,
        collate_examples,
        encode_rows,
        length_grouped_order,
        merge_prompts,
    )
    from llmrec.llm.backends import TransformersBackend
    from llmrec.llm.ranker import LLMRanker, LLMRankerConfig
    from retrieval.train import resolve_retriever

    requested, cfg = cfg, cfg.resolved()
    set_seed(cfg.seed)
    t0 = time.perf_counter()
    dataset = load_dataset(cfg.data)
    val = leave_last_out(dataset, "validation")
    model_path = resolve_llm(cfg.model)
    bf16 = _precision(cfg)
    model = _lora_model(cfg, _base_model(cfg, model_path))
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    scorer = model  # what validation scores with
    if cfg.trunk_cache and cfg.layers:
        scorer = FrozenTrunkCache(model, model.config.num_hidden_layers - cfg.layers)
    backend = TransformersBackend.from_model(scorer, tokenizer, batch_size=16)
    retriever = resolve_retriever(cfg.retriever, dataset, progress=cfg.progress)
    ranker = LLMRanker(LLMRankerConfig(retriever=retriever, model=cfg.model, candidates=cfg.candidates,
                                       scoring=cfg.scoring, details=cfg.details),
                       backend=backend).fit(val.train)

    t = time.perf_counter()
    examples = build_examples(ranker, val, ExampleConfig(per_user=cfg.per_user, negatives=cfg.negatives,
                                                         retriever_order=cfg.retriever_order,
                                                         max_examples=cfg.max_examples, seed=cfg.seed),
                              progress=cfg.progress)
    explain_rows = build_explanation_examples(ranker, val, examples, cfg.explain_examples, seed=cfg.seed)
    build_seconds = time.perf_counter() - t
    if not examples:
        raise ConfigError(f"no training examples: no user has more than {ExampleConfig.min_history} fit "
                          "interactions")
    validator = RankValidator(ranker, val, users=cfg.val_users, seed=cfg.seed, progress=cfg.progress)
    log.info("%d ranking and %d explanation training examples (%.0f s), %d validation users, bf16=%s",
             len(examples), len(explain_rows), build_seconds, len(validator.jobs), bf16)

    checkpoints = Path(f"{cfg.output}.checkpoints")
    args = TrainingArguments(
        output_dir=str(checkpoints), per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum, learning_rate=cfg.lr, num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps, lr_scheduler_type="linear", warmup_steps=0.05, weight_decay=0.0,
        eval_strategy="steps", eval_steps=cfg.eval_steps, save_strategy="steps", save_steps=cfg.eval_steps,
        save_total_limit=2, load_best_model_at_end=True, metric_for_best_model="ndcg@10",
        greater_is_better=True, eval_on_start=True, logging_steps=max(1, min(10, cfg.eval_steps)),
        bf16=bf16, use_cpu=not torch.cuda.is_available(), seed=cfg.seed, data_seed=cfg.seed,
        remove_unused_columns=False, report_to=[], disable_tqdm=not cfg.progress, dataloader_num_workers=0,
        train_sampling_strategy="sequential" if cfg.length_batches else "random")
    if cfg.shared_prompts:
        rows, merged = merge_prompts([e.row() for e in examples], explain_rows, tokenizer)
    else:
        rows, merged = encode_rows([e.row() for e in examples] + explain_rows, tokenizer), 0
    log.info("%d training rows (%d explanation examples share their ranking example's row)", len(rows), merged)
    if cfg.length_batches:
        rows = [rows[i] for i in length_grouped_order([len(r["input_ids"]) for r in rows], cfg.batch_size, cfg.seed)]
    trainer = RankTrainer(model=model, args=args, train_dataset=rows,
                          eval_dataset=validator.jobs, data_collator=collate_examples(tokenizer),
                          label_ids=ranker.label_ids[:cfg.candidates], loss=cfg.loss, validator=validator,
                          against=ranker.not_mark_id)
    resume = get_last_checkpoint(str(checkpoints)) if cfg.resume and checkpoints.is_dir() else None
    if cfg.resume and resume is None:
        log.warning("--resume: no checkpoint in %s, training from the start", checkpoints)
    t = time.perf_counter()
    train_out = trainer.train(resume_from_checkpoint=resume)
    train_seconds = time.perf_counter() - t

    history = [row for row in trainer.state.log_history if "eval_ndcg@10" in row]
    zero_shot = next((r for r in history if r.get("step") == 0), {})
    best = trainer.state.best_model_checkpoint
    steps = trainer.state.global_step
    best_step = int(best.rsplit("-", 1)[1]) if best else steps
    chosen = next((r for r in history if r.get("step") == best_step), history[-1] if history else {})
    chosen = {k.removeprefix("eval_"): v for k, v in chosen.items() if k.startswith("eval_")}
    n_examples = len(examples) + len(explain_rows)  # answers trained; a shared row carries two
    rows_per_second = steps * cfg.batch_size * cfg.grad_accum / max(1e-9, train_seconds - validator.seconds)
    card = {
        "name": cfg.name or Path(cfg.output).name,
        "base_model": cfg.model or "smollm2-135m-instruct",
        "base_model_path": model_path,
        "base_fingerprint": model_fingerprint(model_path),
        "prompt_version": ranker.prompt.version,
        "scoring": cfg.scoring,
        "details": cfg.details,
        "candidates": cfg.candidates,
        "data": {"dataset": dataset.name, "fingerprint": dataset.interactions.fingerprint(),
                 "fit": "validation split's fit data (no validation or test item)", "examples": len(examples),
                 "sources": {s: sum(e.source == s for e in examples) for s in ("retriever", "random")},
                 "explanation_examples": len(explain_rows), "shared_prompt_rows": merged,
                 "retriever": retriever},
        "config": dataclasses.asdict(requested) | {"resolved": dataclasses.asdict(cfg)},
        "validation": {"users": len(validator.jobs), "step": best_step, **chosen},
        "validation_zero_shot": {k.removeprefix("eval_"): v for k, v in zero_shot.items()
                                 if k.startswith("eval_")},
        "validation_retriever_order": validator.retriever_metrics,
        "validation_history": [{"step": r.get("step"), "ndcg@10": r["eval_ndcg@10"]} for r in history],
        "best_checkpoint": best,
        "beats_zero_shot": bool(chosen.get("ndcg@10", 0.0) > zero_shot.get("eval_ndcg@10", 0.0)),
        "training": {"examples": n_examples, "steps": steps, "epochs": round(float(trainer.state.epoch or 0), 3),
                     "seconds": round(train_seconds, 1), "example_build_seconds": round(build_seconds, 1),
                     "validation_seconds": round(validator.seconds, 1),
                     "validation_trunk_cache": getattr(scorer, "checked", None),
                     "rows": len(rows), "rows_per_second": round(rows_per_second, 3),
                     "examples_per_second": round(rows_per_second * n_examples / max(1, len(rows)), 3),
                     "train_loss": round(float(train_out.training_loss), 4), "bf16": bf16,
                     "total_seconds": round(time.perf_counter() - t0, 1)},
        "versions": {"transformers": transformers.__version__, "torch": torch.__version__,
                     "peft": __import__("peft").__version__},
    }
    with atomic_directory(cfg.output) as tmp:
        model.save_pretrained(tmp)
        atomic_write_text(tmp / "card.json", json.dumps(card, indent=2, default=str))
        atomic_write_text(tmp / "README.md", _card_markdown(card))
        write_manifest(tmp, ADAPTER_KIND, name=card["name"], base_model=card["base_model"],
                       base_fingerprint=card["base_fingerprint"], prompt_version=card["prompt_version"],
                       scoring=cfg.scoring, details=cfg.details,
                       candidates=cfg.candidates, rank=cfg.r, validation=card["validation"])
    print(f"validation ndcg@10: zero-shot {card['validation_zero_shot'].get('ndcg@10', float('nan')):.4f}, "
          f"chosen checkpoint {chosen['ndcg@10']:.4f}", file=sys.stderr)
    return card


def _card_markdown(card: dict) -> str:
    v, z, t = card["validation"], card["validation_zero_shot"], card["training"]
    r = card["validation_retriever_order"]
    rows = "\n".join(f"| {k} | {r.get(k, float('nan')):.4f} | {z.get(k, float('nan')):.4f} | {v[k]:.4f} |"
                     for k in ("ndcg@5", "ndcg@10", "hr@1", "mrr") if k in v)
    return f"""---
base_model: {card['base_model']}
library_name: peft
tags: [llmrec, lora, recommendation]
---
# {card['name']}: LoRA adapter for the llmrec ranker

- Base model: `{card['base_model']}` (fingerprint `{card['base_fingerprint']}`), prompt `{card['prompt_version']}`,
  K = {card['candidates']} candidates.
- Data: {card['data']['dataset']} ({card['data']['fingerprint']}), {card['data']['fit']};
  {card['data']['examples']} examples ({card['data']['sources']}).
- Training: {t['steps']} steps over {t['rows']} rows, {t['seconds']:.0f} s, {t['examples_per_second']:.2f} examples/s,
  bf16={t['bf16']}.
- Checkpoint chosen by validation NDCG@10 ({v['users']} users): `{card['best_checkpoint']}`.

| validation | retriever order | zero-shot LLM | this adapter |
| --- | --- | --- | --- |
{rows}

Serve with `llmrec recommend --adapter DIR`, `python -m eval --recommender llm --adapter DIR`, or
`llmrec serve-llm --lora {card['name']}=DIR`.
"""


if __name__ == "__main__":
    raise SystemExit(main())
