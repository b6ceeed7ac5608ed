"""The LoRA training configuration: groups flattened into flags (llmrec.configargs), the exact flags of
``python -m finetune.lora``, validation, and the library/CLI split of output."""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import json
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Literal

import pytest

from finetune.config import AdapterConfig, ExamplesConfig, LoraTrainConfig, SaveConfig, TrainingConfig
from llmrec.configargs import add_config_arguments, arg, config_from_args, config_values
from llmrec.errors import ConfigError


# -- nested dataclasses in llmrec.configargs -----------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class Optim:
    lr: float = arg(0.1, help="learning rate")
    betas: tuple[float, float] = arg((0.9, 0.99), help="betas")
    kind: Literal["adam", "sgd"] = arg("adam", help="optimizer")


@dataclass(frozen=True, kw_only=True)
class Out:
    path: str = arg(help="where to")
    tags: list[str] = arg(default_factory=list, help="tags", repeat=True)


@dataclass(frozen=True, kw_only=True)
class Job:
    out: Out = arg(help="output")
    optim: Optim = arg(default_factory=Optim, help="optimisation")
    verbose: bool = arg(False, help="talk")


@dataclass(frozen=True, kw_only=True)
class Tuned:
    optim: Optim = arg(default_factory=lambda: Optim(lr=0.5, kind="sgd"),
                       help="a group with its own defaults")
    steps: int = arg(3, help="steps")


def _parse(cls, argv, **kw):
    parser = argparse.ArgumentParser(exit_on_error=False)
    add_config_arguments(parser, cls, **kw)
    return parser, config_from_args(cls, parser.parse_args(argv))


def test_a_groups_fields_become_unprefixed_flags_and_the_nested_dataclass_is_rebuilt():
    parser, cfg = _parse(Job, ["--path", "o", "--lr", "0.2", "--betas", "0.8", "0.9", "--kind", "sgd",
                               "--tags", "a", "--tags", "b", "--verbose"])
    assert cfg == Job(out=Out(path="o", tags=["a", "b"]), optim=Optim(lr=0.2, betas=(0.8, 0.9), kind="sgd"),
                      verbose=True)
    assert isinstance(cfg.optim.betas, tuple)
    flags = {a.option_strings[0] for a in parser._actions}
    assert {"--path", "--tags", "--lr", "--betas", "--kind", "--verbose"} <= flags
    assert not any(f.startswith(("--out", "--optim")) for f in flags)  # a group itself is no flag
    assert [g.title for g in parser._action_groups][-2:] == ["out", "optim"]  # help sections by group


def test_a_group_left_at_its_defaults_and_a_required_field_inside_a_group():
    _, cfg = _parse(Job, ["--path", "o"])
    assert cfg == Job(out=Out(path="o"))
    with pytest.raises((argparse.ArgumentError, SystemExit)):
        _parse(Job, [])  # --path is required


def test_a_group_fields_default_is_the_groups_default_value_not_its_class_default():
    parser, cfg = _parse(Tuned, [])
    assert cfg.optim == Optim(lr=0.5, kind="sgd")
    assert parser.get_default("lr") == 0.5
    _, cfg = _parse(Tuned, ["--lr", "0.7"], skip=("kind",))
    assert cfg.optim == Optim(lr=0.7, kind="sgd")  # a skipped flag keeps the group's default


@dataclass(frozen=True, kw_only=True)
class Other:
    lr: float = arg(1.0, help="another learning rate")


@dataclass(frozen=True, kw_only=True)
class Clash:
    optim: Optim = arg(default_factory=Optim, help="optimisation")
    other: Other = arg(default_factory=Other, help="other")


@dataclass(frozen=True, kw_only=True)
class TopClash:
    optim: Optim = arg(default_factory=Optim, help="optimisation")
    kind: str = arg("x", help="clashes with Optim.kind")


def test_a_flag_defined_by_two_groups_is_refused_when_the_parser_is_built():
    with pytest.raises(TypeError, match=r"--lr is defined twice, by Optim.lr and Other.lr"):
        add_config_arguments(argparse.ArgumentParser(), Clash)
    with pytest.raises(TypeError, match="--kind is defined twice"):
        add_config_arguments(argparse.ArgumentParser(), TopClash)


def test_flat_classes_parse_as_before():
    _, cfg = _parse(Optim, ["--betas", "1", "2"])
    assert cfg == Optim(betas=(1.0, 2.0))
    assert config_values(cfg) == dataclasses.asdict(cfg)


