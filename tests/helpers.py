"""Small helpers shared by tests of several areas."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

from django.test import Client

from reco_app.adapter import subject_of

ROOT = Path(__file__).resolve().parents[1]


def customer_key(user: Any) -> str:
    """The subject key reco_app uses for a logged-in user (the shop adapter decides)."""
    return subject_of(user)


class WSGIClient:
    """Mixin for ``django.test.Client``: requests go through a real WSGI application
    (``self.wsgi_app``) instead of the test handler, e.g. ``reco_app.wsgi.beacon_fast_path``
    around Django's ``WSGIHandler``. Cookies, status, headers and body come back as from
    the test client. As the test handler does, Django's ``close_old_connections`` receivers
    are held off during the request so the test's transaction survives it."""

    wsgi_app: Any

    def request(self, **request: Any) -> Any:
        from django.core import signals
        from django.db import close_old_connections
        from django.http import HttpResponse

        environ = self._base_environ(**request)  # type: ignore[attr-defined]
        started: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            started.update(status=status, headers=headers)

        signals.request_started.disconnect(close_old_connections)
        signals.request_finished.disconnect(close_old_connections)
        try:
            result = self.wsgi_app(environ, start_response)
            try:
                body = b"".join(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
        finally:
            signals.request_started.connect(close_old_connections)
            signals.request_finished.connect(close_old_connections)
        response = HttpResponse(body, status=int(started["status"].split()[0]))
        for name, value in started["headers"]:
            if name.lower() == "set-cookie":
                response.cookies.load(value)
            else:
                response[name] = value
        for key, morsel in response.cookies.items():
            if str(morsel["max-age"]) == "0":  # deleted
                self.cookies.pop(key, None)  # type: ignore[attr-defined]
            else:
                self.cookies[key] = morsel  # type: ignore[attr-defined]
        response.json = lambda: json.loads(body)  # type: ignore[attr-defined]
        return response


class ChunkedClient(WSGIClient, Client):
    """Posts bodies as a WSGI server hands over a ``Transfer-Encoding: chunked`` request: no
    Content-Length, the input a stream that ends with the body, and ``wsgi.input_terminated``
    when the server says so (gunicorn does; wsgiref does not). Form posts keep their length:
    Django cannot read a form without one (the consent buttons are forms)."""

    def __init__(self, app: object, *, terminated: bool, **defaults: object) -> None:
        super().__init__(**defaults)
        self.wsgi_app = app
        self.terminated = terminated

    def _base_environ(self, **request: object) -> dict[str, object]:
        environ: dict[str, object] = super()._base_environ(**request)  # type: ignore[misc]
        if environ["REQUEST_METHOD"] == "POST" and not str(environ.get("CONTENT_TYPE")).startswith("multipart/"):
            body = environ["wsgi.input"].read()  # type: ignore[attr-defined]
            environ.update({"wsgi.input": io.BytesIO(body), "HTTP_TRANSFER_ENCODING": "chunked"})
            environ.pop("CONTENT_LENGTH", None)
            if self.terminated:
                environ["wsgi.input_terminated"] = True
        return environ


def stop_process(proc: Any, timeout: float = 15) -> None:
    """Stop a server or worker a test started: SIGTERM, then SIGKILL after ``timeout``."""
    import subprocess

    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()


def service_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a process that sees this test's database and media folder."""
    from django.db import connection

    db = connection.settings_dict
    url = f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "RECO_VAR_DIR": str(tmp_path),
        "PYTHONPATH": str(ROOT),
    }
