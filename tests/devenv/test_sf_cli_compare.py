"""The source round trip's comparison (`make sf-cli-tour`): what counts as the same metadata."""

from __future__ import annotations

from typing import TYPE_CHECKING

from devenv.sf_cli import canonical, differences

if TYPE_CHECKING:
    from pathlib import Path

NS = 'xmlns="http://soap.sforce.com/2006/04/metadata"'
FIELD_A = "<fields><fullName>A__c</fullName><label>It&apos;s A</label></fields>"
FIELD_B = "<fields><fullName>B__c</fullName><label>B</label></fields>"


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_order_whitespace_and_entities_do_not_count() -> None:
    ours = f"<CustomObject {NS}>\n    {FIELD_A}\n    {FIELD_B}\n</CustomObject>"
    theirs = f"<CustomObject {NS}>{FIELD_B}{FIELD_A.replace('&apos;', '&#39;')}</CustomObject>"
    assert canonical(ours) == canonical(theirs)


def test_a_changed_value_a_missing_file_and_an_extra_one_count(tmp_path: Path) -> None:
    obj = f"<CustomObject {NS}>{FIELD_A}</CustomObject>"
    ours = _tree(tmp_path / "ours", {"objects/X.object": obj, "objects/Y.object": obj,
                                     "package.xml": "<Package/>"})
    theirs = _tree(tmp_path / "theirs", {"objects/X.object": obj.replace("It&apos;s A", "A"),
                                         "objects/Z.object": obj, "package.xml": "<Other/>"})
    assert differences(ours, theirs) == [
        "only in render's metadata format: objects/Y.object",
        "only in the converted source: objects/Z.object",
        "objects/X.object: differs"]
