"""Replay evaluation of real-time updates (``python -m eval --protocol replay``): how quickly recommendations
follow a user's new interactions, without retraining.

For each held-out user (or a seeded sample, ``--users N``) the last ``events`` interactions before the
held-out one are taken out of the fit data.  The conversational recommender (no LLM: the retriever, searching
through its item index) starts from what is left, and the withheld interactions are fed back one at a time in
timestamp order through the service's update path (:meth:`~llmrec.converse.engine.Conversations.
add_interaction`).  Before the first event and after each one, the user's *next* item (the next withheld one,
then the held-out item) is ranked among the items the recommender does not know the user has seen; so is the
held-out item.  The static baseline is the same recommender never told about the events.  Reported by number
of events fed: NDCG@10 and hit@10 of both, their paired difference with a bootstrap 95% interval, and a plot.

``--retriever auto`` trains (once, then cached) the default retriever on what the replay starts from:
:func:`replay_splits`, the fit data without the withheld interactions, so its item vectors and its choices
have seen none of the events it is then told about.  A retriever directory given by path is used as it is
(one trained on the full fit data has seen the withheld interactions, which makes the next-item figures
optimistic); the untrained text retriever (the default here) has seen nothing, so its curve measures the
update path alone.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from llmrec.artifacts import atomic_directory, atomic_write_figure, write_manifest
from llmrec.converse import Conversations, ConverseConfig
from llmrec.data import Dataset, Interactions
from llmrec.errors import ConfigError
from llmrec.evaluation.metrics import ndcg_at, recall_at
from llmrec.evaluation.report import paired_bootstrap
from llmrec.params import parse_params
from llmrec.split import HoldoutSplit, leave_last_out, seeded_sample
from llmrec.tables import format_table

__all__ = ["REPLAY_KIND", "ReplayConfig", "replay", "replay_splits", "run_replay"]

log = logging.getLogger(__name__)

REPLAY_KIND = "replay-evaluation"


@dataclass(frozen=True, kw_only=True)
class ReplayConfig:
    """The replay protocol's settings (``python -m eval --protocol replay --param events=10``)."""

    events: int = 10  # interactions per user withheld from the fit data and fed back as events
    users: int = 0  # a seeded sample of this many held-out users (0: all)
    seed: int = 0  # the sample's seed and the bootstrap's
    cutoff: int = 10  # NDCG@cutoff and hit@cutoff

    def __post_init__(self) -> None:
        for name in ("events", "cutoff"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"replay {name} must be a positive integer, got {value!r}")
        if isinstance(self.users, bool) or not isinstance(self.users, int) or self.users < 0:
            raise ConfigError(f"replay users must be 0 (all) or a positive integer, got {self.users!r}")


def _withheld(dataset: Dataset, split: str, cfg: ReplayConfig) -> tuple[Dataset, dict[int, pd.DataFrame],
                                                                          dict[int, int]]:
    """(fit data without each sampled user's last ``events`` fit interactions, those rows by user, the
    held-out item by user)."""
    held = leave_last_out(dataset, split)
    fit = held.train.interactions.ordered()
    counts = fit.groupby("user").size()
    targets = dict(zip(held.targets["user"].tolist(), held.targets["item"].tolist()))
    eligible = [u for u in sorted(targets) if counts.get(u, 0) > cfg.events]  # keep >= 1 item
    users = seeded_sample(eligible, cfg.users, cfg.seed)
    from_end = fit.groupby("user").cumcount(ascending=False).to_numpy()
    out = fit["user"].isin(users).to_numpy() & (from_end < cfg.events)
    withheld = {int(u): rows.reset_index(drop=True) for u, rows in fit.loc[out].groupby("user")}
    start = held.train.with_interactions(Interactions(fit.loc[~out].reset_index(drop=True)))
    return start, withheld, {u: int(targets[u]) for u in users}


def replay_splits(dataset: Dataset, split: str, config: ReplayConfig) -> tuple[HoldoutSplit, HoldoutSplit]:
    """(validation, test) splits a retriever may learn from before the replay: the "test" fit data is the
    replay's start (the fit data without the withheld interactions), the validation split that start's own
    leave-last-out (each user's last remaining interaction held out), so neither fitting nor choosing sees an
    event the replay later feeds back or the held-out item."""
    start = _withheld(dataset, split, config)[0]
    validation = dataclasses.replace(leave_last_out(start, "test"), name="validation")
    held = leave_last_out(dataset, split)
    return validation, HoldoutSplit("test", start, held.targets)


