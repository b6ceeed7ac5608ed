"""The feedback benchmark's templates, one a line (the format is read by :mod:`eval.feedback_data`)."""

__all__ = ["SPECS", "TRAIN_ONLY_SPECS"]

#: One template a line: id (language.family.name), what it says (R reject, A accept, M more like: one per
#: reference, in the order of the slots; @X: "that one" gets X; older, newer, reset; beyond: the references
#: name positions that were not shown), its phrasings, "|"-separated (an indented line continues them).
SPECS = """
en.ordinal.bare            A         the {o} one|the {o}|{o} one|the {o} movie
en.ordinal.polite          A         the {o} one, please|the {o} one looks good|{o} one sounds good
en.number.bare             A         {n}|{n} please|{n}!
en.number.pick             A         option {d}|pick {d}|number {d} please|{n} looks good
en.reject_position.not     R         not the {o} one|not {n}|not the {o}|nope, not {n}
en.reject_position.verb    R         skip the {o} one|drop {n}|remove the {o} one|I don't want the {o} one
                                     |I don't like {n}
en.reject_title.not        R         not {t}|no {t}, please|not {t}!
en.reject_title.verb       R         skip {t}|I don't want {t}|I hate {t}|drop {t}
en.focus.reject            @R        not that one|not this one|I don't like that one|nope, not that one
en.focus.more              @M        more like that one|more like it|something similar to that one
                                     |more like this one
en.focus.accept            @A        I'll take that one|I'll watch it|that one please|I'll take it
en.more_like.pos           M         more like the {o} one|more like {n}|similar to the {o} one
en.more_like.some          M         something like the {o} one|more like {n}, please
                                     |anything similar to the {o} one?
en.accept.take             A         I'll take the {o}|I'll take {n}|I'll watch the {o} one
                                     |let's go with the {o} one
en.accept.choose           A         I choose the {o} one|I pick {n}|ok, the {o} one|yes, {n} please
en.older_newer.older       older     something older|older please|anything older?|show me older movies
                                     |something more classic
en.older_newer.newer       newer     something newer|more recent, please|anything newer?
                                     |something more recent|show me newer movies
en.reset.start             reset     start over|let's start over|start again|reset
en.reset.forget            reset     forget it, start over|new search|forget everything|let's begin again
en.combined.reject_older   R+older   not the {o} one, something older|skip {n} and show me something older
                                     |not the {o} one; older please
en.combined.title_newer    R+newer   not {t}, something newer|no {t}, and something more recent
en.combined.reject_more    R+M       not the {o} one, more like the {o2} one|skip {n}, more like {n2}
en.combined.two_rejects    R+R       not the {o} one and not the {o2} one|not {n} or {n2}
                                     |skip the {o} and the {o2} one
en.combined.reset_reject   R+reset   start over, but not the {o} one|start over and skip {t}
en.unresolved.number       R+beyond  not {n}|more like {n}|{n}
en.unresolved.ordinal      R+beyond  the {o} one|not the {o} one|more like the {o}
es.ordinal.la              A         la {o}|la {o} película|la {o}, por favor
es.ordinal.el              A         el {om}|el {om}, por favor|la {o} suena bien
es.number.la               A         la {n}|{n}|la {n}, por favor
es.number.opcion           A         el {n}|opción {d}|{n} por favor
es.reject_position.no      R         no la {o}|la {o} no|ni la {o}|no la {n}
es.reject_position.verb    R         no quiero la {o}|quita la {o}|no me gusta la {n}|descarta la {o}
es.reject_title.no         R         no {t}|{t} no|nada de {t}
es.reject_title.verb       R         no quiero {t}|quita {t}|sin {t}
es.focus.reject            @R        esa no|no esa|no me gusta esa|esa no, gracias
es.focus.more              @M        más como esa|algo parecido a esa|más como esa, por favor
es.more_like.mas           M         más como la {o}|más como la {n}|algo como la {o}
es.more_like.parecido      M         algo parecido a la {o}|más películas como la {n}|similares a la {o}
es.accept.quedo            A         me quedo con la {o}|me quedo con la {n}|elijo la {o}
es.accept.ver              A         quiero ver la {o}|voy a ver la {n}|sí, la {o}
es.older_newer.older       older     algo más antiguo|más antiguas, por favor|películas más viejas
                                     |algo más clásico
es.older_newer.newer       newer     algo más reciente|más recientes, por favor|algo más nuevo
                                     |películas más modernas
es.reset.empezar           reset     empezar de nuevo|empecemos de nuevo|vuelve a empezar
es.reset.cero              reset     empezar de cero|olvídalo todo|desde cero otra vez
es.combined.reject_older   R+older   no la {o}, algo más antiguo|quita la {n} y algo más antiguo
es.combined.reject_more    R+M       no la {o}, más como la {o2}|ni la {n}, algo como la {o2}
es.combined.title_newer    R+newer   no {t}, algo más reciente|sin {t}, y algo más nuevo
es.unresolved.la           R+beyond  la {n}|no la {n}|más como la {n}
es.unresolved.verb         R+beyond  me quedo con la {n}|quita la {n}
fr.ordinal.le              A         le {o}|le {o} film|le {o}, s'il te plaît
fr.ordinal.air             A         la {of}|le {o} me va|le {o} a l'air bien
fr.number.le               A         le {n}|{n}|le {n}, s'il vous plaît
fr.number.choix            A         le film {n}|choix {d}|option {d}
fr.reject_position.pas     R         pas le {o}|pas le {n}|non, pas le {o}
fr.reject_position.verb    R         je ne veux pas le {o}|enlève le {o}|retire le {n}
fr.reject_title.pas        R         pas {t}|non, pas {t}|pas de {t}
fr.reject_title.verb       R         je ne veux pas {t}|enlève {t}|sans {t}
fr.focus.reject            @R        pas celui-là|pas celui-ci|non, pas celui-là|je n'aime pas celui-là
fr.focus.more              @M        plus comme celui-là|quelque chose comme celui-ci
                                     |d'autres comme celui-là
fr.more_like.plus          M         plus comme le {o}|plus comme le {n}|d'autres comme le {o}
fr.more_like.genre         M         quelque chose comme le {o}|des films comme le {n}|dans le genre du {o}
fr.accept.prends           A         je prends le {o}|je prends le {n}|je choisis le {o}
fr.accept.va               A         je vais regarder le {o}|va pour le {o}|oui, le {n}
fr.older_newer.older       older     quelque chose de plus ancien|plus ancien, s'il te plaît
                                     |des films plus anciens|plus vieux
fr.older_newer.newer       newer     quelque chose de plus récent|plus récent, s'il te plaît
                                     |des films plus récents|plus moderne
fr.reset.recommencer       reset     recommencer|on recommence|recommençons
fr.reset.zero              reset     on reprend à zéro|repartons de zéro|oublie tout
fr.combined.reject_older   R+older   pas le {o}, quelque chose de plus ancien|pas le {n}, plus ancien
fr.combined.reject_more    R+M       pas le {o}, plus comme le {o2}|pas le {n}, plutôt comme le {n2}
fr.combined.title_newer    R+newer   pas {t}, quelque chose de plus récent|sans {t}, et plus récent
fr.unresolved.le           R+beyond  le {n}|pas le {n}|plus comme le {n}
fr.unresolved.verb         R+beyond  je prends le {n}|enlève le {n}
de.ordinal.der             A         der {oe}|der {oe} Film|den {oen}, bitte
de.ordinal.klingt          A         der {oe} klingt gut|den {oen} nehme ich|der {oe} bitte
de.number.nummer           A         {n}|{n}, bitte|die {n}
de.number.film             A         Film {n}|Option {d}|die {n} bitte
de.reject_position.nicht   R         nicht der {oe}|nicht den {oen}|nicht {n}
de.reject_position.ohne    R         ohne den {oen}|den {oen} nicht|den {oen} will ich nicht
                                     |weg mit dem {oen}
de.reject_title.nicht      R         nicht {t}|kein {t}|nicht {t}, bitte
de.reject_title.ohne       R         ohne {t}|{t} nicht|{t} will ich nicht
de.focus.reject            @R        den nicht|nicht den|der nicht|nicht diesen
de.focus.more              @M        mehr wie der|mehr davon|mehr in der Art|so was wie den
de.more_like.wie           M         mehr wie der {oe}|mehr wie {n}|ähnlich wie der {oe}
de.more_like.etwas         M         mehr wie den {oen}|etwas wie der {oe}|Filme wie {n}
de.accept.nehme            A         ich nehme den {oen}|ich nehme {n}|ich nehme die {n}
de.accept.schaue           A         ich schaue den {oen}|den {oen} bitte|ja, {n}
de.older_newer.older       older     etwas Älteres|ältere Filme, bitte|was Älteres|älter bitte
de.older_newer.newer       newer     etwas Neueres|neuere Filme, bitte|was Neueres|neuer bitte
de.reset.vorne             reset     von vorne|nochmal von vorne|von vorne anfangen
de.reset.neu               reset     neu anfangen|alles zurück|vergiss alles
de.combined.reject_older   R+older   nicht der {oe}, etwas Älteres|nicht {n}, was Älteres
de.combined.reject_more    R+M       nicht der {oe}, mehr wie der {oe2}|nicht {n}, eher wie {n2}
de.combined.title_newer    R+newer   nicht {t}, etwas Neueres|ohne {t}, und was Neueres
de.unresolved.nummer       R+beyond  {n}|nicht {n}|mehr wie {n}
de.unresolved.verb         R+beyond  ich nehme {n}|der {n}
"""

