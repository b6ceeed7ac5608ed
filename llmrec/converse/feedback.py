"""Feedback on the list just shown: "not that one", "the second one", "more like 3", "something older",
"start over" (and their Spanish, French and German forms).

:func:`read_feedback` finds the references in a turn's text and returns the actions with the text that is
left for the request parser ("no more comedies" is a request: the parser reads it).  A reference is by
position in the last shown list (1-based: "the second", "#2", "number 2", "2", "la segunda", "den
zweiten"), by a shown title, or "that one" / "it" / "esa" / "celui-là" / "den" for the item in focus (the
last one referred to, else the first shown).  Every kind of reference takes every action: a negation before
it ("not", "skip", "no quiero", "pas", "ohne") or after it ("la quinta no", "den zweiten nicht") rejects it,
a "like" cue before it ("more like", "como", "plutôt comme", "eher wie") asks for more like it, and a turn
that is only a reference, with a verb of choosing or a "please" at most ("I'll take the third", "je prends
le 2", "den ersten, bitte", "pick 3", "den fünften nehme ich"), accepts it.  A negation or "like" cue
carries over a list of references ("not 3 or 5", "ni la segunda ni la quinta", "más como Alien y Blade
Runner") and a range ("not 2-4", "du 2 au 4"); "the first three" / "las dos últimas" name several.  Having
seen it already ("ya vi la 2", "déjà vu le premier", "den ersten kenn ich schon") or judging it badly ("7 is
too dark", "no me convence la 3") rejects it.  A shown title is a reference wherever it is written in full
or by its part before a colon ("terminator 2"), a one-word title when it is no request word; a position
counts from the end too ("second to last", "la penúltima", "l'avant-dernier", "der vorletzte").  A
reference to a position that was not shown is unresolved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from llmrec.converse.parse import fold_text
from llmrec.converse.titles import _COMMON, TitleMatcher, is_genre
from llmrec.explain._text import paren_end, split_title_aliases, tokenize
from llmrec.explain.claims import normalize_title

__all__ = ["Feedback", "read_feedback"]

_F = re.IGNORECASE


def _ordinals() -> dict[str, int]:
    """Folded ordinal words -> position (-1: the last), with their inflections."""
    out: dict[str, int] = {"last": -1, "ultimo": -1, "ultima": -1, "dernier": -1, "derniere": -1}
    en = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
          "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth",
          "eighteenth", "nineteenth", "twentieth"]
    es = ["primer", "segund", "tercer", "cuart", "quint", "sext", "septim", "octav", "noven", "decim"]
    fr = ["premier", "deuxieme", "troisieme", "quatrieme", "cinquieme", "sixieme", "septieme", "huitieme",
          "neuvieme", "dixieme"]
    de = ["erst", "zweit", "dritt", "viert", "funft", "sechst", "siebt", "acht", "neunt", "zehnt"]
    for n, word in enumerate(en, 1):
        out[word] = n
    for n, stem in enumerate(es, 1):
        out.update({stem + "o": n, stem + "a": n})
    for n, word in enumerate(fr, 1):
        out[word] = n
    out.update({"premiere": 1, "second": 2, "seconde": 2})
    for n, stem in enumerate(de, 1):
        out.update({stem + end: n for end in ("e", "en", "er", "em", "es")})
    out.update({"letzte": -1, "letzten": -1, "letzter": -1, "letztem": -1, "letztes": -1})
    # counted from the end: "second to last", "la penúltima", "l'avant-dernier", "der vorletzte"
    for n, word in ((2, "second"), (3, "third")):
        out.update({f"{word} {way} last": -n for way in ("to", "from", "from the")})
    out.update({"next to last": -2, "last but one": -2, "penultimate": -2, "antepenultimate": -3,
                "avant dernier": -2, "avant derniere": -2})
    for stem, n in (("penultim", -2), ("antepenultim", -3)):
        out.update({stem + "o": n, stem + "a": n})
    for stem, n in (("vorletzt", -2), ("drittletzt", -3)):
        out.update({stem + end: n for end in ("e", "en", "er", "em", "es")})
    return out


_ORDINALS = _ordinals()
_ORD = (r"(?:" + "|".join(re.escape(w).replace(r"\ ", r"[\s-]+")
                          for w in sorted(_ORDINALS, key=len, reverse=True))
        + r"|\d{1,2}(?:st|nd|rd|th|eme|ere|er|re|e|a|o|ª)(?!\w))")
_ARTICLE = r"(?:(?:the|el|la|lo|le|les|der|die|das|den|dem|des)\s+|l')"
_NOUN = r"(?:(?:movie|film|pelicula|peli)\s+)"
_NUMBER = (r"(?:#\s*|(?:number|no\.?|nr\.?|n°|numero|nummer|num\.?|option|opcion|choix|choice)\s*)?"
           r"(?P<num>\d{1,2})\b(?!\s*(?:hours?|hrs?|h|minutes?|mins?|stars?|years?|horas?|minutos?|estrellas|anos"
           r"|heures?|etoiles|ans|stunden?|minuten|sterne|jahre?)\b)")  # "no 2 hours long" is a request
#: "That one" and its kind: the item in focus.  German der/die/das/den stand alone only at a clause end or
#: with a pointing "da" ("der da", "nicht das da").
_THAT = (r"(?P<that>(?:that|this)(?:\s+(?:one|movie|film))?|it(?!'\w)|es[ae]|est[ae]|eso|esto"
         r"|cel(?:ui|le)-(?:ci|la)|ce\s+film(?:-la)?|(?:den|der|die|das|dem|diese[nmrs]?)\s+da(?:\s+(?:oben|unten))?"
         r"|diese[nmrs]?|(?:den|der|die|das)(?=\s*(?:$|[,.;!?]|nicht\b|bitte\b)))")
#: Counts for "the first three", "las dos últimas", "les trois premiers", "die letzten zwei".
_COUNTS = {w: n for words in ("two three four five six seven eight nine ten",
                              "dos tres cuatro cinco seis siete ocho nueve diez",
                              "deux trois quatre cinq six sept huit neuf dix",
                              "zwei drei vier funf sechs sieben acht neun zehn")
           for n, w in enumerate(words.split(), 2)}
_COUNT = r"(?:" + "|".join(_COUNTS) + r"|\d)"
_FIRST = r"(?:first|primer[oa]s|premier(?:e)?s|ersten)"
_LAST = r"(?:last|ultim[oa]s|dernier(?:e)?s|letzten)"
#: Several positions at once: "the first three", "los tres primeros", "les deux derniers", "die ersten drei".
_GROUP = (rf"(?P<grp>(?:the\s+)?(?:{_FIRST}|{_LAST})\s+{_COUNT}(?:\s+(?:ones|movies|films))?"
          rf"|(?:los|las|les)\s+{_COUNT}\s+(?:{_FIRST}|{_LAST})|(?:los|las)\s+(?:{_FIRST}|{_LAST})\s+{_COUNT}"
          rf"|(?:die|den)\s+(?:{_FIRST}|{_LAST})\s+{_COUNT})")
#: A shown title, replaced in the text read by one private-use character a letter (its position in the list).
_TITLE = r"(?P<tit>[\ue000-\ue0ff]+)"
_REF = (rf"(?:{_GROUP}|(?:{_ARTICLE}|an?\s+)?{_TITLE}"
        rf"|{_ARTICLE}?{_NOUN}?(?P<ord>{_ORD})(?:\s+(?:ones?|movies?|films?|pick|option|uno|una|peli\w*))?"
        rf"|{_ARTICLE}?{_NOUN}?{_NUMBER}|{_THAT})")
_REF_PLAIN = re.sub(r"\(\?P<\w+>", "(?:", _REF)  # the same without its groups, to repeat in a list
_ONE_REF = re.compile(rf"(?<!\w){_REF}(?!\w)", _F)
#: Having seen it already: "I've already seen", "ya vi", "déjà vu", "kenn ich schon" (before a reference).
_SEEN = (r"(?:(?<!n't\s)(?<!not\s)(?<!never\s)(?:(?:i'?ve|i\s+have|i)\s+)?(?:already\s+)?(?:seen|watched|saw)"
         r"|ya\s+(?:(?:la|lo|las|los)\s+)?(?:vi|vimos|he\s+visto|hemos\s+visto)"
         r"|(?:j'ai\s+|on\s+a\s+)?deja\s+(?:vu|regarde)"
         r"|(?:kenn(?:e)?\s+ich|hab(?:e)?\s+ich)\s+schon(?:\s+gesehen)?|schon\s+gesehen)")
#: Negations and verbs of removal before a reference, in the four languages.
_NEG = (rf"(?:not|no|nope|neither|skip|drop|remove|hate|don'?t\s+(?:want|like)|(?:say\s+)?no\s+to"
        r"|not\s+(?:into|feeling)"
        r"|ni|sin|nada\s+de|quita(?:r|me)?|descarta|elimina|odio|no\s+quiero|no\s+me\s+(?:gusta|convence|llama|atrae|apetece)n?"
        r"|pas(?:\s+de)?|sans|enleve|retire|vire|supprime|je\s+ne\s+veux\s+pas|je\s+n'aime\s+pas"
        rf"|nicht|kein\w*|ohne|weder|weg\s+mit|entferne?|ich\s+will\s+nicht|ich\s+mag\s+nicht"
        rf"|{_SEEN}(?!\s+it\b))")  # "not Fargo, I've seen it": "it" is what came before
#: "Skip both 3 and 5", "I don't want either": a word between a negation and its (first) reference.
_BOTH = r"(?:(?:both|either|beide[ns]?)\s+)?"
#: A negation after a reference, at the end of its clause ("la quinta no", "den zweiten nicht", "Fargo? no
#: thanks", "Fargo tampoco", "Fargo, non merci", "Fargo lieber nicht"), having seen it ("seen it already",
#: "ya la vi", "déjà vu", "kenn ich schon") or a bad judgement ("is too dark", "no me convence", "ne me dit
#: rien", "gefällt mir nicht"), and what may part them.
_NEG_AFTER = (r"(?:no(?:pe)?|no\s+way|no,?\s+thanks?(?:\s+you)?|definitely\s+not"
              r"|no,?\s+gracias|tampoco|no\s+me\s+gusta|non(?:,?\s+merci)?|(?:tres\s+)?peu\s+pour\s+moi"
              r"|pas\s+question|non\s+plus|nicht|nein(?:,?\s+danke)?|(?:lieber|bitte|auch)\s+nicht"
              r"|(?:will|mag)\s+ich\s+nicht|auf\s+keinen\s+fall"
              r"|(?:(?:i'?ve|i\s+have|i)\s+)?(?:already\s+)?(?:seen|watched|saw)(?:\s+(?:it|that(?:\s+one)?))?(?:\s+already)?"
              r"|ya\s+(?:(?:la|lo)\s+)?(?:vi|he\s+visto|vimos|vista|visto)|(?:la|lo)\s+(?:he\s+)?visto\s+ya"
              r"|(?:(?:je\s+)?l'ai\s+|j'ai\s+)?deja\s+vue?|kenn(?:e)?\s+ich\s+(?:schon|bereits)"
              r"|(?:hab(?:e)?\s+ich\s+)?(?:schon|bereits)\s+gesehen"
              r"|(?:is|'s|looks|seems|sounds|feels|es|parece|est|a\s+l'air|semble|ist|wirkt|klingt|sieht)\s+"
              r"(?:(?:way|a\s+bit|kinda|kind\s+of|really|so|muy|un\s+poco|bastante|vraiment|un\s+peu|mir|viel|echt|etwas)\s+)*"
              r"(?:too|demasiado|trop|zu)\s+\w+(?:\s+aus)?"
              r"|(?:is|looks|seems|sounds)\s+(?:boring|bad|awful|terrible|lame|dull|meh)"
              r"|(?:is\s+not|isn'?t|'s\s+not)\s+(?:for\s+me|my\s+(?:thing|style|cup\s+of\s+tea))|not\s+for\s+me"
              r"|doesn'?t\s+(?:appeal(?:\s+to\s+me)?|interest\s+me|do\s+it\s+for\s+me)"
              r"|no\s+me\s+(?:convence|llama(?:\s+la\s+atencion)?|atrae|apetece|dice\s+nada)n?"
              r"|(?:ne\s+)?me\s+(?:dit|tente)\s+(?:rien|pas)|ne\s+me\s+plait\s+pas|(?:c'est\s+)?pas\s+pour\s+moi"
              r"|gefallt\s+mir\s+nicht|spricht\s+mich\s+nicht\s+an|(?:ist\s+)?nichts\s+fur\s+mich"
              r")(?=\s*(?:$|[,.;!?]))")
_AFTER_SEP = r"(?:\s*[,:?!.]+\s*|\s*[-\u2013\u2014]\s*|\s+)"
_LIKE = (r"(?:more\s+like|similar\s+to|(?<!\bi\s)(?<!\bi'd\s)(?<!would\s)like|along\s+the\s+lines\s+of"
         r"|in\s+the\s+(?:vein|style)\s+of|mas\s+como|como|tipo|estilo|(?:del|al)\s+estilo\s+de"
         r"|parecid[ao]s?\s+a|similar(?:es)?\s+a|plus\s+comme|plutot\s+comme|comme"
         r"|(?:dans|du)\s+(?:le\s+)?(?:genre|style)\s+d(?:e|u)|genre"
         r"|mehr\s+wie|ahnlich(?:e)?\s+wie|eher\s+wie|so\s*(?:was|etwas)\s+wie|sowas\s+wie|wie"
         r"|im\s+stil\s+von|in\s+der\s+art\s+von)")
#: "quita de la 2 a la 4", "pas du 2 au 4": a range's "from" (the range itself: :data:`_RANGE`).
_FROM = r"(?:(?:from|de|del|du|von)\s+)?"
_REJECT = re.compile(rf"\b{_NEG}\s*,?\s*{_BOTH}{_FROM}{_REF}(?!\w)", _F)
_REJECT_AFTER = re.compile(rf"(?<!\w){_REF}{_AFTER_SEP}{_NEG_AFTER}", _F)
#: One more reference in a list a rejection or a "more like" began: "not 3 or 5", "ni la segunda ni la
#: quinta", "ohne den ersten und den dritten", "como Alien y Blade Runner" (the action of the list's first
#: reference).
_AND = r"(?:and|or|nor|&|y|e|o|u|ni|et|ou|und|oder|noch|sowie)"
_AND_REF = re.compile(rf"\s*,?\s*{_AND}\s+(?:(?:also|aussi|auch|tambien)\s+)?(?:{_NEG}\s+)?{_REF}(?!\w)", _F)
#: The end of a range of positions: "2-4", "2 to 4", "de la 2 a la 4", "du 2 au 4", "2 bis 4".
_RANGE = re.compile(rf"(?:\s*[-\u2013]\s*|\s+(?:to|through|thru|al|a|au|bis)\s+){_REF}(?!\w)", _F)
_MORE_LIKE = re.compile(rf"\b{_LIKE}\s+{_FROM}{_REF}(?!\w)", _F)
#: "More of that": more like the item in focus.
_MORE_OF_IT = re.compile(r"\b(?:more\s+of\s+(?:that|the\s+same)|mehr\s+davon|mehr\s+in\s+der\s+art)\b", _F)
#: A verb of choosing before a reference: "I'll take", "pick", "give me", "dame", "donne-moi", "gib mir", or
#: a suggestion ("what about", "¿qué tal", "et si on prenait", "wie wäre es mit").
_CHOOSE = (r"(?:i'?ll\s+(?:take|watch|have|go\s+(?:with|for)|pick|choose)"
           r"|i'?d\s+(?:take|watch|have|go\s+(?:with|for)|pick"
           r"|choose|like)|i\s+(?:like|love|want|choose|pick|take|prefer)|let'?s\s+(?:go\s+(?:with|for)|watch|do|pick)"
           r"|let\s+me\s+have|give\s+me|gimme|pick|choose|take|go\s+(?:with|for)|play|put\s+on|what\s+about|how\s+about"
           r"|me\s+quedo\s+con|me\s+llevo|elijo|escojo|prefiero|quiero(?:\s+ver)?|voy\s+a\s+ver|voy\s+con|dame"
           r"|ponme|pon|elige|escoge|me\s+gusta|(?:y\s+)?que\s+tal"
           r"|je\s+(?:prends|choisis|veux|voudrais|prefere|retiens|garde|regarde)|j'aime|je\s+vais\s+(?:regarder"
           r"|prendre)|va\s+pour|donne[\s-]+moi|mets|prends|choisis|on\s+(?:prend|regarde)|et\s+pourquoi\s+pas"
           r"|ich\s+(?:nehme|nehm|schaue|schau|wahle|will|mochte|hatte\s+gerne?|gucke)(?:\s+mir)?|gib\s+mir"
           r"|nimm|wir\s+nehmen|wie\s+war(?:e|'s)\s+(?:es\s+)?mit|was\s+ist\s+mit)")
#: What may follow an accepted reference: "please", "it is", "for me", and an object-first verb ("la quinta me
#: la quedo", "le 2, je le prends", "den fünften nehme ich", "looks fun, I'll pick it", "está bien, elijo
#: esa").
_ACCEPT_AFTER = (r"(?:please|pls|sounds\s+good|looks\s+good|is\s+(?:good|great|fine)|it\s+is|for\s+me"
                 r"|(?:looks|sounds|seems)\s+(?:\w+\s+)?(?:good|great|fun|nice|interesting|cool|perfect|fine|promising"
                 r"|awesome|amazing)|perfect|perfecto|parfait|perfekt"
                 rf"|{_CHOOSE}\s+(?:it|that(?:\s+one)?|this(?:\s+one)?|esa|ese|esta|este|celui-(?:la|ci)|den|die|das|ihn)"
                 r"|i'?ll\s+take\s+it|por\s+favor|suena\s+bien|esta\s+bien|para\s+mi|(?:esa\s+)?(?:me\s+la|la)\s+(?:quedo|llevo"
                 r"|quiero(?:\s+ver)?|elijo|veo)|esa\s+(?:quiero|me\s+gusta)|me\s+gusta"
                 r"|s'il\s+(?:te|vous)\s+plait|svp|me\s+va|ca\s+me\s+va|me\s+plait|a\s+l'air\s+bien|pour\s+moi"
                 r"|je\s+l[ea]\s+(?:prends|choisis|veux(?:\s+bien)?|garde|regarde)"
                 r"|bitte|klingt\s+gut|ist\s+gut|(?:nehme|nehm|schaue|schau|will|wahle|mochte|nehmen|schauen"
                 r"|wahlen|gucke|gucken)\s+(?:ich|wir)(?:\s+(?:mir|uns))?(?:\s+(?:an|gerne?))?)")
_ACCEPT = re.compile(rf"^\s*¿?\s*(?P<verb>(?:{_CHOOSE}"
                     rf"|(?:yes|yeah|ok(?:ay)?|sure|si|vale|oui|d'accord|ja)\s*,?)"
                     rf"\s+)?(?P<refs>{_REF_PLAIN}(?:\s*,?\s*{_AND}\s+{_REF_PLAIN})*)"
                     rf"(?P<after>(?:\s*[,.!]?\s*{_ACCEPT_AFTER})*)\s*[.!?]*\s*$", _F)
#: "older than 1990", "1990 or later": years, for the request parser ("newer than these" is feedback)
#: "older than these" (the shown list): feedback; "older than 1990", "1990 or later": years, for the request
#: parser
_THESE = (r"(?:than|als|que|qu')\s+(?:these|those|th(?:is|at)(?:\s+ones?)?|them|the\s+ones"
          r"|estas|estos|esas|esos|eso|esto|ceux(?:-ci|-la)?"
          r"|celles(?:-ci|-la)?|ca|cela|diese|die\s+hier|die\s+da|das)\b")
_NOT_YEAR = rf"(?:\s+{_THESE})?(?!\s+(?:than|als|que|qu'|to|a)\b)"
_OLDER = re.compile(rf"(?<!\bor\s)(?<!\band\s)\b(?:something\s+)?(?:older|earlier|more\s+classic"
                    rf"|mas\s+(?:antigu|viej|clasic)[ao]s?|plus\s+(?:ancien|vieux|vieil|classique)\w*|alter(?:e[nrs]?)?"
                    rf"|klassischere?[nrs]?)\b{_NOT_YEAR}", _F)
_NEWER = re.compile(rf"(?<!\bor\s)(?<!\band\s)\b(?:something\s+)?(?:newer|more\s+recent|later"
                    rf"|mas\s+(?:recientes?|nuev[ao]s?|modern[ao]s?)|plus\s+(?:recent|nouveau|nouvelle|modern)\w*"
                    rf"|neuer(?:e[nrs]?)?|moderner(?:e[nrs]?)?|aktueller(?:e[nrs]?)?)\b{_NOT_YEAR}", _F)
#: Starting over: "start over", "begin again", "from scratch", "back to square one", "volver a empezar",
#: "borrón y cuenta nueva", "reprendre à zéro", "on efface tout", "alles zurücksetzen", "von Anfang an".
_RESET = re.compile(
    r"\b(?:(?:start|begin)\s+(?:all\s+)?(?:over|again|anew|afresh|fresh|from\s+(?:scratch|the\s+(?:beginning|top)))"
    r"|restart|reset(?:\s+(?:everything|it\s+all|all))?|from\s+scratch|back\s+to\s+square\s+one"
    r"|(?:wipe|clean)\s+the\s+slate(?:\s+clean)?|clean\s+slate|clear\s+(?:everything|it\s+all|all\s+that)"
    r"|scrap\s+(?:that|everything|it\s+all)|new\s+search|forget\s+(?:it|that|everything|all\s+that)"
    r"|(?:empe[cz]|comen[cz])\w*\s+(?:de\s+(?:nuevo|cero)|otra\s+vez|desde\s+(?:cero|el\s+principio))"
    r"|(?:volv|vuelv)\w*\s+a\s+(?:empezar|comenzar)|(?:desde|de)\s+cero|desde\s+el\s+principio"
    r"|olvida(?:lo)?\s+todo|borra(?:r|lo)?\s+todo|borron\s+y\s+cuenta\s+nueva|reinici\w*|nueva\s+busqueda"
    r"|recommenc\w*|(?:reprend|repart|recommenc|reparton|reprenon)\w*\s+(?:a|de|depuis)\s+(?:zero|le\s+debut)"
    r"|(?:a|de)\s+zero|depuis\s+le\s+debut|(?:oublie|efface)[rz]?\s+tout|(?:remet|remettre|remettons)\w*"
    r"\s+(?:tout\s+)?a\s+zero|reinitialis\w*|nouvelle\s+recherche"
    r"|(?:nochmal\s+|noch\s+mal\s+)?von\s+vorne?(?:\s+anfangen)?|von\s+anfang\s+an|(?:alles\s+)?auf\s+anfang"
    r"|(?:neu|nochmal|noch\s+mal)\s+anfangen|fang\w*\s+(?:neu|nochmal|noch\s+mal|von\s+vorne?)\s+an"
    r"|(?:nochmal|noch\s+mal)\s+(?:ganz\s+)?neu|neustart|(?:alles\s+)?zurucksetzen|alles\s+zuruck"
    r"|vergiss\s+alles|neue\s+suche)\b", _F)


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


def _refs(m: re.Match, shown: list[int]) -> list[tuple[str, int]]:
    """The references a match names: ("position", n) (1-based, negative from the end), ("item", id) for a
    shown title, ("that", 0) for the item in focus; "the first three" names three positions."""
    g = m.groupdict()
    if g.get("grp"):
        words = fold_text(g["grp"]).split()
        count = next(_COUNTS.get(w) or int(w) for w in words if w in _COUNTS or w.isdigit())
        last = any(re.fullmatch(_LAST, w) for w in words)
        return [("position", -k if last else k) for k in range(1, count + 1)]
    if g.get("tit"):
        return [("item", shown[ord(g["tit"][0]) - 0xE000])]
    if g.get("ord"):
        word = re.sub(r"[\s-]+", " ", fold_text(g["ord"]))
        return [("position", _ORDINALS.get(word) or int(re.sub(r"\D", "", word) or 0))]
    if g.get("num"):
        return [("position", int(g["num"]))]
    return [("that", 0)]


def _title_keys(titles: TitleMatcher, item: int) -> dict[tuple[str, ...], int]:
    """The word sequences a shown title is written as -> 0 for the title, 1 for its part before a colon
    ("terminator 2"), each also without its article; a one-word one only when it is no common request word
    or genre ("no horror")."""
    keys: dict[tuple[str, ...], int] = {}
    for alias in split_title_aliases(titles.catalog.title(item)):
        for rank, part in enumerate((alias, alias.split(":")[0])):
            words = tuple(normalize_title(part).split())
            for key in (words, words[1:] if len(words) > 1 and words[0] in ("the", "a", "an") else ()):
                word = key[0] if key else ""
                if len(key) > 1 or len(word) >= 3 and word not in _COMMON and not is_genre(word):
                    keys[key] = min(rank, keys.get(key, rank))
    return keys


def _shown_titles(text: str, shown: list[int], titles: TitleMatcher) -> list[tuple[int, int, int | None]]:
    """(start, end, item) of the titles in ``text``, longest first at each place; ``item`` is the shown item
    the title names, None for a title not shown (it names no one, and no position in it is read)."""
    toks = tokenize(text)
    norms = [t.norm for t in toks]
    spans: list[tuple[int, int, int, int | None]] = []  # start, end, rank (a full title first), item
    for item in shown:
        for key, rank in _title_keys(titles, item).items():
            for i in range(len(toks) - len(key) + 1):
                if tuple(norms[i:i + len(key)]) == key:
                    end = toks[i + len(key) - 1].end  # with a "(1989)" after, past "..." ("Sally... (1989)")
                    dots = re.match(r"[.!?]*(?=\s*\(\d{4}\))", text[end:])
                    end = paren_end(text, end + (dots.end() if dots else 0))
                    spans.append((toks[i].start, end, rank, item))
    for t in titles.find(text):  # without a leading article ("parecido a That Thing You Do!")
        start = t.start + len(re.match(r"(?:(?:the|an?)\s+(?=\w))?", text[t.start:t.end], _F).group())
        spans.append((start, t.end, 0, next((i for i in t.items if i in shown), None)))
    out: list[tuple[int, int, int | None]] = []
    for start, end, _rank, item in sorted(spans, key=lambda s: (s[0], s[0] - s[1], s[2], s[3] is None)):
        if not out or start >= out[-1][1]:
            out.append((start, end, item))
    return out


def read_feedback(text: str, shown: list[int], focus: int | None = None,
                  titles: TitleMatcher | None = None) -> Feedback:
    """The feedback in ``text`` about ``shown`` (the last list, best first)."""
    fb = Feedback(focus=focus)
    folded = "".join("°" if c == "º" else f for c, f in zip(text, fold_text(text)))  # "nº 3" is not "no 3"
    taken = [False] * len(text)  # read here: not left for the request parser
    guarded = [False] * len(text)  # titles not shown: never read as a position ("The Fifth Element")
    #: (start, end, action, reference, words): the reference is ("item", id), ("position", n) or ("that", 0)
    found: list[tuple[int, int, str, tuple[str, int], str]] = []

    def free(start: int, end: int) -> bool:
        return not any(taken[start:end]) and not any(guarded[start:end]) and not any(
            s < end and start < e for s, e, *_ in found)

    def take(start: int, end: int) -> None:
        taken[start:end] = [True] * (end - start)

    def add(m: re.Match, action: str) -> list[tuple[str, int]]:
        refs = _refs(m, shown)
        found.extend((m.start(), m.end(), action, ref, m.group()) for ref in refs)
        return refs

    for m in _RESET.finditer(folded):
        fb.reset = True
        take(m.start(), m.end())
    if shown:
        for start, end, item in _shown_titles(text, shown, titles) if titles is not None else ():
            if item is None:  # "more like That Thing You Do!" names no one
                guarded[start:end] = [True] * (end - start)
            else:  # a shown title reads as one placeholder reference of its length
                folded = folded[:start] + chr(0xE000 + shown.index(item)) * (end - start) + folded[end:]
        for pattern, action in ((_REJECT, "reject"), (_REJECT_AFTER, "reject"), (_MORE_LIKE, "more_like"),
                                (_MORE_OF_IT, "more_like")):
            for m in pattern.finditer(folded):
                if free(m.start(), m.end()):
                    refs = add(m, action)
                    end = m.end()
                    while refs[-1][0] != "that":  # "not 3 or 5", "not 2-4", "como Alien y Aliens"; never "it"
                        more = _RANGE.match(folded, end)
                        if more and free(*more.span()):
                            upto = _refs(more, shown)
                            if refs[-1][0] == upto[0][0] == "position" and 0 < refs[-1][1] < upto[0][1] <= 20:
                                found.extend((more.start(), more.end(), action, ("position", n), more.group())
                                             for n in range(refs[-1][1] + 1, upto[0][1] + 1))
                                refs, end = upto, more.end()
                                continue
                        more = _AND_REF.match(folded, end)
                        if not (more and free(*more.span())):
                            break
                        refs, end = _refs(more, shown), more.end()
                        if refs[-1][0] == "that":
                            break
                        add(more, action)
        m = _ACCEPT.match(folded)
        if m and not found and free(m.start(), m.end()):
            refs = list(_ONE_REF.finditer(folded, m.start("refs"), m.end("refs")))
            if all(r["ord"] or r["num"] or (r["that"] and (m["verb"] or " " in r["that"]))
                   or ((r["tit"] or r["grp"]) and (m["verb"] or m["after"].strip(" ,.!"))) for r in refs):
                for r in refs:
                    found.extend((m.start(), m.end(), "accept", ref, r.group()) for ref in _refs(r, shown))
    for start, end, action, (kind, ref), words in sorted(found):  # in the order said: "that one" is the last
        if kind == "item":
            item: int | None = ref
        elif kind == "that":
            item = fb.focus if fb.focus in shown else shown[0]
        else:
            n = len(shown)
            item = shown[ref] if -n <= ref < 0 else shown[ref - 1] if 1 <= ref <= n else None
        if item is None:
            if words.strip() not in fb.unresolved:
                fb.unresolved.append(words.strip())
        elif item not in getattr(fb, action):
            getattr(fb, action).append(item)
            fb.focus = item
        take(start, end)
    for pattern, attr in ((_OLDER, "older"), (_NEWER, "newer")):
        m = pattern.search(folded)
        if m and not any(taken[m.start():m.end()]):
            setattr(fb, attr, True)
            take(m.start(), m.end())
    fb.rest = re.sub(r"\s+", " ", "".join(" " if k else c for c, k in zip(text, taken))).strip(" ,.;:!?")
    return fb
