"""Evaluation reports: a JSON summary with the per-user ranks beside it, and paired comparison.

``pop.json`` holds ``{"recommender", "split", "config", "n_users", "metrics", ...}`` and a manifest naming
``pop.ranks.csv`` (user, item, rank, candidates) and ``pop.lists.csv`` (user, items: each user's top-N list,
space-separated ids, best first) with their SHA-256; all are written atomically and a report whose ranks or
lists file is missing or altered is refused on load.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from llmrec.artifacts import atomic_write_text, sha256_file
from llmrec.errors import ArtifactError
from llmrec.evaluation.metrics import DEFAULT_CUTOFFS, metric_functions, summarize

__all__ = ["FORMAT", "Report", "compare_reports", "paired_bootstrap"]

FORMAT = "llmrec.report/1"


@dataclass
class Report:
    recommender: str
    split: str
    config: dict[str, Any]
    ranks: pd.DataFrame  # user, item, rank, candidates
    dataset: dict[str, Any] = field(default_factory=dict)
    cutoffs: tuple[int, ...] = DEFAULT_CUTOFFS
    recall_cutoffs: tuple[int, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)  # stage-specific figures (timings, subsets...)
    lists: np.ndarray | None = None  # (users, N) top-N item ids in the rows' user order, -1 padded
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def n_users(self) -> int:
        return len(self.ranks)

    @property
    def metrics(self) -> dict[str, float]:
        return summarize(self.ranks["rank"].to_numpy(), self.cutoffs, self.recall_cutoffs)

    def subset_metrics(self, below_rank: int) -> tuple[int, dict[str, float]]:
        """(users, metrics) over the users whose held-out item ranked above ``below_rank`` (0-based
        rank < it): for a two-stage recommender with K candidates, the users whose item is among the
        candidates."""
        ranks = self.ranks["rank"].to_numpy()
        ranks = ranks[ranks < below_rank]
        return len(ranks), (summarize(ranks, self.cutoffs) if len(ranks) else {})

    def to_dict(self, ranks_file: str | None = None, ranks_sha256: str | None = None,
                lists_file: str | None = None, lists_sha256: str | None = None) -> dict[str, Any]:
        return {
            "recommender": self.recommender,
            "split": self.split,
            "config": self.config,
            "n_users": self.n_users,
            "metrics": self.metrics,
            "dataset": self.dataset,
            "cutoffs": list(self.cutoffs),
            "recall_cutoffs": list(self.recall_cutoffs),
            "extra": self.extra,
            "created": self.created,
            "manifest": {"format": FORMAT, "ranks_file": ranks_file, "ranks_sha256": ranks_sha256,
                         **({"lists_file": lists_file, "lists_sha256": lists_sha256} if lists_file else {})},
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write ``path`` (JSON) with ``<stem>.ranks.csv`` and ``<stem>.lists.csv`` beside it, each
        atomically; the JSON (whose manifest names the others with their checksums) last."""
        path = Path(path)
        ranks_path = path.with_name(path.stem + ".ranks.csv")
        buf = io.StringIO()
        self.ranks.to_csv(buf, index=False)
        atomic_write_text(ranks_path, buf.getvalue())
        lists = {}
        if self.lists is not None:
            if len(self.lists) != len(self.ranks):
                raise ArtifactError(f"{len(self.lists)} top-N lists for {len(self.ranks)} users")
            lists_path = path.with_name(path.stem + ".lists.csv")
            rows = pd.DataFrame({"user": self.ranks["user"].to_numpy(),
                                 "items": [" ".join(map(str, row[row >= 0])) for row in self.lists]})
            buf = io.StringIO()
            rows.to_csv(buf, index=False)
            atomic_write_text(lists_path, buf.getvalue())
            lists = {"lists_file": lists_path.name, "lists_sha256": sha256_file(lists_path)}
        doc = self.to_dict(ranks_path.name, sha256_file(ranks_path), **lists)
        atomic_write_text(path, json.dumps(doc, indent=2) + "\n")
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> Report:
        path = Path(path)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ArtifactError(f"report not found: {path}") from None
        except json.JSONDecodeError as err:
            raise ArtifactError(f"report {path} is not valid JSON: {err}") from None
        manifest = doc.get("manifest") or {}
        if manifest.get("format") != FORMAT:
            raise ArtifactError(f"{path} is not an llmrec report (format {manifest.get('format')!r})")
        ranks_path = path.with_name(manifest["ranks_file"])
        if not ranks_path.exists():
            raise ArtifactError(f"report {path}: per-user ranks file {ranks_path.name} is missing")
        if sha256_file(ranks_path) != manifest["ranks_sha256"]:
            raise ArtifactError(f"report {path}: {ranks_path.name} is corrupt (checksum differs)")
        ranks = pd.read_csv(ranks_path)
        return cls(recommender=doc["recommender"], split=doc["split"], config=doc["config"],
                   ranks=ranks, lists=_load_lists(path, manifest, ranks), dataset=doc.get("dataset", {}),
                   cutoffs=tuple(doc.get("cutoffs", DEFAULT_CUTOFFS)),
                   recall_cutoffs=tuple(doc.get("recall_cutoffs", ())), extra=doc.get("extra", {}),
                   created=doc.get("created", ""))


