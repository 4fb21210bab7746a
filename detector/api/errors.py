"""Every error the API returns has one body, `{"error": {"code", "message"}}`: HTTP errors, request
validation, the store's errors (not found, conflict, invalid, a value the database refuses) and a
refused payment-portal signature."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from detector.store.errors import Conflict, InvalidRequest, NotFound, StoreError
from detector.store.portal import SignatureRefused

log = logging.getLogger(__name__)

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


async def http_error(_r: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return error_response(exc.status_code, CODES.get(exc.status_code, "error"), str(exc.detail), exc.headers)


async def validation_error(_r: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    parts = []
    for e in exc.errors()[:5]:
        loc = ".".join(str(x) for x in e.get("loc", ()))
        parts.append(f"{loc}: {e.get('msg')}")
    return error_response(422, "invalid", "; ".join(parts) or "invalid request")


async def data_error(_r: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DataError)
    return error_response(422, "invalid", f"value cannot be stored: {exc.orig}")


async def store_error(_r: Request, exc: Exception) -> JSONResponse:
    log.error("store error: %s", exc)
    return error_response(500, "store_error", str(exc))


def _fixed(status: int, code: str) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    async def handler(_r: Request, exc: Exception) -> JSONResponse:
        return error_response(status, code, str(exc))

    return handler


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(NotFound, _fixed(404, "not_found"))
    app.add_exception_handler(Conflict, _fixed(409, "conflict"))
    app.add_exception_handler(InvalidRequest, _fixed(422, "invalid"))
    app.add_exception_handler(DataError, data_error)
    app.add_exception_handler(StoreError, store_error)
    app.add_exception_handler(SignatureRefused, _fixed(401, "bad_signature"))
