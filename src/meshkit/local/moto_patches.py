"""Patches that make moto's EventBridge deliver what AWS delivers (research §2), and a clock.

Applied by ``LocalMesh.__enter__`` and reverted on exit:

* SQS targets receive the whole envelope, ``account`` included (moto's default input template
  drops it);
* a bus-to-bus hop forwards the event itself: ``account`` stays the original sender's, and
  ``id``, ``time`` and ``resources`` are kept (moto re-puts it as a new event from the target
  account, with a new id and no resources);
* an SQS target ARN is delivered to the account it names (moto uses the rule's own account);
* ``DISABLED`` rules and schedule rules do not match events (moto delivers to both);
* EventBridge stamps events with the mesh clock, so envelopes follow ``mesh.advance``;
* botocore's retry back-off is recorded instead of slept: simulated time, not wall time;
* S3 EventBridge notifications arrive as AWS sends them (research §B.5): on the bucket owner's
  *default* bus only (moto sends them to every bus), with a unique event id (moto's is fixed, so
  idempotency would drop all but the first), ``etag`` (moto: ``eTag``), the operation as
  ``reason``, and an ``Object Deleted`` with ``deletion-type`` for every delete of a versioned
  bucket (moto sends none when it creates a delete marker or removes one of several versions);
* Lake Formation's permission catalog stays consistent when one grant is merged into an
  existing one and later revoked in part (moto mutates a set member in place, so its hash goes
  stale and the next revoke raises ``KeyError`` half-way).
"""

from __future__ import annotations

import copy
import json
import threading
import time as _time
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

__all__ = ["MotoPatches", "envelope_of", "route_event"]

_ENVELOPE_KEYS = (
    "version",
    "id",
    "detail-type",
    "source",
    "account",
    "time",
    "region",
    "resources",
    "detail",
    "replay-name",
)


def _iso(value: Any) -> str:
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def envelope_of(event_msg: Mapping[str, Any]) -> dict[str, Any]:
    """The envelope EventBridge hands a target, from moto's internal event message."""
    envelope = {key: event_msg[key] for key in _ENVELOPE_KEYS if key in event_msg}
    envelope["time"] = _iso(event_msg.get("time", _time.time()))
    envelope.setdefault("version", "0")
    envelope.setdefault("resources", [])
    return envelope


def route_event(
    account: str,
    region: str,
    bus: str,
    *,
    source: str,
    detail_type: str,
    detail: Mapping[str, Any],
    sender: str | None = None,
    resources: Sequence[str] = (),
    time: datetime | None = None,
) -> str:
    """Put an event on ``account``'s bus as EventBridge would after accepting it from ``sender``.

    Used where PutEvents cannot express the case: AWS service events (``aws.*`` sources) and a
    PutEvents from another account to this bus's ARN (moto cannot route those).
    """
    from moto.events.models import events_backends

    backend = events_backends[account][region]
    event_bus = backend.describe_event_bus(bus)
    event_id = str(uuid.uuid4())
    stamp = (time or datetime.now(UTC)).timestamp()
    message: Any = {
        "version": "0",
        "id": event_id,
        "detail-type": detail_type,
        "source": source,
        "account": sender or account,
        "time": stamp,
        "region": region,
        "resources": list(resources),
        "detail": json.loads(json.dumps(dict(detail))),
        "ingestion-time": stamp,
    }
    for rule in list(event_bus.rules.values()):
        rule.send_to_targets(copy.deepcopy(message))
    return event_id


def _has_input_override(target: Mapping[str, Any]) -> bool:
    return any(key in target for key in ("InputTransformer", "Input", "InputPath"))


class _SleepRecorder(SimpleNamespace):
    """Stands in for the ``time`` module inside botocore.endpoint: records retry back-off."""


