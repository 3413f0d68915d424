"""A one-field Metadata API package: what the tour and the stand-in benchmark deploy."""

from __future__ import annotations

import io
import zipfile

_FIELD = """<?xml version="1.0" encoding="UTF-8"?>
<CustomObject xmlns="http://soap.sforce.com/2006/04/metadata"><fields>
<fullName>Stripe_Customer_Id__c</fullName><label>Stripe Customer ID</label><type>Text</type>
<length>255</length><externalId>true</externalId><unique>true</unique>
<caseSensitive>true</caseSensitive></fields></CustomObject>"""
_PACKAGE = """<?xml version="1.0" encoding="UTF-8"?>
<Package xmlns="http://soap.sforce.com/2006/04/metadata"><types>
<members>Account.Stripe_Customer_Id__c</members><name>CustomField</name></types>
<version>59.0</version></Package>"""


def account_external_id_zip() -> io.BytesIO:
    """A deployable zip adding Account.Stripe_Customer_Id__c (Text 255, unique external id)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("package.xml", _PACKAGE)
        zf.writestr("objects/Account.object", _FIELD)
    buf.seek(0)
    return buf
