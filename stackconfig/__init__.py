"""The stack configuration: every key of `Pulumi.<env>.yaml` declared once (`schema`), read
strictly (`stackfile`, `resolve`) by the CLI and the Pulumi program alike, and documented from
the declarations (`docs`). Never shipped in the Lambda: the Lambda reads only its environment
variables (`sync_lambda.settings`), which `resolve.lambda_environment` produces from here.
"""
