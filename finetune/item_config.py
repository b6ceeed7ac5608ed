"""The configuration of ``python -m finetune.items``: the data and how items are written and start
(:class:`ItemDataConfig`), composed with finetune's save / adapter / training groups
(:class:`ItemTrainConfig`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from finetune.config import AdapterConfig, SaveConfig, TrainingConfig
from llmrec.configargs import arg
from llmrec.data import Dataset
from llmrec.errors import ConfigError
from llmrec.protocols import ColdStart, pretraining_splits
from llmrec.split import HoldoutSplit, leave_last_out

__all__ = ["ItemDataConfig", "ItemTrainConfig"]


@dataclass(frozen=True, kw_only=True)
class ItemDataConfig:
    """The data, how a history is written, and how the item rows start."""

    data: str | None = arg(
        None, help="MovieLens-100K directory (default: $LLMREC_DATA or ../shared/data/ml-100k)")
    split: Literal["validation", "test"] = arg(
        "validation", help="whose fit sequences are trained on: the validation split's (validation NDCG@10 "
                           "chooses the checkpoint), or the test split's, where each validation item is a "
                           "target too (a refit for the test figures: nothing is left to validate on, so the "
                           "last step is kept; give the step count a validation run chose, --max-steps)")
    protocol: Literal["holdout", "cold-users", "cold-items"] = arg(
        "holdout", help="whose data: the whole log's leave-last-out split, or a cold-start protocol's "
                        "pretraining split (without the cold users' or cold items' interactions), for "
                        "python -m eval --protocol ... --recommender genllm")
    cold_share: float = arg(0.1, help="--protocol cold-users/cold-items: the protocol's cold share")
    cold_seed: int = arg(0, help="--protocol cold-users/cold-items: the protocol's seed")
    form: Literal["tokens", "hybrid"] = arg(
        "tokens", help="a history as item tokens, or each item token followed by its title (~8x the tokens)")
    window: int = arg(200, help="items per training sequence (longer histories are cut into windows)")
    init: Literal["title", "collab", "both"] = arg(
        "title", help="item rows from their titles' token embeddings, the retriever's collaborative vectors "
                      "mapped into the embedding space, or the average of both")
    retriever: str = arg("auto", help="retriever directory for --init collab/both ('auto': the cached "
                                      "default)")
    init_scale: float = arg(
        0.25, help="item row norm as a share of the vocabulary's mean row norm (at 1.0 the tied output rows "
                   "give SmolLM2-135M item logits a standard deviation of ~8: a near one-hot softmax)")
    embed_lr: float = arg(3e-3, help="learning rate of the item rows (the LoRA weights take --lr)")

    def __post_init__(self) -> None:
        if self.window < 2:
            raise ConfigError(f"--window must be at least 2, got {self.window}")
        if self.init_scale <= 0:
            raise ConfigError(f"--init-scale must be positive, got {self.init_scale}")
        if self.embed_lr <= 0:
            raise ConfigError(f"--embed-lr must be positive, got {self.embed_lr}")
        if self.protocol != "holdout" and self.init != "title":
            raise ConfigError(f"--init {self.init} reads a retriever trained on the whole log, including "
                              f"what --protocol {self.protocol} removes; use --init title")
        if self.protocol != "holdout":
            ColdStart(self.protocol, share=self.cold_share, seed=self.cold_seed)  # checks the settings

    def training_split(self, dataset: Dataset) -> HoldoutSplit:
        """The split whose fit sequences are trained on: leave-last-out, or the protocol's pretraining
        split (:func:`llmrec.protocols.pretraining_splits`)."""
        if self.protocol == "holdout":
            return leave_last_out(dataset, self.split)
        validation, test = pretraining_splits(dataset, ColdStart(self.protocol, share=self.cold_share,
                                                                 seed=self.cold_seed))
        return validation if self.split == "validation" else test


@dataclass(frozen=True, kw_only=True)
class ItemTrainConfig:
    """Everything ``python -m finetune.items`` takes (groups flattened into flags, as finetune.lora)."""

    save: SaveConfig = arg(default_factory=lambda: SaveConfig(output="runs/items"),
                           help="where the merged model is written")
    items: ItemDataConfig = arg(default_factory=ItemDataConfig, help="data, form, initialisation")
    adapter: AdapterConfig = arg(default_factory=lambda: AdapterConfig(r=16, alpha=32, layers=0),
                                 help="base model and LoRA")
    training: TrainingConfig = arg(
        default_factory=lambda: TrainingConfig(epochs=4.0, batch_size=8, eval_steps=60, lr=1e-3,
                                               val_users=300),
        help="optimisation, validation, checkpoints")
    smoke: bool = arg(False, help="a tiny configuration (tests)")
    progress: bool = arg(True, help="show progress bars")

    def resolved(self) -> ItemTrainConfig:
        if not self.smoke:
            return self
        return dataclasses.replace(
            self, items=dataclasses.replace(self.items, window=16),
            adapter=dataclasses.replace(self.adapter, r=4, alpha=8, layers=1),
            training=dataclasses.replace(self.training, max_steps=4, batch_size=4, eval_steps=2,
                                         val_users=20))
