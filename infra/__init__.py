"""The Pulumi program (`__main__`) and its parts: one stack = one environment's scheduled
import on AWS and its Salesforce org configuration (docs/deploy.md)."""
