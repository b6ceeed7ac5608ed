"""Items as tokens of the LLM: the item vocabulary of a catalog, and the model directory that carries it.

An item-token model (``python -m finetune.items``) has one added token per catalog item, ``<item_ID>``,
whose embedding row (tied to its output row) was initialised from what is known of the item and trained as
a sequential recommender.  A user's history is written as

    <prefix> <item_1> <item_2> ... <item_n>                       (form "tokens")
    <prefix> <item_1> Toy Story (1995); <item_2> Heat (1995); ...   (form "hybrid": each token then its title)

and the next-token distribution restricted to the item tokens scores the whole catalog in one forward pass.

The vocabulary is tied to its catalog by a fingerprint (item ids and titles) written in the model's
manifest: :func:`load_item_model` refuses a model trained for another catalog, and names what differs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from llmrec.artifacts import read_manifest
from llmrec.data import Catalog
from llmrec.errors import ArtifactError, ConfigError

__all__ = ["ITEM_MODEL_KIND", "ItemForm", "ItemVocabulary", "catalog_fingerprint", "item_head", "item_token",
           "load_item_model"]

ITEM_MODEL_KIND = "item-token-model"
#: The words before the first item of every history.
PREFIX = "Movies the user watched, oldest first:"
ItemForm = Literal["tokens", "hybrid"]


def item_token(item: int) -> str:
    """The added token that stands for catalog item ``item``."""
    return f"<item_{int(item)}>"


def catalog_fingerprint(catalog: Catalog) -> str:
    """A short hash of the catalog's item ids and titles: the identity an item vocabulary is tied to."""
    h = hashlib.sha256()
    for item in catalog.item_ids.tolist():
        h.update(f"{item}\t{catalog.title(item)}\n".encode())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class ItemVocabulary:
    """The item tokens of one catalog in one tokenizer, and how a history is written with them."""

    item_ids: np.ndarray  # (n,) catalog item ids, in catalog order
    token_ids: np.ndarray  # (n,) the token id of each item
    prefix_ids: tuple[int, ...]  # the prefix's tokens
    catalog: str  # catalog_fingerprint of the catalog the tokens stand for
    form: ItemForm = "tokens"
    titles: dict[int, tuple[int, ...]] = field(default_factory=dict)  # hybrid: item -> title tokens
    _position: dict[int, int] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.item_ids) != len(self.token_ids):
            raise ConfigError(f"item vocabulary: {len(self.item_ids)} items but {len(self.token_ids)} tokens")
        if self.form not in ("tokens", "hybrid"):
            raise ConfigError(f"item vocabulary: form must be 'tokens' or 'hybrid', got {self.form!r}")
        self._position.update({int(i): n for n, i in enumerate(self.item_ids.tolist())})

    @classmethod
    def build(cls, catalog: Catalog, tokenizer, form: ItemForm = "tokens") -> ItemVocabulary:
        """The vocabulary of ``catalog`` in ``tokenizer``, adding the item tokens it lacks (in catalog order,
        so a fresh tokenizer numbers them consecutively after its own vocabulary)."""
        items = catalog.item_ids
        tokens = [item_token(i) for i in items.tolist()]
        tokenizer.add_tokens(tokens)
        ids = tokenizer.convert_tokens_to_ids(tokens)
        if len(set(ids)) != len(ids) or any(i is None or i == tokenizer.unk_token_id for i in ids):
            raise ConfigError("the tokenizer did not give every item token an id of its own")
        titles = {}
        if form == "hybrid":
            titles = {int(i): tuple(tokenizer(f" {catalog.short_title(int(i))};", add_special_tokens=False)
                                    ["input_ids"]) for i in items.tolist()}
        prefix = tuple(tokenizer(PREFIX, add_special_tokens=False)["input_ids"])
        return cls(items.copy(), np.asarray(ids, dtype=np.int64), prefix, catalog_fingerprint(catalog), form,
                   titles)

    def __len__(self) -> int:
        return len(self.item_ids)

    def positions(self, items: Sequence[int] | np.ndarray) -> np.ndarray:
        """Each item's index in the vocabulary (catalog order); an unknown item is an error naming it."""
        try:
            return np.asarray([self._position[int(i)] for i in np.asarray(items).tolist()], dtype=np.int64)
        except KeyError as err:
            raise ConfigError(f"item {err.args[0]} is not in the item vocabulary ({len(self)} items)"
                              ) from None

    def encode(self, items: Sequence[int] | np.ndarray) -> tuple[list[int], list[int]]:
        """``(token ids, item positions)``: the history ``items`` written in this form, and for each item the
        index of its token in the ids (the position before it predicts it)."""
        ids, where = list(self.prefix_ids), []
        tokens = self.token_ids[self.positions(items)] if len(items) else []
        for item, token in zip(np.asarray(items).tolist(), tokens):
            where.append(len(ids))
            ids.append(int(token))
            if self.form == "hybrid":
                ids.extend(self.titles[int(item)])
        return ids, where

    def manifest_fields(self) -> dict[str, Any]:
        """The manifest fields :meth:`from_manifest` reads back."""
        return {"catalog": self.catalog, "form": self.form, "prefix": PREFIX, "items": len(self),
                "item_ids": self.item_ids.tolist(), "token_ids": self.token_ids.tolist(),
                "prefix_ids": list(self.prefix_ids),
                "title_ids": {str(k): list(v) for k, v in self.titles.items()} or None}

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any]) -> ItemVocabulary:
        form = manifest.get("form", "tokens")
        prefix = tuple(manifest.get("prefix_ids") or ())
        titles = {int(k): tuple(v) for k, v in (manifest.get("title_ids") or {}).items()}
        return cls(np.asarray(manifest["item_ids"], dtype=np.int64),
                   np.asarray(manifest["token_ids"], dtype=np.int64), prefix, manifest["catalog"], form,
                   titles)


