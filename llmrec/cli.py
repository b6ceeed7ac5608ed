"""The ``llmrec`` command (also ``python -m llmrec``): an LLM-as-recommender on your interaction data.

    llmrec                         # main job: evaluate the recommenders on MovieLens-100K, print the table
    llmrec evaluate [--split S]    # the same, explicitly
    llmrec recommend --user 42     # top-k titles with scores (and explanations) for one user
                                   # (progress lines and --timings on stderr)
    llmrec recommend --request "like Toy Story but for adults, no horror" [--user 42]
    llmrec chat [--user 42]        # a conversation in the terminal (--once "request": one turn)
    llmrec history --user 42       # the user's history as the LLM and retriever read it
    llmrec models                  # resolve (and on first use convert) the default LLM and embedder
    llmrec serve-llm [--lora N=DIR]  # an OpenAI-compatible vLLM server for the remote LLM backend

``--verbose`` anywhere keeps vLLM's and llmrec's INFO logging; by default only warnings are logged.

The commands of this module are the core's; the packages above it add theirs (``evaluate`` comes from
``eval``) through the ``llmrec.commands`` entry-point group, so this module imports no layer above it.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import metadata
from typing import Any, Literal

from llmrec.configargs import add_config_arguments, arg, config_from_args, run_main
from llmrec.data import load_dataset
from llmrec.errors import ConfigError, LLMRecError
from llmrec.history import HistoryFormat, histories, render_history
from llmrec.llm.serve import ServerConfig
from llmrec.params import parse_params
from llmrec.pipeline import check_k
from llmrec.tables import format_table

__all__ = ["COMMAND_ENTRY_POINTS", "Command", "DataArgs", "commands", "configure_logging", "main"]

#: The entry-point group through which installed packages add ``llmrec`` commands (name = "module:COMMAND").
COMMAND_ENTRY_POINTS = "llmrec.commands"
#: The command ``llmrec`` runs when given no command (the main job).
MAIN_JOB = "evaluate"


@dataclass(frozen=True)
class Command:
    """One ``llmrec`` command: its config class (flags are generated from it; None: no flags), what runs it
    (the parsed config -> exit status), and its one-line help."""

    config: type | None
    run: Callable[[Any], int]
    help: str


@dataclass(frozen=True, kw_only=True)
class DataArgs:
    data: str | None = arg(None, help="MovieLens-100K directory, or interactions table with --items "
                                      "(default: $LLMREC_DATA, ../shared/data/ml-100k, or the download "
                                      "cache)")
    items: str | None = arg(None, help="item table (CSV/Parquet) when --data is an interactions table")
    download: bool = arg(False, help="download MovieLens-100K from GroupLens when it is not on disk")


@dataclass(frozen=True, kw_only=True)
class ItemTokenArgs:
    """The item-token model ranking every item a turn allows (``ConverseConfig.items_*``); a group of flags
    shared by ``llmrec recommend --request``, ``llmrec chat`` and ``llmrec serve``."""

    items_model: str | None = arg(None, help="item-token model directory (python -m finetune.items) ranking "
                                             "every item a request allows, fused with the retriever")
    items_ensemble: list[str] | None = arg(None, help="with --items-model: more item-token models (other "
                                                      "training seeds), their log-probabilities averaged")
    items_weight: float | None = arg(None, help="with --items-model: its weight against the retriever's 1 "
                                                "(default: the engine's, chosen on validation)")
    items_seed_weight: float | None = arg(None, help="with --items-model: its weight on a turn that "
                                                     "names 'like X' items (default: the engine's)")

    def settings(self) -> dict[str, Any]:
        """The ``ConverseConfig`` values, by the same names (None: the engine's default)."""
        return asdict(self)


@dataclass(frozen=True, kw_only=True)
class RecommendArgs(DataArgs):
    user: int | None = arg(None, help="user id (required without --request; with it, recall also uses the "
                                      "user's history)")
    request: str | None = arg(None, help="what you want, in plain language (hard constraints always hold)")
    k: int = arg(10, help="how many items to recommend (a positive integer)")
    recommender: str = arg("llm", help="recommender (default: the two-stage retriever + LLM ranker)")
    retriever: str = arg("auto", help="trained retriever directory for dense/llm, or 'auto' for the cached "
                                      "default one (trained on first use, about ten minutes)")
    backend: Literal["vllm", "remote", "transformers"] = arg("vllm", help="llm: the in-process vLLM engine, "
                                                                         "or a remote server at --url")
    url: str | None = arg(None, help="llm with --backend remote: the server's API root "
                                     "(llmrec serve-llm prints it)")
    adapter: str | None = arg(None, help="llm: LoRA adapter directory (python -m finetune.lora); with "
                                         "--backend remote the server must serve it (llmrec serve-llm --lora "
                                         "NAME=DIR)")
    explain: int = arg(3, help="llm: explain the top N recommendations (0: none)")
    diversity: float = arg(0.0, help="re-ranking weight of genre diversity (docs/metrics.md)")
    calibration: float = arg(0.0, help="re-ranking weight of matching the history's genre mix")
    popularity: float = arg(0.0, help="re-ranking weight against popular items")
    popularity_calibration: float = arg(0.0, help="re-ranking weight of matching the history's mix of "
                                                  "popular and long-tail items")
    page: int = arg(10, help="re-ranking: picks shown together in the ranker's order (0: the re-ranker's "
                             "order)")
    parser_adapter: str | None = arg(None, help="with --request: LoRA parser adapter directory (python -m "
                                                "finetune.parser) reading the request's loose words")
    item_tokens: ItemTokenArgs = arg(default_factory=ItemTokenArgs,
                                     help="with --request: the item-token model")
    param: list[str] = arg(default_factory=list, repeat=True,
                           help="recommender config values as key=value (JSON values; engine.X=V for an LLM "
                                "engine setting); repeatable")
    timings: bool = arg(False, help="print the seconds per stage (data, engine start, retriever load, "
                                    "recall, ranking, explanations, close) to stderr")
    quiet: bool = arg(False, help="no progress lines on stderr")

    def __post_init__(self):
        check_k(self.k)
        if self.explain < 0:
            raise ConfigError(f"--explain must be 0 or more, got {self.explain}")
        if self.user is None and self.request is None:
            raise ConfigError("give --user, --request, or both")


@dataclass(frozen=True, kw_only=True)
class ChatArgs(DataArgs):
    user: int | None = arg(None, help="a known user whose history recall uses (default: a new user)")
    once: str | None = arg(None, help="answer this one request and exit")
    k: int = arg(5, help="items per answer (unless the request says how many)")
    explain: int = arg(0, help="explain the top N items of each answer")
    retriever: str = arg("auto", help="trained retriever directory, or 'auto' (the cached default)")
    backend: Literal["vllm", "remote", "transformers"] = arg("vllm", help="the LLM backend")
    url: str | None = arg(None, help="--backend remote: the vLLM server's API root")
    adapter: str | None = arg(None, help="LoRA ranking adapter directory")
    parser_adapter: str | None = arg(None, help="LoRA parser adapter directory (python -m finetune.parser), "
                                                "served beside the ranking adapter")
    item_tokens: ItemTokenArgs = arg(default_factory=ItemTokenArgs, help="the item-token model")
    no_llm: bool = arg(False, help="deterministic parsing and the retriever only (no LLM)")
    db: str = arg(":memory:", help="SQLite file keeping the conversation (':memory:': not kept)")
    conversation: str | None = arg(None, help="continue this conversation id (with --db)")

    def __post_init__(self):
        check_k(self.k)


@dataclass(frozen=True, kw_only=True)
class HistoryArgs(DataArgs):
    user: int = arg(help="user id")
    max_items: int = arg(10, help="most recent items shown")


def _user_history(args: RecommendArgs | HistoryArgs):
    """The dataset and the user's history; an unknown user is an error naming the valid range."""
    dataset = load_dataset(args.data, args.items, download=args.download)
    hist = histories(dataset.interactions)
    if args.user not in hist:
        raise LLMRecError(f"unknown user {args.user}; users range {min(hist)}..{max(hist)}")
    return dataset, hist[args.user]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _recommend(args: RecommendArgs) -> int:
    from llmrec.pipeline import Pipeline, Recommendations
    from llmrec.recommenders import create_recommender

    if args.adapter and args.recommender != "llm":
        raise LLMRecError(f"--adapter is for the llm recommender, not {args.recommender!r}")
    if args.request is not None:
        return _recommend_request(args)
    t0 = time.perf_counter()
    dataset, history = _user_history(args)
    timings = {"data": time.perf_counter() - t0}
    params = parse_params(args.param)
    if args.recommender == "llm":
        # one-shot: an interactive workload (vLLM runs eager, the shorter start, unless engine.enforce_eager
        # says otherwise); the answer is printed before the engine shuts down
        with Pipeline(dataset, retriever=args.retriever, adapter=args.adapter, backend=args.backend,
                      url=args.url, explain=args.explain, ranker=params, workload="interactive",
                      progress=None if args.quiet else _stderr) as pipeline:
            recs = pipeline.recommend(history, k=args.k, objectives=_objectives(args))
            _print_recommendations(args, dataset, recs)
            closing = time.perf_counter()
        timings.update(recs.timings, close=time.perf_counter() - closing)
    else:
        if args.recommender == "dense":
            params.setdefault("retriever", args.retriever)
        t1 = time.perf_counter()
        rec = create_recommender(args.recommender, params)
        if _objectives(args).active():
            from llmrec.recommenders.objectives import RerankConfig, Reranked

            rec = Reranked(RerankConfig(base=args.recommender, **_objectives(args).model_dump()), base=rec)
        rec = rec.fit(dataset)
        t2 = time.perf_counter()
        ranked = rec.recommend(history, dataset.catalog.item_ids, n=args.k)
        timings.update(fit=t2 - t1, recommend=time.perf_counter() - t2)
        recs = Recommendations.from_list(history.user, ranked, dataset.catalog)
        _print_recommendations(args, dataset, recs)
    if args.timings:
        timings["total"] = time.perf_counter() - t0
        _stderr("timings" + (" (engine_start runs in the background, beside retriever_load, recall and "
                             "engine_wait):" if "engine_start" in timings else ":"))
        _stderr(format_table([[name, float(s)] for name, s in timings.items()], ["stage", "seconds"],
                             digits=2))
    return 0


def _print_recommendations(args: RecommendArgs, dataset, recs) -> None:
    rows = [[i + 1, title, float(score)] for i, (title, score) in enumerate(zip(recs.titles, recs.scores))]
    print(f"top {args.k} for user {args.user} ({args.recommender}):")
    print(format_table(rows, ["#", "title", "score"]))
    for e in recs.explanations:
        flag = " [verified facts: the LLM's explanation failed a check]" if e.replaced else ""
        print(f"* {dataset.catalog.short_title(e.item)}: {e.text}{flag}")
    if recs.degraded:
        print(f"degraded: true (the LLM was unavailable; retriever order shown): {recs.reason}")
    sys.stdout.flush()  # the answer is out before the engine shuts down


def _converser(args, explain: int):
    from llmrec.converse import open_converser

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    dataset = load_dataset(args.data, args.items, download=args.download)
    return open_converser(dataset, retriever=args.retriever, backend=args.backend, url=args.url,
                          adapter=args.adapter, explain=explain, llm=not getattr(args, "no_llm", False),
                          parser_adapter=getattr(args, "parser_adapter", None),
                          **args.item_tokens.settings(),
                          db=getattr(args, "db", None), progress=None if getattr(args, "quiet", False)
                          else _stderr)


def _objectives(args: RecommendArgs):
    from llmrec.recommenders.objectives import ObjectiveWeights

    try:
        return ObjectiveWeights(diversity=args.diversity, calibration=args.calibration,
                                popularity=args.popularity,
                                popularity_calibration=args.popularity_calibration, page=args.page)
    except ValueError as err:
        raise ConfigError(f"re-ranking weights must be 0 or more: {err}") from None


def _recommend_request(args: RecommendArgs) -> int:
    with _converser(args, args.explain) as conv:
        turn = conv.recommend(args.request, user=args.user, k=args.k, explain=args.explain,
                              objectives=_objectives(args))
        print(turn.text())
        sys.stdout.flush()
    return 0


def _chat(args: ChatArgs) -> int:
    from llmrec.converse import RequestError, UnknownConversation

    with _converser(args, args.explain) as conv:
        cid = args.conversation or conv.create(args.user)
        if args.once is not None:
            print(conv.turn(cid, args.once, k=args.k).text())
            return 0
        print(f"conversation {cid} — ask for movies in plain language; refer to results by number "
              "('not 2', 'more like 3', 'something older', 'start over'); an empty line or Ctrl-D ends.")
        while True:
            try:
                line = input("you> ")
            except (EOFError, KeyboardInterrupt):
                print()
                break
            if not line.strip():
                break
            try:
                print(conv.turn(cid, line, k=args.k).text())
            except (RequestError, UnknownConversation) as err:
                print(f"error: {err}")
    return 0


def _history(args: HistoryArgs) -> int:
    dataset, history = _user_history(args)
    print(render_history(history, dataset.catalog, HistoryFormat(max_items=args.max_items)))
    return 0


def _models(_: object) -> int:
    from llmrec.models import resolve_embedder, resolve_llm

    print(f"llm:      {resolve_llm()}")
    print(f"embedder: {resolve_embedder()}")
    return 0


def _serve_llm(config: ServerConfig) -> int:
    from llmrec.llm.serve import serve

    return serve(config, announce=lambda line: print(line, file=sys.stderr, flush=True))


CORE_COMMANDS = {
    "recommend": Command(RecommendArgs, _recommend, "recommend items for one user"),
    "chat": Command(ChatArgs, _chat,
                    "a conversation in plain language in the terminal (--once for one turn)"),
    "history": Command(HistoryArgs, _history, "show a user's history as text"),
    "models": Command(None, _models,
                      "resolve the default LLM and embedder (converting the LLM on first use)"),
    "serve-llm": Command(ServerConfig, _serve_llm,
                         "run an OpenAI-compatible vLLM server for the remote LLM backend"),
}


def _load(ep: metadata.EntryPoint) -> Command:
    command = ep.load()
    if not isinstance(command, Command):
        raise ConfigError(f"entry point {COMMAND_ENTRY_POINTS}:{ep.name} ({ep.value}) is not an llmrec "
                          "Command")
    return command


def _entry_points() -> dict[str, metadata.EntryPoint]:
    found = {ep.name: ep for ep in metadata.entry_points(group=COMMAND_ENTRY_POINTS)}
    clash = sorted(set(found) & set(CORE_COMMANDS))
    if clash:
        raise ConfigError(f"commands {clash} are defined twice (core and entry points)")
    return found


def commands(only: str | None = None) -> dict[str, Command | None]:
    """Every ``llmrec`` command: the core's and those the installed packages add (entry points).  With
    ``only``, the entry-point commands other than that one are listed but not loaded (None): loading one
    imports its package, which a command of the core should not pay for."""
    eps = _entry_points()
    loaded = {name: _load(ep) if only in (None, name) else None for name, ep in eps.items()}
    return {**loaded, **CORE_COMMANDS}


def configure_logging(verbose: bool = False) -> None:
    """Quiet by default: llmrec's own warnings, and vLLM's and torch's only when they are errors (on a CPU
    they warn about the machine on every start: no Triton, no tcmalloc in LD_PRELOAD, NUMA binding, a
    deprecated torch name), or INFO from everything with ``--verbose``; all on stderr (vLLM logs to stdout by
    default, which is the commands' result).  A ``VLLM_LOGGING_LEVEL`` or ``TORCH_CPP_LOG_LEVEL`` already set
    wins.  Call it before vLLM or torch loads."""
    os.environ["VLLM_LOGGING_LEVEL"] = "INFO" if verbose else os.environ.get("VLLM_LOGGING_LEVEL", "ERROR")
    os.environ.setdefault("VLLM_LOGGING_STREAM", "ext://sys.stderr")
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s %(message)s")
    if not verbose:
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("TORCH_CPP_LOG_LEVEL", "ERROR")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # weight-loading bars; ours stay
        if "transformers" in sys.modules:  # imported already: it read that variable at import
            sys.modules["transformers"].utils.logging.disable_progress_bar()
        os.environ.setdefault("PYTHONWARNINGS", "ignore::FutureWarning")  # vLLM's engine processes
        # before vLLM configures its own logger, its import-time warnings reach the root handler
        level = os.environ["VLLM_LOGGING_LEVEL"].upper()
        if isinstance(logging.getLevelName(level), int):  # vLLM itself names a misspelt level
            logging.getLogger("vllm").setLevel(level)
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"vllm(\.|$)")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = "--verbose" in argv
    argv = [a for a in argv if a != "--verbose"]
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        argv = [MAIN_JOB, *argv]  # the main job
    table = commands(only=argv[0] if argv[0] not in ("-h", "--help") else None)
    parser = argparse.ArgumentParser(prog="llmrec", description=__doc__.split("\n")[0],
                                     epilog="--verbose (anywhere): keep INFO logging (vLLM's included)")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, command in table.items():
        help_ = command.help if command is not None else f"see `llmrec {name} --help`"
        p = sub.add_parser(name, help=help_, description=help_)
        if command is not None and command.config is not None:
            add_config_arguments(p, command.config)
    ns = parser.parse_args(argv)
    command = table[ns.command]
    configure_logging(verbose)
    return run_main(lambda: command.run(config_from_args(command.config, ns) if command.config is not None
                                        else ns), prog=f"llmrec {ns.command}")


if __name__ == "__main__":
    raise SystemExit(main())
