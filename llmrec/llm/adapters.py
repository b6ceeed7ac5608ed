"""LoRA adapters of the ranking LLM: what one is, and the check that it fits the base model it is served on.

An adapter directory is a standard peft adapter (``adapter_config.json``, ``adapter_model.safetensors``)
plus llmrec's ``manifest.json`` (kind ``lora-adapter``: every file's SHA-256, the adapter's name, rank and
the fingerprint of the base model it was trained on) and a card (``README.md``, ``card.json``), written
atomically by ``python -m finetune.lora``.  :func:`load_adapter` refuses a corrupt adapter, and one
trained on another base model, with a message naming both models.

An adapter is interpreted in one place: :func:`resolve_adapter` turns what a user gives (a directory, or the
name a remote server serves an adapter under) into an :class:`Adapter` handle once; backends hold them in an
:class:`AdapterSet` and a call names one by its handle or name.  The prompt settings it was trained for
(:data:`ADAPTER_FIELDS`) are read from the handle, or from a merged model's manifest (:func:`trained_fields`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from llmrec.artifacts import MANIFEST, read_manifest, sha256_file
from llmrec.errors import ArtifactError, ConfigError

__all__ = ["ADAPTER_FIELDS", "ADAPTER_KIND", "MANIFEST", "VLLM_LORA_RANKS", "Adapter", "AdapterSet",
           "load_adapter", "model_fingerprint", "resolve_adapter", "trained_fields", "vllm_lora_rank"]

ADAPTER_KIND = "lora-adapter"
#: Prompt settings an adapter's manifest records, with the value adapters from before the field imply.
ADAPTER_FIELDS = {"scoring": "letters", "details": "titles"}
_WEIGHTS = ("*.safetensors", "*.bin")
VLLM_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)  # the ranks vLLM 0.32 accepts as max_lora_rank


def vllm_lora_rank(needed: int) -> int:
    """The smallest ``max_lora_rank`` vLLM accepts that holds rank ``needed``."""
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
    """A LoRA adapter resolved once: a verified directory, or (``path`` None) a name a remote server
    serves."""

    path: str | None  # absolute directory; None: only the server knows the adapter
    name: str  # the name it is served and requested under
    rank: int | None = None
    base_model: str | None = None  # the base model it was trained on, as given to training
    base_fingerprint: str | None = None
    # the manifest read from ``path``: not part of the adapter's identity, nor of its hash (an adapter keys
    # caches, e.g. MemoBackend's)
    manifest: dict = field(default_factory=dict, compare=False)

    def check_base(self, base_model: str) -> None:
        """Refuse to serve this adapter on ``base_model`` (a resolved path or hub id) unless trained on it."""
        if self.path is None:
            return
        have = model_fingerprint(base_model)
        if have != self.base_fingerprint:
            raise ArtifactError(
                f"LoRA adapter {self.path} was trained on base model {self.base_model} (fingerprint "
                f"{self.base_fingerprint}), but the LLM here is {base_model} (fingerprint {have}); "
                "serve it with the model it was trained on, or train an adapter for this one")

    def trained_fields(self) -> dict[str, str]:
        """The prompt settings it was trained for (older adapters: letters, titles); none for a served
        name."""
        if self.path is None:
            return {}
        return {k: self.manifest.get(k, older) for k, older in ADAPTER_FIELDS.items()}


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
                      base_model=str(manifest.get("base_model")),
                      base_fingerprint=str(manifest.get("base_fingerprint")), manifest=manifest)
    if base_model is not None:
        adapter.check_base(base_model)
    return adapter


def resolve_adapter(spec: str | Path | Adapter) -> Adapter:
    """The handle of ``spec``: an :class:`Adapter` as it is, a directory loaded and verified (its files; the
    base model is checked by the backend that serves it), or any other string as the name a server serves."""
    if isinstance(spec, Adapter):
        return spec
    if Path(spec).expanduser().is_dir():
        return load_adapter(spec)
    if not str(spec) or "/" in str(spec):
        raise ArtifactError(f"LoRA adapter {spec}: no such directory")
    return Adapter(path=None, name=str(spec))


def trained_fields(model: str | None) -> dict[str, str]:
    """The prompt settings (:data:`ADAPTER_FIELDS`) a merged model (``python -m finetune.merge``) was trained
    for, read from its manifest; empty for any other model."""
    manifest = Path(model or "").expanduser() / MANIFEST
    if not model or not manifest.is_file():
        return {}
    try:
        fields = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    if fields.get("kind") != "merged-model":
        return {}
    return {k: fields[k] for k in ADAPTER_FIELDS if k in fields}


class AdapterSet:
    """The adapters one backend serves, resolved and checked against its base model once at start-up; a call
    picks one by its handle, its name, or the very spec it was configured with."""

    def __init__(self, specs: tuple[str | Adapter, ...] | list, base_model: str | None = None, *,
                 need_path: bool = True):
        self.adapters = [resolve_adapter(s) for s in specs]
        for spec, a in zip(specs, self.adapters):
            if a.path is None and need_path:
                raise ArtifactError(f"LoRA adapter {spec}: no such directory")
            if base_model is not None:
                a.check_base(base_model)
        names = [a.name for a in self.adapters]
        if len(set(names)) != len(names):
            raise ConfigError(f"LoRA adapter names must be distinct, got {names} "
                              f"(from {list(map(str, specs))})")
        self._index = {a.name: i for i, a in enumerate(self.adapters)}
        self._index.update({str(s): i for i, s in enumerate(specs) if not isinstance(s, Adapter)})

    def __len__(self) -> int:
        return len(self.adapters)

    def __iter__(self):
        return iter(self.adapters)

    def index(self, adapter: str | Adapter) -> int:
        """The position of ``adapter`` among the configured ones."""
        key = adapter.name if isinstance(adapter, Adapter) else str(adapter)
        if key not in self._index:
            raise ConfigError(f"LoRA adapter {key!r} was not configured for this backend (it has "
                              f"{[a.name for a in self.adapters]}); pass it in the backend config's adapters "
                              "when the backend starts")
        return self._index[key]

    def get(self, adapter: str | Adapter) -> Adapter:
        return self.adapters[self.index(adapter)]
