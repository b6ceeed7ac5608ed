"""Self-attentive members of the collaborative channel: SASRec (Kang & McAuley 2018) with a full softmax.

A causal transformer reads the last ``window`` items (left-padded, oldest first); the query is its output at
the newest position, and an item's vector is its input embedding (tied) with a bias appended, so the score is
still one inner product and the model is one more member of :class:`retrieval.collab.CollabEnsemble`.
Trained on next-item cross-entropy over the whole catalog at *every* position of each training chunk (a user's
sequence cut into windows of ``window + 1`` items from the newest back), which is what makes it cheap: one
forward pass gives ``window`` targets.

Where the linear members read a history as a recency-weighted bag of items, these read order: on the
validation split they recall more of the held-out items in their top 50, and the two kinds together beat
either alone (docs/experiments.md, "Self-attentive members").
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from retrieval.collab_config import CollabConfig

__all__ = ["AttentionModel", "sequence_chunks", "train_attention_model"]

log = logging.getLogger(__name__)


class AttentionModel(nn.Module):
    """SASRec with tied item embeddings and an item bias; ``query(x)`` (B, window) -> (B, dim + 1).

    ``x`` holds item positions + 1 (0 = pad, oldest first), as :func:`retrieval.collab.pad_window` writes.
    """

    def __init__(self, n_items: int, config: CollabConfig):
        super().__init__()
        self.config = config
        d = config.dim
        self.item = nn.Embedding(n_items + 1, d, padding_idx=0)
        self.position = nn.Embedding(config.window, d)
        layer = nn.TransformerEncoderLayer(d, config.attention_heads, 4 * d, config.attention_dropout,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, config.attention_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)
        self.drop = nn.Dropout(config.attention_dropout)
        self.bias = nn.Parameter(torch.zeros(n_items))
        # small embeddings: at the default N(0, 1) the tied output logits start near-one-hot (loss ~50)
        nn.init.normal_(self.item.weight, std=0.05)
        nn.init.normal_(self.position.weight, std=0.05)
        with torch.no_grad():
            self.item.weight[0].zero_()
        self.register_buffer("causal", nn.Transformer.generate_square_subsequent_mask(config.window),
                             persistent=False)

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """(B, window) -> (B, window, dim): the output at a position reads that item and the ones before."""
        h = self.drop(self.item(x) + self.position.weight.unsqueeze(0)) * (x > 0).unsqueeze(-1)
        return self.norm(self.encoder(h, mask=self.causal, is_causal=True))

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """(..., dim) -> (..., n_items)."""
        return hidden @ self.item.weight[1:].T + self.bias

    def query(self, x: torch.Tensor) -> torch.Tensor:
        """(B, window) -> (B, dim + 1) query vectors (the trailing 1 multiplies the item bias)."""
        q = self.hidden(x)[:, -1]
        return torch.cat([q, torch.ones(len(q), 1)], dim=1)

    def item_vectors(self) -> torch.Tensor:
        """(n_items, dim + 1): the tied item embedding with the bias appended."""
        return torch.cat([self.item.weight[1:], self.bias.unsqueeze(1)], dim=1)


def sequence_chunks(sequences: list[np.ndarray], window: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each sequence cut from its newest item back into chunks of ``window + 1`` items overlapping by one:
    (inputs, targets), both (chunks, window), left-padded with 0, holding positions + 1; a target at
    ``[c, t]`` is the item after input ``[c, t]``.  Every next-item example of every sequence is in
    exactly one chunk."""
    xs, ys = [], []
    for seq in sequences:
        s = np.asarray(seq, dtype=np.int64) + 1
        end = len(s)
        while end > 1:
            start = max(0, end - window - 1)
            chunk = s[start:end]
            xs.append(np.pad(chunk[:-1], (window - len(chunk) + 1, 0)))
            ys.append(np.pad(chunk[1:], (window - len(chunk) + 1, 0)))
            end = start + 1 if start > 0 else 0
    if not xs:
        raise ValueError("no training examples: every sequence has fewer than two items")
    return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys))


def train_attention_model(sequences: list[np.ndarray], n_items: int, config: CollabConfig,
                          progress: bool = True, desc: str = "attention member") -> AttentionModel:
    """Train from random weights (seed ``config.seed``) for ``config.attention_epochs`` passes over
    :func:`sequence_chunks`, AdamW at ``config.attention_lr``."""
    torch.manual_seed(config.seed)
    model = AttentionModel(n_items, config)
    x, y = sequence_chunks(sequences, config.window)
    opt = torch.optim.AdamW(model.parameters(), lr=config.attention_lr, weight_decay=config.weight_decay)
    gen = torch.Generator().manual_seed(config.seed)
    batch = config.attention_batch_size
    steps = config.attention_epochs * ((len(x) + batch - 1) // batch)
    loss = torch.tensor(float("nan"))
    with tqdm(total=steps, desc=desc, disable=not progress, unit="step") as bar:
        for _ in range(config.attention_epochs):
            model.train()
            perm = torch.randperm(len(x), generator=gen)
            for i in range(0, len(x), batch):
                idx = perm[i:i + batch]
                target = y[idx]
                keep = target > 0
                loss = nn.functional.cross_entropy(model.logits(model.hidden(x[idx])[keep]), target[keep] - 1)
                opt.zero_grad()
                loss.backward()
                opt.step()
                bar.update()
                if bar.n % 100 == 0:
                    bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    log.info("attention_trained seed=%d chunks=%d targets=%d epochs=%d final_loss=%.3f", config.seed, len(x),
             int((y > 0).sum()), config.attention_epochs, loss.item())
    return model.eval()
