"""What stands between HTTP and the converser: every error as ``{"error": {"message", "type"}}`` JSON with its
status (and its OpenAPI description), the request-body limit (413 before the app reads it), and converser
calls run one at a time in worker threads within the request timeout (503 past it)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from llmrec.converse.events import UnknownItem
from llmrec.converse.turn import UnknownConversation
from llmrec.errors import LLMRecError
from service.schemas import ErrorResponse

__all__ = ["NOT_JSON", "BodyLimit", "Calls", "ServiceTimeout", "error_response", "error_responses",
           "install_error_handlers"]

log = logging.getLogger(__name__)

NOT_JSON = "the body must be a JSON object (UTF-8, Content-Type: application/json)"
T = TypeVar("T")


class ServiceTimeout(Exception):
    """A converser call did not finish (or could not start) within the request timeout."""


def error_response(status: int, kind: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind}}, status_code=status)


ERROR_TYPES = {400: "invalid_request_error", 404: "not_found_error", 405: "method_not_allowed",
                413: "request_too_large", 422: "validation_error", 503: "timeout"}
ERROR_DESCRIPTIONS = {400: "bad request: empty text, not JSON, invalid UTF-8, or refused by the recommender",
                       404: "unknown conversation, model or item", 413: "request body over max_request_bytes",
                       422: "a field of the wrong type or out of range", 503: "the request timed out"}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The error responses of an operation, for the OpenAPI schema."""
    return {code: {"model": ErrorResponse, "description": ERROR_DESCRIPTIONS[code]} for code in codes}


class Calls:
    """Runs converser calls in worker threads, one at a time (one lock), each within the request timeout.  A
    call past its timeout is abandoned, not stopped: it keeps the lock until it returns."""

    def __init__(self, timeout: float):
        self.timeout = timeout
        self._lock = threading.Lock()

    async def __call__(self, fn: Callable[..., T], *args: Any, timeout: float | None = None, **kwargs: Any
                       ) -> T:
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout

        def locked() -> T:
            if not self._lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
                raise ServiceTimeout(f"the recommender stayed busy with other requests for {timeout:g} s; "
                                     "try again later")
            try:
                return fn(*args, **kwargs)
            finally:
                self._lock.release()

        try:
            with anyio.fail_after(timeout):
                return await anyio.to_thread.run_sync(locked, abandon_on_cancel=True)
        except TimeoutError:
            log.warning("service_timeout call=%s seconds=%g", getattr(fn, "__name__", fn), timeout)
            raise ServiceTimeout(f"the recommender did not answer within {timeout:g} s; try again later "
                                 "or ask for fewer items or explanations") from None

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no call runs (an abandoned one may still), up to ``timeout`` seconds; whether it is."""
        if not self._lock.acquire(timeout=timeout):
            return False
        self._lock.release()
        return True


class BodyLimit:
    """ASGI middleware: a body over ``limit`` bytes (by its Content-Length, or as it arrives) is answered 413
    before the app sees it; otherwise the app reads the buffered body."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"0")
        if not length.isdigit():
            message = "invalid Content-Length header"
            await error_response(400, "invalid_request_error", message)(scope, receive, send)
            return
        if int(length) > self.limit:
            await self._too_large(scope, receive, send)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                await self._too_large(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        body, replayed = b"".join(chunks), False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"request body over {self.limit} bytes (max_request_bytes)"
        await error_response(413, "request_too_large", message)(scope, receive, send)


def _validation_message(errors: list[dict[str, Any]]) -> str:
    parts = []
    for e in errors[:5]:
        where = ".".join(str(p) for p in e.get("loc", ())[1:]) or "body"
        got = repr(e.get("input"))
        parts.append(f"{where}: {e.get('msg', 'invalid')} (got {got[:60] + '...' if len(got) > 60 else got})")
    return "; ".join(parts)


def _not_json(errors: list[dict[str, Any]]) -> bool:
    """Whether the body was not JSON at all (malformed, or sent as another content type: raw bytes)."""
    return any(e.get("type") == "json_invalid" or isinstance(e.get("input"), bytes) for e in errors)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LLMRecError)
    async def llmrecerror_response(request: Request, err: LLMRecError) -> JSONResponse:
        if isinstance(err, UnknownConversation | UnknownItem):
            return error_response(404, "not_found_error", str(err))
        return error_response(400, "invalid_request_error", str(err) or type(err).__name__)

    @app.exception_handler(ServiceTimeout)
    async def timeout(request: Request, err: ServiceTimeout) -> JSONResponse:
        return error_response(503, "timeout", str(err))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, err: RequestValidationError) -> JSONResponse:
        errors = list(err.errors())
        if _not_json(errors):
            return error_response(400, "invalid_request_error", NOT_JSON)
        return error_response(422, "validation_error", _validation_message(errors))

    @app.exception_handler(StarletteHTTPException)
    async def httperror_response(request: Request, err: StarletteHTTPException) -> JSONResponse:
        if err.status_code == 400 and err.detail == "There was an error parsing the body":
            err.detail = NOT_JSON
        kind = ERROR_TYPES.get(err.status_code, "http_error")
        response = error_response(err.status_code, kind, str(err.detail))
        response.headers.update(err.headers or {})
        return response

    @app.exception_handler(Exception)
    async def bug(request: Request, err: Exception) -> JSONResponse:
        log.exception("service_error method=%s path=%s", request.method, request.url.path)
        message = f"internal error ({type(err).__name__}); it has been logged"
        return error_response(500, "internal_error", message)
