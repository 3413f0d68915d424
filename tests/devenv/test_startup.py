"""Stand-ins announce themselves only once they answer: started and used at once, under load,
none refuses the first request."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest
import requests

from devenv.aws import AwsStandIn
from devenv.salesforce import SalesforceStandIn
from devenv.stripe import StripeStandIn

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

CYCLES = 30


@pytest.fixture
def busy_cores() -> Iterator[None]:
    """Two busy loops: both cores of the build machine are loaded while the stand-ins start."""
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
               for _ in range(2)]
    time.sleep(0.2)
    yield
    for proc in burners:
        proc.kill()
        proc.wait()


@pytest.mark.slow
def test_started_stand_ins_answer_their_first_request_under_load(busy_cores: None,
                                                                 tmp_path: Path) -> None:
    del busy_cores
    for cycle in range(CYCLES):
        stripe_api, aws = StripeStandIn(), AwsStandIn()
        stripe_api.spawn()
        aws.spawn()
        salesforce = SalesforceStandIn(state_dir=tmp_path / f"sf{cycle}").start()
        try:
            stripe_api.wait()
            aws.wait()
            # Used at once: the very first request of each must be answered.
            stripe_api.reset()
            aws.reset()
            requests.get(salesforce.url + "/services/data/", timeout=10,
                         verify=str(salesforce.ca_file)).raise_for_status()
        finally:
            salesforce.stop()
            stripe_api.stop()
            aws.stop()
