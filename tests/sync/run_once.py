"""`python -m tests.sync.run_once`: one import run in its own process (for crash tests).

Settings come from the environment exactly as on the Lambda; the secrets from two test-only
variables (the stand-ins' throwaway credentials).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from sync_lambda.settings import Secrets, Settings
from sync_lambda.wiring import build_service


def main() -> None:
    """Run once and print the report."""
    secrets = Secrets(stripe_api_key=os.environ["TEST_STRIPE_KEY"],
                      salesforce_private_key=Path(os.environ["TEST_SF_KEY_FILE"]).read_text())
    report = build_service(Settings.from_env(os.environ), secrets).run()
    print(json.dumps(report.to_dict()))  # noqa: T201 - the test reads it


if __name__ == "__main__":
    main()
