"""Writing promoted keys into a stack file: the keys change, every other line stays byte for
byte (comments, order, quoting, encrypted values, other namespaces)."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackconfig.errors import StackConfigError
from stackconfig.stackfile import read_stack_file
from stackconfig.stackwrite import set_keys, write_keys

ROOT = Path(__file__).resolve().parents[2]
SECURE = ("  sfbilling:stripeApiKey:\n"
          "    secure: v1:4cTnUgVnXz2A0u7q:Jc8r5yJm0n3wKq1vJk2Ho9lT0x4/Yb+5mF3hQvQ==\n"
          "  aws:profile: acme-prod   # an operator's own comment, spacing kept\n")


def _prod() -> str:
    return (ROOT / "Pulumi.prod.yaml").read_text() + SECURE


def _other_lines(text: str, keys: set[str]) -> list[str]:
    return [line for line in text.splitlines(keepends=True)
            if not any(line.startswith(f"  {k}:") for k in keys)]


def test_nothing_to_change_changes_nothing() -> None:
    assert set_keys(_prod(), {}, source="prod") == _prod()


def test_only_the_promoted_lines_change() -> None:
    changes = {"sfbilling:paymentCreationBatchSize": "50",  # quoted before: stays quoted
               "sfbilling:schedule": "cron(0/30 * * * ? *)",  # plain before
               "sfbilling:cardMapping": "Card_Token__c",  # new: appended
               "sfbilling:syncMode": None}  # unset in the sandbox: removed
    before = _prod()
    after = set_keys(before, changes, source="prod")
    assert _other_lines(after, set(changes)) == _other_lines(before, set(changes))
    assert '  sfbilling:paymentCreationBatchSize: "50"\n' in after
    assert "  sfbilling:schedule: cron(0/30 * * * ? *)\n" in after
    assert "sfbilling:syncMode" not in after
    assert SECURE in after  # the encrypted value and the operator's comment, byte for byte


def test_the_written_file_reads_back_with_the_new_values(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(_prod())
    write_keys(path, {"sfbilling:paymentCreationBatchSize": "50",
                      "sfbilling:cardMapping": "Card_Token__c"})
    raw = read_stack_file("prod", tmp_path)
    assert raw["sfbilling:paymentCreationBatchSize"].value == "50"
    assert raw["sfbilling:cardMapping"].value == "Card_Token__c"
    assert raw["sfbilling:stripeApiKey"].secure


def test_a_write_that_would_touch_other_lines_writes_nothing(tmp_path: Path) -> None:
    # The comment below the key belongs to it in the YAML tree: removing the key would take
    # the comment along, so the writer refuses rather than lose it.
    text = "config:\n  sfbilling:syncMode: create_and_link\n  # keep me\n  sfbilling:x: \"1\"\n"
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(text)
    with pytest.raises(StackConfigError, match=r"would also change other lines.*keep me"):
        write_keys(path, {"sfbilling:syncMode": None})
    assert path.read_text() == text


def test_a_file_without_config_is_refused() -> None:
    with pytest.raises(StackConfigError, match="no `config:` mapping"):
        set_keys("encryptionsalt: abc\n", {"sfbilling:x": "1"}, source="prod")


def test_crlf_line_endings_are_kept_byte_for_byte(tmp_path: Path) -> None:
    # GIVEN a stack file saved on Windows
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_bytes(b'# production\r\nconfig:\r\n  sfbilling:paymentCreationBatchSize: "50"\r\n'
                     b"  aws:region: eu-west-1\r\n")
    # WHEN a key is promoted THEN only that line changes, and every line still ends in CRLF
    write_keys(path, {"sfbilling:paymentCreationBatchSize": "70"})
    assert path.read_bytes() == (b'# production\r\nconfig:\r\n  sfbilling:paymentCreationBatch'
                                 b'Size: "70"\r\n  aws:region: eu-west-1\r\n')


def test_a_duplicate_key_is_refused_everywhere_with_its_lines(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.prod.yaml"
    text = ('config:\n  sfbilling:paymentCreationBatchSize: "50"\n  aws:region: eu-west-1\n'
            '  sfbilling:paymentCreationBatchSize: "60"\n')
    path.write_text(text)
    with pytest.raises(StackConfigError, match=r"given twice \(lines 2 and 4\)"):
        read_stack_file("prod", tmp_path)
    with pytest.raises(StackConfigError, match="given twice"):
        write_keys(path, {"sfbilling:paymentCreationBatchSize": "70"})
    assert path.read_text() == text


def test_quoted_null_and_tilde_are_text_as_pulumi_reads_them(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.x.yaml").write_text(
        'config:\n  a:b: "null"\n  a:c: "~"\n  a:d: null\n  a:e: ~\n  a:f:\n')
    raw = read_stack_file("x", tmp_path)
    assert {k: v.value for k, v in raw.items()} == {"a:b": "null", "a:c": "~", "a:d": None,
                                                    "a:e": None, "a:f": None}


def test_a_symlinked_stack_file_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real.yaml"
    real.write_text('config:\n  sfbilling:paymentCreationBatchSize: "50"\n')
    link = tmp_path / "Pulumi.prod.yaml"
    link.symlink_to(real)
    with pytest.raises(StackConfigError, match="symbolic link"):
        write_keys(link, {"sfbilling:paymentCreationBatchSize": "70"})
    assert link.is_symlink()
    assert "50" in real.read_text()


def test_a_file_changed_since_it_was_read_is_not_written(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text('config:\n  sfbilling:paymentCreationBatchSize: "50"\n')
    read = path.read_bytes()
    path.write_text('config:\n  sfbilling:paymentCreationBatchSize: "55"\n')  # someone else
    with pytest.raises(StackConfigError, match="changed since it was read"):
        write_keys(path, {"sfbilling:paymentCreationBatchSize": "70"}, expected=read)
    assert "55" in path.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["Pulumi.prod.yaml"]  # no temporary left
