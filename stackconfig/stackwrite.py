"""Writing keys into a stack file the way a careful person would by hand: the keys asked for
change, and every other line stays byte for byte — comments, key order, quoting, `secure:`
values, keys of other namespaces.

ruamel.yaml reads and writes the file (a round trip that keeps comments and quoting); the result
is then compared with the original line by line, and anything changed beyond the lines of the
keys asked for is an error and nothing is written, so the guarantee holds whatever the library
does with an unusual file.
"""

from __future__ import annotations

import difflib
import io
import os
import re
import stat
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, ScalarString

from stackconfig.errors import StackConfigError
from stackconfig.stackfile import load_text

if TYPE_CHECKING:
    from collections.abc import Mapping


# Lines shown in a refusal: enough to find the trouble, short enough to read.
SHOWN = 5


def _yaml() -> YAML:
    yaml = YAML()  # round trip: comments and quoting are kept
    yaml.preserve_quotes = True
    yaml.width = sys.maxsize  # never fold a long line
    # Sequences as Pulumi writes them, "    - item" under a key; mappings keep ruamel's
    # default indent of 2, which is Pulumi's.
    yaml.indent(sequence=4, offset=2)
    return yaml


def _value(old: Any, new: str) -> Any:
    # Keep the key's quoting; a new key is double-quoted, as `pulumi config set` writes text.
    if isinstance(old, ScalarString):
        return type(old)(new)
    return new if old is not None else DoubleQuotedScalarString(new)


def _key_line(line: str, keys: set[str]) -> bool:
    match = re.match(r"^\s+([^\s#][^:]*:[^:\s]+|[^\s#:]+):", line)
    return match is not None and match.group(1) in keys


def set_keys(text: str, changes: Mapping[str, str | None], *, source: str) -> str:
    """`text` with each key of `changes` under `config:` set to its text (None: removed)."""
    # Pulumi's own reading first: a key given twice is refused with both its lines, before
    # the round trip (which would keep one of them silently or fail less clearly).
    load_text(text, source=source)
    yaml = _yaml()
    doc = yaml.load(text)
    if doc is None or "config" not in doc or not hasattr(doc["config"], "items"):
        raise StackConfigError(source, ["no `config:` mapping to write into"])
    config = doc["config"]
    for key, value in changes.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = _value(config.get(key), value)
    out = io.StringIO()
    yaml.dump(doc, out)
    result = out.getvalue()
    _check_only_keys_changed(text, result, set(changes), source)
    return result


def _check_only_keys_changed(before: str, after: str, keys: set[str], source: str) -> None:
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    stray: list[str] = []
    # No junk heuristic: in a long file a repeated line (a separator comment) would count as
    # junk, and two neighbouring keys changed would then show their separator as changed.
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        stray += [f"line {i1 + n + 1}: {line.rstrip()!r}" for n, line in enumerate(old[i1:i2])
                  if not _key_line(line, keys)]
        stray += [f"new line: {line.rstrip()!r}" for line in new[j1:j2]
                  if not _key_line(line, keys)]
    if stray:
        more = f" (and {len(stray) - SHOWN} more)" if len(stray) > SHOWN else ""
        raise StackConfigError(source, [
            "writing the keys would also change other lines, so nothing was written; edit "
            "the file by hand: " + "; ".join(stray[:SHOWN]) + more])


def write_keys(path: Path, changes: Mapping[str, str | None], *,
               expected: bytes | None = None) -> None:
    """Set keys in the stack file at `path` (see `set_keys`), byte for byte elsewhere, line
    endings included, as one atomic replace (a temporary file in the same directory, renamed
    over it: a reader never sees half a file). `expected`: the bytes read when the change was
    worked out; if the file changed since, nothing is written. A symlink is refused: the
    rename would replace the link, not the file it points to."""
    if path.is_symlink():
        raise StackConfigError(str(path), ["is a symbolic link: write the file it points to "
                                           f"({path.resolve()}) by name, or replace the link"])
    raw = path.read_bytes()
    if expected is not None and raw != expected:
        raise StackConfigError(str(path), ["changed since it was read (another edit or "
                                           "promotion?): nothing was written; run again"])
    text = raw.decode()
    crlf = "\r\n" in text
    if crlf and text.count("\n") != text.count("\r\n"):
        raise StackConfigError(str(path), [
            "mixes CRLF and LF line endings, so a write could not keep every other line byte "
            "for byte: nothing was written; convert the file to one kind of line ending"])
    result = set_keys(text.replace("\r\n", "\n"), changes, source=str(path))
    data = (result.replace("\n", "\r\n") if crlf else result).encode()
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), stat.S_IMODE(path.stat().st_mode))  # the file's own mode
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if path.read_bytes() != raw:  # one last look: an edit while this one was prepared
            raise StackConfigError(str(path), ["changed while it was being written: nothing "
                                               "was written; run again"])
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # gone already: the error that brought us here matters
        raise
