"""``meshkit erasure request|approve|cancel|status``: the people's side of the erasure flow.

``request``, ``approve`` and ``cancel`` put one event on the central bus (PutEvents as the
caller's account: central checks it against the mesh's erasure requesters and approvers);
``status`` reads the erasure record from central's registry. They use the default boto3 session
(or ``--profile``/``--region``); ``run(args, out, error, session=...)`` takes any session, which
is how the demo and the tests drive the local mesh (``mesh.central.session``).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse
    from typing import TextIO

__all__ = ["parse_key", "register", "run"]


def parse_key(text: str) -> dict[str, str]:
    """``customer_id=42`` or a composite ``first_name=Ada,birth_date=1815-12-10``."""
    key: dict[str, str] = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        if not sep or not name.strip() or not value:
            raise ValueError(
                f"match key {text!r}: write identifier=value, several joined by ',' for a "
                "composite key (first_name=Ada,birth_date=1815-12-10)"
            )
        key[name.strip()] = value
    return key


def register(commands: Any, error: type[Exception]) -> None:
    """Add the ``erasure`` command to the ``meshkit`` parser."""
    parser = commands.add_parser(
        "erasure", help="right to erasure across the mesh: request, approve, cancel, status"
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    request = actions.add_parser("request", help="ask central to erase one data subject")
    request.add_argument("erasure_id", metavar="ERASURE_ID")
    request.add_argument(
        "--key",
        action="append",
        required=True,
        metavar="ID=VALUE[,ID=VALUE]",
        help="a match key (repeat for several; ',' joins a composite key)",
    )
    request.add_argument("--ref", required=True, help="your reference for the subject (a ticket)")
    request.add_argument("--product", action="append", help="limit to these products")
    request.add_argument("--by", default=None, help="who asks (recorded)")
    request.add_argument(
        "--delete-noncurrent",
        action="store_true",
        help="also delete the noncurrent versions that still hold the rows",
    )
    approve = actions.add_parser("approve", help="approve the plans (a named approver)")
    approve.add_argument("erasure_id", metavar="ERASURE_ID")
    approve.add_argument("--by", required=True, help="who approves (recorded)")
    cancel = actions.add_parser("cancel", help="drop the plans, or stop a running purge")
    cancel.add_argument("erasure_id", metavar="ERASURE_ID")
    cancel.add_argument("--by", required=True, help="who cancels (recorded)")
    cancel.add_argument("--reason", required=True)
    status = actions.add_parser("status", help="the erasure record: plans, evidence, failures")
    status.add_argument("erasure_id", metavar="ERASURE_ID")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    for sub in (request, approve, cancel, status):
        sub.add_argument("--mesh", default="demo", help="mesh name (names the central bus)")
        sub.add_argument("--bus", default=None, help="central bus name or ARN")
        sub.add_argument("--registry-table", default=None, help="central's registry table")
        sub.add_argument("--profile", default=None)
        sub.add_argument("--region", default=None)
        sub.set_defaults(run=lambda args, out, _e=error: run(args, out, _e))


def _bus(args: argparse.Namespace) -> str:
    return str(args.bus or f"meshkit-{args.mesh}-central")


def _put(session: Any, bus: str, event: Any, error: type[Exception]) -> str:
    from meshkit.events.envelope import to_put_events_entry

    answer = session.client("events").put_events(Entries=[to_put_events_entry(event, bus=bus)])
    entry = answer["Entries"][0]
    if answer.get("FailedEntryCount") or "EventId" not in entry:
        raise error(f"PutEvents refused: {entry.get('ErrorCode')}: {entry.get('ErrorMessage')}")
    return str(entry["EventId"])


def run(
    args: argparse.Namespace, out: TextIO, error: type[Exception], *, session: Any = None
) -> int:
    from pydantic import ValidationError

    from meshkit.events.erasure import ErasureApproved, ErasureCancelled, ErasureRequested

    if session is None:
        import boto3

        session = boto3.session.Session(profile_name=args.profile, region_name=args.region)
    try:
        if args.action == "request":
            event: Any = ErasureRequested(
                erasure_id=args.erasure_id,
                subject_ref=args.ref,
                keys=[parse_key(k) for k in args.key],
                products=args.product or None,
                requested_by=args.by,
                delete_noncurrent=args.delete_noncurrent,
            )
        elif args.action == "approve":
            event = ErasureApproved(erasure_id=args.erasure_id, approved_by=args.by)
        elif args.action == "cancel":
            event = ErasureCancelled(
                erasure_id=args.erasure_id, cancelled_by=args.by, reason=args.reason
            )
        else:
            return _status(args, out, error, session)
    except (ValueError, ValidationError) as exc:
        raise error(str(exc)) from None
    event_id = _put(session, _bus(args), event, error)
    print(f"{type(event).__name__} {args.erasure_id} sent to {_bus(args)} ({event_id})", file=out)
    return 0


def _status(args: argparse.Namespace, out: TextIO, error: type[Exception], session: Any) -> int:
    from meshkit.registry import RegistryReader

    if not args.registry_table:
        raise error("status reads central's registry: give --registry-table (a stack output)")
    record = RegistryReader(session.client("dynamodb"), args.registry_table).erasure(
        args.erasure_id
    )
    if record is None:
        raise error(f"no erasure {args.erasure_id} in {args.registry_table}")
    if args.json:
        print(json.dumps(record.model_dump(mode="json"), indent=2, sort_keys=True), file=out)
        return 0
    print(f"erasure {record.erasure_id}: {record.state}", file=out)
    print(
        f"  subject {record.subject_ref} ({record.subject_hash[:24]}…), asked by "
        f"{record.requested_by} from {record.requester_account} at {record.requested_at}",
        file=out,
    )
    if record.approved_by:
        print(
            f"  approved by {record.approved_by} ({record.approver_account}) at "
            f"{record.approved_at}",
            file=out,
        )
    if record.cancelled_by:
        print(f"  cancelled by {record.cancelled_by}: {record.cancel_reason}", file=out)
    for d in record.domains:
        line = (
            f"  {d.domain}: {d.state}; plan {d.plan_objects} objects, {d.plan_rows} rows, "
            f"{d.plan_bytes} bytes ({d.plan_method})"
        )
        if d.state == "COMPLETED":
            line += (
                f"; rewrote {d.objects_rewritten}, removed {d.rows_removed} rows, deleted "
                f"{d.versions_deleted} old versions, verified {'yes' if d.verified else 'NO'}"
            )
        print(line, file=out)
    for f in record.failures:
        print(f"  failed: {f.object_uri}: {f.reason}", file=out)
    return 0