def _patch_lf_catalog(set_attr: Callable[[Any, str, Any], None]) -> None:
    from moto.lakeformation.models import PermissionCatalog

    def add_permission(catalog: Any, permission: Any) -> None:
        for existing in list(catalog.permissions):
            if permission.equal_principal_and_resouce(existing):
                # Out of the set before the merge changes its hash, back in after.
                catalog.permissions.discard(existing)
                existing.merge(permission)
                existing.permissions.sort()
                existing.permissions_with_grant_options.sort()
                catalog.permissions.add(existing)
                return
        catalog.permissions.add(permission)

    def remove_permission(catalog: Any, permission: Any) -> None:
        for existing in list(catalog.permissions):
            if permission.equal_principal_and_resouce(existing):
                catalog.permissions.discard(existing)
                existing.diff(permission)
                if not existing.is_empty():
                    existing.permissions.sort()
                    existing.permissions_with_grant_options.sort()
                    catalog.permissions.add(existing)
                return

    set_attr(PermissionCatalog, "add_permission", add_permission)
    set_attr(PermissionCatalog, "remove_permission", remove_permission)


class MotoPatches:
    """The patches above, applied and reverted as a unit (not re-entrant across meshes)."""

    _active_lock = threading.Lock()
    _active: MotoPatches | None = None

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._saved: list[tuple[Any, str, Any]] = []
        #: Retry back-off botocore asked for, in seconds, not slept.
        self.retry_backoff_seconds = 0.0
        self.retries = 0
        self._deliver: Callable[[Any, dict[str, Any]], None] | None = None

    def _set(self, owner: Any, name: str, value: Any) -> None:
        self._saved.append((owner, name, getattr(owner, name)))
        setattr(owner, name, value)

    def apply(self) -> None:
        import botocore.endpoint
        import moto.events.models as events_models
        from moto.utilities.arns import parse_arn

        with MotoPatches._active_lock:
            if MotoPatches._active is not None:
                raise RuntimeError(
                    "another LocalMesh is active in this process; exit it before entering a new "
                    "one (moto's state and these patches are process-wide)"
                )
            MotoPatches._active = self

        original_send = events_models.Rule.send_to_targets

        def send_to_targets(
            rule: Any, original_event: dict[str, Any], transform_input: bool = True
        ) -> None:
            if rule.state == "DISABLED":
                return
            # A schedule rule has no pattern; moto would match every event with it.
            if rule.scheduled_expression and not rule.event_pattern.get_pattern():
                return
            if not rule.event_pattern.matches_event(original_event):
                return
            deliver(rule, original_event, transform_input)

        def deliver(
            rule: Any, original_event: dict[str, Any], transform_input: bool = True
        ) -> None:
            for target in rule.targets:
                arn = parse_arn(target["Arn"])
                if arn.service == "sqs" and not _has_input_override(target):
                    from moto.sqs.models import sqs_backends

                    body = json.dumps(envelope_of(original_event))
                    group_id = target.get("SqsParameters", {}).get("MessageGroupId")
                    backend = sqs_backends[arn.account or rule.account_id][
                        arn.region or rule.region_name
                    ]
                    backend.send_message(
                        queue_name=arn.resource_id, message_body=body, group_id=group_id
                    )
                elif arn.service == "events" and arn.resource_type == "event-bus":
                    target_backend = events_models.events_backends[arn.account][arn.region]
                    target_bus = target_backend.describe_event_bus(arn.resource_id)
                    forwarded: Any = copy.deepcopy(original_event)
                    forwarded.pop("replay-name", None)
                    for next_rule in list(target_bus.rules.values()):
                        next_rule.send_to_targets(copy.deepcopy(forwarded))
                else:
                    clone = copy.copy(rule)
                    clone.targets = [target]
                    original_send(clone, cast("Any", original_event), transform_input)

        self._deliver = deliver
        self._set(events_models.Rule, "send_to_targets", send_to_targets)
        self._set(events_models, "unix_time", lambda: self._clock().timestamp())

        def record_sleep(seconds: float) -> None:
            self.retries += 1
            self.retry_backoff_seconds += float(seconds)

        proxy = _SleepRecorder(
            **{k: getattr(_time, k) for k in dir(_time) if not k.startswith("_")}
        )
        proxy.sleep = record_sleep
        self._set(botocore.endpoint, "time", proxy)
        _patch_lf_catalog(self._set)
        self._patch_s3_events()

    def _patch_s3_events(self) -> None:
        import moto.s3.models as s3_models
        import moto.s3.notifications as s3_notifications

        clock = self._clock
        reasons = {
            "s3:ObjectCreated:Put": "PutObject",
            "s3:ObjectCreated:Post": "POST Object",
            "s3:ObjectCreated:Copy": "CopyObject",
            "s3:ObjectCreated:CompleteMultipartUpload": "CompleteMultipartUpload",
        }

        def emit(bucket: Any, detail_type: str, obj: dict[str, Any], extra: dict[str, Any]) -> None:
            route_event(
                bucket.account_id,
                bucket.region_name,
                "default",
                source="aws.s3",
                detail_type=detail_type,
                detail={
                    "version": "0",
                    "bucket": {"name": bucket.name},
                    "object": obj,
                    "request-id": uuid.uuid4().hex[:16].upper(),
                    "requester": bucket.account_id,
                    "source-ip-address": "127.0.0.1",
                    **extra,
                },
                resources=[bucket.arn],
                time=clock(),
            )

        def send_event_bridge_message(
            account_id: str, bucket: Any, event_name: str, key: Any
        ) -> None:
            if "ObjectCreated" in event_name:
                emit(
                    bucket,
                    "Object Created",
                    {
                        "key": key.name,
                        "size": key.size,
                        "etag": str(key.etag).strip('"'),
                        "version-id": key.version_id,
                        "sequencer": f"{int(clock().timestamp() * 1e6):016X}",
                    },
                    {"reason": reasons.get(event_name, "PutObject")},
                )
            elif "ObjectRemoved" in event_name and not bucket.is_versioned:
                emit(
                    bucket,
                    "Object Deleted",
                    {"key": key.name, "sequencer": f"{int(clock().timestamp() * 1e6):016X}"},
                    {"reason": "DeleteObject", "deletion-type": "Permanently Deleted"},
                )
            # Versioned deletes are emitted by delete_object below; other kinds are not modelled.

        original_delete = s3_models.S3Backend.delete_object

        def delete_object(
            backend: Any,
            bucket_name: str,
            key_name: str,
            version_id: str | None = None,
            bypass: bool = False,
        ) -> Any:
            bucket = backend.get_bucket(bucket_name)
            result = original_delete(backend, bucket_name, key_name, version_id, bypass)
            config = getattr(bucket, "notification_configuration", None)
            if bucket.is_versioned and config is not None and config.event_bridge is not None:
                meta = result[1] if isinstance(result, tuple) else {}
                marker = meta.get("delete-marker") == "true"
                obj: dict[str, Any] = {
                    "key": key_name,
                    "sequencer": f"{int(clock().timestamp() * 1e6):016X}",
                }
                obj["version-id"] = meta.get("version-id") if marker else version_id
                emit(
                    bucket,
                    "Object Deleted",
                    obj,
                    {
                        "reason": "DeleteObject",
                        "deletion-type": "Delete Marker Created"
                        if marker
                        else "Permanently Deleted",
                    },
                )
            return result

        self._set(s3_notifications, "_send_event_bridge_message", send_event_bridge_message)
        self._set(s3_models.S3Backend, "delete_object", delete_object)

    def deliver(self, rule: Any, event: dict[str, Any]) -> None:
        """Send ``event`` to ``rule``'s targets without matching (a schedule firing)."""
        if self._deliver is None:
            raise RuntimeError("the moto patches are not applied")
        self._deliver(rule, event)

    def revert(self) -> None:
        while self._saved:
            owner, name, value = self._saved.pop()
            setattr(owner, name, value)
        with MotoPatches._active_lock:
            if MotoPatches._active is self:
                MotoPatches._active = None
