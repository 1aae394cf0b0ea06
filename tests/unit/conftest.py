"""Fixtures for unit tests."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from unit_support import BUS, MotoMesh, SessionClients

from meshkit.runtime.tables import IDEMPOTENCY_TABLE

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def moto_mesh() -> Iterator[MotoMesh]:
    from moto import mock_aws

    with mock_aws():
        clients = SessionClients()
        events, sqs = clients.client("events"), clients.client("sqs")
        events.create_event_bus(Name=BUS)
        capture_url = sqs.create_queue(QueueName="capture")["QueueUrl"]
        capture_arn = sqs.get_queue_attributes(QueueUrl=capture_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        events.put_rule(
            Name="capture",
            EventBusName=BUS,
            EventPattern=json.dumps({"source": [{"prefix": "meshkit."}]}),
        )
        events.put_targets(
            Rule="capture", EventBusName=BUS, Targets=[{"Id": "q", "Arn": capture_arn}]
        )
        dlq_url = sqs.create_queue(QueueName="dlq")["QueueUrl"]
        clients.client("dynamodb").create_table(TableName="idempotency", **IDEMPOTENCY_TABLE)
        yield MotoMesh(clients, capture_url, dlq_url, "idempotency")
