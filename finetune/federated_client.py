"""A federated client of the collaborative channel: its own sequences on its own storage, and its round.

:class:`CollabClient` is what :func:`finetune.federated_flower.simulate_fedavg` runs in each virtual
``ClientApp``: it reads only its own file (``<store>/client-<i>.npz``), trains the server's model on it and
returns parameters and an example count.  :func:`example_slice` cuts a client's next-item examples into the
per-round slices of ``--client-steps`` (FedSGD).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from retrieval.collab import (
    CollabConfig,
    SequenceModel,
    examples_at,
    make_optimizer,
    next_item_positions,
    train_epochs,
    train_step,
)

__all__ = ["CollabClient", "example_slice", "load_client_sequences", "save_client_sequences"]


@dataclass(frozen=True)
class CollabClient:
    """A client's round: load its own sequences (``<store>/client-<i>.npz``), train the server's model on
    them for ``config.epochs`` and return the parameters and its example count (never the sequences).  With
    ``keep_state`` its AdamW state (moments, step counts) is saved beside its data after each round and
    loaded at the next, instead of starting a fresh optimiser.

    With ``steps`` the round is ``steps`` optimiser steps over the client's next ``fraction`` slice of its
    next-item examples (:func:`example_slice`) instead of epochs over a block of users."""

    store: str
    n_items: int
    config: CollabConfig
    fraction: float = 1.0  # share of its data trained on per round: block (round - 1) mod 1/fraction
    keep_state: bool = False
    steps: int = 0  # 0: epochs over a block of users; N: N steps over a slice of the examples
    optimizer: str = "adamw"  # or "sgd" (plain, at config.lr)

    def __call__(self, client: int, arrays: dict[str, np.ndarray], server_round: int):
        sequences = load_client_sequences(Path(self.store) / f"client-{client}.npz")
        if self.fraction < 1 and not self.steps:
            order = np.random.default_rng(self.config.seed + client).permutation(len(sequences))
            blocks = np.array_split(order, round(1 / self.fraction))
            sequences = [sequences[i] for i in blocks[(server_round - 1) % len(blocks)]]
        cfg = replace(self.config, seed=self.config.seed + 1000 * server_round + client)
        torch.manual_seed(cfg.seed)
        model = SequenceModel(self.n_items, cfg)
        model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in arrays.items()})
        opt = (torch.optim.SGD(model.parameters(), lr=cfg.lr) if self.optimizer == "sgd"
               else make_optimizer(model, cfg))
        state = Path(self.store) / f"client-{client}.optimizer.pt"
        if self.keep_state and state.exists():
            opt.load_state_dict(torch.load(state, weights_only=True))
        if self.steps:
            x, y = example_slice(sequences, cfg.window, round(1 / self.fraction), server_round,
                                 seed=self.config.seed + client)
            for batch in np.array_split(np.arange(len(y)), min(self.steps, len(y))):
                train_step(model, opt, x[batch], y[batch])
            n = len(y)
        else:
            train_epochs(model, opt, sequences, cfg, progress=False)
            n = sum(max(len(s) - 1, 0) for s in sequences)
        if self.keep_state:
            torch.save(opt.state_dict(), state)
        return {k: v.detach().numpy() for k, v in model.state_dict().items()}, n, {}


def example_slice(sequences: list[np.ndarray], window: int, slices: int, server_round: int,
                  seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The next-item examples (as :func:`~retrieval.collab.next_item_examples` builds them) of round
    ``server_round``'s slice: each pass over the examples is a seeded shuffle cut into ``slices`` parts,
    round ``r`` takes part ``(r - 1) mod slices`` of pass ``(r - 1) // slices``: ``slices`` rounds a pass."""
    owner, position = next_item_positions(sequences)
    pass_index, part = divmod(server_round - 1, slices)
    order = np.random.default_rng([seed, pass_index]).permutation(len(owner))
    chosen = np.array_split(order, slices)[part]
    return examples_at(sequences, owner[chosen], position[chosen], window)


def save_client_sequences(path: Path, sequences: list[np.ndarray]) -> None:
    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    items = np.concatenate(sequences).astype(np.int64) if sequences else np.zeros(0, np.int64)
    np.savez(path, items=items, lengths=lengths)


def load_client_sequences(path: Path) -> list[np.ndarray]:
    with np.load(path) as f:
        return np.split(f["items"], np.cumsum(f["lengths"])[:-1])
