"""Every dynamic-provider class the engine has pickled into a stack's state, by the
`module.qualname` the pickle names.

The SDK pickles a provider with dill, and dill pickles an importable class *by reference*: the
state holds `infra.org_config` + `OrgConfigProvider`, not the code (pulumi/pulumi#7453 tracks
why by-value is not used outside `__main__`). `pulumi refresh` and `pulumi destroy` do not run
the program: the plugin unpickles the stored reference with today's checkout. A class that is
renamed or moved therefore breaks every existing stack with "Can't get attribute …"
(pulumi/pulumi#5621), unless the old path still leads to it.

So this table only grows: a line names a path some stack may hold, and stays while any stack
may hold it. tests/infra/test_pickled.py checks that every line still imports to a provider
class and that every provider class is listed under its current path. How to move one safely:
docs/deploy.md, "Moving a dynamic provider".
"""

from __future__ import annotations

from typing import Final

# module.qualname → what it provides (and since when, for the record).
PICKLED_PROVIDERS: Final[dict[str, str]] = {
    "infra.org_config.OrgConfigProvider": "salesforce:OrgConfig, the org config (since the "
                                          "first release)",
    "infra.event_destination.StripeEventDestinationProvider": "stripe:EventDestination, the "
                                                              "Stripe event destination (since "
                                                              "issue 23)",
}
