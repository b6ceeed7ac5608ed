"""``python -m finetune.cold_items``: give items added to the catalog after training tokens of their own,
without retraining.

Each new item gets a token and a row from its text — its title's token embeddings, scaled as the trained
model's rows were initialised — and the model is written again (atomically, manifest for the new catalog;
the trained rows and weights unchanged).  ``genllm`` then scores the new items from the first request; they
learn collaborative signal only at the next training.

    python -m finetune.cold_items --model runs/items --items new_items.csv --output runs/items-extended
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from llmrec.artifacts import atomic_directory, atomic_write_text, read_manifest, write_manifest
from llmrec.configargs import arg, parse_config, run_main
from llmrec.data import Catalog, load_dataset
from llmrec.errors import ConfigError
from llmrec.llm.items import ITEM_MODEL_KIND, ItemVocabulary, catalog_fingerprint, item_token

__all__ = ["ColdItemsConfig", "add_cold_items", "main"]

log = logging.getLogger(__name__)


def add_cold_items(model: str | Path, catalog: Catalog, output: str | Path) -> dict:
    """Write ``model`` extended to ``catalog`` (a superset of the catalog it was trained for) to ``output``;
    returns the new manifest.  Items the model has no token for get one, initialised from their title."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from finetune.item_data import title_rows

    model = Path(model)
    manifest = read_manifest(model, ITEM_MODEL_KIND)
    old = ItemVocabulary.from_manifest(manifest)
    known = {int(i): int(t) for i, t in zip(old.item_ids.tolist(), old.token_ids.tolist())}
    missing = sorted(set(known) - set(catalog.item_ids.tolist()))
    if missing:
        raise ConfigError(f"the catalog lacks {len(missing)} items the model was trained for (e.g. "
                          f"{missing[:5]}); cold items are added to the training catalog, never taken from "
                          "it")
    new = [int(i) for i in catalog.item_ids.tolist() if int(i) not in known]
    if not new:
        raise ConfigError(f"every catalog item already has a token in {model}; nothing to add")
    card_file = model / "card.json"
    card = json.loads(card_file.read_text(encoding="utf-8")) if card_file.is_file() else {}
    tokenizer = AutoTokenizer.from_pretrained(model)
    lm = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32)
    first = int(old.token_ids.min())
    base = lm.get_input_embeddings().weight[:first].detach()
    norm = card.get("data", {}).get("row_norm") or float(
        lm.get_input_embeddings().weight[torch.as_tensor(old.token_ids)].norm(dim=1).mean())
    tokenizer.add_tokens([item_token(i) for i in new])
    lm.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    sub = Catalog(catalog.frame.loc[new])
    rows = title_rows(base, tokenizer, sub)
    rows = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-8) * norm
    ids = tokenizer.convert_tokens_to_ids([item_token(i) for i in new])
    with torch.no_grad():
        lm.get_input_embeddings().weight[torch.as_tensor(ids)] = torch.as_tensor(rows, dtype=torch.float32)
    tokens = {**known, **dict(zip(new, ids))}
    titles = dict(old.titles)
    if old.form == "hybrid":
        titles |= {i: tuple(tokenizer(f" {catalog.short_title(i)};", add_special_tokens=False)["input_ids"])
                   for i in new}
    token_ids = np.asarray([tokens[int(i)] for i in catalog.item_ids.tolist()], dtype=np.int64)
    vocab = ItemVocabulary(catalog.item_ids.copy(), token_ids, old.prefix_ids, catalog_fingerprint(catalog),
                           old.form, titles)
    fields = vocab.manifest_fields()
    keep = {k: v for k, v in manifest.items() if k not in ("files", "kind") and k not in fields}
    with atomic_directory(output) as tmp:
        lm.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        if card:
            atomic_write_text(tmp / "card.json", json.dumps({**card, "cold_items": new}, indent=2,
                                                            default=str))
        out = write_manifest(tmp, ITEM_MODEL_KIND, **keep, **fields,
                             extended_from=str(model), cold_items=new)
    log.info("cold items added: %d (model %s -> %s)", len(new), model, output)
    return out


@dataclass(frozen=True, kw_only=True)
class ColdItemsConfig:
    model: str = arg(help="item-token model directory (python -m finetune.items)")
    output: str = arg(help="directory to write the extended model to (replaced atomically)")
    data: str | None = arg(None, help="dataset whose catalog holds the new items: a MovieLens directory, or "
                                      "an interactions table with --items")
    items: str | None = arg(None, help="with --data TABLE: the item table (title, year, genres)")


def main(argv: list[str] | None = None) -> int:
    cfg = parse_config(ColdItemsConfig, argv, prog="python -m finetune.cold_items",
                       description=__doc__.split("\n")[0])
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    manifest = add_cold_items(cfg.model, load_dataset(cfg.data, cfg.items).catalog, cfg.output)
    print(f"wrote {cfg.output}: {len(manifest['cold_items'])} new item tokens, {manifest['items']} in all")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main, prog="python -m finetune.cold_items"))
