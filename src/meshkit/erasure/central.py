"""Central erasure handlers: accept a request, fan it out, collect plans, approve, record.

The erasure record lives in central's registry (``ERASURE#<id>``):

* ``META`` — who asked (the sender account and the ``requested_by`` claim), the subject's keyed
  hash (never its values), the domains reached, the approval (who, which account, when), the
  cancellation, the totals, and the state: REQUESTED (dispatched, plans awaited) -> PLANNED ->
  APPROVED (purging) -> COMPLETED | STOPPED, or CANCELLED before approval, STOPPING after;
* ``DOMAIN#<name>`` — one domain's tables, its plan (objects, rows, bytes, per-object details)
  and its evidence (objects rewritten, versions written and deleted, verification);
* ``FAIL#<domain>#<uri>`` — an object a domain could not purge, with the reason.

Every transition is one conditional write that remembers the event that made it, so a
redelivered event resumes what it started (re-emits its follow-ups) and any other duplicate is
a no-op. Senders are checked against the envelope's account: requests from central or the
``erasure_requesters`` setting, approvals from central or ``erasure_approvers``, plans and
completions from the domain's own account.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from meshkit.erasure.secret import erasure_secret
from meshkit.erasure.subjects import keyed_hash, matcher_for
from meshkit.events.erasure import (
    ErasureApproved,
    ErasureCancelled,
    ErasureCompleted,
    ErasureDecided,
    ErasureDispatched,
    ErasureFailed,
    ErasurePlanned,
    ErasureRecorded,
    ErasureRequested,
    ErasureTable,
)
from meshkit.handlers._common import iso, require_sender, settings_list
from meshkit.handlers.registry import ConditionFailed, Registry
from meshkit.runtime.errors import RejectEvent
from meshkit.runtime.router import EventRouter

if TYPE_CHECKING:
    from meshkit.events.base import EventDetail
    from meshkit.runtime.context import HandlerContext

__all__ = ["router"]

router = EventRouter("central.erasure")

#: The states in which the erasure no longer changes.
FINAL = ("COMPLETED", "STOPPED", "CANCELLED")


# -- who may ---------------------------------------------------------------------------------
def _accounts(ctx: HandlerContext, setting: str) -> list[str]:
    return [ctx.config.central_account, *(settings_list(ctx, setting) or [])]


def _require(ctx: HandlerContext, event: EventDetail, *settings: str) -> None:
    """The sender is an operator of ``event`` (meshkit.trust): central or an account of the
    mesh's ``settings`` lists."""
    allowed = {a for setting in settings for a in _accounts(ctx, setting)}
    require_sender(ctx, event, operator=sorted(allowed))


# -- the record ------------------------------------------------------------------------------
def _pk(erasure_id: str) -> str:
    return f"ERASURE#{erasure_id}"


def _record(reg: Registry, erasure_id: str) -> dict[str, Any]:
    item = reg.get(_pk(erasure_id))
    if item is None:
        raise RejectEvent(f"no erasure {erasure_id}", kind="state")
    return item


def _domains(reg: Registry, erasure_id: str) -> list[dict[str, Any]]:
    return [i for i in reg.query_pk(_pk(erasure_id)) if i["sk"].startswith("DOMAIN#")]


def _move(
    ctx: HandlerContext,
    reg: Registry,
    item: dict[str, Any],
    expected: tuple[str, ...],
    new: str,
    changes: dict[str, Any],
) -> bool:
    """META from one of ``expected`` to ``new`` in one conditional write."""
    values = {f":e{i}": state for i, state in enumerate(expected)}
    try:
        reg.update(
            _pk(item["erasure_id"]),
            {
                **changes,
                "state": new,
                "gsi1pk": f"ERASURESTATE#{new}",
                "gsi1sk": f"{item['requested_at']}#{item['erasure_id']}",
                "updated_at": iso(ctx.now()),
            },
            condition=f"#state IN ({', '.join(values)})",
            values=values,
            names={"#state": "state"},
        )
    except ConditionFailed:
        return False
    item.update(changes, state=new)
    return True


