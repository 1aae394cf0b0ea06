"""`meshkit demo`: the whole mesh on one machine — three domains, two products, every flow.

A governance account, a producer ``sales`` and consumers ``marketing`` and ``finance``, each a
separate moto account, all running the very handlers Lambda runs.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from meshkit.events.access import AccessDecided, AccessRequested, AccessRevoked
from meshkit.events.products import ProductRegistrationRequested, TableSpec
from meshkit.handlers._common import central_database_name, link_database_name

if TYPE_CHECKING:
    from collections.abc import Callable

    from meshkit.local.mesh import DomainHandle, LocalMesh
    from meshkit.local.types import TimelineEntry

__all__ = ["DemoResult", "main", "run_demo"]

CENTRAL = "111111111111"
ACCOUNTS = {"sales": "222222222222", "marketing": "333333333333", "finance": "444444444444"}


@dataclass
class DemoResult:
    ok: bool = True
    #: The scenario itself, from the first flow to the last check.
    wall_seconds: float = 0.0
    #: ``meshkit demo`` only: process start to a running mesh (interpreter, imports, moto
    #: accounts and stacks), and process start to the end of the scenario.
    startup_seconds: float | None = None
    total_seconds: float | None = None
    flows: list[dict[str, Any]] = field(default_factory=list)
    queries: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)

    def check(self, name: str, passed: bool, detail: str = "") -> None:
        self.checks.append({"name": name, "ok": passed, "detail": detail})
        if not passed:
            self.ok = False


def _query(result: DemoResult, domain: DomainHandle, sql: str, *, expect: bool) -> int:
    try:
        rows = len(domain.query(sql).rows)
        allowed, note = True, ""
    except PermissionError as exc:
        rows, allowed, note = 0, False, str(exc)
    result.queries.append(
        {"domain": domain.name, "sql": sql, "allowed": allowed, "rows": rows, "note": note}
    )
    result.check(
        f"{domain.name} query {'allowed' if expect else 'refused'}", allowed == expect, note
    )
    return rows


def _seen(mesh: LocalMesh, detail_type: str, correlation_id: str | None = None) -> bool:
    return any(
        e.detail_type == detail_type
        and e.status == "ok"
        and (correlation_id is None or e.correlation_id == correlation_id)
        for e in mesh.timeline
    )


def run_demo(
    mesh: LocalMesh | None = None,
    *,
    rows_per_day: int = 200,
    on_flow: Callable[[str], None] | None = None,
) -> DemoResult:
    """Run the scenario on ``mesh`` (a fresh LocalMesh by default) and check every step;
    ``on_flow`` is told the name of each flow as it starts (progress output)."""
    from meshkit.local.mesh import LocalMesh

    started = time.perf_counter()
    result = DemoResult()
    own_mesh = mesh is None
    mesh = mesh or LocalMesh(name="demo", central_account=CENTRAL, datazone=True)
    if own_mesh:
        mesh.__enter__()
    try:

        def flow(name: str) -> Any:
            if on_flow is not None:
                on_flow(name)
            return mesh.flow(name)

        # 1. Domain onboarding: deploying a domain announces it; central registers it.
        with flow("domain_onboarding") as f:
            sales, marketing, finance = add_demo_domains(mesh)
            mesh.run_until_idle()
        result.flows.append(_flow(f, ok=sum(_seen_all(mesh, "DomainRegistered")) == 3))

        # 2. Product registration: sample data, registration, links, crawls (event-driven).
        upload_demo_data(sales, rows_per_day=rows_per_day)
        with flow("product_registration") as f:
            orders, revenue = demo_products(sales)
            sales.put(orders)
            sales.put(revenue)
            mesh.run_until_idle()
        ok = all(_seen(mesh, "ProductSchemaUpdated", e.correlation_id) for e in (orders, revenue))
        result.flows.append(_flow(f, ok=ok))

        db = central_database_name(mesh.name, "sales")
        # 3. Personal data: marketing asks, sales approves, marketing links and reads.
        with flow("access_pii_approved") as f:
            request = AccessRequested(
                request_id=f"req-{uuid.uuid4().hex[:12]}",
                consumer_domain="marketing",
                producer_domain="sales",
                product="orders",
                principals=[marketing.principal("analyst")],
                purpose="campaign attribution",
                duration_days=90,
            )
            marketing.put(request)
            mesh.run_until_idle()
            asked = _seen(mesh, "ApprovalRequested", request.correlation_id)
            sales.put(
                AccessDecided(
                    request_id=request.request_id,
                    approved=True,
                    decided_by=f"arn:aws:iam::{sales.account}:role/data-owner",
                    reason="purpose compatible with the consent given",
                    **request.follow_up(),
                )
            )
            mesh.run_until_idle()
        linked = _seen(mesh, "AccessLinked", request.correlation_id)
        result.flows.append(_flow(f, ok=asked and linked))
        marketing_orders = f"{link_database_name(mesh.name, db, 'orders')}.orders"
        _query(result, marketing, f"SELECT * FROM {marketing_orders}", expect=True)

        # 3b. Right to erasure: a customer asks; sales' files lose their rows, verified.
        erasure_step(mesh, result, marketing_orders)

        # 4. Non-sensitive data: finance asks, central grants at once (tag-based sharing).
        with flow("access_auto_granted") as f:
            auto = AccessRequested(
                request_id=f"req-{uuid.uuid4().hex[:12]}",
                consumer_domain="finance",
                producer_domain="sales",
                product="revenue",
                principals=[finance.principal("controller")],
                purpose="monthly close",
            )
            finance.put(auto)
            mesh.run_until_idle()
        result.flows.append(
            _flow(
                f,
                ok=_seen(mesh, "AccessLinked", auto.correlation_id)
                and not _seen(mesh, "ApprovalRequested", auto.correlation_id),
            )
        )
        _query(
            result,
            finance,
            f"SELECT * FROM {link_database_name(mesh.name, db, 'revenue')}.revenue_daily",
            expect=True,
        )

        # 5. Finance links the personal-data product itself, without a grant: refused.
        finance_db = link_database_name(mesh.name, db, "orders")
        finance.client("glue").create_database(DatabaseInput={"Name": finance_db})
        finance.client("glue").create_table(
            DatabaseName=finance_db,
            TableInput={
                "Name": "orders",
                "TargetTable": {
                    "CatalogId": mesh.central.account,
                    "DatabaseName": db,
                    "Name": "orders",
                },
            },
        )
        _query(result, finance, f"SELECT * FROM {finance_db}.orders", expect=False)

        # 6. Revocation: the producer ends marketing's access; its query is refused.
        with flow("revocation") as f:
            sales.put(
                AccessRevoked(
                    request_id=request.request_id,
                    reason="campaign finished",
                    revoked_by="sales",
                    **request.follow_up(),
                )
            )
            mesh.run_until_idle()
        result.flows.append(_flow(f, ok=_seen(mesh, "AccessRevoked", request.correlation_id)))
        _query(result, marketing, f"SELECT * FROM {marketing_orders}", expect=False)

        # 7. Permissions as code: lake personas in a file, planned, applied, inherited, drift.
        permissions_step(mesh, result)

        # 8. DataZone: sales publishes, finance subscribes in DataZone, the mesh decides.
        publication_step(mesh, result)

        dead = mesh.dead_letters()
        result.check("no dead letters", not dead, "; ".join(str(d) for d in dead[:3]))
    finally:
        if own_mesh:
            mesh.__exit__(None, None, None)
    result.ok = result.ok and all(fl["ok"] for fl in result.flows)
    result.wall_seconds = round(time.perf_counter() - started, 3)
    return result


def add_demo_domains(mesh: LocalMesh) -> tuple[DomainHandle, DomainHandle, DomainHandle]:
    """The demo's domains: producer ``sales``, consumers ``marketing`` and ``finance``."""
    sales = mesh.add_domain("sales", account=ACCOUNTS["sales"], sharing_mode="named")
    marketing = mesh.add_domain("marketing", account=ACCOUNTS["marketing"], principals=("analyst",))
    finance = mesh.add_domain("finance", account=ACCOUNTS["finance"], principals=("controller",))
    return sales, marketing, finance


