"""A one-field Metadata API package the stand-in tour and benchmark deploy (the product's own
packages come from the org-config renderer in metadata/)."""

from __future__ import annotations

import io
import zipfile

_NS = 'xmlns="http://soap.sforce.com/2006/04/metadata"'


def _text_field(name: str, label: str, *, external_id: bool) -> str:
    ext = ("<externalId>true</externalId><unique>true</unique>"
           "<caseSensitive>true</caseSensitive>") if external_id else ""
    return (f"<fields><fullName>{name}</fullName><label>{label}</label><type>Text</type>"
            f"<length>255</length>{ext}</fields>")


def _zip(files: dict[str, str]) -> io.BytesIO:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    buf.seek(0)
    return buf


def _package(members: list[str]) -> str:
    body = "".join(f"<members>{m}</members>" for m in members)
    return (f'<?xml version="1.0" encoding="UTF-8"?><Package {_NS}><types>{body}'
            "<name>CustomField</name></types><version>59.0</version></Package>")


def _object(*fields: str) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?><CustomObject {_NS}>{"".join(fields)}' \
           "</CustomObject>"


def account_external_id_zip() -> io.BytesIO:
    """A deployable zip adding Account.Stripe_Customer_Id__c (Text 255, unique external id)."""
    return _zip({
        "package.xml": _package(["Account.Stripe_Customer_Id__c"]),
        "objects/Account.object": _object(_text_field("Stripe_Customer_Id__c",
                                                      "Stripe Customer ID", external_id=True)),
    })