def _decisions(
    item: dict[str, Any], domains: list[dict[str, Any]], decision: str, by: str
) -> list[EventDetail]:
    return [
        ErasureDecided(
            erasure_id=item["erasure_id"],
            domain=d["domain"],
            decision=decision,
            decided_by=by[:256],
            recipients=[d["account"]],
            correlation_id=item["correlation_id"],
        )
        for d in domains
        if decision == "purge" or d.get("state") != "COMPLETED"
    ]


def _recorded(item: dict[str, Any], domains: list[dict[str, Any]]) -> ErasureRecorded:
    done = [d for d in domains if d.get("state") == "COMPLETED"]
    return ErasureRecorded(
        erasure_id=item["erasure_id"],
        state=item["state"],
        subject_hash=item["subject_hash"],
        domains=sorted(d["domain"] for d in domains),
        requester_account=item["requester_account"],
        approved_by=item.get("approved_by"),
        objects_rewritten=sum(int(d.get("objects_rewritten", 0)) for d in done),
        versions_written=sum(int(d.get("versions_written_count", 0)) for d in done),
        rows_removed=sum(int(d.get("rows_removed", 0)) for d in done),
        versions_deleted=sum(int(d.get("versions_deleted", 0)) for d in done),
        objects_failed=sum(int(d.get("objects_failed", 0)) for d in done),
        verified=bool(done) and len(done) == len(domains) and all(d.get("verified") for d in done),
        correlation_id=item["correlation_id"],
    )


# -- request and fan-out ---------------------------------------------------------------------
def _targets(reg: Registry, event: ErasureRequested) -> dict[str, tuple[str, list[ErasureTable]]]:
    """domain -> (account, tables) for every active product table declaring the identifiers.

    One filtered Scan of the registry's products: an erasure is rare, and reading the products
    once per request costs less than keeping a second index on every registration."""
    keys = [dict(k) for k in event.keys]
    wanted = set(event.products or [])
    out: dict[str, tuple[str, list[ErasureTable]]] = {}
    kwargs: dict[str, Any] = {
        "TableName": reg.table,
        "FilterExpression": "begins_with(pk, :p) AND sk = :m",
        "ExpressionAttributeValues": {":p": {"S": "PRODUCT#"}, ":m": {"S": "META"}},
        "ConsistentRead": True,
    }
    from meshkit.handlers.registry import _from_ddb

    active: dict[str, bool] = {}
    while True:
        answer = reg.ddb.scan(**kwargs)
        for raw in answer.get("Items", []):
            product = _from_ddb(raw)
            if product.get("status") != "ACTIVE" or (wanted and product["product"] not in wanted):
                continue
            domain = product["domain"]
            if domain not in active:
                record = reg.domain(domain)
                active[domain] = record is not None and record.get("status") == "ACTIVE"
            if not active[domain]:
                continue
            for table in product.get("tables", []):
                columns = table.get("subject_columns") or {}
                if not columns or not matcher_for(keys, columns):
                    continue
                _account, tables = out.setdefault(domain, (product["producer_account"], []))
                tables.append(
                    ErasureTable(
                        product=product["product"],
                        table=table["name"],
                        location=table["location"],
                        subject_columns=columns,
                    )
                )
        last = answer.get("LastEvaluatedKey")
        if not last:
            return out
        kwargs["ExclusiveStartKey"] = last


def _dispatches(
    item: dict[str, Any], domains: list[dict[str, Any]], event: ErasureRequested
) -> list[EventDetail]:
    return [
        ErasureDispatched(
            erasure_id=item["erasure_id"],
            domain=d["domain"],
            keys=event.keys,
            tables=[ErasureTable.model_validate(t) for t in d["tables"]],
            delete_noncurrent=event.delete_noncurrent,
            recipients=[d["account"]],
            correlation_id=item["correlation_id"],
        )
        for d in domains
    ]


