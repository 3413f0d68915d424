"""Value kinds: how a setting's text is read, strictly, wherever it comes from.

The Lambda reads its environment variables with them, and the stack-configuration schema
(`stackconfig/`) reads `Pulumi.<env>.yaml` with the same kinds, so a value means the same thing
in both. Text forms only, as `pulumi config set` stores them: "70" and "true" are fine; "7_0",
"70.0" for a whole number, or "yes" for a boolean are refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sync_lambda import names

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_INT = re.compile(r"^-?[0-9]+$")
_FLOAT = re.compile(r"^-?[0-9]+(?:\.[0-9]+)?$")
_FIELD = re.compile(r"^(?:[A-Za-z][A-Za-z0-9]*__)?[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*__c$")
_API_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ORG_ID = re.compile(r"^00D[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?$")
_SECRET_ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+$")
_SCHEDULE = re.compile(r"^(?:rate\((?:1 (?:minute|hour|day)|(?:[2-9]|[1-9][0-9]+) "
                       r"(?:minutes|hours|days))\)"
                       r"|cron\((?:\S+ ){5}\S+\))$")
_RESOURCE = re.compile(r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$")
# simple-salesforce writes the JWT audience as https://{domain}.salesforce.com, so an audience
# URL must be of that form.
_AUDIENCE = re.compile(r"^(?:login|test|mydomain|https://[a-z0-9-]+(?:\.[a-z0-9-]+)*"
                       r"\.salesforce\.com)$")


def _text(raw: object, what: str) -> str:
    if isinstance(raw, dict):
        raise ValueError(f"must be {what}, got a mapping")
    if isinstance(raw, list | tuple):
        raise ValueError(f"must be {what}, got a list")
    if not isinstance(raw, str):
        raise ValueError(f"must be {what}, got {raw!r}")
    return raw


@dataclass(frozen=True, slots=True)
class Int:
    """A whole number within a range."""

    lo: int
    hi: int

    def parse(self, raw: object) -> int:
        """The value of `raw` (ValueError with a reason otherwise)."""
        text = _text(raw, "a whole number").strip()
        if not _INT.match(text):
            raise ValueError(f"must be a whole number between {self.lo} and {self.hi}, got "
                             f"{text!r}")
        value = int(text)
        if not self.lo <= value <= self.hi:
            raise ValueError(f"must be between {self.lo} and {self.hi}, got {value}")
        return value

    def render(self, value: Any) -> str:
        """The text form of a value (as the environment or a stack file holds it)."""
        return str(value)

    @property
    def describe(self) -> str:
        """What the kind accepts, for the docs."""
        return f"whole number {self.lo} to {self.hi}"


@dataclass(frozen=True, slots=True)
class Float:
    """A decimal number within a range."""

    lo: float
    hi: float

    def parse(self, raw: object) -> float:
        """The value of `raw` (ValueError with a reason otherwise)."""
        text = _text(raw, "a number").strip()
        if not _FLOAT.match(text):
            raise ValueError(f"must be a number between {self.lo:g} and {self.hi:g}, got "
                             f"{text!r}")
        value = float(text)
        if not self.lo <= value <= self.hi:
            raise ValueError(f"must be between {self.lo:g} and {self.hi:g}, got {value:g}")
        return value

    def render(self, value: Any) -> str:
        """The text form of a value."""
        return f"{float(value):g}"

    @property
    def describe(self) -> str:
        """What the kind accepts, for the docs."""
        return f"number {self.lo:g} to {self.hi:g}"


@dataclass(frozen=True, slots=True)
class Bool:
    """true or false, nothing else."""

    def parse(self, raw: object) -> bool:
        """The value of `raw` (ValueError with a reason otherwise)."""
        text = _text(raw, "true or false").strip()
        if text not in ("true", "false"):
            raise ValueError(f"must be true or false, got {text!r}")
        return text == "true"

    def render(self, value: Any) -> str:
        """The text form of a value."""
        return "true" if value else "false"

    @property
    def describe(self) -> str:
        """What the kind accepts, for the docs."""
        return "true or false"


@dataclass(frozen=True, slots=True)
class Choice:
    """One of a fixed set of words."""

    choices: tuple[str, ...]

    def parse(self, raw: object) -> str:
        """The value of `raw` (ValueError with a reason otherwise)."""
        text = _text(raw, f"one of {', '.join(self.choices)}").strip()
        if text not in self.choices:
            raise ValueError(f"must be one of {', '.join(self.choices)}, got {text!r}")
        return text

    def render(self, value: Any) -> str:
        """The text form of a value."""
        return str(value)

    @property
    def describe(self) -> str:
        """What the kind accepts, for the docs."""
        if len(self.choices) > 6:
            return f"one of {', '.join(self.choices[:3])}, …, {self.choices[-1]}"
        return " | ".join(self.choices)


@dataclass(frozen=True, slots=True)
class Pattern:
    """Text matching a pattern (API names, ids, schedules, emails, resource names)."""

    kind: str  # which one, for messages and docs
    regex: re.Pattern[str]
    forbidden: frozenset[str] = frozenset()

    def parse(self, raw: object) -> str:
        """The value of `raw` (ValueError with a reason otherwise)."""
        what = f"{'an' if self.kind[0] in 'aeiouAEIOU' else 'a'} {self.kind}"
        text = _text(raw, what).strip()
        if not self.regex.match(text):
            raise ValueError(f"must be {what}, got {text!r}")
        if text in self.forbidden:
            raise ValueError(f"{text} holds card or bank numbers: the import never writes it")
        return text

    def render(self, value: Any) -> str:
        """The text form of a value."""
        return str(value)

    @property
    def describe(self) -> str:
        """What the kind accepts, for the docs."""
        return self.kind


@dataclass(frozen=True, slots=True)
class Text:
    """Any non-empty text."""

    def parse(self, raw: object) -> str:
        """The value of `raw` (ValueError with a reason otherwise)."""
        text = _text(raw, "text").strip()
        if not text:
            raise ValueError("must not be empty")
        return text

    def render(self, value: Any) -> str:
        """The text form of a value."""
        return str(value)

    @property
    def describe(self) -> str:
        """What the kind accepts, for the docs."""
        return "text"


@dataclass(frozen=True, slots=True)
class Url:
    """An https URL (http only for a loopback host: keys must not cross a network in clear)."""

    https_only: bool = False  # Salesforce: https even locally

    def parse(self, raw: object) -> str:
        """The value of `raw` (ValueError with a reason otherwise)."""
        text = _text(raw, "a URL").strip().rstrip("/")
        parts = urlsplit(text)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise ValueError(f"must be an https URL, got {text!r}")
        if parts.scheme == "http" and (self.https_only or parts.hostname not in LOOPBACK):
            allowed = "" if self.https_only else " (http only for a loopback host)"
            raise ValueError(f"must be https{allowed}, got {text!r}")
        return text

    def render(self, value: Any) -> str:
        """The text form of a value."""
        return str(value)

    @property
    def describe(self) -> str:
        """What the kind accepts, for the docs."""
        return "https URL" if self.https_only else "https URL (http for 127.0.0.1)"


@dataclass(frozen=True, slots=True)
class Secret:
    """A credential: set with `pulumi config set --secret`, never shown."""

    def parse(self, raw: object) -> str:
        """The value of `raw` (ValueError with a reason otherwise)."""
        return Text().parse(raw)

    def render(self, value: Any) -> str:
        """Secrets are never rendered."""
        del value
        raise ValueError("a secret is never rendered")

    @property
    def describe(self) -> str:
        """What the kind accepts, for the docs."""
        return "secret"


Kind = Int | Float | Bool | Choice | Pattern | Text | Url | Secret

FIELD_NAME = Pattern("custom field API name (…__c)", _FIELD, names.PM_FORBIDDEN)
API_NAME = Pattern("API name (letters, digits, single underscores)", _API_NAME)
EMAIL = Pattern("email address", _EMAIL)
ORG_ID = Pattern("Salesforce org id (00D…)", _ORG_ID)
SECRET_ARN = Pattern("Secrets Manager secret ARN (arn:aws:secretsmanager:…:secret:…)",
                     _SECRET_ARN)
SCHEDULE = Pattern("schedule expression: rate(15 minutes) or cron(0/15 * * * ? *)", _SCHEDULE)
AUDIENCE = Pattern("JWT audience: login, test, mydomain or https://….salesforce.com",
                   _AUDIENCE)
RESOURCE_NAME = Pattern("resource name (lower case, digits, dashes; 2 to 40)", _RESOURCE)
