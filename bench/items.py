"""``python -m bench.items``: the item-token scorer (``genllm``), vLLM against the transformers reference on
the same batch of users: the whole catalog scored from one forward pass per user.

Prints seconds per user on one batch (after a warm-up batch of other users) of vLLM's two scorings (the
last hidden state through the item rows, and ``allowed_token_ids`` log-probabilities) and of the transformers
reference, each one's speed-up over the reference and how far its log-probabilities are from the reference's
(max |difference|, agreement of the top 10).  ``python -m
bench.ranking --item-model DIR`` prints the same table beside one-pass label scoring.

    python -m bench.items --model runs/items --users 200
"""

from __future__ import annotations

import gc
import logging
import time
from dataclasses import dataclass

import numpy as np

from llmrec.configargs import arg, parse_config
from llmrec.data import load_dataset
from llmrec.history import histories
from llmrec.llm.base import cpu_has_bf16, fast_dtype
from llmrec.llm.generative import GenLLM, GenLLMConfig
from llmrec.split import leave_last_out, target_items
from llmrec.tables import format_table

__all__ = ["BenchItemsConfig", "compare_item_scoring", "main"]


@dataclass(frozen=True, kw_only=True)
class BenchItemsConfig:
    model: str = arg(help="item-token model directory (python -m finetune.items)")
    data: str | None = arg(None, help="MovieLens-100K directory")
    users: int = arg(200, help="test users timed (the first N by id); the next 16 warm up")
    hf_batch: int = arg(16, help="transformers reference batch size")
    dtype: str = arg("auto", help="auto: bfloat16 where the CPU has bf16 units, else float32")


def compare_item_scoring(model: str, data, users: int, hf_batch: int = 16, dtype: str = "auto") -> str:
    """The comparison table (see the module doc) for ``users`` test users of ``data``."""
    test = leave_last_out(data, "test")
    hs = histories(test.train.interactions)
    ids = sorted(target_items(test))
    batch, warm = [hs[u] for u in ids[:users]], [hs[u] for u in ids[users:users + 16]]
    results = {}
    runs = {"vllm-hidden": {"backend": "vllm", "scoring": "hidden"},
            "vllm-logprobs": {"backend": "vllm", "scoring": "logprobs"},
            "transformers": {"backend": "transformers"}}
    for name, how in runs.items():
        rec = GenLLM(GenLLMConfig(model=model, dtype=dtype, batch_size=hf_batch, **how)).fit(test.train)
        rec.item_logprobs(warm)
        t0 = time.perf_counter()
        results[name] = (rec.item_logprobs(batch), time.perf_counter() - t0)
        tokens = np.mean([len(rec.prompt(h)) for h in batch])
        rec.close()
        del rec
        gc.collect()
    h, h_t = results["transformers"]
    labels = {"vllm-hidden": "vLLM embedded, last hidden state x item rows (default)",
              "vllm-logprobs": "vLLM embedded, allowed_token_ids log-probabilities",
              "transformers": f"transformers reference (batches of {hf_batch})"}
    rows = []
    for name, (v, t) in results.items():
        top = np.mean([len(set(np.argsort(-a)[:10]) & set(np.argsort(-b)[:10])) / 10 for a, b in zip(v, h)])
        rows.append([labels[name], f"{t / len(batch):.4f}", f"{len(batch) / t:.1f}", f"{h_t / t:.2f}x",
                     f"{np.max(np.abs(v - h)):.4f}", f"{top:.1%}"])
    table = format_table(rows, ["item-token scoring, whole catalog (one batch)", "s/user", "users/s",
                                "vs reference", "max |logprob diff|", "top-10 overlap"])
    resolved = fast_dtype() if dtype == "auto" else dtype
    return (f"{len(batch)} test users, mean prompt {tokens:.0f} tokens, {h.shape[1]} items scored per user, "
            f"dtype {resolved} (bf16 units on this CPU: {cpu_has_bf16()})\n{table}")


def main(argv: list[str] | None = None) -> int:
    cfg = parse_config(BenchItemsConfig, argv, prog="python -m bench.items",
                       description=__doc__.split("\n")[0])
    logging.basicConfig(level=logging.WARNING)
    print(compare_item_scoring(cfg.model, load_dataset(cfg.data), cfg.users, cfg.hf_batch, cfg.dtype))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
