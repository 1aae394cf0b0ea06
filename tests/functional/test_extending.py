"""A team's own handler, subscribed with add_handler, runs on a real flow (docs/extending.md)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import TYPE_CHECKING

from meshkit.events import AccessGranted, AccessRequested, ProductRegistrationRequested, TableSpec
from meshkit.local.mesh import LocalMesh
from meshkit.local.sample_data import daily_revenue_csv
from meshkit.runtime.router import EventRouter

if TYPE_CHECKING:
    from meshkit.runtime.context import HandlerContext


def test_custom_handler_receives_typed_events_from_central() -> None:
    seen: list[tuple[str, str, str]] = []
    router = EventRouter("marketing.notify")

    @router.on(AccessGranted)
    def notify(event: AccessGranted, ctx: HandlerContext) -> None:
        seen.append((ctx.sender_account, event.product, ctx.config.account_id))

    with LocalMesh(name="dev", central_account="111111111111") as mesh:
        sales = mesh.add_domain("sales", account="222222222222")
        marketing = mesh.add_domain("marketing", account="333333333333", principals=("analyst",))
        mesh.add_handler("marketing", [AccessGranted], router)
        mesh.run_until_idle()
        sales.upload(
            "products/revenue/daily/part-0.csv", daily_revenue_csv(date(2026, 1, 1), 2, seed=1)
        )
        sales.put(
            ProductRegistrationRequested(
                domain="sales",
                product="revenue",
                tables=[TableSpec(name="daily", location=f"{sales.storage_uri}revenue/daily/")],
            )
        )
        mesh.run_until_idle()
        request = AccessRequested(
            request_id=f"req-{uuid.uuid4().hex[:12]}",
            consumer_domain="marketing",
            producer_domain="sales",
            product="revenue",
            principals=[marketing.principal("analyst")],
            purpose="dashboards",
        )
        marketing.put(request)
        mesh.run_until_idle()
        ran = [e for e in mesh.timeline if e.group == "marketing.notify"]

    assert seen == [("111111111111", "revenue", "333333333333")]
    assert [(e.handler, e.status) for e in ran] == [("notify", "ok")]
