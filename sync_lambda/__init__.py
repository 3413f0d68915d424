"""The scheduled Stripe → Salesforce Billing import.

`handler` (Lambda entry) and `sfbilling sync` (CLI) build the same `service.SyncService` from a
`settings.Settings`; the pure core (`matching`, `mapping`, `planning`) decides, the adapters in
`adapters/` are the only modules that talk to Stripe, Salesforce and AWS.
"""
