"""Writing promoted keys into a stack file: the keys change, every other line stays byte for
byte (comments, order, quoting, encrypted values, other namespaces)."""

from __future__ import annotations

import os
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
               "sfbilling:syncMode": "link_existing",  # plain before
               "sfbilling:schedule": "cron(0/30 * * * ? *)",  # new: appended
               "sfbilling:configVersion": None}  # unset in the sandbox: removed
    before = _prod()
    after = set_keys(before, changes, source="prod")
    assert _other_lines(after, set(changes)) == _other_lines(before, set(changes))
    assert '  sfbilling:paymentCreationBatchSize: "50"\n' in after
    assert "  sfbilling:syncMode: link_existing\n" in after
    assert '  sfbilling:schedule: "cron(0/30 * * * ? *)"\n' in after
    assert "sfbilling:configVersion" not in after
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


# -- the guarantee, rule by rule (make mutation runs these) ------------------------------------
def _refusal(call: object, *args: object, **kwargs: object) -> StackConfigError:
    assert callable(call)
    with pytest.raises(StackConfigError) as caught:
        call(*args, **kwargs)
    return caught.value


def test_a_new_key_is_written_double_quoted_as_pulumi_config_set_writes_text() -> None:
    # GIVEN a key the file does not have WHEN it is promoted THEN it is appended, quoted
    after = set_keys('config:\n  aws:region: eu-west-1\n', {"sfbilling:cardMapping": "T"},
                     source="prod")
    assert after == 'config:\n  aws:region: eu-west-1\n  sfbilling:cardMapping: "T"\n'


def test_removing_a_key_the_file_does_not_have_changes_nothing() -> None:
    text = 'config:\n  aws:region: eu-west-1\n'
    assert set_keys(text, {"sfbilling:syncMode": None}, source="prod") == text


def test_a_long_value_stays_on_one_line() -> None:
    # GIVEN a value far wider than YAML's usual 80 columns, with spaces a folder would break at
    long = " ".join(["word"] * 400)
    after = set_keys('config:\n  a:b: "1"\n', {"a:b": long}, source="prod")
    assert after == f'config:\n  a:b: "{long}"\n'


def test_nested_mappings_and_sequences_keep_pulumis_indentation() -> None:
    # GIVEN structured values in the layout `pulumi config set --path` writes
    text = ('config:\n  aws:defaultTags:\n    tags:\n      team: billing\n'
            '  sfbilling:alarmEmails:\n    - ops@example.com\n    - name: x\n'
            '      mail: y@example.com\n  sfbilling:x: "1"\n')
    # WHEN another key is written THEN they are byte for byte as before
    assert set_keys(text, {"sfbilling:x": "2"}, source="prod") == text.replace('"1"', '"2"')


def test_neighbouring_keys_in_a_long_file_with_repeated_separators_are_written() -> None:
    # GIVEN a file of 300 keys, each under the same separator comment (a line a junk
    # heuristic would ignore)
    text = "config:\n" + "".join(f"  # ---\n  app:k{i}: v{i}\n" for i in range(300))
    # WHEN two neighbouring keys are promoted THEN only their two lines change
    after = set_keys(text, {"app:k50": "x", "app:k51": "y"}, source="prod")
    assert after == text.replace("app:k50: v50\n", "app:k50: x\n").replace(
        "app:k51: v51\n", "app:k51: y\n")


def test_a_refusal_names_each_stray_line_with_its_number_as_written() -> None:
    # GIVEN comments that belong to keys being removed in the YAML tree
    text = ('config:\n  a:one: "1"\n  # first kept  \n  a:keep: "0"\n  a:two: "2"\n'
            '  # second kept\n  a:three: "3"\n')
    error = _refusal(set_keys, text, {"a:one": None, "a:two": None}, source="Pulumi.prod.yaml")
    # THEN the file, what to do and each line (number, text without its line break) are named
    assert error.source == "Pulumi.prod.yaml"
    [problem] = error.problems
    assert "nothing was written" in problem
    assert "edit the file by hand" in problem
    assert problem.endswith("line 3: '  # first kept'; line 6: '  # second kept'")


def test_a_refusal_shows_five_stray_lines_and_counts_the_rest() -> None:
    text = "config:\n  a:gone: \"1\"\n" + "".join(f"  # note {n}\n" for n in range(8)) + \
        '  a:kept: "2"\n'
    [problem] = _refusal(set_keys, text, {"a:gone": None}, source="prod").problems
    assert "line 7: '  # note 4' (and 3 more)" in problem
    assert "note 5" not in problem
    assert "line 3: '  # note 0'; line 4: '  # note 1'" in problem


def test_five_stray_lines_are_shown_without_a_count() -> None:
    text = "config:\n  a:gone: \"1\"\n" + "".join(f"  # note {n}\n" for n in range(5)) + \
        '  a:kept: "2"\n'
    [problem] = _refusal(set_keys, text, {"a:gone": None}, source="prod").problems
    assert problem.endswith("line 7: '  # note 4'")


def test_a_refusal_names_stray_new_lines_too() -> None:
    # GIVEN a sequence indented in the other common style, which the round trip re-indents
    text = 'config:\n  a:b:\n  - 1\n  - 2\n  a:c: "2"\n'
    [problem] = _refusal(set_keys, text, {"a:c": "3"}, source="prod").problems
    # THEN both the old lines and the lines that would replace them are named
    assert ("line 3: '  - 1'; line 4: '  - 2'; new line: '    - 1'; new line: '    - 2'"
            in problem)


