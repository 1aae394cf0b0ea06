"""The operator's verbs: ``meshkit access|registry|trace|replay|local``.

Each verb works on a *target*: the persisted local mesh (``meshkit local up``; the default) or
AWS (``--aws``, with the caller's profile and region). Requests and decisions are PutEvents on
the caller's own domain bus, as the caller's account; before sending, the verb runs the very
checks central's handlers run (``meshkit.handlers.central.check_*``) on the registry's records
and refuses with central's wording what central would reject. Reads go through the typed
registry (``meshkit.registry.RegistryReader``).

Exit codes (docs/cli.md): 0 done, 1 an AWS or mesh error, 2 usage (bad arguments, a mistyped
name: close matches are suggested), 3 not found, 4 refused by the mesh's rules (the check
central would make), 5 no local mesh (run ``meshkit local up``).
"""

from __future__ import annotations

import difflib
import json
import os
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterator, Sequence
    from typing import TextIO

    from meshkit.events.base import EventDetail
    from meshkit.local.persist import LiveMesh
    from meshkit.registry import ProductRecord, RegistryReader, RequestRecord

__all__ = [
    "EXIT_NOT_FOUND",
    "EXIT_NO_MESH",
    "EXIT_REFUSED",
    "AwsTarget",
    "LocalTarget",
    "Progress",
    "TraceRow",
    "register",
    "suggest",
]

EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_REFUSED = 4
EXIT_NO_MESH = 5

STATES = ("PENDING", "APPROVED", "DENIED", "EXPIRED", "REVOKED", "LINK_FAILED")


def suggest(name: str, known: Sequence[str]) -> str:
    """``; did you mean 'x'?`` for a mistyped name (empty when nothing is close)."""
    close = difflib.get_close_matches(name, list(dict.fromkeys(known)), n=3, cutoff=0.6)
    if not close:
        return ""
    return "; did you mean " + " or ".join(repr(c) for c in close) + "?"


class Progress:
    """A one-line progress report on stderr for work that may take more than a second: a
    ticking elapsed time on a terminal, one line when it ends otherwise."""

    def __init__(self, message: str, stream: TextIO | None = None) -> None:
        self.message = message
        self.stream = stream or sys.stderr
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.seconds = 0.0

    def __enter__(self) -> Progress:
        self._started = time.perf_counter()
        if self.stream.isatty():
            self._thread = threading.Thread(target=self._tick, daemon=True)
            self._thread.start()
        return self

    def _tick(self) -> None:
        while not self._stop.wait(0.2):
            elapsed = time.perf_counter() - self._started
            self.stream.write(f"\r{self.message}… {elapsed:4.1f} s")
            self.stream.flush()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.seconds = time.perf_counter() - self._started
        prefix = "\r" if self._thread is not None else ""
        if self.seconds >= 1.0 or self._thread is not None:
            self.stream.write(f"{prefix}{self.message}: {self.seconds:.1f} s\n")
            self.stream.flush()


class TraceRow(dict[str, Any]):
    """One step of a traced flow: ``at``, ``where``, ``event``, ``handler``, ``status``,
    ``detail`` (plain dict, JSON-ready)."""


# -- targets -------------------------------------------------------------------------------


