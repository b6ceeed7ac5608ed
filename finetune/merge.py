"""``python -m finetune.merge``: fold a LoRA adapter into its base model, for fast serving.

vLLM serves LoRA adapters exactly, but on CPU its LoRA prefill is slow (a validation pass that takes the
transformers backend about 40 s had not finished after 17 minutes).  A merged model is a plain safetensors
model directory — base weights plus the adapter's low-rank update — that any backend serves at the base
model's speed: ``--param model=runs/lora-merged`` (no adapter).  Its manifest (kind ``merged-model``) lists
every file's SHA-256 and names the adapter, its base model and the read-out it was trained for; a ranker
whose model is a merged directory takes the read-out from there, as it does from an adapter.

    python -m finetune.merge --adapter runs/lora --output runs/lora-merged
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from llmrec.artifacts import atomic_directory, atomic_write_text, write_manifest
from llmrec.configargs import arg, parse_config, run_main
from llmrec.llm.adapters import load_adapter, model_fingerprint
from llmrec.llm.ranker import ADAPTER_FIELDS
from llmrec.models import resolve_llm

__all__ = ["MERGED_KIND", "MergeConfig", "main", "merge_adapter"]

log = logging.getLogger(__name__)

MERGED_KIND = "merged-model"


@dataclass(frozen=True, kw_only=True)
class MergeConfig:
    adapter: str = arg(help="LoRA adapter directory (python -m finetune.lora)")
    output: str = arg(help="directory to write the merged model to (replaced atomically)")
    model: str | None = arg(None, help="base model (default: the one the adapter was trained on)")


def merge_adapter(adapter: str, output: str, model: str | None = None) -> dict:
    """Merge ``adapter`` into its base model and write the result to ``output``; returns the manifest.

    The base model is checked against the adapter's (a mismatch is refused, as when serving)."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    trained_on = json.loads((Path(adapter) / "card.json").read_text(encoding="utf-8")).get("base_model") \
        if (Path(adapter) / "card.json").is_file() else None
    base = resolve_llm(model or trained_on)
    info = load_adapter(adapter, base_model=base)  # verifies the files and the base model
    lm = AutoModelForCausalLM.from_pretrained(base, torch_dtype=torch.float32)
    merged = PeftModel.from_pretrained(lm, info.path).merge_and_unload()
    with atomic_directory(output) as tmp:
        merged.save_pretrained(tmp, safe_serialization=True)
        AutoTokenizer.from_pretrained(base).save_pretrained(tmp)
        card = {"adapter": info.path, "adapter_name": info.name, "base_model": info.base_model,
                "base_fingerprint": info.base_fingerprint,
                **{k: info.manifest.get(k, older) for k, older in ADAPTER_FIELDS.items()},
                "prompt_version": info.manifest.get("prompt_version"),
                "validation": info.manifest.get("validation")}
        atomic_write_text(tmp / "merge.json", json.dumps(card, indent=2, default=str))
        manifest = write_manifest(tmp, MERGED_KIND, **card)
    log.info("merged %s into %s (fingerprint %s)", info.path, output, model_fingerprint(str(Path(output))))
    return manifest


def main(argv: list[str] | None = None) -> int:
    cfg = parse_config(MergeConfig, argv, prog="python -m finetune.merge", description=__doc__.split("\n")[0])
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    merge_adapter(cfg.adapter, cfg.output, cfg.model)
    print(f"merged model written to {cfg.output}; serve it with --param model={cfg.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main, prog="python -m finetune.merge"))
