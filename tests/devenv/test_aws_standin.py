"""moto in server mode, over real HTTP with boto3: the services the sync relies on."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from devenv.aws import AwsStandIn


def test_dynamodb_conditional_lease(aws: AwsStandIn) -> None:
    ddb = boto3.client("dynamodb", **aws.client_kwargs())
    ddb.create_table(TableName="state", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    ddb.update_time_to_live(TableName="state", TimeToLiveSpecification={
        "Enabled": True, "AttributeName": "expires"})
    now = int(time.time())

    def acquire(owner: str, at: int) -> None:
        ddb.put_item(TableName="state",
                     Item={"pk": {"S": "lease"}, "owner": {"S": owner},
                           "expires": {"N": str(at + 60)}},
                     ConditionExpression="attribute_not_exists(pk) OR expires < :now",
                     ExpressionAttributeValues={":now": {"N": str(at)}})

    acquire("a", now)
    with pytest.raises(ClientError) as exc:
        acquire("b", now)
    assert exc.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    acquire("b", now + 120)  # the lease expired
    item = ddb.get_item(TableName="state", Key={"pk": {"S": "lease"}}, ConsistentRead=True)
    assert item["Item"]["owner"]["S"] == "b"


def test_secrets_manager(aws: AwsStandIn) -> None:
    sm = boto3.client("secretsmanager", **aws.client_kwargs())
    arn = sm.create_secret(Name="sf/jwt", SecretString='{"k": 1}')["ARN"]
    assert sm.get_secret_value(SecretId=arn)["SecretString"] == '{"k": 1}'
    with pytest.raises(sm.exceptions.ResourceNotFoundException):
        sm.get_secret_value(SecretId="nope")


def test_sqs_cloudwatch_scheduler(aws: AwsStandIn) -> None:
    sqs = boto3.client("sqs", **aws.client_kwargs())
    url = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="x")
    assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "x"
    cw = boto3.client("cloudwatch", **aws.client_kwargs())
    cw.put_metric_data(Namespace="Sync", MetricData=[{"MetricName": "Failed", "Value": 1}])
    assert [m["MetricName"] for m in cw.list_metrics(Namespace="Sync")["Metrics"]] == ["Failed"]
    sched = boto3.client("scheduler", **aws.client_kwargs())
    sched.create_schedule(Name="sync", ScheduleExpression="rate(15 minutes)",
                          FlexibleTimeWindow={"Mode": "OFF"},
                          Target={"Arn": "arn:aws:lambda:us-east-1:123456789012:function:f",
                                  "RoleArn": "arn:aws:iam::123456789012:role/r"})
    assert sched.get_schedule(Name="sync")["ScheduleExpression"] == "rate(15 minutes)"


def test_reset_forgets_resources(aws: AwsStandIn) -> None:
    sm = boto3.client("secretsmanager", **aws.client_kwargs())
    sm.create_secret(Name="x", SecretString="y")
    aws.reset()
    assert sm.list_secrets()["SecretList"] == []
