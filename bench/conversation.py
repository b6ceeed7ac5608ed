"""``python -m bench.conversation``: conversations timed in process, a bounded load test and an OpenAPI fuzz
run against the real ``llmrec serve``.

    python -m bench.conversation latency [--conversations 20] [--turns 3] [--explain 0 3]
    python -m bench.conversation load [--concurrency 8] [--conversations 16] [--backend vllm|remote]
    python -m bench.conversation load --backend remote --kill-llm-after 20
    python -m bench.conversation fuzz [--examples 30] [--no-llm]

Conversations are sampled from the constraint benchmark's test templates
(``eval.conversation_data.generate(..., split="test")``, the "impossible" family left out so that every turn
recalls and ranks), each a request then feedback on the list shown ("not the second one", "more like 3",
"something older", ...); every other conversation is for a known user.  Every returned item is checked
against the constraints its turn reports (``parse``), the seeds, the items rejected earlier in the
conversation and the user's seen items.

* ``latency``: the in-process ``Conversations`` with the embedded vLLM engine; the per-turn wall time
  (p50/p95/max) for each ``--explain`` setting (the first N items explained), each on its own conversations
  (so that no setting reads another's prompts from the prefix cache).  Engine start is reported apart.
* ``load``: ``llmrec serve`` as a subprocess on a free port (and for ``--backend remote`` a vLLM
  OpenAI-compatible server subprocess first); ``--concurrency`` conversations at a time through the HTTP
  API (the JSON endpoints and the OpenAI-compatible chat, alternately); status codes, transport errors,
  throughput and latency.  ``--kill-llm-after S`` kills the vLLM server S seconds into the run and counts the
  degraded answers after it.  Exit 1 on any 5xx, transport error or constraint violation.
* ``fuzz``: schemathesis (``schemathesis.openapi.from_url``) against the real ``llmrec serve``: every
  operation, ``--examples`` schema-valid and as many schema-invalid cases, no 5xx, answers as the schema
  says.  Exit 1 on any failure.

Every subprocess is stopped at exit, Ctrl-C and SIGTERM included.  Commands that start vLLM (``latency``,
``load`` and ``fuzz`` without ``--no-llm``) should run alone on the machine: the figures are wall-clock times.
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter

import numpy as np

from bench.conversation_drive import Checker, drive, rejected_after, sample_plans
from bench.first_answer import cpu
from bench.fuzz import fuzz_service, package_version
from bench.processes import Children, running_service, say, terminated_as_interrupt
from llmrec.tables import format_table

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

#: The issue's targets (seconds per turn, embedded engine).
TARGETS = {0: {"p50": 1.0, "p95": 2.0}, 3: {"p95": 5.0}}


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0, "p50": float("nan"), "p95": float("nan"), "max": float("nan"), "mean": float("nan")}
    a = np.asarray(values, dtype=float)
    return {"n": len(a), "p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)),
            "max": float(a.max()), "mean": float(a.mean())}


def _cpu_line() -> str:
    model, bf16 = cpu()
    return f"cpu: {model}; {bf16}"



# --- latency: in process -----------------------------------------------------------------------------------

def latency(args: argparse.Namespace) -> int:
    from llmrec.converse import open_converser
    from llmrec.data import load_dataset

    data = load_dataset(args.data)
    checker = Checker(data)
    t0 = time.perf_counter()
    conv = open_converser(data, retriever=args.retriever, backend="vllm", explain=0,
                          progress=say if args.verbose else None)
    try:
        opened = time.perf_counter() - t0
        conv.ranker.backend  # noqa: B018 - waits for the engine started in the background
        ready = time.perf_counter() - t0
        engine = conv.ranker.backend_start_seconds()
        say(f"ready after {ready:.1f} s (engine start {engine or float('nan'):.1f} s in the background, "
             f"retriever and data {opened:.1f} s)")
        rows, summary, failures = [], [], 0
        for n, explain in enumerate(args.explain):
            plans = sample_plans(data, args.conversations, args.turns, seed=args.seed + n)
            records = []
            for c, plan in enumerate(plans):
                cid = conv.create(user=plan.user)
                rejected: set[int] = set()
                shown: list[int] = []
                for t, text in enumerate(plan.texts):
                    start = time.perf_counter()
                    turn = conv.turn(cid, text, k=args.k, explain=explain).to_dict()
                    seconds = time.perf_counter() - start
                    rejected |= rejected_after(text, shown)
                    problems = checker.problems(turn, plan.user, rejected)
                    shown = [it["item"] for it in turn["items"]]
                    explained = sum(it["explanation"] is not None for it in turn["items"])
                    records.append({"kind": "request" if t == 0 else "feedback", "seconds": seconds,
                                    "degraded": turn["degraded"], "problems": problems,
                                    "explained": explained, "items": len(shown)})
                    for p in problems:
                        say(f"  VIOLATION explain={explain} conversation {c} turn {t + 1} {text!r}: {p}")
                say(f"explain={explain}: conversation {c + 1}/{len(plans)} done")
            failures += sum(len(r["problems"]) for r in records)
            for kind in ("all", "request", "feedback"):
                sel = [r for r in records if kind == "all" or r["kind"] == kind]
                s = percentiles([r["seconds"] for r in sel])
                rows.append([explain, kind, s["n"], f"{s['p50']:.3f}", f"{s['p95']:.3f}", f"{s['max']:.3f}",
                             f"{s['mean']:.3f}", sum(r["degraded"] for r in sel),
                             sum(len(r["problems"]) for r in sel),
                             f"{np.mean([r['explained'] for r in sel]):.2f}" if sel else "-"])
            everything = percentiles([r["seconds"] for r in records])
            summary.append((explain, everything, records[0]["seconds"] if records else float("nan")))
    finally:
        conv.close()
    print(f"latency per turn, embedded vLLM engine, retriever {args.retriever!r}, k={args.k}, "
          f"{args.conversations} conversations x {args.turns} turns per setting")
    print(format_table(rows, ["explain", "turns", "n", "p50 s", "p95 s", "max s", "mean s", "degraded",
                              "violations", "explained/turn"]))
    print(f"engine start (excluded above): {engine or float('nan'):.1f} s in the background; ready after "
          f"{ready:.1f} s (data, retriever and engine)")
    for explain, s, first in summary:
        goals = TARGETS.get(explain, {})
        verdict = "; ".join(f"{q} {s[q]:.3f} <= {goal:g} s: {'met' if s[q] <= goal else 'MISSED'}"
                            for q, goal in goals.items())
        print(f"explain={explain}: first turn {first:.3f} s; {verdict or 'no target'}")
    print(_cpu_line())
    return 1 if failures else 0


# --- load: conversations over HTTP -------------------------------------------------------------------------

def load(args: argparse.Namespace) -> int:
    from llmrec.data import load_dataset

    if args.kill_llm_after is not None and args.backend != "remote":
        raise SystemExit("--kill-llm-after needs --backend remote (the embedded engine lives in the service)")
    data = load_dataset(args.data)
    checker = Checker(data)
    plans = sample_plans(data, args.conversations, args.turns, seed=args.seed)
    killed: dict[str, float] = {}
    with terminated_as_interrupt(), Children(keep_logs=args.keep_logs) as children, \
            running_service(children, backend=args.backend, retriever=args.retriever, no_llm=args.no_llm,
                            request_timeout_s=args.request_timeout_s, data=args.data,
                            kv_cache_gib=args.kv_cache_gib) as (url, llm_child, startup):
        import httpx

        with httpx.Client(timeout=300.0) as client:  # the first answer waits for the engine: untimed
            start = time.perf_counter()
            warm = client.post(f"{url}/v1/recommend", json={"request": "a comedy from the 90s", "k": 3})
            warmup = time.perf_counter() - start
            say(f"warm-up request: HTTP {warm.status_code} in {warmup:.1f} s")
        at = None
        if args.kill_llm_after is not None and llm_child is not None:
            def kill() -> None:
                killed["at"] = time.perf_counter() - t0
                Children.kill(llm_child)  # SIGKILL to the server's process group: a crash, not a shutdown
                say(f"killed the vLLM server {killed['at']:.1f} s into the run")
            at = (args.kill_llm_after, kill)
        t0 = time.perf_counter()
        calls, wall = drive(url, plans, checker, args.concurrency, args.api, k=args.k, explain=args.explain,
                            at=at)
        with httpx.Client(timeout=30.0) as client:
            health = client.get(f"{url}/health").json()
    turns = [c for c in calls if c.kind != "create"]
    statuses = Counter("transport error" if c.status is None else str(c.status) for c in calls)
    server_errors = sum(1 for c in calls if c.status is not None and c.status >= 500)
    transport = sum(1 for c in calls if c.status is None)
    problems = [p for c in turns for p in c.problems]
    rows = []
    for name, sel in (("turns (all)", turns), ("requests", [c for c in turns if c.kind == "request"]),
                      ("feedback", [c for c in turns if c.kind == "feedback"]),
                      ("turns, JSON API", [c for c in turns if c.api == "json"]),
                      ("turns, OpenAI chat", [c for c in turns if c.api == "chat"]),
                      ("create conversation", [c for c in calls if c.kind == "create"])):
        s = percentiles([c.seconds for c in sel if c.status is not None])
        rows.append([name, s["n"], f"{s['p50']:.3f}", f"{s['p95']:.3f}", f"{s['max']:.3f}",
                     sum(c.degraded for c in sel)])
    ok_turns = sum(1 for c in turns if c.status is not None and c.status < 300)
    print(f"load: llmrec serve --backend {'none (--no-llm)' if args.no_llm else args.backend}, retriever "
          f"{args.retriever!r}, {args.conversations} conversations x {args.turns} turns, {args.concurrency} "
          f"at a time, API {args.api}")
    print(format_table(rows, ["calls", "n", "p50 s", "p95 s", "max s", "degraded"]))
    print(f"start-up: {', '.join(f'{k} {v:.1f} s' for k, v in startup.items())}; warm-up request "
          f"{warmup:.1f} s (untimed)")
    print(f"throughput: {ok_turns} turns answered in {wall:.1f} s = {ok_turns / wall:.2f} turns/s")
    print(f"HTTP status codes: {dict(sorted(statuses.items()))}; 5xx: {server_errors}; transport errors: "
          f"{transport}; constraint violations: {len(problems)}")
    for c in calls:
        if c.status is None or c.status >= 400:
            print(f"  conversation {c.conversation} {c.kind} ({c.api}) at {c.start:.1f} s: "
                  f"{c.status or 'transport error'} {c.error}")
    for p in problems[:20]:
        print(f"  VIOLATION {p}")
    if killed:
        after = [c for c in turns if c.start >= killed["at"] and c.status is not None]
        before = [c for c in turns if c.start + c.seconds < killed["at"] and c.status is not None]
        print(f"vLLM server killed {killed['at']:.1f} s into the run: {sum(c.degraded for c in after)} of "
              f"{len(after)} turns sent after it degraded, {sum(1 for c in after if c.status < 300)} of them "
              f"answered 2xx; {sum(c.degraded for c in before)} of {len(before)} turns finished before it "
              f"degraded; p95 after the kill {percentiles([c.seconds for c in after])['p95']:.3f} s")
    elif args.kill_llm_after is not None:
        print(f"the vLLM server was NOT killed: the run ended before {args.kill_llm_after:g} s")
    print(f"health at the end: {health}")
    print(_cpu_line())
    failed = server_errors or transport or problems or (args.kill_llm_after is not None and not killed)
    return 1 if failed else 0


def fuzz(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    with terminated_as_interrupt(), Children(keep_logs=args.keep_logs) as children, \
            running_service(children, retriever=args.retriever, no_llm=args.no_llm,
                            request_timeout_s=args.request_timeout_s, data=args.data) as (url, _, startup):
        results = fuzz_service(url, args.examples, seed=args.seed)
    rows = [[r.operation, r.mode, r.cases, " ".join(f"{s}:{n}" for s, n in sorted(r.statuses.items())),
             sum(n for s, n in r.statuses.items() if s.startswith("5") or not s[0].isdigit()),
             sum(r.failures.values())] for r in results]
    print(f"fuzz: schemathesis {package_version('schemathesis')} against llmrec serve "
          f"({'--no-llm' if args.no_llm else 'embedded vLLM engine'}, retriever {args.retriever!r}), "
          f"{args.examples} examples per operation and mode")
    print(format_table(rows, ["operation", "data", "cases", "status codes", "5xx", "failing"]))
    failing = [(r, text, n) for r in results for text, n in r.failures.items()]
    for r, text, n in failing:
        print(f"  FAIL {r.operation} ({r.mode}) x{n}: {text}")
    total = sum(r.cases for r in results)
    print(f"{total} cases, {sum(n for *_, n in failing)} failing; start-up "
          f"{', '.join(f'{k} {v:.1f} s' for k, v in startup.items())}; {time.perf_counter() - start:.0f} s "
          f"in all")
    print(_cpu_line())
    return 1 if failing else 0


# --- command line ------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.conversation", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data", default=None, help="MovieLens-100K directory (default: the usual places)")
        p.add_argument("--retriever", default="auto", help="retriever: 'auto' (the cached trained one), "
                                                           "'untrained' or a directory")
        p.add_argument("--seed", type=int, default=0, help="seed of the sampled conversations")

    def service(p: argparse.ArgumentParser, timeout: float) -> None:
        p.add_argument("--no-llm", action="store_true", help="serve without the LLM (llmrec serve --no-llm)")
        p.add_argument("--request-timeout-s", type=float, default=timeout,
                       help="the service's request timeout")
        p.add_argument("--keep-logs", action="store_true", help="keep the subprocesses' logs")

    p = sub.add_parser("latency", help="per-turn wall time, in process, embedded vLLM engine",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    common(p)
    p.add_argument("--conversations", type=int, default=20, help="conversations per --explain setting")
    p.add_argument("--turns", type=int, default=3, help="turns per conversation (a request, then feedback)")
    p.add_argument("--explain", type=int, nargs="+", default=[0, 3], help="explained items per turn (each "
                                                                           "setting a run)")
    p.add_argument("--k", type=int, default=10, help="items per answer unless the request says")
    p.add_argument("--verbose", action="store_true", help="progress of the start-up")

    p = sub.add_parser("load", help="concurrent conversations against llmrec serve",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    common(p)
    service(p, 30.0)
    p.add_argument("--concurrency", type=int, default=8, help="conversations at a time")
    p.add_argument("--conversations", type=int, default=16, help="conversations in all")
    p.add_argument("--turns", type=int, default=3, help="turns per conversation (a request, then feedback)")
    p.add_argument("--backend", choices=["vllm", "remote"], default="vllm",
                   help="the service's LLM: in process, or a vLLM server subprocess started here")
    p.add_argument("--kill-llm-after", type=float, default=None, metavar="SECONDS",
                   help="--backend remote: kill the vLLM server this many seconds into the run")
    p.add_argument("--api", choices=["mixed", "json", "chat"], default="mixed",
                   help="the JSON endpoints, the OpenAI-compatible chat, or each for every other "
                        "conversation")
    p.add_argument("--k", type=int, default=None, help="items per answer (default: the service's)")
    p.add_argument("--explain", type=int, default=None, help="explained items per answer (default: the "
                                                             "service's, 0)")
    p.add_argument("--kv-cache-gib", type=float, default=1.0, help="--backend remote: VLLM_CPU_KVCACHE_SPACE")

    p = sub.add_parser("fuzz", help="schemathesis against llmrec serve",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    common(p)
    service(p, 300.0)
    p.add_argument("--examples", type=int, default=30, help="generated cases per operation and mode "
                                                            "(schema-valid, schema-invalid)")
    args = parser.parse_args(argv)
    try:
        return {"latency": latency, "load": load, "fuzz": fuzz}[args.mode](args)
    except KeyboardInterrupt:
        say("interrupted; subprocesses stopped")
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
