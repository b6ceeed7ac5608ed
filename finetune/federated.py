"""``python -m finetune.federated``: the collaborative retriever channel trained by federated averaging.

Users are split into clients (:func:`partition_users`: by zip-code region, the first digit of the zip code
in ``u.user``, or at random as the IID control).  Each client keeps its own users' interaction sequences (a
file only its ``ClientApp`` reads); in each Flower round (:mod:`finetune.federated_flower`, the simulation
runtime on Ray) every client trains the server's :class:`~retrieval.collab.SequenceModel` on next-item
prediction over its sequences for ``--local-epochs`` and sends back the parameters and its example count;
the server averages them weighted by the counts (FedAvg).  Only parameter arrays and counts reach the server.
With ``--client-steps 1 --client-optimizer sgd`` a round is one SGD step on the next slice of a client's
examples instead (FedSGD): the average is the gradient of the slices together, and a server Adam
(``--server-optimizer adam``) at the centralised optimiser's settings takes the centralised model's steps.

Compared with centralised training at equal compute: the centralised model makes
``rounds * local_epochs * local_fraction`` passes over all the data, the federated clients together make the
same number.  Each model (one collaborative member, the text channel at a fixed weight on both sides) is
written as a retriever directory (loadable with ``--retriever DIR``; its validation model trained on the
validation split's fit data, its final model on the test split's) and evaluated as the retriever's recall@20
on both splits, with paired intervals against the centralised one.

    python -m finetune.federated --output runs/federated --clients 5 10 20
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from finetune.federated_client import CollabClient, save_client_sequences
from finetune.federated_flower import simulate_fedavg
from finetune.federated_privacy import epsilon, plot_privacy
from finetune.partitions import Partition, partition_users, user_regions
from llmrec.artifacts import atomic_directory, atomic_write_text, write_manifest
from llmrec.configargs import add_config_arguments, arg, config_from_args, run_main
from llmrec.data import Dataset, load_dataset
from llmrec.errors import ConfigError
from llmrec.evaluation import Report, compare_reports, evaluate_recommender
from llmrec.history import histories
from llmrec.models import resolve_embedder
from llmrec.split import leave_last_out
from llmrec.tables import format_table
from retrieval.collab import (
    CollabConfig,
    CollabEnsemble,
    SequenceModel,
    train_sequence_model,
)
from retrieval.retriever import DenseConfig, DenseRetriever
from retrieval.store import RETRIEVER_KIND

__all__ = ["CollabClient", "FederatedConfig", "main", "partition_users", "run_federated", "user_regions"]

log = logging.getLogger(__name__)

FEDERATED_KIND = "federated-run"


@dataclass(frozen=True, kw_only=True)
class FederatedConfig:
    output: str = arg(help="directory to write the run to (one retriever or adapter directory per model, "
                           "reports, results.json)")
    model: Literal["collab", "lora"] = arg("collab", help="what is trained: the retriever's collaborative "
                                                          "channel, or the LoRA ranker adapter")
    data: str | None = arg(None, help="MovieLens-100K directory (default: $LLMREC_DATA or "
                                      "../shared/data/ml-100k)")
    clients: list[int] = arg(default_factory=lambda: [5, 10, 20], help="client counts to simulate")
    partitions: list[Partition] = arg(default_factory=lambda: ["iid", "region"],
                                      help="how users are split into clients: iid (seeded random, the "
                                           "control) or region (first digit of the zip code)")
    rounds: int = arg(3, help="federated rounds")
    local_epochs: int = arg(1, help="passes over its own data each client makes per round (the centralised "
                                    "model makes rounds * local_epochs * local_fraction: equal compute)")
    local_fraction: float = arg(1.0, help="collab: share of its data a client trains on in a round: a block "
                                          "of its users (a seeded permutation, the next block each round; 1: "
                                          "all), or with --client-steps the next slice of its examples")
    rounds_per_pass: int = arg(0, help="collab: --local-fraction as a count: each pass over a client's data "
                                       "spans N rounds (--local-fraction 1/N; 0: --local-fraction as given)")
    client_steps: int = arg(0, help="collab: 0: each round a client makes --local-epochs passes over its "
                                    "block of users in batches of --client-batch-size; N: each round it "
                                    "takes N optimiser steps over the next --local-fraction slice of its "
                                    "examples (a new seeded shuffle each pass), so every client makes the "
                                    "same passes; 1 with --client-optimizer sgd is FedSGD: the server's "
                                    "optimiser steps on the gradient of the union of the clients' slices")
    client_optimizer: Literal["adamw", "sgd"] = arg("adamw", help="collab: the clients' optimiser at "
                                                                  "--client-lr (sgd: plain, no state)")
    dim: int = arg(64, help="collaborative embedding size")
    window: int = arg(50, help="history items read by the collaborative query encoder")
    lr: float = arg(1e-2, help="learning rate (AdamW) of the centralised model, and of the clients unless "
                               "--client-lr is given")
    client_lr: float | None = arg(None, help="collab: the clients' learning rate (default: --lr)")
    client_state: bool = arg(False, help="collab: each client keeps its AdamW state on its own storage from "
                                         "round to round (default: a fresh AdamW each round); it never "
                                         "leaves the client")
    server_lr: float = arg(1.0, help="collab: the server's step along the clients' averaged update (FedAvgM; "
                                     "1: plain FedAvg)")
    server_momentum: float = arg(0.0, help="collab: server momentum across rounds (FedAvgM; 0: none; with "
                                           "--server-optimizer adam its beta_1)")
    server_optimizer: Literal["avgm", "adam"] = arg(
        "avgm", help="collab: the server's step on the averaged update: FedAvgM (--server-lr, "
                     "--server-momentum), or adam (Flower's FedAdam: --server-lr its eta, --server-tau its "
                     "epsilon)")
    server_tau: float = arg(1e-3, help="collab: --server-optimizer adam's epsilon (smaller: more adaptive)")
    server_beta2: float = arg(0.99, help="collab: --server-optimizer adam's beta_2")
    dropout: float = arg(0.3, help="dropout on history embeddings")
    batch_size: int = arg(256, help="training batch size")
    client_batch_size: int | None = arg(None, help="collab: a client's training batch size (default: "
                                                   "--batch-size; smaller: more local steps from the same "
                                                   "examples)")
    text_weight: float = arg(1.0, help="text-channel weight of every retriever written (the default "
                                       "retriever's validation choice)")
    splits: list[Literal["validation", "test"]] = arg(default_factory=lambda: ["validation", "test"],
                                                      help="splits evaluated")
    local_steps: int = arg(4, help="lora: optimizer steps each client takes per round (the centralised "
                                   "adapter takes rounds * clients * local_steps)")
    val_users: int = arg(100, help="lora: validation users scored (a seeded sample, the same for all)")
    lora_examples: int = arg(800, help="lora: ranking examples built (a seeded sample over all users)")
    lora_batch_size: int = arg(8, help="lora: examples per optimizer step")
    lora_lr: float = arg(5e-4, help="lora: learning rate (constant)")
    dp_noise: list[float] = arg(default_factory=list,
                                help="collab: noise multipliers of differentially private runs (iid, "
                                     "--dp-clients clients, Flower DP, client-side clipping); none: no DP")
    dp_clients: int = arg(10, help="collab: clients of the differentially private runs")
    dp_clip: float = arg(0.0, help="collab: clipping norm of client updates (0: the median update norm of "
                                   "the non-private iid run with --dp-clients clients, per split)")
    dp_delta: float = arg(1e-5, help="collab: delta at which each private run's epsilon is reported (per "
                                     "client, Opacus's RDP accountant)")
    num_cpus: int = arg(2, help="CPUs of the in-process Ray the simulation runs on")
    seed: int = arg(0, help="random seed (partitions, initial model, training)")
    progress: bool = arg(True, help="show progress bars")

    def __post_init__(self):
        if not self.clients or min(self.clients) < 1:
            raise ConfigError(f"--clients must be positive counts, got {self.clients}")
        if self.dp_noise and ("iid" not in self.partitions or self.dp_clients not in self.clients):
            raise ConfigError(f"--dp-noise needs the non-private iid run it is compared with: --partitions "
                              f"{self.partitions} and --clients {self.clients} must include iid and "
                              f"--dp-clients {self.dp_clients}")
        if not 0 < self.dp_delta < 1:
            raise ConfigError(f"--dp-delta must be in (0, 1), got {self.dp_delta}")
        if min(self.dp_noise, default=0.0) < 0 or self.dp_clip < 0:
            raise ConfigError(f"--dp-noise and --dp-clip must be >= 0, got {self.dp_noise} and "
                              f"{self.dp_clip}")
        if self.rounds_per_pass < 0 or (self.rounds_per_pass and self.local_fraction != 1.0):
            raise ConfigError(f"--rounds-per-pass must be >= 0 and is instead of --local-fraction, got "
                              f"{self.rounds_per_pass} with --local-fraction {self.local_fraction}")
        if self.rounds_per_pass:
            object.__setattr__(self, "local_fraction", 1.0 / self.rounds_per_pass)
        passes = self.rounds * self.local_epochs * self.local_fraction
        if not 0 < self.local_fraction <= 1 or abs(passes - round(passes)) > 1e-6 or round(passes) < 1:
            raise ConfigError(f"--local-fraction must be in (0, 1] and make rounds * local_epochs * "
                              f"local_fraction whole passes, got {self.local_fraction} ({passes})")
        if self.server_lr <= 0 or not 0 <= self.server_momentum < 1 or self.server_tau <= 0:
            raise ConfigError(f"--server-lr and --server-tau must be > 0 and --server-momentum in [0, 1), "
                              f"got {self.server_lr}, {self.server_tau} and {self.server_momentum}")
        if self.client_lr is not None and self.client_lr <= 0:
            raise ConfigError(f"--client-lr must be > 0, got {self.client_lr}")
        if self.client_batch_size is not None and self.client_batch_size < 1:
            raise ConfigError(f"--client-batch-size must be >= 1, got {self.client_batch_size}")
        if self.client_steps < 0 or (self.client_steps and self.local_epochs != 1):
            raise ConfigError(f"--client-steps must be >= 0, and with it --local-epochs 1 (a slice of the "
                              f"examples per round), got {self.client_steps} and {self.local_epochs}")
        if self.client_state and self.client_optimizer != "adamw":
            raise ConfigError("--client-state keeps the clients' AdamW state: it needs --client-optimizer "
                              "adamw")
        if not 0 <= self.server_beta2 < 1:
            raise ConfigError(f"--server-beta2 must be in [0, 1), got {self.server_beta2}")
        if self.rounds < 1 or self.local_epochs < 1:
            raise ConfigError(f"--rounds and --local-epochs must be >= 1, got {self.rounds} and "
                              f"{self.local_epochs}")

    @property
    def central_epochs(self) -> int:
        """The centralised model's passes: what the clients make together."""
        return round(self.rounds * self.local_epochs * self.local_fraction)

    def collab(self, epochs: int) -> CollabConfig:
        return CollabConfig(dim=self.dim, window=self.window, epochs=epochs, batch_size=self.batch_size,
                            lr=self.lr, dropout=self.dropout, members=1, seed=self.seed)


