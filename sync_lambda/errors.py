"""Errors of the import, grouped by what the caller should do about them."""

from __future__ import annotations


class SyncError(Exception):
    """Base of every error the import raises on purpose."""


class ConfigError(SyncError):
    """Settings are missing or invalid (raised before any network call); fix the config."""


class FatalSyncError(SyncError):
    """The run cannot go on (authentication refused, gateway missing, daily limit used up)."""


class OrgIdentityError(FatalSyncError):
    """The org reached is not the one the stack names, or not the one the state was written
    for: nothing was written. The message says how to confirm or correct it."""


class UnreachableError(FatalSyncError):
    """An endpoint cannot be reached or trusted (name not resolved, certificate not trusted,
    connection refused), or AWS refuses or lacks the credentials; the message names the
    endpoint and the config key behind it."""


class RetriableSyncError(SyncError):
    """A transient failure outlasted its retries (Stripe 429/5xx, Salesforce 503); the next
    scheduled run picks up from the last checkpoint."""


class LeaseLostError(SyncError):
    """The run's lease passed to another run (or could not be renewed in time): this run
    stopped writing at once; the run that holds the lease carries on."""


class ApiBudgetError(SyncError):
    """The org's daily API request limit is used up (Salesforce refused with TotalRequests):
    the run stopped at once with its progress saved; the next run continues."""
