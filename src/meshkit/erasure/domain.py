"""Domain erasure handlers: keep the subject index current, find, purge object by object, verify.

State in the domain's state table (``ERASURE#<id>``):

* ``META`` — the match keys (the only copy of the subject's values at rest, removed when the
  erasure ends, with a 30-day TTL as a backstop), the plan's totals, the state PLANNING ->
  PLANNED -> PURGING -> COMPLETED, or CANCELLED (dropped before the purge), STOPPING -> STOPPED
  (stopped between objects), and ``done``: how many objects reached a final state;
* ``OBJ#<uri>`` — one planned object: the version and ETag found, its rows and the subject's,
  then its outcome (PURGED, FAILED, SKIPPED) and evidence (version written, rows removed,
  noncurrent version deleted).

An approved plan becomes one ``ErasureObjectQueued`` per object on the domain's own bus: each
Lambda run purges one object (bounded time and memory), a poison object is dead-lettered with
its reason (and reported with ``ErasureFailed``) while the others go on, and a stop takes effect
between objects. An object reaches its final state in one DynamoDB transaction with the
``done`` counter, so a redelivery never counts it twice; the handler that finishes the last one
verifies (a new find over every table) and emits ``ErasureCompleted``.

pyarrow is imported by the Parquet code paths only (``meshkit.erasure.formats``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from meshkit.erasure.find import find_table
from meshkit.erasure.formats import UnreadableObjectError, distinct_values
from meshkit.erasure.index import SubjectIndex
from meshkit.erasure.objects import ARCHIVE_CLASSES, purge_object
from meshkit.erasure.secret import erasure_secret
from meshkit.erasure.subjects import matcher_for
from meshkit.events.aws import S3ObjectCreated, S3ObjectDeleted
from meshkit.events.erasure import (
    MAX_LISTED,
    ErasureCompleted,
    ErasureDecided,
    ErasureDispatched,
    ErasureFailed,
    ErasureObjectQueued,
    ErasurePlanned,
    PlannedObject,
)
from meshkit.events.products import ProductRegistered
from meshkit.handlers._common import (
    aws_error_code,
    iso,
    require_central,
    require_own_account,
    require_sender,
)
from meshkit.handlers.registry import ConditionFailed, Registry, _to_ddb
from meshkit.runtime.errors import RejectEvent
from meshkit.runtime.router import EventRouter

if TYPE_CHECKING:
    from meshkit.events.base import EventDetail
    from meshkit.runtime.context import HandlerContext

__all__ = ["router"]

router = EventRouter("domain.erasure")

#: Objects in these states are done with.
FINAL = ("PURGED", "FAILED", "SKIPPED")
#: How long the match keys may stay in the domain's state at most (DynamoDB TTL).
KEYS_TTL_SECONDS = 30 * 24 * 3600


def _mine(ctx: HandlerContext, domain: str) -> bool:
    return ctx.config.domain is None or ctx.config.domain == domain


def _index(ctx: HandlerContext) -> SubjectIndex | None:
    table = ctx.config.setting("subject_index_table", None)
    if not table:
        return None
    return SubjectIndex(ctx.client("dynamodb"), str(table), erasure_secret(ctx))


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _pk(erasure_id: str) -> str:
    return f"ERASURE#{erasure_id}"


# -- the subject index -----------------------------------------------------------------------
@router.on(ProductRegistered)
def index_tables(event: ProductRegistered, ctx: HandlerContext) -> None:
    """Remember which columns of which locations the subject index covers."""
    require_central(ctx, event)
    index = _index(ctx)
    if index is None or not _mine(ctx, event.domain):
        return
    if event.producer_account != ctx.config.account_id:
        return
    for table in event.tables:
        if table.subject_columns:
            index.put_table(table.location, table.subject_columns, event.product)


@router.on(S3ObjectCreated, S3ObjectDeleted)
def object_changed(event: S3ObjectCreated | S3ObjectDeleted, ctx: HandlerContext) -> None:
    """Bring the index entry of one key to the object's *current* version (whatever the event
    order: an older event finds the newer version, a deletion finds no object)."""
    require_own_account(ctx, event)
    index = _index(ctx)
    if index is None:
        return
    uri = f"s3://{event.bucket.name}/{event.object.key}"
    table = index.table_for(uri)
    if table is None:
        return
    _location, subject_columns = table
    s3 = ctx.client("s3")
    owner = {"ExpectedBucketOwner": ctx.config.account_id}
    try:
        head = s3.head_object(Bucket=event.bucket.name, Key=event.object.key, **owner)
    except Exception as exc:
        if aws_error_code(exc) in ("404", "NoSuchKey", "NotFound"):
            index.drop(uri)
            return
        raise
    etag = str(head["ETag"]).strip('"')
    known = index.indexed([uri]).get(uri)
    if known is not None and known.etag == etag:
        return
    if head.get("StorageClass", "STANDARD") in ARCHIVE_CLASSES:
        index.drop(uri)  # unreadable without a restore: the find lists it as archived
        return
    version = {"VersionId": head["VersionId"]} if head.get("VersionId") else {}
    got = s3.get_object(Bucket=event.bucket.name, Key=event.object.key, **version, **owner)
    data = got["Body"].read()
    try:
        rows, values = distinct_values(
            event.object.key, data, sorted(set(subject_columns.values()))
        )
    except UnreadableObjectError as exc:
        ctx.logger.warning("not indexed (the find will read it): %s", exc)
        index.drop(uri)
        return
    index.record(
        uri,
        etag=str(got["ETag"]).strip('"'),
        version_id=got.get("VersionId"),
        rows=rows,
        values=values,
        subject_columns=subject_columns,
    )


# -- find and plan ---------------------------------------------------------------------------
def _planned_event(meta: dict[str, Any], objects: list[dict[str, Any]]) -> ErasurePlanned:
    listed = objects[:MAX_LISTED]
    return ErasurePlanned(
        erasure_id=meta["erasure_id"],
        domain=meta["domain"],
        objects=[o["uri"] for o in objects[:1000]],
        total_objects=len(objects),
        rows=sum(int(o.get("matching_rows", 0)) for o in objects),
        bytes=sum(int(o.get("bytes", 0)) for o in objects),
        details=[
            PlannedObject(
                uri=o["uri"],
                version_id=o.get("version_read"),
                rows=int(o.get("rows", 0)),
                matching_rows=int(o.get("matching_rows", 0)),
                bytes=int(o.get("bytes", 0)),
            )
            for o in listed
        ],
        archived=list(meta.get("archived") or [])[:MAX_LISTED],
        unreadable=[o["uri"] for o in objects if o.get("unreadable")][:MAX_LISTED],
        unversioned=bool(meta.get("unversioned")),
        method=meta.get("method", "scan"),
        objects_scanned=int(meta.get("objects_scanned", 0)),
        correlation_id=meta["correlation_id"],
    )


def _objects(reg: Registry, erasure_id: str) -> list[dict[str, Any]]:
    return sorted(
        (i for i in reg.query_pk(_pk(erasure_id)) if i["sk"].startswith("OBJ#")),
        key=lambda o: str(o["uri"]),
    )


@router.on(ErasureDispatched)
def find(event: ErasureDispatched, ctx: HandlerContext) -> EventDetail | None:
    require_central(ctx, event)
    if not _mine(ctx, event.domain):
        return None
    reg = Registry(ctx)
    meta = reg.get(_pk(event.erasure_id))
    if meta is not None:
        if meta["state"] == "PLANNED":
            return _planned_event(meta, _objects(reg, event.erasure_id))  # answer again
        if meta["state"] != "PLANNING":
            return None  # stopped before it was dispatched, or already further
    storage = str(ctx.config.setting("storage_uri", ""))
    outside = [t.location for t in event.tables if storage and not t.location.startswith(storage)]
    if outside:
        raise RejectEvent(
            f"tables {outside} lie outside this domain's storage {storage}", kind="validation"
        )
    keys = [dict(k) for k in event.keys]
    now = time.time()
    meta = {
        "pk": _pk(event.erasure_id),
        "sk": "META",
        "erasure_id": event.erasure_id,
        "domain": event.domain,
        "keys": keys,
        "delete_noncurrent": event.delete_noncurrent,
        "tables": [t.model_dump(mode="json") for t in event.tables],
        "state": "PLANNING",
        "dispatch_event": ctx.envelope.id,
        "received_at": iso(ctx.now()),
        "correlation_id": event.correlation_id,
        "expires_at_epoch": int(now) + KEYS_TTL_SECONDS,
        "done": 0,
    }
    try:
        reg.put(
            meta,
            condition="attribute_not_exists(pk) OR #s = :p",
            values={":p": "PLANNING"},
            names={"#s": "state"},
        )
    except ConditionFailed:
        return None  # a stop arrived first
    s3 = ctx.client("s3")
    index = _index(ctx)
    archived: list[str] = []
    unversioned = False
    scanned = 0
    methods: set[str] = set()
    objects: dict[str, dict[str, Any]] = {}
    for table in event.tables:
        plan = find_table(
            s3,
            table.location,
            keys,
            table.subject_columns,
            index=index,
            owner=ctx.config.account_id,
        )
        archived += plan.archived
        unversioned = unversioned or plan.unversioned
        scanned += plan.objects_scanned
        methods.add(plan.method)
        for o in plan.objects:
            objects[o.uri] = {
                "uri": o.uri,
                "version_read": o.version_id,
                "etag": o.etag,
                "rows": o.rows,
                "matching_rows": o.matching_rows,
                "bytes": o.bytes,
                "subject_columns": dict(table.subject_columns),
            }
        for uri, reason in plan.unreadable.items():
            # Planned all the same: the purge reports it (ErasureFailed, dead-lettered).
            objects[uri] = {
                "uri": uri,
                "unreadable": reason,
                "subject_columns": dict(table.subject_columns),
            }
    for planned in objects.values():
        reg.put(
            {
                "pk": _pk(event.erasure_id),
                "sk": f"OBJ#{planned['uri']}",
                "state": "PLANNED",
                **planned,
            }
        )
    method = methods.pop() if len(methods) == 1 else "index+scan"
    summary = {
        "state": "PLANNED",
        "total": len(objects),
        "archived": archived[:1000],
        "archived_count": len(archived),
        "unversioned": unversioned,
        "method": method,
        "objects_scanned": scanned,
        "planned_at": iso(ctx.now()),
    }
    try:
        reg.update(
            _pk(event.erasure_id),
            summary,
            condition="#s = :p",
            values={":p": "PLANNING"},
            names={"#s": "state"},
        )
    except ConditionFailed:
        return None  # stopped while it was looking
    meta.update(summary)
    return _planned_event(meta, sorted(objects.values(), key=lambda o: str(o["uri"])))


# -- decisions -------------------------------------------------------------------------------
def _queue(meta: dict[str, Any], objects: list[dict[str, Any]]) -> list[EventDetail]:
    return [
        ErasureObjectQueued(
            erasure_id=meta["erasure_id"],
            domain=meta["domain"],
            object_uri=o["uri"],
            correlation_id=meta["correlation_id"],
        )
        for o in objects
        if o.get("state") not in FINAL
    ]


def _transition(
    reg: Registry,
    erasure_id: str,
    expected: tuple[str, ...],
    changes: dict[str, Any],
    remove: tuple[str, ...] = (),
) -> bool:
    values = {f":e{i}": s for i, s in enumerate(expected)}
    try:
        reg.update(
            _pk(erasure_id),
            changes,
            condition=f"#s IN ({', '.join(values)})",
            values=values,
            names={"#s": "state"},
            remove=remove,
        )
    except ConditionFailed:
        return False
    return True


@router.on(ErasureDecided)
def decided(event: ErasureDecided, ctx: HandlerContext) -> list[EventDetail] | None:
    require_central(ctx, event)
    if not _mine(ctx, event.domain):
        return None
    reg = Registry(ctx)
    meta = reg.get(_pk(event.erasure_id))
    if event.decision == "stop":
        if meta is None:
            # The stop overtook the dispatch: a tombstone, so the dispatch finds nothing to do.
            try:
                reg.put(
                    {
                        "pk": _pk(event.erasure_id),
                        "sk": "META",
                        "erasure_id": event.erasure_id,
                        "domain": event.domain,
                        "state": "CANCELLED",
                        "cancelled_by": event.decided_by,
                        "correlation_id": event.correlation_id,
                    },
                    condition="attribute_not_exists(pk)",
                )
                return None
            except ConditionFailed:
                meta = reg.get(_pk(event.erasure_id))
                assert meta is not None
        stamp = {"stopped_by": event.decided_by, "stopped_at": iso(ctx.now())}
        if _transition(
            reg,
            event.erasure_id,
            ("PLANNING", "PLANNED"),
            {**stamp, "state": "CANCELLED"},
            remove=("keys", "expires_at_epoch"),
        ):
            return None
        if _transition(reg, event.erasure_id, ("PURGING",), {**stamp, "state": "STOPPING"}):
            # Objects already queued see STOPPING and are skipped; the last one completes.
            return _maybe_complete(ctx, reg, event.erasure_id)
        return None
    if meta is None or meta["state"] in ("PLANNING",):
        raise RejectEvent(
            f"erasure {event.erasure_id} has no plan in domain {event.domain}", kind="state"
        )
    if meta["state"] == "PLANNED":
        if not _transition(
            reg,
            event.erasure_id,
            ("PLANNED",),
            {
                "state": "PURGING",
                "approved_by": event.decided_by,
                "decision_event": ctx.envelope.id,
                "purge_started_at": iso(ctx.now()),
            },
        ):
            return None
        meta["state"] = "PURGING"
    elif not (meta["state"] == "PURGING" and meta.get("decision_event") == ctx.envelope.id):
        return None  # a duplicate decision, or stopped
    objects = _objects(reg, event.erasure_id)
    queued = _queue(meta, objects)
    if not queued:
        return _maybe_complete(ctx, reg, event.erasure_id)
    return queued


# -- one object ------------------------------------------------------------------------------
def _finish(
    ctx: HandlerContext, reg: Registry, erasure_id: str, uri: str, changes: dict[str, Any]
) -> bool:
    """The object's final state and the ``done`` counter, in one transaction; False when the
    object was final already (a redelivery)."""
    pk = _pk(erasure_id)
    names = {"#s": "state"}
    sets = []
    values: dict[str, Any] = {":p": "PURGED", ":f": "FAILED", ":k": "SKIPPED"}
    for i, (k, v) in enumerate((k, v) for k, v in changes.items() if v is not None):
        names[f"#c{i}"] = k
        values[f":c{i}"] = v
        sets.append(f"#c{i} = :c{i}")
    try:
        reg.ddb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": reg.table,
                        "Key": _to_ddb({"pk": pk, "sk": f"OBJ#{uri}"}),
                        "UpdateExpression": "SET " + ", ".join(sets),
                        "ConditionExpression": "NOT (#s IN (:p, :f, :k))",
                        "ExpressionAttributeNames": names,
                        "ExpressionAttributeValues": _to_ddb(values),
                    }
                },
                {
                    "Update": {
                        "TableName": reg.table,
                        "Key": _to_ddb({"pk": pk, "sk": "META"}),
                        "UpdateExpression": "ADD #d :one",
                        "ExpressionAttributeNames": {"#d": "done"},
                        "ExpressionAttributeValues": _to_ddb({":one": 1}),
                    }
                },
            ]
        )
    except Exception as exc:
        if aws_error_code(exc) == "TransactionCanceledException":
            return False
        raise
    return True


def _failed(meta: dict[str, Any], uri: str, reason: str, attempts: int) -> ErasureFailed:
    return ErasureFailed(
        erasure_id=meta["erasure_id"],
        domain=meta["domain"],
        object_uri=uri,
        reason=reason[:4000] or "failed",
        attempts=max(1, attempts),
        correlation_id=meta["correlation_id"],
    )


@router.on(ErasureObjectQueued)
def purge_one(event: ErasureObjectQueued, ctx: HandlerContext) -> list[EventDetail] | None:
    require_sender(ctx, event)  # meshkit.trust: a domain queues its own objects only
    reg = Registry(ctx)
    meta = reg.get(_pk(event.erasure_id))
    obj = reg.get(_pk(event.erasure_id), f"OBJ#{event.object_uri}")
    if meta is None or obj is None:
        raise RejectEvent(
            f"{event.object_uri} is not part of erasure {event.erasure_id}", kind="state"
        )
    if obj["state"] in FINAL:
        return _maybe_complete(ctx, reg, event.erasure_id)
    if meta["state"] != "PURGING":
        if meta["state"] == "STOPPING":
            _finish(ctx, reg, event.erasure_id, event.object_uri, {"state": "SKIPPED"})
            return _maybe_complete(ctx, reg, event.erasure_id)
        return None
    bucket, key = _split(event.object_uri)
    matcher = matcher_for(meta.get("keys") or [], obj["subject_columns"])
    resumed = obj["state"] == "PURGING"
    reg.update(
        _pk(event.erasure_id),
        {"state": "PURGING", "purge_event": ctx.envelope.id},
        sk=f"OBJ#{event.object_uri}",
    )
    outcome = purge_object(
        ctx.client("s3"),
        bucket,
        key,
        matcher,
        delete_noncurrent=bool(meta.get("delete_noncurrent")),
        expected_bucket_owner=ctx.config.account_id,
    )
    evidence: dict[str, Any] = {
        "outcome": outcome.status,
        "reason": outcome.reason or None,
        "version_purged": outcome.version_read,
        "version_written": outcome.version_written,
        "rows_before": outcome.rows_before,
        "rows_removed": outcome.rows_removed,
        "bytes_after": outcome.bytes_after,
        "attempts": outcome.attempts,
        "verified": outcome.verified,
        "noncurrent_deleted": outcome.noncurrent_deleted or None,
        "finished_at": iso(ctx.now()),
    }
    if outcome.ok:
        if outcome.status == "no_match" and resumed:
            # An earlier attempt of this very event wrote the object and stopped before it
            # recorded it: the current version holds no matching row (verified).
            evidence["reason"] = "no matching row left at the retry: written by an earlier attempt"
        _finish(ctx, reg, event.erasure_id, event.object_uri, {**evidence, "state": "PURGED"})
        return _maybe_complete(ctx, reg, event.erasure_id)
    first = _finish(ctx, reg, event.erasure_id, event.object_uri, {**evidence, "state": "FAILED"})
    follow_ups: list[EventDetail] = []
    if first:
        follow_ups.append(
            _failed(meta, event.object_uri, f"{outcome.status}: {outcome.reason}", outcome.attempts)
        )
    follow_ups += _maybe_complete(ctx, reg, event.erasure_id) or []
    if outcome.status == "unreadable":
        # A poison object: the event is dead-lettered with the reason, the flow goes on.
        raise RejectEvent(
            f"{event.object_uri}: {outcome.reason}", kind="validation", follow_ups=follow_ups
        )
    return follow_ups


# -- completion and verification -------------------------------------------------------------
def _maybe_complete(
    ctx: HandlerContext, reg: Registry, erasure_id: str
) -> list[EventDetail] | None:
    meta = reg.get(_pk(erasure_id))
    if meta is None:
        return None
    objects = _objects(reg, erasure_id)
    if meta["state"] in ("COMPLETED", "STOPPED"):
        if meta.get("completion_event") == ctx.envelope.id:
            return [_completed(meta, objects)]  # redelivered: the same completion again
        return None
    if meta["state"] not in ("PURGING", "STOPPING") or int(meta.get("done", 0)) < len(objects):
        return None
    remaining = 0
    if meta.get("keys"):
        index = _index(ctx)
        s3 = ctx.client("s3")
        for table in meta.get("tables", []):
            plan = find_table(
                s3,
                table["location"],
                meta["keys"],
                table["subject_columns"],
                index=index,
                owner=ctx.config.account_id,
            )
            remaining += len(plan.objects)
    skipped = any(o.get("state") == "SKIPPED" for o in objects)
    final = "STOPPED" if meta["state"] == "STOPPING" and skipped else "COMPLETED"
    changes = {
        "state": final,
        "completion_event": ctx.envelope.id,
        "completed_at": iso(ctx.now()),
        "remaining": remaining,
    }
    if not _transition(
        reg, erasure_id, ("PURGING", "STOPPING"), changes, remove=("keys", "expires_at_epoch")
    ):
        meta = reg.get(_pk(erasure_id)) or {}
        if meta.get("completion_event") != ctx.envelope.id:
            return None
    else:
        meta.update(changes)
    return [_completed(meta, objects)]


def _completed(meta: dict[str, Any], objects: list[dict[str, Any]]) -> ErasureCompleted:
    purged = [o for o in objects if o.get("state") == "PURGED"]
    rewritten = [o for o in purged if o.get("version_written")]
    failed = [o for o in objects if o.get("state") == "FAILED"]
    deleted = sum(len(o.get("noncurrent_deleted") or []) for o in rewritten)
    remaining = int(meta.get("remaining", 0))
    return ErasureCompleted(
        erasure_id=meta["erasure_id"],
        domain=meta["domain"],
        objects_rewritten=len(rewritten),
        rows_removed=sum(int(o.get("rows_removed", 0)) for o in purged),
        verified=not failed
        and remaining == 0
        and meta.get("state") == "COMPLETED"
        and all(o.get("verified") for o in purged),
        versions_written=[f"{o['uri']}#{o['version_written']}" for o in rewritten][:MAX_LISTED],
        versions_deleted=deleted,
        noncurrent_kept=sum(1 for o in rewritten if not o.get("noncurrent_deleted")),
        objects_failed=len(failed),
        objects_skipped=sum(1 for o in objects if o.get("state") == "SKIPPED"),
        archived=int(meta.get("archived_count", 0)),
        unversioned=bool(meta.get("unversioned")),
        remaining=remaining,
        stopped=meta.get("state") == "STOPPED",
        correlation_id=meta["correlation_id"],
    )
