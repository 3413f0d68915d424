"""Writing keys into a stack file the way a careful person would by hand: the keys asked for
change, and every other line stays byte for byte — comments, key order, quoting, `secure:`
values, keys of other namespaces.

ruamel.yaml reads and writes the file (a round trip that keeps comments and quoting); the result
is then compared with the original line by line, and anything changed beyond the lines of the
keys asked for is an error and nothing is written, so the guarantee holds whatever the library
does with an unusual file.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ruamel.yaml import YAML
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, ScalarString

from stackconfig.errors import StackConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 1 << 20  # never fold a long line
    yaml.indent(mapping=2, sequence=4, offset=2)
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
    yaml = _yaml()
    try:
        doc = yaml.load(text)
    except DuplicateKeyError as exc:
        raise StackConfigError(source, [f"a key is given twice, so nothing was written: "
                                        f"{str(exc).splitlines()[0]} ({exc.problem_mark})"]) \
            from None
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
    stray = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        stray += [f"line {i1 + n + 1}: {line.rstrip()!r}" for n, line in enumerate(old[i1:i2])
                  if not _key_line(line, keys)]
        stray += [f"new line: {line.rstrip()!r}" for line in new[j1:j2]
                  if not _key_line(line, keys)]
    if stray:
        raise StackConfigError(source, [
            "writing the keys would also change other lines, so nothing was written; edit "
            "the file by hand: " + "; ".join(stray[:5])])


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
    result = set_keys(text.replace("\r\n", "\n") if crlf else text, changes, source=str(path))
    data = (result.replace("\n", "\r\n") if crlf else result).encode()
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        tmp.chmod(stat.S_IMODE(path.stat().st_mode))
        if path.read_bytes() != raw:  # one last look: an edit while this one was prepared
            raise StackConfigError(str(path), ["changed while it was being written: nothing "
                                               "was written; run again"])
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
