"""A first answer fast: eager or compiled by workload, the engine started beside the retriever, stage timings.

No real engine: the backend factory is replaced by one that hands out :class:`ScriptedLLM` and records in
which thread, and in what order against the retriever's work, it ran.
"""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest

from llmrec.cli import main
from llmrec.errors import ConfigError, LLMUnavailable
from llmrec.llm import rank_backend as backend_module
from llmrec.llm.config import EAGER_BELOW, VLLMConfig, choose_eager
from llmrec.llm.ranker import LLMRanker, LLMRankerConfig
from llmrec.llm.starting import BackendStart
from llmrec.pipeline import Pipeline
from llmrec.recommenders import create_recommender
from llmrec.testing import ScriptedLLM, conformance_dataset

# -- eager or compiled -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("workload", "eager"), [
    ("interactive", True), ("batch", False), (None, False), (12, True), (EAGER_BELOW - 1, True),
    (EAGER_BELOW, False), (943, False)])
def test_auto_runs_eager_for_an_interactive_or_small_workload_and_compiled_for_batch_work(workload, eager):
    assert VLLMConfig().enforce_eager == "auto"
    assert VLLMConfig(workload=workload).execution()[0] is eager
    assert choose_eager("auto", workload)[0] is eager


@pytest.mark.parametrize("explicit", [True, False])
@pytest.mark.parametrize("workload", ["interactive", "batch", None, 3, 10_000])
def test_an_explicit_enforce_eager_is_honoured_whatever_the_workload(explicit, workload):
    eager, why = VLLMConfig(enforce_eager=explicit, workload=workload).execution()
    assert eager is explicit and why == f"enforce_eager={str(explicit).lower()}"


def test_a_ranker_param_beats_the_callers_workload_and_the_summary_says_why():
    # --param engine.enforce_eager=false on an interactive (one-shot) start: compiled
    config = LLMRanker(LLMRankerConfig(engine={"enforce_eager": False})).backend_config("interactive")
    assert config.workload == "interactive" and config.execution() == (False, "enforce_eager=false")
    assert LLMRanker(LLMRankerConfig()).backend_config("interactive").summary() == \
        "vLLM engine (eager: interactive)"
    assert LLMRanker(LLMRankerConfig()).backend_config().summary() == \
        "vLLM engine (compiled: no workload stated)"
    # a backend without the setting is not given it
    remote = LLMRanker(LLMRankerConfig(backend="remote", engine={"url": "http://127.0.0.1:9/v1"}))
    assert not hasattr(remote.backend_config("interactive"), "workload")


def test_an_eager_engine_runs_in_process_on_cpu_unless_told_otherwise(monkeypatch):
    import torch

    from llmrec.llm import vllm_engine

    cpu = not torch.cuda.is_available()
    assert vllm_engine.in_process("auto", eager=True) is cpu
    assert vllm_engine.in_process("auto", eager=False) is False  # compiled: its own processes
    assert vllm_engine.in_process(False, eager=True) is False and vllm_engine.in_process(True, eager=False)
    monkeypatch.delenv("VLLM_ENABLE_V1_MULTIPROCESSING", raising=False)
    with vllm_engine._multiprocessing(False) as executor:  # only while the engine is built
        assert executor == {"distributed_executor_backend": "uni"}
        assert os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] == "0"
    assert "VLLM_ENABLE_V1_MULTIPROCESSING" not in os.environ
    with vllm_engine._multiprocessing(True) as executor:
        assert executor == {} and "VLLM_ENABLE_V1_MULTIPROCESSING" not in os.environ


@pytest.mark.parametrize("values", [{"enforce_eager": "yes"}, {"in_process": "maybe"}, {"workload": "soon"},
                                    {"workload": -1}, {"workload": True}])
def test_bad_eager_or_workload_values_are_config_errors_naming_them(values):
    with pytest.raises(ConfigError, match=repr(next(iter(values.values())))):
        VLLMConfig(**values)
    with pytest.raises(ConfigError, match="must be"):
        create_recommender("llm", {"engine": values})  # --param engine.X=V


