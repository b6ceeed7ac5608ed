"""Ground truth for feedback on a shown list: "not the second one", "more like 3", "not Fargo", "start over".

A :class:`FeedbackCase` is one turn of feedback: the list just shown (``shown``, 10 catalog items drawn from
the popular ones), the item in focus (``focus``: the last one referred to, or None), the ``text`` and the
reading a correct reader makes of it (``truth``, the form of :func:`reading`: the items rejected, accepted
and asked "more like", whether older / newer titles or a fresh start were asked for, and whether a
reference names a position that was not shown).  Every case has the id of the template that wrote it, its
``family`` and its ``language`` (``en``, ``es``, ``fr``, ``de``).

    cases = generate(catalog, n=600, seed=0, split="test", popularity=counts)  # deterministic per seed
    train_ids, test_ids = split_templates()  # tune a reader on train templates, score it on test ones

The readings follow fixed semantics, written independently of any reader.  Positions are 1-based in the
shown list ("the second one", "#2", "number 2", "2"; "the last one" is the last shown).  A bare reference
("the second one", "#3", "the third one sounds good") or one with a verb of choosing ("I'll take the
third") accepts the item; a negation or a verb of removal ("not the second one", "skip #3", "I don't want
Fargo") rejects it; "more like" / "similar to" asks for more like it.  "That one" / "it" is the item in
focus, else the first shown.  A reference to a position that was not shown ("the 12th" of 10) is
unresolved: it names no item.  The ``unresolved`` family is only that; the ``combined`` family joins two
readings in one turn ("not the second one, something older").

The split of templates is fixed (it does not depend on the seed of a draw): each (family, language) group
is halved, so both halves cover every family and language, and no template scored is one tuned on.
Templates added later (``TRAIN_ONLY_SPECS``; both lists are in :mod:`eval.requests.feedback_specs`) are
train templates only and leave the halving as it was.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eval.conversation_data import halve_groups
from eval.requests.feedback_specs import SPECS, TRAIN_ONLY_SPECS
from eval.requests.world import KNOWN_SINGLE, plain_title, typed_title
from llmrec.data import Catalog

__all__ = ["FAMILIES", "LANGUAGES", "SHOWN", "TEMPLATES", "FeedbackCase", "Template", "generate", "reading",
           "render", "split_templates", "truth"]

LANGUAGES = ("en", "es", "fr", "de")
FAMILIES = ("ordinal", "number", "reject_position", "reject_title", "focus", "more_like", "accept",
            "older_newer", "reset", "combined", "unresolved")
SHOWN = 10  # items in a shown list
_POOL = 200  # shown lists are drawn from the most popular items
_WEIGHTS = {"ordinal": 10, "number": 10, "reject_position": 12, "reject_title": 12, "focus": 10,
            "more_like": 10, "accept": 10, "older_newer": 7, "reset": 5, "combined": 14, "unresolved": 8}
_LANG_WEIGHTS = {"en": 2, "es": 1, "fr": 1, "de": 1}

#: Ordinal words 1..10 and "last" (es: feminine, la película; fr: masculine, le film; de: stems).
_ORDINALS = {lang: (words.split(), last) for lang, words, last in (
    ("en", "first second third fourth fifth sixth seventh eighth ninth tenth", "last"),
    ("es", "primera segunda tercera cuarta quinta sexta séptima octava novena décima", "última"),
    ("fr", "premier deuxième troisième quatrième cinquième sixième septième huitième neuvième dixième",
     "dernier"),
    ("de", "erst zweit dritt viert fünft sechst siebt acht neunt zehnt", "letzt"))}
_EN_BEYOND = {11: "eleventh", 12: "twelfth", 13: "thirteenth", 15: "fifteenth", 20: "twentieth"}
_NUMBER_FORMS = {"en": ("#{d}", "number {d}", "no. {d}", "{d}"),
                 "es": ("número {d}", "#{d}", "{d}", "nº {d}"),
                 "fr": ("numéro {d}", "n°{d}", "#{d}", "{d}"), "de": ("Nummer {d}", "Nr. {d}", "#{d}", "{d}")}


@dataclass(frozen=True)
class Template:
    """Phrasings ("|"-separated) of one kind of feedback.  Slots per reference (no suffix: the first, "2":
    the second): {o} an ordinal (es {om} masculine, fr {of} feminine, de {oe} / {oen} inflected), {n} a
    number as written ("#3", "number 3"), {d} the bare number, {t} the item's title."""

    id: str
    family: str
    language: str
    text: str
    refs: tuple[str, ...] = ()  # what each referenced item receives: "reject", "accept" or "more_like"
    flags: tuple[str, ...] = ()  # "older", "newer", "reset"
    focus: str | None = None  # the phrasing says "that one" / "it": what the item in focus receives
    beyond: bool = False  # the references name positions that were not shown: unresolved


