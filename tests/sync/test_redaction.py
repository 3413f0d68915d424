"""No customer name or email in an error: every error path of the Salesforce connection, with a
marker customer in the query it failed on (the message reaches the Lambda's log and the
dead-letter queue)."""

from __future__ import annotations

import traceback
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote_plus

import pytest
import requests
from simple_salesforce.exceptions import (
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
)

from sync_lambda.adapters.salesforce_connection import SalesforceConnection
from sync_lambda.errors import SyncError
from sync_lambda.redact import redact
from tests.metadata.conftest import credentials

if TYPE_CHECKING:
    from devenv.salesforce import SalesforceStandIn

MARKER = "Zyxwvut Marker"
EMAIL = "zyxwvut.marker@example.org"
# A query as the import builds it, with the marker's values (a test string, never sent as SQL).
SOQL = (f"SELECT Id, Name FROM Account WHERE Name IN ('{MARKER}', 'Zyxwvut') AND "  # noqa: S608
        f"Missing__c = '{EMAIL}'")
URL = f"/services/data/v59.0/query/?q={quote_plus(SOQL)}"


def _leaks(exc: BaseException) -> list[str]:
    text = "".join(traceback.format_exception(exc))
    return [m for m in (MARKER, "Zyxwvut'", EMAIL, quote_plus(MARKER), quote_plus(EMAIL))
            if m in text]


def test_redact_keeps_codes_api_names_and_ids() -> None:
    text = (f"[{{'errorCode': 'INVALID_FIELD', 'message': \"\\n{SOQL}\\n ^\\nERROR at Row:1"
            "\\nNo such column 'Missing__c' on entity 'Account'\"}] cus_Q1w2e3 "
            f"001000000000001AAA url: {URL}")
    out = redact(text)
    assert MARKER not in out and EMAIL not in out and "Zyxwvut" not in out
    for kept in ("INVALID_FIELD", "'Missing__c'", "'Account'", "cus_Q1w2e3",
                 "001000000000001AAA"):
        assert kept in out


def test_a_query_salesforce_refuses_names_no_customer(salesforce: SalesforceStandIn) -> None:
    # The stand-in echoes the refused SOQL, as Salesforce does (INVALID_FIELD).
    api = SalesforceConnection(credentials(salesforce), sleep=lambda _s: None)
    with pytest.raises(SyncError) as caught:
        api.query(SOQL)
    assert "INVALID_FIELD" in str(caught.value)
    assert _leaks(caught.value) == []


class _Content:
    """What simple-salesforce puts in an exception, for each error path."""

    url: ClassVar[str] = f"https://acme.my.salesforce.com{URL}"
    content: ClassVar[Any] = [{"errorCode": "MALFORMED_QUERY",
                               "message": f"unexpected token: {SOQL}"}]


@pytest.mark.parametrize("failure", [
    lambda: SalesforceMalformedRequest(_Content.url, 400, "query", _Content.content),
    lambda: SalesforceRefusedRequest(_Content.url, 403, "query", _Content.content),
    lambda: SalesforceGeneralError(_Content.url, 418, "query", _Content.content),
    lambda: SalesforceGeneralError(_Content.url, 503, "query", _Content.content),
    lambda: requests.ConnectionError(
        f"HTTPSConnectionPool(host='acme.my.salesforce.com', port=443): Max retries exceeded "
        f"with url: {URL} (Caused by NewConnectionError('Connection refused'))"),
], ids=["malformed", "refused", "other status", "503 until the end", "connection"])
def test_every_error_path_names_no_customer(salesforce: SalesforceStandIn,
                                            failure: Any) -> None:
    api = SalesforceConnection(credentials(salesforce), sleep=lambda _s: None)

    def query(_sf: Any) -> Any:
        raise failure()

    with pytest.raises(SyncError) as caught:
        api.call(query)
    assert _leaks(caught.value) == [], str(caught.value)
