"""Feedback on the list just shown: "not that one", "the second one", "more like 3", "something older",
"start over" (and their Spanish, French and German forms).

:func:`read_feedback` finds the references in a turn's text and returns the actions with the text that is
left for the request parser ("no more comedies" is a request: the parser reads it).  A reference is by
position in the last shown list (1-based: "the second", "#2", "number 2", "2"), by a shown title, or "that
one" / "it" for the item in focus (the last one referred to, else the first shown).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from llmrec.converse.parse import fold_text
from llmrec.converse.titles import TitleMatcher

__all__ = ["Feedback", "read_feedback"]

_F = re.IGNORECASE
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
             "eighth": 8, "ninth": 9, "tenth": 10, "last": -1, "1st": 1, "2nd": 2, "3rd": 3,
             "primero": 1, "primera": 1, "segundo": 2, "segunda": 2, "tercero": 3, "tercera": 3,
             "cuarto": 4, "quinto": 5, "premier": 1, "premiere": 1, "deuxieme": 2, "second e": 2,
             "troisieme": 3, "quatrieme": 4, "cinquieme": 5, "erste": 1, "ersten": 1, "zweite": 2,
             "zweiten": 2, "dritte": 3, "dritten": 3, "vierte": 4, "funfte": 5, "letzte": -1, "ultimo": -1,
             "dernier": -1}
_ORD = r"(?:" + "|".join(sorted(map(re.escape, _ORDINALS), key=len, reverse=True)) + r"|\d+th)"
_REF = (rf"(?:(?:the|el|la|le|der|die|das)\s+)?(?P<ord>{_ORD})(?:\s+(?:one|movie|film|pick|option|uno|una"
        rf"|peli\w*))?|(?:#|number\s+|no\.?\s*|n[°º]\s*|nummer\s+|numero\s+)?(?P<num>\d{{1,2}})\b"
        rf"|(?P<that>that(?:\s+one)?|this(?:\s+one)?|it|ese|esa|celui-ci|celui-la)")
_REJECT = re.compile(rf"\b(?:not|no|skip|drop|remove|hate|nope|don'?t\s+(?:want|like)|ni|pas|nicht|kein\w*)"
                     rf"\s*,?\s*(?:{_REF})\b", _F)
_MORE_LIKE = re.compile(rf"\b(?:more\s+like|similar\s+to|like|mas\s+como|plus\s+comme|mehr\s+wie"
                        rf"|ahnlich\s+wie)"
                        rf"\s+(?:{_REF})\b", _F)
_ACCEPT = re.compile(rf"^\s*(?:(?:i'?ll\s+(?:take|watch)|i\s+(?:like|love|want|choose|pick)"
                     rf"|let'?s\s+go\s+with"
                     rf"|yes,?|ok(?:ay)?,?|me\s+quedo\s+con|je\s+prends|ich\s+nehme)\s+)?(?:{_REF})"
                     rf"(?:\s+(?:please|sounds\s+good|looks\s+good|is\s+good|is\s+great|por\s+favor|bitte))?"
                     rf"\s*[.!]?\s*$", _F)
_OLDER = re.compile(r"\b(?:something\s+)?(?:older|earlier|more\s+classic|mas\s+antigu[ao]|plus\s+ancien\w*"
                    r"|alter(?:es|en)?|alteres)\b", _F)
_NEWER = re.compile(r"\b(?:something\s+)?(?:newer|more\s+recent|later|mas\s+reciente|plus\s+recent\w*"
                    r"|neuer(?:es|en)?)\b", _F)
_RESET = re.compile(r"\b(?:start\s+(?:over|again)|reset|new\s+search|forget\s+(?:it|that|everything)"
                    r"|empe[cz]ar\s+de\s+nuevo|recommencer|von\s+vorne)\b", _F)


@dataclass
class Feedback:
    """What a turn said about the shown list; ``rest`` is the text left for the request parser."""

    reset: bool = False
    reject: list[int] = field(default_factory=list)
    accept: list[int] = field(default_factory=list)
    more_like: list[int] = field(default_factory=list)
    older: bool = False
    newer: bool = False
    focus: int | None = None
    rest: str = ""
    unresolved: list[str] = field(default_factory=list)  # references to positions that were not shown

    def any(self) -> bool:
        return bool(self.reset or self.reject or self.accept or self.more_like or self.older or self.newer)

    def describe(self, title) -> str | None:
        parts = []
        if self.reset:
            parts.append("started over")
        parts += [f"rejected {title(i)}" for i in self.reject]
        parts += [f"accepted {title(i)}" for i in self.accept]
        parts += [f"more like {title(i)}" for i in self.more_like]
        parts += ["older"] * self.older + ["newer"] * self.newer
        parts += [f"could not resolve {u!r}" for u in self.unresolved]
        return "; ".join(parts) or None


def _resolve(m: re.Match, shown: list[int], focus: int | None) -> int | None:
    if not shown:
        return None
    if m["ord"]:
        word = fold_text(m["ord"])
        n = _ORDINALS.get(word) or int(re.sub(r"\D", "", word) or 0)
    elif m["num"]:
        n = int(m["num"])
    else:
        return focus if focus in shown else shown[0]
    if n == -1:
        return shown[-1]
    return shown[n - 1] if 1 <= n <= len(shown) else None


def read_feedback(text: str, shown: list[int], focus: int | None = None,
                  titles: TitleMatcher | None = None) -> Feedback:
    """The feedback in ``text`` about ``shown`` (the last list, best first)."""
    fb = Feedback(focus=focus)
    folded = fold_text(text)
    mask = [False] * len(text)

    def take(m: re.Match) -> None:
        mask[m.start():m.end()] = [True] * (m.end() - m.start())

    if _RESET.search(folded):
        fb.reset = True
        take(_RESET.search(folded))
    if shown:
        for pattern, into in ((_REJECT, fb.reject), (_MORE_LIKE, fb.more_like)):
            for m in pattern.finditer(folded):
                if any(mask[m.start():m.end()]):
                    continue
                item = _resolve(m, shown, fb.focus)
                if item is None:
                    fb.unresolved.append(m.group())
                else:
                    into.append(item)
                    fb.focus = item
                take(m)
        m = _ACCEPT.match(folded)
        if m and not any(mask[m.start():m.end()]) and (m["ord"] or m["num"]):
            item = _resolve(m, shown, fb.focus)
            if item is None:
                fb.unresolved.append(m.group())
            else:
                fb.accept.append(item)
                fb.focus = item
            take(m)
        if titles is not None:  # "not Fargo" where Fargo was shown: a rejection by title
            for t in titles.find(text):
                if t.item in shown and not any(mask[t.start:t.end]):
                    before = folded[max(0, t.start - 12):t.start]
                    if re.search(r"\b(?:not|no|skip|hate|ni|pas|nicht|kein\w*)\s*$", before):
                        fb.reject.append(t.item)
                        fb.focus = t.item
                        mask[max(0, t.start - 12):t.end] = [True] * (t.end - max(0, t.start - 12))
    for pattern, attr in ((_OLDER, "older"), (_NEWER, "newer")):
        m = pattern.search(folded)
        if m and not any(mask[m.start():m.end()]):
            setattr(fb, attr, True)
            take(m)
    fb.rest = re.sub(r"\s+", " ", "".join(" " if k else c for c, k in zip(text, mask))).strip(" ,.;:!?")
    return fb
