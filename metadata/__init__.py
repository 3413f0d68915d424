"""Org config as code: Salesforce Billing configuration rendered from templates, validated,
deployed, and checked for drift.

`config` (typed per-environment config) → `render` (templates → files, pure) → `bundle`
(deterministic zip + content hash, pure) → `deployer` (plan / apply / validate / doctor against
an org: the only I/O).
"""