class LocalTarget:
    """The persisted (or any running) local mesh; ``as_domain`` names the caller."""

    kind = "local"

    def __init__(self, live: LiveMesh, *, where: str = "local mesh") -> None:
        self.live = live
        self.mesh = live.mesh
        self.where = where

    @property
    def registry(self) -> RegistryReader:
        return self.mesh.registry

    def now(self) -> datetime:
        return self.mesh.clock()

    def account_of(self, domain: str) -> str:
        if domain not in self.mesh.domains:
            raise _Usage(f"no domain {domain!r} in the local mesh{suggest(domain, self.domains())}")
        return self.mesh.domain(domain).account

    def caller_arn(self, domain: str, role: str = "data-owner") -> str:
        return f"arn:aws:iam::{self.account_of(domain)}:role/{role}"

    def principal(self, domain: str, name: str) -> str:
        if name.startswith("arn:"):
            return name
        principals = self.mesh.domain(domain).resources.principals
        if name not in principals:
            raise _Usage(
                f"domain {domain} has no principal {name!r}{suggest(name, sorted(principals))}; "
                f"it has {sorted(principals)}"
            )
        return principals[name]

    def domains(self) -> list[str]:
        return sorted(self.mesh.domains)

    def put(self, domain: str, event: EventDetail) -> str:
        return self.live.put(domain, event)

    def trace(self, correlation_id: str) -> tuple[str, list[TraceRow]]:
        rows = [
            TraceRow(
                at=e.at.isoformat(),
                where=e.account_label,
                event=e.detail_type,
                handler=e.handler,
                status=e.status,
                detail=e.error or "",
            )
            for e in self.mesh.timeline
            if e.correlation_id == correlation_id
        ]
        return "the local mesh's timeline (every handler call, in order)", rows

    def replay(self, since: datetime, until: datetime) -> dict[str, Any]:
        central = self.mesh.central
        events = central.client("events")
        archive = central.resources.archive_name
        arn = events.describe_archive(ArchiveName=archive)["ArchiveArn"]
        started = _start_replay(events, arn, central.resources.bus_arn, since, until)
        self.mesh.run_until_idle()  # what moto replays meets the same, idempotent handlers
        return started


class AwsTarget:
    """The mesh on AWS, as the caller's profile: ``bus`` is the caller's domain bus,
    ``registry_table`` central's registry, ``archive`` the central archive's ARN,
    ``log_groups`` the handlers' log groups (for ``trace``)."""

    kind = "aws"

    def __init__(
        self,
        session: Any,
        *,
        bus: str | None = None,
        registry_table: str | None = None,
        archive: str | None = None,
        log_groups: Sequence[str] = (),
        clock: Any = None,
    ) -> None:
        self.session = session
        self.bus = bus
        self.registry_table = registry_table
        self.archive = archive
        self.log_groups = list(log_groups)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._identity: dict[str, Any] | None = None
        self.where = "AWS"

    def _need(self, value: str | None, flag: str, env: str) -> str:
        if not value:
            raise _Usage(f"on AWS this needs {flag} (or ${env})")
        return value

    @property
    def registry(self) -> RegistryReader:
        from meshkit.registry import RegistryReader

        table = self._need(self.registry_table, "--registry-table", "MESHKIT_REGISTRY_TABLE")
        return RegistryReader(self.session.client("dynamodb"), table)

    def now(self) -> datetime:
        value: datetime = self._clock()
        return value

    def _caller(self) -> dict[str, Any]:
        if self._identity is None:
            self._identity = self.session.client("sts").get_caller_identity()
        return self._identity

    def account_of(self, domain: str) -> str:
        return str(self._caller()["Account"])

    def caller_arn(self, domain: str, role: str = "data-owner") -> str:
        return str(self._caller()["Arn"])

    def principal(self, domain: str, name: str) -> str:
        if not name.startswith("arn:"):
            raise _Usage(f"on AWS name the principal by its role ARN, not {name!r}")
        return name

    def domains(self) -> list[str]:
        return [d.domain for d in self.registry.domains()]

    def put(self, domain: str, event: EventDetail) -> str:
        from meshkit.events.envelope import to_put_events_entry

        bus = self._need(self.bus, "--bus", "MESHKIT_BUS")
        answer = self.session.client("events").put_events(
            Entries=[to_put_events_entry(event, bus=bus)]
        )
        result = answer["Entries"][0]
        if answer.get("FailedEntryCount") or "EventId" not in result:
            raise _Failed(
                f"PutEvents refused the event: {result.get('ErrorCode')}: "
                f"{result.get('ErrorMessage')}"
            )
        return str(result["EventId"])

    def trace(self, correlation_id: str) -> tuple[str, list[TraceRow]]:
        if not self.log_groups:
            raise _Usage("on AWS, trace reads the handlers' log groups: pass --log-group (repeat)")
        logs = self.session.client("logs")
        rows: list[TraceRow] = []
        for group in self.log_groups:
            kwargs: dict[str, Any] = {
                "logGroupName": group,
                "filterPattern": f'"{correlation_id}"',
            }
            while True:
                page = logs.filter_log_events(**kwargs)
                for event in page.get("events", []):
                    at = datetime.fromtimestamp(event["timestamp"] / 1000, UTC)
                    rows.append(
                        TraceRow(
                            at=at.isoformat(),
                            where=group,
                            event="",
                            handler=event.get("logStreamName", ""),
                            status="log",
                            detail=event["message"].strip(),
                        )
                    )
                token = page.get("nextToken")
                if not token:
                    break
                kwargs["nextToken"] = token
        rows.sort(key=lambda r: r["at"])
        source = (
            f"CloudWatch Logs of {len(self.log_groups)} handler log group(s) (FilterLogEvents; "
            "every handler log line carries the correlation id); the central archive itself is "
            "not readable, only replayable (`meshkit replay`)"
        )
        return source, rows

    def replay(self, since: datetime, until: datetime) -> dict[str, Any]:
        archive = self._need(self.archive, "--archive", "MESHKIT_ARCHIVE")
        events = self.session.client("events")
        name = archive.rsplit("/", 1)[-1] if archive.startswith("arn:") else archive
        described = events.describe_archive(ArchiveName=name)
        return _start_replay(
            events, described["ArchiveArn"], described["EventSourceArn"], since, until
        )


