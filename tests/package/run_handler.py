"""Run the Lambda handler once from an unpacked package, as a cold Lambda would.

    python -S tests/package/run_handler.py UNPACKED_DIR '{"event": ...}'

`-S` keeps this machine's site-packages off the path: everything comes from UNPACKED_DIR.
Prints one JSON line: the handler's result and which lazily imported modules were loaded.
"""

import json
import sys

LAZY = ("simple_salesforce", "zeep", "lxml", "cryptography", "jwt")


class Context:
    """The part of the Lambda context the handler uses."""

    function_name = "sfbilling-sync"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:sfbilling-sync"
    aws_request_id = "cold-start"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 600_000


def main() -> None:
    """Import the handler from the package, run it once, report."""
    sys.path.insert(0, sys.argv[1])
    from sync_lambda import handler

    imported_at_start = sorted(m for m in LAZY if m in sys.modules)
    result = handler.lambda_handler(json.loads(sys.argv[2]), Context())
    print(json.dumps({"result": result, "lazy_at_import": imported_at_start,  # noqa: T201
                      "lazy_after_run": sorted(m for m in LAZY if m in sys.modules),
                      "handler_file": handler.__file__}))


if __name__ == "__main__":
    main()