@dataclass(frozen=True)
class FeedbackCase:
    text: str
    shown: tuple[int, ...]
    focus: int | None
    truth: dict[str, Any]
    template: str
    family: str
    language: str


_CODES = {"R": "reject", "A": "accept", "M": "more_like"}

def _templates(specs: str) -> dict[str, Template]:
    rows: list[list[str]] = []
    for line in specs.strip("\n").splitlines():
        if line.startswith(" "):
            rows[-1][2] += line.strip()
        else:
            rows.append(line.split(None, 2))
    out = {}
    for tid, code, text in rows:
        parts = code.split("+")
        focus = [_CODES[c[1]] for c in parts if c.startswith("@")]
        out[tid] = Template(tid, tid.split(".")[1], tid.split(".")[0], text,
                            refs=tuple(_CODES[c] for c in parts if c in _CODES),
                            flags=tuple(c for c in parts if c in ("older", "newer", "reset")),
                            focus=focus[0] if focus else None, beyond="beyond" in parts)
    return out


_SPLIT_TEMPLATES = _templates(SPECS)  # halved into train and test
_TRAIN_ONLY = _templates(TRAIN_ONLY_SPECS)
assert not _SPLIT_TEMPLATES.keys() & _TRAIN_ONLY.keys()
TEMPLATES: dict[str, Template] = {**_SPLIT_TEMPLATES, **_TRAIN_ONLY}


class _Retry(Exception):
    """The draw does not fit (no nameable title among the shown items, too few shown): draw again."""


def truth(reject: Sequence[int] = (), accept: Sequence[int] = (), more_like: Sequence[int] = (),
          older: bool = False, newer: bool = False, reset: bool = False, unresolved: bool = False
          ) -> dict[str, Any]:
    """A reading in the form :func:`reading` gives and cases hold (item lists sorted, duplicates dropped)."""
    return {"reject": sorted(set(reject)), "accept": sorted(set(accept)), "more_like": sorted(set(more_like)),
            "older": older, "newer": newer, "reset": reset, "unresolved": unresolved}


def reading(feedback) -> dict[str, Any]:
    """What a :class:`~llmrec.converse.feedback.Feedback` read, in the form of a case's ``truth``."""
    return truth(feedback.reject, feedback.accept, feedback.more_like, feedback.older, feedback.newer,
                 feedback.reset, bool(feedback.unresolved))


class _World:
    """The catalog as templates see it: the popular items lists are drawn from, and their typed names."""

    def __init__(self, catalog: Catalog, popularity: dict[int, int] | None) -> None:
        ids = [int(i) for i in catalog.item_ids]
        self.catalog = catalog
        order = sorted(ids, key=lambda i: (-popularity.get(i, 0), i)) if popularity else ids
        self.pool = order[:_POOL]
        names: dict[str, int] = {}
        for i in ids:
            key = plain_title(catalog.title(i)).casefold()
            names[key] = names.get(key, 0) + 1
        self.names = {}  # items a person can name unambiguously: the name as typed
        for i in self.pool:
            name = plain_title(catalog.title(i))
            if (names[name.casefold()] == 1 and len(name) >= 4 and not name.casefold().startswith("like ")
                    and (" " in name or name in KNOWN_SINGLE)):
                self.names[i] = name

    def name(self, r: random.Random, item: int) -> str:
        return typed_title(r, self.names[item], self.catalog.year(item))


def _forms(r: random.Random, lang: str, p: int, shown: int) -> dict[str, str]:
    """How to write position ``p`` (-1: the last) of ``shown`` items: the slots of :class:`Template`."""
    d = shown if p == -1 else p
    words, last = _ORDINALS[lang]
    word = last if p == -1 else words[p - 1] if p <= len(words) else None
    if lang == "en":
        if word is None:
            word = _EN_BEYOND[p] if p in _EN_BEYOND and r.random() < 0.5 else f"{p}th"
        elif p > 0 and r.random() < 0.25:
            word = str(p) + {1: "st", 2: "nd", 3: "rd"}.get(p, "th")
    word = word or f"{p}."
    forms = {"o": word, "d": str(d), "n": r.choice(_NUMBER_FORMS[lang]).format(d=d)}
    if lang == "es":
        forms["om"] = word[:-1] + "o" if word.endswith("a") else word
    elif lang == "fr":
        forms["of"] = {"premier": "première", "dernier": "dernière"}.get(word, word)
    elif lang == "de":
        forms.update(oe=word + "e", oen=word + "en")
    return forms


