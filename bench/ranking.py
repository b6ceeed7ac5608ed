"""``python -m bench.ranking``: LLM ranking costs, each comparison side by side on the same prompts.

(a) one-pass label scoring vs. generative listwise ranking (the model writes the ranked letters):
    seconds per user and NDCG@10 within the candidates;
(b) the vLLM embedded engine vs. the transformers reference on one batch of ranking prompts: prompts/s;
(c) vLLM with prefix caching on vs. off, scoring each user's P cyclic shifts (which share a prefix).

Prompts are never timed twice on an engine with prefix caching (that would time the cache).

    python -m bench.ranking --retriever runs/retriever --users 50
"""

from __future__ import annotations

import argparse
import gc
import logging
import time
from dataclasses import dataclass

import numpy as np

from llmrec.configargs import add_config_arguments, arg, config_from_args
from llmrec.data import load_dataset
from llmrec.evaluation.metrics import ndcg_at
from llmrec.history import histories
from llmrec.llm.backends import (
    TransformersBackend,
    TransformersConfig,
    VLLMBackend,
    VLLMConfig,
    engine_options,
    label_token_ids,
)
from llmrec.llm.listwise import parse_label_list
from llmrec.llm.ranker import LABELS, LLMRanker, LLMRankerConfig
from llmrec.prompts import load_prompt
from llmrec.split import leave_last_out, target_items
from llmrec.tables import format_table

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BenchConfig:
    data: str | None = arg(None, help="MovieLens-100K directory")
    retriever: str | None = arg(None, help="trained retriever directory (default: untrained text retriever)")
    users: int = arg(50, help="test users (the first N by id)")
    candidates: int = arg(20, help="K candidates")
    permutations: int = arg(4, help="P cyclic shifts for the prefix-caching comparison")
    max_tokens: int = arg(80, help="generation budget for the listwise ranking")
    hf_batch: int = arg(8, help="transformers reference batch size")
    item_model: str | None = arg(None, help="also (d): an item-token model's whole-catalog scoring, vLLM vs "
                                            "the transformers reference (bench.items)")
    block_size: int | None = arg(None, help="vLLM KV-cache block size "
                                            "(default: 32 on CPU, vLLM's own on GPU)")


def ndcg10_within(order_items: np.ndarray, target: int) -> float:
    hit = np.flatnonzero(order_items == target)
    return float(ndcg_at(hit[:1], 10)[0]) if len(hit) else 0.0


def timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ranking", description=__doc__.split("\n")[0])
    add_config_arguments(parser, BenchConfig)
    cfg = config_from_args(BenchConfig, parser.parse_args(argv))
    logging.basicConfig(level=logging.WARNING)
    data = load_dataset(cfg.data)
    test = leave_last_out(data, "test")
    targets = target_items(test)
    hs = histories(test.train.interactions)
    users = sorted(targets)[:cfg.users]

    fresh = sorted(targets)[cfg.users:2 * cfg.users]  # (c) needs prompts the engine has not seen
    vllm = VLLMBackend(VLLMConfig(prefix_caching=True, block_size=cfg.block_size))
    ranker = LLMRanker(LLMRankerConfig(retriever=cfg.retriever, candidates=cfg.candidates), backend=vllm)
    ranker.fit(test.train)
    cands = {u: ranker.recall(hs[u]).items for u in users + fresh}
    prompts = {u: ranker.prompts(hs[u], cands[u])[0][0] for u in users}
    tokens = np.mean([len(vllm.tokenizer.encode(prompts[u])) for u in users])
    rows = []
    # warm up
    vllm.label_logprobs([ranker.prompts(hs[u], cands[u])[0][0] for u in fresh[-4:]], ranker.label_ids)

    # (a) one pass vs generative listwise, user by user (and one pass batched)
    listwise = load_prompt("rank_list")
    one_t, gen_t, one_q, gen_q, parsed = [], [], [], [], []
    for u in users:
        lp, t = timed(vllm.label_logprobs, [prompts[u]], ranker.label_ids)
        one_t.append(t)
        one_q.append(ndcg10_within(cands[u][np.lexsort((np.arange(len(cands[u])), -lp[0]))], targets[u]))
        text = ranker.prompt_text(hs[u], cands[u], listwise)
        out, t = timed(vllm.generate, [text], cfg.max_tokens)
        gen_t.append(t)
        order, n = parse_label_list(out[0], ranker.labels)
        parsed.append(n)
        gen_q.append(ndcg10_within(cands[u][order], targets[u]))
    retr_q = [ndcg10_within(cands[u], targets[u]) for u in users]
    a = format_table([
        ["one-pass label scoring", f"{np.median(one_t):.3f}", f"{np.mean(one_q):.4f}", cfg.candidates],
        ["generative listwise", f"{np.median(gen_t):.3f}", f"{np.mean(gen_q):.4f}", f"{np.mean(parsed):.1f}"],
        ["retriever order", "-", f"{np.mean(retr_q):.4f}", "-"],
    ], ["(a) method, one user per call", "s/user (median)", "NDCG@10 in candidates", "labels ranked"])
    rows.append(a + f"\nratio generative / one-pass: {np.median(gen_t) / np.median(one_t):.1f}x")

    # (c) prefix caching on (this engine) vs off: P shifts per user, users this engine has not seen
    shifted = LLMRanker(LLMRankerConfig(retriever=cfg.retriever, candidates=cfg.candidates,
                                        permutations=cfg.permutations), backend=vllm)
    shifted.fit(test.train)
    perm_prompts = {u: [p for p, _ in shifted.prompts(hs[u], cands[u])] for u in fresh}
    on = [timed(vllm.label_logprobs, perm_prompts[u], ranker.label_ids)[1] for u in fresh]
    vllm.close()  # its worker would otherwise compete with the next engine for the cores
    del vllm, ranker, shifted
    gc.collect()

    # (b) vLLM vs transformers on one batch of the same prompts; the vLLM engine without prefix caching,
    # so prompts seen in (a) are computed again rather than served from the cache
    off_engine = VLLMBackend(VLLMConfig(prefix_caching=False, block_size=cfg.block_size))
    ids = labels_for(off_engine, cfg.candidates)
    off_engine.label_logprobs([perm_prompts[u][0] for u in fresh[-4:]], ids)  # warm up
    off = [timed(off_engine.label_logprobs, perm_prompts[u], ids)[1] for u in fresh]
    batch = [prompts[u] for u in users]
    v_out, v_t = timed(off_engine.label_logprobs, batch, ids)
    off_engine.close()
    del off_engine
    gc.collect()
    hf = TransformersBackend(TransformersConfig(batch_size=cfg.hf_batch))
    h_out, h_t = timed(hf.label_logprobs, batch, labels_for(hf, cfg.candidates))
    agree = float(np.mean(np.argmax(v_out, 1) == np.argmax(h_out, 1)))
    rows.append(format_table([
        ["vLLM embedded (one batch)", f"{len(batch) / v_t:.2f}", f"{v_t / len(batch):.3f}"],
        [f"transformers reference (batches of {cfg.hf_batch})", f"{len(batch) / h_t:.2f}",
         f"{h_t / len(batch):.3f}"],
    ], ["(b) backend", "prompts/s", "s/prompt"]) + f"\nratio vLLM / transformers: {h_t / v_t:.1f}x; "
        f"top label agrees on {agree:.0%} of prompts; max |logprob diff| {np.max(np.abs(v_out - h_out)):.3f}")
    rows.append(format_table([
        ["prefix caching on", f"{np.median(on):.3f}"], ["prefix caching off", f"{np.median(off):.3f}"],
    ], [f"(c) vLLM, {cfg.permutations} cyclic shifts per user", "s/user (median)"]))
    print(f"{len(users)} test users ({len(fresh)} others for (c)), K={cfg.candidates}, mean prompt "
          f"{tokens:.0f} tokens, block size "
          f"{engine_options(False, cfg.block_size).get('block_size', 'default')}, "
          f"retriever={cfg.retriever or 'untrained'}\n")
    if cfg.item_model:
        from bench.items import compare_item_scoring

        rows.append("(d) " + compare_item_scoring(cfg.item_model, data, cfg.users, cfg.hf_batch))
    print("\n\n".join(rows))
    return 0


def labels_for(backend, k: int) -> list[int]:
    return label_token_ids(backend.tokenizer, list(LABELS[:k]))


if __name__ == "__main__":
    raise SystemExit(main())
