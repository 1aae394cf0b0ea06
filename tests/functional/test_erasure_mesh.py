"""Erasure on the local mesh: subject columns reach the registry, and the producer's objects of a
registered product are purged and verified with the library (the flow handlers are not built)."""

from __future__ import annotations

from datetime import date

import pytest

from meshkit.erasure.find import scan_location
from meshkit.erasure.objects import purge_object
from meshkit.erasure.subjects import matcher_for
from meshkit.events.products import ProductRegistrationRequested, TableSpec
from meshkit.local.mesh import LocalMesh
from meshkit.local.sample_data import orders_parquet

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def test_subject_columns_are_registered_and_the_subject_purged() -> None:
    with LocalMesh(name="t", central_account="111111111111", seed=1) as mesh:
        sales = mesh.add_domain("sales", account="222222222222")
        mesh.run_until_idle()
        for i in range(2):
            sales.upload(
                f"products/orders/orders/dt=2026-11-0{i + 1}/part-0.parquet",
                orders_parquet(date(2026, 11, 1 + i), 300, seed=i),
            )
        location = f"{sales.storage_uri}orders/orders/"
        columns = {"customer_id": "customer_id", "email": "email"}
        sales.put(
            ProductRegistrationRequested(
                domain="sales",
                product="orders",
                tables=[
                    TableSpec(
                        name="orders",
                        location=location,
                        pii_columns=["email"],
                        subject_columns=columns,
                    )
                ],
            )
        )
        mesh.run_until_idle()
        record = mesh.product("sales", "orders")
        assert record is not None
        assert record.tables[0].subject_columns == columns

        matcher = matcher_for([{"email": "customer7@example.com"}], columns)
        s3 = sales.client("s3")
        plan = scan_location(s3, location, matcher)
        assert plan.objects
        outcomes = [
            purge_object(s3, sales.bucket, o.uri.split("/", 3)[3], matcher) for o in plan.objects
        ]
        assert all(o.status == "purged" and o.verified for o in outcomes)
        assert sum(o.rows_removed for o in outcomes) == plan.matching_rows
        assert scan_location(s3, location, matcher).objects == []
