"""Real-time updates of the conversational recommender: interactions and new items recorded in its store and
applied at once, replayed at a restart, synced from replicas sharing one store.

:class:`RealtimeUpdates` is the half of :class:`~llmrec.converse.engine.Conversations` that does this; it
works on the engine's ``catalog``, ``retriever``, ``parser``, ``store``, ``_histories``, ``_popularity`` and
``_lock`` (see :mod:`llmrec.converse.events` for the events themselves).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from llmrec.converse.events import (
    InteractionEvent,
    ItemEvent,
    interaction_event,
    item_event,
    with_interaction,
)
from llmrec.converse.parse import RequestParser
from llmrec.converse.turn import RequestError
from llmrec.errors import ArtifactError
from llmrec.history import History

__all__ = ["RealtimeUpdates"]

log = logging.getLogger(__name__)

#: Event numbers re-read at each sync of a shared store (a number committed this late is still applied).
_SYNC_WINDOW = 1000
#: Tries at a new item's next id when replicas on one store take ids at the same moment.
_ID_TRIES = 5


class RealtimeUpdates:
    """Interactions and new items that take effect on the next request (mixed into ``Conversations``)."""

    _applied: set[int]  # interaction events applied here (their store numbers)
    _last_seq: int

    def _start_updates(self) -> None:
        """Apply what the store already holds (a restart)."""
        self._applied = set()
        self._last_seq = 0
        self._replay()

    def add_interaction(self, user: Any, item: Any, rating: Any = None, timestamp: Any = None
                        ) -> dict[str, Any]:
        """Record that ``user`` (a new id starts a new user) interacted with catalog ``item`` (``rating``
        None: unrated; ``timestamp`` None: now) and apply it: the user's next request reads it.  Bad values:
        :class:`~llmrec.converse.events.InvalidEvent` naming the field; an unknown item:
        :class:`~llmrec.converse.events.UnknownItem`."""
        with self._lock:
            event = interaction_event(self.catalog, user=user, item=item, rating=rating, timestamp=timestamp,
                                      max_rating=self._max_rating)
            seq = self.store.add_interaction(event.user, event.item, event.rating, event.timestamp)
            self._apply_interaction(event, seq)
            log.info("event_interaction seq=%d user=%d item=%d", seq, event.user, event.item)
            return {**event.to_dict(), "seq": seq, "history_length": len(self._histories[event.user])}

    def add_item(self, title: Any, *, item: Any = None, year: Any = None, genres: Any = (),
                 text: dict[str, Any] | None = None) -> dict[str, Any]:
        """Add a catalog item (``item`` None: the next id) and apply it: its text is encoded and its vector
        added to the retriever's item index, so the next request can recall it.  On a store shared by
        replicas the items they added are applied first, so the next id comes after theirs; when another
        replica takes that id at the same moment, the next one after it is taken (a few tries)."""
        with self._lock:
            if reason := self._cannot_add_items():
                raise RequestError(reason)
            for attempt in range(_ID_TRIES):
                self._sync()  # a shared store: the items other replicas added since
                event = item_event(self.catalog, title=title, item=item, year=year, genres=genres, text=text)
                try:
                    self.store.add_item(event.item, event.to_dict())
                    break
                except ArtifactError:  # the id was taken meanwhile
                    if item is not None or not self.store.shared or attempt == _ID_TRIES - 1:
                        raise
                    log.info("event_item_id_taken item=%d; trying the next id", event.item)
            self._apply_items([event])
            log.info("event_item item=%d title=%r", event.item, event.title)
            return {**event.to_dict(), "display_title": self.catalog.display_title(event.item),
                    "items": len(self.catalog)}

    def _cannot_add_items(self) -> str | None:
        """Why new items cannot be added here (None: they can), checked before anything is written."""
        if not hasattr(self.retriever, "add_items"):
            return f"this recommender's retriever ({type(self.retriever).__name__}) cannot add items"
        if getattr(self.retriever, "catalog", None) is not self.catalog:
            return ("this recommender's retriever was passed in trained on another catalog; new items need "
                    "a retriever fitted by the conversational recommender itself")
        return self.retriever.cannot_add_items() if hasattr(self.retriever, "cannot_add_items") else None

    def _apply_interaction(self, event: InteractionEvent, seq: int | None = None) -> None:
        if seq is not None:
            self._applied.add(seq)
            self._last_seq = max(self._last_seq, seq)
        before = self._histories.get(event.user) or History.empty(event.user)
        self._histories[event.user] = with_interaction(before, event)

    def _apply_items(self, events: list[ItemEvent]) -> None:
        if not events:
            return
        for e in events:
            self.catalog.append(e.item, e.title, e.year, e.genres, **e.text)
        self.retriever.add_items(np.array([e.item for e in events], dtype=np.int64))
        self.parser = RequestParser(self.catalog, self._popularity)  # titles: "like <the new item>"
        self._objectives = self._explainer = None  # made again on first use, with the new items

    def _replay(self) -> None:
        """Apply the store's recorded events (a restart): the new items, then the interactions in order."""
        items, interactions = self.store.item_events(), self.store.interaction_events()
        if items and (reason := self._cannot_add_items()):
            raise RequestError(f"the store holds {len(items)} new items, but {reason}")
        self._apply_items([ItemEvent.from_dict(e) for e in items])
        for e in interactions:
            self._apply_interaction(InteractionEvent(e["user"], e["item"], e["rating"], e["timestamp"]),
                                    e["seq"])
        if items or interactions:
            log.info("events_replayed items=%d interactions=%d", len(items), len(interactions))

    def _sync(self) -> None:
        """On a store other processes write too (replicas on one PostgreSQL), apply the events they recorded
        since this process last looked: new items (ids above this catalog's), then interactions.  Event
        numbers may commit out of order, so the last ``_SYNC_WINDOW`` numbers are read again and only the
        ones not applied yet are applied."""
        if not self.store.shared:
            return
        with self._lock:
            top = int(self.catalog.item_ids.max()) if len(self.catalog) else 0
            items = [ItemEvent.from_dict(e) for e in self.store.item_events() if e["item"] > top]
            if items and not self._cannot_add_items():
                self._apply_items(items)
            floor = max(0, self._last_seq - _SYNC_WINDOW)
            fresh = [e for e in self.store.interaction_events(after=floor) if e["seq"] not in self._applied]
            for e in fresh:
                if e["item"] in self.catalog:
                    self._apply_interaction(InteractionEvent(e["user"], e["item"], e["rating"],
                                                             e["timestamp"]), e["seq"])
            self._applied = {q for q in self._applied if q > floor}
            if items or fresh:
                log.info("events_synced items=%d interactions=%d", len(items), len(fresh))