# -- the engine started beside the retriever ---------------------------------------------------------------


class Factory:
    """Stands in for ``create_backend``: records the thread it ran in and each event's order; can wait for
    the first recall before it returns (an engine still starting while the retriever recalls), or fail."""

    def __init__(self, *, until_recalled: bool = False, error: BaseException | None = None):
        self.until_recalled, self.error = until_recalled, error
        self.recalled = threading.Event()
        self.events: list[str] = []
        self.threads: list[str] = []
        self.configs: list = []
        self.preloaded: list[str] = []
        self.closed = 0

    def preload(self, config):
        self.preloaded.append(threading.current_thread().name)

    def __call__(self, config):
        self.threads.append(threading.current_thread().name)
        self.configs.append(config)
        self.events.append("engine start")
        if self.until_recalled and not self.recalled.wait(timeout=20):
            raise AssertionError("the engine start blocked the retriever: no recall while it started")
        time.sleep(0.05)
        if self.error is not None:
            self.events.append("engine failed")
            raise self.error
        self.events.append("engine ready")
        backend = ScriptedLLM()
        backend.close = self._close
        return backend

    def _close(self):
        self.closed += 1


@pytest.fixture
def factory(monkeypatch):
    def install(**kwargs) -> Factory:
        made = Factory(**kwargs)
        monkeypatch.setattr(backend_module, "create_backend", made)
        monkeypatch.setattr(backend_module, "preload_backend", made.preload)
        recall = LLMRanker.recall

        def recorded_recall(self, history, text=None):
            made.events.append("recall")
            out = recall(self, history, text)
            made.recalled.set()
            return out

        monkeypatch.setattr(LLMRanker, "recall", recorded_recall)
        return made

    return install


def pipeline(**kwargs) -> Pipeline:
    return Pipeline(conformance_dataset(), retriever=None, ranker={"candidates": 5}, **kwargs)


def test_the_engine_starts_in_a_thread_while_the_retriever_loads_and_recalls(factory):
    made = factory(until_recalled=True)
    lines: list[str] = []
    with pipeline(explain=1, progress=lines.append) as p:
        recs = p.recommend(1, k=3)
    assert made.threads == ["llmrec-backend-start"] and threading.current_thread().name not in made.threads
    assert made.events[:3] == ["engine start", "recall", "engine ready"]  # recalled while it started
    assert not recs.degraded and len(recs) == 3 and len(recs.explanations) == 1
    assert made.configs[0].workload == "interactive" and made.configs[0].execution()[0] is True
    assert lines[0] == "starting the vLLM engine (eager: interactive) in the background..."
    assert "loading the retriever..." in lines
    assert any(line.startswith("recalled 5 candidates in") for line in lines)
    assert any(line.startswith("vLLM engine ready in") for line in lines)
    assert "ranking 5 candidates..." in lines and "explaining the top 1..." in lines
    assert made.closed == 1


def test_a_result_carries_its_stage_timings_and_one_engine_serves_every_request(factory):
    made = factory()
    with pipeline(explain=1) as p:
        first, second = p.recommend(1, k=3), p.recommend(2, k=3)
    assert list(first.timings) == ["engine_start", "retriever_load", "recall", "ranking", "explanations"] or \
        list(first.timings) == ["engine_start", "retriever_load", "recall", "engine_wait", "ranking",
                                "explanations"]
    assert all(s >= 0 for s in first.timings.values()) and first.timings["engine_start"] >= 0.05
    assert list(second.timings) == ["recall", "ranking", "explanations"]  # start-up: the first result's
    assert len(made.configs) == 1 and made.closed == 1  # one engine for both requests, closed once


