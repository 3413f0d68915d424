"""The release in Salesforce DX source format: a `force-app/`-style tree and an
`sfdx-project.json`, for teams that keep their org's metadata in an SFDX project and merge ours
into it (docs/org-config.md, "In an SFDX project"). Pure: metadata-format text in, files out.

What source format changes, as `sf project convert mdapi` writes it:
- a CustomObject is decomposed: each `<fields>` becomes `objects/<Object>/fields/<Field>.
  field-meta.xml` (root `CustomField`, its `fullName` kept); what is left of the object goes to
  `objects/<Object>/<Object>.object-meta.xml`, written only when something is left (a standard
  object such as Account carries only our fields);
- a permission set is one file, `permissionsets/<Name>.permissionset-meta.xml`;
- `package.xml` is not part of a source tree (the CLI builds one when it converts or deploys).

The release stamp (the `Sfbilling_Release.Current` record) is not in the tree: `sfbilling apply`
writes it after a deploy, from the release it applied; a team deploying the tree itself applies
the package settings and the stamp with `sfbilling apply` afterwards.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Final

from lxml import etree

if TYPE_CHECKING:
    from collections.abc import Mapping

MD_NS: Final = "http://soap.sforce.com/2006/04/metadata"
ROOT: Final = "force-app/main/default"
PROJECT_FILE: Final = "sfdx-project.json"
_DECLARATION: Final = '<?xml version="1.0" encoding="UTF-8"?>\n'


def _q(tag: str) -> str:
    return f"{{{MD_NS}}}{tag}"


def _text(element: etree._Element) -> str:
    etree.indent(element, space="    ")
    return _DECLARATION + str(etree.tostring(element, encoding="unicode")) + "\n"


def _object(name: str, text: str) -> dict[str, str]:
    root = etree.fromstring(text.encode())
    out: dict[str, str] = {}
    for field in root.findall(_q("fields")):
        full_name = field.findtext(_q("fullName"))
        if not full_name:
            raise ValueError(f"objects/{name}.object: a field without fullName")
        custom = etree.Element(_q("CustomField"), nsmap={None: MD_NS})
        for child in field:
            custom.append(child)
        root.remove(field)
        out[f"{ROOT}/objects/{name}/fields/{full_name}.field-meta.xml"] = _text(custom)
    if len(root):
        out[f"{ROOT}/objects/{name}/{name}.object-meta.xml"] = _text(root)
    return out


def to_source(metadata_files: Mapping[str, str], api_version: str) -> dict[str, str]:
    """The source-format tree (path → text) of a release's metadata-format files, with its
    `sfdx-project.json`."""
    out: dict[str, str] = {}
    for path, text in sorted(metadata_files.items()):
        folder, _, file = path.partition("/")
        if path == "package.xml":
            continue
        if folder == "objects" and file.endswith(".object"):
            out.update(_object(file.removesuffix(".object"), text))
        elif folder == "permissionsets" and file.endswith(".permissionset"):
            out[f"{ROOT}/permissionsets/{file}-meta.xml"] = text
        else:
            raise ValueError(f"{path}: no source-format rule for this metadata type")
    out[PROJECT_FILE] = json.dumps({
        "packageDirectories": [{"path": "force-app", "default": True}],
        "name": "sfbilling-org-config", "namespace": "", "sfdcLoginUrl":
            "https://login.salesforce.com", "sourceApiVersion": api_version}, indent=2) + "\n"
    return out
