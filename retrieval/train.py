"""``python -m retrieval.train``: train the dense retriever on training interactions only.

1. fine-tunes the text encoder contrastively (``retrieval.text_train``: history -> next item pairs, in-batch
   and mined hard negatives, the sentence-transformers trainer, checkpoint chosen by validation recall@20);
2. trains the collaborative channel (``retrieval.collab``) on the validation split's fit data (each user's
   last two interactions are never seen) and picks the text-channel weight by validation recall@20;
3. refits the collaborative channel with the same configuration on the test split's fit data (each user's
   last interaction is never seen), as a deployed model would be trained on all the data it has.
   ``DenseRetriever.fit`` uses the validation-fit model when given exactly the validation fit data, so
   validation figures never see validation items;
4. writes the retriever directory atomically with a manifest and a card (configs, validation figures,
   times).

    python -m retrieval.train --data ../shared/data/ml-100k --output runs/retriever
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from llmrec.artifacts import atomic_directory, atomic_write_text, read_manifest, write_manifest
from llmrec.configargs import add_config_arguments, arg, config_from_args, run_main
from llmrec.data import Dataset, load_dataset
from llmrec.errors import ArtifactError, ConfigError
from llmrec.evaluation import evaluate, summarize
from llmrec.history import histories
from llmrec.models import resolve_embedder
from llmrec.recommenders import create_recommender
from llmrec.split import HoldoutSplit, leave_last_out
from llmrec.tables import format_table
from retrieval.collab import CollabConfig, train_collab
from retrieval.store import RECIPE, RETRIEVER_KIND, default_path, is_current
from retrieval.text_train import RecallEvaluator, TextTrainConfig, fine_tune_text_encoder

__all__ = ["TrainConfig", "collab_config", "ensure_retriever", "main", "recipe", "resolve_retriever",
           "train_retriever"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    output: str = arg(help="directory to write the trained retriever to")
    data: str | None = arg(None, help="MovieLens-100K directory (default: $LLMREC_DATA or "
                                      "../shared/data/ml-100k)")
    items: str | None = arg(None, help="item table when --data is an interactions table")
    encoder: str | None = arg(None, help="sentence-transformers model for the text channel (default: MiniLM)")
    dim: int = arg(64, help="collaborative embedding size")
    window: int = arg(50, help="history items read by the collaborative query encoder")
    epochs: int = arg(3, help="collaborative channel epochs")
    lr: float = arg(1e-2, help="collaborative channel learning rate")
    dropout: float = arg(0.3, help="collaborative channel dropout on history embeddings")
    members: int = arg(4, help="linear collaborative models ensembled (one seed each)")
    attention_members: int = arg(2, help="self-attentive (SASRec) collaborative models ensembled beside them")
    attention_weight: float = arg(0.5, help="the self-attentive members' share of the collaborative score")
    attention_epochs: int = arg(35, help="self-attentive members' epochs")
    refit: bool = arg(True, help="refit the collaborative channel on the test split's fit data")
    text_examples: int = arg(0, help="text-encoder fine-tuning pairs (0: keep the untrained encoder; it "
                                     "has not beaten the untrained one on validation yet, see the README)")
    text_batch_size: int = arg(32, help="text-encoder fine-tuning batch size (in-batch negatives)")
    text_lr: float = arg(5e-5, help="text-encoder learning rate")
    text_epochs: int = arg(1, help="text-encoder epochs")
    hard_negatives: int = arg(1, help="mined hard negatives per text pair")
    eval_steps: int = arg(25, help="text-encoder validation/checkpoint interval in steps")
    text_weights: list[float] = arg(default_factory=lambda: [0.0, 1.0, 2.0, 4.0, 8.0],
                                    help="text-channel weights tried; "
                                         "the best by validation recall@20 is kept")
    seed: int = arg(0, help="random seed")
    progress: bool = arg(True, help="show progress bars")

    def __post_init__(self) -> None:
        """Refuse a setting no training run can use before anything is trained: the collaborative channel's
        as :class:`~retrieval.collab_config.CollabConfig` checks them, the text channel's here."""
        try:
            collab_config(self)
        except ValueError as err:  # named by the flags that set the fields
            flags = {f.name for f in dataclasses.fields(self)}
            text = re.sub(r"\b[a-z_]+\b", lambda m: "--" + m[0].replace("_", "-") if m[0] in flags else m[0],
                          str(err))
            raise ConfigError(f"collaborative channel: {text}") from err
        at_least = {"text_examples": 0, "text_batch_size": 2, "text_epochs": 1, "hard_negatives": 0,
                    "eval_steps": 1}
        for name, low in at_least.items():
            if getattr(self, name) < low:
                flag = "--" + name.replace("_", "-")
                raise ConfigError(f"{flag} must be at least {low}, got {getattr(self, name)}")
        if not (self.text_lr > 0 and math.isfinite(self.text_lr)):
            raise ConfigError(f"--text-lr must be finite and > 0, got {self.text_lr}")
        if not self.text_weights or any(not math.isfinite(w) or w < 0 for w in self.text_weights):
            raise ConfigError(f"--text-weights must be one or more finite weights >= 0, got "
                              f"{self.text_weights}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m retrieval.train", description=__doc__.split("\n")[0])
    add_config_arguments(parser, TrainConfig)
    cfg = config_from_args(TrainConfig, parser.parse_args(argv))
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    card = train_retriever(cfg, load_dataset(cfg.data, cfg.items))
    print_card(card, cfg.output)
    return 0


