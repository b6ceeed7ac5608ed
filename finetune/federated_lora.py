"""The LoRA ranker adapter trained by federated averaging of its LoRA weights (``--model lora``).

The ranking examples are those of ``python -m finetune.lora`` (:func:`finetune.lora.build_data`: prompts
from the validation split's fit data, the retriever's candidates); they are built in one place here, as a
simulation's data preparation, then each client keeps its own users' encoded examples in a file only its
``ClientApp`` reads.  Each round a client loads the server's LoRA weights into its copy of the base model
(loaded once per Ray worker), takes ``--local-steps`` optimizer steps on its examples with the ranker's
training loss (:class:`finetune.trainer.RankTrainer`, constant learning rate) and returns the LoRA weights and
its example count; the server averages them (FedAvg).  The centralised baseline takes the same total number
of steps (``rounds * clients * local_steps``) over all the examples.  Both are scored by the same
:class:`~finetune.validate.RankValidator` (a seeded sample of validation users) and written as adapters.
"""

from __future__ import annotations

import json
import logging
import pickle
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from finetune.config import AdapterConfig, ExamplesConfig, LoraTrainConfig, SaveConfig, TrainingConfig
from finetune.federated_flower import simulate_fedavg
from finetune.partitions import partition_users, user_regions
from llmrec.artifacts import atomic_directory, atomic_write_text, write_manifest
from llmrec.data import Dataset
from llmrec.llm.adapters import ADAPTER_KIND, model_fingerprint
from llmrec.models import resolve_llm

__all__ = ["LoraClient", "lora_table", "run_federated_lora"]

log = logging.getLogger(__name__)

_WORKER_MODEL: dict[str, Any] = {}  # a Ray worker's base model with LoRA, loaded on its first round


def lora_config(cfg, output: str) -> LoraTrainConfig:
    """The ``finetune.lora`` configuration the federated and the centralised adapters share."""
    return LoraTrainConfig(save=SaveConfig(output=output),
                           examples=ExamplesConfig(explain_examples=0, max_examples=cfg.lora_examples),
                           adapter=AdapterConfig(),
                           training=TrainingConfig(batch_size=cfg.lora_batch_size, lr=cfg.lora_lr,
                                                   val_users=cfg.val_users, seed=cfg.seed),
                           progress=cfg.progress)


def train_steps(model, tokenizer, rows: list[dict], steps: int, lcfg: LoraTrainConfig, label_ids: list[int],
                against: int | None, bf16: bool, seed: int, progress: bool = False) -> float:
    """``steps`` optimizer steps of the ranker's loss on ``rows`` (constant learning rate); the mean loss."""
    import torch
    from transformers import TrainingArguments

    from finetune.trainer import RankTrainer, collate_examples

    with tempfile.TemporaryDirectory(prefix="llmrec-fedlora-") as out:
        args = TrainingArguments(
            output_dir=out, per_device_train_batch_size=lcfg.training.batch_size,
            learning_rate=lcfg.training.lr, max_steps=steps, lr_scheduler_type="constant", weight_decay=0.0,
            eval_strategy="no",
            save_strategy="no", logging_steps=max(1, steps), bf16=bf16, use_cpu=not torch.cuda.is_available(),
            seed=seed, data_seed=seed, remove_unused_columns=False, report_to=[], disable_tqdm=not progress,
            dataloader_num_workers=0)
        trainer = RankTrainer(model=model, args=args, train_dataset=rows,
                              data_collator=collate_examples(tokenizer), label_ids=label_ids,
                              loss=lcfg.adapter.loss, validator=None, against=against)
        return float(trainer.train().training_loss)


def lora_arrays(model) -> dict[str, np.ndarray]:
    from peft import get_peft_model_state_dict

    return {k: v.detach().float().cpu().numpy() for k, v in get_peft_model_state_dict(model).items()}


def set_lora_arrays(model, arrays: dict[str, np.ndarray]) -> None:
    import torch
    from peft import set_peft_model_state_dict

    set_peft_model_state_dict(model, {k: torch.from_numpy(np.array(v)) for k, v in arrays.items()})


@dataclass(frozen=True)
class LoraClient:
    """A client's round: its copy of the model takes ``steps`` steps on its own encoded examples
    (``<store>/client-<i>.pkl``) from the server's LoRA weights; returns the LoRA weights and its count."""

    store: str
    lcfg: LoraTrainConfig
    model_path: str
    label_ids: list[int]
    against: int | None
    steps: int

    def __call__(self, client: int, arrays: dict[str, np.ndarray], server_round: int):
        from finetune.lora import use_bf16, wrap_model

        if self.model_path not in _WORKER_MODEL:
            _WORKER_MODEL[self.model_path] = wrap_model(self.lcfg, self.model_path)
        wrapped = _WORKER_MODEL[self.model_path]
        with open(Path(self.store) / f"client-{client}.pkl", "rb") as fh:
            rows = pickle.load(fh)
        set_lora_arrays(wrapped.model, arrays)
        loss = train_steps(wrapped.model, wrapped.tokenizer, rows, self.steps, self.lcfg, self.label_ids,
                           self.against, use_bf16(self.lcfg.training.precision),
                           self.lcfg.training.seed + 1000 * server_round + client)
        return lora_arrays(wrapped.model), len(rows), {"train_loss": loss}