def _start_replay(
    events: Any, archive_arn: str, bus_arn: str, since: datetime, until: datetime
) -> dict[str, Any]:
    name = f"meshkit-{since.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"
    answer = events.start_replay(
        ReplayName=name,
        EventSourceArn=archive_arn,
        EventStartTime=since,
        EventEndTime=until,
        Destination={"Arn": bus_arn},
    )
    return {
        "replay": name,
        "archive": archive_arn,
        "destination": bus_arn,
        "since": since.isoformat(),
        "until": until.isoformat(),
        "state": answer.get("State"),
    }


# -- errors --------------------------------------------------------------------------------


class _Failed(Exception):
    status = 1


class _Usage(_Failed):
    status = EXIT_USAGE


class _NotFound(_Failed):
    status = EXIT_NOT_FOUND


class _Refused(_Failed):
    status = EXIT_REFUSED


@contextmanager
def _refusals() -> Iterator[None]:
    """Central's RejectEvent, raised by its own checks here, as a refusal (exit 4)."""
    from meshkit.runtime.errors import RejectEvent

    try:
        yield
    except RejectEvent as exc:
        raise _Refused(f"refused (central would reject it): {exc.reason}") from exc


# -- verbs ---------------------------------------------------------------------------------


def _record_json(record: Any) -> dict[str, Any]:
    data: dict[str, Any] = record.model_dump(mode="json", by_alias=True, exclude_none=True)
    return data


def _emit(
    args: argparse.Namespace, out: TextIO, rows: list[dict[str, Any]], columns: list[str]
) -> None:
    from meshkit.cli import _table

    if getattr(args, "json", False):
        out.write(json.dumps(rows, indent=2, default=str) + "\n")
        return
    _table([[_cell(r.get(c)) for c in columns] for r in rows], columns, out)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _request(target: Any, request_id: str) -> RequestRecord:
    record = target.registry.request(request_id)
    if record is None:
        known = [r.request_id for r in target.registry.requests()]
        raise _NotFound(f"no access request {request_id}{suggest(request_id, known)}")
    return record  # type: ignore[no-any-return]


def _product(target: Any, name: str) -> ProductRecord:
    domain, sep, product = name.partition(".")
    records = target.registry.products()
    known = [f"{p.domain}.{p.product}" for p in records]
    if not sep or not product:
        raise _Usage(f"name a product as DOMAIN.PRODUCT, not {name!r}{suggest(name, known)}")
    for p in records:
        if (p.domain, p.product) == (domain, product):
            return p  # type: ignore[no-any-return]
    raise _NotFound(f"no product {name}{suggest(name, known)}")


def _request_rows(records: Sequence[RequestRecord]) -> list[dict[str, Any]]:
    return [
        {
            "request_id": r.request_id,
            "state": r.state,
            "consumer": r.consumer_domain,
            "product": f"{r.producer_domain}.{r.product}",
            "purpose": r.purpose,
            "requested_at": r.requested_at.isoformat() if r.requested_at else None,
            "expires_at": r.expires_at.isoformat() if r.expires_at else None,
            "decided_by": r.decided_by,
        }
        for r in records
    ]


