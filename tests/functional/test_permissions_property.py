"""The canonical-form property: any desired state, applied and read back, plans zero changes.

Each example gets principals of its own, so one local mesh serves every example. The lake
reads grants back in AWS's rewritten shapes (column wildcards, ALL's implicit column row,
ALL_TABLES); the second property writes the desired state by hand in any equivalent shape.
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
from meshkit.governance.state import desired_state, read_catalog
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
    # ALL's implied permissions may carry a grant option of their own (ALL WITH GRANT OPTION
    # on SELECT): a known way to lose the option.
    implied = ["SELECT", "DESCRIBE", "ALTER", "INSERT"] if "ALL" in permissions else []
    grantable = sorted({p for p in permissions if p != "ALL"} | set(implied))
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
        # A row filter (a data-cells filter per table) where one expression fits the tables.
        expression = {"orders": "amount > 10", "revenue_*": "channel IN ('web', 'app')"}.get(
            rule["tables"][0] if len(rule["tables"]) == 1 else ""
        )
        if expression is not None and draw(st.booleans()):
            rule["row_filter"] = {"name": f"f{next(_COUNTER)}", "expression": expression}
            rule["permissions"] = ["SELECT", *(["DESCRIBE"] if draw(st.booleans()) else [])]
            rule["grant_option"] = []
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


def _shapes(draw: st.DrawFn, resource: dict[str, Any]) -> dict[str, Any]:
    """An equivalent spelling of a resource: CatalogId left out, a column wildcard for the
    table, ``ALL_TABLES`` or a missing Name for the table wildcard."""
    kind, body = next(iter(resource.items()))
    body = dict(body)
    if "CatalogId" in body and draw(st.booleans()):
        del body["CatalogId"]
    if kind == "Table" and "Name" in body and draw(st.booleans()):
        return {"TableWithColumns": {**body, "ColumnWildcard": {}}}
    return {kind: body}


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(file=files(), data=st.data())
def test_any_equivalent_shape_written_by_hand_plans_zero_changes(
    mesh: LocalMesh, file: PersonasFile, data: st.DataObject
) -> None:
    # GIVEN the desired state written one grant call at a time, each in a random equivalent
    # shape, permissions shuffled and duplicated, ALL's implicit column grant added as AWS does
    glue, lf = mesh.central.client("glue"), mesh.central.client("lakeformation")
    catalog = read_catalog(glue, lf, CENTRAL, with_tags=True)
    desired = desired_state(file, catalog)
    for resource, spec in sorted(desired.filters.items()):
        lf.create_data_cells_filter(TableData=spec.table_data(resource))
    for (principal, resource), grants in sorted(desired.state.items()):
        perms = sorted(grants.permissions)
        perms = data.draw(st.permutations(perms + data.draw(st.lists(st.sampled_from(perms)))))
        shaped = _shapes(data.draw, resource.as_api())
        lf.grant_permissions(
            Principal={"DataLakePrincipalIdentifier": principal},
            Resource=shaped,
            Permissions=perms,
            PermissionsWithGrantOption=sorted(grants.grantable),
        )
        if resource.kind == "table" and "ALL" in grants.permissions:
            body = resource.as_api()["Table"]
            lf.grant_permissions(
                Principal={"DataLakePrincipalIdentifier": principal},
                Resource={"TableWithColumns": {**body, "ColumnWildcard": {}}},
                Permissions=["SELECT"],
            )
    # WHEN it is planned again THEN nothing changes and nothing is reported
    replan = plan_file(file, glue, lf, CENTRAL).plan
    assert replan.changes == 0, replan.render()
    assert not replan.reported, replan.render()