def test_config_values_flatten_the_groups_and_copy_the_values():
    cfg = Job(out=Out(path="o", tags=["a"]), verbose=True)
    values = config_values(cfg)
    assert values == {"path": "o", "tags": ["a"], "lr": 0.1, "betas": (0.9, 0.99), "kind": "adam",
                      "verbose": True}
    values["tags"].append("b")
    assert cfg.out.tags == ["a"]


# -- python -m finetune.lora's flags: the same names and defaults as before the groups -----------------------
FLAGS = {  # flag -> default (None: required)
    "--output": None, "--data": None, "--retriever": "auto", "--model": None, "--name": None,
    "--r": 16, "--alpha": 32, "--dropout": 0.0,
    "--target-modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "--layers": 8, "--per-user": 10, "--negatives": "retriever", "--retriever-order": True,
    "--max-examples": 1600, "--candidates": 20, "--scoring": "marks", "--details": "titles",
    "--explain-examples": 600, "--shared-prompts": True, "--epochs": 1.0, "--max-steps": -1,
    "--batch-size": 8, "--length-batches": True, "--grad-accum": 1, "--lr": 5e-4, "--loss": "labels",
    "--eval-steps": 50, "--val-users": 200, "--trunk-cache": True, "--precision": "auto",
    "--quantize": "none", "--seed": 0, "--resume": False, "--smoke": False, "--progress": True,
}


def _lora_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(exit_on_error=False)
    add_config_arguments(parser, LoraTrainConfig)
    return parser


def test_the_lora_flags_keep_their_names_and_defaults():
    actions = {a.option_strings[0]: a for a in _lora_parser()._actions if a.option_strings[0] != "-h"}
    assert set(actions) == set(FLAGS)
    assert {f: (None if a.required else a.default) for f, a in actions.items()} == FLAGS
    for flag in ("--retriever-order", "--smoke", "--progress", "--resume", "--shared-prompts"):
        assert "--no-" + flag[2:] in actions[flag].option_strings


def test_argv_to_config_round_trips_every_value():
    argv = ["--output", "runs/x", "--name", "n", "--data", "d", "--retriever", "untrained", "--model", "m",
            "--r", "8", "--alpha", "4", "--dropout", "0.1", "--target-modules", "q_proj", "v_proj",
            "--layers", "0", "--per-user", "3", "--negatives", "mixed", "--no-retriever-order",
            "--max-examples", "7", "--candidates", "5", "--scoring", "letters", "--details", "full",
            "--explain-examples", "0", "--no-shared-prompts", "--epochs", "2", "--max-steps", "9",
            "--batch-size", "2", "--no-length-batches", "--grad-accum", "3", "--lr", "0.01",
            "--loss", "vocab", "--eval-steps", "4", "--val-users", "6", "--no-trunk-cache",
            "--precision", "fp32", "--quantize", "4bit", "--seed", "11", "--resume", "--smoke",
            "--no-progress"]
    cfg = config_from_args(LoraTrainConfig, _lora_parser().parse_args(argv))
    expected = {"output": "runs/x", "name": "n", "data": "d", "retriever": "untrained", "model": "m", "r": 8,
                "alpha": 4, "dropout": 0.1, "target_modules": ["q_proj", "v_proj"], "layers": 0,
                "per_user": 3, "negatives": "mixed", "retriever_order": False, "max_examples": 7,
                "candidates": 5, "scoring": "letters", "details": "full", "explain_examples": 0,
                "shared_prompts": False, "epochs": 2.0, "max_steps": 9, "batch_size": 2,
                "length_batches": False, "grad_accum": 3, "lr": 0.01, "loss": "vocab", "eval_steps": 4,
                "val_users": 6, "trunk_cache": False, "precision": "fp32", "quantize": "4bit", "seed": 11,
                "resume": True, "smoke": True, "progress": False}
    assert config_values(cfg) == expected
    assert set(expected) == {f[2:].replace("-", "_") for f in FLAGS}  # every flag was given
    # and the values rebuild the same config
    assert config_from_args(LoraTrainConfig, argparse.Namespace(**config_values(cfg))) == cfg
    assert (cfg.save.output, cfg.examples.details, cfg.adapter.r,
            cfg.training.lr) == ("runs/x", "full", 8, 0.01)
    assert config_from_args(LoraTrainConfig, _lora_parser().parse_args(["--output", "o"])) == \
        LoraTrainConfig(save=SaveConfig(output="o"))