# -- training ------------------------------------------------------------------------------------------------
def user_sequences(data: Dataset) -> dict[int, np.ndarray]:
    """Each user's fit interactions as catalog positions, oldest first."""
    return {u: data.catalog.positions(h.items) for u, h in histories(data.interactions).items()}


def train_central(sequences: dict[int, np.ndarray], n_items: int, cfg: FederatedConfig) -> SequenceModel:
    """The baseline: the clients' passes together (``central_epochs``) over every user's sequences."""
    return train_sequence_model(list(sequences.values()), n_items, cfg.collab(cfg.central_epochs),
                                progress=cfg.progress, desc="collab (centralised)")


def train_federated(sequences: dict[int, np.ndarray], n_items: int, groups: list[np.ndarray],
                    cfg: FederatedConfig,
                    dp: tuple[float, float] | None = None) -> tuple[SequenceModel, dict]:
    """FedAvg over one client per group of users (``dp``: (noise multiplier, clipping norm)); returns the
    global model and what the server received."""
    model_cfg = replace(cfg.collab(cfg.local_epochs), batch_size=cfg.client_batch_size or cfg.batch_size,
                        lr=cfg.client_lr or cfg.lr)
    torch.manual_seed(cfg.seed)
    model = SequenceModel(n_items, model_cfg)
    with tempfile.TemporaryDirectory(prefix="llmrec-clients-") as store:
        for i, group in enumerate(groups):  # each client's own data, where only its ClientApp reads it
            own = [sequences[u] for u in group if u in sequences]
            save_client_sequences(Path(store) / f"client-{i}.npz", own)
        run = simulate_fedavg({k: v.numpy() for k, v in model.state_dict().items()},
                              CollabClient(store, n_items, model_cfg, cfg.local_fraction,
                                           cfg.client_state, cfg.client_steps, cfg.client_optimizer),
                              len(groups), cfg.rounds, num_cpus=cfg.num_cpus, dp=dp, server_lr=cfg.server_lr,
                              server_momentum=cfg.server_momentum, server_optimizer=cfg.server_optimizer,
                              server_tau=cfg.server_tau, server_beta2=cfg.server_beta2)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in run.arrays.items()})
    received = {"replies": len(run.received), "records": sorted({r for x in run.received for r in x.records}),
                "metrics": sorted({m for x in run.received for m in x.metrics}),
                "array_names": sorted({a for x in run.received for a in x.arrays}),
                "update_norm_median": float(np.median([x.update_norm for x in run.received])),
                "seconds": round(run.seconds, 1), "dp": list(dp) if dp else None}
    return model.eval(), received


