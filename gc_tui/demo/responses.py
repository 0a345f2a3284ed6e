"""The answers a fake CapRover gives: its JSON envelope and the few plain HTTP errors.

docs/caprover-api.md ("Envelope and status codes") says which outcome gets which.
"""

from __future__ import annotations

import json
from typing import Any

from gc_tui.demo.http_wire import Response

JSON = "application/json; charset=utf-8"
HTML = "text/html; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
LOCKED_TEXT = "Another operation still in progress... please wait..."

NGINX_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


def envelope_body(status: int, description: str, data: Any = None) -> dict[str, Any]:
    return {"status": status, "description": description, "data": {} if data is None else data}


def envelope(status: int, description: str, data: Any = None) -> Response:
    return Response(200, json.dumps(envelope_body(status, description, data)).encode())


def http_error(status: int, text: str, content_type: str = TEXT) -> Response:
    return Response(status, text.encode(), content_type)


def internal_server_error() -> Response:
    """What Express sends for any error that carries no CapRover status."""
    return http_error(500, "Internal Server Error")


def app_not_found(app_name: str) -> Response:
    return envelope(
        1000, f"App ({app_name}) could not be found. Make sure that you have created the app."
    )