def test_an_engine_that_fails_to_start_in_its_thread_degrades_to_the_retriever_order_with_the_reason(factory,
                                                                                                      caplog):
    made = factory(error=RuntimeError("Engine core initialization failed"))
    lines: list[str] = []
    with pipeline(explain=1, progress=lines.append) as p, caplog.at_level("WARNING"):
        recs = p.recommend(1, k=3)
        again = p.recommend(2, k=3)
        expected = p.ranker.retriever.candidates(p.history(1), k=5).items[:3].tolist()
    assert recs.degraded and again.degraded and recs.explanations == []
    assert recs.reason == ("the vLLM engine did not start: RuntimeError: Engine core initialization failed")
    assert recs.items.tolist() == expected  # the retriever's order
    assert any(line.startswith("vLLM engine failed to start after") for line in lines)
    assert "degraded" in caplog.text and len(made.configs) == 1  # not restarted per request


def test_a_server_unreachable_at_a_background_start_degrades_and_a_bad_setting_is_an_error(factory):
    factory(error=LLMUnavailable("http://127.0.0.1:9/v1: connection refused", cause="connection refused"))
    with pipeline() as p:
        recs = p.recommend(1, k=3)
    assert recs.degraded and "connection refused" in recs.reason
    factory(error=ConfigError("adapter x was trained on another model"))
    with pipeline() as p, pytest.raises(ConfigError, match="another model") as raised:
        p.recommend(1, k=3)
    assert "background thread" in " ".join(raised.value.__notes__)


def test_a_pipeline_that_fails_to_load_its_retriever_abandons_the_engine_start(factory, tmp_path):
    made = factory()
    with pytest.raises(Exception, match="missing"):
        Pipeline(conformance_dataset(), retriever=str(tmp_path / "missing"), ranker={"candidates": 5})
    for _ in range(100):  # closed by the start's thread once it is up
        if made.closed:
            break
        time.sleep(0.05)
    assert made.closed == 1


def test_a_background_start_hands_its_error_over_with_its_traceback_and_is_closed_once_when_abandoned():
    def fail(config):
        raise RuntimeError("boom")

    start = BackendStart(VLLMConfig(), fail)
    with pytest.raises(RuntimeError, match="boom") as raised:
        start.result()
    assert raised.traceback[-1].name == "fail" and start.done() and start.seconds is not None
    closed = []

    class Backend:
        def close(self):
            closed.append(1)

    gate = threading.Event()
    slow = BackendStart(VLLMConfig(), lambda config: gate.wait(5) and Backend())
    slow.abandon()
    gate.set()
    slow._thread.join()
    slow.abandon()
    assert closed == [1]


def test_a_background_start_runs_its_imports_in_the_calling_thread_before_the_start_thread_begins():
    # two threads importing transformers at once can hand one a half-initialised module (llmrec.llm.starting)
    events: list[tuple[str, str]] = []

    def preload(config):
        events.append(("preload", threading.current_thread().name))

    def start(config):
        events.append(("start", threading.current_thread().name))
        return object()

    BackendStart(VLLMConfig(), start, preload=preload).result()
    assert events == [("preload", threading.current_thread().name), ("start", "llmrec-backend-start")]


def test_the_ranker_preloads_the_backend_imports_before_its_background_start(factory):
    made = factory()
    LLMRanker(LLMRankerConfig(candidates=5)).start(background=True).backend  # noqa: B018
    assert made.preloaded == [threading.current_thread().name]


def test_without_a_background_start_the_ranker_starts_its_backend_when_fitted(factory):
    made = factory()
    ranker = LLMRanker(LLMRankerConfig(candidates=5)).fit(conformance_dataset())
    assert made.threads == [threading.current_thread().name] and made.configs[0].workload is None
    assert ranker.label_ids == [ord(c) for c in "ABCDE"]


# -- the command ---------------------------------------------------------------------------------------------