def render(template: Template, r: random.Random, world: _World, shown: Sequence[int], focus: int | None
           ) -> FeedbackCase:
    """One case of ``template`` about the list ``shown`` with ``focus`` (raises :class:`_Retry` when the
    phrasing drawn does not fit the list)."""
    phrasing = r.choice(template.text.split("|"))
    n = min(len(shown), SHOWN)
    slots: dict[str, str] = {}
    picked: list[int] = []
    for k, _kind in enumerate(template.refs):
        suffix = "2" if k else ""
        if template.beyond:
            p = r.randrange(len(shown) + 1, 21)
        elif "{t" + suffix + "}" in phrasing:
            nameable = [j + 1 for j in range(n) if shown[j] in world.names and j + 1 not in picked]
            if not nameable:
                raise _Retry
            p = r.choice(nameable)
        else:
            p = -1 if r.random() < 0.1 else r.randrange(1, n + 1)
            if p in picked or (p == -1 and len(shown) in picked) or (p == len(shown) and -1 in picked):
                raise _Retry
        picked.append(p)
        forms = _forms(r, template.language, p, len(shown))
        slots.update({key + suffix: value for key, value in forms.items()})
        if "{t" + suffix + "}" in phrasing:
            slots["t" + suffix] = world.name(r, shown[p - 1])
    text = phrasing.format(**slots)
    text = text[:1].upper() + text[1:] if r.random() < 0.4 else text
    got: dict[str, list[int]] = {"reject": [], "accept": [], "more_like": []}
    if not template.beyond:
        for kind, p in zip(template.refs, picked):
            got[kind].append(shown[p - 1] if p > 0 else shown[-1])
    if template.focus:
        got[template.focus].append(focus if focus in shown else shown[0])
    flags = set(template.flags)
    return FeedbackCase(text, tuple(shown), focus,
                        truth(**got, older="older" in flags, newer="newer" in flags, reset="reset" in flags,
                              unresolved=template.beyond),
                        template.id, template.family, template.language)


def split_templates() -> tuple[set[str], set[str]]:
    """Template ids to tune on and to score on: each (family, language) group is halved by a fixed shuffle
    (an odd group's extra template goes to either side in turn); the templates added later
    (``TRAIN_ONLY_SPECS``) are train templates and take no part in the halving."""
    train, test = halve_groups(_SPLIT_TEMPLATES.values(), "feedback")
    train.update(_TRAIN_ONLY)
    return train, test


def generate(catalog: Catalog, n: int = 600, seed: int = 0, split: str = "all",
             popularity: dict[int, int] | None = None) -> list[FeedbackCase]:
    """``n`` feedback cases from the templates of ``split`` ("all", "train" or "test"), each (family,
    language) group in proportion to its family's and language's weights, a group's templates used in turn,
    texts kept distinct where the templates allow.  Deterministic for a seed and catalog."""
    if split not in ("all", "train", "test"):
        raise ValueError(f"split must be 'all', 'train' or 'test', got {split!r}")
    ids = set(TEMPLATES) if split == "all" else split_templates()[0 if split == "train" else 1]
    world = _World(catalog, popularity)
    groups: dict[tuple[str, str], list[Template]] = {}
    for tid in sorted(ids):
        t = TEMPLATES[tid]
        groups.setdefault((t.family, t.language), []).append(t)
    weights = {g: _WEIGHTS[g[0]] * _LANG_WEIGHTS[g[1]] for g in groups}
    shares = {g: n * w / sum(weights.values()) for g, w in weights.items()}
    quota = {g: math.floor(s) for g, s in shares.items()}
    for g in sorted(shares, key=lambda g: (quota[g] - shares[g], g))[: n - sum(quota.values())]:
        quota[g] += 1
    cases: list[FeedbackCase] = []
    seen: set[str] = set()
    for group in sorted(groups):
        templates = groups[group]
        for j in range(quota[group]):
            t = templates[j % len(templates)]
            r = random.Random(f"{seed}/{t.id}/{j}")
            case = None
            for _attempt in range(200):
                shown = r.sample(world.pool, SHOWN)
                focus = r.choice(shown) if r.random() < 0.6 else None
                try:
                    case = render(t, r, world, shown, focus)
                except _Retry:
                    continue
                if case.text.casefold() not in seen or _attempt >= 20:  # a repeat when the phrasings run out
                    break
            if case is None:
                raise RuntimeError(f"template {t.id!r} drew no case (seed {seed})")
            seen.add(case.text.casefold())
            cases.append(case)
    random.Random(f"{seed}/order").shuffle(cases)
    return cases
