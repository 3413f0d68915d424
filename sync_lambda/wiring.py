"""Builds the service from settings and secrets: the one composition root the Lambda handler and
`sfbilling sync` share, so both run the same code path."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING

import boto3

from sync_lambda.adapters.dynamodb_state import DynamoStateStore
from sync_lambda.adapters.stripe_budget import StripeLimits
from sync_lambda.adapters.stripe_source import StripeSourceAdapter
from sync_lambda.api_usage import ApiBudget
from sync_lambda.guards import DeactivationLimit
from sync_lambda.models import PlanOptions
from sync_lambda.service import Progress, RunConfig, SyncService

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

    from sync_lambda.api_usage import ApiUsage
    from sync_lambda.models import OrgFacts, Snapshot
    from sync_lambda.planning import Plan, SalesforceView
    from sync_lambda.ports import BillingSink, StateStore
    from sync_lambda.settings import Secrets, Settings
    from sync_lambda.state import ApplyResult


class LazySink:
    """The Salesforce sink, built on first use: a run with nothing to do never imports
    simple-salesforce, zeep, lxml or cryptography (a quarter of the cold start)."""

    def __init__(self, factory: Callable[[], BillingSink]) -> None:
        self._factory = factory
        self._sink: BillingSink | None = None

    def _get(self) -> BillingSink:
        if self._sink is None:
            self._sink = self._factory()
        return self._sink

    def facts(self) -> OrgFacts:
        return self._get().facts()

    def view(self, snapshots: Sequence[Snapshot], detached: Iterable[str],
             options: PlanOptions) -> SalesforceView:
        return self._get().view(snapshots, detached, options)

    def apply(self, plan: Plan, options: PlanOptions, on_job: Callable[[str, bool], None],
              guard: Callable[[], None]) -> ApplyResult:
        return self._get().apply(plan, options, on_job, guard)

    def customers_with_active_methods(self) -> set[str]:
        return self._get().customers_with_active_methods()

    def linked_customers(self) -> set[str]:
        return self._get().linked_customers()

    def payment_method_tokens(self) -> Iterator[tuple[str, str, str]]:
        return self._get().payment_method_tokens()

    def count_active_payment_methods(self) -> int:
        return self._get().count_active_payment_methods()

    def count_linked_accounts(self) -> int:
        return self._get().count_linked_accounts()

    def settle(self, job_ids: Sequence[str]) -> None:
        self._get().settle(job_ids)

    def calls(self) -> int:
        return 0 if self._sink is None else self._sink.calls()

    def api_usage(self) -> ApiUsage | None:
        return None if self._sink is None else self._sink.api_usage()


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
                                             settings.mass_deactivation_count),
        api_budget=ApiBudget(settings.salesforce_api_budget_share))


def build_service(settings: Settings, secrets: Secrets, *,
                  remaining_s: Callable[[], float | None] = lambda: None,
                  progress: Progress | None = None,
                  clock: Callable[[], float] = time.time,
                  fail_fast: bool = False, dry_run: bool = False,
                  state: StateStore | None = None, sample: int | None = None) -> SyncService:
    """Adapters wired to the service; nothing connects until the run needs it. `fail_fast`
    (the CLI): an org that cannot be reached or trusted is said at once, not retried.
    `dry_run`: Stripe's budget is cut to `stripeDryRunShare`, leaving the rest to the scheduled
    import. `state`: another state store (a sampled dry run's, before any table exists);
    `sample`: plan at most this many customers."""
    secrets.check(settings)
    limits = stripe_limits(settings, secrets)
    if dry_run:
        limits = limits.share(settings.stripe_dry_run_share)
    stripe = StripeSourceAdapter.connect(
        secrets.stripe_api_key, api_base=settings.stripe_api_base, limits=limits,
        concurrency=settings.stripe_concurrency,
        include_bank_accounts=settings.include_bank_accounts)
    def salesforce() -> BillingSink:
        # The lazy edge: imported only when the run has something to read or write there.
        from sync_lambda.adapters.salesforce_sink import SalesforceSink  # noqa: PLC0415

        return SalesforceSink(settings, secrets, remaining_s=remaining_s, fail_fast=fail_fast)

    sink = LazySink(salesforce)
    if state is None:
        state = DynamoStateStore(
            boto3.client("dynamodb", region_name=settings.aws_region,
                         endpoint_url=settings.aws_endpoint_url), settings.table_name,
            clock=clock)
    return SyncService(stripe, sink, state, replace(run_config(settings), sample=sample),
                       remaining_s=remaining_s, progress=progress, clock=clock)


def stripe_limits(settings: Settings, secrets: Secrets) -> StripeLimits:
    """Stripe's limits for this import's key and settings."""
    return StripeLimits.for_key(secrets.stripe_api_key, global_per_s=settings.stripe_rate,
                                endpoint_per_s=settings.stripe_endpoint_rate,
                                reserve_share=settings.stripe_reserve_share)
