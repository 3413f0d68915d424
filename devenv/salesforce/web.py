"""Request/response values and the router of the Salesforce stand-in (no I/O here)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qs

from devenv.salesforce import errors as codes
from devenv.salesforce.errors import SalesforceError


@dataclass(slots=True)
class Request:
    """One HTTP request as the handlers see it."""

    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]  # lower-case names
    body: bytes = b""
    params: dict[str, str] = field(default_factory=dict)
    version: str = "59.0"

    def arg(self, name: str, default: str | None = None) -> str | None:
        """The first value of query parameter `name`."""
        values = self.query.get(name)
        return values[0] if values else default

    def header(self, name: str) -> str | None:
        """A request header, by case-insensitive name."""
        return self.headers.get(name.lower())

    def json(self) -> Any:
        """The JSON body, or JSON_PARSER_ERROR as Salesforce answers malformed JSON."""
        try:
            return json.loads(self.body or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            raise SalesforceError.of(400, codes.JSON_PARSER_ERROR,
                                     f"The request body is not valid JSON: {exc}") from None

    def form(self) -> dict[str, str]:
        """An application/x-www-form-urlencoded body."""
        parsed = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {k: v[0] for k, v in parsed.items()}

    @property
    def bearer(self) -> str | None:
        """The session id from `Authorization: Bearer …` (or OAuth …)."""
        auth = self.header("authorization") or ""
        for scheme in ("Bearer ", "OAuth "):
            if auth.startswith(scheme):
                return auth[len(scheme):].strip()
        return None


@dataclass(slots=True)
class Response:
    """One HTTP response."""

    status: int
    body: bytes = b""
    content_type: str = "application/json;charset=UTF-8"
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, payload: Any) -> Response:
    """A JSON response (Salesforce sends compact JSON)."""
    return Response(status, json.dumps(payload, separators=(",", ":")).encode())


def error_response(err: SalesforceError) -> Response:
    """Salesforce's REST error shape: a JSON list of {message, errorCode[, fields]}."""
    return json_response(err.status, err.body())


Handler = Callable[[Request], Response]


@dataclass(frozen=True, slots=True)
class Route:
    """A method + path pattern, its handler, and the name used for counters and faults."""

    method: str
    pattern: re.Pattern[str]
    handler: Handler
    name: str


class Router:
    """First-match routing on method and a regex over the path."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, pattern: str, name: str, handler: Handler) -> None:
        """Register a route; `pattern` uses `(?P<name>…)` groups for path parameters."""
        self.routes.append(Route(method, re.compile(pattern + r"/?$"), handler, name))

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | bool | None:
        """(route, params); False if the path exists with another method; None if unknown."""
        path_known = False
        for route in self.routes:
            m = route.pattern.match(path)
            if m is None:
                continue
            if route.method != method:
                path_known = True
                continue
            return route, {k: v for k, v in m.groupdict().items() if v is not None}
        return False if path_known else None


class ByteReader(Protocol):
    """What `read_chunked` reads from (a socket's buffered reader)."""

    def read(self, size: int, /) -> bytes: ...

    def readline(self, size: int, /) -> bytes: ...


def read_chunked(stream: ByteReader) -> bytes:
    """A `Transfer-Encoding: chunked` body (RFC 9112 §7.1): size lines in hex, each chunk
    followed by CRLF, a zero-size last chunk, optional trailers, a blank line."""
    parts: list[bytes] = []
    while True:
        size_line = stream.readline(1024)
        if not size_line:
            raise ValueError("the connection closed inside a chunked body")
        size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            while stream.readline(8192).strip():  # trailers, up to the blank line
                pass
            return b"".join(parts)
        parts.append(stream.read(size))
        stream.readline(8)  # the CRLF after the chunk
