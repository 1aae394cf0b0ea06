"""Unit-test support: a one-account mesh on moto (bus, capture queue, DLQ, tables), SQS records."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3

from meshkit.runtime.config import MeshConfig
from meshkit.runtime.idempotency import InMemoryIdempotencyStore
from meshkit.runtime.router import Outcome, Runtime

ACCOUNT = "123456789012"
REGION = "us-east-1"
BUS = "mesh-bus"


class SessionClients:
    """A ClientFactory over one boto3 session (moto's default account)."""

    def __init__(self) -> None:
        self.session = boto3.session.Session(region_name=REGION)
        self._clients: dict[str, Any] = {}

    def client(self, service: str, account: str | None = None) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(service)
        return self._clients[service]


@dataclass
class MotoMesh:
    """One account's mesh plumbing on moto, and readers for what reached the bus and the DLQ."""

    clients: SessionClients
    capture_url: str
    dlq_url: str
    idempotency_table: str
    outcomes: list[Outcome] = field(default_factory=list)
    now: datetime = field(default_factory=lambda: datetime(2026, 11, 21, 12, 0, tzinfo=UTC))

    def config(self, **overrides: Any) -> MeshConfig:
        values: dict[str, Any] = {
            "mesh_name": "test",
            "role": "central",
            "account_id": ACCOUNT,
            "region": REGION,
            "central_account": ACCOUNT,
            "bus": BUS,
            "group": "test.group",
            "dead_letter_queue_url": self.dlq_url,
            "max_receive_count": 3,
        }
        values.update(overrides)
        return MeshConfig(**values)

    def runtime(self, *, idempotency: Any = None, **config: Any) -> Runtime:
        return Runtime.for_config(
            self.config(**config),
            self.clients,
            clock=lambda: self.now,
            on_outcome=self.outcomes.append,
            idempotency=idempotency or InMemoryIdempotencyStore(),
        )

    def _drain(self, url: str) -> list[dict[str, Any]]:
        sqs = self.clients.client("sqs")
        messages: list[dict[str, Any]] = []
        while True:
            got = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
            ).get("Messages", [])
            if not got:
                return messages
            for m in got:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            messages.extend(got)

    def published(self) -> list[dict[str, Any]]:
        """Envelopes put on the bus since the last call."""
        return [json.loads(m["Body"]) for m in self._drain(self.capture_url)]

    def dead_letters(self) -> list[dict[str, Any]]:
        """DLQ messages since the last call: {"body": str, "attributes": {name: value}}."""
        return [
            {
                "body": m["Body"],
                "attributes": {
                    k: v["StringValue"] for k, v in m.get("MessageAttributes", {}).items()
                },
            }
            for m in self._drain(self.dlq_url)
        ]


def sqs_record(envelope: Any, *, message_id: str = "m-1", receive_count: int = 1) -> dict[str, Any]:
    """An SQS record as Lambda's event source delivers it, with ``envelope`` as its body."""
    body = envelope if isinstance(envelope, str) else json.dumps(envelope)
    return {
        "messageId": message_id,
        "receiptHandle": f"rh-{message_id}",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": "1763726400000",
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": "1763726400000",
        },
        "messageAttributes": {},
        "md5OfBody": "-",
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:test-group",
        "awsRegion": REGION,
    }


def sqs_batch(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}
