"""The policy pack: the deployment invariants (policies.py) and the pack (__main__.py)."""
