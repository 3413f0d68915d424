"""A world for import tests: the three stand-ins, the org's import fields, the state table, and
a way to run the import as a fresh invocation each time."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
import requests
import stripe

from devenv.salesforce.schema import checkbox, text
from devenv.stripe.samples import create_customer
from sync_lambda import names
from sync_lambda.adapters.dynamodb_state import DynamoStateStore, create_table
from sync_lambda.settings import Secrets, Settings
from sync_lambda.wiring import build_service

if TYPE_CHECKING:
    from collections.abc import Callable

    from devenv.aws import AwsStandIn
    from devenv.salesforce import SalesforceStandIn
    from devenv.stripe import StripeStandIn
    from sync_lambda.report import Report
    from sync_lambda.state import SyncState

TABLE = "sfbilling-test-state"


def add_import_fields(salesforce: SalesforceStandIn) -> None:
    """The fields the org config deploys (added in-process here for speed; tests/metadata
    deploys them through the Metadata API)."""
    org = salesforce.org
    org.add_field(names.ACCOUNT, text(names.DEFAULT_ACCOUNT_CUSTOMER_FIELD, "Stripe Customer ID",
                                      255, external_id=True, unique=True, case_sensitive=True))
    org.add_field(names.ACCOUNT, checkbox(names.ACCOUNT_CREATED_BY_IMPORT,
                                          "Created by the Stripe import", default=False))
    org.add_field(names.PAYMENT_METHOD, text(names.DEFAULT_PM_EXTERNAL_ID_FIELD,
                                             "Stripe Payment Method ID", 255, external_id=True,
                                             unique=True, case_sensitive=True))
    org.add_field(names.PAYMENT_METHOD, text(names.DEFAULT_PM_CUSTOMER_FIELD,
                                             "Stripe Customer ID", 255))


def env_for(salesforce: SalesforceStandIn, stripe_api: StripeStandIn, aws: AwsStandIn,
            **overrides: str) -> dict[str, str]:
    """Environment variables as the Pulumi program sets them on the Lambda (minus secrets)."""
    env = {
        "SFB_ENVIRONMENT_KIND": "local", "SFB_MODE": "create_and_link", "SFB_SF_AUTH": "jwt",
        "SFB_SF_LOGIN_URL": salesforce.url, "SFB_SF_USERNAME": salesforce.app.username,
        "SFB_SF_CONSUMER_KEY": salesforce.app.consumer_key,
        "SFB_STRIPE_API_BASE": stripe_api.api_base, "SFB_TABLE_NAME": TABLE,
        "SFB_AWS_ENDPOINT_URL": aws.endpoint_url, "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        # The stand-in's account has raised limits (tests/conftest.py): the account's rate
        # alone paces the import, nothing kept in reserve, so SFB_STRIPE_RATE is the pace.
        "SFB_STRIPE_RATE": "500", "SFB_STRIPE_ENDPOINT_RATE": "10000",
        "SFB_STRIPE_RESERVE_SHARE": "0", "SFB_STRIPE_CONCURRENCY": "8",
    }
    env.update(overrides)
    return env


@dataclass
class World:
    """The stand-ins plus helpers to seed Stripe, run the import and read the org."""

    salesforce: SalesforceStandIn
    stripe_api: StripeStandIn
    aws: AwsStandIn
    env: dict[str, str] = field(default_factory=dict)

    @property
    def stripe(self) -> stripe.StripeClient:
        return stripe.StripeClient(self.stripe_api.api_key,
                                   base_addresses={"api": self.stripe_api.api_base})

    @property
    def secrets(self) -> Secrets:
        key_file = self.salesforce.app.private_key_file
        assert key_file is not None
        return Secrets(stripe_api_key=self.stripe_api.api_key,
                       salesforce_private_key=key_file.read_text())

    def settings(self, **overrides: str) -> Settings:
        return Settings.from_env({**self.env, **overrides})

    def run(self, *, full: bool = False, dry_run: bool = False,
            allow_mass_deactivation: bool = False, recheck_unknown: bool = False,
            **overrides: str) -> Report:
        """One invocation (a fresh service, as a new Lambda container would build)."""
        service = build_service(self.settings(**overrides), self.secrets)
        return service.run(full=full, dry_run=dry_run,
                           allow_mass_deactivation=allow_mass_deactivation,
                           recheck_unknown=recheck_unknown)

    def state(self) -> DynamoStateStore:
        return DynamoStateStore(boto3.client("dynamodb", **self.aws.client_kwargs()), TABLE)

    def as_operator(self, change: Callable[[DynamoStateStore], None]) -> None:
        """Change the state table as an operator would: holding the lease for it."""
        store = self.state()
        assert store.acquire("operator", 60, 0)
        try:
            change(store)
        finally:
            store.release()

    def save_state(self, state: SyncState) -> None:
        """Overwrite the bookmark as an operator would (taking the lease for it)."""
        self.as_operator(lambda store: store.save(state))

    def records(self, obj: str) -> list[dict[str, Any]]:
        r = requests.get(f"{self.salesforce.url}/_admin/records/{obj}", timeout=30)
        r.raise_for_status()
        return list(r.json()["records"])

    def accounts(self) -> dict[str, dict[str, Any]]:
        """Accounts by Stripe customer id (unlinked ones under their Name)."""
        out = {}
        for a in self.records(names.ACCOUNT):
            out[a.get(names.DEFAULT_ACCOUNT_CUSTOMER_FIELD) or f"name:{a['Name']}"] = a
        return out

    def payment_methods(self) -> dict[str, dict[str, Any]]:
        """Payment methods by Stripe id."""
        return {p[names.DEFAULT_PM_EXTERNAL_ID_FIELD]: p
                for p in self.records(names.PAYMENT_METHOD)
                if p.get(names.DEFAULT_PM_EXTERNAL_ID_FIELD)}

    def seed_account(self, **fields: Any) -> str:
        return self.salesforce.org.insert(names.ACCOUNT, fields)

    def customer(self, *, cards: tuple[str, ...] = ("pm_card_visa",), default: int | None = 0,
                 **params: Any) -> tuple[str, list[str]]:
        """A Stripe customer with cards attached (the first becomes the default)."""
        return create_customer(self.stripe, cards=cards, default=default, **params)


def make_world(salesforce: SalesforceStandIn, stripe_api: StripeStandIn,
               aws: AwsStandIn) -> World:
    add_import_fields(salesforce)
    create_table(boto3.client("dynamodb", **aws.client_kwargs()), TABLE)
    return World(salesforce, stripe_api, aws, env_for(salesforce, stripe_api, aws))
