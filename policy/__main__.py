"""The policy pack (`pulumi preview --policy-pack policy`): builds it from policy/policies.py.
`PolicyPack(...)` starts the analyzer's gRPC server and never returns: only the engine runs this."""

from policies import POLICIES
from pulumi_policy import PolicyPack

PolicyPack(name="sfbilling", policies=POLICIES)
