"""Graph-path evidence: history items linked to a recommended item through the knowledge graph.

With ``ExplainerConfig(evidence="graph")`` the evidence for an item is every history item the user liked
(rated at least ``min_rating`` where ratings are known) that reaches the item by a two-step path through a
shared genre node — the path an explanation can state and the claim checks can verify — ordered by the
strength of all the paths between the two in the :class:`~retrieval.graph.KnowledgeGraph`: the products of
the edge weights of each shared genre, decade and release year node, plus the direct co-watch edge.  So the
history item that shares Sci-Fi *and* the 1980s with *Aliens* and was watched by the same people comes before
one that shares Sci-Fi alone, wherever it is in the history (not only among the items the ranking prompt
shows).  :func:`path_phrase` writes the shared nodes for the explanation prompt ("shares Sci-Fi and the
1980s").
"""

from __future__ import annotations

from typing import Any

from llmrec.explain.evidence import liked
from llmrec.history import History

__all__ = ["graph_evidence", "path_phrase", "path_strength"]

# ``graph`` below is a :class:`retrieval.graph.KnowledgeGraph` (the retrieval layer builds it; this layer only
# reads it, through ``edge_weight`` and ``shared_nodes``).


def path_strength(graph: Any, item: int, other: int) -> float:
    """The weight of every path of at most two steps between the two items (module doc)."""
    a, b = ("item", int(item)), ("item", int(other))
    total = graph.edge_weight(a, b)
    for node in graph.shared_nodes(item, other, kinds=("genre", "decade", "year")):
        total += graph.edge_weight(a, node) * graph.edge_weight(node, b)
    return total


def graph_evidence(graph: Any, catalog, item: int, history: History,
                   min_rating: float = 4.0) -> list[int]:
    """The liked history items sharing a genre node with ``item``, strongest paths first (newest first
    among ties)."""
    found = [i for i in liked(history, min_rating)
             if i != item and graph.shared_nodes(item, i, kinds=("genre",))]
    strength = {i: path_strength(graph, item, i) for i in found}
    return sorted(found, key=lambda i: -strength[i])


def path_phrase(graph: Any, item: int, other: int) -> str:
    """``"shares Sci-Fi, Horror and the 1980s"``: the genre and decade nodes both items link to ("" when
    none)."""
    names = [str(v) if kind == "genre" else f"the {v}s" for kind, v in graph.shared_nodes(item, other)]
    if not names:
        return ""
    return "shares " + (names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1])
