"""The personas file, the canonical grant form, the plan and the batched apply (no AWS)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from meshkit.governance.apply import apply_plan
from meshkit.governance.grants import FilterSpec, Grants, Resource, from_api, merge
from meshkit.governance.model import PersonasFileError, dumps_schema, load, loads
from meshkit.governance.plan import Change, FilterChange, Plan, compute
from meshkit.governance.state import Catalog, TableInfo, desired_state

ACCOUNT = "111111111111"
ROOT = Path(__file__).resolve().parents[2]

GOOD = """
version: 1
personas:
  - name: analyst
    principals: [analyst, "arn:aws:iam::111111111111:role/bi"]
    rules:
      - database: sales
        tables: ["*"]
        permissions: [SELECT]
"""


def test_yaml_errors_carry_line_and_column() -> None:
    bad = GOOD.replace("permissions: [SELECT]", "permissions: [SELEKT]")
    with pytest.raises(PersonasFileError) as err:
        loads(bad, name="p.yaml")
    assert err.value.problems[0].startswith("p.yaml:9:")
    assert "personas[0].rules[0].permissions[0]" in err.value.problems[0]


def test_pii_needs_a_processing_record() -> None:
    bad = GOOD.replace("permissions: [SELECT]", "permissions: [SELECT]\n        pii: true")
    with pytest.raises(PersonasFileError, match=r":7:9: .*needs a processing_record"):
        loads(bad)


def test_bad_principal_and_unknown_key_are_refused() -> None:
    with pytest.raises(PersonasFileError, match=r"not an IAM role/user ARN"):
        loads(GOOD.replace("[analyst,", "[Analyst!,"))
    with pytest.raises(PersonasFileError, match=r"colums"):
        loads(GOOD.replace("tables:", "colums: x\n        tables:"))


def test_yaml_syntax_error_position() -> None:
    with pytest.raises(PersonasFileError, match=r"^<file>:\d+:\d+: not valid YAML"):
        loads("personas: [\n  - x: :\n")


def test_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(
        'version = 1\n[[personas]]\nname = "analyst"\nprincipals = ["analyst"]\n'
        '[[personas.rules]]\ndatabase = "sales"\npermissions = ["SELECT"]\n'
    )
    assert load(path).personas[0].rules[0].all_tables
    path.write_text(path.read_text().replace('"SELECT"', '"NOPE"'))
    with pytest.raises(PersonasFileError, match=r"p.toml:7:1: personas\[0\].rules\[0\]"):
        load(path)
    path.write_text("version = = 1\n")
    with pytest.raises(PersonasFileError, match=r"p.toml:1:\d+: not valid TOML"):
        load(path)


def test_published_json_schema_is_current() -> None:
    published = ROOT / "docs" / "permissions.schema.json"
    assert published.read_text() == dumps_schema(), (
        "regenerate: python -m meshkit.governance.schema docs/permissions.schema.json"
    )
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    jsonschema.validate(json.loads(json.dumps(yaml.safe_load(GOOD))), json.loads(dumps_schema()))


# -- canonical form ------------------------------------------------------------------------
def _one(*rows: tuple[dict[str, Any], list[str], list[str]]) -> dict[Any, Any]:
    state: dict[Any, Any] = {}
    for resource, perms, grantable in rows:
        parsed = from_api(resource, ACCOUNT)
        assert parsed is not None
        merge(state, "p", parsed, perms, grantable)
    return {
        (k[1].describe(), k[1].catalog): (sorted(v.permissions), sorted(v.grantable))
        for k, v in state.items()
    }


def test_column_wildcard_is_the_table_and_catalog_defaults() -> None:
    a = _one(
        (
            {"TableWithColumns": {"DatabaseName": "d", "Name": "t", "ColumnWildcard": {}}},
            ["SELECT"],
            [],
        )
    )
    b = _one(({"Table": {"CatalogId": ACCOUNT, "DatabaseName": "d", "Name": "t"}}, ["SELECT"], []))
    assert a == b == {("d.t", ACCOUNT): (["SELECT"], [])}


def test_all_absorbs_its_implicit_column_grant_and_duplicates() -> None:
    got = _one(
        ({"Table": {"DatabaseName": "d", "Name": "t"}}, ["ALL", "DESCRIBE", "DESCRIBE"], []),
        (
            {"TableWithColumns": {"DatabaseName": "d", "Name": "t", "ColumnWildcard": {}}},
            ["SELECT"],
            [],
        ),
    )
    assert got == {("d.t", ACCOUNT): (["ALL"], [])}


def test_all_tables_forms_are_the_wildcard() -> None:
    forms = [
        {"Table": {"DatabaseName": "d", "TableWildcard": {}}},
        {"Table": {"DatabaseName": "d", "Name": "ALL_TABLES"}},
        {"TableWithColumns": {"DatabaseName": "d", "Name": "ALL_TABLES", "ColumnWildcard": {}}},
    ]
    assert {str(_one((f, ["SELECT", "DESCRIBE"], ["SELECT"]))) for f in forms} == {
        str({("d.*", ACCOUNT): (["DESCRIBE", "SELECT"], ["SELECT"])})
    }


def test_column_order_and_tag_case_do_not_matter() -> None:
    a = from_api(
        {"TableWithColumns": {"DatabaseName": "d", "Name": "t", "ColumnNames": ["b", "a", "a"]}},
        ACCOUNT,
    )
    b = from_api(
        {"TableWithColumns": {"DatabaseName": "d", "Name": "t", "ColumnNames": ["a", "b"]}}, ACCOUNT
    )
    assert a == b
    x = from_api(
        {
            "LFTagPolicy": {
                "ResourceType": "TABLE",
                "Expression": [{"TagKey": "Domain", "TagValues": ["Sales", "hr"]}],
            }
        },
        ACCOUNT,
    )
    y = from_api(
        {
            "LFTagPolicy": {
                "ResourceType": "TABLE",
                "Expression": [{"TagKey": "domain", "TagValues": ["hr", "sales"]}],
            }
        },
        ACCOUNT,
    )
    assert x == y


# -- plan ----------------------------------------------------------------------------------
def _catalog() -> Catalog:
    return Catalog(
        ACCOUNT,
        [
            TableInfo("sales", "orders", ("id", "email", "amount"), frozenset({"email"})),
            TableInfo("sales", "revenue", ("day", "revenue")),
        ],
    )


def test_plan_refuses_pii_columns_and_expands_all_tables_without_a_record() -> None:
    desired = desired_state(loads(GOOD), _catalog())
    plan = compute(desired, {})
    assert sorted(c.resource.describe() for c in plan.grants) == sorted(
        ["sales.orders(amount,id)", "sales.revenue"] * 2
    )
    assert [(r.table, r.columns) for r in plan.refused] == [("sales.orders", ("email",))]
    assert plan.as_json()["summary"] == {
        "grants": 4,
        "revokes": 0,
        "reported": 0,
        "refused": 1,
        "filters_to_create": 0,
        "filters_to_update": 0,
        "filters_to_delete": 0,
        "filters_reported": 0,
    }


def test_plan_never_touches_an_unchanged_permission() -> None:
    desired = desired_state(loads(GOOD.replace("[SELECT]", "[SELECT, DESCRIBE]")), _catalog())
    actual = dict(desired.state.items())
    key = next(k for k in actual if k[1].describe() == "sales.revenue")
    from meshkit.governance.grants import Grants

    actual[key] = Grants(frozenset({"SELECT", "INSERT"}))
    plan = compute(desired, actual)
    assert [(c.action, c.permissions) for c in plan.grants] == [("grant", ("DESCRIBE",))]
    assert [(c.action, c.permissions) for c in plan.reported] == [("revoke", ("INSERT",))]


# -- apply ---------------------------------------------------------------------------------
class FakeLakeFormation:
    """Records batch calls; answers per-entry Failures as Lake Formation does (HTTP 200)."""

    def __init__(self, fail: dict[str, list[str]]) -> None:
        self.calls: list[tuple[str, list[dict[str, Any]]]] = []
        self.fail = fail  # resource description -> error codes to answer, in turn

    def _answer(self, name: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
        assert len(entries) <= 20
        self.calls.append((name, entries))
        failures = []
        for entry in entries:
            table = entry["Resource"]["Table"]["Name"]
            codes = self.fail.get(table, [])
            if codes:
                failures.append(
                    {
                        "RequestEntry": entry,
                        "Error": {"ErrorCode": codes.pop(0), "ErrorMessage": "x"},
                    }
                )
        return {"Failures": failures}

    def batch_grant_permissions(self, **kw: Any) -> dict[str, Any]:
        return self._answer("grant", kw["Entries"])

    def batch_revoke_permissions(self, **kw: Any) -> dict[str, Any]:
        return self._answer("revoke", kw["Entries"])


def _changes(n: int, action: str) -> list[Change]:
    return [
        Change(
            "a",
            "arn:aws:iam::111111111111:role/a",
            Resource("table", ACCOUNT, "d", f"t{i:03}"),
            action,
            ("SELECT",),
        )  # type: ignore[arg-type]
        for i in range(n)
    ]


def test_apply_batches_of_twenty_grants_first() -> None:
    client = FakeLakeFormation({})
    result = apply_plan(
        client,
        Plan(grants=_changes(45, "grant"), revokes=_changes(21, "revoke")),
        sleep=lambda s: None,
    )
    assert [(n, len(e)) for n, e in client.calls] == [
        ("grant", 20),
        ("grant", 20),
        ("grant", 5),
        ("revoke", 20),
        ("revoke", 1),
    ]
    assert result.calls == 5
    assert result.ok
    assert len(result.granted) == 45


def test_apply_retries_throttled_entries_and_reports_others() -> None:
    client = FakeLakeFormation(
        {
            "t001": ["ThrottlingException", "ConcurrentModificationException"],
            "t002": ["InvalidInputException"],
        }
    )
    slept: list[float] = []
    result = apply_plan(client, Plan(grants=_changes(3, "grant")), sleep=slept.append)
    assert [len(e) for _, e in client.calls] == [3, 1, 1]
    assert slept == [0.2, 0.4]
    assert [(c.resource.table, code) for c, code, _ in result.failures] == [
        ("t002", "InvalidInputException")
    ]
    assert sorted(c.resource.table for c in result.granted) == ["t000", "t001"]


def test_grant_option_on_a_permission_all_implies_is_kept() -> None:
    # GIVEN a rule of ALL WITH GRANT OPTION on SELECT, over all tables (a wildcard) and one table
    text = """
