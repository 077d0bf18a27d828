"""Reading a JSON body with a hard size limit, before any parsing."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest


class BodyError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def read_json(request: HttpRequest, limit: int) -> Any:
    """Parse at most ``limit`` bytes of JSON; 413 is decided from Content-Length and the bytes read."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise BodyError(400, "Invalid Content-Length.") from None
    if length > limit:
        raise BodyError(413, f"The body is larger than {limit} bytes.")
    data = request.read(limit + 1)
    if len(data) > limit:
        raise BodyError(413, f"The body is larger than {limit} bytes.")
    try:
        return json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BodyError(400, "The body is not valid UTF-8 JSON.") from None
