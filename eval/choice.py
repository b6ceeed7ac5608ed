"""What every choice made on the validation split reads: the data, the retriever, the ranker's values, a
seeded user sample and where to write the table (``python -m eval.fusion``, ``python -m eval.sampling``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from llmrec.cli import DataArgs
from llmrec.configargs import arg

__all__ = ["ChoiceArgs"]


@dataclass(frozen=True, kw_only=True)
class ChoiceArgs(DataArgs):
    retriever: str = arg("auto", help="trained retriever directory, or 'auto' for the cached default one")
    split: Literal["validation", "test"] = arg("validation", help="split to choose on (validation; the test "
                                                                 "split is for final figures only)")
    param: list[str] = arg(default_factory=list, repeat=True,
                           help="ranker config values as key=value (JSON values); repeatable")
    users: int = arg(0, help="choose on a seeded sample of this many users (0: every user of the split)")
    seed: int = arg(0, help="seed of the user sample")
    output: str | None = arg(None, help="write the table and the choice here as JSON")
    progress: bool = arg(True, help="show progress bars")
