"""``python -m bench.train_step``: seconds per LoRA optimizer step, fp32 against bf16 autocast, on this
machine.

The step of ``python -m finetune.lora``'s default configuration (the model, LoRA config, batch size and a
typical prompt length) on random tokens: forward, loss on the last token, backward, AdamW step.  It tells
what ``--precision auto`` should pick here: bf16 autocast pays on CPUs with bf16 matrix units (AVX512-BF16,
AMX) and is emulated elsewhere.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import statistics
import time

from finetune.config import SaveConfig
from finetune.lora import LoraTrainConfig, add_lora
from finetune.validate import cpu_has_bf16
from llmrec.tables import format_table

log = logging.getLogger(__name__)


def step_seconds(cfg: LoraTrainConfig, *, bf16: bool, seq_len: int, steps: int,
                 seed: int = 0) -> list[float]:
    """Wall seconds of ``steps`` optimizer steps (after one warm-up step) at ``cfg.training.batch_size`` x
    ``seq_len``."""
    import torch
    from transformers import AutoModelForCausalLM

    from llmrec.models import resolve_llm

    torch.manual_seed(seed)
    base = AutoModelForCausalLM.from_pretrained(resolve_llm(cfg.adapter.model), dtype=torch.float32)
    model = add_lora(base, cfg.adapter)
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.training.lr)
    vocab = model.config.vocab_size
    times = []
    for n in range(steps + 1):
        ids = torch.randint(0, vocab, (cfg.training.batch_size, seq_len))
        labels = torch.full_like(ids, -100)
        labels[:, -1] = ids[:, -1]
        t = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model(input_ids=ids, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        seconds = time.perf_counter() - t
        log.info("%s step %d: %.1f s%s", "bf16" if bf16 else "fp32", n, seconds, "" if n else " (warm-up)")
        if n:  # the first step warms up allocators and kernels
            times.append(seconds)
    return times


def main(argv: list[str] | None = None) -> int:
    description = " ".join(__doc__.split("\n\n")[0].split())  # the first paragraph, unwrapped
    parser = argparse.ArgumentParser(prog="python -m bench.train_step", description=description)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per precision (default: 3)")
    parser.add_argument("--seq-len", type=int, default=460,
                        help="tokens per example (default: 460, a ranking prompt with 20 candidates)")
    parser.add_argument("--batch-size", type=int, default=None, help="default: finetune.lora's")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    cfg = LoraTrainConfig(save=SaveConfig(output="unused"))
    if args.batch_size:
        cfg = dataclasses.replace(cfg, training=dataclasses.replace(cfg.training, batch_size=args.batch_size))
    rows = []
    for name, bf16 in (("fp32", False), ("bf16 autocast", True)):
        times = step_seconds(cfg, bf16=bf16, seq_len=args.seq_len, steps=args.steps)
        rows.append([name, f"{statistics.median(times):.2f}", f"{min(times):.2f}-{max(times):.2f}"])
    print(f"LoRA step, batch {cfg.training.batch_size} x {args.seq_len} tokens, {args.steps} steps after a "
          f"warm-up; bf16 matrix units on this CPU: {cpu_has_bf16()} (--precision auto picks "
          f"{'bf16' if cpu_has_bf16() else 'fp32'} here)")
    print(format_table(rows, ["precision", "s/step (median)", "range"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