_REQUEST_COLUMNS = ["request_id", "state", "consumer", "product", "purpose", "expires_at"]


def cmd_access_pending(args: argparse.Namespace, target: Any, out: TextIO) -> int:
    records = target.registry.requests(state="PENDING")
    if args.as_domain:
        records = [r for r in records if r.producer_domain == args.as_domain]
    _emit(args, out, _request_rows(records), _REQUEST_COLUMNS)
    return 0


def cmd_access_show(args: argparse.Namespace, target: Any, out: TextIO) -> int:
    record = _request(target, args.request_id)
    data = _record_json(record)
    if args.json:
        out.write(json.dumps(data, indent=2) + "\n")
        return 0
    for key, value in data.items():
        print(f"{key:>20}  {_cell(value)}", file=out)
    return 0


def cmd_access_decide(args: argparse.Namespace, target: Any, out: TextIO) -> int:
    from meshkit.events.access import AccessDecided
    from meshkit.handlers.central import check_decider, check_pending

    domain = _caller_domain(args, target)
    account = target.account_of(domain)
    record = target.registry.request(args.request_id)
    item = _record_json(record) if record is not None else None
    producer = target.registry.domain(record.producer_domain) if record is not None else None
    with _refusals():
        check_decider(args.request_id, item, _record_json(producer) if producer else None, account)
        assert item is not None
        check_pending(args.request_id, item, target.now())
    approved = args.action == "approve"
    event = AccessDecided(
        request_id=args.request_id,
        approved=approved,
        decided_by=args.by or target.caller_arn(domain),
        reason=args.reason,
        **({"correlation_id": record.correlation_id} if record and record.correlation_id else {}),
    )
    with Progress(f"sending the decision on {args.request_id}", _err(args)):
        event_id = target.put(domain, event)
    after = target.registry.request(args.request_id) if target.kind == "local" else record
    state = after.state if after is not None else "?"
    print(
        f"{'approved' if approved else 'denied'} {args.request_id} as {domain} "
        f"(event {event_id}); request is {state}",
        file=out,
    )
    return 0


def cmd_access_request(args: argparse.Namespace, target: Any, out: TextIO) -> int:
    from meshkit.events.access import AccessRequested
    from meshkit.handlers.central import (
        check_domain_owner,
        check_requested_product,
        check_requester,
    )

    domain = _caller_domain(args, target)
    account = target.account_of(domain)
    product = _product(target, args.product)
    principals = [target.principal(domain, p) for p in args.principal]
    event = AccessRequested(
        request_id=args.request_id or f"req-{uuid.uuid4().hex[:12]}",
        consumer_domain=domain,
        producer_domain=product.domain,
        product=product.product,
        tables=args.table or None,
        principals=principals,
        purpose=args.purpose,
        duration_days=args.days,
    )
    consumer = target.registry.domain(domain)
    producer = target.registry.domain(product.domain)
    with _refusals():
        check_domain_owner(domain, _record_json(consumer) if consumer else None, account)
        check_requester(event, account)
        check_requested_product(
            event, _record_json(product), _record_json(producer) if producer else None
        )
    with Progress(f"sending request {event.request_id}", _err(args)):
        event_id = target.put(domain, event)
    after = target.registry.request(event.request_id) if target.kind == "local" else None
    state = after.state if after is not None else "sent"
    if args.json:
        out.write(
            json.dumps(
                {
                    "request_id": event.request_id,
                    "correlation_id": event.correlation_id,
                    "event_id": event_id,
                    "state": state,
                }
            )
            + "\n"
        )
    else:
        print(
            f"requested {product.domain}.{product.product} for {domain}: {event.request_id} "
            f"({state}; trace it with `meshkit trace {event.correlation_id}`)",
            file=out,
        )
    return 0


def cmd_registry_domains(args: argparse.Namespace, target: Any, out: TextIO) -> int:
    rows = [
        {
            "domain": d.domain,
            "account": d.account_id,
            "status": d.status,
            "sharing_mode": d.sharing_mode,
            "storage_uri": d.storage_uri,
        }
        for d in target.registry.domains()
        if not args.state or d.status == args.state
    ]
    _emit(args, out, rows, ["domain", "account", "status", "sharing_mode", "storage_uri"])
    return 0


