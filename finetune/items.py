"""``python -m finetune.items``: teach the LLM the catalog — one token per item, trained as a sequential
recommender, written as a merged model that vLLM serves.

1. **Vocabulary.** One added token per catalog item (:mod:`llmrec.llm.items`), its embedding row (tied to
   its output row) initialised from what is known of the item, never at random: ``--init title`` the mean
   of its title's token embeddings; ``collab`` the retriever's collaborative item vector mapped into the
   embedding space by ridge regression onto the title rows; ``both`` their average.  Rows are rescaled to
   the vocabulary's mean norm.
2. **Training.** Each user's fit sequence of the *validation* split (so neither validation nor test items
   are ever targets; ``--split test``: the test split's, a refit for the test figures in which validation
   items are targets too and the last step is kept) is written as item tokens (``--form tokens``) or item
   tokens each followed by its title (``hybrid``), cut into windows of ``--window`` items; the loss is the
   cross-entropy of the next item at every item position, over the item tokens (the softmax the recommender
   scores with).  peft LoRA on the transformer and trainable item rows (peft's ``trainable_token_indices``,
   tied to the output rows), the transformers ``Trainer`` (progress bar, checkpoints, ``--resume``, seed),
   validation NDCG@10 over the whole catalog on a seeded sample of validation users choosing the checkpoint;
   bf16 autocast where the CPU has bf16 units, fp32 elsewhere.
3. **Output.** vLLM 0.32 cannot serve new vocabulary from a LoRA adapter, so the LoRA and the rows are
   merged into a plain model directory (resized vocabulary, tokenizer with the item tokens) with a manifest
   (kind ``item-token-model``: the catalog fingerprint, the item -> token map, the form, the base model, the
   training data's fingerprint, validation figures) and a card, written atomically.

    python -m finetune.items --output runs/items
    python -m eval --recommender genllm --param model=runs/items
    python -m finetune.items --output runs/items-test --split test --max-steps 480   # refit for test figures
    python -m finetune.items --output runs/items-cu --split test --max-steps 540 --protocol cold-users
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np

from finetune.item_card import item_card, save_item_model
from finetune.item_config import ItemDataConfig, ItemTrainConfig
from finetune.item_data import add_item_vocabulary, collate, init_item_rows, sequence_rows
from llmrec.configargs import add_config_arguments, config_from_args, run_main
from llmrec.data import load_dataset
from llmrec.errors import ConfigError
from llmrec.evaluation.metrics import ndcg_at, recall_at
from llmrec.history import histories
from llmrec.llm.items import ItemVocabulary
from llmrec.models import resolve_llm
from llmrec.split import HoldoutSplit, seeded_sample, target_items
from llmrec.tables import format_table

__all__ = ["ItemDataConfig", "ItemTrainConfig", "ItemValidator", "main", "save_item_model", "train_items"]

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m finetune.items", description=__doc__.split("\n")[0])
    add_config_arguments(parser, ItemTrainConfig, skip=("trunk_cache", "scoring", "loss", "quantize"))
    cfg = config_from_args(ItemTrainConfig, parser.parse_args(argv))
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    card = train_items(cfg)
    print(format_table([[k, v] for k, v in card["validation"].items()],
                       ["validation (chosen checkpoint)", "value"]))
    t = card["training"]
    print(f"wrote {cfg.save.output}: {t['targets']} targets in {t['rows']} sequences, {t['steps']} steps, "
          f"{t['seconds']:.0f} s ({t['targets_per_second']:.0f} targets/s, bf16={t['bf16']})")
    return 0


# -- validation --------------------------------------------------------------------------------------------
class ItemValidator:
    """NDCG@10 and recall@20 over the whole catalog (history items excluded) for a seeded sample of
    validation users, scored as ``genllm`` scores them."""

    def __init__(self, split: HoldoutSplit, vocab: ItemVocabulary, tokenizer, *, users: int, history: int,
                 seed: int = 0, batch_size: int = 16):
        targets = target_items(split)
        hs = histories(split.train.interactions)
        ids = seeded_sample(sorted(u for u in targets if u in hs), users, seed)
        self.histories = [hs[u].items for u in ids]
        self.prompts = [vocab.encode(h[-history:])[0] for h in self.histories]
        self.targets = vocab.positions([targets[u] for u in ids])
        self.vocab, self.tokenizer, self.batch_size = vocab, tokenizer, batch_size
        self.seconds = 0.0

    def evaluate(self, model) -> dict[str, float]:
        from llmrec.llm.reference import TransformersBackend

        t0 = time.perf_counter()
        was_training = model.training
        model.eval()
        backend = TransformersBackend.from_model(model, self.tokenizer, batch_size=self.batch_size)
        scores = backend.allowed_logprobs(self.prompts, self.vocab.token_ids.tolist())
        if was_training:
            model.train()
        ranks = []
        for row, hist, target in zip(scores, self.histories, self.targets):
            row = row.astype(np.float64).copy()
            row[self.vocab.positions(hist)] = -np.inf
            ranks.append(int((row > row[target]).sum()))
        ranks = np.asarray(ranks)
        self.seconds += time.perf_counter() - t0
        return {"ndcg@10": float(ndcg_at(ranks, 10).mean()), "recall@20": float(recall_at(ranks, 20).mean()),
                "users": len(ranks)}


def _item_trainer_class():
    import torch.nn.functional as F
    from transformers import Trainer

    class ItemTrainer(Trainer):
        """Loss: the next item's cross-entropy at every item position, over the item tokens only; the item
        rows get their own learning rate; ``evaluate`` is the validator's NDCG@10 (which keeps the best
        checkpoint)."""

        def __init__(self, *args, item_ids, validator, embed_lr: float, **kwargs):
            super().__init__(*args, **kwargs)
            import torch

            self.item_ids = torch.as_tensor(item_ids)
            self.validator, self.embed_lr = validator, embed_lr
            self.loss_is_scaled_for_ga = False

        def create_optimizer(self, model=None):
            import torch

            if self.optimizer is None:
                params = [(n, p) for n, p in self.model.named_parameters() if p.requires_grad]
                rows = [p for n, p in params if "trainable_tokens_delta" in n]
                rest = [p for n, p in params if "trainable_tokens_delta" not in n]
                self.optimizer = torch.optim.AdamW(
                    [{"params": rest, "lr": self.args.learning_rate},
                     {"params": rows, "lr": self.embed_lr}], weight_decay=0.0)
            return self.optimizer

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            labels = inputs.pop("labels")
            out = model(**inputs)
            logits = out.logits[..., self.item_ids.to(out.logits.device)].float()
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                                   ignore_index=-100)
            return (loss, out) if return_outputs else loss

        def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix: str = "eval"):
            metrics = {f"{metric_key_prefix}_{k}": v for k, v in self.validator.evaluate(self.model).items()}
            self.log(metrics)
            self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
            return metrics

    return ItemTrainer


# -- the run -----------------------------------------------------------------------------------------------
def train_items(cfg: ItemTrainConfig) -> dict:
    """Build the item vocabulary, train, choose the checkpoint by validation NDCG@10, merge and write the
    model to ``cfg.save.output``; returns the card."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed
    from transformers.trainer_utils import get_last_checkpoint

    from finetune.lora import _training_arguments, use_bf16
    from finetune.trainer import length_grouped_order
    from retrieval.train import resolve_retriever

    requested, cfg = cfg, cfg.resolved()
    set_seed(cfg.training.seed)
    t0 = time.perf_counter()
    dataset = load_dataset(cfg.items.data)
    split = cfg.items.training_split(dataset)
    validate = cfg.items.split == "validation"
    base_path = resolve_llm(cfg.adapter.model)
    tokenizer = AutoTokenizer.from_pretrained(base_path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(base_path, dtype=torch.float32)
    vocab = add_item_vocabulary(model, tokenizer, dataset.catalog, cfg.items.form)
    retriever = (resolve_retriever(cfg.items.retriever, dataset, progress=cfg.progress)
                 if cfg.items.init != "title" else None)
    init = init_item_rows(model, tokenizer, split.train, vocab, cfg.items.init, retriever,
                          cfg.items.init_scale)
    n_layers = model.config.num_hidden_layers
    if not 0 <= cfg.adapter.layers <= n_layers:
        raise ConfigError(f"--layers must be between 0 and {n_layers}, got {cfg.adapter.layers}")
    layers = list(range(n_layers - cfg.adapter.layers, n_layers)) if cfg.adapter.layers else None
    model = get_peft_model(model, LoraConfig(
        r=cfg.adapter.r, lora_alpha=cfg.adapter.alpha, lora_dropout=cfg.adapter.dropout,
        target_modules=cfg.adapter.target_modules, layers_to_transform=layers, task_type="CAUSAL_LM",
        bias="none", trainable_token_indices={"embed_tokens": vocab.token_ids.tolist()}))
    rows = sequence_rows(split, vocab, cfg.items.window)
    order = length_grouped_order([len(r["input_ids"]) for r in rows], cfg.training.batch_size,
                                 cfg.training.seed)
    rows = [rows[i] for i in order]
    targets = sum(sum(x >= 0 for x in r["labels"]) for r in rows)
    validator = ItemValidator(split, vocab, tokenizer, users=cfg.training.val_users, history=cfg.items.window,
                              seed=cfg.training.seed) if validate else None
    bf16 = use_bf16(cfg.training.precision)
    log.info("item rows: sequences=%d targets=%d items=%d form=%s init=%s bf16=%s", len(rows), targets,
             len(vocab), cfg.items.form, cfg.items.init, bf16)
    checkpoints = Path(f"{cfg.save.output}.checkpoints")
    trainer = _item_trainer_class()(
        model=model, args=_training_arguments(cfg, checkpoints, bf16, validate=validate), train_dataset=rows,
        eval_dataset=rows[:1], data_collator=collate(tokenizer.pad_token_id), item_ids=vocab.token_ids,
        validator=validator, embed_lr=cfg.items.embed_lr)
    resume = get_last_checkpoint(str(checkpoints)) if cfg.training.resume and checkpoints.is_dir() else None
    t = time.perf_counter()
    out = trainer.train(resume_from_checkpoint=resume)
    seconds = time.perf_counter() - t
    card = item_card(requested, cfg, base_path, split, vocab, init, trainer, float(out.training_loss),
                     seconds, targets, len(rows), bf16, time.perf_counter() - t0,
                     validation_users=validator.targets.size if validator is not None else 0,
                     validation_seconds=validator.seconds if validator is not None else 0.0)
    save_item_model(trainer.model, tokenizer, vocab, card, cfg.save.output)
    log.info("item-token model written: output=%s ndcg@10 zero_shot=%.4f chosen=%.4f step=%s",
             cfg.save.output, card["validation_zero_shot"].get("ndcg@10", float("nan")),
             card["validation"].get("ndcg@10", float("nan")), card["validation"]["step"])
    return card


if __name__ == "__main__":
    raise SystemExit(run_main(main, prog="python -m finetune.items"))
