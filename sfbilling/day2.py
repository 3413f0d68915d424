"""Day 2 of a deployed import: what its last run did, where its checkpoint is, who holds the
lease, which rows failed, and a run started on demand. Read from the deployed state table and
the deployed function, named as the Pulumi program names them (stackconfig: prefix and
environment), never from `pulumi stack output`. AWS credentials come from boto3's default chain;
the region and endpoint from the stack file."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import ClientError

from sfbilling.environments import (
    import_settings,
    load_stack,
    require_state_table,
    use_local_environment,
)
from sync_lambda import invocation
from sync_lambda.adapters.dynamodb_state import DynamoStateStore
from sync_lambda.errors import UnreachableError
from sync_lambda.state import LedgerStatus

if TYPE_CHECKING:
    from collections.abc import MutableMapping
    from pathlib import Path

    from stackconfig.resolve import StackConfig
    from sync_lambda.settings import Settings


@dataclass(frozen=True, slots=True)
class Deployed:
    """One environment's deployed names and where they live."""

    env: str
    table: str
    function: str
    region: str
    endpoint_url: str | None
    settings: Settings
    stack: StackConfig
    local: dict[str, Any] | None = None  # the stand-ins' endpoint document, for `local`

    def dynamodb(self) -> Any:
        """A DynamoDB client for this environment's account and region."""
        return boto3.client("dynamodb", region_name=self.region,
                            endpoint_url=self.endpoint_url)

    def lambda_(self) -> Any:
        """A Lambda client for this environment's account and region."""
        return boto3.client("lambda", region_name=self.region, endpoint_url=self.endpoint_url)


def deployed(env: str, *, root: Path, state_dir: Path,
             environ: MutableMapping[str, str]) -> Deployed:
    """The names of `env`'s deployed resources (StackConfigError before any call)."""
    stack, doc = load_stack(env, root=root, state_dir=state_dir)
    if doc:
        use_local_environment(doc, environ)
    settings = import_settings(stack)
    return Deployed(env, stack.table_name, stack.function_name, settings.aws_region,
                    settings.aws_endpoint_url, settings, stack, doc)


def store(target: Deployed) -> DynamoStateStore:
    require_state_table(target.settings, target.env)  # one line naming table and region
    return DynamoStateStore(target.dynamodb(), target.table)


def status(target: Deployed, *, now: float | None = None) -> dict[str, Any]:
    """The deployed import's state, for `sfbilling status`."""
    state_store = store(target)
    now = time.time() if now is None else now
    state = state_store.load()
    ledger = state_store.ledger()
    holder = state_store.holder()
    checkpoint = state.checkpoint
    return {
        "env": target.env, "table": target.table, "region": target.region,
        "last_run": state_store.last_run(),
        "checkpoint": checkpoint,
        "checkpoint_age_s": None if checkpoint is None else max(0, int(now) - checkpoint),
        "full_run_in_progress": state.full_cursor is not None,
        "event_backlog": state.event_page_s is not None,
        "lease": None if holder is None else asdict(holder),
        "failed_rows": {"pending": sum(1 for e in ledger if e.status is LedgerStatus.PENDING),
                        "rejected": sum(1 for e in ledger
                                        if e.status is LedgerStatus.REJECTED)},
        "held_back_deactivations": len(state_store.deactivations()),
        "org_id": state_store.recorded_org(),
    }


def failures(target: Deployed) -> list[dict[str, Any]]:
    """The ledger: every failed row with its reason (ids only, no names)."""
    return [{"stripe_id": e.stripe_id, "customer_id": e.customer_id, "kind": e.kind,
             "reason": e.reason, "attempts": e.attempts, "status": e.status.value,
             "first_failed": e.first_failed or None, "last_failed": e.last_failed or None}
            for e in sorted(store(target).ledger(), key=lambda e: (e.status, e.stripe_id))]


def invoke(target: Deployed, *, full: bool, allow_mass_deactivation: bool,
           recheck_unknown: bool = False, reconcile: bool = False) -> dict[str, Any]:
    """Start one run of the deployed function, asynchronously (a run may take 15 minutes,
    longer than any CLI should wait); the request id and the payload."""
    payload = invocation.payload(full=full, allow_mass_deactivation=allow_mass_deactivation,
                                 recheck_unknown=recheck_unknown, reconcile=reconcile)
    client = target.lambda_()
    try:
        # Asked first: an asynchronous invoke of a missing function is not refused by every
        # endpoint (moto accepts it), and the answer names what is missing.
        client.get_function_configuration(FunctionName=target.function)
        answer = client.invoke(FunctionName=target.function, InvocationType="Event",
                               Payload=json.dumps(payload).encode())
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "ResourceNotFoundException":
            raise UnreachableError(
                f"AWS: the function {target.function} does not exist in {target.region}: "
                f"deploy the {target.env} stack first (`pulumi up`), or check aws:region and "
                "resourcePrefix in the stack file") from None
        raise UnreachableError(f"AWS refused to invoke {target.function} in {target.region}: "
                               f"{code}: {exc.response.get('Error', {}).get('Message', '')}") \
            from None
    return {"request_id": answer.get("ResponseMetadata", {}).get("RequestId"),
            "status_code": answer.get("StatusCode"), "payload": payload,
            "function": target.function, "region": target.region}
