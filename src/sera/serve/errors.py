"""How ``sera serve`` fails: :class:`ApiError` and the handlers that turn every failure into
``{"error": "<one line>"}`` with its status.

What another library said about a failure goes to the log, never to the client; a bad
argument the library refuses (:class:`sera.errors.InputError`) is a 422 with its message.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from sera.errors import InputError
from sera.serve.schemas import describe

log = logging.getLogger("sera.serve")


class ApiError(Exception):
    """A request that cannot be served: answered with ``{"error": message}`` and ``status``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


def error_response(status: int, message: str,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    """``{"error": message}`` with ``status``, the message folded onto one line."""
    return JSONResponse({"error": " ".join(message.split())}, status_code=status,
                        headers=headers)


async def api_error(request: Request, exc: ApiError) -> JSONResponse:
    return error_response(exc.status, exc.message, exc.headers)


async def input_error(request: Request, exc: InputError) -> JSONResponse:
    return error_response(422, str(exc))


async def bad_parameters(request: Request, exc: RequestValidationError) -> JSONResponse:
    # skip=1: the location's first part is FastAPI's "query", "path" or "body".
    return error_response(422, describe(exc.errors(), skip=1))


async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    return error_response(exc.status_code, str(exc.detail), exc.headers)


async def server_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal server error")


def add_error_handlers(app: FastAPI) -> None:
    """Answer every failure of ``app`` as ``{"error": "<one line>"}``."""
    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(InputError, input_error)
    app.add_exception_handler(RequestValidationError, bad_parameters)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, server_error)
