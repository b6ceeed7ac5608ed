"""``python -m bench.items``: the item-token scorer (``genllm``), vLLM against the transformers reference on
the same batch of users: the whole catalog scored from one forward pass per user.

Prints seconds per user of each backend on one batch (after a warm-up batch of other users), their ratio, and
how far their log-probabilities are apart (max |difference|, agreement of the top 10).  ``python -m
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
    for backend in ("vllm", "transformers"):
        cfg = GenLLMConfig(model=model, backend=backend, dtype=dtype, batch_size=hf_batch)
        rec = GenLLM(cfg).fit(test.train)
        rec.item_logprobs(warm)
        t0 = time.perf_counter()
        results[backend] = (rec.item_logprobs(batch), time.perf_counter() - t0)
        tokens = np.mean([len(rec.prompt(h)) for h in batch])
        rec.close()
        del rec
        gc.collect()
    (v, v_t), (h, h_t) = results["vllm"], results["transformers"]
    top = np.mean([len(set(np.argsort(-a)[:10]) & set(np.argsort(-b)[:10])) / 10 for a, b in zip(v, h)])
    table = format_table([
        ["vLLM embedded (one batch, allowed_token_ids)", f"{v_t / len(batch):.4f}",
         f"{len(batch) / v_t:.1f}"],
        [f"transformers reference (batches of {hf_batch})", f"{h_t / len(batch):.4f}",
         f"{len(batch) / h_t:.1f}"],
    ], ["item-token scoring, whole catalog", "s/user", "users/s"])
    resolved = fast_dtype() if dtype == "auto" else dtype
    return (f"{len(batch)} test users, mean prompt {tokens:.0f} tokens, {v.shape[1]} items scored per user, "
            f"dtype {resolved} (bf16 units on this CPU: {cpu_has_bf16()})\n{table}\n"
            f"ratio vLLM / transformers: {h_t / v_t:.1f}x; max |logprob difference| "
            f"{np.max(np.abs(v - h)):.4f}; top-10 overlap {top:.1%}")


def main(argv: list[str] | None = None) -> int:
    cfg = parse_config(BenchItemsConfig, argv, prog="python -m bench.items",
                       description=__doc__.split("\n")[0])
    logging.basicConfig(level=logging.WARNING)
    print(compare_item_scoring(cfg.model, load_dataset(cfg.data), cfg.users, cfg.hf_batch, cfg.dtype))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
