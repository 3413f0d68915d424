"""Salesforce error codes and the exception that carries one to the HTTP layer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

# The error codes the stand-in emits, spelled as Salesforce spells them.
REQUIRED_FIELD_MISSING = "REQUIRED_FIELD_MISSING"
INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST = "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
STRING_TOO_LONG = "STRING_TOO_LONG"
DUPLICATE_VALUE = "DUPLICATE_VALUE"
DUPLICATES_DETECTED = "DUPLICATES_DETECTED"
INVALID_FIELD_FOR_INSERT_UPDATE = "INVALID_FIELD_FOR_INSERT_UPDATE"
INVALID_CROSS_REFERENCE_KEY = "INVALID_CROSS_REFERENCE_KEY"
MALFORMED_QUERY = "MALFORMED_QUERY"
MALFORMED_ID = "MALFORMED_ID"
INVALID_FIELD = "INVALID_FIELD"
INVALID_TYPE = "INVALID_TYPE"
NOT_FOUND = "NOT_FOUND"
ENTITY_IS_DELETED = "ENTITY_IS_DELETED"
FIELD_CUSTOM_VALIDATION_EXCEPTION = "FIELD_CUSTOM_VALIDATION_EXCEPTION"
INVALID_SESSION_ID = "INVALID_SESSION_ID"
REQUEST_LIMIT_EXCEEDED = "REQUEST_LIMIT_EXCEEDED"
SERVER_UNAVAILABLE = "SERVER_UNAVAILABLE"
UNABLE_TO_LOCK_ROW = "UNABLE_TO_LOCK_ROW"
JSON_PARSER_ERROR = "JSON_PARSER_ERROR"
INVALID_TYPE_ON_FIELD_IN_RECORD = "INVALID_TYPE_ON_FIELD_IN_RECORD"
EXCEEDED_ID_LIMIT = "EXCEEDED_ID_LIMIT"
ALL_OR_NONE_OPERATION_ROLLED_BACK = "ALL_OR_NONE_OPERATION_ROLLED_BACK"
INVALID_QUERY_LOCATOR = "INVALID_QUERY_LOCATOR"
METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
API_ERROR = "API_ERROR"
INVALIDJOB = "INVALIDJOB"
INVALIDJOBSTATE = "INVALIDJOBSTATE"
INVALID_ID_FIELD = "INVALID_ID_FIELD"
URI_TOO_LONG = "URI_TOO_LONG"
INSUFFICIENT_ACCESS = "INSUFFICIENT_ACCESS"
INSUFFICIENT_ACCESS_OR_READONLY = "INSUFFICIENT_ACCESS_OR_READONLY"


@dataclass(frozen=True, slots=True)
class FieldError:
    """One error on one record, in the shape of Salesforce's `errors[]` entries."""

    code: str
    message: str
    fields: tuple[str, ...] = ()
    # A duplicate rule's hit: Salesforce's `duplicateResult` (rule, match results, ids).
    duplicate: Mapping[str, object] | None = None

    def _extra(self) -> dict[str, object]:
        return {} if self.duplicate is None else {"duplicateResult": dict(self.duplicate)}

    def to_rest(self) -> dict[str, object]:
        """The single-record REST shape: `{message, errorCode, fields}`."""
        return {"message": self.message, "errorCode": self.code, "fields": list(self.fields),
                **self._extra()}

    def to_collection(self) -> dict[str, object]:
        """The sObject Collections shape: `{statusCode, message, fields}`."""
        return {"statusCode": self.code, "message": self.message, "fields": list(self.fields),
                **self._extra()}

    def to_bulk(self) -> str:
        """The Bulk API 2.0 `sf__Error` column: `CODE:message:field1,field2 --`."""
        return f"{self.code}:{self.message}:{','.join(self.fields)} --"


@dataclass(slots=True)
class SalesforceError(Exception):
    """A request-level failure answered with `status` and Salesforce's JSON error list."""

    status: int
    errors: Sequence[FieldError] = field(default_factory=tuple)

    @classmethod
    def of(cls, status: int, code: str, message: str, *fields: str) -> SalesforceError:
        """One-error shortcut."""
        return cls(status, (FieldError(code, message, tuple(fields)),))

    def body(self) -> list[dict[str, object]]:
        """The JSON body Salesforce sends with a failed REST call."""
        out: list[dict[str, object]] = []
        for e in self.errors:
            item: dict[str, object] = {"message": e.message, "errorCode": e.code}
            if e.fields:
                item["fields"] = list(e.fields)
            out.append(item)
        return out

    def __str__(self) -> str:
        return "; ".join(f"{e.code}: {e.message}" for e in self.errors) or str(self.status)


class RecordError(Exception):
    """A record-level failure: the DML operation on one record did not happen."""

    def __init__(self, *errors: FieldError) -> None:
        super().__init__("; ".join(f"{e.code}: {e.message}" for e in errors))
        self.errors: tuple[FieldError, ...] = errors

    @classmethod
    def of(cls, code: str, message: str, *fields: str) -> RecordError:
        """One-error shortcut."""
        return cls(FieldError(code, message, tuple(fields)))
