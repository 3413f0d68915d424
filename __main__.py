"""Pulumi's entry point: `pulumi up` runs this file from the project root (Pulumi.yaml has no
`main`, on purpose: it says why). The program itself is infra/program.py."""

from infra.program import main

main()
