"""The collaborative channel: item-ID embeddings and a recency-weighted history encoder.

A user's query vector is a learned, position-weighted sum of the input embeddings of their last
``window`` items (newest weighted by the last weight); an item's vector is its output embedding with its
bias appended, so the score is one inner product and the vectors go straight into the FAISS index.
Trained with a full softmax over the catalog on next-item prediction, every position of every training
sequence.  Items never seen in training keep zero vectors: the text channel alone recalls them.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

__all__ = ["CollabConfig", "SequenceModel", "train_sequence_model"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CollabConfig:
    dim: int = 64  # embedding size
    window: int = 50  # history items the query encoder reads
    epochs: int = 3  # passes over all training positions
    batch_size: int = 256
    lr: float = 1e-2
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


class SequenceModel(nn.Module):
    """Scores = (sum_p exp(w_p) * E_in[h_p]) . E_out[j] + b_j.  Index 0 of E_in is padding.

    ``forward(x)``: x (B, window) int64 item positions + 1 (0 = pad, oldest first) -> (B, n_items) logits.
    """

    def __init__(self, n_items: int, config: CollabConfig):
        super().__init__()
        self.config = config
        self.inp = nn.Embedding(n_items + 1, config.dim, padding_idx=0)
        self.position = nn.Parameter(torch.linspace(-3.0, 0.0, config.window))  # log-weights, newest last
        self.out = nn.Linear(config.dim, n_items)

    def query(self, x: torch.Tensor) -> torch.Tensor:
        """(B, window) -> (B, dim + 1) query vectors (the trailing 1 multiplies the item bias)."""
        e = self.inp(x) * (x > 0).unsqueeze(-1)
        q = (e * torch.exp(self.position).view(1, -1, 1)).sum(1)
        return torch.cat([q, torch.ones(len(q), 1)], dim=1)

    def item_vectors(self) -> torch.Tensor:
        """(n_items, dim + 1): output embedding with the bias appended."""
        return torch.cat([self.out.weight, self.out.bias.unsqueeze(1)], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.query(x)[:, :-1])


def pad_window(positions: np.ndarray, window: int) -> np.ndarray:
    """Last ``window`` item positions (+1), left-padded with 0."""
    tail = np.asarray(positions[-window:], dtype=np.int64) + 1
    return np.pad(tail, (window - len(tail), 0))


def train_sequence_model(sequences: list[np.ndarray], n_items: int, config: CollabConfig,
                         progress: bool = True) -> SequenceModel:
    """Train on next-item prediction at every position of each sequence of catalog positions."""
    torch.manual_seed(config.seed)
    xs, ys = [], []
    for seq in sequences:
        for t in range(1, len(seq)):
            xs.append(pad_window(seq[:t], config.window))
            ys.append(seq[t])
    x, y = torch.from_numpy(np.stack(xs)), torch.tensor(ys, dtype=torch.int64)
    model = SequenceModel(n_items, config)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    gen = torch.Generator().manual_seed(config.seed)
    steps = config.epochs * ((len(x) + config.batch_size - 1) // config.batch_size)
    with tqdm(total=steps, desc="collab channel", disable=not progress, unit="step") as bar:
        for _ in range(config.epochs):
            perm = torch.randperm(len(x), generator=gen)
            for i in range(0, len(x), config.batch_size):
                idx = perm[i:i + config.batch_size]
                loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                bar.update()
                bar.set_postfix(loss=f"{loss.item():.3f}")
    log.info("collab_trained examples=%d epochs=%d final_loss=%.3f", len(x), config.epochs, loss.item())
    return model.eval()