@router.on(ErasureRequested)
def request_erasure(event: ErasureRequested, ctx: HandlerContext) -> list[EventDetail] | None:
    _require(ctx, event, "erasure_requesters")
    reg = Registry(ctx)
    subject_hash = keyed_hash(erasure_secret(ctx), [dict(k) for k in event.keys])
    existing = reg.get(_pk(event.erasure_id))
    if existing is not None:
        if (
            existing["subject_hash"] != subject_hash
            or existing["requester_account"] != ctx.sender_account
        ):
            raise RejectEvent(
                f"erasure id {event.erasure_id} is taken by another request; use a new id",
                kind="state",
            )
        if existing["request_event"] == ctx.envelope.id and existing["state"] == "REQUESTED":
            # Interrupted after the record was written: send the dispatches again.
            return _dispatches(existing, _domains(reg, event.erasure_id), event)
        return None  # the same request again
    targets = _targets(reg, event)
    now = iso(ctx.now())
    item: dict[str, Any] = {
        "pk": _pk(event.erasure_id),
        "sk": "META",
        "erasure_id": event.erasure_id,
        "subject_ref": event.subject_ref,
        "subject_hash": subject_hash,
        "key_identifiers": sorted({"+".join(sorted(k)) for k in event.keys}),
        "requester_account": ctx.sender_account,
        "requested_by": event.requested_by or f"account:{ctx.sender_account}",
        "requested_at": now,
        "request_event": ctx.envelope.id,
        "products": list(event.products) if event.products else None,
        "delete_noncurrent": event.delete_noncurrent,
        "domains": {d: account for d, (account, _t) in targets.items()},
        "state": "REQUESTED" if targets else "COMPLETED",
        "gsi1pk": f"ERASURESTATE#{'REQUESTED' if targets else 'COMPLETED'}",
        "gsi1sk": f"{now}#{event.erasure_id}",
        "correlation_id": event.correlation_id,
    }
    domain_items = [
        {
            "pk": _pk(event.erasure_id),
            "sk": f"DOMAIN#{domain}",
            "domain": domain,
            "account": account,
            "tables": [t.model_dump(mode="json") for t in tables],
            "state": "DISPATCHED",
        }
        for domain, (account, tables) in sorted(targets.items())
    ]
    # The domains first, the META last (conditional): a crash in between leaves nothing that
    # a redelivery would not write again the same way.
    for d in domain_items:
        reg.put(d)
    try:
        reg.put(item, condition="attribute_not_exists(pk)")
    except ConditionFailed:
        return None
    if not targets:
        item["completed_at"] = now
        return [_recorded(item, [])]
    return _dispatches(item, domain_items, event)


# -- plans and approval ----------------------------------------------------------------------
def _domain_item(
    ctx: HandlerContext, reg: Registry, erasure_id: str, domain: str, event: EventDetail
) -> dict[str, Any]:
    d = reg.get(_pk(erasure_id), f"DOMAIN#{domain}")
    if d is None:
        raise RejectEvent(f"erasure {erasure_id} did not reach domain {domain!r}", kind="state")
    require_sender(ctx, event, owner=d["account"])
    return d


def _approve(
    ctx: HandlerContext, reg: Registry, item: dict[str, Any], by: str, account: str
) -> list[EventDetail] | None:
    moved = _move(
        ctx,
        reg,
        item,
        ("PLANNED",),
        "APPROVED",
        {
            "approved_by": by,
            "approver_account": account,
            "approved_at": iso(ctx.now()),
            "approval_event": ctx.envelope.id,
        },
    )
    if not moved:
        item = _record(reg, item["erasure_id"])
        if item.get("state") != "APPROVED" or item.get("approval_event") != ctx.envelope.id:
            return None
    return _decisions(item, _domains(reg, item["erasure_id"]), "purge", item["approved_by"])


