"""Reading a JSON body with a hard size limit, before any parsing."""

from __future__ import annotations

import json
from typing import Any

from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpRequest

CHUNK = 64 * 1024


class BodyError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _parse_int(digits: str) -> int | float:
    """An integer literal; one longer than Python converts (4,300 digits) is read as the
    float it is (infinite), so its event is rejected for that field, not the whole body."""
    try:
        return int(digits)
    except ValueError:
        return float(digits)


def read_json(request: HttpRequest, limit: int) -> Any:
    """Parse at most ``limit`` bytes of JSON (see :func:`read_json_sized`)."""
    return read_json_sized(request, limit)[0]


def read_json_sized(request: HttpRequest, limit: int) -> tuple[Any, int]:
    """Parse at most ``limit`` bytes of JSON, and say how many bytes they were; 413 is
    decided from Content-Length and the bytes read.

    A body without Content-Length (``Transfer-Encoding: chunked``) is read from the WSGI
    server's input when the server says it ends there (``wsgi.input_terminated``, as
    gunicorn does; Django's own stream would read nothing), at most ``limit`` + 1 bytes;
    a WSGI server that does not say so gets 411. Under ASGI the server has the body whole.
    """
    raw_length = request.META.get("CONTENT_LENGTH")
    if raw_length in (None, "") and isinstance(request, WSGIRequest):
        data = _read_unsized(request, limit)
    else:
        try:
            length = int(raw_length or 0)
        except ValueError:
            raise BodyError(400, "Invalid Content-Length.") from None
        if length > limit:
            raise BodyError(413, f"The body is larger than {limit} bytes.")
        if length < 0:
            raise BodyError(400, "Invalid Content-Length.")
        data = request.read(limit + 1)
    if len(data) > limit:
        raise BodyError(413, f"The body is larger than {limit} bytes.")
    try:
        text = data.decode("utf-8")
        try:
            return json.loads(text, parse_constant=_reject_constant), len(data)
        except json.JSONDecodeError:
            raise
        except ValueError:  # an integer too long for Python (or NaN): read again, ints one by one
            return json.loads(text, parse_constant=_reject_constant, parse_int=_parse_int), len(data)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BodyError(400, "The body is not valid UTF-8 JSON.") from None


def _read_unsized(request: WSGIRequest, limit: int) -> bytes:
    environ = request.environ
    if environ.get("wsgi.input_terminated"):
        stream = environ["wsgi.input"]
        chunks: list[bytes] = []
        size = 0
        while size <= limit:  # stops one byte past the limit: never reads unbounded
            chunk = stream.read(min(CHUNK, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        raise BodyError(411, "This server cannot read a body without Content-Length: send Content-Length.")
    return b""  # no body at all
