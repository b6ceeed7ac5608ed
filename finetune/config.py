"""The configuration of ``python -m finetune.lora``, by concern.

:class:`LoraTrainConfig` composes four groups — :class:`SaveConfig` (where the adapter goes),
:class:`ExamplesConfig` (the data and what a training example is), :class:`AdapterConfig` (the base model and
its LoRA) and :class:`TrainingConfig` (the optimisation and its checkpoints) — and the run-wide ``smoke`` and
``progress``.  On the command line the groups are flattened (:mod:`llmrec.configargs`): ``--lr``, not
``--training-lr``.  Each group checks its values when built and names the bad one.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any, Literal

from finetune.data import Negatives
from llmrec.configargs import arg
from llmrec.errors import ConfigError
from llmrec.llm.ranker import LABELS

__all__ = ["ALL_MODULES", "AdapterConfig", "ExamplesConfig", "LoraTrainConfig", "SaveConfig",
           "TrainingConfig"]

ALL_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def _check(cfg: Any, **rules: bool) -> None:
    """Refuse the first field whose rule fails, and any ``Literal`` field outside its choices, showing the
    value."""
    for name, tp in typing.get_type_hints(type(cfg)).items():
        choices = typing.get_args(tp) if typing.get_origin(tp) is Literal else None
        if choices and getattr(cfg, name) not in choices:
            raise ConfigError(f"--{name.replace('_', '-')} must be one of {list(choices)}, got "
                              f"{getattr(cfg, name)!r}")
    for name, ok in rules.items():
        if not ok:
            raise ConfigError(f"--{name.replace('_', '-')}: {_RULES[name]}, got {getattr(cfg, name)!r}")


_RULES = {  # what each checked field must be, for the message
    "output": "needs a directory", "per_user": "must be >= 1", "max_examples": "must be >= 1 (or None: all)",
    "candidates": f"must be between 1 and {len(LABELS)}", "explain_examples": "must be >= 0",
    "r": "must be >= 1", "alpha": "must be > 0", "dropout": "must be in [0, 1)",
    "target_modules": "must name at least one module and not lm_head (vLLM drops a LoRA delta on it)",
    "layers": "must be >= 0 (0: all layers)", "epochs": "must be > 0",
    "max_steps": "must be >= 1, or -1 (epochs decide)", "batch_size": "must be >= 1",
    "grad_accum": "must be >= 1", "lr": "must be > 0", "eval_steps": "must be >= 1",
    "val_users": "must be >= 1", "seed": "must be >= 0",
}


@dataclass(frozen=True, kw_only=True)
class SaveConfig:
    """Where the adapter is written and the name it is served under."""

    output: str = arg(help="directory to write the adapter to")
    name: str | None = arg(None, help="the adapter's served name (default: the output directory's name)")

    def __post_init__(self) -> None:
        _check(self, output=bool(self.output))


@dataclass(frozen=True, kw_only=True)
class ExamplesConfig:
    """The data, the candidates, and what a training example is."""

    data: str | None = arg(
        None, help="MovieLens-100K directory (default: $LLMREC_DATA or ../shared/data/ml-100k)")
    retriever: str = arg(
        "auto", help="trained retriever directory for the candidates; 'auto': the cached default one; "
                     "'untrained': the text-only retriever")
    per_user: int = arg(10, help="training targets per user (the most recent of the fit history); retriever "
                                  "examples are kept only when the retriever proposes the target")
    negatives: Negatives = arg(
        "retriever", help="candidates of an example: the retriever's top K (when it holds the target; what "
                          "the ranker is served), random items, or half of each")
    retriever_order: bool = arg(
        True, help="retriever examples keep the retriever's candidate order (as served); "
                   "--no-retriever-order shuffles them")
    max_examples: int | None = arg(1600, help="cap on training examples (a seeded sample); the default keeps "
                                              "training within ~40 min on 2 CPU cores")
    candidates: int = arg(20, help="K candidates per prompt (as the ranker)")
    details: Literal["titles", "full"] = arg(
        "titles", help="item facts in the ranking prompt the adapter is trained for (recorded in its "
                       "manifest; the ranker serving it uses the same): titles, or title, year, genres and "
                       "rating (~3x the tokens, ~3x the time)")
    explain_examples: int = arg(
        600, help="explanation targets trained alongside the ranking answers (the explanation request after "
                  "an example's ranking prompt, answered from catalog facts: shared genres, cited history "
                  "items); 0: none")
    shared_prompts: bool = arg(
        True, help="an explanation example continues its ranking example's prompt: train both answers from "
                   "one row, one pass over that prompt (--no-shared-prompts: two rows)")

    def __post_init__(self) -> None:
        _check(self, per_user=self.per_user >= 1,
               max_examples=self.max_examples is None or self.max_examples >= 1,
               candidates=1 <= self.candidates <= len(LABELS), explain_examples=self.explain_examples >= 0)


@dataclass(frozen=True, kw_only=True)
class AdapterConfig:
    """The base model, the LoRA put on it, and the read-out and loss it is trained for."""

    model: str | None = arg(
        None, help="base LLM (hub id or path; default: the bundled SmolLM2-135M-Instruct)")
    r: int = arg(16, help="LoRA rank")
    alpha: int = arg(32, help="LoRA alpha")
    dropout: float = arg(
        0.0, help="LoRA dropout (on CPU its random masks cost ~15%% of a step; one epoch over examples seen "
                  "once hardly needs it)")
    target_modules: list[str] = arg(default_factory=lambda: list(ALL_MODULES),
                                    help="modules that get LoRA weights (keep lm_head out: vLLM drops it)")
    layers: int = arg(8, help="LoRA on the last N decoder layers only (0: all); backpropagation stops there, "
                               "which makes a step ~2x cheaper on CPU")
    scoring: Literal["letters", "marks"] = arg(
        "marks", help="the ranker's one-pass read-out the adapter is trained for: each candidate's mark (a "
                      "softmax over the K marks) or the answer letter")
    loss: Literal["labels", "vocab"] = arg(
        "labels", help="letters scoring: softmax over the K label tokens or the whole vocabulary")

    def __post_init__(self) -> None:
        _check(self, r=self.r >= 1, alpha=self.alpha > 0, dropout=0 <= self.dropout < 1,
               layers=self.layers >= 0,
               target_modules=bool(self.target_modules) and "lm_head" not in self.target_modules)


@dataclass(frozen=True, kw_only=True)
class TrainingConfig:
    """The optimisation: steps, batches, learning rate, precision, validation and checkpoints."""

    epochs: float = arg(1.0, help="passes over the examples")
    max_steps: int = arg(-1, help="stop after this many optimizer steps (-1: epochs decide)")
    batch_size: int = arg(8, help="examples per step")
    length_batches: bool = arg(
        True, help="batch examples of similar length together (less padding; ranking and explanation rows "
                   "differ by ~2x), batches in random order; with --epochs > 1 every epoch repeats that "
                   "order")
    grad_accum: int = arg(1, help="gradient accumulation steps")
    lr: float = arg(5e-4, help="peak learning rate (linear decay, warm-up ratio 0.05)")
    eval_steps: int = arg(50, help="validation and checkpoint interval in optimizer steps")
    val_users: int = arg(200, help="validation users scored at each evaluation (a seeded sample)")
    trunk_cache: bool = arg(
        True, help="with --layers N: keep the validation prompts' hidden states below the trained layers "
                   "(frozen, so they never change) and run only the trained layers at later evaluations")
    precision: Literal["auto", "fp32", "bf16"] = arg(
        "auto", help="auto: bf16 autocast on CUDA or a CPU with bf16 units, fp32 elsewhere")
    quantize: Literal["none", "4bit"] = arg("none", help="4bit: bitsandbytes QLoRA (needs CUDA)")
    seed: int = arg(0, help="random seed")
    resume: bool = arg(False, help="resume from the last checkpoint in <output>.checkpoints")

    def __post_init__(self) -> None:
        _check(self, epochs=self.epochs > 0, max_steps=self.max_steps >= 1 or self.max_steps == -1,
               batch_size=self.batch_size >= 1, grad_accum=self.grad_accum >= 1, lr=self.lr > 0,
               eval_steps=self.eval_steps >= 1, val_users=self.val_users >= 1, seed=self.seed >= 0)


@dataclass(frozen=True, kw_only=True)
class LoraTrainConfig:
    """Everything ``python -m finetune.lora`` takes: the groups, and the run-wide ``smoke`` and ``progress``.

    Built from the groups:
    ``LoraTrainConfig(save=SaveConfig(output="runs/lora"), training=TrainingConfig(lr=1e-3))``; a field is
    read and replaced through its group (``cfg.training.lr``,
    ``dataclasses.replace(cfg, training=dataclasses.replace(cfg.training, lr=1e-3))``).  Only the command
    line flattens the groups (:func:`llmrec.configargs.config_from_args`).
    """

    save: SaveConfig = arg(help="where the adapter is written")
    examples: ExamplesConfig = arg(default_factory=ExamplesConfig, help="training examples and candidates")
    adapter: AdapterConfig = arg(default_factory=AdapterConfig, help="base model and LoRA")
    training: TrainingConfig = arg(default_factory=TrainingConfig,
                                   help="optimisation, validation, checkpoints")
    smoke: bool = arg(False, help="a tiny configuration that trains end to end in about a minute (tests)")
    progress: bool = arg(True, help="show progress bars")

    def resolved(self) -> LoraTrainConfig:
        """The configuration actually trained (``--smoke`` overrides the sizes)."""
        if not self.smoke:
            return self
        return dataclasses.replace(
            self,
            examples=dataclasses.replace(self.examples, per_user=1, max_examples=24, explain_examples=4,
                                         candidates=min(self.examples.candidates, 8)),
            adapter=dataclasses.replace(self.adapter, r=4, alpha=8, layers=2),
            training=dataclasses.replace(self.training, max_steps=6, batch_size=4, eval_steps=3,
                                         val_users=12))

