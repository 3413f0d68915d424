"""Error text without personal data: what an error says reaches the Lambda's log, the
dead-letter queue and alarms, where customer names and emails must never go (docs/sync.md).
Salesforce echoes the SOQL it refused (`Name IN ('Ada Lovelace')`), and an HTTP error names the
URL, query string included. Errors keep the operation, the error code and ids. Pure."""

from __future__ import annotations

import re
from typing import Final

from sync_lambda import names

HIDDEN: Final = "…"
# Quoted values kept: custom API names, error codes, Stripe and Salesforce ids, the standard
# names we use and the keys of Salesforce's error objects.
_KEEP: Final = re.compile(
    r"^(?:[A-Za-z][A-Za-z0-9_]*__(?:c|r|mdt|e)"
    r"|[A-Z]+(?:_[A-Z0-9]+)+"
    r"|(?:cus|pm|evt|card|src|ba|seti|pi)_[A-Za-z0-9]+"
    r"|(?=[A-Za-z0-9]*[0-9])[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?)$")
_STANDARD: Final = frozenset({names.ACCOUNT, names.ACCOUNT_NAME, "Id", names.ORGANIZATION,
                              names.PAYMENT_METHOD, names.PAYMENT_GATEWAY,
                              names.BILLING_CONFIG, "errorCode", "message", "fields",
                              "statusCode"})
# Single-quoted: how SOQL quotes values (a double-quoted string is a message holding them).
_LITERAL = re.compile(r"(\\?')(.*?)\1")
# A query, up to the end of its line (a real or an escaped newline: errors are often repr()s).
_SOQL = re.compile(r"(?i)\bSELECT\b.*?(?=\\n|\n|$)")
_QUERY_STRING = re.compile(r"\?[^\s'\"<>)]*")
_EMAIL = re.compile(r"[^\s@'\"<>(),;]+@[^\s@'\"<>(),;]+\.[A-Za-z]{2,}")


def redact(text: str) -> str:
    """`text` with queries, query strings, emails and quoted values (other than API names and
    ids) replaced by an ellipsis."""
    text = _SOQL.sub(f"<the query: {HIDDEN}>", text)
    text = _QUERY_STRING.sub(f"?{HIDDEN}", text)
    text = _EMAIL.sub(HIDDEN, text)

    def literal(match: re.Match[str]) -> str:
        quote, value = match.group(1), match.group(2)
        keep = value in _STANDARD or _KEEP.match(value) is not None
        return match.group(0) if keep else f"{quote}{HIDDEN}{quote}"

    return _LITERAL.sub(literal, text)