def upload_demo_data(sales: DomainHandle, *, rows_per_day: int = 200) -> None:
    """Three days of orders (Parquet) and a month of daily revenue (CSV) in sales' bucket."""
    from meshkit.local.sample_data import daily_revenue_csv, orders_parquet

    for i in range(3):
        day = date(2026, 11, 1 + i)
        sales.upload(
            f"products/orders/orders/dt={day.isoformat()}/part-0.parquet",
            orders_parquet(day, rows_per_day, seed=i),
        )
    sales.upload(
        "products/revenue/daily/part-0.csv", daily_revenue_csv(date(2026, 11, 1), 30, seed=7)
    )


def demo_products(
    sales: DomainHandle, *, correlation_ids: tuple[str, str] | None = None
) -> tuple[ProductRegistrationRequested, ProductRegistrationRequested]:
    """The registrations of ``sales.orders`` (personal data: email) and ``sales.revenue``."""
    base = sales.storage_uri.rstrip("/")
    ids: list[dict[str, str]] = (
        [{"correlation_id": c} for c in correlation_ids] if correlation_ids else [{}, {}]
    )
    orders = ProductRegistrationRequested(
        domain="sales",
        product="orders",
        description="Web-shop orders, one row per order",
        tables=[
            TableSpec(
                name="orders",
                location=f"{base}/orders/orders/",
                pii_columns=["email"],
                subject_columns={"customer_id": "customer_id", "email": "email"},
            )
        ],
        **ids[0],
    )
    revenue = ProductRegistrationRequested(
        domain="sales",
        product="revenue",
        sharing_mode="tag",
        description="Revenue per day and channel",
        tables=[TableSpec(name="daily", location=f"{base}/revenue/daily/")],
        **ids[1],
    )
    return orders, revenue