def print_card(card: dict, output: str) -> None:
    """The training run's tables: text-weight selection on validation, and the time of each stage."""
    text = card.get("text_training")
    if text:
        print(f"text encoder: validation recall@20 {text['validation_before']['recall@20']:.4f} -> "
              f"{text['validation_after']['recall@20']:.4f} ({text['steps']} steps)")
    print(format_table(card["weights_tried"],
                       ["text weight", "val recall@20", "val recall@50", "val ndcg@10"]))
    print(format_table([[k, f"{v:.0f}"] for k, v in card["seconds"].items()], ["stage", "seconds"]))
    print(f"chose text weight {card['text_weight']}; wrote {output} in {card['seconds']['total']:.0f} s")


def collab_config(cfg: TrainConfig) -> CollabConfig:
    """The collaborative channel's configuration in a training run's configuration."""
    return CollabConfig(dim=cfg.dim, window=cfg.window, epochs=cfg.epochs, lr=cfg.lr, dropout=cfg.dropout,
                        members=cfg.members, seed=cfg.seed, attention_members=cfg.attention_members,
                        attention_weight=cfg.attention_weight, attention_epochs=cfg.attention_epochs)


def recipe(cfg: TrainConfig) -> int | None:
    """:data:`retrieval.store.RECIPE` when ``cfg`` trains the default recipe (any seed, data or output),
    else None: a retriever of another configuration is not the default one of any recipe."""
    defaults = TrainConfig(output=cfg.output, data=cfg.data, items=cfg.items, seed=cfg.seed,
                           progress=cfg.progress)
    return RECIPE if cfg == defaults else None


def ensure_retriever(dataset: Dataset, *, progress: bool = True,
                     splits: tuple[HoldoutSplit, HoldoutSplit] | None = None) -> Path:
    """The default trained retriever for ``dataset`` (the full interaction log, before any split).

    It lives in the cache (``<cache>/retrievers/<data fingerprint>``) and is trained with the default
    configuration on first use (about ten minutes on 2 cores); a corrupt or mismatched one, or one trained
    by an older default recipe (:data:`retrieval.store.RECIPE`), is retrained.
    With ``splits`` (validation, test; e.g. :func:`llmrec.protocols.pretraining_splits` of a cold-start
    protocol) it is trained from those splits instead, and cached under the test split's fit data.
    """
    if splits is not None:
        dataset = splits[1].train
    path = default_path(dataset)
    try:
        manifest = read_manifest(path, RETRIEVER_KIND)
        if manifest.get("dataset") == dataset.interactions.fingerprint():
            if is_current(manifest):
                return path
            log.warning("retraining the cached retriever at %s: trained by an older default recipe", path)
    except ArtifactError as err:
        if path.exists():
            log.warning("retraining the cached retriever at %s: %s", path, err)
    log.warning("training the default retriever for %s into %s (first use; about ten minutes on 2 cores)",
                dataset.name, path)
    train_retriever(TrainConfig(output=str(path), progress=progress), dataset, splits)
    return path