#: Templates added after the split was made, tuned on only: they join the train split and leave the halving
#: of the groups above (and so every test template) as it was.  Kinds: two positions in one rejection, "pick"
#: / "give me" acceptance, an object-first acceptance ("den fünften nehme ich"), more ways to start over, a
#: shown title then a "no"; then "more like" and acceptance by title, two accepted positions, "already seen"
#: and a bad judgement as rejection, rejection with "more like" a title, "newer than these", "what about
#: number 14", "le 11e", German "das da".
TRAIN_ONLY_SPECS = """
en.combined.two_list       R+R       neither {n} nor {n2}|drop {n} and {n2}|remove the {o} and the {o2} ones
                                     |I don't want the {o} or the {o2} one|skip both {n} and {n2}
en.accept.give             A         give me the {o} one|pick the {o}|choose {n}|let me have {n}
                                     |I'll go with the {o} one|gimme {n}|I'd go with {n}
en.accept.it_is            A         the {o} one it is|{n} it is|the {o} one for me|{n} for me, please
en.reset.scratch           reset     let's start from scratch|restart|begin anew|back to square one
                                     |start all over again|reset everything, please|let's start fresh
                                     |wipe the slate clean|clear everything and start again
en.reject_title.after      R         {t}? no|{t}, no thanks|{t} - nope|{t}: no way|{t}? definitely not
es.combined.two_list       R+R       ni la {o} ni la {o2}|quita la {o} y la {o2}|no quiero la {n} ni la {n2}
                                     |descarta la {n} y la {n2}|no la {o} ni la {o2}
es.accept.dame             A         dame la {o}|ponme la {n}|escojo la {o}|prefiero la {n}|me llevo la {o}
                                     |elige la {o}
es.accept.object_first     A         la {o} me la quedo|la {n} la quiero ver|la {o} para mí|la {n}, esa quiero
es.reset.otra_vez          reset     empezar otra vez|empecemos otra vez|comencemos de nuevo|reinicia
                                     |otra vez desde el principio|borrón y cuenta nueva
                                     |vamos a volver a empezar
es.reject_title.after      R         {t}, no gracias|{t}? no|{t} tampoco|{t} no, gracias
fr.combined.two_list       R+R       ni le {o} ni le {o2}|pas le {o} ni le {o2}|enlève le {n} et le {n2}
                                     |je ne veux pas le {o} ni le {o2}|retire le {o} et le {o2}
fr.accept.donne            A         donne-moi le {o}|je veux le {n}|je préfère le {o}|je retiens le {n}
                                     |je garde le {o}|mets le {o}
fr.accept.object_first     A         le {o}, je le prends|le {n}, je le choisis|le {o} pour moi
                                     |le {n}, je le veux bien
fr.reset.debut             reset     reprenons à zéro|repartir à zéro|tout recommencer|on efface tout
                                     |reprendre depuis le début|on repart de zéro|on remet tout à zéro
fr.reject_title.after      R         {t}, non merci|{t} ? non|{t}, non|{t}, très peu pour moi
de.combined.two_list       R+R       weder der {oe} noch der {oe2}|nicht den {oen} und nicht den {oen2}
                                     |ohne den {oen} und den {oen2}|nicht {n} oder {n2}|weg mit {n} und {n2}
de.accept.gib              A         gib mir den {oen}|ich will den {oen}|ich hätte gern {n}|nimm den {oen}
                                     |ich wähle {n}|ich möchte den {oen}
de.accept.verb_second      A         den {oen} schaue ich|den {oen} will ich|{n} nehme ich
                                     |den {oen} nehmen wir|den {oen} wähle ich|die {n} nehme ich
de.reset.anfang            reset     alles zurücksetzen|zurücksetzen|von Anfang an|fang neu an
                                     |lass uns neu anfangen|alles auf Anfang|nochmal ganz neu
de.reject_title.after      R         {t}? nein|{t} lieber nicht|{t}, nein danke|{t} bitte nicht
en.more_like.title         M         more like {t}|something like {t}|anything similar to {t}?
                                     |something more like {t}, please|similar to {t}
en.accept.title            A         I'll take {t}|let's go with {t}|{t} please!|I choose {t}|I'll watch {t}
                                     |what about {t}?
en.accept.two              A+A       I'll take the {o} and the {o2}|give me {n} and {n2}
                                     |the {o} and the {o2}, please
en.reject_position.seen    R         I've already seen the {o} one|already watched {n}
                                     |the {o} one, seen it already
                                     |the {o} is too slow|{n} looks boring|the {o} one isn't for me
en.reject_title.seen       R         I've already seen {t}|{t}, seen it|already watched {t}
en.combined.reject_title_more R+M    not the {o} one, more like {t2}|skip {n}, something like {t2}
                                     |no to {n} and more like {t2}
en.older_newer.than        newer     something newer than these|newer than those, please
en.unresolved.what         R+beyond  what about number {d}?|how about #{d}?|I'll take the {o} one
es.more_like.title         M         algo como {t}|más como {t}|algo parecido a {t}|tipo {t}|dame más como {t}
es.accept.title            A         me quedo con {t}|elijo {t}|quiero ver {t}|{t}, por favor
es.accept.two              A+A       me quedo con la {o} y la {o2}|elijo la {n} y la {n2}
es.reject_position.seen    R         ya vi la {o}|la {o} ya la vi|ya he visto la {n}|no me convence la {o}
                                     |la {o} no me convence
es.reject_title.seen       R         ya vi {t}|ya he visto {t}|{t} ya la vi
es.combined.reject_title_more R+M    no me convence la {o}, algo como {t2}|no la {n}, más como {t2}
fr.more_like.title         M         plus comme {t}|quelque chose comme {t}|des films comme {t}
                                     |dans le genre de {t}
fr.accept.title            A         je choisis {t}|je prends {t}|va pour {t}|{t}, s'il te plaît
fr.accept.two              A+A       je prends le {o} et le {o2}|je choisis le {n} et le {n2}
fr.reject_position.seen    R         déjà vu le {o}|j'ai déjà vu le {n}|le {o}, déjà vu|le {o} ne me dit rien
                                     |le {o} est trop long
fr.reject_title.seen       R         déjà vu {t}|j'ai déjà vu {t}|{t}, déjà vu
fr.combined.reject_title_more R+M    pas le {o}, plutôt comme {t2}|le {n} ne me dit rien, plus comme {t2}
fr.unresolved.e            R+beyond  je prends le {d}e|pas le {d}e|plus comme le {d}e
de.more_like.title         M         mehr wie {t}|ähnlich wie {t}|etwas wie {t}|so was wie {t}
de.accept.title            A         ich nehme {t}|ich schaue {t}|{t} bitte|ich wähle {t}
de.accept.two              A+A       ich nehme den {oen} und den {oen2}|{n} und {n2}, bitte
de.reject_position.seen    R         den {oen} kenn ich schon|den {oen} hab ich schon gesehen
                                     |{n} kenne ich schon
                                     |der {oe} gefällt mir nicht|der {oe} ist mir zu lang
de.reject_title.seen       R         {t} kenn ich schon|{t} hab ich schon gesehen|{t} habe ich schon gesehen
de.combined.reject_title_more R+M    nicht den {oen}, mehr wie {t2}|den {oen} kenn ich schon, eher wie {t2}
de.focus.da                @R        nicht das da|der da nicht|den da nicht
"""
