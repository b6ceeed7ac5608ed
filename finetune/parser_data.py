"""Training rows of the parser adapter (``python -m finetune.parser``): loose clauses and the intent letter
that reads each one correctly.

Two sources, both free of the constraint benchmark's test templates:

* **benchmark clauses** — requests generated from the benchmark's *train* templates only
  (:func:`eval.conversation_data.generate`, ``split="train"``).  Each is parsed deterministically
  (:class:`~llmrec.converse.parse.RequestParser`) and its loose clauses are labelled by
  :func:`derive_labels`: every assignment of intents (``none`` included) to the clauses is tried through the
  engine's own merge (:func:`~llmrec.converse.parse.apply_intents`), and the one whose merged parse equals
  the case's true parse, with the fewest intents, is the label ("none" when no intent is needed).  A case
  whose deterministic parse is wrong outside the loose clauses, or with two equally small readings, is
  skipped;
* **paraphrases** — hand-written loose phrasings per intent and language, and noise ("tonight", "with my
  girlfriend"), in ``finetune/parser_phrases.json``, put into a few frames and parsed the same way; a phrase
  whose words the deterministic parser reads itself, or that splits into several clauses, is not used.

Any row whose clause is also a loose clause of a test-template request, or of a hand-written request
(``tests/data/requests_handwritten*.jsonl``), is dropped, as is any phrase found in a test-template request.
The rows are split into fit and validation by *source*: a seeded quarter of the train templates and a fifth
of the phrases are held out, so validation letter accuracy is on clauses from templates and phrases the
adapter never saw (clauses seen in fit rows are dropped from validation).
"""

from __future__ import annotations

import itertools
import json
import random
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from llmrec.converse.parse import RequestParser, apply_intents, fold_text
from llmrec.converse.query import Query
from llmrec.converse.reader import INTENT_ORDER

__all__ = ["PHRASES", "ParserRow", "ParserRows", "build_rows", "clause_key", "derive_labels",
           "handwritten_clauses", "held_out_clauses", "query_of", "row_dict"]

PHRASES = Path(__file__).with_name("parser_phrases.json")
_LETTERS = "ABCDEFGHI"
_MAX_LOOSE = 3  # 9**3 readings at most per case


@dataclass(frozen=True)
class ParserRow:
    """One training row: a loose clause (as the reader sees it), the intent that reads it, where it came
    from."""

    clause: str
    negated: bool
    intent: str  # one of INTENT_ORDER ("none" included)
    source: str  # "template:<id>" or "phrase:<language>:<intent>"
    language: str

    @property
    def letter(self) -> str:
        return _LETTERS[INTENT_ORDER.index(self.intent)]

    @property
    def answer(self) -> int:
        return INTENT_ORDER.index(self.intent)


@dataclass
class ParserRows:
    """The rows, split into fit and validation, with what was dropped and why."""

    fit: list[ParserRow]
    validation: list[ParserRow]
    train_templates: list[str]
    validation_templates: list[str]
    dropped: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        def count(rows: list[ParserRow]) -> dict[str, Any]:
            return {"rows": len(rows), "intents": dict(sorted(Counter(r.intent for r in rows).items())),
                    "languages": dict(sorted(Counter(r.language for r in rows).items())),
                    "from_templates": sum(r.source.startswith("template:") for r in rows)}

        return {"fit": count(self.fit), "validation": count(self.validation),
                "train_templates": self.train_templates, "validation_templates": self.validation_templates,
                "dropped": dict(self.dropped)}


def clause_key(clause: str) -> str:
    """The form clauses are compared in (accents and case folded, spaces collapsed)."""
    return " ".join(fold_text(clause).split()).strip(" ,.;:!?-")


def derive_labels(parser: RequestParser, text: str, truth: dict[str, Any]
                  ) -> list[tuple[str, bool, str]] | None:
    """``[(clause, negated, intent)]`` for the loose clauses of ``text``: the reading with the fewest intents
    whose merged parse is ``truth`` (``[]`` when nothing is loose); None when no reading gives the truth, when
    two equally small ones do, or when there are too many clauses to try."""
    parsed = parser.parse(text)
    loose = parsed.loose
    if not loose:
        return [] if parsed.query.to_parse() == truth else None
    if len(loose) > _MAX_LOOSE:
        return None
    best: list[tuple[int, tuple[str, ...]]] = []
    for combo in itertools.product(INTENT_ORDER, repeat=len(loose)):
        intents = [None if i == "none" else i for i in combo]
        if apply_intents(parser, parsed.query, loose, intents).to_parse() == truth:
            best.append((sum(i != "none" for i in combo), combo))
    if not best:
        return None
    fewest = min(n for n, _ in best)
    chosen = [combo for n, combo in best if n == fewest]
    if len(chosen) > 1:
        return None
    return [(clause, negated, intent) for (clause, negated), intent in zip(loose, chosen[0])]


def held_out_clauses(parser: RequestParser, catalog, popularity: dict[int, int] | None, n: int = 2000,
                 seed: int = 0) -> tuple[set[str], list[str]]:
    """The loose clauses (:func:`clause_key`) of ``n`` test-template requests and those requests' folded
    texts: what no training row may contain."""
    from eval.conversation_data import generate

    cases = generate(catalog, n=n, seed=seed, split="test", popularity=popularity)
    keys = {clause_key(c) for case in cases for c, _ in parser.parse(case.text).loose}
    return keys, [clause_key(case.text) for case in cases]


