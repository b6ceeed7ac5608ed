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

:func:`train_lora` reads as config -> wrap -> train -> save: :class:`~finetune.config.LoraTrainConfig` (its
groups flattened into the flags), :func:`wrap_model`, :func:`build_data`, :func:`train`, then
:func:`~finetune.lora_card.adapter_card` and :func:`~finetune.lora_card.save_adapter`.  The library logs
(``key=value``); only :func:`main` prints.

    python -m finetune.lora --retriever auto --output runs/lora
    python -m eval --recommender llm --retriever auto --adapter runs/lora
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from finetune.config import AdapterConfig, LoraTrainConfig
from finetune.data import Example, ExampleConfig, build_examples, build_explanation_examples
from finetune.lora_card import adapter_card, save_adapter
from finetune.lora_run import TrainingData, TrainingRun, WrappedModel
from finetune.validate import FrozenTrunkCache, RankValidator, cpu_has_bf16
from llmrec.configargs import add_config_arguments, config_from_args, run_main
from llmrec.data import Dataset, load_dataset
from llmrec.errors import ConfigError
from llmrec.models import resolve_llm
from llmrec.split import leave_last_out
from llmrec.tables import format_table

__all__ = ["LoraTrainConfig", "TrainingData", "TrainingRun", "WrappedModel", "add_lora", "build_data",
           "load_base_model", "main", "save_adapter", "train", "train_lora", "use_bf16", "wrap_model"]

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m finetune.lora", description=__doc__.split("\n")[0])
    add_config_arguments(parser, LoraTrainConfig)
    cfg = config_from_args(LoraTrainConfig, parser.parse_args(argv))
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    card = train_lora(cfg)
    print(format_table([[k, v] for k, v in card["validation"].items()],
                       ["validation (chosen checkpoint)", "value"]))
    training = card["training"]
    print(f"wrote {cfg.save.output}: {training['examples']} examples, {training['seconds']:.0f} s "
          f"({training['examples_per_second']:.2f} examples/s)")
    return 0


def train_lora(cfg: LoraTrainConfig) -> dict:
    """Train, choose the checkpoint by validation NDCG@10 and write the adapter to ``cfg.save.output``;
    returns the card."""
    from transformers import set_seed

    requested, cfg = cfg, cfg.resolved()
    set_seed(cfg.training.seed)
    t0 = time.perf_counter()
    dataset = load_dataset(cfg.examples.data)
    wrapped = wrap_model(cfg, resolve_llm(cfg.adapter.model))
    data = build_data(cfg, dataset, wrapped)
    run = train(cfg, wrapped, data)
    card = adapter_card(requested, cfg, wrapped, data, run, total_seconds=time.perf_counter() - t0)
    save_adapter(wrapped.model, card, cfg)
    log.info("validation ndcg@10: zero_shot=%.4f chosen=%.4f step=%s",
             card["validation_zero_shot"].get("ndcg@10", float("nan")),
             card["validation"].get("ndcg@10", float("nan")), card["validation"]["step"])
    log.info("adapter written: output=%s name=%s", cfg.save.output, card["name"])
    return card


# -- wrap: the base model with LoRA weights ------------------------------------------------------------------
def wrap_model(cfg: LoraTrainConfig, model_path: str) -> WrappedModel:
    """The base model at ``model_path`` (4-bit with ``--quantize 4bit``) with ``cfg.adapter``'s LoRA on it."""
    from transformers import AutoTokenizer

    bf16 = use_bf16(cfg.training.precision)
    model = add_lora(load_base_model(model_path, cfg.training.quantize), cfg.adapter)
    log.info("model: path=%s r=%d layers=%s quantize=%s bf16=%s", model_path, cfg.adapter.r,
             cfg.adapter.layers or "all", cfg.training.quantize, bf16)
    return WrappedModel(model, AutoTokenizer.from_pretrained(model_path), model_path, bf16)


def use_bf16(precision: str) -> bool:
    """Whether to train in bf16 autocast.  ``auto``: on CUDA, and on a CPU with bf16 matrix units (AVX512-BF16
    or AMX, :func:`~finetune.validate.cpu_has_bf16`); elsewhere bf16 is emulated and slower than fp32."""
    if precision != "auto":
        return precision == "bf16"
    import torch

    return torch.cuda.is_available() or cpu_has_bf16()


