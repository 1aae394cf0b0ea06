"""Portal search at 10,000 products: the index alone and the whole search page.

10,000 registry products (50 domains of 200 products, one to four tables each, five to twenty
columns drawn from a shared vocabulary, one product in six with declared personal data) are
indexed as the portal indexes the registry (``meshkit.portal.search.SearchIndex``). Each query
of a mixed set (a product word, a column prefix, a classification tag with a column, a domain
with two words, a query that matches nothing, the empty listing) runs 30 times; the rows give
the 95th percentile. The page row is a signed-in ``GET /search?q=`` through the portal's ASGI
app (Starlette's test client, no socket): search, the 50 best hits rendered, headers set.
The goal is the issue's: results in under 100 ms for 10,000 products.
"""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from meshkit.portal.search import SearchIndex
    from meshkit.registry import ProductRecord

PRODUCTS = 10_000
DOMAINS = 50
REPEATS = 30
QUERIES = (
    "orders",
    "cust",
    "pii email",
    "domain17 revenue daily",
    "nothing-matches-this",
    "",
)
GOAL_MS = 100.0

_WORDS = [
    "orders",
    "revenue",
    "customers",
    "invoices",
    "payments",
    "shipments",
    "returns",
    "stock",
    "prices",
    "sessions",
    "clicks",
    "campaigns",
    "leads",
    "tickets",
    "rides",
    "drivers",
    "trips",
    "fares",
    "refunds",
    "ledger",
    "budget",
    "forecast",
    "churn",
]
_COLUMNS = [
    "order_id",
    "customer_id",
    "email",
    "phone",
    "address",
    "amount",
    "currency",
    "created_at",
    "updated_at",
    "status",
    "country",
    "city",
    "postcode",
    "sku",
    "quantity",
    "price",
    "discount",
    "driver_id",
    "trip_id",
    "fare",
    "distance",
    "duration",
    "rating",
    "channel",
    "device",
    "browser",
    "campaign_id",
    "lead_score",
    "ticket_id",
    "priority",
]
_PII = ("email", "phone", "address", "postcode")


def _products(n: int, seed: int = 7) -> list[ProductRecord]:
    from meshkit.registry import ColumnRecord, ProductRecord, ProductTable, TableSchemaRecord

    rng = random.Random(seed)
    out: list[ProductRecord] = []
    for i in range(n):
        domain = f"domain{i % DOMAINS}"
        name = f"{rng.choice(_WORDS)}_{rng.choice(_WORDS)}_{i}"
        pii = i % 6 == 0
        tables: list[ProductTable] = []
        schema: list[TableSchemaRecord] = []
        for t in range(rng.randint(1, 4)):
            table = f"{rng.choice(_WORDS)}_{t}"
            columns = rng.sample(_COLUMNS, rng.randint(5, 20))
            tables.append(
                ProductTable(
                    name=table,
                    central_table=f"{name}_{table}",
                    location=f"s3://{domain}-data/products/{name}/{table}/",
                    pii_columns=[c for c in columns if c in _PII] if pii else [],
                )
            )
            schema.append(
                TableSchemaRecord(
                    name=f"{name}_{table}",
                    columns=[ColumnRecord(name=c, type="string") for c in columns],
                )
            )
        out.append(
            ProductRecord(
                domain=domain,
                product=name,
                producer_account=f"{100000000000 + i % DOMAINS}",
                central_database=f"bench_{domain}",
                tables=tables,
                sharing_mode="tag" if i % 3 else "named",
                status="ACTIVE",
                pii=pii,
                description=f"{rng.choice(_WORDS)} of {domain}, daily",
                schema=schema,
            )
        )
    return out


def _p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


class _IndexBackend:
    """The two backend calls the search page makes, over a prebuilt index: the page's own
    work (search, render) is what is measured, not a local mesh's registry scan."""

    def __init__(self, index: SearchIndex) -> None:
        from meshkit.portal.backend import Identity

        self.index = index
        self.me = Identity("domain0", "100000000000", "consumer", "analyst", "arn:aws:iam::1:x")

    def identities(self) -> list[Any]:
        return [self.me]

    def search_index(self) -> SearchIndex:
        return self.index


def _page_ms(index: SearchIndex) -> tuple[dict[str, float], int]:
    from starlette.testclient import TestClient

    from meshkit.portal.app import create_app

    backend = _IndexBackend(index)
    client = TestClient(create_app(backend))  # type: ignore[arg-type]
    signed = client.post("/signin", data={"identity": backend.me.key}, follow_redirects=False)
    if signed.status_code != 303:
        raise RuntimeError(f"sign-in failed: HTTP {signed.status_code}")
    out: dict[str, float] = {}
    hits = 0
    for q in QUERIES:
        samples = []
        for _ in range(REPEATS):
            started = time.perf_counter()
            page = client.get("/search", params={"q": q})
            samples.append((time.perf_counter() - started) * 1000)
            if page.status_code != 200:
                raise RuntimeError(f"search page for {q!r}: HTTP {page.status_code}")
        hits += page.text.count('<a href="/products/')
        out[q] = _p95(samples)
    return out, hits


def run() -> list[dict[str, Any]]:
    from meshkit.portal.search import SearchIndex

    products = _products(PRODUCTS)
    started = time.perf_counter()
    index = SearchIndex(products)
    build_s = time.perf_counter() - started
    rows: list[dict[str, Any]] = [
        {
            "name": f"portal search index build, {PRODUCTS:,} products",
            "value": round(build_s, 2),
            "unit": "s",
            "goal": "",
            "note": f"{index.terms:,} distinct terms; rebuilt every few seconds",
        }
    ]
    index_ms: dict[str, float] = {}
    for q in QUERIES:
        samples = []
        for _ in range(REPEATS):
            t0 = time.perf_counter()
            found = index.search(q)
            samples.append((time.perf_counter() - t0) * 1000)
        if q == "nothing-matches-this" and found:
            raise RuntimeError("a query for a word no product has found products")
        if q and q != "nothing-matches-this" and not found:
            raise RuntimeError(f"query {q!r} found nothing in {PRODUCTS:,} products")
        index_ms[q] = _p95(samples)
    worst_index = max(index_ms, key=lambda q: index_ms[q])
    rows.append(
        {
            "name": f"portal search p95, {PRODUCTS:,} products (index)",
            "value": round(index_ms[worst_index], 2),
            "unit": "ms",
            "goal": f"< {GOAL_MS:.0f} ms",
            "ok": index_ms[worst_index] < GOAL_MS,
            "note": f"slowest of {len(QUERIES)} queries: {worst_index!r}",
        }
    )
    page_ms, hits = _page_ms(index)
    worst_page = max(page_ms, key=lambda q: page_ms[q])
    rows.append(
        {
            "name": f"portal search page p95, {PRODUCTS:,} products (HTTP)",
            "value": round(page_ms[worst_page], 2),
            "unit": "ms",
            "goal": f"< {GOAL_MS:.0f} ms",
            "ok": page_ms[worst_page] < GOAL_MS,
            "note": f"signed-in GET /search, 50 hits rendered; slowest: {worst_page!r}",
        }
    )
    if not hits:
        raise RuntimeError("the search pages rendered no hits")
    return rows
