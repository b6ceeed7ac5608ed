"""`python -m eval` agrees to 4 decimals with an independent, plain-Python implementation of the protocol.

The reference below reads ``u.data`` itself and shares no code with llmrec: per user, order by
(timestamp, item id); hold out the last; count popularity over the rest; rank all items the user has not
interacted with by count, ties by item id; NDCG@K = 1/log2(rank+2) if rank < K, Recall@K = hit,
MRR = 1/(rank+1).
"""

import json
import math
from collections import Counter, defaultdict

import pytest

from eval.cli import main as eval_main


def reference_popularity(udata_path, n_items=1682):
    by_user = defaultdict(list)
    with open(udata_path) as fh:
        for line in fh:
            u, i, _, t = line.split("\t")
            by_user[int(u)].append((int(t), int(i)))
    fit, targets = [], {}
    for u, events in by_user.items():
        events.sort()
        targets[u] = events[-1][1]
        fit.extend((u, i) for _, i in events[:-1])
    counts = Counter(i for _, i in fit)
    seen = defaultdict(set)
    for u, i in fit:
        seen[u].add(i)
    sums = defaultdict(float)
    for u, target in targets.items():
        candidates = [i for i in range(1, n_items + 1) if i not in seen[u] or i == target]
        ranking = sorted(candidates, key=lambda i: (-counts[i], i))
        rank = ranking.index(target)
        for k in (5, 10, 20):
            sums[f"ndcg@{k}"] += 1 / math.log2(rank + 2) if rank < k else 0.0
            sums[f"recall@{k}"] += 1.0 if rank < k else 0.0
        sums["mrr"] += 1 / (rank + 1)
    return {k: v / len(targets) for k, v in sums.items()}


def test_popularity_report_matches_the_independent_reference(ml100k, tmp_path):
    out = tmp_path / "pop.json"
    assert eval_main(["--data", ml100k.source["path"], "--recommender", "popularity", "--split", "test",
                      "--output", str(out), "--no-progress"]) == 0
    report = json.loads(out.read_text())
    assert report["n_users"] == 943
    expected = reference_popularity(f"{ml100k.source['path']}/u.data")
    for name, value in expected.items():
        assert round(report["metrics"][name], 4) == pytest.approx(round(value, 4), abs=1e-12), name
