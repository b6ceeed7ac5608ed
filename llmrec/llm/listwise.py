"""Generative listwise ranking: the model writes the ranked letters, parsed back to candidates.

The slow baseline that one-pass label scoring replaces (``bench/ranking.py`` compares the two).
"""

from __future__ import annotations

import re

__all__ = ["parse_label_list"]


def parse_label_list(text: str, labels: list[str]) -> tuple[list[int], int]:
    """Candidate positions in the order the model wrote their labels, then the unmentioned ones in their
    given order.  Returns (order, how many came from the text).  Repeats and unknown letters are ignored."""
    allowed = {label: i for i, label in enumerate(labels)}
    order: list[int] = []
    for token in re.findall(r"\b([A-Z])\b", text):
        i = allowed.get(token)
        if i is not None and i not in order:
            order.append(i)
    parsed = len(order)
    order += [i for i in range(len(labels)) if i not in order]
    return order, parsed
