"""The portal's product search: every term must match, prefixes count, best fields first."""

from __future__ import annotations

from meshkit.portal.search import SearchIndex
from meshkit.registry import ColumnRecord, ProductRecord, ProductTable, TableSchemaRecord


def _product(
    domain: str,
    name: str,
    columns: list[str],
    *,
    pii: list[str] | None = None,
    description: str = "",
    mode: str = "named",
) -> ProductRecord:
    return ProductRecord(
        domain=domain,
        product=name,
        producer_account="222222222222",
        central_database=f"m_{domain}",
        tables=[
            ProductTable(
                name=name,
                central_table=name,
                location=f"s3://{domain}-data/products/{name}/",
                pii_columns=pii or [],
            )
        ],
        sharing_mode=mode,  # type: ignore[arg-type]
        status="ACTIVE",
        description=description,
        schema=[
            TableSchemaRecord(
                name=name, columns=[ColumnRecord(name=c, type="string") for c in columns]
            )
        ],
    )


INDEX = SearchIndex(
    [
        _product("sales", "orders", ["order_id", "customer_id", "email"], pii=["email"]),
        _product("sales", "revenue", ["day", "amount"], description="daily revenue by store"),
        _product("finance", "ledger", ["entry_id", "amount", "customer_ref"], mode="tag"),
        _product("marketing", "campaign_orders", ["campaign_id", "order_id"]),
    ]
)


def _names(query: str) -> list[str]:
    return [f"{h.product.domain}.{h.product.product}" for h in INDEX.search(query)]


def test_every_term_must_match_and_prefixes_count() -> None:
    assert _names("cust") == ["finance.ledger", "sales.orders"]
    assert _names("cust pii") == ["sales.orders"]
    assert _names("amount open tag") == ["finance.ledger"]
    assert _names("amount nosuchword") == []


def test_a_name_match_ranks_above_a_column_match_and_ties_go_by_domain_and_name() -> None:
    # "orders" is sales.orders' whole name, a word of marketing.campaign_orders' name, and a
    # column word (order_id) of both: the whole name first, exact or as a prefix.
    assert _names("orders") == ["sales.orders", "marketing.campaign_orders"]
    assert _names("order") == ["sales.orders", "marketing.campaign_orders"]
    # equal scores: by domain, then name
    assert _names("amount") == ["finance.ledger", "sales.revenue"]


def test_hits_say_which_fields_matched() -> None:
    (hit,) = INDEX.search("daily")
    assert hit.product.product == "revenue"
    assert hit.matched == ("text",)
    (hit,) = INDEX.search("email pii")
    assert hit.matched == ("column", "tag")


def test_empty_query_lists_by_domain_and_name_and_limit_applies() -> None:
    assert _names("") == [
        "finance.ledger",
        "marketing.campaign_orders",
        "sales.orders",
        "sales.revenue",
    ]
    assert len(INDEX.search("", limit=2)) == 2
    assert len(INDEX.search("a", limit=1)) == 1
    assert len(INDEX) == 4
    assert INDEX.terms > 10
