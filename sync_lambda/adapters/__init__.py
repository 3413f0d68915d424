"""The only modules that import `stripe`, `simple_salesforce` or `boto3`."""
