"""The flags of ``python -m eval``: :class:`EvalConfig`, one frozen dataclass the command line is built from
(:mod:`eval.cli` runs it; :mod:`eval.modes` reads it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from llmrec.cli import DataArgs
from llmrec.configargs import arg
from llmrec.errors import ConfigError

__all__ = ["EvalConfig"]


@dataclass(frozen=True, kw_only=True)
class EvalConfig(DataArgs):
    recommender: str = arg("popularity", help="recommender to evaluate")
    param: list[str] = arg(default_factory=list, repeat=True,
                           help="recommender config values as key=value (JSON values); repeatable")
    retriever: str | None = arg(None, help="trained retriever directory (python -m retrieval.train), or "
                                           "'auto' for the cached default one (trained on first use); "
                                           "same as --param retriever=PATH")
    orders: list[Literal["retriever", "shuffled"]] = arg(
        default_factory=lambda: ["retriever", "shuffled"],
        help="llm recommender: candidate orders shown to the LLM, one evaluation each, beside the "
             "retriever's own order on the same candidates")
    adapter: str | None = arg(None, help="llm recommender: LoRA adapter directory (python -m "
                                         "finetune.lora); same as --param adapter=PATH")
    sampled: int = arg(0, help="rank the held-out item among itself and N random unseen items (e.g. 19: HR@1 "
                               "among 20) instead of among all unseen items")
    explanations: bool = arg(False, help="evaluate the LLM's explanations of each user's top-1 item instead "
                                         "(faithfulness against the catalog and history, raw and verified, "
                                         "deletion test); zero-shot, and with --adapter beside it")
    users: int = arg(0, help="a seeded sample (--seed) of this many held-out users (0: all): for an "
                             "evaluation, --explanations, --simulate and --protocol replay")
    deletion: bool = arg(True, help="--explanations: run the deletion test (two more scored prompts "
                                    "per user)")
    deletion_users: int = arg(0, help="--explanations: the deletion test on a seeded sample of this many of "
                                      "the evaluated users, the ones --users N picks (0: all of them)")
    explain_param: list[str] = arg(default_factory=list, repeat=True,
                                   help="--explanations: explainer config values as key=value (e.g. "
                                        "temperature=0.7); repeatable")
    conversation: bool = arg(False, help="evaluate conversational requests instead (eval.conversation): "
                                         "parse exact match on the constraint benchmark (--split test: its "
                                         "test templates; validation: its training templates) and the "
                                         "hand-written sets, constraint violations of answered requests, "
                                         "latency")
    simulate: bool = arg(False, help="simulated users instead (eval.simulate): each held-out user's "
                                     "simulator describes the held-out item without naming it and reacts "
                                     "to each list for up to --turns turns; hit@10 per turn for the LLM "
                                     "pipeline, "
                                     "deterministic parsing without the LLM, and the offline top-10, with "
                                     "paired intervals (--users N: a seeded sample)")
    turns: int = arg(5, help="--simulate: turns per conversation")
    items_model: str | None = arg(None, help="--simulate: item-token model directory (python -m "
                                             "finetune.items); the LLM pipeline ranks every allowed item "
                                             "with it, fused with the retriever (no title rerank)")
    items_ensemble: list[str] | None = arg(None, help="--simulate with --items-model: more item-token models "
                                                      "(other training seeds), their log-probabilities "
                                                      "averaged")
    items_weight: float | None = arg(None, help="--simulate with --items-model: the item-token LLM's weight "
                                               "against the retriever's 1 (default: the engine's; choose on "
                                               "validation)")
    items_seed_weight: float | None = arg(None, help="--simulate with --items-model: its weight on a turn "
                                                     "that names 'like X' items (default: the engine's)")
    items_seeds: bool = arg(False, help="--simulate with --items-model: write the 'like X' items after the "
                                       "history in the item-token model's prompt")
    no_llm: bool = arg(False, help="--conversation: deterministic parsing and the retriever only")
    parser_adapter: str | None = arg(None, help="--conversation: LoRA parser adapter directory (python -m "
                                                "finetune.parser) reading the loose clauses, served beside "
                                                "the ranking adapter; the zero-shot reading is reported "
                                                "beside it")
    requests: int = arg(0, help="--conversation: answer a seeded sample of this many benchmark requests (0: "
                                "all)")
    split: Literal["test", "validation"] = arg("test", help="held-out split (choose settings on validation)")
    output: str | None = arg(None, help="write the JSON report here (per-user ranks beside it)")
    nonfinite: Literal["error", "last"] = arg("error", help="NaN/inf scores: fail, or rank those items last")
    compare: tuple[str, str] | None = arg(None, help="compare two reports A B: paired bootstrap CIs of B - A")
    objectives: list[str] = arg(default_factory=list, help=(
        "sweep the re-ranking weights (diversity, calibration, popularity, popularity calibration; a "
        "popularity weight for the long tail) for these recommenders, choose them on validation within "
        "--budget, report test; with --output DIR: objectives.json and pareto.png "
        "(eval.objectives)"))
    budget: float = arg(0.02, help="--objectives: relative NDCG@10 loss allowed when choosing a weight")
    test_param: list[str] = arg(default_factory=list, repeat=True, help=(
        "--objectives: config values as key=value for the test split's run only, over --param (an "
        "item-token model refitted on the test split's fit data: --param model=runs/items-s0 --test-param "
        "model=runs/items-s0-test)"))
    slices: list[str] = arg(default_factory=list, help="NDCG@10 of saved reports by slice (held-out item in "
                                                       "the short head or long tail, history length, gender, "
                                                       "age, occupation) with paired CIs against the first "
                                                       "(eval.slices)")
    resamples: int = arg(10_000, help="bootstrap resamples for --compare")
    seed: int = arg(0, help="bootstrap seed for --compare; the seed of the --users sample; with "
                            "--explanations also the deletion test's random items and its bootstrap; with "
                            "--protocol cold-items/cold-users the seed of the cold items / users")
    progress: bool = arg(True, help="show a progress bar")
    verbose: bool = arg(False, help="keep INFO logging (vLLM's included); default: warnings only")
    protocol: Literal["holdout", "cold-items", "cold-users", "replay"] = arg(
        "holdout", help="holdout: leave-last-out; cold-items: a seeded --cold-share of items lose all their "
                        "fit interactions, users whose held-out item is one of them are evaluated; "
                        "cold-users: a seeded --cold-share of users keep their first --history-lengths fit "
                        "interactions (--seed seeds both; docs/cold-start.md); replay: eval.replay")
    cold_share: float = arg(0.1, help="--protocol cold-items/cold-users: share of items / users made cold")
    history_lengths: list[int] = arg(default_factory=lambda: [1, 3, 5],
                                     help="--protocol cold-users: fit interactions each cold user keeps")

    def __post_init__(self) -> None:
        if self.users < 0:
            raise ConfigError(f"--users must be 0 (all) or a positive number of users, got {self.users}")
        ignoring = [flag for flag, on in (
            ("--compare", bool(self.compare)), ("--slices", bool(self.slices)),
            ("--objectives", bool(self.objectives)), ("--conversation", self.conversation),
            (f"--protocol {self.protocol}", self.protocol in ("cold-items", "cold-users"))) if on]
        if self.users and ignoring:
            raise ConfigError(f"--users samples held-out users, which {ignoring[0]} does not use: "
                              "it evaluates every one")