def erasure_step(mesh: LocalMesh, result: DemoResult, marketing_orders: str) -> None:
    """Flow ``erasure``: the privacy desk asks (``meshkit erasure request``), central finds the
    customer in sales' orders, the DPO approves (``meshkit erasure approve``), sales purges and
    verifies; marketing's query of orders still runs and no longer shows the customer."""
    import argparse
    import io

    from meshkit.erasure.cli import register, run
    from meshkit.erasure.formats import count_matches
    from meshkit.erasure.subjects import matcher_for

    sales, marketing = mesh.domain("sales"), mesh.domain("marketing")
    with mesh.quiet():
        s3 = sales.client("s3")
        prefix = sales.storage_uri.removeprefix(f"s3://{sales.bucket}/") + "orders/orders/"
        keys = [
            o["Key"] for o in s3.list_objects_v2(Bucket=sales.bucket, Prefix=prefix)["Contents"]
        ]
        first = s3.get_object(Bucket=sales.bucket, Key=keys[0])["Body"].read()
    import pyarrow.parquet as pq

    customer = str(pq.read_table(io.BytesIO(first), columns=["customer_id"]).column(0)[0])
    matcher = matcher_for([{"customer_id": customer}], {"customer_id": "customer_id"})

    def in_files() -> int:
        with mesh.quiet():
            return sum(
                count_matches(k, s3.get_object(Bucket=sales.bucket, Key=k)["Body"].read(), matcher)[
                    1
                ]
                for k in keys
            )

    def cli(*argv: str) -> str:
        parser = argparse.ArgumentParser(prog="meshkit")
        register(parser.add_subparsers(dest="command"), RuntimeError)
        args = parser.parse_args(
            [
                "erasure",
                *argv,
                "--bus",
                mesh.central.bus,
                "--registry-table",
                mesh.central.resources.registry_table,
            ]
        )
        out = io.StringIO()
        run(args, out, RuntimeError, session=mesh.central.session)
        return out.getvalue()

    sql = f"SELECT order_id FROM {marketing_orders} WHERE customer_id = {customer}"
    total = f"SELECT order_id FROM {marketing_orders}"
    rows_before = _query(result, marketing, sql, expect=True)
    all_before = len(marketing.query(total).rows)
    files_before = in_files()
    erasure_id = f"er-demo-{uuid.uuid4().hex[:8]}"
    with mesh.flow("erasure") as f:
        cli(
            "request",
            erasure_id,
            "--key",
            f"customer_id={customer}",
            "--ref",
            "ticket-4711",
            "--by",
            "privacy-desk",
            "--delete-noncurrent",
        )
        mesh.run_until_idle()
        planned = "PLANNED" in cli("status", erasure_id)
        cli("approve", erasure_id, "--by", "dpo")
        mesh.run_until_idle()
        record = mesh.erasure(erasure_id)
    rows_after = _query(result, marketing, sql, expect=True)
    all_after = len(marketing.query(total).rows)
    gone = in_files() == 0
    removed = record.rows_removed if record is not None else -1
    result.check(
        "erasure: planned, approved, verified, recorded",
        planned and record is not None and record.state == "COMPLETED" and record.verified,
        repr(record.state if record else None),
    )
    result.check(
        "erasure: the customer's rows are gone from sales' files and marketing's query",
        gone
        and rows_before > 0
        and rows_after == 0
        and files_before == removed
        and all_before - all_after == removed,
        f"files {files_before}->{in_files()}, query {rows_before}->{rows_after}, "
        f"all {all_before}->{all_after}, removed {removed}",
    )
    result.flows.append(_flow(f, ok=bool(planned and record and record.verified and gone)))