def cmd_registry_products(args: argparse.Namespace, target: Any, out: TextIO) -> int:
    records = target.registry.products(args.domain)
    rows = [
        {
            "product": f"{p.domain}.{p.product}",
            "status": p.status,
            "tables": [t.name for t in p.tables],
            "pii": p.pii or any(t.pii or t.pii_columns for t in p.tables),
            "sharing_mode": p.sharing_mode,
            "description": p.description,
        }
        for p in records
        if not args.state or p.status == args.state
    ]
    _emit(args, out, rows, ["product", "status", "tables", "pii", "sharing_mode", "description"])
    return 0


def cmd_registry_requests(args: argparse.Namespace, target: Any, out: TextIO) -> int:
    records = target.registry.requests(state=args.state, consumer=args.consumer)
    _emit(args, out, _request_rows(records), _REQUEST_COLUMNS)
    return 0


def cmd_trace(args: argparse.Namespace, target: Any, out: TextIO) -> int:
    source, rows = target.trace(args.correlation_id)
    if args.json:
        out.write(
            json.dumps(
                {"correlation_id": args.correlation_id, "source": source, "steps": rows}, indent=2
            )
            + "\n"
        )
        return 0 if rows else EXIT_NOT_FOUND
    print(f"flow {args.correlation_id}, from {source}:", file=out)
    if not rows:
        raise _NotFound(f"no event of flow {args.correlation_id} found in {source}")
    _emit(args, out, list(rows), ["at", "where", "event", "handler", "status", "detail"])
    return 0