def load_base_model(model_path: str, quantize: str = "none"):
    """The base model in fp32, or (``quantize="4bit"``, CUDA only) in 4 bit prepared for QLoRA."""
    import torch
    from transformers import AutoModelForCausalLM

    if quantize == "4bit":
        if not torch.cuda.is_available():
            raise ConfigError("--quantize 4bit (bitsandbytes QLoRA) needs a CUDA GPU and this machine has "
                              "none; train without --quantize (the LoRA is then trained on the "
                              "full-precision model)")
        from peft import prepare_model_for_kbit_training
        from transformers import BitsAndBytesConfig

        bnb = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                 bnb_4bit_compute_dtype=torch.bfloat16)
        model = AutoModelForCausalLM.from_pretrained(model_path, quantization_config=bnb, device_map="auto")
        return prepare_model_for_kbit_training(model)
    return AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32)


def add_lora(model, adapter: AdapterConfig):
    """``model`` with LoRA weights on ``adapter.target_modules`` of its last ``adapter.layers`` layers."""
    from peft import LoraConfig, get_peft_model

    n_layers = model.config.num_hidden_layers
    if not 0 <= adapter.layers <= n_layers:
        raise ConfigError(f"--layers must be between 0 and {n_layers} (the model's layers), "
                          f"got {adapter.layers}")
    layers = list(range(n_layers - adapter.layers, n_layers)) if adapter.layers else None
    lora = LoraConfig(r=adapter.r, lora_alpha=adapter.alpha, lora_dropout=adapter.dropout,
                      target_modules=adapter.target_modules, layers_to_transform=layers,
                      task_type="CAUSAL_LM", bias="none")
    return get_peft_model(model, lora)


# -- data: the ranker being trained, its training rows and its validator -------------------------------------
def build_data(cfg: LoraTrainConfig, dataset: Dataset, wrapped: WrappedModel) -> TrainingData:
    """The ranker ``wrapped`` becomes (scoring validation through it), the ranking and explanation examples
    from the validation split's fit data, the training rows and the validator."""
    val = leave_last_out(dataset, "validation")
    ranker, retriever, scorer = _ranker(cfg, dataset, val, wrapped)
    ex, seed = cfg.examples, cfg.training.seed
    t = time.perf_counter()
    examples = build_examples(ranker, val, ExampleConfig(per_user=ex.per_user, negatives=ex.negatives,
                                                         retriever_order=ex.retriever_order,
                                                         max_examples=ex.max_examples, seed=seed),
                              progress=cfg.progress)
    explain_rows = build_explanation_examples(ranker, val, examples, ex.explain_examples, seed=seed)
    build_seconds = time.perf_counter() - t
    if not examples:
        raise ConfigError(f"no training examples: no user has more than {ExampleConfig.min_history} fit "
                          "interactions")
    validator = RankValidator(ranker, val, users=cfg.training.val_users, seed=seed, progress=cfg.progress)
    rows, shared = _training_rows(cfg, examples, explain_rows, wrapped.tokenizer)
    log.info("examples: ranking=%d explanation=%d rows=%d shared_prompt_rows=%d build_seconds=%.0f "
             "validation_users=%d", len(examples), len(explain_rows), len(rows), shared, build_seconds,
             len(validator.requests))
    return TrainingData(dataset, ranker, retriever, scorer, examples, explain_rows, rows, shared, validator,
                        build_seconds)


def _ranker(cfg: LoraTrainConfig, dataset: Dataset, val, wrapped: WrappedModel):
    """The ranker the adapter is trained for, scoring with ``wrapped.model``; its retriever and scorer."""
    from llmrec.llm.backends import TransformersBackend
    from llmrec.llm.ranker import LLMRanker, LLMRankerConfig
    from retrieval.train import resolve_retriever

    scorer, layers = wrapped.model, cfg.adapter.layers
    if cfg.training.trunk_cache and layers:
        scorer = FrozenTrunkCache(wrapped.model, wrapped.model.config.num_hidden_layers - layers)
    backend = TransformersBackend.from_model(scorer, wrapped.tokenizer, batch_size=16)
    retriever = resolve_retriever(cfg.examples.retriever, dataset, progress=cfg.progress)
    ranker = LLMRanker(LLMRankerConfig(retriever=retriever, model=cfg.adapter.model,
                                       candidates=cfg.examples.candidates, scoring=cfg.adapter.scoring,
                                       details=cfg.examples.details),
                       backend=backend).fit(val.train)
    return ranker, retriever, scorer


