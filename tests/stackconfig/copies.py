"""Filled-in copies of the committed stack files: what a user has after copy-edit-run."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Final

REPO: Final = Path(__file__).resolve().parents[2]
# The values a user would type over each placeholder.
FILLED: Final = {
    "aws:region": "eu-west-1",
    "sfbilling:alarmEmail": "billing-ops@example.com",
    "sfbilling:salesforceLoginUrl": "https://acme.my.salesforce.com",
    "sfbilling:salesforceUsername": "stripe-sync@acme.example",
    "sfbilling:salesforceConsumerKey": "3MVG9filledInConsumerKey",
    "sfbilling:salesforceOrgId": "00D000000000001AAA",
    "sfbilling:salesforceDeployUsername": "sf-deploy@acme.example",
    "sfbilling:salesforceDeployConsumerKey": "3MVG9filledInDeployKey",
}


def fill(text: str, values: dict[str, str] | None = None) -> str:
    """`text` with each placeholder line's value replaced."""
    values = {**FILLED, **(values or {})}

    def line(match: re.Match[str]) -> str:
        name = match.group(2)
        return f"{match.group(1)}{name}: {values[name]!r}".replace("'", '"')

    return re.sub(r"^(\s*)([\w:-]+): \"<.*>\"$", line, text, flags=re.MULTILINE)


def filled_copy(env: str, root: Path, *, secrets: bool = True,
                values: dict[str, str] | None = None) -> Path:
    """`Pulumi.<env>.yaml` copied into `root` with its placeholders filled in and, if asked,
    its secrets set (encrypted values, as `pulumi config set --secret` leaves them)."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "Pulumi.yaml", root / "Pulumi.yaml")
    text = fill((REPO / f"Pulumi.{env}.yaml").read_text(), values)
    if secrets:
        text += ("  sfbilling:stripeApiKey:\n    secure: v1:c2VjcmV0:c3RyaXBl\n"
                 "  sfbilling:salesforcePrivateKey:\n    secure: v1:c2VjcmV0:cGVt\n"
                 "  sfbilling:salesforceDeployPrivateKey:\n    secure: v1:c2VjcmV0:ZGVw\n")
    path = root / f"Pulumi.{env}.yaml"
    path.write_text(text)
    return path
