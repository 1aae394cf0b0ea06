"""The canonical-form property: any desired state, applied and read back, plans zero changes.

Each example gets principals of its own, so one local mesh serves every example.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_flows import CENTRAL, SALES, _orders, _revenue

from meshkit.governance.engine import apply_file, plan_file
from meshkit.governance.model import PersonasFile
from meshkit.local.mesh import LocalMesh

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

_COUNTER = itertools.count()
_PERMS = ["SELECT", "DESCRIBE", "ALTER", "INSERT", "DELETE", "ALL"]


@pytest.fixture(scope="module")
def mesh() -> Any:
    with LocalMesh(name="t", central_account=CENTRAL, seed=1) as m:
        m.add_domain("sales", account=SALES)
        m.run_until_idle()
        sales = m.domain("sales")
        base = sales.storage_uri.rstrip("/")
        for event in (_orders(sales, base), _revenue(sales, base, "tag")):
            sales.put(event)
        m.run_until_idle()
        yield m


@st.composite
def rules(draw: st.DrawFn) -> dict[str, Any]:
    permissions = draw(st.lists(st.sampled_from(_PERMS), min_size=1, max_size=4))
    rule: dict[str, Any] = {"permissions": permissions}
    grantable = [p for p in permissions if p != "ALL"]
    rule["grant_option"] = (
        draw(st.lists(st.sampled_from(grantable), max_size=2)) if grantable else []
    )
    if draw(st.booleans()):
        rule["lf_tags"] = {
            "mesh_product": draw(st.sampled_from([["orders"], ["revenue"], ["orders", "revenue"]]))
        }
    else:
        rule["database"] = draw(st.sampled_from(["t_sales", "t_*"]))
        rule["tables"] = draw(
            st.sampled_from([["*"], ["orders"], ["revenue_*"], ["orders", "revenue_daily"]])
        )
        columns = draw(
            st.sampled_from(
                [None, {"include": ["order_id", "email", "day"]}, {"exclude": ["amount"]}]
            )
        )
        if columns is not None and not (columns.get("exclude") and rule["grant_option"]):
            rule["columns"] = columns
    if draw(st.booleans()):
        rule["pii"] = True
        rule["processing_record"] = {
            "purpose": "support",
            "legal_basis": "contract",
            "owner": "dpo",
            "review_date": "2027-01-01",
        }
    return rule


@st.composite
def files(draw: st.DrawFn) -> PersonasFile:
    n = next(_COUNTER)
    personas = [
        {
            "name": f"p{i}",
            "principals": [f"r{n}-{i}"],
            "rules": draw(st.lists(rules(), min_size=1, max_size=3)),
        }
        for i in range(draw(st.integers(1, 2)))
    ]
    return PersonasFile.model_validate({"version": 1, "personas": personas})


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(file=files())
def test_applied_state_plans_zero_changes(mesh: LocalMesh, file: PersonasFile) -> None:
    glue, lf = mesh.central.client("glue"), mesh.central.client("lakeformation")
    outcome = apply_file(file, glue, lf, CENTRAL)
    assert outcome.applied is not None
    assert outcome.applied.ok, outcome.applied.failures
    replan = plan_file(file, glue, lf, CENTRAL).plan
    assert replan.changes == 0, replan.render()
    assert not replan.reported, replan.render()
