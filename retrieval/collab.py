"""The collaborative channel: item-ID embeddings and a recency-weighted history encoder.

A user's query vector is a learned, position-weighted sum of the input embeddings of their last
``window`` items (newest weighted by the last weight); an item's vector is its output embedding with its
bias appended, so the score is one inner product and the vectors go straight into the FAISS index.
Trained with a full softmax over the catalog on next-item prediction, every position of every training
sequence.  Items never seen in training keep zero vectors: the text channel alone recalls them.

Single models vary a lot from seed to seed on data this small, so the channel is an ensemble of
``members`` models trained with different seeds (:class:`CollabEnsemble`), optionally with
``attention_members`` self-attentive ones (:mod:`retrieval.attention`, which read order) taking
``attention_weight`` of the score; the members' vectors are concatenated (each query block scaled by its
member's weight), so the ensemble's score, a weighted mean of the members' scores, is still one inner product.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from llmrec.errors import ArtifactError
from retrieval.attention import AttentionModel, train_attention_model
from retrieval.collab_config import CollabConfig

__all__ = ["CollabConfig", "CollabEnsemble", "SequenceModel", "examples_at", "make_optimizer",
           "next_item_examples", "next_item_positions", "train_collab", "train_epochs",
           "train_sequence_model", "train_step"]

log = logging.getLogger(__name__)


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
        self.drop = nn.Dropout(config.dropout)

    def query(self, x: torch.Tensor) -> torch.Tensor:
        """(B, window) -> (B, dim + 1) query vectors (the trailing 1 multiplies the item bias)."""
        e = self.drop(self.inp(x)) * (x > 0).unsqueeze(-1)
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


class CollabEnsemble:
    """Several members (:class:`SequenceModel`, :class:`~retrieval.attention.AttentionModel`); score = the
    weighted mean of the members' scores = one inner product.  ``weights`` default to equal shares."""

    def __init__(self, models: list[nn.Module], weights: list[float] | None = None):
        if not models:
            raise ValueError("a collaborative ensemble needs at least one model")
        if weights is not None and len(weights) != len(models):
            raise ValueError(f"{len(weights)} weights for {len(models)} models")
        self.models = [m.eval() for m in models]
        self.weights = list(weights) if weights is not None else [1.0 / len(models)] * len(models)
        self.config = models[0].config

    @torch.no_grad()
    def query(self, x: torch.Tensor) -> torch.Tensor:
        """(B, window) -> (B, members * (dim + 1)), each block scaled by its member's weight, so
        ``query @ item_vectors.T`` is the weighted mean score."""
        return torch.cat([w * m.query(x) for w, m in zip(self.weights, self.models)], dim=1)

    @torch.no_grad()
    def item_vectors(self) -> torch.Tensor:
        return torch.cat([m.item_vectors() for m in self.models], dim=1)

    def save(self, path: str | Path) -> None:
        torch.save([m.state_dict() for m in self.models], path)

    @classmethod
    def load(cls, path: str | Path, n_items: int, config: CollabConfig) -> CollabEnsemble:
        """The members ``config`` describes (linear first, then attention), weighted as it says; a file
        holding another number of members is refused."""
        states = torch.load(path, weights_only=True)
        kinds = [SequenceModel] * config.members + [AttentionModel] * config.attention_members
        if len(states) != len(kinds):
            raise ArtifactError(f"{path}: {len(states)} collaborative models, but its manifest describes "
                                f"{config.members} linear and {config.attention_members} attention members")
        models = []
        for i, (kind, state) in enumerate(zip(kinds, states)):
            model = kind(n_items, config)
            try:
                model.load_state_dict(state)
            except RuntimeError as err:
                raise ArtifactError(f"{path}: member {i + 1} is not the {kind.__name__} its manifest "
                                    f"describes ({str(err).splitlines()[0]})") from err
            models.append(model)
        return cls(models, config.member_weights())


