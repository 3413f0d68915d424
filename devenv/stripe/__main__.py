"""`python -m devenv.stripe [--port N] [--json FILE]`: localstripe with our extensions."""

from __future__ import annotations

import argparse
from pathlib import Path

from devenv.stripe.server import serve


def main() -> None:
    """Parse arguments and serve until interrupted."""
    p = argparse.ArgumentParser(prog="python -m devenv.stripe", description=__doc__)
    p.add_argument("--port", type=int, default=0, help="port to bind (0 = any free port)")
    p.add_argument("--json", type=Path, help="also write the endpoint info to this file")
    args = p.parse_args()
    serve(args.port, args.json)


if __name__ == "__main__":
    main()
