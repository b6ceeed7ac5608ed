"""``python -m eval.generative``: the item-token LLM (``genllm``) against the retriever, and their fusion.

1. Validation split: the LLM's scores over the whole catalog for every user (one engine call) and the
   retriever's; the fusion weight ``retriever_weight`` (``llm_weight`` 1) with the best NDCG@10, the share
   of the merged candidate set the LLM contributes with the best recall@50, and the sampled protocol's own
   fusion weight ``sampled_weight`` (the best HR@1 among 20 candidates) are chosen here.
2. Test split: the LLM alone, the retriever, the fusion at the chosen weight (full ranking, with paired
   bootstrap intervals of the differences from the retriever), candidate recall@50 of the merged set, and
   the sampled protocol (the held-out item among 19 random unseen items: HR@1).  Reports (with the chosen
   settings) are written to ``--output``.

    python -m eval.generative --model runs/items --retriever auto --output runs/generative
    python -m eval.generative --model runs/items --test-model runs/items-test ...   # a refit for test
    python -m eval.generative --model runs/items-s0 runs/items-s1 --test-model runs/items-s0-test \
        runs/items-s1-test ...                                                    # an ensemble of seeds

With ``--test-model`` the test figures come from a model refitted on the test split's fit data (validation
items are targets too, as the retriever is refitted), at the settings chosen on validation with ``--model``;
``--chosen`` takes the settings of an earlier run instead (other training seeds).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from llmrec.artifacts import atomic_write_text
from llmrec.configargs import arg, parse_config, run_main
from llmrec.data import Dataset, load_dataset
from llmrec.evaluation.report import Report, compare_reports, paired_bootstrap
from llmrec.evaluation.runner import evaluate_recommender
from llmrec.history import History, histories
from llmrec.llm.generative import GenLLM, GenLLMConfig
from llmrec.recommenders import create_recommender
from llmrec.split import leave_last_out, sample_users, target_items
from llmrec.tables import format_table
from retrieval.train import resolve_retriever

__all__ = ["GenerativeConfig", "candidate_recall", "hit_at_1", "main"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class GenerativeConfig:
    model: list[str] = arg(help="item-token model directory (python -m finetune.items); several (other "
                                "training seeds): an ensemble, their log-probabilities averaged")
    test_model: list[str] | None = arg(None, help="the model(s) for the test split (default --model): a "
                                                  "refit on the test split's fit data, python -m "
                                                  "finetune.items --split test")
    chosen: str | None = arg(None, help="generative.json of an earlier run: its validation choices "
                                        "(retriever weight, LLM share) are used, no validation pass")
    data: str | None = arg(None, help="MovieLens-100K directory (default: $LLMREC_DATA or ../shared/data)")
    retriever: str = arg("auto", help="retriever directory ('auto': the cached default one)")
    backend: str = arg("vllm", help="vllm or transformers")
    weights: list[float] = arg(default_factory=lambda: [0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0],
                               help="retriever weights tried with llm_weight 1 (validation)")
    candidates: int = arg(50, help="size of the merged candidate set (recall@N)")
    llm_shares: list[int] = arg(default_factory=lambda: [0, 5, 10, 15, 20, 25, 30, 40, 50],
                                help="LLM items tried in the merged candidate set (validation)")
    sampled: int = arg(19, help="random unseen items beside the held-out one in the sampled protocol")
    users: int = arg(0, help="a seeded sample of this many held-out users per split (0: all; a quick look, "
                             "not a figure to report)")
    output: str | None = arg(None, help="directory for the reports and the chosen settings")
    progress: bool = arg(False, help="progress bars")


def _merged(llm: np.ndarray, retr: np.ndarray, seen: np.ndarray, n: int, share: int) -> np.ndarray:
    """Positions of the merged candidate set: the LLM's top ``share`` unseen items, then the retriever's
    best unseen items not already in it, ``n`` in all."""
    llm, retr = llm.copy(), retr.copy()
    llm[seen], retr[seen] = -np.inf, -np.inf
    top = list(np.argsort(-llm, kind="stable")[:share]) if share else []
    taken = set(top)
    for i in np.argsort(-retr, kind="stable"):
        if len(top) >= n:
            break
        if i not in taken:
            top.append(int(i))
    return np.asarray(top)


def candidate_recall(llm: np.ndarray, retr: np.ndarray, hs: list[History], targets: np.ndarray, rec: GenLLM,
                     n: int, share: int) -> np.ndarray:
    """Per user: 1 when the held-out item is in the merged candidate set of ``n`` (``share`` from the LLM)."""
    out = np.zeros(len(hs))
    for u, h in enumerate(hs):
        seen = rec.vocab.positions(h.items)
        out[u] = float(targets[u] in set(_merged(llm[u], retr[u], seen, n, share).tolist()))
    return out


def _scores(rec: GenLLM, retriever, data: Dataset, split_name: str, users: int = 0):
    held = sample_users(leave_last_out(data, split_name), users)
    hs_all = histories(held.train.interactions)
    tg = target_items(held)
    users = sorted(tg)
    hs = [hs_all[u] for u in users]
    llm = rec.item_logprobs(hs)
    retr = np.stack([retriever.score(h, rec.vocab.item_ids) for h in hs])
    return hs, rec.vocab.positions([tg[u] for u in users]), llm, retr


@dataclass
class _SplitRun:
    """One split's shared pieces: the retriever fitted on its fit data, the engine, the LLM's score cache."""

    cfg: GenerativeConfig
    model: list[str]
    data: Dataset
    split: str
    retriever: object
    backend: object
    cache: dict
    out: Path | None

    def report(self, weight: float | None, sampled: int = 0, name: str = "") -> Report:
        """The retriever alone (``weight`` None), the LLM alone (0) or their fusion at ``weight``."""
        if weight is None:
            rec = self.retriever
        else:
            c = GenLLMConfig(model=self.model[0], ensemble=self.model[1:], backend=self.cfg.backend,
                             retriever_weight=weight)
            rec = GenLLM(c, backend=self.backend, retriever=self.retriever if weight else None,
                         cache=self.cache)  # every score is in the shared cache: no member engine starts
        rep = evaluate_recommender(self.data, rec, self.split, progress=self.cfg.progress, sampled=sampled,
                                   recall_cutoffs=(50,), users=self.cfg.users)
        if self.out is not None and name:
            rep.save(self.out / f"{name}.{self.split}.json")
        return rep


def hit_at_1(report: Report) -> float:
    """The share of users whose held-out item is ranked first (the sampled protocol's HR@1)."""
    return float((report.ranks["rank"] == 0).mean())


def _validation(cfg: GenerativeConfig, run: _SplitRun, scores) -> dict:
    hs, targets, llm, retr, rec = scores
    rows = []
    for w in [0.0, *cfg.weights]:
        m = run.report(w).metrics
        hr1 = hit_at_1(run.report(w, sampled=cfg.sampled))
        rows.append([f"{w:g}" if w else "LLM alone", m["ndcg@5"], m["ndcg@10"], m["recall@20"], hr1])
    m = run.report(None).metrics
    rows.append(["retriever alone", m["ndcg@5"], m["ndcg@10"], m["recall@20"],
                 hit_at_1(run.report(None, sampled=cfg.sampled))])
    best = max(cfg.weights, key=lambda w: rows[[r[0] for r in rows].index(f"{w:g}")][2])
    sampled_best = max(cfg.weights, key=lambda w: rows[[r[0] for r in rows].index(f"{w:g}")][4])
    shares = {s: float(candidate_recall(llm, retr, hs, targets, rec, cfg.candidates, s).mean())
              for s in cfg.llm_shares}
    share = max(shares, key=lambda s: (shares[s], -s))
    print(format_table(rows, ["validation: retriever weight", "NDCG@5", "NDCG@10", "recall@20",
                              f"sampled HR@1 (+{cfg.sampled})"]))
    print(format_table([[s, v] for s, v in shares.items()],
                       [f"validation: LLM items in the {cfg.candidates}", f"recall@{cfg.candidates}"]))
    print(f"chosen on validation: retriever_weight={best:g}, LLM share {share}, sampled protocol's "
          f"retriever_weight={sampled_best:g}")
    return {"retriever_weight": best, "llm_share": share, "sampled_weight": sampled_best,
            "validation_fusion": rows,
            "validation_candidate_recall": {str(k): v for k, v in shares.items()},
            "llm_seconds_per_user_validation": rec.stats()["llm_seconds_per_user"]}


def _test(cfg: GenerativeConfig, run: _SplitRun, scores, chosen: dict) -> dict:
    hs, targets, llm, retr, rec = scores
    reports = {"genllm": run.report(0.0, name="genllm"), "retriever": run.report(None, name="retriever"),
               "fused": run.report(chosen["retriever_weight"], name="fused")}
    rows = [[k, r.metrics["ndcg@5"], r.metrics["ndcg@10"], r.metrics["recall@20"], r.metrics["recall@50"]]
            for k, r in reports.items()]
    print(format_table(rows, [f"test ({reports['fused'].n_users} users)", "NDCG@5", "NDCG@10", "recall@20",
                              "recall@50"]))
    diffs = []
    for name in ("genllm", "fused"):
        cmp = compare_reports(reports["retriever"], reports[name]).set_index("metric")
        for metric in ("ndcg@5", "ndcg@10", "recall@20"):
            r = cmp.loc[metric]
            diffs.append([f"{name} - retriever", metric, r["diff"],
                          f"[{r['ci_low']:+.4f}, {r['ci_high']:+.4f}]", f"{r['diff'] / r['a']:+.1%}"])
    print(format_table(diffs, ["test", "metric", "difference", "95% CI", "relative"]))
    merged = candidate_recall(llm, retr, hs, targets, rec, cfg.candidates, chosen["llm_share"])
    alone = candidate_recall(llm, retr, hs, targets, rec, cfg.candidates, 0)
    lo, hi = paired_bootstrap(merged - alone)
    print(f"candidate recall@{cfg.candidates}: retriever {alone.mean():.4f}, merged (LLM share "
          f"{chosen['llm_share']}) {merged.mean():.4f}, difference [{lo:+.4f}, {hi:+.4f}]")
    runs = [("retriever", None, "retriever"), ("genllm", 0.0, "genllm"),
            ("fused", chosen["retriever_weight"], "fused")]
    if "sampled_weight" in chosen:  # the sampled protocol's own weight (chosen on validation)
        runs.append(("fused at the sampled weight", chosen["sampled_weight"], "fused-sw"))
    sampled = {k: run.report(w, sampled=cfg.sampled, name=f"{name}-sampled") for k, w, name in runs}
    hr1 = {k: hit_at_1(r) for k, r in sampled.items()}
    print(f"sampled protocol (held-out + {cfg.sampled}): HR@1 "
          + ", ".join(f"{k} {v:.4f}" for k, v in hr1.items()))
    per_user = rec.stats()["llm_seconds_per_user"]
    print(f"LLM scoring ({cfg.backend}): {chosen['llm_seconds_per_user_validation']:.4f} s/user on "
          f"validation, {per_user:.4f} on test")
    return {"test": {k: r.metrics for k, r in reports.items()}, "test_differences": diffs,
            "candidate_recall": {"retriever": alone.mean(), "merged": merged.mean(), "ci": [lo, hi]},
            "sampled_hr@1": hr1, "llm_seconds_per_user_test": per_user}


def main(argv: list[str] | None = None) -> int:
    cfg = parse_config(GenerativeConfig, argv, prog="python -m eval.generative",
                       description=__doc__.split("\n")[0])
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    data = load_dataset(cfg.data)
    retr_dir = resolve_retriever(cfg.retriever, data)
    out = Path(cfg.output) if cfg.output else None
    chosen: dict = {}
    if cfg.chosen:
        earlier = json.loads(Path(cfg.chosen).read_text(encoding="utf-8"))
        chosen = {k: earlier[k] for k in ("retriever_weight", "llm_share", "sampled_weight",
                                          "llm_seconds_per_user_validation") if k in earlier}
        chosen["chosen_from"] = cfg.chosen
        print(f"validation choices from {cfg.chosen}: retriever_weight={chosen['retriever_weight']:g}, "
              f"LLM share {chosen['llm_share']}")
    backend, served, previous = None, None, None
    for split in ("validation", "test"):
        if split == "validation" and cfg.chosen:
            continue
        model = cfg.test_model or cfg.model if split == "test" else cfg.model
        if previous is not None and model != served:  # another model: another engine
            previous.close()
            previous, backend = None, None
        fit = leave_last_out(data, split).train
        retriever = create_recommender("dense", {"retriever": retr_dir}).fit(fit)
        cache: dict = {}
        base = GenLLMConfig(model=model[0], ensemble=model[1:], backend=cfg.backend)
        rec = GenLLM(base, backend=backend, cache=cache)
        if previous is not None:  # the same models on the next split: their engines carry over
            rec.members = previous.members
        rec.fit(fit)
        scores = (*_scores(rec, retriever, data, split, cfg.users), rec)
        backend, served, previous = rec.backend, model, rec
        run = _SplitRun(cfg, model, data, split, retriever, backend, cache, out)
        chosen |= _validation(cfg, run, scores) if split == "validation" else _test(cfg, run, scores, chosen)
    chosen["models"] = {"validation": None if cfg.chosen else cfg.model, "test": cfg.test_model or cfg.model}
    if previous is not None:
        previous.close()
    if out is not None:
        atomic_write_text(out / "generative.json", json.dumps(chosen, indent=2, default=float))
        print(f"reports and choices written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main, prog="python -m eval.generative"))
