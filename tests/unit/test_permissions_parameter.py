"""The deployed form of a personas file (compact JSON in an SSM parameter) and the reconcile's
schedule expression: what CentralGovernance and the local mesh both use."""

from __future__ import annotations

import json

import pytest

from meshkit import topology
from meshkit.governance.model import (
    SSM_ADVANCED_LIMIT,
    SSM_STANDARD_LIMIT,
    PersonasFileError,
    dumps_compact,
    loads,
    parameter_tier,
)

#: Every kind of field: globs, LF-tags, columns, a row filter, grant options, a processing record.
FULL = """
version: 1
personas:
  - name: engineer
    description: sales data engineers
    principals: [engineer, "arn:aws:iam::222222222222:role/etl", "333333333333"]
    on_drift: repair
    rules:
      - database: "sales_*"
        tables: ["orders_*", refunds]
        columns: {include: [order_id, total]}
        permissions: [SELECT, DESCRIBE]
        grant_option: [DESCRIBE]
      - lf_tags: {mesh_product: [orders, refunds]}
        permissions: [ALL]
  - name: fraud
    principals: [fraud]
    rules:
      - database: sales
        tables: [orders]
        row_filter: {name: de_only, expression: "country = 'DE'"}
        permissions: [SELECT]
        pii: true
        processing_record:
          purpose: fraud investigation
          legal_basis: art. 6(1)(f) GDPR
          owner: dpo@example.com
          review_date: 2027-06-30
"""


def test_the_compact_form_reads_back_the_same_file() -> None:
    file = loads(FULL)
    text = dumps_compact(file)
    assert text == json.dumps(json.loads(text), separators=(",", ":"), sort_keys=True)
    assert loads(text, fmt="json") == file
    # defaults are left out: version, the all-tables glob, empty grant options
    data = json.loads(text)
    assert "version" not in data
    assert "grant_option" not in data["personas"][0]["rules"][1]
    assert "tables" not in data["personas"][0]["rules"][1]


def test_a_json_file_s_errors_carry_line_and_column() -> None:
    with pytest.raises(PersonasFileError, match=r"p\.json:2:2: not valid JSON"):
        loads('{"personas": []\n}}', fmt="json", name="p.json")
    with pytest.raises(PersonasFileError, match=r"p\.json:\d+:\d+: personas: "):
        loads('{"personas": []}', fmt="json", name="p.json")


@pytest.mark.parametrize(
    ("size", "tier"),
    [
        (1, "Standard"),
        (SSM_STANDARD_LIMIT, "Standard"),
        (SSM_STANDARD_LIMIT + 1, "Advanced"),
        (SSM_ADVANCED_LIMIT, "Advanced"),
    ],
)
def test_the_tier_follows_the_size_in_bytes(size: int, tier: str) -> None:
    assert parameter_tier("x" * size) == tier


def test_bytes_not_characters_count() -> None:
    # "é" is two bytes in UTF-8: 2,049 of them no longer fit a standard parameter
    assert parameter_tier("é" * 2048) == "Standard"
    assert parameter_tier("é" * 2049) == "Advanced"


def test_beyond_an_advanced_parameter_is_refused() -> None:
    with pytest.raises(ValueError, match=r"f\.yaml: .* 8193 bytes .* over the 8192"):
        parameter_tier("x" * (SSM_ADVANCED_LIMIT + 1), name="f.yaml")


@pytest.mark.parametrize(
    ("seconds", "expression"),
    [
        (60, "rate(1 minute)"),
        (600, "rate(10 minutes)"),
        (3600, "rate(1 hour)"),
        (5400, "rate(90 minutes)"),
        (7200, "rate(2 hours)"),
        (86400, "rate(1 day)"),
        (3 * 86400, "rate(3 days)"),
    ],
)
def test_rate_expressions(seconds: int, expression: str) -> None:
    assert topology.rate_expression(seconds) == expression


@pytest.mark.parametrize("seconds", [0, 30, 59, 90, 3601])
def test_rates_are_whole_minutes(seconds: int) -> None:
    with pytest.raises(ValueError, match=r"reconcile: .* whole number of minutes"):
        topology.rate_expression(seconds, what="reconcile")


def test_the_parameter_name_is_the_handler_s_default() -> None:
    assert topology.permissions_parameter("rides") == "/rides/permissions/personas"