#: The demo's personas file: analysts of finance read the sales lake without personal data.
PERSONAS = """
version: 1
personas:
  - name: analyst
    description: finance analysts
    principals: [finance-analyst]
    rules:
      - database: "{db}"
        tables: ["*"]
        permissions: [SELECT, DESCRIBE]
"""


def publication_step(mesh: LocalMesh, result: DemoResult) -> None:
    """Flow ``publication``: sales' products become DataZone assets; finance's DataZone
    subscription to personal data goes through the producer's approval and ends in a grant."""
    from meshkit.events.publication import DomainPublicationConfigured

    dz, did = mesh.datazone, mesh.datazone_domain_id
    sales, finance = mesh.domain("sales"), mesh.domain("finance")
    with mesh.flow("publication") as f:
        for name, domain in (("sales", sales), ("finance", finance)):
            dz.create_project(did, name)  # DataZone administrators create the projects
            domain.put(
                DomainPublicationConfigured(domain=name, datazone_domain_id=did, project_name=name)
            )
        mesh.run_until_idle()
        listed = {x["name"] for x in dz.listings(did)}
        published = {"orders", "revenue_daily"} <= listed
        result.check("publication: sales' products are DataZone assets", published, str(listed))
        # A finance analyst finds the orders listing in DataZone's catalog and subscribes.
        # (DataZone lives in the governance account; its portal users act there.)
        client = mesh.central.client("datazone")
        (hit,) = [
            i["assetListing"]
            for i in client.search_listings(domainIdentifier=did, searchText="orders")["items"]
            if i["assetListing"]["name"] == "orders"
        ]
        asked = client.create_subscription_request(
            domainIdentifier=did,
            subscribedPrincipals=[{"project": {"identifier": dz.project_id(did, "finance")}}],
            subscribedListings=[{"identifier": hit["listingId"]}],
            requestReason="reconcile refunds with orders",
        )
        mesh.run_until_idle()
        record = mesh.request(f"dz-{asked['id']}")
        pending = record is not None and record.state == "PENDING"
        result.check("publication: the subscription waits for the producer", pending)
        sales.put(
            AccessDecided(
                request_id=f"dz-{asked['id']}",
                approved=True,
                decided_by=f"arn:aws:iam::{sales.account}:role/data-owner",
                reason="refund reconciliation is a compatible purpose",
            )
        )
        mesh.run_until_idle()
        status = dz.subscription_request(did, asked["id"])["status"]
        result.check(
            "publication: DataZone shows the mesh's decision", status == "ACCEPTED", status
        )
    result.flows.append(_flow(f, ok=published and pending and status == "ACCEPTED"))
    db = central_database_name(mesh.name, "sales")
    _query(
        result,
        finance,
        f"SELECT count(*) FROM {link_database_name(mesh.name, db, 'orders')}.orders",
        expect=True,
    )


