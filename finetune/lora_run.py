"""What a LoRA training run builds on its way (:mod:`finetune.lora`): the wrapped model, the training data and
its validator, and the finished run; the card (:mod:`finetune.lora_card`) is written from them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from finetune.data import Example
from finetune.validate import RankValidator
from llmrec.data import Dataset

__all__ = ["TrainingData", "TrainingRun", "WrappedModel"]


@dataclass
class WrappedModel:
    """The peft model being trained, its tokenizer, where the base model lies and whether to train in bf16."""

    model: Any
    tokenizer: Any
    path: str
    bf16: bool


@dataclass
class TrainingData:
    """What :func:`build_data` prepares."""

    dataset: Dataset
    ranker: Any  # the LLMRanker trained for: its prompts, candidates and label tokens
    retriever: str | None  # the retriever directory (None: the untrained text retriever)
    scorer: Any  # what validation scores with: the model, or a FrozenTrunkCache over it
    examples: list[Example]  # the ranking examples
    explain_rows: list[dict]  # the explanation examples
    rows: list[dict]  # the training rows, in training order
    shared_prompt_rows: int  # explanation examples that share their ranking example's row
    validator: RankValidator
    build_seconds: float  # building the examples


@dataclass
class TrainingRun:
    """What :func:`train` leaves: the trainer (its state: steps, log history, best checkpoint) and timings."""

    trainer: Any
    train_loss: float
    seconds: float
