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