def test_a_duplicate_key_is_named_with_both_lines_before_anything_is_written() -> None:
    text = 'config:\n  a:b: "1"\n  a:c: "2"\n  a:b: "3"\n'
    error = _refusal(set_keys, text, {"a:c": "4"}, source="Pulumi.prod.yaml")
    assert error.source == "Pulumi.prod.yaml"
    assert error.problems == ["a:b is given twice (lines 2 and 4): Pulumi would read one of "
                              "them; keep one"]


def test_a_file_without_config_is_refused_naming_the_file() -> None:
    error = _refusal(set_keys, "encryptionsalt: abc\n", {"a:b": "1"}, source="Pulumi.prod.yaml")
    assert error.source == "Pulumi.prod.yaml"
    assert error.problems == ["no `config:` mapping to write into"]


def test_an_lf_file_stays_lf(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_bytes(b'config:\n  a:b: "1"\n  a:c: x\n')
    write_keys(path, {"a:b": "2"})
    assert path.read_bytes() == b'config:\n  a:b: "2"\n  a:c: x\n'


def test_mixed_line_endings_are_refused(tmp_path: Path) -> None:
    # GIVEN a file whose lines end in CRLF and LF both (a hand edit on two systems)
    path = tmp_path / "Pulumi.prod.yaml"
    raw = b'config:\r\n  a:b: "1"\n  a:c: x\r\n'
    path.write_bytes(raw)
    error = _refusal(write_keys, path, {"a:b": "2"})
    # THEN nothing is written, and the message says why and what to do
    assert error.source == str(path)
    assert error.problems[0].startswith("mixes CRLF and LF line endings")
    assert error.problems[0].endswith("nothing was written; convert the file to one kind of "
                                      "line ending")
    assert path.read_bytes() == raw


def test_errors_of_a_write_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text("encryptionsalt: abc\n")
    assert _refusal(write_keys, path, {"a:b": "1"}).source == str(path)
    path.write_text('config:\n  a:b: "1"\n  # a comment of a:b\n')
    assert _refusal(write_keys, path, {"a:b": None}).source == str(path)


def test_a_symlink_refusal_names_the_link_and_the_file_to_write(tmp_path: Path) -> None:
    real = tmp_path / "real.yaml"
    real.write_text('config:\n  a:b: "1"\n')
    link = tmp_path / "Pulumi.prod.yaml"
    link.symlink_to(real)
    error = _refusal(write_keys, link, {"a:b": "2"})
    assert error.source == str(link)
    assert f"is a symbolic link: write the file it points to ({real})" in error.problems[0]


def test_a_file_changed_since_read_names_the_file_and_says_run_again(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text('config:\n  a:b: "1"\n')
    error = _refusal(write_keys, path, {"a:b": "2"}, expected=b"something else")
    assert error.source == str(path)
    assert error.problems[0].startswith("changed since it was read")
    assert error.problems[0].endswith("nothing was written; run again")


class _MidWrite:
    """Stands at the moment the new bytes are flushed (os.fsync): what the directory holds
    then, and optionally someone else's edit at that very moment."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, path: Path, *, edit: bytes = b"",
                 lose_temporary: bool = False) -> None:
        self.listing: list[str] = []
        real_fsync = os.fsync

        def fsync(fd: int) -> None:
            real_fsync(fd)
            self.listing = sorted(p.name for p in path.parent.iterdir())
            if edit:
                path.write_bytes(edit)
            if lose_temporary:
                for p in path.parent.glob(f".{path.name}.*"):
                    p.unlink()

        monkeypatch.setattr(os, "fsync", fsync)


def test_the_new_file_is_prepared_beside_the_old_one_and_renamed_over_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a stack file WHEN a key is written
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text('config:\n  a:b: "1"\n')
    seen = _MidWrite(monkeypatch, path)
    write_keys(path, {"a:b": "2"})
    # THEN the new bytes were first in a hidden temporary of the same directory (a rename
    # within one file system is atomic), and only the stack file is left
    [temporary] = [n for n in seen.listing if n != path.name]
    assert temporary.startswith(".Pulumi.prod.yaml.")
    assert [p.name for p in tmp_path.iterdir()] == ["Pulumi.prod.yaml"]
    assert path.read_text() == 'config:\n  a:b: "2"\n'


def test_an_edit_while_writing_wins_and_the_write_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text('config:\n  a:b: "1"\n')
    _MidWrite(monkeypatch, path, edit=b'config:\n  a:b: "9"\n')
    error = _refusal(write_keys, path, {"a:b": "2"})
    assert error.source == str(path)
    assert "changed while it was being written" in error.problems[0]
    assert "nothing was written; run again" in error.problems[0]
    assert path.read_bytes() == b'config:\n  a:b: "9"\n'
    assert [p.name for p in tmp_path.iterdir()] == ["Pulumi.prod.yaml"]


def test_a_temporary_already_gone_does_not_hide_the_refusal(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text('config:\n  a:b: "1"\n')
    _MidWrite(monkeypatch, path, edit=b'config:\n  a:b: "9"\n', lose_temporary=True)
    assert "changed while it was being written" in _refusal(write_keys, path,
                                                             {"a:b": "2"}).problems[0]