def load_item_model(path: str | Path, catalog: Catalog, *, verify: bool = True
                    ) -> tuple[dict, ItemVocabulary]:
    """The manifest and vocabulary of the item-token model at ``path``, checked against ``catalog``: a model
    trained for another catalog is refused with what differs."""
    path = Path(path)
    if not path.is_dir():
        raise ConfigError(f"item-token model {path} does not exist (train one with python -m finetune.items)")
    manifest = read_manifest(path, ITEM_MODEL_KIND, verify=verify)
    vocab = ItemVocabulary.from_manifest(manifest)
    want = catalog_fingerprint(catalog)
    if vocab.catalog != want:
        ours, theirs = set(catalog.item_ids.tolist()), set(vocab.item_ids.tolist())
        diff = (f"{len(ours - theirs)} catalog items it has no token for, {len(theirs - ours)} tokens for "
                "items the catalog lacks") if ours != theirs else "the same item ids with other titles"
        raise ArtifactError(f"{path} was trained for another catalog (fingerprint {vocab.catalog}, this "
                            f"catalog {want}: {diff}); train one for it with python -m finetune.items")
    return manifest, vocab


def item_head(path: str | Path, token_ids: np.ndarray) -> np.ndarray:
    """``(items, hidden size)`` float32: the output rows of the item tokens in the model directory at
    ``path`` — ``lm_head.weight`` where the model has its own head, else the (tied) input embeddings — read
    from its safetensors files without loading the model.  ``hidden @ rows.T`` are the item tokens'
    logits."""
    from safetensors import safe_open

    files = sorted(Path(path).glob("*.safetensors"))
    found: dict[str, Path] = {}
    for f in files:
        with safe_open(str(f), framework="numpy") as st:
            found |= {k: f for k in st.keys()  # noqa: SIM118 - a safetensors handle, not a dict
                      if k.endswith(("lm_head.weight", "embed_tokens.weight"))}
    key = next((k for k in found if k.endswith("lm_head.weight")), None) or next(
        (k for k in found if k.endswith("embed_tokens.weight")), None)
    if key is None:
        raise ArtifactError(f"{path}: no lm_head.weight or embed_tokens.weight in {[f.name for f in files]}")
    with safe_open(str(found[key]), framework="pt") as st:
        matrix = st.get_tensor(key)
    token_ids = np.asarray(token_ids, dtype=np.int64)
    if token_ids.size and token_ids.max() >= matrix.shape[0]:
        raise ArtifactError(f"{path}: {key} has {matrix.shape[0]} rows, fewer than the item tokens need")
    return matrix[token_ids].float().numpy()