def _when(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _Usage(f"{text!r} is not a time: write ISO 8601, e.g. 2026-12-04T10:00:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def cmd_replay(args: argparse.Namespace, target: Any, out: TextIO) -> int:
    since = _when(args.since)
    until = _when(args.until) if args.until else target.now()
    if until <= since:
        raise _Usage(f"--until {until.isoformat()} is not after --since {since.isoformat()}")
    with Progress("starting the replay", _err(args)):
        started = target.replay(since, until)
    if args.json:
        out.write(json.dumps(started, indent=2) + "\n")
    else:
        print(
            f"replay {started['replay']} of {started['archive']} "
            f"({started['since']} .. {started['until']}) into {started['destination']}: "
            f"{started['state']}",
            file=out,
        )
    return 0


def cmd_local(args: argparse.Namespace, out: TextIO) -> int:
    from meshkit.local.persist import PersistedMesh

    persisted = PersistedMesh(args.state_dir)
    if args.action == "down":
        gone = persisted.down()
        print(f"{'removed' if gone else 'no'} local mesh in {persisted.directory}", file=out)
        return 0
    if args.action == "up":
        existed = persisted.exists() and not args.fresh
        personas = _personas_text(args.personas) if args.personas else None
        try:
            journal = persisted.up(fresh=args.fresh, personas=personas)
        except ValueError as exc:
            raise _Usage(str(exc)) from exc
    else:
        journal = persisted.journal()
        existed = True
    with (
        Progress(f"building the local mesh in {persisted.directory}", _err(args)),
        persisted.open() as live,
    ):
        domains = sorted(live.mesh.domains)
        products = [f"{p.domain}.{p.product}" for p in live.mesh.registry.products()]
    state = {
        "state_dir": str(persisted.directory),
        "mesh": journal.mesh,
        "started": journal.started,
        "journalled_events": len(journal.entries),
        "domains": domains,
        "products": products,
        "kept": existed,
        "permissions": journal.personas is not None,
    }
    if args.json:
        out.write(json.dumps(state, indent=2) + "\n")
    else:
        verb = "kept" if existed else "started"
        print(
            f"local mesh {journal.mesh!r} {verb} in {persisted.directory} (since "
            f"{journal.started}, {len(journal.entries)} journalled events): domains "
            f"{', '.join(domains)}; products {', '.join(products)}"
            + ("; central.permissions deployed with its personas file" if journal.personas else ""),
            file=out,
        )
    return 0


def _personas_text(path: str) -> str:
    """The personas file as the mesh keeps it (compact JSON), validated: line:column errors."""
    from meshkit.governance.model import PersonasFileError, dumps_compact, load, parameter_tier

    try:
        text = dumps_compact(load(path))
        parameter_tier(text, name=path)
    except (PersonasFileError, ValueError) as exc:
        raise _Usage(str(exc)) from exc
    return text


def _err(args: argparse.Namespace) -> TextIO:
    return sys.stderr


def _caller_domain(args: argparse.Namespace, target: Any) -> str:
    domain = args.as_domain or os.environ.get("MESHKIT_DOMAIN")
    if not domain:
        raise _Usage("say which domain you act for: --as DOMAIN (or $MESHKIT_DOMAIN)")
    known = target.domains()
    if domain not in known:
        raise _Usage(f"no domain {domain!r}{suggest(domain, known)}")
    return str(domain)


# -- wiring --------------------------------------------------------------------------------


def aws_target(args: argparse.Namespace) -> AwsTarget:
    """The AWS target of the ``--aws`` options (:func:`target_options`), the caller's profile."""
    import boto3

    session = boto3.session.Session(profile_name=args.profile, region_name=args.region)
    groups = args.log_group or [g for g in os.environ.get("MESHKIT_LOG_GROUPS", "").split(",") if g]
    return AwsTarget(
        session,
        bus=args.bus or os.environ.get("MESHKIT_BUS"),
        registry_table=args.registry_table or os.environ.get("MESHKIT_REGISTRY_TABLE"),
        archive=args.archive or os.environ.get("MESHKIT_ARCHIVE"),
        log_groups=groups,
    )


@contextmanager
def _target(args: argparse.Namespace) -> Iterator[Any]:
    if args.aws:
        yield aws_target(args)
        return
    from meshkit.local.persist import NoLocalMeshError, PersistedMesh

    persisted = PersistedMesh(args.state_dir)
    try:
        journal = persisted.journal()
    except NoLocalMeshError as exc:
        raise _Failed(str(exc)) from exc
    with Progress(
        f"loading the local mesh from {persisted.directory} ({len(journal.entries)} events)",
        _err(args),
    ):
        opened = persisted.open()
        live = opened.__enter__()
    try:
        yield LocalTarget(live, where=f"local mesh in {persisted.directory}")
    finally:
        opened.__exit__(None, None, None)


def _runner(verb: Any, error: type[Exception]) -> Any:
    def run(args: argparse.Namespace, out: TextIO) -> int:
        from meshkit.local.persist import NoLocalMeshError

        try:
            if verb is cmd_local:
                return int(cmd_local(args, out))  # no target: it makes one
            with _target(args) as target:
                status = int(verb(args, target, out))
                return status
        except NoLocalMeshError as exc:
            raise error(str(exc), EXIT_NO_MESH) from exc
        except _Failed as exc:
            status = EXIT_NO_MESH if "meshkit local up" in str(exc) else exc.status
            raise error(str(exc), status) from exc

    return run


def target_options(parser: Any) -> None:
    parser.add_argument(
        "--state-dir",
        default=None,
        help="the local mesh's state directory (default $MESHKIT_STATE_DIR or .meshkit)",
    )
    parser.add_argument("--aws", action="store_true", help="act on AWS, not the local mesh")
    parser.add_argument("--profile", default=None, help="AWS profile (with --aws)")
    parser.add_argument("--region", default=None, help="AWS region (with --aws)")
    parser.add_argument("--bus", default=None, help="your domain's bus (with --aws; $MESHKIT_BUS)")
    parser.add_argument(
        "--registry-table", default=None, help="central's registry table ($MESHKIT_REGISTRY_TABLE)"
    )
    parser.add_argument(
        "--archive", default=None, help="the central archive name or ARN ($MESHKIT_ARCHIVE)"
    )
    parser.add_argument(
        "--log-group",
        action="append",
        default=None,
        help="a handler log group to trace in (with --aws; repeat; $MESHKIT_LOG_GROUPS)",
    )


def register(commands: Any, error: type[Exception]) -> None:
    """Add ``access``, ``registry``, ``trace``, ``replay`` and ``local`` to ``meshkit``."""
    access = commands.add_parser("access", help="access requests: pending, show, decide, request")
    actions = access.add_subparsers(dest="action", required=True, metavar="ACTION")
    pending = actions.add_parser("pending", help="requests waiting for a producer's decision")
    pending.add_argument("--as", dest="as_domain", default=None, help="only your domain's")
    pending.add_argument("--json", action="store_true")
    pending.set_defaults(run=_runner(cmd_access_pending, error))
    show = actions.add_parser("show", help="one request: its state, decision, grants")
    show.add_argument("request_id", metavar="REQUEST_ID")
    show.add_argument("--json", action="store_true")
    show.set_defaults(run=_runner(cmd_access_show, error))
    for verb in ("approve", "deny"):
        decide = actions.add_parser(verb, help=f"{verb} a pending request (its producer only)")
        decide.add_argument("request_id", metavar="REQUEST_ID")
        decide.add_argument("--reason", required=True, help="why (recorded, told the consumer)")
        decide.add_argument("--as", dest="as_domain", default=None, help="the producer domain")
        decide.add_argument("--by", default=None, help="who decides (default: your identity)")
        decide.set_defaults(run=_runner(cmd_access_decide, error))
    request = actions.add_parser("request", help="ask for access to a product (consumers)")
    request.add_argument("product", metavar="DOMAIN.PRODUCT")
    request.add_argument("--as", dest="as_domain", default=None, help="your (consumer) domain")
    request.add_argument(
        "--principal",
        action="append",
        required=True,
        help="who reads: a principal name of your domain or a role ARN (repeat)",
    )
    request.add_argument("--purpose", required=True, help="why you need it (recorded)")
    request.add_argument("--days", type=int, default=None, help="how long (days)")
    request.add_argument("--table", action="append", default=None, help="only these tables")
    request.add_argument("--request-id", default=None, help="default: a new req-... id")
    request.add_argument("--json", action="store_true")
    request.set_defaults(run=_runner(cmd_access_request, error))

    registry = commands.add_parser("registry", help="read central's registry")
    reads = registry.add_subparsers(dest="action", required=True, metavar="ACTION")
    domains = reads.add_parser("domains", help="registered domains")
    domains.add_argument("--state", choices=("ACTIVE", "DEREGISTERED"), default=None)
    domains.set_defaults(run=_runner(cmd_registry_domains, error))
    products = reads.add_parser("products", help="registered products")
    products.add_argument("--domain", default=None)
    products.add_argument("--state", choices=("ACTIVE", "DEPRECATED", "DEREGISTERED"))
    products.set_defaults(run=_runner(cmd_registry_products, error))
    requests = reads.add_parser("requests", help="access requests")
    requests.add_argument("--state", choices=STATES, default=None)
    requests.add_argument("--consumer", default=None, help="a consumer domain or account")
    requests.set_defaults(run=_runner(cmd_registry_requests, error))
    for sub in (domains, products, requests):
        sub.add_argument("--json", action="store_true", help="machine-readable output")

    trace = commands.add_parser("trace", help="one flow's events and outcomes, in order")
    trace.add_argument("correlation_id", metavar="CORRELATION_ID")
    trace.add_argument("--json", action="store_true")
    trace.set_defaults(run=_runner(cmd_trace, error))

    replay = commands.add_parser("replay", help="replay the central archive onto the bus")
    replay.add_argument("--since", required=True, help="ISO 8601 start")
    replay.add_argument("--until", default=None, help="ISO 8601 end (default: now)")
    replay.add_argument("--json", action="store_true")
    replay.set_defaults(run=_runner(cmd_replay, error))

    for sub in (pending, show, *actions.choices.values(), *reads.choices.values(), trace, replay):
        if not any(a.dest == "aws" for a in sub._actions):
            target_options(sub)

    local = commands.add_parser("local", help="the persisted local mesh: up, status, down")
    verbs = local.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, text in (
        ("up", "start (or keep) the local mesh on disk"),
        ("status", "what the local mesh holds"),
        ("down", "forget the local mesh"),
    ):
        sub = verbs.add_parser(name, help=text)
        sub.add_argument("--state-dir", default=None, help="default $MESHKIT_STATE_DIR or .meshkit")
        sub.add_argument("--json", action="store_true")
        if name == "up":
            sub.add_argument("--fresh", action="store_true", help="start anew, journal emptied")
            sub.add_argument(
                "--personas",
                default=None,
                metavar="FILE",
                help="build the mesh with central.permissions deployed with this personas file",
            )
        sub.set_defaults(run=_runner(cmd_local, error))