def test_the_groups_compose_and_their_fields_are_given_and_read_through_the_groups_only():
    cfg = LoraTrainConfig(save=SaveConfig(output="o"), training=TrainingConfig(lr=0.1, batch_size=2),
                          adapter=AdapterConfig(r=4))
    assert cfg.training == TrainingConfig(lr=0.1, batch_size=2) and cfg.adapter == AdapterConfig(r=4)
    assert cfg.examples == ExamplesConfig()
    assert (cfg.training.lr, cfg.adapter.r, cfg.save.output) == (0.1, 4, "o")
    replaced = dataclasses.replace(cfg, training=dataclasses.replace(cfg.training, batch_size=5))
    assert replaced.training == TrainingConfig(lr=0.1, batch_size=5) and replaced.adapter == cfg.adapter
    assert [f.name for f in dataclasses.fields(LoraTrainConfig)] == [
        "save", "examples", "adapter", "training", "smoke", "progress"]
    with pytest.raises(TypeError, match="unexpected keyword argument 'output'"):
        LoraTrainConfig(output="o")  # a group's field is no field of LoraTrainConfig
    with pytest.raises(TypeError, match="unexpected keyword argument 'learning_rate'"):
        LoraTrainConfig(save=SaveConfig(output="o"), learning_rate=1.0)
    with pytest.raises(TypeError, match="unexpected keyword argument 'batch_size'"):
        dataclasses.replace(cfg, batch_size=5)
    for name in ("lr", "output", "r", "learning_rate"):
        with pytest.raises(AttributeError):
            getattr(cfg, name)


def test_smoke_resolves_to_the_tiny_sizes_in_each_group():
    cfg = LoraTrainConfig(save=SaveConfig(output="o"), smoke=True).resolved()
    assert (cfg.adapter.r, cfg.adapter.alpha, cfg.adapter.layers) == (4, 8, 2)
    assert (cfg.examples.per_user, cfg.examples.max_examples, cfg.examples.explain_examples,
            cfg.examples.candidates) == (1, 24, 4, 8)
    assert (cfg.training.max_steps, cfg.training.batch_size, cfg.training.eval_steps,
            cfg.training.val_users) == (6, 4, 3, 12)
    plain = LoraTrainConfig(save=SaveConfig(output="o"))
    assert plain.resolved() == LoraTrainConfig(save=SaveConfig(output="o"))
    fewer = LoraTrainConfig(save=SaveConfig(output="o"), examples=ExamplesConfig(candidates=5), smoke=True)
    assert fewer.resolved().examples.candidates == 5


@pytest.mark.parametrize(("cls", "values", "message"), [
    (SaveConfig, {"output": ""}, "--output: needs a directory, got ''"),
    (ExamplesConfig, {"per_user": 0}, "--per-user: must be >= 1, got 0"),
    (ExamplesConfig, {"candidates": 27}, "--candidates: must be between 1 and 26, got 27"),
    (ExamplesConfig, {"max_examples": 0}, "--max-examples: must be >= 1 (or None: all), got 0"),
    (ExamplesConfig, {"negatives": "hard"},
     "--negatives must be one of ['retriever', 'random', 'mixed'], got 'hard'"),
    (AdapterConfig, {"r": 0}, "--r: must be >= 1, got 0"),
    (AdapterConfig, {"dropout": 1.0}, "--dropout: must be in [0, 1), got 1.0"),
    (AdapterConfig, {"target_modules": ["q_proj", "lm_head"]}, "not lm_head"),
    (AdapterConfig, {"layers": -1}, "--layers: must be >= 0 (0: all layers), got -1"),
    (TrainingConfig, {"max_steps": 0}, "--max-steps: must be >= 1, or -1 (epochs decide), got 0"),
    (TrainingConfig, {"lr": -1e-3}, "--lr: must be > 0, got -0.001"),
    (TrainingConfig, {"precision": "fp16"},
     "--precision must be one of ['auto', 'fp32', 'bf16'], got 'fp16'"),
])
def test_a_bad_value_is_refused_naming_its_flag_and_showing_the_value(cls, values, message):
    with pytest.raises(ConfigError) as err:
        cls(**values)
    assert message in str(err.value)
    with pytest.raises(ConfigError):  # the same when LoraTrainConfig is built from the (flat) flags' values
        config_from_args(LoraTrainConfig, argparse.Namespace(**({"output": "o"} | values)))


