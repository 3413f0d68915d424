"""The program's modules import each other as `infra.…`, never by a bare name: under the engine
the root is on sys.path, infra/ is not (and once was, as sys.path[0], which made `import config`
work by accident)."""

from __future__ import annotations

import ast

from tests.infra.program import ROOT


def test_no_module_under_infra_is_imported_by_a_bare_name() -> None:
    bare = {p.stem for p in (ROOT / "infra").glob("*.py")} - {"__init__"}
    sources = [*sorted((ROOT / "infra").glob("*.py")), ROOT / "__main__.py"]
    found = []
    for source in sources:
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom)
                     and node.level == 0 else [])
            found += [f"{source.name}: {n}" for n in names if n.split(".")[0] in bare]
    assert bare, "no module found under infra/"
    assert found == []


def test_the_entry_point_is_the_roots_and_only_it() -> None:
    assert (ROOT / "__main__.py").is_file()
    assert not (ROOT / "infra" / "__main__.py").exists()
    assert "main:" not in [line.split("#")[0].strip()[:5]
                           for line in (ROOT / "Pulumi.yaml").read_text().splitlines()]
