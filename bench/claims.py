"""``python -m bench.claims``: how long the explanation checks take — indexing the catalog, checking one text.

The faithfulness evaluation checks every explanation against the catalog and the user's history
(:func:`llmrec.explain.check_explanation`); this prints the time to build the claim extractor's title index
for MovieLens-100K and the time per check of a typical explanation (the budget: under 1 s and 5 ms).
"""

from __future__ import annotations

import argparse
import statistics
import time

from llmrec.data import load_dataset
from llmrec.explain import ClaimExtractor, check_explanation
from llmrec.tables import format_table

TEXT = ("Because you watched Fargo, Toy Story and The Usual Suspects, you may enjoy Heat (1995), a gritty "
        "crime thriller from the 90s, much like 'Blade Runner 2049'.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.claims", description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=None, help="MovieLens-100K directory (default: the usual places)")
    parser.add_argument("--checks", type=int, default=200, help="checks timed")
    args = parser.parse_args(argv)
    catalog = load_dataset(args.data).catalog
    t0 = time.perf_counter()
    extractor = ClaimExtractor(catalog)
    index_s = time.perf_counter() - t0
    by_title = {catalog.short_title(int(i)): int(i) for i in catalog.item_ids}
    item, history = by_title["Heat"], [by_title["Fargo"], by_title["Toy Story"]]
    times = []
    for _ in range(args.checks):
        t = time.perf_counter()
        check_explanation(TEXT, item, history, catalog, extractor)
        times.append(time.perf_counter() - t)
    print(format_table([["index the catalog (s)", index_s, 1.0],
                        ["one check, median (ms)", 1000 * statistics.median(times), 5.0],
                        ["one check, max (ms)", 1000 * max(times), None]], ["what", "measured", "budget"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
