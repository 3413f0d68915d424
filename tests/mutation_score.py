"""`make mutation`: the mutation score of the import's pure core and of the code that stops
things (the lease, the org checks, the stack file's reading and writing, promotion's refusals),
per file and overall.

Reads what `mutmut run` left in mutants/ (killed, survived, ...), leaves out the mutants listed
in tests/mutation_equivalents.txt (each with the reason it cannot change behaviour), prints the
score of each file against its 95 % target, and exits 1 below it.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EQUIVALENTS = ROOT / "tests" / "mutation_equivalents.txt"
TARGET = 0.95
PACKAGES = ("sync_lambda", "stackconfig", "sfbilling")  # where the mutated files live
# mutmut's exit codes (mutmut/stats.py): 1 and 3 mean a test failed, 0 that none did.
KILLED = {1, 3, 37}
SURVIVED = {0}


def equivalents() -> dict[str, str]:
    """Mutant name → why it is equivalent."""
    out = {}
    for line in EQUIVALENTS.read_text().splitlines():
        name, _, why = line.partition("#")
        if name.strip():
            out[name.strip()] = why.strip()
    return out


def main() -> int:
    """Print the scores; 1 if a file is under the target or mutants were not run."""
    skip = equivalents()
    metas = sorted(meta for package in PACKAGES
                   for meta in (ROOT / "mutants").glob(f"{package}/*.py.meta"))
    if not metas:
        print("no mutants/ results: run `mutmut run` first (make mutation does)")
        return 1
    ok = True
    totals: Counter[str] = Counter()
    print(f"{'file':<32}{'killed':>8}{'survived':>10}{'other':>7}{'equiv.':>8}{'score':>8}")
    for meta in metas:
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        counts: Counter[str] = Counter()
        survivors = []
        for name, code in codes.items():
            if name in skip:
                counts["equivalent"] += 1
            elif code in KILLED:
                counts["killed"] += 1
            elif code in SURVIVED:
                counts["survived"] += 1
                survivors.append(name)
            else:
                counts["other"] += 1  # no tests, timeout, not run: counted against the score
        scored = counts["killed"] + counts["survived"] + counts["other"]
        score = counts["killed"] / scored if scored else 1.0
        ok &= score >= TARGET
        totals.update(counts)
        name = f"{meta.parent.name}/{meta.name.removesuffix('.meta')}"
        print(f"{name:<32}{counts['killed']:>8}"
              f"{counts['survived']:>10}{counts['other']:>7}{counts['equivalent']:>8}"
              f"{score:>8.1%}")
        for name in survivors:
            print(f"    survived: {name}  (mutmut show {name})")
    scored = totals["killed"] + totals["survived"] + totals["other"]
    overall = totals["killed"] / scored if scored else 1.0
    print(f"{'overall':<32}{totals['killed']:>8}{totals['survived']:>10}{totals['other']:>7}"
          f"{totals['equivalent']:>8}{overall:>8.1%}   (target {TARGET:.0%} per file)")
    stale = sorted(set(skip) - {n for m in metas for n in json.loads(m.read_text())[
        "exit_code_by_key"]})
    for name in stale:
        print(f"    listed as equivalent but no longer generated: {name}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
