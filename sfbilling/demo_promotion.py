"""The last part of `make demo`: a promotion between two local orgs — the local environment's
org as the sandbox, and a second stand-in org as production (its own org id, IsSandbox false) —
in a temporary copy of the repository with its own git history. The committed stack files are
never touched.

apply to the sandbox → promote (shown, written, validated against production, recorded) →
quick deploy to production → production's settings and release stamp equal the sandbox's.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from devenv.salesforce import SalesforceStandIn
from devenv.salesforce.billing import OrgProfile
from infra.lambda_package import PACKAGE_VAR, build
from infra.release import git
from metadata.render import render_release
from metadata.validations import VALIDATION_KEY
from sfbilling.environments import deployer_for, org_target, recorded_validation
from sfbilling.promotion import carry_out, prepare
from sfbilling.release_log import RELEASES_FILE
from stackconfig.stackwrite import write_keys

if TYPE_CHECKING:
    from collections.abc import Callable

ROOT: Final = Path(__file__).resolve().parents[1]
PROD_ORG_ID: Final = "00D5g000004PRDaEAO"


def stack_repo(work: Path, orgs: dict[str, dict[str, Any]]) -> Path:
    """A git repository in `work/repo` holding copies of the project's sandbox and production
    stack files, pointed at `orgs` (env → login_url, username, consumer_key, org_id, and the
    deploy user's `deploy` → username, consumer_key), with
    production still on an older batch size (50); committed by a release manager."""
    root = work / "repo"
    root.mkdir()
    for name in ("Pulumi.yaml", "Pulumi.sandbox.yaml", "Pulumi.prod.yaml"):
        shutil.copy(ROOT / name, root / name)
    for env, org in orgs.items():
        write_keys(root / f"Pulumi.{env}.yaml", {
            "aws:region": "us-east-1", "sfbilling:alarmEmail": "billing-ops@example.com",
            "sfbilling:salesforceLoginUrl": org["login_url"],
            "sfbilling:salesforceUsername": org["username"],
            "sfbilling:salesforceConsumerKey": org["consumer_key"],
            "sfbilling:salesforceDeployUsername": org["deploy"]["username"],
            "sfbilling:salesforceDeployConsumerKey": org["deploy"]["consumer_key"],
            "sfbilling:salesforceOrgId": org["org_id"]})
    # Production still runs last quarter's config.
    write_keys(root / "Pulumi.prod.yaml", {"sfbilling:paymentCreationBatchSize": "50"})
    git(root, "init", "-q")
    git(root, "config", "user.email", "release-manager@example.com")
    git(root, "config", "user.name", "Release Manager")
    git(root, "add", ".")
    git(root, "commit", "-qm", "sandbox and production stacks")
    return root


def run(sandbox: dict[str, Any], ca_bundle: str, work: Path, say: Callable[[str], None],
        show: Callable[[str], None]) -> None:
    """The promotion demo; `sandbox` is the local environment's Salesforce endpoint doc."""
    prod = SalesforceStandIn(state_dir=work / "prod-org", profile=replace(
        OrgProfile(), org_id=PROD_ORG_ID, is_sandbox=False,
        org_name="Acme Billing (production stand-in)")).start()
    try:
        bundle = work / "both-orgs.pem"
        bundle.write_bytes(Path(ca_bundle).read_bytes() + b"\n" + prod.ca_file.read_bytes())
        os.environ["REQUESTS_CA_BUNDLE"] = str(bundle)
        assert prod.app.private_key_file is not None
        os.environ["SFBILLING_SANDBOX_SF_PRIVATE_KEY_FILE"] = sandbox["private_key_file"]
        os.environ["SFBILLING_PROD_SF_PRIVATE_KEY_FILE"] = str(prod.app.private_key_file)
        os.environ["SFBILLING_SANDBOX_SF_DEPLOY_PRIVATE_KEY_FILE"] = \
            sandbox["deploy"]["private_key_file"]
        os.environ["SFBILLING_PROD_SF_DEPLOY_PRIVATE_KEY_FILE"] = \
            prod.info()["deploy"]["private_key_file"]
        os.environ[PACKAGE_VAR] = str(build(out=work / "lambda.zip").path)
        root = stack_repo(work, {
            "sandbox": sandbox,
            "prod": {"login_url": prod.url, "username": prod.app.username,
                     "consumer_key": prod.app.consumer_key, "org_id": PROD_ORG_ID,
                     "deploy": prod.info()["deploy"]}})
        say(f"a copy of the stack files in {root} (its own git repo); sandbox = the local org, "
            f"production = a second org at {prod.url} ({PROD_ORG_ID}, IsSandbox false)")
        sandbox_target = org_target("sandbox", root=root)
        deployer = deployer_for(sandbox_target)
        deployer.apply(render_release(sandbox_target.config), env="sandbox")
        say("sandbox: Pulumi.sandbox.yaml applied (batch size 70) and verified")
        promotion = prepare("sandbox", "prod", root=root, state_dir=work)
        show(promotion.render())
        record = carry_out(promotion, validate=True, state_dir=work)
        say(f"Pulumi.prod.yaml: {len(promotion.changes)} promoted key line(s) and the "
            "validation record written, every other line byte for byte")
        say(f"validated against production: {record.validation_id} (Pulumi.prod.yaml, "
            f"sfbilling:{VALIDATION_KEY}); release {record.release_id} recorded in "
            f"{RELEASES_FILE}")
        prod_target = org_target("prod", root=root)
        production = deployer_for(prod_target)
        production.apply(promotion.release, validated=recorded_validation(prod_target.stack),
                         env="prod")
        say(f"production: quick deploy of {record.validation_id}; it runs release "
            f"{(production.running_release() or '')[:12]}, the sandbox runs "
            f"{(deployer.running_release() or '')[:12]}; a plan against production now:")
        show(production.plan(promotion.release).render())
    finally:
        prod.stop()