def _rank(conv: Conversations, history, items: list[int]) -> list[int]:
    """0-based ranks of ``items`` in the recommender's full ranking of the items not in ``history``."""
    allowed = conv.catalog.item_ids[~np.isin(conv.catalog.item_ids, history.items)]
    ranked = conv.retriever.search(history, allowed, len(allowed)).items
    where = {int(i): n for n, i in enumerate(ranked.tolist())}
    return [where.get(int(i), len(allowed)) for i in items]


def replay(dataset: Dataset, split: str = "test", *, retriever: str | None = None,
           config: ReplayConfig = ReplayConfig(), progress: bool = True) -> dict[str, Any]:
    """Run the protocol (module doc); the per-step figures and the per-user ranks."""
    t0 = time.perf_counter()
    start, withheld, targets = _withheld(dataset, split, config)
    users, n = sorted(targets), config.events
    conv = Conversations(start, ConverseConfig(retriever=retriever, llm=False, db=":memory:"))
    try:
        retr = conv.retriever
        static = {u: conv.history(u) for u in users}
        retr.prepare(list(static.values()))
        rows = []
        for u in tqdm(users, desc="static", disable=not progress):
            nexts = [*withheld[u]["item"].tolist(), targets[u]]
            ranks = _rank(conv, static[u], nexts)
            rows += [(u, j, "static", nexts[j], ranks[j], ranks[-1]) for j in range(n + 1)]
        for j in tqdm(range(n + 1), desc="events fed", disable=not progress):
            if j:  # feed each user's j-th withheld interaction through the service's update path
                for u in users:
                    e = withheld[u].iloc[j - 1]
                    conv.add_interaction(u, int(e["item"]), float(e["rating"]), int(e["timestamp"]))
            histories = {u: conv.history(u) for u in users}
            retr.prepare(list(histories.values()))
            for u in users:
                nxt = int(withheld[u]["item"].iloc[j]) if j < n else targets[u]
                r_next, r_held = _rank(conv, histories[u], [nxt, targets[u]])
                rows.append((u, j, "updated", nxt, r_next, r_held))
    finally:
        conv.close()
    ranks = pd.DataFrame(rows, columns=["user", "events", "arm", "next_item", "next_rank", "heldout_rank"])
    return {"split": split, "retriever": retriever or "untrained", "users": len(users), "events": n,
            "cutoff": config.cutoff, "seed": config.seed, "steps": _steps(ranks, config),
            "pooled": _pooled(ranks, config), "seconds": round(time.perf_counter() - t0, 1), "ranks": ranks}


def _steps(ranks: pd.DataFrame, cfg: ReplayConfig) -> list[dict[str, Any]]:
    """Per number of events fed: NDCG@k / hit@k of the next item and of the held-out item, updated and static,
    with the paired bootstrap 95% interval of updated - static."""
    k, out = cfg.cutoff, []
    for j, step in ranks.groupby("events"):
        arms = {arm: part.sort_values("user") for arm, part in step.groupby("arm")}
        row: dict[str, Any] = {"events": int(j)}
        for target in ("next", "heldout"):
            for name, fn in ((f"ndcg@{k}", ndcg_at), (f"hit@{k}", recall_at)):
                up, st = (fn(arms[a][f"{target}_rank"].to_numpy(), k) for a in ("updated", "static"))
                low, high = paired_bootstrap(up - st, random_state=cfg.seed)
                row[f"{target}_{name}"] = {"updated": float(up.mean()), "static": float(st.mean()),
                                           "diff": float((up - st).mean()), "ci": [low, high]}
        out.append(row)
    return out


def _pooled(ranks: pd.DataFrame, cfg: ReplayConfig) -> dict[str, Any]:
    """Next-item NDCG@k / hit@k averaged over the steps after 1..events events, per user, updated and static,
    with the paired bootstrap 95% interval of updated - static (one pair per user)."""
    k, after = cfg.cutoff, ranks[ranks["events"] >= 1]
    out: dict[str, Any] = {}
    for name, fn in ((f"ndcg@{k}", ndcg_at), (f"hit@{k}", recall_at)):
        per_user = (after.assign(v=fn(after["next_rank"].to_numpy(), k))
                    .pivot_table(index="user", columns="arm", values="v", aggfunc="mean"))
        diff = (per_user["updated"] - per_user["static"]).to_numpy()
        low, high = paired_bootstrap(diff, random_state=cfg.seed)
        out[f"next_{name}"] = {"updated": float(per_user["updated"].mean()),
                               "static": float(per_user["static"].mean()), "diff": float(diff.mean()),
                               "ci": [low, high]}
    return out


