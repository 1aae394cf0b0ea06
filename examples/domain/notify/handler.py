"""Custom handler: tell a team's SNS topic when access to a data product was granted."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3

_sns = boto3.client("sns")


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """SQS batch of AccessGranted events -> one SNS message each; failures retried alone."""
    failures = []
    for record in event.get("Records", []):
        try:
            envelope = json.loads(record["body"])
            detail = envelope["detail"]
            _sns.publish(
                TopicArn=os.environ["TOPIC_ARN"],
                Subject="meshkit: access granted",
                Message=json.dumps(
                    {
                        "correlation_id": detail.get("correlation_id"),
                        "product": detail.get("product"),
                        "consumer": envelope.get("account"),
                    }
                ),
            )
        except Exception:  # report this one message, keep the batch going
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