def train_collab(sequences: list[np.ndarray], n_items: int, config: CollabConfig,
                 progress: bool = True) -> CollabEnsemble:
    """Train ``config.members`` linear models with seeds ``seed, seed + 1, ...``, then
    ``config.attention_members`` attention models with the next seeds."""
    total = config.members + config.attention_members
    models: list[nn.Module] = [
        train_sequence_model(sequences, n_items, replace(config, seed=config.seed + i), progress=progress,
                             desc=f"collab {i + 1}/{total}")
        for i in range(config.members)]
    models += [train_attention_model(sequences, n_items, replace(config, seed=config.seed + i),
                                     progress=progress, desc=f"collab {i + 1}/{total} (attention)")
               for i in range(config.members, total)]
    return CollabEnsemble(models, config.member_weights())


def next_item_positions(sequences: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """``(sequence index, position t)`` of every next-item example (every t >= 1 of every sequence), in
    sequence order, then position order."""
    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    owner = np.repeat(np.arange(len(sequences)), np.maximum(lengths - 1, 0))
    position = np.concatenate([np.arange(1, n, dtype=np.int64) for n in lengths] or [np.zeros(0, np.int64)])
    return owner, position


def examples_at(sequences: list[np.ndarray], owner: np.ndarray, position: np.ndarray,
                window: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The examples at ``(owner[i], position[i])``: (last ``window`` items before t, item at t)."""
    x = np.stack([pad_window(sequences[o][:t], window) for o, t in zip(owner, position)]) if len(owner) \
        else np.zeros((0, window), np.int64)
    y = np.array([sequences[o][t] for o, t in zip(owner, position)], dtype=np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


def next_item_examples(sequences: list[np.ndarray], window: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every position t >= 1 of every sequence: (last ``window`` items before t, item at t)."""
    owner, position = next_item_positions(sequences)
    if not len(owner):
        raise ValueError("no training examples: every sequence has fewer than two items")
    return examples_at(sequences, owner, position, window)


def train_sequence_model(sequences: list[np.ndarray], n_items: int, config: CollabConfig,
                         progress: bool = True, desc: str = "collab channel") -> SequenceModel:
    """Train from random weights on next-item prediction at every position of each sequence of catalog
    positions (a federated client, which continues from the server's model with its own optimiser, calls
    :func:`train_epochs` itself)."""
    torch.manual_seed(config.seed)
    model = SequenceModel(n_items, config)
    opt = make_optimizer(model, config)
    return train_epochs(model, opt, sequences, config, progress=progress, desc=desc)


def make_optimizer(model: SequenceModel, config: CollabConfig) -> torch.optim.Optimizer:
    """The channel's optimiser (AdamW at ``config.lr`` and ``config.weight_decay``)."""
    return torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)


def train_step(model: SequenceModel, opt: torch.optim.Optimizer, x: torch.Tensor,
               y: torch.Tensor) -> torch.Tensor:
    """One optimiser step of next-item cross-entropy on the batch ``(x, y)``; returns its loss."""
    model.train()
    loss = nn.functional.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss


def train_epochs(model: SequenceModel, opt: torch.optim.Optimizer, sequences: list[np.ndarray],
                 config: CollabConfig, progress: bool = True, desc: str = "collab channel") -> SequenceModel:
    """``config.epochs`` passes of next-item cross-entropy over ``sequences`` with ``opt`` (whose state a
    caller may keep between calls: a federated client's optimiser across rounds); batches drawn with
    ``config.seed``, dropout from torch's global generator (seeded by the caller)."""
    x, y = next_item_examples(sequences, config.window)
    gen = torch.Generator().manual_seed(config.seed)
    steps = config.epochs * ((len(x) + config.batch_size - 1) // config.batch_size)
    with tqdm(total=steps, desc=desc, disable=not progress, unit="step") as bar:
        for _ in range(config.epochs):
            perm = torch.randperm(len(x), generator=gen)
            for i in range(0, len(x), config.batch_size):
                idx = perm[i:i + config.batch_size]
                loss = train_step(model, opt, x[idx], y[idx])
                bar.update()
                if bar.n % 100 == 0:
                    bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    log.info("collab_trained seed=%d examples=%d epochs=%d final_loss=%.3f", config.seed, len(x),
             config.epochs, loss.item())
    return model.eval()