def _training_rows(cfg: LoraTrainConfig, examples: list[Example], explain_rows: list[dict],
                   tokenizer) -> tuple[list[dict], int]:
    """The encoded training rows in training order (length-grouped batches with ``--length-batches``) and how
    many explanation examples share their ranking example's row."""
    from finetune.trainer import encode_rows, length_grouped_order, merge_prompts

    if cfg.examples.shared_prompts:
        rows, shared = merge_prompts([e.row() for e in examples], explain_rows, tokenizer)
    else:
        rows, shared = encode_rows([e.row() for e in examples] + explain_rows, tokenizer), 0
    if cfg.training.length_batches:
        order = length_grouped_order([len(r["input_ids"]) for r in rows], cfg.training.batch_size,
                                     cfg.training.seed)
        rows = [rows[i] for i in order]
    return rows, shared


# -- train: the transformers Trainer, validating and checkpointing every --eval-steps ------------------------
def train(cfg: LoraTrainConfig, wrapped: WrappedModel, data: TrainingData) -> TrainingRun:
    """Train ``wrapped.model`` on ``data.rows``, validating every ``--eval-steps``; the best checkpoint by
    validation NDCG@10 is loaded at the end.  With ``--resume``, continues from the last checkpoint."""
    from transformers.trainer_utils import get_last_checkpoint

    from finetune.trainer import RankTrainer, collate_examples

    checkpoints = Path(f"{cfg.save.output}.checkpoints")
    trainer = RankTrainer(model=wrapped.model, args=_training_arguments(cfg, checkpoints, wrapped.bf16),
                          train_dataset=data.rows, eval_dataset=data.validator.requests,
                          data_collator=collate_examples(wrapped.tokenizer),
                          label_ids=data.ranker.label_ids[:cfg.examples.candidates], loss=cfg.adapter.loss,
                          validator=data.validator, against=data.ranker.not_mark_id)
    resume = get_last_checkpoint(str(checkpoints)) if cfg.training.resume and checkpoints.is_dir() else None
    if cfg.training.resume and resume is None:
        log.warning("resume: no checkpoint, training from the start: checkpoints=%s", checkpoints)
    log.info("training: rows=%d batch_size=%d grad_accum=%d max_steps=%d epochs=%s resume_from=%s",
             len(data.rows), cfg.training.batch_size, cfg.training.grad_accum, cfg.training.max_steps,
             cfg.training.epochs, resume)
    t = time.perf_counter()
    out = trainer.train(resume_from_checkpoint=resume)
    return TrainingRun(trainer, float(out.training_loss), time.perf_counter() - t)


def _training_arguments(cfg: LoraTrainConfig, checkpoints: Path, bf16: bool, metric: str = "ndcg@10",
                        validate: bool = True):
    """The Trainer's arguments; ``validate`` False: no validation passes, the last step is kept (a refit on
    data that leaves no validation split)."""
    import torch
    from transformers import TrainingArguments

    t = cfg.training
    return TrainingArguments(
        output_dir=str(checkpoints), per_device_train_batch_size=t.batch_size,
        gradient_accumulation_steps=t.grad_accum, learning_rate=t.lr, num_train_epochs=t.epochs,
        max_steps=t.max_steps, lr_scheduler_type="linear", warmup_steps=0.05, weight_decay=0.0,
        eval_strategy="steps" if validate else "no", eval_steps=t.eval_steps, save_strategy="steps",
        save_steps=t.eval_steps, save_total_limit=2, load_best_model_at_end=validate,
        metric_for_best_model=metric if validate else None, greater_is_better=True if validate else None,
        eval_on_start=validate, logging_steps=max(1, min(10, t.eval_steps)),
        bf16=bf16, use_cpu=not torch.cuda.is_available(), seed=t.seed, data_seed=t.seed,
        remove_unused_columns=False, report_to=[], disable_tqdm=not cfg.progress, dataloader_num_workers=0,
        train_sampling_strategy="sequential" if t.length_batches else "random")


if __name__ == "__main__":
    raise SystemExit(run_main(main, prog="python -m finetune.lora"))
