"""The collaborative channel's configuration: its linear and self-attentive members and their training.

Apart from :mod:`retrieval.collab` and :mod:`retrieval.attention` so that both read it and neither imports
the other's module for it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

__all__ = ["CollabConfig"]


@dataclass(frozen=True)
class CollabConfig:
    dim: int = 64  # embedding size
    window: int = 50  # history items the query encoder reads
    epochs: int = 3  # passes over all training positions
    batch_size: int = 256
    lr: float = 1e-2
    dropout: float = 0.3  # dropout on history item embeddings while training
    weight_decay: float = 0.0  # AdamW weight decay
    members: int = 4  # linear members (seeds seed, seed+1, ...)
    seed: int = 0
    attention_members: int = 0  # self-attentive members (seeds seed+members, ...); see retrieval.attention
    attention_weight: float = 0.5  # their share of the ensemble's score when there are both kinds
    attention_epochs: int = 35
    attention_lr: float = 2e-3
    attention_layers: int = 2
    attention_heads: int = 2
    attention_dropout: float = 0.2
    attention_batch_size: int = 64  # chunks of ``window`` targets each

    def __post_init__(self) -> None:
        if self.members < 0 or self.attention_members < 0 or self.members + self.attention_members < 1:
            raise ValueError(f"a collaborative ensemble needs at least one member, got "
                             f"members={self.members} attention_members={self.attention_members}")
        if not 0.0 <= self.attention_weight <= 1.0:
            raise ValueError(f"attention_weight must be in [0, 1], got {self.attention_weight}")
        for name in ("dim", "window", "epochs", "batch_size", "attention_epochs", "attention_layers",
                     "attention_heads", "attention_batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not (self.lr > 0 and self.attention_lr > 0 and math.isfinite(self.lr + self.attention_lr)):
            raise ValueError(f"learning rates must be finite and > 0, got lr={self.lr} "
                             f"attention_lr={self.attention_lr}")
        if not (0 <= self.dropout < 1 and 0 <= self.attention_dropout < 1):
            raise ValueError(f"dropout must be in [0, 1), got dropout={self.dropout} "
                             f"attention_dropout={self.attention_dropout}")
        if self.dim % self.attention_heads:
            raise ValueError(f"dim ({self.dim}) must be a multiple of attention_heads "
                             f"({self.attention_heads})")

    def member_weights(self) -> list[float]:
        """Each member's share of the ensemble's score: linear members first, then attention members."""
        if not self.attention_members:
            return [1.0 / self.members] * self.members
        if not self.members:
            return [1.0 / self.attention_members] * self.attention_members
        return ([(1.0 - self.attention_weight) / self.members] * self.members
                + [self.attention_weight / self.attention_members] * self.attention_members)

    def to_dict(self) -> dict:
        return asdict(self)
