"""The service's wire formats as pydantic models, so its OpenAPI schema states exactly what is accepted and
returned.  Requests are strict (``"5"`` is not an integer, ``5`` is not a string); the chat request accepts
and ignores the OpenAI fields it has no use for (temperature, max_tokens, ...)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from llmrec.converse.turn import RequestError

__all__ = ["ChatCompletion", "ChatRequest", "ConversationCreated", "ConversationRequest", "ErrorResponse",
           "Health", "InteractionEvent", "InteractionRecorded", "ItemAdded", "ModelList", "NewItem",
           "Objectives", "RecommendRequest", "TurnOut", "TurnRequest", "last_user_text"]

MAX_K, MAX_EXPLAIN = 50, 10
MAX_ID = 2**53  # the largest id or timestamp an event may carry (exact in JSON numbers)
_K = "how many items to return, 1..50 (null: the service's default)"
_EXPLAIN = "explain the top N items, 0..10 (null: the service's default)"
_OBJECTIVES = ("re-ranking weights for this answer (null or all 0: the recommender's own order; "
               "docs/serving.md)")
#: Text must not be blank: stated in the schema, checked by the app (a blank text is a 400, not a 422).
_NONBLANK = {"pattern": r"\S"}



def _integral(value: Any) -> Any:
    """2.0 is an integer in JSON Schema: accepted as 2 (and 2.5, "2", true are not integers)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


# JSON integers, strictly (no strings, no booleans), 2.0 included; the bounds go before the validator, so
# that the schema states them
Int = Annotated[int, BeforeValidator(_integral)]
K = Annotated[int, Field(ge=1, le=MAX_K), BeforeValidator(_integral)]
Explain = Annotated[int, Field(ge=0, le=MAX_EXPLAIN), BeforeValidator(_integral)]


