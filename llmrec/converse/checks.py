"""The checks of a turn, in code: what a request may be, the objective weights a call gives, every returned
item against every constraint, and the smallest relaxation when nothing is left."""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from pydantic import ValidationError

from llmrec.converse.query import Constraints, Query
from llmrec.converse.turn import RecommendedItem, RequestError
from llmrec.data import Catalog
from llmrec.items import ItemList
from llmrec.recommenders.objectives import ObjectiveWeights

__all__ = ["check_request", "checked_items", "objective_weights", "relaxation"]

log = logging.getLogger(__name__)


def check_request(text: Any, k: Any, explain: Any, *, max_chars: int) -> tuple[str, int | None, int]:
    """The request text (stripped), ``k`` and ``explain`` when valid; else a :class:`RequestError` naming
    what is wrong (``explain`` is already defaulted by the caller)."""
    if not isinstance(text, str):
        raise RequestError(f"the request must be text, got {type(text).__name__}")
    if not text.strip():
        raise RequestError("the request is empty")
    if len(text) > max_chars:
        raise RequestError(f"the request is {len(text)} characters; at most {max_chars} are accepted")
    if "\x00" in text:
        raise RequestError("the request contains a NUL character")
    if k is not None and (isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 50):
        raise RequestError(f"k must be an integer from 1 to 50, got {k!r}")
    if isinstance(explain, bool) or not isinstance(explain, int) or not 0 <= explain <= 10:
        raise RequestError(f"explain must be an integer from 0 to 10, got {explain!r}")
    return text.strip(), k, explain


def _objectives_error(err: ValidationError) -> str:
    """The first problem of invalid objective weights, naming the field."""
    e = err.errors()[0]
    field = ".".join(str(p) for p in e.get("loc", ())) or "objectives"
    if e.get("type") == "extra_forbidden":
        known = ", ".join(ObjectiveWeights.model_fields)
        return f"objectives.{field}: unknown weight; known: {known}"
    return f"objectives.{field}: {e.get('msg', 'invalid')} (got {e.get('input')!r})"


def objective_weights(objectives: Any) -> ObjectiveWeights | None:
    """A call's re-ranking weights (:class:`~llmrec.recommenders.objectives.ObjectiveWeights`, or a mapping of
    its values: ``{"diversity": 0.3}``); None when no weight is on.  Anything else is a
    :class:`RequestError` naming the field."""
    if objectives is None:
        return None
    if isinstance(objectives, ObjectiveWeights):
        weights = objectives
    elif isinstance(objectives, Mapping):
        try:
            weights = ObjectiveWeights.model_validate(dict(objectives), strict=True)
        except ValidationError as err:
            raise RequestError(_objectives_error(err)) from None
    else:
        raise RequestError("objectives must be a mapping of weights (diversity, calibration, "
                           f"popularity, popularity_calibration), got {type(objectives).__name__}")
    for name in ("diversity", "calibration", "popularity", "popularity_calibration"):
        if not math.isfinite(getattr(weights, name)):
            raise RequestError(f"objectives.{name} must be a finite number 0 or more, "
                               f"got {getattr(weights, name)!r}")
    return weights if weights.active() else None


def checked_items(catalog: Catalog, ranked: ItemList, query: Query, excluded: set[int], k: int,
                  explanations: list | tuple = ()) -> list[RecommendedItem]:
    """The top ``k`` of ``ranked`` that satisfy every constraint, checked one by one (an item that does not
    is dropped and logged as an error: the stages before should never let one through)."""
    by_item = {e.item: e for e in explanations}
    out = []
    for item, score in zip(ranked.items.tolist(), ranked.scores.tolist()):
        bad = item in excluded or item not in catalog
        if bad or query.constraints.violations(catalog, item):
            log.error("constraint_violation item=%d dropped (%s)", item,
                      query.constraints.violations(catalog, item) or "excluded")
            continue
        e = by_item.get(item)
        out.append(RecommendedItem(item, catalog.display_title(item), catalog.year(item),
                                   tuple(catalog.genres(item)), float(score) if np.isfinite(score) else 0.0,
                                   e.text if e else None))
        if len(out) == k:
            break
    return out


def relaxation(catalog: Catalog, query: Query, excluded: set[int]) -> str | None:
    """The smallest change to the constraints that leaves something to recommend, in words."""
    c = query.constraints
    atoms: list[tuple[str, dict]] = []
    for name in ("genres_all", "genres_any", "genres_none"):
        for g in getattr(c, name):
            rest = tuple(x for x in getattr(c, name) if x != g)
            label = {"genres_all": f"'{g}'", "genres_any": f"'{g}' as an option",
                     "genres_none": f"'no {g}'"}[name]
            atoms.append((f"drop {label}", {name: rest} if name != "genres_any" else {name: ()}))
    if c.year_min is not None or c.year_max is not None:
        atoms.append(("drop the release years", {"year_min": None, "year_max": None}))
    ex = np.fromiter(excluded, dtype=np.int64, count=len(excluded))
    for size in (1, 2):
        best = None
        for combo in itertools.combinations(atoms, size):
            changes = {}
            for _, change in combo:
                changes.update(change)
            fields = {f: getattr(c, f) for f in ("genres_all", "genres_any", "genres_none", "year_min",
                                                  "year_max", "exclude_items")}
            relaxed = Constraints(**{**fields, **changes})
            count = int((~np.isin(relaxed.mask(catalog), ex)).sum())
            if count and (best is None or count > best[0]):
                best = (count, " and ".join(label for label, _ in combo))
        if best:
            return f"Closest: {best[1]} ({best[0]} titles)."
    return None
