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


def test_variable_names_come_from_the_fields() -> None:
    import dataclasses

    names = MeshConfig.env_names()
    assert set(names) == {f.name for f in dataclasses.fields(MeshConfig)}
    assert names["dead_letter_queue_url"] == "MESHKIT_DLQ_URL"
    assert names["cross_account_role_name"] == "MESHKIT_CROSS_ACCOUNT_ROLE"
    assert names["mesh_name"] == "MESHKIT_MESH_NAME"
    # Every variable to_env writes is one of them, and from_env reads each back.
    assert set(FULL.to_env()) == set(names.values())


def test_a_bad_number_is_named() -> None:
    env = {**FULL.to_env(), "MESHKIT_MAX_RECEIVE_COUNT": "five"}
    with pytest.raises(ValueError, match="MESHKIT_MAX_RECEIVE_COUNT"):
        MeshConfig.from_env(env)


def test_team_settings_are_added_typed_and_never_shadow_meshkits() -> None:
    from pydantic import BaseModel, ValidationError

    class Team(BaseModel):
        topic_arn: str
        retries: int = 2

    config = FULL.with_settings(Team(topic_arn="arn:aws:sns:eu-west-1:222222222222:t"))
    again = MeshConfig.from_env(config.to_env())
    assert again.settings_as(Team) == Team(topic_arn="arn:aws:sns:eu-west-1:222222222222:t")
    assert again.setting("sharing_mode", None) == "tag"  # meshkit's own settings stay
    with pytest.raises(ValueError, match=r"\['sharing_mode'\] already set"):
        FULL.with_settings({"sharing_mode": "named"}, what="team")
    with pytest.raises(TypeError, match="a mapping or a pydantic model"):
        FULL.with_settings(["topic_arn"])
    with pytest.raises(ValidationError):
        FULL.settings_as(Team)  # topic_arn is missing: the handler learns it at once
