"""Grid-search item-kNN settings on the *validation* split and print the table (never the test split).

    python -m bench.tune_itemknn --data ../shared/data/ml-100k

The defaults of ``ItemKNNConfig`` are the best row of this table by validation NDCG@10.
"""

from __future__ import annotations

import argparse
import itertools
import logging

from llmrec.data import load_dataset
from llmrec.evaluation.runner import evaluate_recommender
from llmrec.tables import format_table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tune_itemknn", description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=None, help="MovieLens-100K directory")
    parser.add_argument("--neighbors", type=int, nargs="+", default=[20, 50, 100, 200])
    parser.add_argument("--window", type=int, nargs="+", default=[0, 10, 20, 50], help="0 = all")
    parser.add_argument("--decay", type=float, nargs="+", default=[1.0, 0.9, 0.8, 0.7])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    dataset = load_dataset(args.data)
    rows = []
    for k, w, d in itertools.product(args.neighbors, args.window, args.decay):
        params = {"neighbors": k, "window": w or None, "decay": d}
        m = evaluate_recommender(dataset, "itemknn", "validation", params=params, progress=False).metrics
        rows.append([k, w or "all", d, m["ndcg@10"], m["recall@20"], m["mrr"]])
    rows.sort(key=lambda r: -r[3])
    print(format_table(rows, ["neighbors", "window", "decay", "val ndcg@10", "val recall@20", "val mrr"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
