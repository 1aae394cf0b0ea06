"""DataZone publication on the local mesh: calls and events to publish a one-table product and to
republish it after a schema change, and what an unchanged schema costs, with 0 polls and 0 fixed
waits, beside the DataZone auto-publish seed (research next-capabilities §C).

The seed's figures are read from its published Lambda, not run: about 13 DataZone/Glue calls per
crawler event, a 20 s environment poll and a 5 s data-source poll, and a run started whenever
tables exist (changed or not).
"""

from __future__ import annotations

from datetime import date
from typing import Any

SEED_CALLS = 13
SEED_POLL_WAITS_S = 20 + 5


def _row(
    name: str, value: Any, unit: str, goal: str = "", note: str = "", ok: bool | None = None
) -> dict[str, Any]:
    row: dict[str, Any] = {"name": name, "value": value, "unit": unit, "goal": goal, "note": note}
    if ok is not None:
        row["ok"] = ok
    return row


def run() -> list[dict[str, Any]]:
    from meshkit.events.products import (
        ProductRegistrationRequested,
        ProductSchemaUpdated,
        TableSchema,
        TableSpec,
    )
    from meshkit.local.mesh import LocalMesh
    from meshkit.local.sample_data import add_crawled_column, orders_parquet

    rows: list[dict[str, Any]] = []
    with LocalMesh(name="bench", central_account="111111111111", datazone=True) as mesh:
        sales = mesh.add_domain("sales", account="222222222222", datazone_project="sales")
        mesh.run_until_idle()
        sales.upload(
            "products/orders/orders/part-0.parquet", orders_parquet(date(2026, 11, 1), 50, seed=1)
        )
        base = sales.storage_uri.rstrip("/")
        register = ProductRegistrationRequested(
            domain="sales",
            product="orders",
            tables=[TableSpec(name="orders", location=f"{base}/orders/orders/", sensitive=False)],
        )
        with mesh.accounting.window("registration and first publication") as first:
            sales.put(register)
            mesh.run_until_idle()
        if not mesh.published("ProductPublished"):
            raise RuntimeError("the product was not published")
        product = mesh.product("sales", "orders")
        if product is None or not product.schema_:
            raise RuntimeError("the product's schema was not recorded")
        table = TableSchema.model_validate(product.schema_[0].model_dump())
        event = ProductSchemaUpdated(
            domain="sales", product="orders", crawler_name="bench-sales-orders", tables=[table]
        )
        with mesh.accounting.window("unchanged schema") as same:
            sales.put(event)
            mesh.run_until_idle()
        changed = add_crawled_column(mesh.central.client("glue"), "bench_sales", table, "channel")
        with mesh.accounting.window("republish after a schema change") as again:
            sales.put(event.model_copy(update={"tables": [changed]}))
            mesh.run_until_idle()

    def dz(stats: Any) -> int:
        return sum(n for op, n in stats.calls_by_operation.items() if op.startswith("datazone."))

    first_dz = dz(first)
    rows.append(
        _row(
            "publish one-table product: DataZone calls",
            first_dz,
            "calls",
            goal=f"<= seed {SEED_CALLS}",
            ok=first_dz <= SEED_CALLS,
            note="first publication creates the project's environment and the data source; "
            f"seed: ~{SEED_CALLS} calls plus {SEED_POLL_WAITS_S} s of poll waits",
        )
    )
    rows.append(
        _row(
            "publish one-table product: events",
            first.events,
            "events",
            note="registration, crawl and DataZone's own completion events",
        )
    )
    rows.append(
        _row(
            "republish after schema change: DataZone calls",
            dz(again),
            "calls",
            goal=f"<= seed {SEED_CALLS}",
            ok=dz(again) <= SEED_CALLS,
            note="start a run, read it and its activities "
            "(UpdateDataSource only when the table set changes)",
        )
    )
    rows.append(
        _row(
            "unchanged schema: DataZone calls",
            dz(same),
            "calls",
            goal="0 (seed starts a run anyway)",
            ok=dz(same) == 0,
        )
    )
    polls = first.polls + again.polls + same.polls
    rows.append(
        _row(
            "publication polls and fixed waits",
            polls,
            "polls",
            goal="0",
            ok=polls == 0,
            note="seed: environment poll every 20 s, data source every 5 s "
            f"({SEED_POLL_WAITS_S} s)",
        )
    )
    return rows
