"""The one error of the stack configuration: every problem of a stack, one line each."""

from __future__ import annotations


class StackConfigError(Exception):
    """A stack's configuration cannot be used; `problems` names the key and the fix of each."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(f"{source}:\n  " + "\n  ".join(problems))
        self.source = source
        self.problems = problems