# -- the experiment ------------------------------------------------------------------------------------------
def write_retriever(directory: Path, models: dict[str, SequenceModel], dataset: Dataset,
                    fits: dict[str, str], cfg: FederatedConfig, card: dict) -> None:
    """A retriever directory (as ``python -m retrieval.train`` writes) around one collaborative model per
    split's fit data: ``validation`` -> collab-validation.pt, ``final`` -> collab-final.pt."""
    directory.mkdir(parents=True)
    for name, model in models.items():
        CollabEnsemble([model]).save(directory / f"collab-{name}.pt")
    np.save(directory / "items.npy", dataset.catalog.item_ids)
    atomic_write_text(directory / "card.json", json.dumps(card, indent=2))
    write_manifest(directory, RETRIEVER_KIND, encoder=resolve_embedder(None), text=None,
                   collab=cfg.collab(cfg.central_epochs).to_dict(), text_weight=cfg.text_weight,
                   dataset=dataset.interactions.fingerprint(), fits=fits)


def run_federated(cfg: FederatedConfig, dataset: Dataset) -> dict:
    """Train the centralised and every federated model, write and evaluate them; returns the results."""
    t0 = time.perf_counter()
    splits = {"validation": leave_last_out(dataset, "validation"), "test": leave_last_out(dataset, "test")}
    fit_name = {"validation": "validation", "test": "final"}
    seqs = {s: user_sequences(h.train) for s, h in splits.items()}
    users = np.array(sorted(seqs["test"]))
    regions = user_regions(dataset, users) if "region" in cfg.partitions else None
    n_items = len(dataset.catalog)
    fits = {fit_name[s]: h.train.interactions.fingerprint() for s, h in splits.items()}
    setups = ([("central", None, 1)] + [(p, p, k) for p in cfg.partitions for k in cfg.clients]
              + [(f"dp-{z:g}", "iid", cfg.dp_clients) for z in cfg.dp_noise])
    results: dict = {"config": asdict(cfg), "models": {}}
    with atomic_directory(cfg.output) as tmp:
        for name, how, k in setups:
            label = name if how is None or name.startswith("dp-") else f"{how}-{k}"
            t = time.perf_counter()
            models, card = {}, {"setup": label, "clients": k, "partition": how}
            groups = None if how is None else partition_users(users, k, how, seed=cfg.seed, regions=regions)
            if groups is not None:
                card["client_users"] = [len(g) for g in groups]
            if label.startswith("dp-"):
                z = float(label[3:])
                card["dp"] = {"noise": z, "delta": cfg.dp_delta,
                              "epsilon": epsilon(z, cfg.rounds, cfg.dp_delta)}
            for s in splits:
                if groups is None:
                    models[fit_name[s]] = train_central(seqs[s], n_items, cfg)
                else:
                    dp = None
                    if label.startswith("dp-"):
                        seen = results["models"][f"iid-{k}"][f"server_received_{s}"]["update_norm_median"]
                        dp = (card["dp"]["noise"], cfg.dp_clip or seen)
                    models[fit_name[s]], card[f"server_received_{s}"] = train_federated(seqs[s], n_items,
                                                                                        groups, cfg, dp)
            card["train_seconds"] = round(time.perf_counter() - t, 1)
            write_retriever(tmp / label, models, dataset, fits, cfg, card)
            card["metrics"] = {}
            for s in cfg.splits:
                retriever = DenseRetriever(DenseConfig(retriever=str(tmp / label)))
                report = evaluate_recommender(dataset, retriever, s, recall_cutoffs=(50,),
                                              progress=cfg.progress)
                report.save(tmp / "reports" / f"{label}-{s}.json")
                card["metrics"][s] = report.metrics
            results["models"][label] = card
            log.info("model_done setup=%s metrics=%s", label, card["metrics"])
        results["comparisons"] = compare_all(tmp / "reports", results["models"], cfg.splits)
        if cfg.dp_noise:
            plot_privacy(results, tmp / "privacy.png")
        results["seconds"] = round(time.perf_counter() - t0, 1)
        atomic_write_text(tmp / "results.json", json.dumps(results, indent=2))
        write_manifest(tmp, FEDERATED_KIND, dataset=dataset.interactions.fingerprint(), config=asdict(cfg))
    return results


