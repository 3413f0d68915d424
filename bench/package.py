"""`make bench` (package part): the Lambda package's size and what fills it, the handler's cold
import next to `import boto3, stripe`, and what an idle run imports.

Goals (issue "Lambda deployment package"): the zip at most 16 MB with boto3 taken from the
runtime; the handler's cold import at most 1.15 times `import boto3, stripe`, both measured on a
host-platform install of the same lock (unpacked, compiled as pip would, boto3 beside it as the
runtime has it), interleaved, median of many.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from bench.planning import row
from infra.lambda_package import LAMBDA, build, host_target

RUNS = 21
LAZY = ("simple_salesforce", "zeep", "lxml", "cryptography", "jwt")


def _timed(statement: str, path: Path) -> float:
    code = (f"import sys, time; sys.path.insert(0, {str(path)!r}); t = time.perf_counter(); "
            f"{statement}; print(time.perf_counter() - t)")
    # -S: nothing of this machine's site-packages, only the unpacked package.
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                         check=True, env={"PATH": "/usr/bin:/bin"}).stdout
    return float(out)


def _third_party(path: Path) -> list[str]:
    code = (f"import sys; sys.path.insert(0, {str(path)!r}); before = set(sys.modules); "
            "import sync_lambda.handler; "
            "print(sorted({m.split('.')[0] for m in set(sys.modules) - before}))")
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                         check=True, env={"PATH": "/usr/bin:/bin"}).stdout
    names: list[str] = eval(out)  # noqa: S307 - our own subprocess's printed list
    stdlib = set(sys.stdlib_module_names)
    return [n for n in names if n not in stdlib and n != "sync_lambda"
            and not n.startswith("_") and n != "cython_runtime"]


def main() -> None:
    """Print the package lines."""
    print("package benchmarks")
    with tempfile.TemporaryDirectory(prefix="bench-package-") as tmp:
        work = Path(tmp)
        package = build(target=LAMBDA, out=work / "lambda.zip")
        size = len(package.data) / 2**20
        row("Lambda zip (python3.12 arm64, boto3 from the runtime)", size, "MB", "<= 16",
            size <= 16)
        top = sorted(((n, s) for n, s in package.distributions.items() if n != "sync_lambda"),
                     key=lambda x: -x[1])[:5]
        print("    largest: " + ", ".join(f"{n} {s / 2**20:.1f} MB" for n, s in top))
        host = build(target=host_target(), out=work / "host.zip",
                     include_runtime_provided=True)
        unpacked = work / "host"
        with zipfile.ZipFile(host.path) as zf:
            zf.extractall(unpacked)
        # As pip installs it (and as the runtime's own boto3 is): compiled.
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(unpacked)], check=True,
                       capture_output=True)
        base, handler = [], []
        for _ in range(RUNS):
            base.append(_timed("import boto3, stripe", unpacked))
            handler.append(_timed("import sync_lambda.handler", unpacked))
        b, h = statistics.median(base), statistics.median(handler)
        row(f"cold import: import boto3, stripe (median of {RUNS})", b * 1000, "ms", "-", True)
        row("cold import: the handler module", h * 1000, "ms", "-", True)
        row("  handler / (boto3 + stripe)", h / b, "x", "<= 1.15", h / b <= 1.15)
        loaded = _third_party(unpacked)
        lazy = [m for m in loaded if m in LAZY]
        print(f"    third-party modules the handler (an idle run) imports: "
              f"{', '.join(loaded)}; lazy ones among them: {', '.join(lazy) or 'none'}")


if __name__ == "__main__":
    main()
