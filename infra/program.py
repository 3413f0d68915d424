"""The Pulumi program: one stack = one environment's scheduled import on AWS and its
Salesforce org configuration, previewed and applied together.

    pulumi stack select sandbox && pulumi preview && pulumi up     (README "Deploy")

The root's __main__.py calls `main()` (Pulumi.yaml says why the entry point is there). It reads
the stack's config once through the schema (a bad stack fails here, before any resource is
registered), composes the components and exports what an operator needs.
"""

from __future__ import annotations

import os

import pulumi
import pulumi_aws as aws

from infra.alarms import Alarms, AlarmsArgs, EventAlarmsArgs
from infra.config import InfraConfig, read_config
from infra.dashboard import Dashboard, DashboardArgs
from infra.event_destination import StripeEventDestinationArgs
from infra.event_path import EventPath, EventPathArgs
from infra.lambda_package import PackageError, for_program
from infra.org_config import OrgConfig, OrgConfigArgs
from infra.release import git_commit, release_id
from infra.sync_function import SyncFunction, SyncFunctionArgs
from stackconfig.schedule import longest_gap_s


def main() -> None:
    """Register this stack's resources and exports."""
    cfg = read_config()
    try:
        package = for_program(os.environ)
    except PackageError as exc:
        raise pulumi.RunError(f"the Lambda package: {exc}") from None
    # Where the package came from, resolved: a relative SFBILLING_LAMBDA_PACKAGE is read from
    # the project root, and the preview says which file that was.
    pulumi.log.info(f"Lambda package {package.path} ({len(package.data) / 2**20:.1f} MB, "
                    f"sha256 {package.sha256[:12]})")
    tags = {"project": "sfbilling", "environment": cfg.env}

    sync = SyncFunction("sync", SyncFunctionArgs(
        function_name=cfg.function_name, table_name=cfg.table_name, resource_prefix=cfg.prefix,
        package_path=str(package.path), package_hash=package.code_hash,
        memory_mb=cfg["lambdaMemoryMb"], timeout_s=cfg["lambdaTimeoutSeconds"],
        log_retention_days=int(cfg["logRetentionDays"]), schedule=cfg["schedule"],
        environment=cfg.lambda_environment, stripe_api_key=cfg.require_secret("stripeApiKey"),
        salesforce_credential=cfg.salesforce_credential(), production=cfg.production,
        region=str(cfg["aws:region"]), import_enabled=bool(cfg["importEnabled"]),
        reconcile_schedule=cfg["reconcileSchedule"], tags=tags))

    events = None if cfg["eventDestination"] == "off" else _event_path(cfg, sync, tags)

    alarms = Alarms("alarms", AlarmsArgs(
        function_name=sync.function.name, service=cfg.function_name,
        dead_letter_queue_name=sync.dead_letters.name, timeout_s=cfg["lambdaTimeoutSeconds"],
        deadline_reserve_s=cfg["deadlineReserveSeconds"],
        schedule_gap_s=longest_gap_s(cfg["schedule"]), email=cfg["alarmEmail"],
        reconcile_threshold=cfg["reconcileAlarmThreshold"], tags=tags,
        events=None if events is None else EventAlarmsArgs(
            event_source_name=events.destination.event_source_name,
            dead_letter_queue_name=events.dead_letters.name)))

    board = Dashboard("dashboard", DashboardArgs(
        service=cfg.function_name, function_name=cfg.function_name,
        region=str(cfg["aws:region"]), timeout_s=cfg["lambdaTimeoutSeconds"],
        deadline_reserve_s=cfg["deadlineReserveSeconds"],
        stuck_after_s=2 * longest_gap_s(cfg["schedule"]),
        api_budget_share=cfg["salesforceApiBudgetShare"],
        reconcile_threshold=cfg["reconcileAlarmThreshold"]), sync.dead_letters.name)

    org = OrgConfig("org-config", OrgConfigArgs(
        config=cfg.org, env=cfg.env, environment_kind=cfg.stack.kind, org_id=cfg["salesforceOrgId"],
        credentials=cfg.org_credentials, assignee=cfg["salesforceUsername"],
        private_key=cfg.org_secret("salesforceDeployPrivateKey"),
        consumer_secret=cfg.org_secret("salesforceDeployConsumerSecret"),
        validation=cfg["prodValidation"], credential_arn=cfg["salesforceDeploySecretArn"],
        aws_endpoint_url=cfg["awsEndpointUrl"]))

    pulumi.export("functionName", sync.function.name)
    pulumi.export("functionArn", sync.function.arn)
    pulumi.export("scheduleName", sync.schedule.name)
    pulumi.export("tableName", sync.table.name)
    pulumi.export("alarmTopicArn", alarms.topic.arn)
    pulumi.export("dashboardUrl", board.url)
    pulumi.export("orgReleaseHash", org.content_hash)
    pulumi.export("packageSha256", package.sha256)
    pulumi.export("releaseId", release_id(git_commit(), cfg.config_hash, package.sha256))
    if events is not None:
        pulumi.export("eventDestinationId", events.destination.destination_id)
        pulumi.export("eventSourceName", events.destination.event_source_name)
        pulumi.export("eventQueueName", events.queue.name)


def _event_path(cfg: InfraConfig, sync: SyncFunction, tags: dict[str, str]) -> EventPath:
    """Stripe's events through EventBridge (eventDestination create or adopt)."""
    account = aws.get_caller_identity_output()
    return EventPath("events", EventPathArgs(
        destination=StripeEventDestinationArgs(
            mode=cfg["eventDestination"], adopt_id=cfg["eventDestinationId"],
            api_key=cfg.secret("stripeAdminApiKey"), api_key_arn=cfg["stripeAdminSecretArn"],
            api_base=cfg["stripeApiBase"],
            aws_account_id=account.account_id, aws_region=str(cfg["aws:region"]),
            aws_endpoint_url=cfg["awsEndpointUrl"], name=cfg.prefix,
            description=f"Stripe → Salesforce Billing import (sfbilling, stack {cfg.env})",
            environment_kind=cfg.stack.kind),
        rule_name=cfg.events_rule_name, queue_name=cfg.events_queue_name,
        function_arn=sync.function.arn, role_name=sync.role.name,
        timeout_s=cfg["lambdaTimeoutSeconds"], import_enabled=bool(cfg["importEnabled"]),
        tags=tags))
