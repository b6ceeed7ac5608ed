"""LoRA adapters of the ranking LLM: what one is, and the check that it fits the base model it is served on.

An adapter directory is a standard peft adapter (``adapter_config.json``, ``adapter_model.safetensors``)
plus llmrec's ``manifest.json`` (kind ``lora-adapter``: every file's SHA-256, the adapter's name, rank and
the fingerprint of the base model it was trained on) and a card (``README.md``, ``card.json``), written
atomically by ``python -m finetune.lora``.  :func:`load_adapter` refuses a corrupt adapter, and one
trained on another base model, with a message naming both models.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from llmrec.artifacts import MANIFEST, read_manifest, sha256_file
from llmrec.errors import ArtifactError

__all__ = ["ADAPTER_KIND", "MANIFEST", "VLLM_LORA_RANKS", "Adapter", "load_adapter", "model_fingerprint", "vllm_lora_rank"]

ADAPTER_KIND = "lora-adapter"
_WEIGHTS = ("*.safetensors", "*.bin")
VLLM_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)  # the ranks vLLM 0.32 accepts as max_lora_rank


def vllm_lora_rank(needed: int) -> int:
    """The smallest ``max_lora_rank`` vLLM accepts that holds rank ``needed``."""
    from llmrec.errors import ConfigError

    rank = next((r for r in VLLM_LORA_RANKS if r >= needed), None)
    if rank is None:
        raise ConfigError(f"LoRA rank {needed} is above vLLM's largest, {VLLM_LORA_RANKS[-1]}")
    return rank


@functools.lru_cache(maxsize=16)
def model_fingerprint(model: str) -> str:
    """A short identity of a base model's weights.

    For a local directory: SHA-256 over its config and weight files' digests (taken from llmrec's manifest
    when the directory has one, so the bundled model costs nothing to fingerprint).  For a hub id, which
    cannot be hashed without downloading it: ``hub:<id>``.
    """
    path = Path(model)
    if not path.is_dir():
        return f"hub:{model}"
    listed: dict[str, str] = {}
    if (path / MANIFEST).is_file():
        try:
            listed = json.loads((path / MANIFEST).read_text(encoding="utf-8")).get("files", {})
        except (OSError, json.JSONDecodeError):
            listed = {}
    files = sorted({p.name for pattern in _WEIGHTS for p in path.glob(pattern)} | {"config.json"})
    h = hashlib.sha256()
    for name in files:
        if (path / name).is_file():
            h.update(f"{name}:{listed.get(name) or sha256_file(path / name)}\n".encode())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class Adapter:
    """A verified LoRA adapter directory."""

    path: str  # absolute directory
    name: str  # the name it is served and requested under
    rank: int
    base_model: str  # the base model it was trained on, as given to training
    base_fingerprint: str
    manifest: dict


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "adapter"


def load_adapter(path: str | Path, base_model: str | None = None) -> Adapter:
    """Read and verify the adapter at ``path``; with ``base_model`` (a resolved model path or hub id), also
    check that it was trained on that model.

    Raises ArtifactError when the directory is not an llmrec LoRA adapter, a file is missing or corrupt,
    or the base model differs.
    """
    directory = Path(path).expanduser().resolve()
    if not directory.is_dir():
        raise ArtifactError(f"LoRA adapter {path}: no such directory")
    if not (directory / "adapter_config.json").is_file():
        raise ArtifactError(f"{directory} is not a peft LoRA adapter directory (no adapter_config.json)")
    manifest = read_manifest(directory, ADAPTER_KIND)
    try:
        rank = int(json.loads((directory / "adapter_config.json").read_text(encoding="utf-8"))["r"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ArtifactError(f"{directory}/adapter_config.json has no usable rank 'r': {err}") from None
    adapter = Adapter(path=str(directory), name=_safe_name(manifest.get("name") or directory.name), rank=rank,
                      base_model=str(manifest.get("base_model")), base_fingerprint=str(manifest.get("base_fingerprint")),
                      manifest=manifest)
    if base_model is not None:
        have = model_fingerprint(base_model)
        if have != adapter.base_fingerprint:
            raise ArtifactError(
                f"LoRA adapter {directory} was trained on base model {adapter.base_model} (fingerprint "
                f"{adapter.base_fingerprint}), but the LLM here is {base_model} (fingerprint {have}); "
                "serve it with the model it was trained on, or train an adapter for this one")
    return adapter
