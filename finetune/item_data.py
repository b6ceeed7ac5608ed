"""The item vocabulary of an item-token model and its training rows: item tokens added to the tokenizer and
the (tied) embeddings, their rows initialised from titles and/or the retriever's collaborative vectors (never
at random), and every fit history written as windows of item tokens with a target at each item."""

from __future__ import annotations

from typing import Any

import numpy as np

from llmrec.data import Catalog, Dataset
from llmrec.errors import ConfigError
from llmrec.history import histories
from llmrec.llm.items import ItemVocabulary
from llmrec.split import HoldoutSplit

__all__ = ["add_item_vocabulary", "collab_rows", "collate", "init_item_rows", "sequence_rows", "title_rows"]


# -- the vocabulary and its rows ---------------------------------------------------------------------------
def title_rows(embeddings, tokenizer, catalog: Catalog) -> np.ndarray:
    """Each item's mean title-token embedding (catalog order)."""
    import torch

    rows = []
    with torch.no_grad():
        for item in catalog.item_ids.tolist():
            ids = tokenizer(" " + catalog.short_title(item), add_special_tokens=False)["input_ids"]
            rows.append(embeddings[torch.as_tensor(ids)].float().mean(0).numpy())
    return np.stack(rows)


def collab_rows(retriever_dir: str, data: Dataset, titles: np.ndarray, ridge: float = 1.0) -> np.ndarray:
    """The retriever's collaborative item vectors (its channel fitted on ``data``) mapped into the embedding
    space: a ridge regression from the collaborative vectors onto the title rows, applied to every item."""
    from llmrec.recommenders import create_recommender

    retr = create_recommender("dense", {"retriever": retriever_dir}).fit(data)
    vectors = retr.collab_vectors
    if vectors.shape[1] == 0:
        raise ConfigError(f"retriever {retriever_dir} has no collaborative channel to initialise from")
    x = np.hstack([vectors, np.ones((len(vectors), 1))])
    w = np.linalg.solve(x.T @ x + ridge * np.eye(x.shape[1]), x.T @ titles)
    return x @ w


def init_item_rows(model, tokenizer, data: Dataset, vocab: ItemVocabulary, init: str,
                   retriever_dir: str | None = None, scale: float = 1.0) -> dict[str, float]:
    """Write the item rows of ``model``'s (resized, tied) embedding matrix: from titles, collaborative vectors
    or both, rescaled to ``scale`` times the mean norm of the original vocabulary's rows.  Returns what was
    done."""
    import torch

    emb = model.get_input_embeddings().weight
    base = emb[:min(vocab.token_ids)].detach()
    titles = title_rows(base, tokenizer, data.catalog)
    if init == "title":
        rows = titles
    elif init in ("collab", "both"):
        if retriever_dir is None:
            raise ConfigError(f"--init {init} needs a trained retriever (--retriever DIR or auto)")
        mapped = collab_rows(retriever_dir, data, titles)
        rows = mapped if init == "collab" else (titles + mapped) / 2
    else:
        raise ConfigError(f"--init must be title, collab or both, got {init!r}")
    target = scale * float(base.float().norm(dim=1).mean())
    rows = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-8) * target
    with torch.no_grad():
        emb[torch.as_tensor(vocab.token_ids)] = torch.as_tensor(rows, dtype=emb.dtype)
    return {"init": init, "row_norm": target}


def add_item_vocabulary(model, tokenizer, catalog: Catalog, form: str) -> ItemVocabulary:
    """Add the item tokens to ``tokenizer`` and resize ``model``'s embeddings (tied output rows follow)."""
    vocab = ItemVocabulary.build(catalog, tokenizer, form)
    model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    if model.get_output_embeddings() is not None and not model.config.tie_word_embeddings:
        raise ConfigError("the base model's output rows are not tied to its input embeddings; item-token "
                          "models need tied embeddings (SmolLM2, Llama-3.2-1B, Qwen2.5-0.5B have them)")
    return vocab


# -- training rows -----------------------------------------------------------------------------------------
def sequence_rows(split: HoldoutSplit, vocab: ItemVocabulary, window: int) -> list[dict[str, Any]]:
    """Training rows from the fit histories of ``split`` (the validation split: every fit item is a target,
    the validation and test items never are): windows of ``window`` items written in ``vocab``'s form,
    ``labels`` the next item's vocabulary index at the position before each item (-100 elsewhere), and the
    ``user`` whose history it is."""
    rows = []
    for h in histories(split.train.interactions).values():
        items = h.items
        for start in range(0, len(items), window):
            chunk = items[start:start + window]
            ids, where = vocab.encode(chunk)
            labels = [-100] * len(ids)
            for pos, index in zip(where, vocab.positions(chunk).tolist()):
                labels[pos - 1] = index
            rows.append({"input_ids": ids, "labels": labels, "user": h.user})
    return rows


def collate(pad_id: int):
    import torch

    def fn(rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        width = max(len(r["input_ids"]) for r in rows)
        ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
        labels = torch.full((len(rows), width), -100, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):  # right-padded: positions count from each row's first token
            n = len(r["input_ids"])
            ids[i, :n], labels[i, :n], mask[i, :n] = (torch.as_tensor(r["input_ids"]),
                                                      torch.as_tensor(r["labels"]), 1)
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}

    return fn
