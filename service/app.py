"""The HTTP service over a :class:`~llmrec.converse.turn.Converser`: a JSON API and an OpenAI-compatible chat
facade (``llmrec serve`` runs it under uvicorn).

    app = create_app(converser, ServiceConfig())
    POST /v1/recommend                     {"request": "a 90s comedy", "k": 5}      -> the Turn
                                           (+ "objectives": {"diversity": 0.3}: re-ranked for variety)
    POST /v1/conversations                 {"user": 42}                             -> {"id": ...} (201)
    POST /v1/conversations/{id}/turns      {"text": "not that one, older"}          -> the Turn
    GET  /v1/conversations/{id}                                                     -> its state
    GET  /v1/models, POST /v1/chat/completions (model "llmrec")                     -> chat.completion
    POST /v1/events/interactions           {"user": 42, "item": 50, "rating": 5}    -> recorded (201)
    POST /v1/items                         {"title": "...", "year": 2001, "genres": [...]}  -> added (201)
    GET  /health                                                                    -> {"status": ...}

Every error is ``{"error": {"message", "type"}}`` with a 4xx status (503 when a call runs past
``request_timeout_s``; 404 for an unknown conversation or item, 422 for a field the schema refuses, 400 for
one the recommender refuses: an unknown genre, a taken item id); a 500 is a bug, and is logged. Events take
effect on the next request (real-time updates: docs/realtime.md). The converser is blocking and not
thread-safe: each call runs in a worker thread under one lock. A request's text is data, never instructions:
the chat facade serves the last user message and ignores system messages.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.responses import StreamingResponse

from llmrec.configargs import arg
from llmrec.converse.turn import Converser, RequestError, Turn
from llmrec.errors import ConfigError
from service.guards import BodyLimit, Calls, ServiceTimeout, error_responses, install_error_handlers
from service.schemas import (
    ChatCompletion,
    ChatRequest,
    ConversationCreated,
    ConversationRequest,
    Health,
    InteractionEvent,
    InteractionRecorded,
    ItemAdded,
    ModelList,
    NewItem,
    Objectives,
    RecommendRequest,
    TurnOut,
    TurnRequest,
    last_user_text,
)

__all__ = ["MODEL_ID", "ServiceConfig", "create_app"]

log = logging.getLogger(__name__)

#: The model id of the OpenAI-compatible facade.
MODEL_ID = "llmrec"
#: The prefix of a conversation id carried in the OpenAI ``user`` field (``"conv:<id>"``).
CONVERSATION_USER_PREFIX = "conv:"
#: How long /health waits for the recommender while another request holds it (then: its last known health).
HEALTH_TIMEOUT_S = 1.0


@dataclass(frozen=True, kw_only=True)
class ServiceConfig:
    """The service's limits (the ``llmrec serve`` flags of that name)."""

    max_request_bytes: int = arg(64 * 1024, help="largest request body in bytes (larger: 413)")
    request_timeout_s: float = arg(30.0, help="seconds one request may take (longer: 503)")

    def __post_init__(self):
        if self.max_request_bytes < 1:
            raise ConfigError(f"--max-request-bytes must be positive, got {self.max_request_bytes}")
        if not self.request_timeout_s > 0:
            raise ConfigError(f"--request-timeout-s must be positive, got {self.request_timeout_s}")


def _nonblank(text: str, field: str) -> str:
    if not text.strip():
        raise RequestError(f"{field} is empty: send the request as text")
    return text


