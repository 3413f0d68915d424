"""How a command ends: its exit code (sfbilling/exits.py), the one line said when it failed, and
the JSON document `--json` prints. Every error a user can cause or meet is classified here, so
no traceback reaches them; an unexpected one says it is a bug."""

from __future__ import annotations

import os
import sys
import traceback
from dataclasses import dataclass, field
from typing import Any, Final

import requests
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)

from devenv.local import LocalEnvError
from metadata.deployer import DeployFailedError, OrgConfigError
from metadata.validations import ValidationRefusedError
from sfbilling.exits import Exit
from sfbilling.release_log import PromotionRefusedError
from stackconfig.errors import StackConfigError
from sync_lambda.errors import (
    ApiBudgetError,
    ConfigError,
    LeaseLostError,
    OrgIdentityError,
    SyncError,
    UnreachableError,
)

DEBUG_VAR: Final = "SFBILLING_DEBUG"
INTERRUPTED: Final = ("interrupted: nothing is half-written (a batch is written whole or not at "
                      "all, progress is saved only after a whole segment); the next run "
                      "continues from the saved progress")
_AWS_REFUSALS: Final = frozenset({"AccessDenied", "AccessDeniedException",
                                  "UnrecognizedClientException", "InvalidClientTokenId",
                                  "ExpiredToken", "ExpiredTokenException",
                                  "ResourceNotFoundException", "ResourceNotFoundFault"})


@dataclass
class Result:
    """What a command returns: its exit code and its JSON document's fields."""

    code: Exit = Exit.OK
    doc: dict[str, Any] = field(default_factory=dict)


def classify(exc: BaseException) -> tuple[Exit, str]:
    """The exit code and the one line for an error."""
    if isinstance(exc, KeyboardInterrupt):
        return Exit.INTERRUPTED, INTERRUPTED
    if isinstance(exc, OrgIdentityError):
        return Exit.ORG_IDENTITY, str(exc)
    if isinstance(exc, UnreachableError):
        return Exit.UNREACHABLE, str(exc)
    if isinstance(exc, NoCredentialsError | PartialCredentialsError | NoRegionError):
        return Exit.UNREACHABLE, (f"AWS: {exc}; set credentials (AWS_PROFILE, SSO or "
                                  "environment variables) and aws:region in the stack file")
    if isinstance(exc, EndpointConnectionError):
        return Exit.UNREACHABLE, f"AWS: {exc}; check aws:region and awsEndpointUrl"
    if isinstance(exc, ClientError) and \
            exc.response.get("Error", {}).get("Code") in _AWS_REFUSALS:
        return Exit.UNREACHABLE, f"AWS refused: {exc}"
    if isinstance(exc, BotoCoreError):
        return Exit.UNREACHABLE, f"AWS: {exc}"
    if isinstance(exc, requests.exceptions.SSLError):
        return Exit.UNREACHABLE, (f"TLS: a certificate is not trusted ({exc}); set "
                                  "REQUESTS_CA_BUNDLE for a private CA")
    if isinstance(exc, requests.ConnectionError):
        return Exit.UNREACHABLE, f"network: {exc}"
    if isinstance(exc, LeaseLostError):
        return Exit.LEASE, str(exc)
    if isinstance(exc, ApiBudgetError):
        return Exit.API_BUDGET, str(exc)
    if isinstance(exc, DeployFailedError):
        return Exit.STOPPED, str(exc)
    if isinstance(exc, OrgConfigError) and getattr(exc, "after_changes", False):
        return Exit.STOPPED, f"{exc} (the org was changed before this: run the command again)"
    if isinstance(exc, LocalEnvError | ConfigError | OrgConfigError | StackConfigError
                  | PromotionRefusedError | ValidationRefusedError):
        return Exit.CONFIG, str(exc)
    if isinstance(exc, SyncError):
        return Exit.STOPPED, f"the run stopped: {exc}"
    return Exit.STOPPED, (f"internal error: {type(exc).__name__}: {exc} — this is a bug; "
                          f"set {DEBUG_VAR}=1 for the traceback and report it")


def report_error(exc: BaseException) -> tuple[Exit, str]:
    """Say the error in one line on stderr (the traceback only with SFBILLING_DEBUG=1)."""
    code, message = classify(exc)
    sys.stderr.write(f"sfbilling: {message}\n")
    if os.environ.get(DEBUG_VAR):
        traceback.print_exception(exc, file=sys.stderr)
    return code, message