def resolve_retriever(spec: str | None, dataset: Dataset, *, progress: bool = True) -> str | None:
    """``"auto"`` -> :func:`ensure_retriever`'s directory; ``"untrained"`` or None -> None (the untrained
    text retriever); anything else is a retriever directory, returned as is."""
    if spec == "auto":
        return str(ensure_retriever(dataset, progress=progress))
    return None if spec in (None, "untrained") else spec


def train_retriever(cfg: TrainConfig, dataset: Dataset,
                    splits: tuple[HoldoutSplit, HoldoutSplit] | None = None) -> dict:
    """Train, select by validation and write the retriever to ``cfg.output``; returns its card.  ``splits``:
    the (validation, test) splits to learn from (default: ``dataset``'s leave-last-out splits)."""
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    t0 = time.perf_counter()
    catalog = dataset.catalog
    val, test = splits or (leave_last_out(dataset, "validation"), leave_last_out(dataset, "test"))
    val_histories = histories(val.train.interactions)
    encoder = resolve_embedder(cfg.encoder)
    collab_cfg = collab_config(cfg)
    text_cfg = TextTrainConfig(examples=cfg.text_examples, batch_size=cfg.text_batch_size, lr=cfg.text_lr,
                               epochs=cfg.text_epochs, hard_negatives=cfg.hard_negatives,
                               eval_steps=cfg.eval_steps, seed=cfg.seed)
    times: dict[str, float] = {}

    with atomic_directory(cfg.output) as tmp:
        text = None
        if cfg.text_examples > 0:
            t = time.perf_counter()
            evaluator = RecallEvaluator(val, val_histories, catalog)
            text = fine_tune_text_encoder(encoder, val_histories, catalog, evaluator, text_cfg, tmp / "text",
                                          Path(f"{cfg.output}.checkpoints"), progress=cfg.progress)
            times["text encoder"] = time.perf_counter() - t
        t = time.perf_counter()
        sequences = [catalog.positions(h.items) for h in val_histories.values()]
        train_collab(sequences, len(catalog), collab_cfg,
                     progress=cfg.progress).save(tmp / "collab-validation.pt")
        times["collab (validation fit)"] = time.perf_counter() - t
        np.save(tmp / "items.npy", catalog.item_ids)
        fits = {"validation": val.train.interactions.fingerprint()}
        fields = {"encoder": encoder, "text": "text" if text else None, "collab": collab_cfg.to_dict(),
                  "text_weight": 1.0, "dataset": dataset.interactions.fingerprint(), "fits": fits,
                  "recipe": recipe(cfg)}
        write_manifest(tmp, RETRIEVER_KIND, **fields)

        t = time.perf_counter()
        rows, best = [], None
        retriever = create_recommender("dense", {"retriever": str(tmp)}).fit(val.train)
        for w in cfg.text_weights:
            retriever.set_text_weight(w)
            m = summarize(evaluate(retriever, val, progress=cfg.progress).ranks["rank"].to_numpy(),
                          recall_cutoffs=(50, 100))
            rows.append([w, m["recall@20"], m["recall@50"], m["ndcg@10"]])
            if best is None or m["recall@20"] > best[1]:
                best = (w, m["recall@20"], m)
        fields["text_weight"] = best[0]
        times["text weight selection"] = time.perf_counter() - t

        if cfg.refit:
            t = time.perf_counter()
            sequences = [catalog.positions(h.items) for h in histories(test.train.interactions).values()]
            train_collab(sequences, len(catalog), collab_cfg,
                         progress=cfg.progress).save(tmp / "collab-final.pt")
            fits["final"] = test.train.interactions.fingerprint()
            times["collab (test fit)"] = time.perf_counter() - t
        times["total"] = time.perf_counter() - t0
        card = {"config": dict(vars(cfg)), "collab": collab_cfg.to_dict(), "text_training": text,
                "text_config": text_cfg.to_dict(), "validation": best[2], "weights_tried": rows,
                "seconds": {k: round(v, 1) for k, v in times.items()}}
        atomic_write_text(tmp / "card.json", json.dumps(card, indent=2))
        write_manifest(tmp, RETRIEVER_KIND, **fields)
    log.info("retriever_trained output=%s text_weight=%s seconds=%.0f", cfg.output, best[0], times["total"])
    return {**card, "text_weight": best[0]}


if __name__ == "__main__":
    raise SystemExit(run_main(main, prog="python -m retrieval.train"))