# -- the pipeline's pieces -----------------------------------------------------------------------------------
def test_precision_auto_is_bf16_only_where_it_pays(monkeypatch):
    import torch

    from finetune import lora

    assert lora.use_bf16("bf16") and not lora.use_bf16("fp32")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for has_units in (True, False):
        monkeypatch.setattr(lora, "cpu_has_bf16", lambda has_units=has_units: has_units)
        assert lora.use_bf16("auto") is has_units


def test_the_chosen_checkpoint_and_the_zero_shot_metrics_come_from_the_trainer_state():
    from finetune.validate import chosen_checkpoint

    log = [{"step": 0, "eval_ndcg@10": 0.1, "eval_hr@1": 0.0}, {"step": 2, "loss": 1.0},
           {"step": 3, "eval_ndcg@10": 0.3, "eval_hr@1": 0.2},
           {"step": 6, "eval_ndcg@10": 0.2, "eval_hr@1": 0.1}]
    state = SimpleNamespace(log_history=log, best_model_checkpoint="x/checkpoint-3", global_step=6)
    history, zero_shot, step, chosen = chosen_checkpoint(state, "ndcg@10")
    assert [r["step"] for r in history] == [0, 3, 6]
    assert zero_shot == {"ndcg@10": 0.1, "hr@1": 0.0} and step == 3
    assert chosen == {"ndcg@10": 0.3, "hr@1": 0.2}
    state.best_model_checkpoint = None
    assert chosen_checkpoint(state, "ndcg@10")[2:] == (6, {"ndcg@10": 0.2, "hr@1": 0.1})


def test_save_adapter_writes_the_adapter_card_and_manifest(tmp_path):
    from finetune.lora_card import save_adapter
    from llmrec.artifacts import read_manifest
    from llmrec.llm.adapters import ADAPTER_KIND

    class Model:
        def save_pretrained(self, path):
            (Path(path) / "adapter_model.safetensors").write_bytes(b"weights")

    cfg = LoraTrainConfig(save=SaveConfig(output=str(tmp_path / "lora")), adapter=AdapterConfig(r=4),
                          examples=ExamplesConfig(details="full", candidates=8))
    card = {"name": "lora", "base_model": "base", "base_fingerprint": "fp", "prompt_version": "rank_marks@1",
            "candidates": 8, "best_checkpoint": "c/checkpoint-3",
            "validation": {"users": 12, "step": 3, "ndcg@10": 0.25, "hr@1": 0.1},
            "validation_zero_shot": {"ndcg@10": 0.2}, "validation_retriever_order": {"ndcg@10": 0.22},
            "data": {"dataset": "ml-100k", "fingerprint": "d", "fit": "fit", "examples": 24, "sources": {}},
            "training": {"steps": 6, "rows": 24, "seconds": 10.0, "examples_per_second": 2.8, "bf16": False}}
    out = save_adapter(Model(), card, cfg)
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "adapter_model.safetensors", "card.json",
                                                      "manifest.json"]
    manifest = read_manifest(out, ADAPTER_KIND)
    assert {k: manifest[k] for k in ("name", "base_model", "base_fingerprint", "prompt_version", "scoring",
                                     "details", "candidates", "rank", "validation")} == {
        "name": "lora", "base_model": "base", "base_fingerprint": "fp", "prompt_version": "rank_marks@1",
        "scoring": "marks", "details": "full", "candidates": 8, "rank": 4, "validation": card["validation"]}
    assert json.loads((out / "card.json").read_text()) == card
    assert "| ndcg@10 | 0.2200 | 0.2000 | 0.2500 |" in (out / "README.md").read_text()


def _print_calls(node: ast.AST) -> list[ast.Call]:
    return [c for c in ast.walk(node) if isinstance(c, ast.Call) and getattr(c.func, "id", None) == "print"]


def test_only_main_prints_in_the_training_modules():
    import finetune.config
    import finetune.lora
    import finetune.lora_card
    import finetune.merge

    for module in (finetune.lora, finetune.lora_card, finetune.config, finetune.merge):
        tree = ast.parse(inspect.getsource(module))
        mains = [fn for fn in tree.body if isinstance(fn, ast.FunctionDef) and fn.name == "main"]
        assert len(_print_calls(tree)) == sum(len(_print_calls(fn)) for fn in mains), module.__name__


def test_the_cli_help_lists_the_flags_by_group(capsys):
    from finetune.lora import main

    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert all(f"\n{group}:\n" in text for group in ("save", "examples", "adapter", "training"))
    assert all(flag in text for flag in FLAGS)