def permissions_step(mesh: LocalMesh, result: DemoResult) -> None:
    """Flow ``permissions``: apply the file, inherit a new table in one event, report drift."""
    from meshkit.events.aws import ScheduledEvent
    from meshkit.events.products import ProductSchemaUpdated
    from meshkit.governance.engine import apply_file, plan_file
    from meshkit.governance.handlers import permissions
    from meshkit.governance.model import loads
    from meshkit.local.sample_data import daily_revenue_csv

    db = central_database_name(mesh.name, "sales")
    text = PERSONAS.format(db=db)
    analyst = f"arn:aws:iam::{mesh.central.account}:role/finance-analyst"
    glue, lf = mesh.central.client("glue"), mesh.central.client("lakeformation")
    sales = mesh.domain("sales")
    with mesh.flow("permissions") as f:
        mesh.central.client("ssm").put_parameter(
            Name=f"/{mesh.name}/permissions/personas", Value=text, Type="String", Overwrite=True
        )
        mesh.add_handler("central", [ProductSchemaUpdated, ScheduledEvent], permissions)
        applied = apply_file(loads(text), glue, lf, mesh.central.account)
        refused = [(r.table, r.columns) for r in applied.plan.refused]
        result.check(
            "permissions: email refused without a processing record",
            (f"{db}.orders", ("email",)) in refused,
            str(refused),
        )
        # A new table appears: its grant comes with the one ProductSchemaUpdated.
        sales.upload(
            "products/forecast/weekly/part-0.csv", daily_revenue_csv(date(2026, 11, 1), 7, seed=9)
        )
        sales.put(
            ProductRegistrationRequested(
                domain="sales",
                product="forecast",
                description="Revenue forecast per week",
                tables=[TableSpec(name="weekly", location=f"{sales.storage_uri}forecast/weekly/")],
            )
        )
        mesh.run_until_idle()
        inherited = len(mesh.published("PermissionsApplied")) == 1
        # A grant made by hand, outside the file: the hourly reconcile reports it.
        lf.grant_permissions(
            Principal={"DataLakePrincipalIdentifier": analyst},
            Resource={"Table": {"DatabaseName": db, "Name": "orders"}},
            Permissions=["SELECT"],
        )
        mesh.emit_aws_event(mesh.central.account, "aws.events", "Scheduled Event", {})
        mesh.run_until_idle()
        drift = mesh.published("PermissionsDriftDetected")
        reported = bool(drift) and drift[-1]["drift"][0]["resource"] == f"{db}.orders"
        lf.revoke_permissions(
            Principal={"DataLakePrincipalIdentifier": analyst},
            Resource={"Table": {"DatabaseName": db, "Name": "orders"}},
            Permissions=["SELECT"],
        )
        clean = plan_file(loads(text), glue, lf, mesh.central.account).plan
    _query_as(result, mesh, analyst, f"SELECT * FROM {db}.forecast_weekly", expect=True)
    _query_as(result, mesh, analyst, f"SELECT email FROM {db}.orders", expect=False)
    result.flows.append(
        _flow(f, ok=inherited and reported and clean.changes == 0 and not clean.reported)
    )


def _query_as(
    result: DemoResult, mesh: LocalMesh, principal: str, sql: str, *, expect: bool
) -> None:
    import duckdb

    try:
        rows = len(mesh.lake.query(mesh.central.account, principal, sql).rows)
        allowed, note = True, ""
    except PermissionError as exc:
        rows, allowed, note = 0, False, str(exc)
    except duckdb.BinderException as exc:  # a column the grant left out does not exist for it
        rows, allowed, note = 0, False, f"{type(exc).__name__}: {exc}"
    result.queries.append(
        {"domain": "central", "sql": sql, "allowed": allowed, "rows": rows, "note": note}
    )
    result.check(f"query {sql!r} {'allowed' if expect else 'refused'}", allowed == expect, note)


def _seen_all(mesh: LocalMesh, detail_type: str) -> list[bool]:
    return [e.status == "ok" for e in mesh.timeline if e.detail_type == detail_type]


