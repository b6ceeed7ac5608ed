"""``python -m bench.first_answer``: the wall time of a one-shot ``llmrec recommend`` and where it goes.

Runs the real command (``llmrec recommend --user 42 --k 10 --timings``; explanations default to 3) in a
subprocess with the retriever and model caches present, and prints one column per run: the command's own
stage timings (``--timings``: data, engine start in the background, retriever load, recall, engine wait,
ranking, explanations, engine close), the Python start-up and imports before them (wall minus the
command's total), the time until the answer appeared on stdout, and the total wall time; then the CPU model
and whether it has bf16 units.  The target: <= 60 s wall.

    python -m bench.first_answer                       # one run
    python -m bench.first_answer --runs 3 --warmup     # an untimed run first (caches, the OS file cache)
    python -m bench.first_answer -- --param engine.enforce_eager=false    # extra flags for the command
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from llmrec.tables import format_table

#: The command's stages, in the order the table shows them, with what each one is.
STAGES = {
    "python_start": "interpreter start-up and imports, before the command's clock starts",
    "data": "loading MovieLens-100K and the user's history",
    "engine_start": "starting the LLM engine, in a background thread (overlaps the next three rows)",
    "retriever_load": "loading the cached retriever and encoding the catalog",
    "recall": "the retriever's 20 candidates",
    "engine_wait": "waiting for the engine after recall",
    "ranking": "one-pass LLM scoring of the candidates",
    "explanations": "explaining the top 3",
    "close": "stopping the engine after the answer is printed",
    "first_answer": "wall time until the answer appeared on stdout",
    "wall": "total wall time of the command",
}


def llmrec_command() -> list[str]:
    """The ``llmrec`` console script next to this interpreter (else ``python -m llmrec``)."""
    script = Path(sys.executable).with_name("llmrec")
    if script.exists():
        return [str(script)]
    found = shutil.which("llmrec")
    return [found] if found else [sys.executable, "-m", "llmrec"]


def cpu() -> tuple[str, str]:
    """(CPU model and core count, bf16 capability) from /proc/cpuinfo."""
    info: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            info.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    flags = set(info.get("flags", "").split())
    model = info.get("model name", "unknown CPU")
    if "cpu family" in info and "model" in info:
        model += f" (family {info['cpu family']}, model {info['model']})"
    units = [f for f in ("avx512_bf16", "amx_bf16") if f in flags]
    isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    bf16 = (f"bf16 units: {', '.join(units)}" if units
            else f"no bf16 units ({isa} only): the engine runs float32")
    return f"{model}, {os.cpu_count()} cores", bf16


def check_caches(data: str | None) -> None:
    """The default LLM converted and a cached default retriever for the data: else the run would time a
    conversion or a retriever training, not a first answer."""
    from llmrec.data import load_dataset
    from llmrec.models import resolve_llm
    from retrieval.store import find_cached

    resolve_llm()  # converts the bundled GGUF on first use (once)
    if find_cached(load_dataset(data)) is None:
        raise SystemExit("no cached retriever for this data: run `llmrec recommend --user 1` once (it trains "
                         "and caches the default retriever, a few minutes), then benchmark")


def run_once(argv: list[str]) -> dict[str, float]:
    """One run of the command: its ``--timings`` stages plus python_start, first_answer and wall."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
    first: list[float] = []
    out: list[str] = []
    err: list[str] = []

    def read_out() -> None:
        for line in proc.stdout:
            if not first and line.startswith("top "):
                first.append(time.perf_counter() - t0)
            out.append(line)

    def read_err() -> None:
        for line in proc.stderr:
            err.append(line)
            table = line.startswith(("timings", "stage", "-----")) or _is_timing_row(line)
            if line.strip() and not table:
                sys.stderr.write(f"  | {line}")

    readers = [threading.Thread(target=read_out), threading.Thread(target=read_err)]
    for r in readers:
        r.start()
    code = proc.wait()
    wall = time.perf_counter() - t0
    for r in readers:
        r.join()
    if code != 0:
        raise SystemExit(f"{' '.join(argv)} failed (exit {code}):\n{''.join(err[-20:])}")
    sys.stderr.write("".join(f"  > {line}" for line in out))
    timings = parse_timings(err)
    return {"python_start": wall - timings.pop("total", wall), **timings,
            "first_answer": first[0] if first else wall, "wall": wall}


def _is_timing_row(line: str) -> bool:
    parts = line.split()
    return len(parts) == 2 and parts[0] in {*STAGES, "total", "fit", "recommend"} and _number(parts[1])


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def parse_timings(stderr: list[str]) -> dict[str, float]:
    """The ``stage  seconds`` rows of the command's ``--timings`` table."""
    start = next((n for n, line in enumerate(stderr) if line.startswith("timings")), None)
    if start is None:
        raise SystemExit("the command printed no timings table (is --timings supported?)")
    rows = {}
    for line in stderr[start + 3:]:
        parts = line.split()
        if len(parts) != 2 or not _number(parts[1]):
            break
        rows[parts[0]] = float(parts[1])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.first_answer", description=__doc__.split("\n")[0])
    parser.add_argument("--user", type=int, default=42, help="user id")
    parser.add_argument("--k", type=int, default=10, help="recommendations")
    parser.add_argument("--data", default=None, help="MovieLens-100K directory (default: the usual places)")
    parser.add_argument("--runs", type=int, default=1, help="timed runs")
    parser.add_argument("--warmup", action="store_true", help="one untimed run first")
    parser.add_argument("extra", nargs=argparse.REMAINDER, help="after --: more flags for the command")
    args = parser.parse_args(argv)
    extra = args.extra[1:] if args.extra[:1] == ["--"] else args.extra
    check_caches(args.data)
    command = [*llmrec_command(), "recommend", "--user", str(args.user), "--k", str(args.k),
               *(["--data", args.data] if args.data else []), "--timings", *extra]
    shown = " ".join(["llmrec", *command[len(llmrec_command()):]])
    print(f"command: {shown}", flush=True)
    if args.warmup:
        print("warm-up run (untimed)...", file=sys.stderr, flush=True)
        run_once(command)
    runs = []
    for n in range(args.runs):
        print(f"run {n + 1} of {args.runs}...", file=sys.stderr, flush=True)
        runs.append(run_once(command))
    names = [s for s in STAGES if any(s in r for r in runs)]
    names += sorted({s for r in runs for s in r} - set(names))
    rows = [[name, *(f"{r[name]:.1f}" if name in r else "-" for r in runs), STAGES.get(name, "")]
            for name in names]
    headers = ["stage", *(f"run {n + 1} (s)" for n in range(len(runs))), "what"]
    print(format_table(rows, headers))
    model, bf16 = cpu()
    print(f"cpu: {model}; {bf16}")
    best = min(r["wall"] for r in runs)
    print(f"wall: {best:.1f} s at best over {len(runs)} run(s); target <= 60 s: "
          f"{'met' if best <= 60 else 'missed'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
