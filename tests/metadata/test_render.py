"""Rendering is pure, deterministic, golden-tested and valid against the Metadata API schema."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from metadata.render import bundle, render_release
from metadata.schema import validate_files
from tests.metadata.conftest import config

GOLDEN = Path(__file__).parent / "golden"


def test_matches_golden_files() -> None:
    release = render_release(config())
    if os.environ.get("UPDATE_GOLDEN") == "1":
        for path, text in release.files.items():
            (GOLDEN / path).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / path).write_text(text)
    golden = {str(p.relative_to(GOLDEN)): p.read_text() for p in GOLDEN.rglob("*")
              if p.is_file()}
    assert golden == dict(release.files)


def test_every_xml_file_is_valid_metadata() -> None:
    release = render_release(config(cardMapping="Stripe_Payment_Method_Id__c",
                                    permissionSetName="Billing_Integration"))
    assert validate_files(release.files) == []
    broken = dict(release.files)
    broken["objects/Account.object"] = broken["objects/Account.object"].replace(
        "<externalId>true</externalId>", "<externalId>yes</externalId>")
    problems = validate_files(broken)
    assert len(problems) == 1
    assert problems[0].startswith("objects/Account.object:")
    assert "'yes' is not a valid value" in problems[0]


def test_byte_identical_across_runs_and_processes(tmp_path: Path) -> None:
    first = render_release(config(paymentCreationBatchSize=42))
    second = render_release(config(paymentCreationBatchSize=42))
    assert first.files == second.files
    assert bundle(first.metadata_files) == bundle(second.metadata_files)
    # Another interpreter, another hash seed, another working directory: same identity.
    code = ("from tests.metadata.conftest import config; from metadata.render import "
            "render_release; print(render_release(config(paymentCreationBatchSize=42))"
            ".content_hash)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[2],
                         env={**os.environ, "PYTHONHASHSEED": "12345"})
    assert out.stdout.strip() == first.content_hash


def test_zip_entries_are_sorted_with_fixed_timestamps() -> None:
    release = render_release(config())
    with zipfile.ZipFile(io.BytesIO(bundle(release.metadata_files))) as zf:
        infos = zf.infolist()
    assert [i.filename for i in infos] == sorted(release.metadata_files)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert "package.xml" in [i.filename for i in infos]


def test_the_hash_is_the_release_identity() -> None:
    base = render_release(config())
    assert render_release(config(paymentCreationBatchSize=69)).content_hash != base.content_hash
    assert render_release(config(configVersion="2")).content_hash != base.content_hash
    stamp = base.stamp_files["customMetadata/Sfbilling_Release.Current.md"]
    assert base.content_hash in stamp
    assert 'xsi:type="xsd:double">70<' in stamp


def test_values_are_escaped_in_xml() -> None:
    release = render_release(config(configVersion="1 <b>&\"x\""))
    stamp = release.stamp_files["customMetadata/Sfbilling_Release.Current.md"]
    assert "1 &lt;b&gt;&amp;&#34;x&#34;" in stamp
    assert validate_files(release.files) == []
