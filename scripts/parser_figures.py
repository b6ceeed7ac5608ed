"""``python scripts/parser_figures.py runs/parser-lora``: parse exact match only: deterministic, zero-shot
LLM and the parser adapter, one vLLM engine — on both benchmark splits and both hand-written sets (the parse
figures of ``python -m eval --conversation --parser-adapter``, without the answered requests)."""
import json
import sys
import time

if __name__ == "__main__":
    import llmrec
    from eval.conversation import HANDWRITTEN, handwritten, parse_scores
    from eval.conversation_data import generate
    from llmrec.converse import Conversations, ConverseConfig

    adapter = sys.argv[1]
    data = llmrec.load_dataset("/work/shared/data/ml-100k")
    counts = data.interactions.frame["item"].value_counts()
    pop = {int(i): int(c) for i, c in counts.items()}
    t0 = time.perf_counter()
    conv = Conversations(data, ConverseConfig(retriever=None, parser_adapter=adapter, rerank=False))
    sets = {f"benchmark_{s}": generate(data.catalog, n=600, seed=0, split=s, popularity=pop)
            for s in ("train", "test")}
    sets.update({name: handwritten(path) for name, path in HANDWRITTEN.items()})
    out = {}
    zero = conv._intent_reader(zero_shot=True)
    for name, cases in sets.items():
        t = time.perf_counter()
        det = parse_scores(cases, conv.parser).to_dict()
        ad = parse_scores(cases, conv.parser, conv).to_dict()
        zs = parse_scores(cases, conv.parser, conv, zero).to_dict()
        out[name] = {"n": det["n"], "deterministic": det["exact_match"], "zero_shot": zs["exact_match"],
                     "adapter": ad["exact_match"], "adapter_misses": ad["misses"][:40],
                     "seconds": round(time.perf_counter() - t, 1)}
        print(name, {k: v for k, v in out[name].items() if k != "adapter_misses"}, flush=True)
    out["llm_error"] = conv._llm_error
    out["seconds"] = round(time.perf_counter() - t0, 1)
    conv.close()
    with open("runs/parser-figures.json", "w") as f:
        json.dump(out, f, indent=1)
    print("total seconds", out["seconds"])