@router.on(ErasurePlanned)
def plan_received(event: ErasurePlanned, ctx: HandlerContext) -> list[EventDetail] | None:
    reg = Registry(ctx)
    item = _record(reg, event.erasure_id)
    d = _domain_item(ctx, reg, event.erasure_id, event.domain, event)
    if d["state"] == "DISPATCHED":
        try:
            reg.update(
                _pk(event.erasure_id),
                {
                    "state": "PLANNED",
                    "planned_at": iso(ctx.now()),
                    "plan_event": ctx.envelope.id,
                    "plan_objects": event.total_objects,
                    "plan_rows": event.rows,
                    "plan_bytes": event.bytes,
                    "plan_details": [o.model_dump(mode="json") for o in event.details],
                    "plan_archived": list(event.archived),
                    "plan_unreadable": list(event.unreadable),
                    "plan_unversioned": event.unversioned,
                    "plan_method": event.method,
                },
                sk=f"DOMAIN#{event.domain}",
                condition="#s = :d",
                values={":d": "DISPATCHED"},
                names={"#s": "state"},
            )
        except ConditionFailed:
            return None
    elif d.get("plan_event") != ctx.envelope.id:
        return None  # a duplicate plan
    domains = _domains(reg, event.erasure_id)
    if any(x["state"] == "DISPATCHED" for x in domains):
        return None  # other domains still looking
    if item["state"] == "REQUESTED" and not _move(
        ctx, reg, item, ("REQUESTED",), "PLANNED", {"planned_event": ctx.envelope.id}
    ):
        item = _record(reg, event.erasure_id)
    if item["state"] == "PLANNED" and item.get("planned_event") == ctx.envelope.id:
        if str(ctx.config.setting("erasure_approval", "approver")) != "auto":
            return None  # a named approver sends ErasureApproved
        return _approve(ctx, reg, item, "policy:auto", ctx.config.account_id)
    if item["state"] == "APPROVED" and item.get("approval_event") == ctx.envelope.id:
        # The redelivered plan that auto-approved: its decisions again.
        return _decisions(item, domains, "purge", item["approved_by"])
    return None


@router.on(ErasureApproved)
def approve(event: ErasureApproved, ctx: HandlerContext) -> list[EventDetail] | None:
    _require(ctx, event, "erasure_approvers")
    reg = Registry(ctx)
    item = _record(reg, event.erasure_id)
    state = item["state"]
    if state == "REQUESTED":
        waiting = [d["domain"] for d in _domains(reg, event.erasure_id) if d["state"] != "PLANNED"]
        raise RejectEvent(
            f"erasure {event.erasure_id} has no plan yet from {waiting}: approve once every "
            "domain has planned (meshkit erasure status)",
            kind="state",
        )
    if state == "APPROVED":
        if item.get("approval_event") == ctx.envelope.id:
            return _decisions(item, _domains(reg, event.erasure_id), "purge", item["approved_by"])
        return None  # approved already
    if state != "PLANNED":
        raise RejectEvent(
            f"erasure {event.erasure_id} is {state}: nothing to approve", kind="state"
        )
    if (
        item.get("requested_by") == event.approved_by
        and str(ctx.config.setting("erasure_four_eyes", True)).lower() != "false"
    ):
        raise RejectEvent(
            f"erasure {event.erasure_id} was requested by {event.approved_by}: someone else "
            "approves it (four eyes)",
            kind="authorisation",
        )
    return _approve(ctx, reg, item, event.approved_by, ctx.sender_account)