def _flow(f: Any, *, ok: bool) -> dict[str, Any]:
    s = f.stats
    return {
        "name": s.name,
        "ok": bool(ok and s.ok),
        "events": s.events,
        "api_calls": s.api_calls,
        "polls": s.polls,
        "seconds": round(s.seconds, 3),
    }


_STYLES = {"ok": "", "duplicate": "dim", "rejected": "yellow", "failed": "red"}


def _console() -> Any:
    from rich.console import Console

    console = Console()
    if not console.is_terminal:
        console = Console(width=140)  # piped: do not squeeze the tables into 80 columns
    return console


class _Stream:
    """The timeline printed as it happens: one line per handler call, a header per flow."""

    def __init__(self, console: Any) -> None:
        self.console = console
        self.t0 = time.perf_counter()

    def flow(self, name: str) -> None:
        self.console.print(f"[bold]{name.replace('_', ' ')}[/bold]")

    def entry(self, e: TimelineEntry) -> None:
        offset = (time.perf_counter() - self.t0) * 1000
        style = _STYLES.get(e.status, "")
        line = (
            f"  {offset:8.0f} ms  {e.domain:<10} {e.detail_type or '?':<34} "
            f"{e.handler:<28} {e.ms:7.1f} ms  {e.status}"
        )
        self.console.print(line, style=style or None, highlight=False, markup=False)


def _print_summary(console: Any, result: DemoResult) -> None:
    from rich.table import Table

    flows = Table(title="Flows")
    for col in ("flow", "ok", "events", "API calls", "polls", "seconds"):
        flows.add_column(col)
    for fl in result.flows:
        flows.add_row(
            fl["name"],
            "yes" if fl["ok"] else "NO",
            str(fl["events"]),
            str(fl["api_calls"]),
            str(fl["polls"]),
            f"{fl['seconds']:.2f}",
        )
    console.print(flows)
    console.print("[bold]Queries[/bold] (DuckDB over the producer's objects, as the consumer)")
    for q in result.queries:
        if q["allowed"]:
            console.print(
                f"  [green]allowed[/green] {q['domain']}: {q['sql']}  -> {q['rows']} rows"
            )
        else:
            console.print(
                f"  [yellow]refused[/yellow] {q['domain']}: {q['sql']}\n      {q['note']}"
            )
    for c in result.checks:
        if not c["ok"]:
            console.print(f"[red]check failed:[/red] {c['name']}: {c['detail']}")
    verdict = "[green]OK[/green]" if result.ok else "[red]FAILED[/red]"
    console.print(
        f"demo {verdict} in {result.total_seconds:.2f} s wall time "
        f"(start-up {result.startup_seconds:.2f} s, flows {result.wall_seconds:.2f} s)"
    )


def process_age() -> float:
    """Seconds since this process started (interpreter start-up and imports included), from
    ``/proc`` where there is one; elsewhere since ``meshkit.local.demo`` was imported."""
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime", encoding="ascii") as f:
            uptime = float(f.read().split()[0])
        import os

        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: starttime, in ticks
        return max(0.0, uptime - started)
    except (OSError, ValueError, IndexError):
        return time.perf_counter() - _IMPORTED


_IMPORTED = time.perf_counter()


def main(as_json: bool = False) -> int:
    """Entry point of `meshkit demo` (and `make demo`). The human output streams the timeline
    as the flows run; both outputs give the wall time from process start, start-up included."""
    from meshkit.local.mesh import LocalMesh

    console = None if as_json else _console()
    if console is not None:
        console.print("starting the local mesh (moto accounts, buses, queues, tables) ...")
    mesh = LocalMesh(name="demo", central_account=CENTRAL, datazone=True)
    with mesh:
        startup = process_age()
        stream = None
        if console is not None:
            console.print(f"mesh ready after {startup:.2f} s; running every flow:")
            stream = _Stream(console)
            mesh.watch(stream.entry)
        result = run_demo(mesh, on_flow=stream.flow if stream is not None else None)
    result.startup_seconds = round(startup, 3)
    result.total_seconds = round(process_age(), 3)
    if as_json:
        out = asdict(result)
        out.pop("checks") if result.ok else None
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
    else:
        _print_summary(console, result)
    return 0 if result.ok else 1