def create_app(converser: Converser, config: ServiceConfig = ServiceConfig()) -> FastAPI:
    """The service over ``converser`` (which the caller keeps and closes)."""
    app = FastAPI(title="llmrec", version="0.1.0", strict_content_type=False,
                  description="Conversational recommendations: a JSON API and an OpenAI-compatible chat "
                              f"facade (model {MODEL_ID!r}).")
    app.add_middleware(BodyLimit, limit=config.max_request_bytes)
    install_error_handlers(app)
    call = app.state.calls = Calls(config.request_timeout_s)  # the caller waits on it before closing
    last_health: dict[str, Any] = {"status": "ok"}

    @app.get("/health", response_model=Health)
    async def health() -> dict[str, Any]:
        """The converser's health ("ok", or "degraded" when its LLM is unavailable); always 200 while the
        process serves (while a long request holds the recommender, its last known health, ``busy: true``)."""
        nonlocal last_health
        try:
            last_health = dict(await call(converser.health, timeout=min(HEALTH_TIMEOUT_S, call.timeout)))
        except ServiceTimeout:
            return {**last_health, "busy": True}
        except Exception as err:  # noqa: BLE001 - a failing health check is news, not an error
            log.warning("service_health_failed error=%r", err)
            return {"status": "degraded", "reason": f"health check failed: {type(err).__name__}: {err}"}
        return last_health

    @app.post("/v1/recommend", response_model=TurnOut, responses=error_responses(400, 413, 422, 503))
    async def recommend(body: RecommendRequest) -> dict[str, Any]:
        """A one-shot request, kept in no conversation."""
        turn = await call(converser.recommend, _nonblank(body.request, "request"), user=body.user, k=body.k,
                          explain=body.explain, objectives=_objectives(body.objectives))
        return _logged(turn).to_dict()

    @app.post("/v1/conversations", status_code=201, response_model=ConversationCreated,
              responses=error_responses(400, 413, 422, 503))
    async def create(body: ConversationRequest | None = None) -> dict[str, str]:
        """A new conversation (``user``: a known user whose history recall uses; null: a new user)."""
        return {"id": await call(converser.create, body.user if body else None)}

    @app.post("/v1/conversations/{conversation_id}/turns", response_model=TurnOut,
              responses=error_responses(400, 404, 413, 422, 503))
    async def add_turn(conversation_id: str, body: TurnRequest) -> dict[str, Any]:
        """A turn of the conversation: a request, or feedback on the list shown last."""
        turn = await call(converser.turn, conversation_id, _nonblank(body.text, "text"), k=body.k,
                          explain=body.explain, objectives=_objectives(body.objectives))
        return _logged(turn).to_dict()

    @app.get("/v1/conversations/{conversation_id}", response_model=dict[str, Any],
             responses=error_responses(404, 422, 503))  # no 422 in fact; FastAPI would document its own
    async def state(conversation_id: str) -> dict[str, Any]:
        """The conversation's state: constraints by turn, shown lists, rejected and accepted items."""
        return await call(converser.state, conversation_id)

    @app.post("/v1/events/interactions", status_code=201, response_model=InteractionRecorded,
              responses=error_responses(400, 404, 413, 422, 503))
    async def interaction(body: InteractionEvent) -> dict[str, Any]:
        """Record a user's interaction with a catalog item; the user's next request reads it (no
        retraining).  Kept in the store, replayed when the service restarts."""
        return await call(_event_method(converser, "add_interaction"), body.user, body.item,
                          rating=body.rating, timestamp=body.timestamp)

    @app.post("/v1/items", status_code=201, response_model=ItemAdded,
              responses=error_responses(400, 413, 422, 503))
    async def new_item(body: NewItem) -> dict[str, Any]:
        """Add a catalog item: its text is encoded and its vector added to the item index, so the next
        request can recall it.  Kept in the store, replayed when the service restarts."""
        text = {"description": body.description} if body.description else None
        return await call(_event_method(converser, "add_item"), body.title, item=body.item,
                          year=body.year, genres=body.genres, text=text)

    @app.get("/v1/models", response_model=ModelList)
    async def models() -> dict[str, Any]:
        """The one model of the OpenAI-compatible facade."""
        return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": 0,
                                            "owned_by": "llmrec"}]}

    @app.post("/v1/chat/completions", response_model=ChatCompletion, responses={
        **error_responses(400, 404, 413, 422, 503),
        200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
              "description": "the completion, or with stream: true its server-sent events"}})
    async def chat(body: ChatRequest) -> Any:
        """OpenAI-compatible chat: the last user message is the turn.  The conversation continues when
        ``user`` is ``"conv:<id>"`` or ``metadata.conversation_id`` is set; otherwise a new one starts (for
        ``metadata.user``, a known user id, when given).  The reply carries ``conversation_id`` and the turn
        as structured data (``llmrec``)."""
        if body.model != MODEL_ID:
            raise HTTPException(404, f"model {body.model!r} is not served here; use {MODEL_ID!r}")
        if body.n not in (None, 1):
            raise RequestError(f"n must be 1, got {body.n}")
        text = _nonblank(last_user_text(body.messages), "the last user message")
        conversation_id, user = _conversation_of(body)
        if conversation_id is None:
            conversation_id = await call(converser.create, user)
        turn = _logged(await call(converser.turn, conversation_id, text, k=body.k, explain=body.explain,
                                  objectives=_objectives(body.objectives)))
        completion = _completion(turn, conversation_id)
        if body.stream:
            return StreamingResponse(_events(completion), media_type="text/event-stream")
        return completion

    return app


def _event_method(converser: Converser, method: str) -> Callable[..., Any]:
    """The converser's event method (``add_interaction``, ``add_item``); one without events: a 400."""
    fn = getattr(converser, method, None)
    if fn is None:
        raise RequestError(f"this recommender ({type(converser).__name__}) does not take real-time events")
    return fn


def _objectives(objectives: Objectives | None) -> dict[str, float] | None:
    """The request's re-ranking weights as the converser takes them (None: not given)."""
    return objectives.model_dump() if objectives else None


def _logged(turn: Turn) -> Turn:
    log.info("service_turn conversation=%s turn=%d items=%d none_match=%s degraded=%s", turn.conversation_id,
             turn.turn, len(turn.items), turn.none_match, turn.degraded)
    return turn


def _conversation_of(body: ChatRequest) -> tuple[str | None, int | None]:
    """The conversation a chat request continues (None: a new one) and the user a new one is for."""
    metadata = body.metadata or {}
    ids = {metadata["conversation_id"]} if metadata.get("conversation_id") else set()
    if body.user and body.user.startswith(CONVERSATION_USER_PREFIX):
        ids.add(body.user.removeprefix(CONVERSATION_USER_PREFIX))
    if len(ids) > 1:
        raise RequestError(f"two conversation ids: metadata.conversation_id and user ({sorted(ids)})")
    user = metadata.get("user")
    if user is not None and not user.strip().isdigit():
        raise RequestError(f"metadata.user must be a user id (an integer), got {user!r}")
    return (ids.pop() if ids else None), (int(user) if user is not None else None)


def _completion(turn: Turn, conversation_id: str) -> dict[str, Any]:
    return {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
            "model": MODEL_ID,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": turn.text()},
                         "finish_reason": "stop", "logprobs": None}],
            "conversation_id": conversation_id, "llmrec": turn.to_dict()}


async def _events(completion: dict[str, Any]) -> AsyncIterator[str]:
    """The completion as OpenAI's server-sent chunks: the whole answer in one delta, then the stop."""
    head = {k: completion[k] for k in ("id", "created", "model")} | {"object": "chat.completion.chunk"}
    message = completion["choices"][0]["message"]
    first = {**head, "choices": [{"index": 0, "delta": message, "finish_reason": None, "logprobs": None}],
             "conversation_id": completion["conversation_id"], "llmrec": completion["llmrec"]}
    last = {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop", "logprobs": None}]}
    for chunk in (first, last):
        yield f"data: {json.dumps(chunk)}\n\n"
    yield "data: [DONE]\n\n"