def compare_all(reports: Path, models: dict, splits: list[str]) -> dict:
    """recall@20 of each federated model minus the centralised one's, with paired bootstrap intervals."""
    out: dict = {}
    for s in splits:
        base = Report.load(reports / f"central-{s}.json")
        for label in models:
            if label == "central":
                continue
            rows = compare_reports(base, Report.load(reports / f"{label}-{s}.json")).set_index("metric")
            row = rows.loc["recall@20"]
            out.setdefault(label, {})[s] = {"diff": float(row["diff"]), "ci": [float(row["ci_low"]),
                                                                                 float(row["ci_high"])],
                                            "relative": float(row["diff"] / row["a"])}
    return out


def results_table(results: dict) -> str:
    rows = []
    for label, card in results["models"].items():
        m = card["metrics"]
        row = [label, card["clients"], f"{card['dp']['epsilon']:.3g}" if card.get("dp") else "-"]
        for s in ("validation", "test"):
            if s not in m:
                row += ["-", "-"]
                continue
            c = results["comparisons"].get(label, {}).get(s)
            rel = "-" if c is None else f"{100 * c['relative']:+.1f}% [{c['ci'][0]:+.4f}, {c['ci'][1]:+.4f}]"
            row += [f"{m[s]['recall@20']:.4f}", rel]
        rows.append(row)
    return format_table(rows, ["model", "clients", "epsilon", "val recall@20", "vs central (95% CI of diff)",
                               "test recall@20", "vs central (95% CI of diff)"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m finetune.federated", description=__doc__.split("\n")[0])
    add_config_arguments(parser, FederatedConfig)
    cfg = config_from_args(FederatedConfig, parser.parse_args(argv))
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    logging.getLogger("flwr").setLevel(logging.WARNING)
    if cfg.model == "lora":
        from finetune.federated_lora import lora_table, run_federated_lora

        results = run_federated_lora(cfg, load_dataset(cfg.data))
        print(lora_table(results))
    else:
        results = run_federated(cfg, load_dataset(cfg.data))
        print(results_table(results))
    print(f"wrote {cfg.output} in {results['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main, prog="python -m finetune.federated"))
