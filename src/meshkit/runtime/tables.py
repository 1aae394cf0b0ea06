"""DynamoDB table shapes, shared by the constructs (CDK) and the local mesh (moto)."""

from __future__ import annotations

from typing import Any

__all__ = ["IDEMPOTENCY_TABLE", "STATE_TABLE", "SUBJECT_INDEX_TABLE", "TTL_ATTRIBUTE"]

#: Epoch seconds after which DynamoDB's TTL may delete an item.
TTL_ATTRIBUTE = "expires_at_epoch"

#: Central registry (domains, products, requests, grants) and each domain's own state:
#: single-table design, ``pk``/``sk`` plus one index for listing by kind and state.
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
    ],
    "GlobalSecondaryIndexes": [
        {
            "IndexName": "gsi1",
            "KeySchema": [
                {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }
    ],
    "BillingMode": "PAY_PER_REQUEST",
}

#: Idempotency records: one item per (handler, event id), expiring.
IDEMPOTENCY_TABLE: dict[str, Any] = {
    "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
    "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
    "BillingMode": "PAY_PER_REQUEST",
}

#: A domain's subject index (meshkit.erasure.index): ``pk`` = ``SUBJ#<value hash>`` and
#: ``sk`` = object URI for a posting, ``OBJ#<uri>`` / ``META`` for what was indexed of one
#: object; ``gsi1`` = ``OBJ#<uri>`` lists an object's postings, to drop them when it changes.
SUBJECT_INDEX_TABLE: dict[str, Any] = STATE_TABLE
