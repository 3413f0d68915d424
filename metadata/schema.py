"""Validates rendered XML against the Metadata API schema that ships with simple-salesforce
(`metadata.wsdl`, API 63.0): element names, order, enums and types, before anything is sent."""

from __future__ import annotations

import functools
from importlib import resources
from typing import TYPE_CHECKING

from lxml import etree

if TYPE_CHECKING:
    from collections.abc import Mapping

_XSD = "http://www.w3.org/2001/XMLSchema"
MD_NS = "http://soap.sforce.com/2006/04/metadata"
# The root elements a release contains, and the schema type of each.
ROOTS = ("Package", "CustomObject", "PermissionSet", "CustomMetadata")


@functools.cache
def metadata_schema() -> etree.XMLSchema:
    """The XSD inside the WSDL, with global elements for the roots we render (compiled once)."""
    wsdl = etree.parse(str(resources.files("simple_salesforce") / "metadata.wsdl"))
    source = wsdl.find(f".//{{{_XSD}}}schema")
    if source is None:
        raise RuntimeError("simple-salesforce's metadata.wsdl has no schema")
    nsmap = {**{k: v for k, v in source.nsmap.items() if k}, "tns": MD_NS, "xsd": _XSD}
    schema = etree.Element(f"{{{_XSD}}}schema", nsmap=nsmap,
                           attrib={"targetNamespace": MD_NS, "elementFormDefault": "qualified"})
    for child in source:
        schema.append(child)
    for root in ROOTS:
        etree.SubElement(schema, f"{{{_XSD}}}element", name=root, type=f"tns:{root}")
    return etree.XMLSchema(schema)


def validate_files(files: Mapping[str, str]) -> list[str]:
    """Problems of every XML file in `files` (empty when all are valid)."""
    schema = metadata_schema()
    problems = []
    for path, text in sorted(files.items()):
        if path.endswith((".json", ".md.json")) or not text.lstrip().startswith("<?xml"):
            continue
        try:
            doc = etree.fromstring(text.encode())
        except etree.XMLSyntaxError as exc:
            problems.append(f"{path}: not well-formed XML: {exc}")
            continue
        if not schema.validate(doc):
            problems += [f"{path}:{e.line}: {e.message}" for e in schema.error_log]
    return problems