version: 1
personas:
  - name: engineer
    principals: [engineer]
    rules:
      - database: sales
        tables: ["*"]
        permissions: [ALL]
        grant_option: [SELECT]
        pii: true
        processing_record: {purpose: support, legal_basis: contract, owner: dpo,
                            review_date: 2027-01-01}
      - database: sales
        tables: [revenue]
        permissions: [ALL, CREATE_TABLE]
        grant_option: [INSERT, CREATE_TABLE]
"""
    desired = desired_state(loads(text), _catalog())
    held = {r.describe(): g for (_, r), g in desired.state.items()}
    # THEN the grant options survive next to ALL
    assert held["sales.*"].permissions == {"ALL"}
    assert held["sales.*"].grantable == {"SELECT"}
    assert held["sales.revenue"].grantable == {"INSERT"}
    assert held["sales"].grantable == {"CREATE_TABLE"}


class PagedLakeFormation:
    """ListPermissions as AWS answers it: pages with NextToken, RAM rows, admin rows."""

    def __init__(self, rows: list[dict[str, Any]], page: int) -> None:
        self.rows, self.page = rows, page
        self.requests: list[dict[str, Any]] = []

    def get_data_lake_settings(self, **_: Any) -> dict[str, Any]:
        admin = {"DataLakePrincipalIdentifier": f"arn:aws:iam::{ACCOUNT}:role/admin"}
        return {"DataLakeSettings": {"DataLakeAdmins": [admin]}}

    def list_permissions(self, **kw: Any) -> dict[str, Any]:
        self.requests.append(kw)
        wanted = [r for r in self.rows if kw["ResourceType"] in r["_types"]]
        start = int(kw.get("NextToken", "0"))
        out: dict[str, Any] = {
            "PrincipalResourcePermissions": [
                {k: v for k, v in r.items() if k != "_types"}
                for r in wanted[start : start + self.page]
            ]
        }
        if start + self.page < len(wanted):
            out["NextToken"] = str(start + self.page)
        return out


def test_actual_state_is_read_by_resource_type_page_by_page_skipping_derived_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from meshkit.governance import state

    def row(principal: str, table: str, **extra: Any) -> dict[str, Any]:
        return {
            "_types": {"TABLE"},
            "Principal": {"DataLakePrincipalIdentifier": principal},
            "Resource": {"Table": {"DatabaseName": "sales", "Name": table}},
            "Permissions": ["SELECT"],
            "PermissionsWithGrantOption": [],
            **extra,
        }

    analyst = f"arn:aws:iam::{ACCOUNT}:role/analyst"
    rows = [row(analyst, f"t{i}") for i in range(7)] + [
        row(analyst, "shared", AdditionalDetails={"ResourceShare": ["arn:aws:ram:x"]}),
        row("IAM_ALLOWED_PRINCIPALS", "t0"),
        row(f"arn:aws:iam::{ACCOUNT}:role/admin", "t1"),
    ]
    client = PagedLakeFormation(rows, page=3)
    monkeypatch.setattr(state, "PAGE_SIZE", 3)
    actual, calls = state.read_actual(client, ACCOUNT)
    # THEN every page was read, by resource type, never with a Principal filter
    assert sorted(r.table for (_, r) in actual) == [f"t{i}" for i in range(7)]
    assert {p for (p, _) in actual} == {analyst}
    assert all("Principal" not in kw and "Resource" not in kw for kw in client.requests)
    assert all(kw["MaxResults"] == 3 for kw in client.requests)
    table_pages = [kw for kw in client.requests if kw["ResourceType"] == "TABLE"]
    assert [kw.get("NextToken") for kw in table_pages] == [None, "3", "6", "9"]
    assert calls == 1 + len(client.requests)


# -- data-cells filters --------------------------------------------------------------------
FILTERED = """
version: 1
personas:
  - name: analyst
    principals: [analyst]
    on_drift: {drift}
    rules:
      - database: sales
        tables: ["*"]
        row_filter: {{name: eu, expression: "region = 'eu'"}}
        permissions: [SELECT]
