"""The state table's shape, declared once: the adapter reads and writes it, the Pulumi program
and the local environment create it."""

from __future__ import annotations

from typing import Final

PARTITION_KEY: Final = "pk"
SORT_KEY: Final = "sk"
# Items that only matter for a while (resolved ledger rows, an abandoned full import's
# progress) carry this attribute, in epoch seconds; the table's TTL deletes them after it.
TTL_ATTRIBUTE: Final = "expires_at"
