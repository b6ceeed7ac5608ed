"""Ground truth for the conversational constraint benchmark: requests in plain language, their true parses.

A :class:`Case` is one request (``text``), the parse a correct reader makes of it (``parse``, the wire form of
:meth:`llmrec.converse.query.Query.to_parse`, compared by exact match), the id of the template that wrote it,
its ``family`` (what it tests: ``genre``, ``combined``, ``negation``, ``decade``, ``year``, ``like``,
``seen``, ``impossible``, ``loose``, ``count``, ``unsupported``; every Spanish, French and German request is
``multilingual``) and its ``language`` (``en``, ``es``, ``fr``, ``de``).

    cases = generate(catalog, n=600, seed=0, popularity=counts)  # the benchmark, deterministic per seed
    train_ids, test_ids = split_templates()  # tune a parser on train templates, score it on test ones

The parses follow fixed semantics, written independently of any parser.  A genre word goes to
``genres_all`` (two genres as one kind, "an action comedy": both); alternatives ("a comedy or a drama") to
``genres_any``; negations ("no horror", "anything but westerns") to ``genres_none``.  "The 90s" is
1990-1999; "before 1990" ends at 1989, "after 1990" starts at 1991; "since 1990" / "nothing before 1990"
start at 1990; "up to 1990" / "nothing after 1990" end at 1990; "released in 1995" is 1995-1995.  "Like X"
seeds X; "not X" / "I've seen X" exclude X.  An explicit number of items ("5 movies", "three films") is
``k``; "a couple" is not.  Loose words map through a fixed intent table: kids +Children's; adults no
Animation, Children's; light no Film-Noir, Horror, War; scary / funny / romantic +Horror / +Comedy /
+Romance (negated: none of it); exciting any of Action, Adventure, Thriller; sad +Drama.  What the catalog
cannot express (language, runtime, person, rating, place, platform) is listed in ``unsupported``.  The
``impossible`` family asks for what no catalog item satisfies (checked against the data at each draw).
The words the templates write with (genres in four languages, decades, numbers, frames) are in
:mod:`eval.conversation_lexicon`; the templates, by family, in :mod:`eval.requests`.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterable
from typing import Any

from eval.requests import TEMPLATES, Case, Template
from eval.requests.world import Retry, World
from llmrec.converse.query import Query, catalog_genres
from llmrec.data import Catalog

__all__ = ["FAMILIES", "LANGUAGES", "TEMPLATES", "Case", "Template", "generate", "halve_groups",
           "split_templates", "validate", "validate_parse"]

LANGUAGES = ("en", "es", "fr", "de")
FAMILIES = ("genre", "combined", "negation", "decade", "year", "like", "seen", "impossible", "loose",
            "count", "unsupported", "multilingual")
#: Share of the benchmark per family (``multilingual`` spreads evenly over es, fr and de).
_WEIGHTS = {"genre": 45, "combined": 50, "negation": 50, "decade": 45, "year": 50, "like": 45, "seen": 40,
            "impossible": 50, "loose": 70, "count": 40, "unsupported": 50, "multilingual": 125}


def split_templates(seed: int = 0) -> tuple[set[str], set[str]]:
    """Template ids to train on and to test on: each (family, language) group is halved at random (an odd
    group's extra template goes to either side in turn), so both halves cover every family and language."""
    return halve_groups(TEMPLATES.values(), str(seed))


def halve_groups(templates: Iterable[Any], salt: str) -> tuple[set[str], set[str]]:
    """Template ids (``.id``) halved within each (``.family``, ``.language``) group by a shuffle seeded with
    ``salt`` and the group; an odd group's extra template goes to either side in turn."""
    groups: dict[tuple[str, str], list[str]] = {}
    for t in templates:
        groups.setdefault((t.family, t.language), []).append(t.id)
    train: set[str] = set()
    test: set[str] = set()
    extra_to_train = True
    for key in sorted(groups):
        ids = sorted(groups[key])
        random.Random(f"{salt}/{key[0]}/{key[1]}").shuffle(ids)
        cut = len(ids) // 2 + (len(ids) % 2 if extra_to_train else 0)
        extra_to_train ^= bool(len(ids) % 2)
        train.update(ids[:cut])
        test.update(ids[cut:])
    return train, test


def generate(catalog: Catalog, n: int = 600, seed: int = 0, split: str = "all",
             popularity: dict[int, int] | None = None) -> list[Case]:
    """``n`` distinct requests from the templates of ``split`` ("all", "train" or "test"), families in the
    shares of ``_WEIGHTS``, a family's templates used in turn.  Deterministic for a seed and catalog."""
    if split not in ("all", "train", "test"):
        raise ValueError(f"split must be 'all', 'train' or 'test', got {split!r}")
    ids = set(TEMPLATES) if split == "all" else split_templates(seed)[0 if split == "train" else 1]
    world = World(catalog, popularity)
    by_family: dict[str, list[Template]] = {}
    for tid in sorted(ids):
        by_family.setdefault(TEMPLATES[tid].family, []).append(TEMPLATES[tid])
    total = sum(_WEIGHTS[f] for f in by_family)
    shares = {f: n * _WEIGHTS[f] / total for f in sorted(by_family)}
    quota = {f: math.floor(s) for f, s in shares.items()}
    for f in sorted(shares, key=lambda f: (quota[f] - shares[f], f))[: n - sum(quota.values())]:
        quota[f] += 1
    cases: list[Case] = []
    seen: set[str] = set()
    for family, templates in sorted(by_family.items()):
        made = 0
        for j in range(60 * quota[family] + 60):
            if made == quota[family]:
                break
            t = templates[j % len(templates)]
            r = random.Random(f"{seed}/{t.id}/{j}")
            for _attempt in range(50):
                try:
                    text, parse = t.make(r, world)
                except Retry:
                    continue
                text = re.sub(r" +([,;.!])", r"\1", re.sub(r"\s+", " ", text)).strip()
                if text.casefold() not in seen:
                    seen.add(text.casefold())
                    cases.append(Case(text, parse, t.id, t.family, t.language))
                    made += 1
                    break
        if made < quota[family]:
            raise RuntimeError(f"only {made} distinct {family!r} requests of {quota[family]} (seed {seed})")
    random.Random(f"{seed}/order").shuffle(cases)
    return cases


def validate(case: Case, catalog: Catalog) -> None:
    """Raise ValueError unless ``case`` is well-formed: text, a known template, family and language, and a
    parse that passes :func:`validate_parse`."""
    if not case.text.strip():
        raise ValueError("empty request text")
    if case.language not in LANGUAGES or case.family not in FAMILIES:
        raise ValueError(f"unknown language {case.language!r} or family {case.family!r}")
    template = TEMPLATES.get(case.template)
    if template is None or (template.family, template.language) != (case.family, case.language):
        raise ValueError(f"template {case.template!r} is unknown or of another family or language")
    validate_parse(case.parse, catalog)


def validate_parse(parse: dict[str, Any], catalog: Catalog) -> None:
    """Raise ValueError (or ConfigError) unless ``parse`` is its own normal form (every field, lists sorted,
    through :meth:`Query.from_parse`), names only the catalog's genres and items, and asks for 1..20 items."""
    fields = set(Query().to_parse())
    if set(parse) != fields:
        raise ValueError(f"parse fields {sorted(parse)} are not {sorted(fields)}")
    query = Query.from_parse(parse)
    if query.to_parse() != parse:
        raise ValueError(f"parse is not in normal form: {parse} vs {query.to_parse()}")
    query.constraints.check_genres(catalog_genres(catalog))
    unknown = [i for i in (*query.constraints.exclude_items, *query.seeds) if i not in catalog]
    if unknown:
        raise ValueError(f"item {unknown[0]} is not in the catalog")
    if query.k is not None and not 1 <= query.k <= 20:
        raise ValueError(f"k={query.k} is outside 1..20")