class _Request(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


def _weight(description: str) -> Any:
    return Field(0.0, ge=0, allow_inf_nan=False, description=description)


class Objectives(_Request):
    """Multi-objective re-ranking weights (:mod:`llmrec.recommenders.objectives`): each trades a little
    accuracy for its objective; 0 switches it off.  The recommended items still satisfy every constraint."""

    diversity: float = _weight("weight of genre variety in the list (MMR: genre redundancy with the items "
                               "above), 0 or more")
    calibration: float = _weight("weight of matching the genre mix of the user's history (KL "
                                 "miscalibration), 0 or more")
    popularity: float = _weight("weight against popular items (their scaled log popularity), 0 or more")
    popularity_calibration: float = _weight("weight of matching the history's mix of short-head, middle and "
                                            "long-tail items (Jensen-Shannon), 0 or more")
    page: Annotated[int, Field(ge=0, le=1000), BeforeValidator(_integral)] = Field(
        10, description="the re-ranker's picks shown together in the ranker's order (at most the answer's k; "
                        "0: the re-ranker's order)")


class RecommendRequest(_Request):
    request: str = Field(description="what the user asks for, in plain language (data, never instructions)",
                         json_schema_extra=_NONBLANK)
    user: Int | None = Field(None, description="a known user whose history recall uses (null: a new user)")
    k: K | None = Field(None, description=_K)
    explain: Explain | None = Field(None, description=_EXPLAIN)
    objectives: Objectives | None = Field(None, description=_OBJECTIVES)


class ConversationRequest(_Request):
    user: Int | None = Field(None, description="a known user whose history recall uses (null: a new user)")


class TurnRequest(_Request):
    text: str = Field(description="a request, or feedback on the list shown last (\"not that one\")",
                      json_schema_extra=_NONBLANK)
    k: K | None = Field(None, description=_K)
    explain: Explain | None = Field(None, description=_EXPLAIN)
    objectives: Objectives | None = Field(None, description=_OBJECTIVES)


class InteractionEvent(_Request):
    """A user's new interaction: the user's next request reads it (real-time updates, docs/realtime.md)."""

    user: Annotated[int, Field(ge=1, le=MAX_ID), BeforeValidator(_integral)] = Field(
        description="the user id (a new id starts a new user)")
    item: Annotated[int, Field(ge=1, le=MAX_ID), BeforeValidator(_integral)] = Field(
        description="a catalog item id (an unknown one: 404; add new items with POST /v1/items)")
    rating: float | None = Field(None, gt=0, allow_inf_nan=False,
                                 description="the rating, up to the dataset's largest (null: not rated)")
    timestamp: Annotated[int, Field(ge=0, le=MAX_ID), BeforeValidator(_integral)] | None = Field(
        None, description="unix seconds (null: now); the history keeps timestamp order")


class InteractionRecorded(BaseModel):
    user: int
    item: int
    rating: float | None
    timestamp: int
    seq: int
    history_length: int


class NewItem(_Request):
    """A new catalog item: recallable on the next request (its text encoded, its vector indexed)."""

    item: Annotated[int, Field(ge=1, le=MAX_ID), BeforeValidator(_integral)] | None = Field(
        None, description="its id, greater than every catalog id (null: the next id)")
    title: str = Field(max_length=300, description="the title (non-blank, at most 300 characters)",
                       json_schema_extra=_NONBLANK)
    year: Annotated[int, Field(ge=1800, le=2100), BeforeValidator(_integral)] | None = Field(
        None, description="release year (null: unknown)")
    genres: list[str] = Field(default_factory=list, description="genres, among the catalog's genre names")
    description: str | None = Field(None, max_length=4000,
                                    description="free text the retriever reads beside title and genres")


class ItemAdded(BaseModel):
    item: int
    title: str
    display_title: str
    year: int | None
    genres: list[str]
    text: dict[str, str]
    items: int


class ConversationCreated(BaseModel):
    id: str


class ItemOut(BaseModel):
    item: int
    title: str
    year: int | None
    genres: list[str]
    score: float
    explanation: str | None = None


class TurnOut(BaseModel):
    """One turn's answer (:class:`llmrec.converse.turn.Turn`)."""

    conversation_id: str | None
    turn: int
    request: str
    interpretation: str
    parse: dict[str, Any]
    items: list[ItemOut]
    none_match: bool
    relaxation: str | None
    unsupported: list[str]
    feedback: str | None
    degraded: bool
    reason: str | None
    timings: dict[str, float]


class Health(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: Literal["ok", "degraded"]


class ErrorDetail(BaseModel):
    message: str
    type: str


class ErrorResponse(BaseModel):
    error: ErrorDetail


class ModelCard(BaseModel):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"]
    data: list[ModelCard]


class ContentPart(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")

    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None


class ChatRequest(BaseModel):
    """OpenAI's chat request, with llmrec's ``k``, ``explain`` and ``objectives`` (``extra_body`` in the
    openai client)."""

    model_config = ConfigDict(strict=True, extra="allow")

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    user: str | None = Field(None, description='"conv:<id>" continues that conversation')
    metadata: dict[str, str] | None = Field(None, description="conversation_id: continue that conversation; "
                                                             "user: a known user id for a new one")
    stream: bool | None = False
    n: Int | None = None
    k: K | None = Field(None, description=_K)
    explain: Explain | None = Field(None, description=_EXPLAIN)
    objectives: Objectives | None = Field(None, description=_OBJECTIVES)


def last_user_text(messages: list[ChatMessage]) -> str:
    """The text of the last user message (system and assistant messages are not read)."""
    for message in reversed(messages):
        if message.role != "user":
            continue
        if isinstance(message.content, list):
            if any(part.type != "text" or part.text is None for part in message.content):
                raise RequestError("only text content is supported")
            return "\n".join(part.text or "" for part in message.content)
        return message.content or ""
    raise RequestError("no user message: the last user message is the request")


class AssistantMessage(BaseModel):
    role: Literal["assistant"]
    content: str


class Choice(BaseModel):
    index: int
    message: AssistantMessage
    finish_reason: Literal["stop"]
    logprobs: None = None


class ChatCompletion(BaseModel):
    """OpenAI's chat.completion, plus the conversation's id and the turn as structured data."""

    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[Choice]
    conversation_id: str
    llmrec: TurnOut