def _plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k, steps = result["cutoff"], result["steps"]
    x = [s["events"] for s in steps]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharex=True)
    for ax, target, title in ((axes[0], "next", "the next item"), (axes[1], "heldout", "the held-out item")):
        for arm, style in (("updated", "o-"), ("static", "s--")):
            ax.plot(x, [s[f"{target}_ndcg@{k}"][arm] for s in steps], style, label=arm)
        ax.set_title(f"NDCG@{k} of {title}")
        ax.set_xlabel("events fed (interactions posted)")
        ax.grid(alpha=0.3)
        ax.legend()
    retriever = result["retriever"]
    if retriever == "auto":
        retriever = "auto (trained without the withheld interactions)"
    fig.suptitle(f"replay, {result['split']} split, {result['users']} users, retriever {retriever}")
    fig.tight_layout()
    atomic_write_figure(fig, path, dpi=120)


def save(result: dict[str, Any], directory: str | Path) -> Path:
    """Write replay.json, ranks.csv and replay.png atomically into ``directory``, with a manifest."""
    with atomic_directory(directory) as tmp:
        summary = {key: value for key, value in result.items() if key != "ranks"}
        (tmp / "replay.json").write_text(json.dumps(summary, indent=2))
        result["ranks"].to_csv(tmp / "ranks.csv", index=False)
        _plot(result, tmp / "replay.png")
        write_manifest(tmp, REPLAY_KIND, split=result["split"], users=result["users"],
                       events=result["events"])
    return Path(directory)


def table(result: dict[str, Any]) -> str:
    """The per-step figures as a text table."""
    k, rows = result["cutoff"], []
    for s in result["steps"]:
        nx, hd, hit = s[f"next_ndcg@{k}"], s[f"heldout_ndcg@{k}"], s[f"next_hit@{k}"]
        rows.append([s["events"], nx["updated"], nx["static"],
                     f"{nx['diff']:+.4f} [{nx['ci'][0]:+.4f}, {nx['ci'][1]:+.4f}]", hit["updated"],
                     hit["static"], hd["updated"], hd["static"]])
    return format_table(rows, ["events fed", f"next NDCG@{k}", "static", "diff [95% CI]", f"next hit@{k}",
                               "static", f"held-out NDCG@{k}", "static"])


def run_replay(config: Any, dataset: Dataset) -> int:
    """``python -m eval --protocol replay`` (``config``: the eval CLI's config; ``--param events=N`` and
    ``--param cutoff=K`` set the protocol, ``--users``/``--seed`` the sample, ``--output DIR`` the files)."""
    params = parse_params(config.param)
    unknown = sorted(set(params) - {"events", "cutoff"})
    if unknown:
        raise ConfigError(f"--protocol replay takes --param events=N and cutoff=K, got {unknown}")
    cfg = ReplayConfig(users=config.users, seed=config.seed, **params)
    retriever = None
    if config.retriever == "auto":  # trained without the events it will be told about (module doc)
        from retrieval.train import ensure_retriever

        splits = replay_splits(dataset, config.split, cfg)
        retriever = str(ensure_retriever(dataset, splits=splits, progress=config.progress))
    elif config.retriever not in (None, "untrained"):
        retriever = config.retriever
    result = replay(dataset, config.split, retriever=retriever, config=cfg, progress=config.progress)
    result["retriever"] = config.retriever or "untrained"
    print(f"replay on {result['split']}: {result['users']} users, {result['events']} events each, retriever "
          f"{result['retriever']} ({result['seconds']} s)")
    print(table(result))
    for name, v in result["pooled"].items():
        low, high = v["ci"]
        print(f"after 1..{result['events']} events, {name.replace('_', ' ')}: updated {v['updated']:.4f}, "
              f"static {v['static']:.4f}, diff {v['diff']:+.4f} [95% CI {low:+.4f}, {high:+.4f}]")
    if config.output:
        print(f"wrote {save(result, config.output)}")
    return 0
