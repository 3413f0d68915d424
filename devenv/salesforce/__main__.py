"""`python -m devenv.salesforce [--port N] [--state-dir DIR] [--json FILE]`."""

from __future__ import annotations

import argparse
from pathlib import Path

from devenv.salesforce.server import serve_forever


def main() -> None:
    """Parse arguments and serve until SIGINT/SIGTERM."""
    p = argparse.ArgumentParser(prog="python -m devenv.salesforce", description=__doc__)
    p.add_argument("--port", type=int, default=0, help="port to bind (0 = any free port)")
    p.add_argument("--state-dir", type=Path, help="where the TLS cert and app key are written")
    p.add_argument("--json", type=Path, help="also write the connection info to this file")
    args = p.parse_args()
    serve_forever(args.port, args.state_dir, args.json)


if __name__ == "__main__":
    main()
