"""`python -m bench.full_run`: one full reconcile in a process of its own, for its peak RSS.

Settings come from the environment exactly as on the Lambda (SFB_…); the two secrets from
BENCH_STRIPE_KEY and BENCH_SF_KEY_FILE (the stand-ins' throwaway credentials). Prints one JSON
line: the report's counts, the wall time and this process's peak RSS in MiB.
"""

from __future__ import annotations

import json
import os
import resource
import time
from pathlib import Path

from sync_lambda.settings import Secrets, Settings
from sync_lambda.wiring import build_service


def _peak_rss_mib() -> float:
    """This process's peak resident set size. Linux's ru_maxrss carries the forking parent's
    peak over exec, so VmHWM (this process's own high-water mark) is read when there is one."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    """Run once, print the figures."""
    secrets = Secrets(stripe_api_key=os.environ["BENCH_STRIPE_KEY"],
                      salesforce_private_key=Path(os.environ["BENCH_SF_KEY_FILE"]).read_text())
    started = time.perf_counter()
    report = build_service(Settings.from_env(os.environ), secrets).run(full=True)
    elapsed = time.perf_counter() - started
    rss_mib = _peak_rss_mib()
    print(json.dumps({"kind": report.kind, "customers": report.customers,
                      "outcomes": dict(report.outcomes), "seconds": elapsed,
                      "rss_mib": rss_mib}))


if __name__ == "__main__":
    main()