@router.on(ErasureCancelled)
def cancel(event: ErasureCancelled, ctx: HandlerContext) -> list[EventDetail] | None:
    _require(ctx, event, "erasure_requesters", "erasure_approvers")
    reg = Registry(ctx)
    item = _record(reg, event.erasure_id)
    state = item["state"]
    changes = {
        "cancelled_by": event.cancelled_by,
        "canceller_account": ctx.sender_account,
        "cancelled_at": iso(ctx.now()),
        "cancel_reason": event.reason,
        "cancel_event": ctx.envelope.id,
    }
    domains = _domains(reg, event.erasure_id)
    if state in ("REQUESTED", "PLANNED"):
        if not _move(ctx, reg, item, ("REQUESTED", "PLANNED"), "CANCELLED", changes):
            return cancel(event, ctx)  # it moved meanwhile: decide on the new state
        return [*_decisions(item, domains, "stop", event.cancelled_by), _recorded(item, domains)]
    if state == "APPROVED":
        if not _move(ctx, reg, item, ("APPROVED",), "STOPPING", changes):
            return cancel(event, ctx)
        return _decisions(item, domains, "stop", event.cancelled_by)
    if item.get("cancel_event") == ctx.envelope.id:
        # A redelivery of the cancellation that moved it: its follow-ups again.
        out = _decisions(item, domains, "stop", event.cancelled_by)
        return [*out, _recorded(item, domains)] if state == "CANCELLED" else out
    if state in ("CANCELLED", "STOPPING"):
        return None  # cancelled already
    raise RejectEvent(
        f"erasure {event.erasure_id} is {state}: it was applied, it can no longer be cancelled",
        kind="state",
    )


# -- failures and completion -----------------------------------------------------------------
@router.on(ErasureFailed)
def object_failed(event: ErasureFailed, ctx: HandlerContext) -> None:
    reg = Registry(ctx)
    _record(reg, event.erasure_id)
    _domain_item(ctx, reg, event.erasure_id, event.domain, event)
    reg.put(
        {
            "pk": _pk(event.erasure_id),
            "sk": f"FAIL#{event.domain}#{event.object_uri}",
            "domain": event.domain,
            "object_uri": event.object_uri,
            "reason": event.reason,
            "attempts": event.attempts,
            "reported_at": iso(ctx.now()),
        }
    )


@router.on(ErasureCompleted)
def domain_completed(event: ErasureCompleted, ctx: HandlerContext) -> list[EventDetail] | None:
    reg = Registry(ctx)
    item = _record(reg, event.erasure_id)
    d = _domain_item(ctx, reg, event.erasure_id, event.domain, event)
    if d["state"] != "COMPLETED":
        try:
            reg.update(
                _pk(event.erasure_id),
                {
                    "state": "COMPLETED",
                    "completed_at": iso(ctx.now()),
                    "completion_event": ctx.envelope.id,
                    "objects_rewritten": event.objects_rewritten,
                    "rows_removed": event.rows_removed,
                    "versions_written": list(event.versions_written),
                    "versions_written_count": event.objects_rewritten,
                    "versions_deleted": event.versions_deleted,
                    "noncurrent_kept": event.noncurrent_kept,
                    "objects_failed": event.objects_failed,
                    "objects_skipped": event.objects_skipped,
                    "archived": event.archived,
                    "unversioned": event.unversioned,
                    "remaining": event.remaining,
                    "verified": event.verified,
                    "stopped": event.stopped,
                },
                sk=f"DOMAIN#{event.domain}",
                condition="#s <> :c",
                values={":c": "COMPLETED"},
                names={"#s": "state"},
            )
        except ConditionFailed:
            return None
    elif d.get("completion_event") != ctx.envelope.id:
        return None  # a duplicate
    domains = _domains(reg, event.erasure_id)
    if any(x["state"] != "COMPLETED" for x in domains):
        return None
    if item["state"] in ("APPROVED", "STOPPING"):
        # A cancel that arrived after every object was done stopped nothing: COMPLETED.
        final = "STOPPED" if any(x.get("stopped") for x in domains) else "COMPLETED"
        changes = {"completed_at": iso(ctx.now()), "closing_event": ctx.envelope.id}
        if not _move(ctx, reg, item, ("APPROVED", "STOPPING"), final, changes):
            item = _record(reg, event.erasure_id)
    if item["state"] not in ("COMPLETED", "STOPPED") or item.get("closing_event") != (
        ctx.envelope.id
    ):
        return None
    return [_recorded(item, domains)]
