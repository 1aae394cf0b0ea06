"""MeshConfig from and to the MESHKIT_* environment the constructs set."""

from __future__ import annotations

import pytest

from meshkit.runtime.config import MeshConfig

FULL = MeshConfig(
    mesh_name="demo",
    role="domain",
    account_id="222222222222",
    region="eu-west-1",
    central_account="111111111111",
    bus="arn:aws:events:eu-west-1:222222222222:event-bus/b",
    central_bus="arn:aws:events:eu-west-1:111111111111:event-bus/c",
    group="domain.consumer",
    domain="sales",
    registry_table="state",
    idempotency_table="idem",
    dead_letter_queue_url="https://sqs.eu-west-1.amazonaws.com/222222222222/dlq",
    max_receive_count=4,
    cross_account_role_name="meshkit-x",
    settings={"sharing_mode": "tag", "principals": ["arn:aws:iam::222222222222:role/a"]},
)


def test_round_trip() -> None:
    assert MeshConfig.from_env(FULL.to_env()) == FULL


def test_minimal_round_trip_leaves_optional_values_unset() -> None:
    minimal = MeshConfig(
        mesh_name="m",
        role="central",
        account_id="1" * 12,
        region="us-east-1",
        central_account="1" * 12,
        bus="b",
    )
    env = minimal.to_env()
    assert "MESHKIT_DOMAIN" not in env
    assert MeshConfig.from_env(env) == minimal


@pytest.mark.parametrize("missing", ["MESHKIT_ROLE", "MESHKIT_BUS", "MESHKIT_CENTRAL_ACCOUNT"])
def test_missing_required_variable_is_named(missing: str) -> None:
    env = FULL.to_env()
    del env[missing]
    with pytest.raises(KeyError, match=missing):
        MeshConfig.from_env(env)


def test_unknown_role_is_refused() -> None:
    env = {**FULL.to_env(), "MESHKIT_ROLE": "admin"}
    with pytest.raises(ValueError, match="central"):
        MeshConfig.from_env(env)
