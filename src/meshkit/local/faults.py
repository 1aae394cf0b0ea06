"""Fault and delivery controls of the local mesh: duplicates, shuffled order, throttling,
PutEvents entries that fail inside a 200 answer or vanish (a rule that does not match yet).

Throttling follows research §10: a first-registered ``before-send`` hook answers a share of the
calls with the service protocol's own throttling error and points the doomed request at an
address moto never serves, so the call has no side effect and botocore retries it exactly as it
would on AWS. Randomness is seeded: a run is reproducible.
"""

from __future__ import annotations

import io
import json
import random
import threading
from collections import Counter
from typing import TYPE_CHECKING, Any

from botocore.awsrequest import AWSResponse

from meshkit.local.accounts import is_internal_call

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    import boto3

__all__ = ["FAULT_URL", "Faults"]

#: Where a throttled request is pointed so that moto's stubber ignores it.
FAULT_URL = "http://fault-injected.invalid/"


class _RawBody(io.BytesIO):
    """The ``raw`` botocore reads an AWSResponse body from."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.getvalue()


def _throttle_response(protocol: str) -> AWSResponse:
    """AWS's throttling answer in the service's wire protocol (json, rest-json, query, rest-xml)."""
    if protocol in ("json", "rest-json", "smithy-rpc-v2-cbor"):
        body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
        headers = {
            "Content-Type": "application/x-amz-json-1.1",
            "x-amzn-ErrorType": "ThrottlingException",
        }
        return AWSResponse(FAULT_URL, 400, headers, _RawBody(body))
    if protocol == "rest-xml":
        body = (
            b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
            b"<Message>Please reduce your request rate.</Message></Error>"
        )
        return AWSResponse(FAULT_URL, 503, {"Content-Type": "application/xml"}, _RawBody(body))
    body = (
        b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
        b"<Message>Rate exceeded</Message></Error><RequestId>fault</RequestId></ErrorResponse>"
    )
    return AWSResponse(FAULT_URL, 400, {"Content-Type": "text/xml"}, _RawBody(body))


class Faults:
    """Switches a test flips on ``mesh.faults``; everything random draws from one seeded RNG."""

    def __init__(self, seed: int = 0) -> None:
        #: Deliver every event twice (as EventBridge and SQS at-least-once delivery can).
        self.duplicate_delivery = False
        #: Shuffle delivery order within a batch and across queues.
        self.shuffle = False
        self.rng = random.Random(seed)
        #: Service id as hooks see it -> (share, wire protocol).
        self._throttle: dict[str, tuple[float, str]] = {}
        self._shares: dict[str, float] = {}
        self._lock = threading.Lock()
        #: Injected throttling errors, by ``service-id.Operation``.
        self.injected: Counter[str] = Counter()
        #: Lake Formation batch entries to fail in the 200 response: (share, error code).
        self._entry_failures: tuple[float, str] | None = None
        #: The next PutEvents calls answered with a failed entry / accepted and dropped.
        self._put_events: list[str] = []

    def fail_lake_entries(
        self, share: float | None, code: str = "ConcurrentModificationException"
    ) -> None:
        """Fail this share (0..1) of the entries of the handlers' BatchGrantPermissions /
        BatchRevokePermissions calls with ``code`` in the call's ``Failures`` (HTTP 200, the
        entry not applied), as Lake Formation answers concurrent changes; ``None`` stops."""
        if share is None:
            self._entry_failures = None
            return
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"entry failure share must be within 0..1, not {share}")
        self._entry_failures = (share, code)

    def lake_entry_fault(self, operation: str) -> str | None:
        """The error code to fail one batch entry with (None: apply it); counted in
        ``injected`` as ``lakeformation.<Operation>.<code>``."""
        rule = self._entry_failures
        if rule is None or not rule[0]:
            return None
        with self._lock:
            if self.rng.random() >= rule[0]:
                return None
            self.injected[f"lakeformation.{operation}.{rule[1]}"] += 1
        return rule[1]

    def put_events(self, *, fail: int = 0, drop: int = 0) -> None:
        """Make the next ``fail`` PutEvents calls (of handlers, stacks and tests, not the mesh's
        own plumbing) answer 200 with ``FailedEntryCount: 1``, then the next ``drop`` accept the
        entry and deliver it nowhere, as a rule EventBridge has just created may not match yet.
        Nothing is stored either way; ``injected`` counts them."""
        if fail < 0 or drop < 0:
            raise ValueError("fail and drop count calls: use 0 or more")
        with self._lock:
            self._put_events = ["fail"] * fail + ["drop"] * drop

    def _put_events_fault(self) -> AWSResponse | None:
        with self._lock:
            if not self._put_events:
                return None
            kind = self._put_events.pop(0)
            self.injected[f"eventbridge.PutEvents.{kind}"] += 1
        entry = (
            {"ErrorCode": "InternalFailure", "ErrorMessage": "injected: entry failed"}
            if kind == "fail"
            else {"EventId": f"dropped-{self.rng.getrandbits(64):016x}"}
        )
        body = json.dumps({"FailedEntryCount": int(kind == "fail"), "Entries": [entry]}).encode()
        headers = {"Content-Type": "application/x-amz-json-1.1"}
        return AWSResponse(FAULT_URL, 200, headers, _RawBody(body))

    def throttle(self, shares: Mapping[str, float] | None) -> None:
        """Throttle this share (0..1) of the handlers' calls to each service (named as for
        ``boto3.client``: ``glue``, ``lakeformation``, ``events``...); ``None`` stops."""
        from meshkit.local.accounts import botocore_session

        loader = botocore_session()
        by_event_name: dict[str, tuple[float, str]] = {}
        for service, share in dict(shares or {}).items():
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"throttle share for {service!r} must be within 0..1, not {share}")
            try:
                model = loader.get_service_model(service)
            except Exception as exc:
                raise ValueError(
                    f"unknown service {service!r}: name it as for boto3.client()"
                ) from exc
            # Hooks see the service id (``eventbridge`` for the ``events`` client).
            by_event_name[model.service_id.hyphenize()] = (share, str(model.protocol))
        self._throttle = by_event_name
        self._shares = {k: float(v) for k, v in dict(shares or {}).items()}

    @property
    def throttled_services(self) -> dict[str, float]:
        return dict(self._shares)

    def attach(self, account_id: str, session: boto3.session.Session) -> None:
        """Register the injector on a session (before its clients are created)."""

        def before_send(request: Any, event_name: str, **kwargs: Any) -> AWSResponse | None:
            if (not self._throttle and not self._put_events) or is_internal_call():
                return None
            _event, service, operation = [*event_name.split("."), "", ""][:3]
            if service == "eventbridge" and operation == "PutEvents" and self._put_events:
                response = self._put_events_fault()
                if response is not None:
                    request.url = FAULT_URL
                    return response
            rule = self._throttle.get(service)
            if rule is None or not rule[0]:
                return None
            share, protocol = rule
            with self._lock:
                hit = self.rng.random() < share
                if hit:
                    self.injected[f"{service}.{operation}"] += 1
            if not hit:
                return None
            request.url = FAULT_URL
            return _throttle_response(protocol)

        session.events.register_first("before-send", before_send, unique_id="meshkit-faults")
