"""`sfbilling render --format source`: the release in Salesforce DX source format (pure; the real
`sf project convert source` round trip is in `make sf-cli-tour`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lxml import etree

from metadata.render import render_release
from metadata.source_format import MD_NS, PROJECT_FILE, ROOT, to_source
from sfbilling.environments import org_config

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def release() -> object:
    return render_release(org_config("local", root=REPO))


def _children(element: etree._Element) -> list[tuple[str, str]]:
    return [(str(c.tag), (c.text or "").strip()) for c in element]


def _fields(text: str) -> dict[str, list[tuple[str, str]]]:
    root = etree.fromstring(text.encode())
    return {str(f.findtext(f"{{{MD_NS}}}fullName")): _children(f)
            for f in root.findall(f"{{{MD_NS}}}fields")}


def test_each_field_is_its_own_file_with_the_same_definition(release: object) -> None:
    metadata = release.metadata_files  # type: ignore[attr-defined]
    tree = to_source(metadata, "59.0")
    for path, text in metadata.items():
        if not path.startswith("objects/"):
            continue
        name = path.removeprefix("objects/").removesuffix(".object")
        for field, definition in _fields(text).items():
            source = tree[f"{ROOT}/objects/{name}/fields/{field}.field-meta.xml"]
            root = etree.fromstring(source.encode())
            assert root.tag == f"{{{MD_NS}}}CustomField"
            assert _children(root) == definition


def test_only_a_custom_object_keeps_an_object_file_and_the_rest_is_as_rendered(
        release: object) -> None:
    tree = to_source(release.metadata_files, "59.0")  # type: ignore[attr-defined]
    objects = sorted(p for p in tree if p.endswith(".object-meta.xml"))
    assert objects == [f"{ROOT}/objects/Sfbilling_Release__mdt/Sfbilling_Release__mdt"
                       ".object-meta.xml"]
    assert "<fields>" not in tree[objects[0]] and "<label>" in tree[objects[0]]
    [permission_set] = [p for p in tree if "/permissionsets/" in p]
    assert permission_set.endswith(".permissionset-meta.xml")
    assert not any(p.endswith("package.xml") for p in tree)
    assert not any("customMetadata" in p for p in tree)  # the stamp is apply's
    project = json.loads(tree[PROJECT_FILE])
    assert project["packageDirectories"] == [{"path": "force-app", "default": True}]
    assert project["sourceApiVersion"] == "59.0"


def test_an_unknown_metadata_type_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^layouts/X.layout: no source-format rule"):
        to_source({"layouts/X.layout": "<Layout/>"}, "59.0")