def _load_lists(path: Path, manifest: dict[str, Any], ranks: pd.DataFrame) -> np.ndarray | None:
    """The top-N lists the manifest names (checked), as a -1 padded array in the ranks' user order."""
    if not manifest.get("lists_file"):
        return None
    lists_path = path.with_name(manifest["lists_file"])
    if not lists_path.exists():
        raise ArtifactError(f"report {path}: top-N lists file {lists_path.name} is missing")
    if sha256_file(lists_path) != manifest["lists_sha256"]:
        raise ArtifactError(f"report {path}: {lists_path.name} is corrupt (checksum differs)")
    frame = pd.read_csv(lists_path, dtype={"items": str}, keep_default_na=False)
    if frame["user"].tolist() != ranks["user"].tolist():
        raise ArtifactError(f"report {path}: {lists_path.name} does not list the users of the ranks file")
    rows = [np.array(s.split(), dtype=np.int64) for s in frame["items"]]
    out = np.full((len(rows), max((len(r) for r in rows), default=0)), -1, dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return out


def paired_bootstrap(diff: np.ndarray, *, n_resamples: int = 10_000, confidence: float = 0.95,
                     random_state: np.random.Generator | int | None = 0) -> tuple[float, float]:
    """The percentile-bootstrap confidence interval of the mean of paired differences ``diff`` (resampling
    the pairs); with no variation, the point itself.  The one bootstrap of the project."""
    diff = np.asarray(diff, dtype=np.float64)
    if len(diff) == 0:
        raise ValueError("no paired differences to bootstrap")
    if np.all(diff == diff[0]):
        return float(diff[0]), float(diff[0])
    rng = (random_state if isinstance(random_state, np.random.Generator)
           else np.random.default_rng(random_state))
    ci = stats.bootstrap((diff,), np.mean, n_resamples=n_resamples, confidence_level=confidence,
                         method="percentile", random_state=rng).confidence_interval
    return float(ci.low), float(ci.high)


def compare_reports(a: Report, b: Report, *, n_resamples: int = 10_000, confidence: float = 0.95,
                    seed: int = 0) -> pd.DataFrame:
    """Paired bootstrap confidence intervals of ``b - a`` for every metric, over the users both rank.

    Reports must share split and dataset.  Returns one row per metric: a, b, diff, ci_low, ci_high.
    """
    if a.split != b.split:
        raise ArtifactError(f"cannot compare a {a.split!r} report with a {b.split!r} report")
    if a.dataset.get("fingerprint") != b.dataset.get("fingerprint"):
        raise ArtifactError("the reports were computed on different data (dataset fingerprints differ)")
    protocols = [r.extra.get("protocol", "full ranking") for r in (a, b)]
    if protocols[0] != protocols[1]:
        raise ArtifactError(f"cannot compare reports of different protocols: {protocols[0]!r} vs "
                            f"{protocols[1]!r}")
    joined = a.ranks.merge(b.ranks, on=["user", "item"], suffixes=("_a", "_b"))
    if len(joined) == 0:
        raise ArtifactError("the reports share no (user, held-out item) pairs")
    ra, rb = joined["rank_a"].to_numpy(), joined["rank_b"].to_numpy()
    rng = np.random.default_rng(seed)
    rows = []
    fns = metric_functions(sorted(set(a.cutoffs) & set(b.cutoffs)),
                           sorted(set(a.recall_cutoffs) & set(b.recall_cutoffs)))
    for name, fn in fns.items():
        va, vb = fn(ra), fn(rb)
        diff = vb - va
        lo, hi = paired_bootstrap(diff, n_resamples=n_resamples, confidence=confidence, random_state=rng)
        rows.append({"metric": name, "a": va.mean(), "b": vb.mean(), "diff": diff.mean(),
                     "ci_low": lo, "ci_high": hi, "excludes_0": bool(lo > 0 or hi < 0)})
    out = pd.DataFrame(rows)
    out.attrs["n_users"] = len(joined)
    return out
