"""The settings table of docs/configuration.md, generated from the schema.

    python -m stackconfig.docs          rewrite the table in docs/configuration.md
    python -m stackconfig.docs --check  exit 1 if the docs and the schema differ (tests do this)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Final

from stackconfig.schema import KEYS, RESOURCE_ENV, RUNTIME_ENV, Key

DOC: Final = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
BEGIN: Final = "<!-- generated from stackconfig/schema.py: python -m stackconfig.docs -->"
END: Final = "<!-- end of generated table -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _row(k: Key) -> str:
    default = "—" if k.default is None else f"`{k.default}`"
    if k.name == "resourcePrefix":
        default = "`sfbilling-<env>`"
    kind = "secret" if k.secret else k.kind.describe
    flags = ["**secret**"] if k.secret else []
    flags += ["**required**"] if k.required else []
    doc = k.doc + (f". *{k.scope.value}: {k.why}*" if k.why else "")
    env = f"`{k.env}`" if k.env else "—"
    return (f"| `{k.full}` | {_cell(kind)} | {default} | {k.scope.value} | "
            f"{', '.join(sorted(c.value for c in k.consumers))} | {env} | "
            f"{_cell(' '.join([*flags, doc]))} |")


def table() -> str:
    """The generated section, markers included."""
    lines = [BEGIN, "",
             "| key | kind | default | scope | consumers | Lambda variable | what |",
             "|---|---|---|---|---|---|---|"]
    lines += [_row(k) for k in KEYS]
    lines += ["", "Set by the Pulumi program from the resources it creates: "
              + ", ".join(f"`{v}`" for v in RESOURCE_ENV)
              + " (and, for Powertools, `POWERTOOLS_SERVICE_NAME`: the function's name, the "
              "metrics' `service` dimension). Set by the Lambda runtime: "
              + ", ".join(f"`{v}`" for v in RUNTIME_ENV) + ".", "", END]
    return "\n".join(lines)


def render(text: str) -> str:
    """`text` with its generated section replaced by the current table."""
    start, end = text.index(BEGIN), text.index(END) + len(END)
    return text[:start] + table() + text[end:]


def main(argv: list[str] | None = None) -> int:
    """Rewrite, or check, the table."""
    parser = argparse.ArgumentParser(prog="python -m stackconfig.docs", description=__doc__)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    text = DOC.read_text()
    wanted = render(text)
    if args.check:
        if wanted != text:
            print(f"{DOC} differs from the schema: run python -m stackconfig.docs",  # noqa: T201
                  file=sys.stderr)
            return 1
        return 0
    DOC.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
