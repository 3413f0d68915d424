"""Builds the service from settings and secrets: the one composition root the Lambda handler and
`sfbilling sync` share, so both run the same code path."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import boto3

from sync_lambda.adapters.dynamodb_state import DynamoStateStore
from sync_lambda.adapters.salesforce_sink import SalesforceSink
from sync_lambda.adapters.stripe_source import StripeSourceAdapter
from sync_lambda.planning import PlanOptions
from sync_lambda.service import DeactivationLimit, Progress, RunConfig, SyncService

if TYPE_CHECKING:
    from collections.abc import Callable

    from sync_lambda.settings import Secrets, Settings


def run_config(settings: Settings) -> RunConfig:
    """The service's view of the settings."""
    return RunConfig(
        mode=settings.mode,
        options=PlanOptions(mode=settings.mode, fields=settings.fields,
                            metadata_key=settings.metadata_key,
                            include_bank_accounts=settings.include_bank_accounts,
                            reconcile=True),
        segment_size=settings.segment_size, max_attempts=settings.max_attempts,
        deadline_reserve_s=settings.deadline_reserve_s, lease_ttl_s=settings.lease_ttl_s,
        lease_wait_s=settings.lease_wait_s, request_timeout_s=settings.salesforce_timeout_s,
        deactivation_limit=DeactivationLimit(settings.mass_deactivation_share,
                                             settings.mass_deactivation_count))


def build_service(settings: Settings, secrets: Secrets, *,
                  remaining_s: Callable[[], float | None] = lambda: None,
                  progress: Progress | None = None,
                  clock: Callable[[], float] = time.time) -> SyncService:
    """Adapters wired to the service; nothing connects until the run needs it."""
    secrets.check(settings)
    stripe = StripeSourceAdapter.connect(
        secrets.stripe_api_key, api_base=settings.stripe_api_base, rate=settings.stripe_rate,
        concurrency=settings.stripe_concurrency,
        include_bank_accounts=settings.include_bank_accounts)
    sink = SalesforceSink(settings, secrets, remaining_s=remaining_s)
    state = DynamoStateStore(
        boto3.client("dynamodb", region_name=settings.aws_region,
                     endpoint_url=settings.aws_endpoint_url), settings.table_name, clock=clock)
    return SyncService(stripe, sink, state, run_config(settings), remaining_s=remaining_s,
                       progress=progress, clock=clock)
