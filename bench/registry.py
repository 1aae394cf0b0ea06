"""Registry calls per event against the size of the mesh: product registration, the hourly
sweep, deprecation and the consumer's unlink, each with 0 / 100 / 1,000 / 10,000 existing
items of the kind that event used to read in full.

One local mesh per size: sales produces ``orders``, marketing holds two granted requests of
it. Then, per size, the registry is seeded with items as the handlers write them — other
products of sales (with their table-name claims), finished (revoked) requests, granted
requests of other products and consumers, and other links of marketing in its own state
table — and each event is delivered once. A call is counted when it names the registry table
(central's, or the consumer's state table for the unlink); the idempotency table and every
other service are left out. The goal is the same count at every size.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

    from meshkit.local.mesh import LocalMesh

SIZES = (0, 100, 1_000, 10_000)
CENTRAL, SALES, MARKETING = "111111111111", "222222222222", "333333333333"
NO_DEADLINE = "9999-12-31T23:59:59Z"


def _row(
    name: str, value: Any, unit: str, goal: str = "", note: str = "", ok: bool | None = None
) -> dict[str, Any]:
    row: dict[str, Any] = {"name": name, "value": value, "unit": unit, "goal": goal, "note": note}
    if ok is not None:
        row["ok"] = ok
    return row


class _Counter:
    """Counts DynamoDB calls naming one of ``tables`` (botocore's single API-call path)."""

    def __init__(self) -> None:
        self.tables: dict[str, str] = {}
        self.counts: dict[str, int] = {}

    @contextmanager
    def counting(self) -> Iterator[None]:
        from botocore.client import BaseClient

        original = BaseClient._make_api_call
        counter = self

        def call(client: Any, operation: str, params: dict[str, Any]) -> Any:
            if client.meta.service_model.service_name == "dynamodb":
                names = {params.get("TableName")}
                names |= set(params.get("RequestItems") or {})
                for item in params.get("TransactItems") or []:
                    names |= {body.get("TableName") for body in item.values()}
                for name in names:
                    label = counter.tables.get(str(name))
                    if label:
                        counter.counts[label] = counter.counts.get(label, 0) + 1
            return original(client, operation, params)

        BaseClient._make_api_call = call  # type: ignore[method-assign]
        try:
            yield
        finally:
            BaseClient._make_api_call = original  # type: ignore[method-assign]

    def measure(self, mesh: LocalMesh, label: str, *, first_round: bool) -> int:
        """Registry calls of ``label``'s table while the queued events are delivered (only the
        first delivery round when ``first_round``: the handler the event reached first)."""
        self.counts = {}
        with self.counting():
            mesh.delivery.round()
            first = self.counts.get(label, 0)
            mesh.run_until_idle()
        return first if first_round else self.counts.get(label, 0)


def _seed(client: Any, table: str, items: list[dict[str, Any]]) -> None:
    from boto3.dynamodb.types import TypeSerializer

    ser = TypeSerializer()
    for i in range(0, len(items), 25):
        request = [
            {"PutRequest": {"Item": {k: ser.serialize(v) for k, v in item.items()}}}
            for item in items[i : i + 25]
        ]
        while request:
            answer = client.batch_write_item(RequestItems={table: request})
            request = answer.get("UnprocessedItems", {}).get(table, [])


def _central_items(n: int, database: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for i in range(n):
        name = f"p{i:05d}"
        items.append(
            {
                "pk": f"PRODUCT#sales#{name}",
                "sk": "META",
                "gsi1pk": "DOMAINPRODUCTS#sales",
                "gsi1sk": name,
                "domain": "sales",
                "product": name,
                "producer_account": SALES,
                "central_database": database,
                "tables": [{"name": name, "central_table": name, "location": f"s3://b/{name}/"}],
                "sharing_mode": "named",
                "status": "ACTIVE",
                "version": 1,
            }
        )
        items.append(
            {
                "pk": f"CTABLE#sales#{name}",
                "sk": "META",
                "domain": "sales",
                "product": name,
                "central_table": name,
            }
        )
        common = {
            "sk": "META",
            "consumer_domain": f"c{i:05d}",
            "consumer_account": f"{900000000000 + i:012d}",
            "producer_domain": "sales",
            "producer_account": SALES,
            "product": name,
            "central_database": database,
            "tables": [name],
            "principals": [f"arn:aws:iam::{900000000000 + i:012d}:role/analyst"],
            "permissions": ["SELECT"],
            "sharing_mode": "named",
            "correlation_id": str(uuid.uuid4()),
        }
        revoked = f"old{i:05d}"
        items.append(
            {
                **common,
                "pk": f"REQUEST#{revoked}",
                "request_id": revoked,
                "state": "REVOKED",
                "gsi1pk": "REQSTATE#REVOKED",
                "gsi1sk": f"{NO_DEADLINE}#{revoked}",
                "revoked_at": "2026-01-01T00:00:00Z",
                "grants_revoked_at": "2026-01-01T00:00:00Z",
            }
        )
        granted = f"live{i:05d}"
        items.append(
            {
                **common,
                "pk": f"REQUEST#{granted}",
                "request_id": granted,
                "state": "APPROVED",
                "gsi1pk": "REQSTATE#APPROVED",
                "gsi1sk": f"{NO_DEADLINE}#{granted}",
                "gsi2pk": f"OPEN#sales#{name}",
                "gsi2sk": granted,
            }
        )
        items.append({"pk": f"OPENBY#c{i:05d}", "sk": granted, "producer_domain": "sales"})
    return items


def _consumer_items(n: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for i in range(n):
        rid, db = f"other{i:05d}", f"t_link_x_p{i:05d}"
        items.append(
            {
                "pk": "ACCESS",
                "sk": rid,
                "request_id": rid,
                "link_database": db,
                "tables": [f"p{i:05d}"],
                "mode": "named",
            }
        )
        items.append({"pk": f"LINKUSE#{db}", "sk": "DATABASE", "users": {rid}})
    return items


def _measure(n: int) -> dict[str, int]:
    from meshkit.events.access import AccessRequested, AccessRevoked
    from meshkit.events.products import (
        ProductDeprecated,
        ProductRegistrationRequested,
        TableSpec,
    )
    from meshkit.handlers._common import central_database_name
    from meshkit.local.mesh import LocalMesh
    from meshkit.local.sample_data import daily_revenue_csv

    counter = _Counter()
    with LocalMesh(name="bench", central_account=CENTRAL, seed=1) as mesh:
        sales = mesh.add_domain("sales", account=SALES)
        marketing = mesh.add_domain("marketing", account=MARKETING)
        mesh.run_until_idle()
        day = date(2026, 11, 1)
        for table in ("daily", "weekly"):
            sales.upload(f"products/orders/{table}/part-0.csv", daily_revenue_csv(day, 2, seed=2))
        base = sales.storage_uri.rstrip("/")
        spec = [TableSpec(name="daily", location=f"{base}/orders/daily/")]
        sales.put(ProductRegistrationRequested(domain="sales", product="orders", tables=spec))
        mesh.run_until_idle()
        requests = [f"bench-req-{i}" for i in range(2)]
        for rid in requests:
            marketing.put(
                AccessRequested(
                    request_id=rid,
                    consumer_domain="marketing",
                    producer_domain="sales",
                    product="orders",
                    principals=[marketing.principal("analyst")],
                    purpose="bench",
                )
            )
        mesh.run_until_idle()
        registry = mesh.central.config.registry_table
        state = marketing.resources.state_table
        assert registry is not None
        counter.tables = {registry: "central", state: "consumer"}
        with mesh.quiet():
            database = central_database_name(mesh.name, "sales")
            _seed(mesh.central.client("dynamodb"), registry, _central_items(n, database))
            _seed(marketing.client("dynamodb"), state, _consumer_items(n))

        out: dict[str, int] = {}
        # A registration that changes the product (a second table): the full path.
        spec.append(TableSpec(name="weekly", location=f"{base}/orders/weekly/"))
        sales.put(ProductRegistrationRequested(domain="sales", product="orders", tables=spec))
        out["product registration"] = counter.measure(mesh, "central", first_round=True)
        mesh.advance(timedelta(hours=1))
        out["hourly sweep (nothing due)"] = counter.measure(mesh, "central", first_round=True)
        marketing.put(AccessRevoked(request_id=requests[0], reason="bench", revoked_by="bench"))
        out["consumer unlink (AccessRevoked)"] = counter.measure(
            mesh, "consumer", first_round=False
        )
        sales.put(ProductDeprecated(domain="sales", product="orders", reason="bench"))
        out["product deprecation"] = counter.measure(mesh, "central", first_round=True)
        record = mesh.request(requests[1])
        if record is None or record.access_ends_at is None:
            raise RuntimeError("the deprecation did not set the granted request's end")
    return out


def run() -> list[dict[str, Any]]:
    by_size = {n: _measure(n) for n in SIZES}
    rows = []
    for event in by_size[SIZES[0]]:
        values = [by_size[n][event] for n in SIZES]
        rows.append(
            _row(
                f"registry calls per {event}",
                " / ".join(str(v) for v in values),
                "calls",
                "flat",
                "at " + " / ".join(f"{n:,}" for n in SIZES) + " existing items",
                len(set(values)) == 1,
            )
        )
    return rows
