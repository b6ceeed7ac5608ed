"""The `llmrec` command: the main job prints the table; subcommands show recommendations and histories."""

import pytest

from llmrec.cli import main


def test_the_main_job_evaluates_the_baselines_and_prints_a_table(ml100k, capsys, tmp_path):
    # the main job also evaluates dense and llm (minutes of retriever training and LLM scoring on CPU); this
    # test keeps to the baselines, and tests/test_llm_e2e.py runs the two-stage recommender through the CLI
    assert main(["--no-progress", "--data", ml100k.source["path"], "--output-dir", str(tmp_path),
                 "--recommenders", "popularity", "itemknn"]) == 0
    out = capsys.readouterr().out
    assert "leave-last-out test split" in out
    lines = {line.split()[0]: line.split() for line in out.splitlines() if line.strip()}
    assert lines["popularity"][2] == "943" and lines["itemknn"][2] == "943"
    # item-kNN beats popularity on NDCG@10 (column 4 after name, split, users, ndcg@5)
    assert float(lines["itemknn"][4]) > float(lines["popularity"][4])
    assert (tmp_path / "itemknn.test.json").exists()


def test_recommend_prints_ranked_titles_with_scores(ml100k, capsys):
    assert main(["recommend", "--data", ml100k.source["path"], "--user", "42", "--k", "3",
                 "--recommender", "itemknn"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "top 3 for user 42 (itemknn):"
    assert [line.split()[0] for line in out[3:]] == ["1", "2", "3"]


def test_history_prints_the_rendered_history(ml100k, capsys):
    assert main(["history", "--data", ml100k.source["path"], "--user", "1", "--max-items", "2"]) == 0
    assert capsys.readouterr().out.startswith("1. ")


def test_an_unknown_user_is_a_clear_error(ml100k, capsys):
    assert main(["recommend", "--data", ml100k.source["path"], "--user", "99999"]) == 2
    assert "unknown user 99999" in capsys.readouterr().err


def test_a_missing_data_directory_is_a_clear_error(tmp_path, capsys):
    assert main(["--data", str(tmp_path / "none"), "--no-progress"]) == 2
    assert "MovieLens-100K not found" in capsys.readouterr().err


def test_list_of_choices_flags_take_several_valid_choices_and_refuse_others():
    import argparse

    import pytest

    from eval.cli import EvalConfig
    from llmrec.configargs import add_config_arguments, config_from_args

    parser = argparse.ArgumentParser(exit_on_error=False)
    add_config_arguments(parser, EvalConfig)
    assert config_from_args(EvalConfig, parser.parse_args(["--orders", "retriever"])).orders == ["retriever"]
    assert config_from_args(EvalConfig, parser.parse_args(["--orders", "shuffled", "retriever"])).orders == [
        "shuffled", "retriever"]
    with pytest.raises((argparse.ArgumentError, SystemExit)):
        parser.parse_args(["--orders", "backwards"])


def test_a_no_flag_switches_its_setting_on():
    """``--no-llm`` sets ``no_llm`` (BooleanOptionalAction would read the "--no-" prefix as False)."""
    import argparse

    from eval.cli import EvalConfig
    from llmrec.cli import ChatArgs
    from llmrec.configargs import add_config_arguments, config_from_args
    from service.cli import ServeConfig

    for cls in (EvalConfig, ChatArgs, ServeConfig):
        parser = argparse.ArgumentParser()
        add_config_arguments(parser, cls)
        assert config_from_args(cls, parser.parse_args(["--no-llm"])).no_llm is True, cls.__name__
        assert config_from_args(cls, parser.parse_args([])).no_llm is False, cls.__name__
    parser = argparse.ArgumentParser()
    add_config_arguments(parser, EvalConfig)
    assert config_from_args(EvalConfig, parser.parse_args(["--no-progress"])).progress is False


def test_the_item_token_flags_are_one_group_on_recommend_chat_and_serve():
    import argparse

    from llmrec.cli import ChatArgs, ItemTokenArgs, RecommendArgs
    from llmrec.configargs import add_config_arguments, config_from_args
    from service.cli import ServeConfig

    argv = ["--items-model", "runs/items", "--items-ensemble", "runs/items-1", "runs/items-2",
            "--items-seed-weight", "0", "--user", "1"]
    for cls in (RecommendArgs, ChatArgs, ServeConfig):
        parser = argparse.ArgumentParser()
        add_config_arguments(parser, cls)
        known, _ = parser.parse_known_args(argv)
        got = config_from_args(cls, known).item_tokens
        ensemble = ["runs/items-1", "runs/items-2"]
        want = ItemTokenArgs(items_model="runs/items", items_ensemble=ensemble, items_seed_weight=0.0)
        assert got == want, cls.__name__
        assert got.settings() == {"items_model": "runs/items", "items_ensemble": ensemble,
                                  "items_weight": None, "items_seed_weight": 0.0}


def test_repeated_param_flags_add_up_instead_of_the_last_one_winning():
    import argparse

    from eval.cli import EvalConfig
    from eval.fusion import FusionConfig
    from llmrec.configargs import add_config_arguments, config_from_args

    for cls in (EvalConfig, FusionConfig):
        parser = argparse.ArgumentParser()
        add_config_arguments(parser, cls)
        argv = ["--param", "adapter=a", "--param", "backend=transformers", "c=1"]
        cfg = config_from_args(cls, parser.parse_args(argv))
        assert cfg.param == ["adapter=a", "backend=transformers", "c=1"]


def test_k_must_be_a_positive_integer(ml100k, capsys):
    for bad in ("-5", "0"):
        assert main(["recommend", "--data", ml100k.source["path"], "--user", "42", "--k", bad,
                     "--recommender", "itemknn"]) == 2
        err = capsys.readouterr().err
        assert f"k must be a positive integer (how many items to recommend), got {bad}" in err


def test_param_values_are_json_and_dotted_keys_set_nested_settings():
    import pytest

    from llmrec.errors import ConfigError
    from llmrec.params import parse_params

    pairs = ["k=3", "backend=transformers", "engine.enforce_eager=true", "engine.block_size=32"]
    assert parse_params(pairs) == {"k": 3, "backend": "transformers",
                                   "engine": {"enforce_eager": True, "block_size": 32}}
    for bad in ("novalue", "=3", "a..b=1"):
        with pytest.raises(ConfigError, match="key=value"):
            parse_params([bad])


def test_a_core_command_does_not_load_the_commands_of_the_layers_above(ml100k, capsys):
    import sys

    sys.modules.pop("eval.main_job", None)
    assert main(["history", "--data", ml100k.source["path"], "--user", "1", "--max-items", "1"]) == 0
    assert "eval.main_job" not in sys.modules  # loading it imports retrieval training (torch): seconds


def test_recommend_with_a_request_passes_the_re_ranking_weights_on(monkeypatch, capsys):
    """``llmrec recommend --request ... --diversity 0.3``: the conversational engine gets the weights."""
    import llmrec.cli
    from llmrec.converse import Turn
    from llmrec.recommenders.objectives import ObjectiveWeights

    calls = []

    class Recording:
        def __init__(self, data, **kwargs):
            pass

        def recommend(self, text, **kwargs):
            calls.append((text, kwargs))
            return Turn(conversation_id=None, turn=1, request=text, interpretation="Comedy", parse={})

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return None

    monkeypatch.setattr("llmrec.converse.open_converser", Recording)
    monkeypatch.setattr(llmrec.cli, "load_dataset", lambda data, items, download: "the dataset")
    assert main(["recommend", "--request", "a comedy", "--k", "4", "--diversity", "0.3",
                 "--popularity", "0.1", "--popularity-calibration", "2"]) == 0
    assert capsys.readouterr().out.startswith("Interpretation: Comedy")
    assert calls == [("a comedy", {"user": None, "k": 4, "explain": 3, "objectives": ObjectiveWeights(
        diversity=0.3, popularity=0.1, popularity_calibration=2.0)})]
    assert main(["recommend", "--request", "a comedy", "--diversity", "-1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("llmrec recommend: error: ") and "re-ranking weights must be 0 or more" in err


def test_a_module_command_prints_a_refused_setting_as_an_error_not_a_traceback(capsys):
    from pydantic import BaseModel, Field

    from llmrec.configargs import run_main
    from llmrec.errors import ConfigError

    def refused() -> int:
        raise ConfigError("--init collab reads a retriever trained on the whole log")

    class Settings(BaseModel):
        damping: float = Field(0.5, lt=1)

    assert run_main(refused, prog="python -m finetune.items") == 2
    assert capsys.readouterr().err == ("python -m finetune.items: error: --init collab reads a retriever "
                                       "trained on the whole log\n")
    assert run_main(lambda: Settings(damping=2) and 0, prog="python -m eval.graph") == 2
    err = capsys.readouterr().err
    assert err.startswith("python -m eval.graph: error: 1 validation error for Settings\ndamping\n")
    assert "less than 1" in err and "errors.pydantic.dev" not in err and "Traceback" not in err

    def bug() -> int:
        raise KeyError("a bug keeps its traceback")

    with pytest.raises(KeyError):
        run_main(bug, prog="python -m eval.graph")


@pytest.fixture
def clean_logging_env(monkeypatch):
    import logging
    import warnings

    for name in ("VLLM_LOGGING_LEVEL", "TORCH_CPP_LOG_LEVEL", "HF_HUB_DISABLE_PROGRESS_BARS",
                 "PYTHONWARNINGS", "TRANSFORMERS_VERBOSITY", "VLLM_LOGGING_STREAM"):
        monkeypatch.setenv(name, "")  # recorded, so what configure_logging sets is undone afterwards
        monkeypatch.delenv(name)
    from transformers.utils import logging as hf_logging

    level, bars = logging.getLogger("vllm").level, hf_logging.is_progress_bar_enabled()
    hf_logging.enable_progress_bar()  # as a fresh import leaves them
    with warnings.catch_warnings():
        yield monkeypatch
    logging.getLogger("vllm").setLevel(level)
    if not bars:
        hf_logging.disable_progress_bar()


def test_commands_are_quiet_about_the_machine_unless_verbose(clean_logging_env):
    """vLLM and torch warn about the CPU on every start (no Triton, no tcmalloc, NUMA binding, a deprecated
    torch name): a command shows their errors only, and everything with --verbose."""
    import logging
    import os
    import warnings

    from llmrec.cli import configure_logging

    configure_logging(verbose=False)
    assert os.environ["VLLM_LOGGING_LEVEL"] == "ERROR" and os.environ["TORCH_CPP_LOG_LEVEL"] == "ERROR"
    assert os.environ["PYTHONWARNINGS"] == "ignore::FutureWarning"  # read by vLLM's engine processes
    assert not logging.getLogger("vllm").isEnabledFor(logging.WARNING)
    from transformers.utils import logging as hf_logging  # imported before the call, as python -m eval does

    assert not hf_logging.is_progress_bar_enabled()
    with warnings.catch_warnings(record=True) as caught:
        warnings.warn_explicit("deprecated", FutureWarning, "dispatcher.py", 1, module="vllm.triton_utils")
        warnings.warn_explicit("ours", FutureWarning, "x.py", 1, module="llmrec.something")
    assert [str(w.message) for w in caught] == ["ours"]
    configure_logging(verbose=True)
    assert os.environ["VLLM_LOGGING_LEVEL"] == "INFO"


def test_a_vllm_logging_level_the_user_set_wins(clean_logging_env):
    import logging

    from llmrec.cli import configure_logging

    clean_logging_env.setenv("VLLM_LOGGING_LEVEL", "warning")
    configure_logging(verbose=False)
    assert logging.getLogger("vllm").isEnabledFor(logging.WARNING)