def handwritten_clauses(parser: RequestParser, paths: list[str | Path]) -> set[str]:
    """The loose clauses (:func:`clause_key`) of the hand-written request sets (never trained on)."""
    keys: set[str] = set()
    for path in paths:
        if Path(path).is_file():
            for line in Path(path).read_text(encoding="utf-8").splitlines():
                if line.strip():
                    keys |= {clause_key(c) for c, _ in parser.parse(json.loads(line)["text"]).loose}
    return keys


def _template_rows(parser: RequestParser, catalog, popularity, n: int, seed: int
                   ) -> tuple[list[ParserRow], Counter]:
    from eval.conversation_data import generate

    rows, dropped = [], Counter()
    for case in generate(catalog, n=n, seed=seed, split="train", popularity=popularity):
        labels = derive_labels(parser, case.text, case.parse)
        if labels is None:
            dropped["template case without a unique reading"] += 1
            continue
        rows += [ParserRow(c, neg, intent, f"template:{case.template}", case.language)
                 for c, neg, intent in labels]
    return rows, dropped


def _phrase_rows(parser: RequestParser, phrases: dict[str, Any], seed: int
                 ) -> tuple[list[ParserRow], Counter]:
    rows, dropped = [], Counter()
    rng = random.Random(f"{seed}/phrases")
    table = [(intent, lang, p) for intent, by_lang in phrases["intents"].items()
             for lang, ps in by_lang.items() for p in ps]
    table += [("none", lang, p) for lang, ps in phrases["none"].items() for p in ps]
    for intent, lang, phrase in table:
        for frame in phrases["frames"][lang]:
            text = frame.format(p=phrase, g=rng.choice(phrases["genres"][lang]), d=rng.choice((70, 80, 90)))
            text = text[:1].upper() + text[1:]
            parsed = parser.parse(text)
            if any(note.startswith("intent:") for note in parsed.query.notes):
                dropped["phrase read by the deterministic parser"] += 1
                continue
            if len(parsed.loose) != 1 or clause_key(phrase) not in clause_key(parsed.loose[0][0]):
                dropped["phrase not one loose clause"] += 1
                continue
            clause, negated = parsed.loose[0]
            rows.append(ParserRow(clause, negated, intent, f"phrase:{lang}:{intent}:{phrase}", lang))
    return rows, dropped


def build_rows(parser: RequestParser, catalog, popularity: dict[int, int] | None = None, *, n: int = 3000,
               seed: int = 0, validation_templates: float = 0.25, validation_phrases: float = 0.2,
               phrases: dict[str, Any] | None = None, handwritten: list[str | Path] = ()) -> ParserRows:
    """The parser adapter's rows (see the module doc): ``n`` train-template requests and the phrases, without
    anything from the test templates or the hand-written sets, deduplicated, split into fit and validation."""
    from eval.conversation_data import split_templates

    phrases = phrases or json.loads(PHRASES.read_text(encoding="utf-8"))
    train_ids, _ = split_templates(seed)
    held = sorted(train_ids)
    random.Random(f"{seed}/parser-validation").shuffle(held)
    val_templates = set(held[:round(len(held) * validation_templates)])
    tmpl_rows, dropped = _template_rows(parser, catalog, popularity, n, seed)
    phrase_rows, more = _phrase_rows(parser, phrases, seed)
    dropped += more
    forbidden, test_texts = held_out_clauses(parser, catalog, popularity, seed=seed)
    forbidden |= handwritten_clauses(parser, list(handwritten))
    names = sorted({r.source for r in phrase_rows})
    random.Random(f"{seed}/parser-phrases").shuffle(names)
    val_phrases = set(names[:round(len(names) * validation_phrases)])
    fit, val, seen = [], [], set()
    for row in tmpl_rows + phrase_rows:
        key = clause_key(row.clause)
        if key in forbidden:
            dropped["clause of a test-template or hand-written request"] += 1
            continue
        if row.source.startswith("phrase:"):
            phrase = clause_key(row.source.split(":", 3)[3])
            if any(phrase in t for t in test_texts):
                dropped["phrase found in a test-template request"] += 1
                continue
        held_out = (row.source.removeprefix("template:") in val_templates
                    if row.source.startswith("template:") else row.source in val_phrases)
        if (key, row.negated, held_out) in seen:
            continue
        seen.add((key, row.negated, held_out))
        (val if held_out else fit).append(row)
    fit_keys = {(clause_key(r.clause), r.negated) for r in fit}
    kept_val = [r for r in val if (clause_key(r.clause), r.negated) not in fit_keys]
    dropped["validation clause also in fit rows"] += len(val) - len(kept_val)
    conflicts = _conflicts(fit)
    if conflicts:
        dropped["fit clause with two labels"] += len(conflicts)
        fit = [r for r in fit if (clause_key(r.clause), r.negated) not in conflicts]
    return ParserRows(fit, kept_val, sorted(train_ids - val_templates), sorted(val_templates), dict(dropped))


def _conflicts(rows: list[ParserRow]) -> set[tuple[str, bool]]:
    labels: dict[tuple[str, bool], set[str]] = {}
    for r in rows:
        labels.setdefault((clause_key(r.clause), r.negated), set()).add(r.intent)
    return {k for k, v in labels.items() if len(v) > 1}


def row_dict(row: ParserRow) -> dict[str, Any]:
    return {**asdict(row), "letter": row.letter}


def query_of(parser: RequestParser, text: str, intents: list[str | None]) -> Query:
    """The parse of ``text`` with ``intents`` read in its loose clauses (for checks)."""
    parsed = parser.parse(text)
    return apply_intents(parser, parsed.query, parsed.loose, intents)
