"""The HTTPS Salesforce Billing org stand-in (REST, Bulk API 2.0, Metadata API, OAuth)."""

from devenv.salesforce.server import SalesforceStandIn

__all__ = ["SalesforceStandIn"]
