"""Local stand-ins for Salesforce, Stripe and AWS, and the `sfbilling` operator CLI.

Nothing in this package is shipped in the Lambda package: it exists so that tests, the demo and
the benchmarks run against real HTTP servers on 127.0.0.1.
"""