"""


def _filter(table: str) -> Resource:
    return Resource("cells_filter", ACCOUNT, database="sales", table=table, name="eu")


def test_a_row_filter_plans_its_filter_per_table_without_personal_data() -> None:
    # GIVEN a rule with a row filter over a table with a personal-data column
    desired = desired_state(loads(FILTERED.format(drift="report")), _catalog())
    plan = compute(desired, {}, {})
    # THEN the filters come first, in table order, personal data left out by an include list
    assert [(f.action, f.resource.describe(), f.spec) for f in plan.filters] == [
        ("create", "sales.orders[eu]", FilterSpec("region = 'eu'", ("amount", "id"), False)),
        ("create", "sales.revenue[eu]", FilterSpec("region = 'eu'", (), True)),
    ]
    assert [(r.table, r.columns) for r in plan.refused] == [("sales.orders", ("email",))]
    assert {c.resource.describe() for c in plan.grants} == {"sales.orders[eu]", "sales.revenue[eu]"}
    assert plan.changes == 4
    assert plan.as_json()["filters"][1]["table_data"]["ColumnWildcard"] == {
        "ExcludedColumnNames": []
    }
    rendered = plan.render()
    assert rendered.index("data cells filters") < rendered.index("persona analyst")
    assert "filters: 2 to create, 0 to update (~), 0 to delete, 0 not in the file" in rendered


def test_a_filter_as_aws_lists_it_compares_equal_and_a_change_is_an_update() -> None:
    desired = desired_state(loads(FILTERED.format(drift="report")), _catalog())
    listed = {
        "TableCatalogId": ACCOUNT,
        "DatabaseName": "sales",
        "TableName": "orders",
        "Name": "eu",
        "RowFilter": {"FilterExpression": "region = 'eu'"},
        "ColumnNames": ["id", "amount", "id"],
        "VersionId": "7",
    }
    wildcard = {**listed, "TableName": "revenue", "ColumnWildcard": {}}
    del wildcard["ColumnNames"]
    actual_filters = {
        _filter("orders"): FilterSpec.from_api(listed),
        _filter("revenue"): FilterSpec.from_api(wildcard),
    }
    held = dict(desired.state)
    assert compute(desired, held, actual_filters).changes == 0
    changed = {**actual_filters, _filter("revenue"): FilterSpec("region = 'us'", (), True)}
    plan = compute(desired, held, changed)
    assert [(f.action, f.resource.table) for f in plan.filters] == [("update", "revenue")]
    assert plan.changes == 1


@pytest.mark.parametrize(("drift", "action"), [("report", "report"), ("repair", "delete")])
def test_a_filter_the_file_does_not_name(drift: str, action: str) -> None:
    desired = desired_state(loads(FILTERED.format(drift=drift)), _catalog())
    stale = Resource("cells_filter", ACCOUNT, database="sales", table="orders", name="old")
    analyst = f"arn:aws:iam::{ACCOUNT}:role/analyst"
    held = {**desired.state, (analyst, stale): Grants(frozenset({"SELECT"}))}
    filters = {_filter("orders"): desired.filters[_filter("orders")]}
    filters[_filter("revenue")] = desired.filters[_filter("revenue")]
    filters[stale] = FilterSpec(None, (), True)
    plan = compute(desired, held, filters)
    assert [(f.action, f.resource.name, f.personas) for f in plan.filters] == [
        (action, "old", ("analyst",))
    ]
    # A filter nobody in the file holds is only ever reported.
    orphan = compute(desired, desired.state, filters)
    assert [f.action for f in orphan.filters] == ["report"]


def test_apply_creates_filters_before_grants_and_deletes_after_revokes() -> None:
    calls: list[str] = []

    class Client:
        def create_data_cells_filter(self, **kw: Any) -> None:
            calls.append(f"create {kw['TableData']['Name']}")

        def delete_data_cells_filter(self, **kw: Any) -> None:
            calls.append(f"delete {kw['Name']}")

        def batch_grant_permissions(self, **kw: Any) -> dict[str, Any]:
            calls.append("grant")
            return {"Failures": []}

        def batch_revoke_permissions(self, **kw: Any) -> dict[str, Any]:
            calls.append("revoke")
            return {"Failures": []}

    new, old = _filter("orders"), _filter("revenue")._replace(name="old")
    plan = Plan(
        grants=[Change("a", "p", new, "grant", ("SELECT",))],
        revokes=[Change("a", "p", old, "revoke", ("SELECT",))],
        filters=[
            FilterChange(new, "create", FilterSpec("x = 1"), None),
            FilterChange(old, "delete", None, FilterSpec(None)),
            FilterChange(old._replace(name="kept"), "report", None, FilterSpec(None)),
        ],
    )
    result = apply_plan(Client(), plan, sleep=lambda _: None)
    assert calls == ["create eu", "grant", "revoke", "delete old"]
    assert result.ok
    assert result.calls == 4


def test_one_filter_defined_two_ways_on_one_table_is_refused() -> None:
    text = (
        FILTERED.format(drift="report")
        + """
  - name: other
    principals: [other]
    rules:
      - database: sales
        tables: [revenue]
        row_filter: {name: eu, expression: "region = 'us'"}
        permissions: [SELECT]
"""
    )
    with pytest.raises(PersonasFileError, match=r"'eu' on sales.revenue is defined twice"):
        desired_state(loads(text), _catalog())


def test_a_table_without_columns_yet_gets_no_read_grant_without_a_record() -> None:
    # GIVEN a product table central created before its first crawl (no columns, no flags yet)
    catalog = Catalog(ACCOUNT, [TableInfo("sales", "fresh", ())])
    text = GOOD.replace("permissions: [SELECT]", "permissions: [SELECT, DESCRIBE]")
    desired = desired_state(loads(text), catalog)
    # THEN nothing is read before the crawl says which columns hold personal data
    assert {(r.describe(), g.permissions) for (_, r), g in desired.state.items()} == {
        ("sales.fresh", frozenset({"DESCRIBE"}))
    }