def test_recommend_prints_progress_and_timings_to_stderr_and_keeps_stdout_the_result(factory, tmp_path,
                                                                                    capsys, monkeypatch):
    factory()
    monkeypatch.delenv("VLLM_LOGGING_STREAM", raising=False)
    data = conformance_dataset()
    data.interactions.frame.to_csv(tmp_path / "ratings.csv", index=False)
    data.catalog.frame.reset_index().to_csv(tmp_path / "items.csv", index=False)
    assert main(["recommend", "--data", str(tmp_path / "ratings.csv"), "--items", str(tmp_path / "items.csv"),
                 "--user", "1", "--k", "3", "--retriever", "untrained", "--explain", "1", "--param",
                 "candidates=5", "--timings"]) == 0
    out, err = capsys.readouterr()
    assert os.environ["VLLM_LOGGING_STREAM"] == "ext://sys.stderr"  # vLLM's own default is stdout
    assert out.startswith("top 3 for user 1 (llm):") and "starting" not in out and "timings" not in out
    assert "starting the vLLM engine (eager: interactive) in the background..." in err
    stages = [line.split()[0] for line in err.split("timings")[1].splitlines()[3:]]
    assert stages[:3] == ["data", "engine_start", "retriever_load"]
    assert {"recall", "ranking", "explanations", "close", "total"} <= set(stages)
    totals = [float(line.split()[1]) for line in err.splitlines() if line.startswith("total")]
    assert len(totals) == 1 and np.isfinite(totals[0])
    assert main(["recommend", "--data", str(tmp_path / "ratings.csv"), "--items", str(tmp_path / "items.csv"),
                 "--user", "1", "--k", "3", "--retriever", "untrained", "--param", "candidates=5",
                 "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "starting the" not in err and "recalled" not in err and "timings" not in err


def test_a_request_in_plain_language_is_answered_by_the_same_engine_with_its_constraints_kept(factory):
    made = factory()
    with pipeline() as p:
        plain = p.recommend(1, k=3)
        recs = p.recommend(1, k=5, request="a comedy, nothing before 1990")
        new_user = p.recommend(request="a drama", k=2)
    catalog = p.data.catalog
    assert recs.interpretation.startswith("Comedy") and "1990" in recs.interpretation
    assert len(recs) >= 1 and all("Comedy" in catalog.genres(int(i)) and catalog.year(int(i)) >= 1990
                                  for i in recs.items)
    assert not set(recs.items.tolist()) & set(p.history(1).items.tolist())  # seen items are not recommended
    assert new_user.user == -1 and all("Drama" in catalog.genres(int(i)) for i in new_user.items)
    assert len(plain) == 3 and plain.interpretation is None
    assert len(made.configs) == 1  # one engine for plain and conversational requests


def test_a_conversation_keeps_its_state_between_turns(factory):
    factory()
    with pipeline() as p:
        conv = p.conversation(user=2)
        first = conv.say("a comedy or a drama", k=3)
        second = conv.say("not the first one")
        state = conv.state()
    assert first.conversation_id == conv.id == state["id"] and second.turn == 2
    assert first.items and first.items[0].item in state["rejected"]
    assert first.items[0].item not in [it.item for it in second.items]
    with pytest.raises(ConfigError, match="user id or a new user"):
        p.recommend(p.history(1), request="a comedy")


def test_objective_weights_rerank_the_candidates_and_zero_weights_change_nothing(factory):
    factory()
    with pipeline() as p:
        plain = p.recommend(3, k=5)
        same = p.recommend(3, k=5, objectives={"diversity": 0.0})
        diverse = p.recommend(3, k=5, objectives={"diversity": 5.0, "page": 0})  # in the greedy's order
        paged = p.recommend(3, k=5, objectives={"diversity": 5.0})  # one page of 5: the ranker's order
        with pytest.raises(ConfigError, match="invalid objective weights"):
            p.recommend(3, k=5, objectives={"diversity": -1})
    assert paged.items.tolist() == plain.items.tolist()  # the 5 candidates are all there is to choose
    assert same.items.tolist() == plain.items.tolist()
    assert sorted(diverse.items.tolist()) == sorted(plain.items.tolist())  # the same 5 candidates
    from llmrec.evaluation.beyond import ItemStats, ild_genre

    stats = ItemStats.build(p.data.catalog, p.data.interactions)
    assert ild_genre(diverse.items[None, :3], stats, 3)[0] > ild_genre(plain.items[None, :3], stats, 3)[0]
