"""``python -m retrieval.train``: train the dense retriever on training interactions only.

Fits the collaborative channel on next-item prediction over every position of every user's training
sequence (the validation split's fit data: each user's last two interactions are never seen), then picks
the text-channel weight by validation recall@20, and writes the retriever directory atomically with a
manifest and a card.

    python -m retrieval.train --data ../shared/data/ml-100k --output runs/retriever
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import dataclass

import numpy as np
import torch

from eval.harness import evaluate
from eval.metrics import summarize
from llmrec.artifacts import atomic_directory, atomic_write_text, write_manifest
from llmrec.configargs import add_config_arguments, arg, config_from_args
from llmrec.data import load_dataset
from llmrec.history import histories
from llmrec.models import resolve_embedder
from llmrec.split import leave_last_out
from llmrec.tables import format_table
from retrieval.collab import CollabConfig, train_sequence_model
from retrieval.retriever import RETRIEVER_KIND, DenseConfig, DenseRetriever

__all__ = ["TrainConfig", "main"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    output: str = arg(help="directory to write the trained retriever to")
    data: str | None = arg(None, help="MovieLens-100K directory (default: $LLMREC_DATA or ../shared/data/ml-100k)")
    items: str | None = arg(None, help="item table when --data is an interactions table")
    encoder: str | None = arg(None, help="sentence-transformers model for the text channel (default: MiniLM)")
    dim: int = arg(64, help="collaborative embedding size")
    window: int = arg(50, help="history items read by the collaborative query encoder")
    epochs: int = arg(3, help="collaborative channel epochs")
    lr: float = arg(1e-2, help="collaborative channel learning rate")
    text_weights: list[float] = arg(default_factory=lambda: [0.0, 1.0, 2.0, 4.0, 8.0],
                                    help="text-channel weights tried; the best by validation recall@20 is kept")
    seed: int = arg(0, help="random seed")
    progress: bool = arg(True, help="show progress bars")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m retrieval.train", description=__doc__.split("\n")[0])
    add_config_arguments(parser, TrainConfig)
    cfg = config_from_args(TrainConfig, parser.parse_args(argv))
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    t0 = time.perf_counter()
    dataset = load_dataset(cfg.data, cfg.items)
    val = leave_last_out(dataset, "validation")
    catalog = dataset.catalog
    sequences = [catalog.positions(h.items) for h in histories(val.train.interactions).values()]
    collab_cfg = CollabConfig(dim=cfg.dim, window=cfg.window, epochs=cfg.epochs, lr=cfg.lr, seed=cfg.seed)
    model = train_sequence_model(sequences, len(catalog), collab_cfg, progress=cfg.progress)
    encoder = resolve_embedder(cfg.encoder)

    with atomic_directory(cfg.output) as tmp:
        torch.save(model.state_dict(), tmp / "collab.pt")
        np.save(tmp / "items.npy", catalog.item_ids)
        fields = {"encoder": encoder, "collab": collab_cfg.to_dict(), "text_weight": 1.0,
                  "dataset": dataset.interactions.fingerprint()}
        write_manifest(tmp, RETRIEVER_KIND, **fields)
        rows, best = [], None
        retriever = DenseRetriever(DenseConfig(retriever=str(tmp))).fit(val.train)
        for w in cfg.text_weights:
            retriever.set_text_weight(w)
            m = summarize(evaluate(retriever, val, progress=cfg.progress).ranks["rank"].to_numpy(),
                          recall_cutoffs=(50, 100))
            rows.append([w, m["recall@20"], m["recall@50"], m["ndcg@10"]])
            if best is None or m["recall@20"] > best[1]:
                best = (w, m["recall@20"], m)
        fields["text_weight"] = best[0]
        card = {"config": {k: v for k, v in vars(cfg).items()}, "validation": best[2],
                "weights_tried": rows, "train_seconds": round(time.perf_counter() - t0, 1)}
        atomic_write_text(tmp / "card.json", json.dumps(card, indent=2))
        write_manifest(tmp, RETRIEVER_KIND, **fields)
    print(format_table(rows, ["text weight", "val recall@20", "val recall@50", "val ndcg@10"]))
    print(f"chose text weight {best[0]}; wrote {cfg.output} in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