def save_lora(directory: Path, wrapped, data, lcfg: LoraTrainConfig, name: str, validation: dict) -> None:
    """A peft adapter directory with the manifest ``finetune.lora`` writes (servable with ``--adapter``)."""
    directory.mkdir(parents=True)
    wrapped.model.save_pretrained(directory)
    write_manifest(directory, ADAPTER_KIND, name=name,
                   base_model=lcfg.adapter.model or "smollm2-135m-instruct",
                   base_fingerprint=model_fingerprint(wrapped.path),
                   prompt_version=data.ranker.prompt.version,
                   scoring=lcfg.adapter.scoring, details=lcfg.examples.details,
                   candidates=lcfg.examples.candidates, rank=lcfg.adapter.r, validation=validation)


def run_federated_lora(cfg, dataset: Dataset) -> dict:
    """The centralised and the federated LoRA adapters at equal steps, for each (partition, clients) of
    ``cfg``; writes them to ``cfg.output`` with ``results.json``; returns the results."""
    from finetune.lora import build_data, wrap_model
    from finetune.trainer import encode_rows

    t0 = time.perf_counter()
    lcfg = lora_config(cfg, cfg.output)
    model_path = resolve_llm(lcfg.adapter.model)
    wrapped = wrap_model(lcfg, model_path)
    data = build_data(lcfg, dataset, wrapped)
    label_ids = data.ranker.label_ids[:lcfg.examples.candidates]
    against = data.ranker.not_mark_id
    initial = lora_arrays(wrapped.model)
    results: dict = {"config": asdict(cfg), "examples": len(data.examples), "models": {},
                     "validation_users": len(data.validator.requests),
                     "validation_retriever_order": data.validator.retriever_metrics}
    results["models"]["zero-shot"] = {"steps": 0, "validation": data.validator.evaluate(wrapped.model)}
    by_user: dict[int, list] = {}
    for e in data.examples:
        by_user.setdefault(e.user, []).append(e)
    users = np.array(sorted(by_user))
    with atomic_directory(cfg.output) as tmp:
        for how in cfg.partitions:
            for k in cfg.clients:
                steps = cfg.rounds * k * cfg.local_steps
                central = f"central-{steps}"
                if central not in results["models"]:
                    set_lora_arrays(wrapped.model, initial)
                    t = time.perf_counter()
                    rows = encode_rows([e.row() for e in data.examples], wrapped.tokenizer)
                    loss = train_steps(wrapped.model, wrapped.tokenizer, rows, steps, lcfg, label_ids,
                                       against, wrapped.bf16, cfg.seed, progress=cfg.progress)
                    metrics = data.validator.evaluate(wrapped.model)
                    results["models"][central] = {"steps": steps, "train_loss": loss, "validation": metrics,
                                                  "seconds": round(time.perf_counter() - t, 1)}
                    save_lora(tmp / central, wrapped, data, lcfg, central, metrics)
                regions = user_regions(dataset, users) if how == "region" else None
                groups = partition_users(users, k, how, seed=cfg.seed, regions=regions)
                t = time.perf_counter()
                with tempfile.TemporaryDirectory(prefix="llmrec-clients-") as store:
                    for i, group in enumerate(groups):
                        own = [e.row() for u in group for e in by_user[u]]
                        with open(Path(store) / f"client-{i}.pkl", "wb") as fh:
                            pickle.dump(encode_rows(own, wrapped.tokenizer), fh)
                    client = LoraClient(store, lcfg, model_path, label_ids, against, cfg.local_steps)
                    run = simulate_fedavg(initial, client, k, cfg.rounds, num_cpus=cfg.num_cpus)
                set_lora_arrays(wrapped.model, run.arrays)
                metrics = data.validator.evaluate(wrapped.model)
                label = f"{how}-{k}"
                results["models"][label] = {
                    "steps": steps, "clients": k, "client_examples": [sum(len(by_user[u]) for u in g)
                                                                     for g in groups],
                    "validation": metrics, "seconds": round(time.perf_counter() - t, 1),
                    "server_received": sorted({r for x in run.received for r in x.records}),
                    "metrics_received": sorted({m for x in run.received for m in x.metrics}),
                    "vs": central,
                    "relative_ndcg@10": (metrics["ndcg@10"]
                                         / results["models"][central]["validation"]["ndcg@10"] - 1)}
                save_lora(tmp / label, wrapped, data, lcfg, label, metrics)
                log.info("lora_done setup=%s ndcg@10=%.4f", label, metrics["ndcg@10"])
        results["seconds"] = round(time.perf_counter() - t0, 1)
        atomic_write_text(tmp / "results.json", json.dumps(results, indent=2, default=str))
        write_manifest(tmp, "federated-lora-run", dataset=dataset.interactions.fingerprint(),
                       config=asdict(cfg))
    return results


def lora_table(results: dict) -> str:
    from llmrec.tables import format_table

    rows = []
    for label, m in results["models"].items():
        v = m["validation"]
        rel = m.get("relative_ndcg@10")
        rows.append([label, m["steps"], f"{v['ndcg@10']:.4f}", f"{v.get('hr@1', float('nan')):.4f}",
                     "-" if rel is None else f"{100 * rel:+.1f}% vs {m['vs']}"])
    return format_table(rows, ["adapter", "steps", f"val ndcg@10 ({results['validation_users']} users)",
                               "val hr@1", "vs centralised"])
