"""Lambda's SQS event source, simulated: drain each group queue and call its router.

Per queue and round: receive up to 10 messages, hand the router the exact event Lambda builds
for an SQS batch, delete what succeeded and make the failures visible again, so that SQS's own
redrive moves a message to the DLQ after ``maxReceiveCount`` receives.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from meshkit.local.accounts import group_calls, internal_calls

if TYPE_CHECKING:
    from meshkit.local.accounts import Account
    from meshkit.local.faults import Faults
    from meshkit.local.provision import QueueWiring

__all__ = ["BATCH_SIZE", "Delivery", "Endpoint", "MeshNotIdleError", "lambda_sqs_record"]

logger = logging.getLogger("meshkit.local.delivery")

#: Lambda's default SQS batch size.
BATCH_SIZE = 10


class MeshNotIdleError(RuntimeError):
    """Delivery did not settle within the round budget: some flow keeps producing events."""


@dataclass
class Endpoint:
    """A deployed handler group: its queue and the router (with its runtime) behind it."""

    account: Account
    wiring: QueueWiring
    router: Any
    runtime: Any

    @property
    def group(self) -> str:
        return self.wiring.group


#: A team group's Lambda timeout (the constructs' default), when the topology has no entry.
DEFAULT_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class InvocationContext:
    """Lambda's context as the local mesh gives it to a router: the time left before the
    group's timeout (simulated time stands still while a handler runs), so idempotency locks
    end with the invocation there as in Lambda."""

    group: str
    timeout_ms: int

    def get_remaining_time_in_millis(self) -> int:
        return self.timeout_ms

    @classmethod
    def for_group(cls, group: str) -> InvocationContext:
        from meshkit import topology

        try:
            seconds = topology.group(group).timeout_seconds
        except KeyError:
            seconds = DEFAULT_TIMEOUT_SECONDS
        return cls(group=group, timeout_ms=seconds * 1000)


@dataclass(frozen=True)
class BatchCrash:
    """The router raised instead of answering: Lambda fails the whole batch."""

    group: str
    account: str
    error: str


def lambda_sqs_record(message: dict[str, Any], *, queue_arn: str, region: str) -> dict[str, Any]:
    """One record of the event Lambda's SQS event source passes to a function."""
    attributes = {
        k: str(v)
        for k, v in message.get("Attributes", {}).items()
        if k
        in (
            "ApproximateReceiveCount",
            "SentTimestamp",
            "SenderId",
            "ApproximateFirstReceiveTimestamp",
            "MessageGroupId",
            "MessageDeduplicationId",
            "SequenceNumber",
            "AWSTraceHeader",
        )
    }
    message_attributes = {
        name: {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": list(value.get("StringListValues", [])),
            "binaryListValues": list(value.get("BinaryListValues", [])),
            "dataType": value.get("DataType", "String"),
        }
        for name, value in message.get("MessageAttributes", {}).items()
    }
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def _envelope_key(body: str) -> str:
    try:
        parsed = json.loads(body)
    except ValueError:
        return body
    return str(parsed.get("id", body)) if isinstance(parsed, dict) else body


@dataclass
class Delivery:
    """The delivery loop over every endpoint of every account."""

    faults: Faults
    endpoints: list[Endpoint] = field(default_factory=list)
    crashes: list[BatchCrash] = field(default_factory=list)
    _duplicated: set[tuple[str, str]] = field(default_factory=set)

    def add(self, endpoint: Endpoint) -> None:
        self.endpoints.append(endpoint)

    def _receive(self, endpoint: Endpoint) -> list[dict[str, Any]]:
        sqs = endpoint.account.client("sqs")
        with internal_calls():
            messages: list[dict[str, Any]] = sqs.receive_message(
                QueueUrl=endpoint.wiring.queue_url,
                MaxNumberOfMessages=BATCH_SIZE,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
                WaitTimeSeconds=0,
            ).get("Messages", [])
            if self.faults.duplicate_delivery:
                # EventBridge and SQS deliver at least once: the same envelope arrives again as
                # another message, later (maybe after other events).
                for message in messages:
                    key = (endpoint.wiring.queue_url, _envelope_key(message["Body"]))
                    if key not in self._duplicated:
                        self._duplicated.add(key)
                        sqs.send_message(
                            QueueUrl=endpoint.wiring.queue_url, MessageBody=message["Body"]
                        )
        return messages

    def round(self) -> int:
        """Receive one batch from every queue, then deliver each; returns records delivered."""
        endpoints = list(self.endpoints)
        if self.faults.shuffle:
            self.faults.rng.shuffle(endpoints)
        batches = [(ep, msgs) for ep in endpoints if (msgs := self._receive(ep))]
        delivered = 0
        for endpoint, messages in batches:
            if self.faults.shuffle:
                self.faults.rng.shuffle(messages)
            delivered += self._deliver(endpoint, messages)
        return delivered

    def _deliver(self, endpoint: Endpoint, messages: list[dict[str, Any]]) -> int:
        region = endpoint.account.region
        records = [
            lambda_sqs_record(m, queue_arn=endpoint.wiring.queue_arn, region=region)
            for m in messages
        ]
        try:
            with group_calls(endpoint.group, endpoint.account.account_id):
                answer = endpoint.router.resolve(
                    {"Records": records},
                    InvocationContext.for_group(endpoint.group),
                    runtime=endpoint.runtime,
                )
            failed = {
                item["itemIdentifier"] for item in (answer or {}).get("batchItemFailures", [])
            }
        except Exception as exc:
            # Lambda reports a failed invocation: every record of the batch is retried.
            logger.warning("router of %s raised: %r", endpoint.group, exc)
            self.crashes.append(
                BatchCrash(
                    endpoint.group, endpoint.account.account_id, f"{type(exc).__name__}: {exc}"
                )
            )
            failed = {r["messageId"] for r in records}
        sqs = endpoint.account.client("sqs")
        url = endpoint.wiring.queue_url
        with internal_calls():
            done = [m for m in messages if m["MessageId"] not in failed]
            for start in range(0, len(done), 10):
                sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                        for i, m in enumerate(done[start : start + 10])
                    ],
                )
            for m in messages:
                if m["MessageId"] in failed:
                    sqs.change_message_visibility(
                        QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
                    )
        return len(records)
