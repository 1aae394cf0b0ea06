"""DynamoDB table shapes, shared by the constructs (CDK) and the local mesh (moto)."""

from __future__ import annotations

from typing import Any

__all__ = ["IDEMPOTENCY_TABLE", "STATE_TABLE", "TTL_ATTRIBUTE"]

#: Epoch seconds after which DynamoDB's TTL may delete an item.
TTL_ATTRIBUTE = "expires_at_epoch"

#: Central registry (domains, products, requests, grants) and each domain's own state:
#: single-table design, ``pk``/``sk`` plus three indexes (``meshkit.handlers.registry`` says
#: what goes in them): ``gsi1`` lists by kind and state with a deadline as sort key (the sweep
#: reads only what is due), ``gsi2`` and ``gsi3`` are sparse, holding only the requests still
#: open (pending, granted, or being revoked), by product and by consumer domain, so a
#: lifecycle end reads exactly the requests it closes.
STATE_TABLE: dict[str, Any] = {
    "KeySchema": [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ],
    "AttributeDefinitions": [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "S"},
        {"AttributeName": "gsi1pk", "AttributeType": "S"},
        {"AttributeName": "gsi1sk", "AttributeType": "S"},
        {"AttributeName": "gsi2pk", "AttributeType": "S"},
        {"AttributeName": "gsi2sk", "AttributeType": "S"},
        {"AttributeName": "gsi3pk", "AttributeType": "S"},
        {"AttributeName": "gsi3sk", "AttributeType": "S"},
    ],
    "GlobalSecondaryIndexes": [
        {
            "IndexName": "gsi1",
            "KeySchema": [
                {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        },
        {
            "IndexName": "gsi2",
            "KeySchema": [
                {"AttributeName": "gsi2pk", "KeyType": "HASH"},
                {"AttributeName": "gsi2sk", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        },
        {
            "IndexName": "gsi3",
            "KeySchema": [
                {"AttributeName": "gsi3pk", "KeyType": "HASH"},
                {"AttributeName": "gsi3sk", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        },
    ],
    "BillingMode": "PAY_PER_REQUEST",
}

#: Idempotency records: one item per (handler, event id), expiring.
IDEMPOTENCY_TABLE: dict[str, Any] = {
    "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
    "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
    "BillingMode": "PAY_PER_REQUEST",
}
