"""LocalMesh provisioning: accounts are isolated and every resource comes from the topology."""

from __future__ import annotations

import json

import pytest

from meshkit import topology
from meshkit.local.mesh import LocalMesh
from meshkit.runtime.tables import IDEMPOTENCY_TABLE, STATE_TABLE

CENTRAL, SALES, MARKETING = "111111111111", "222222222222", "333333333333"


def _rules(client: object, bus: str) -> dict[str, dict[str, object]]:
    rules = client.list_rules(EventBusName=bus)["Rules"]  # type: ignore[attr-defined]
    return {r["Name"]: r for r in rules}


def _pattern(rule: dict[str, object]) -> dict[str, object]:
    return json.loads(str(rule["EventPattern"]))


def _target(client: object, rule: str, bus: str) -> str:
    targets = client.list_targets_by_rule(Rule=rule, EventBusName=bus)["Targets"]  # type: ignore[attr-defined]
    assert len(targets) == 1
    return str(targets[0]["Arn"])


def test_each_account_acts_as_itself_and_sees_only_its_own_resources(
    two_domains: LocalMesh,
) -> None:
    sales, marketing = two_domains.domain("sales"), two_domains.domain("marketing")
    # GIVEN sessions from assume_role, never MOTO_ACCOUNT_ID
    assert two_domains.central.client("sts").get_caller_identity()["Account"] == CENTRAL
    assert sales.client("sts").get_caller_identity()["Account"] == SALES
    assert marketing.client("sts").get_caller_identity()["Account"] == MARKETING
    # THEN queues, tables and buses exist in their own account only
    sales_queues = sales.client("sqs").list_queues()["QueueUrls"]
    marketing_queues = marketing.client("sqs").list_queues()["QueueUrls"]
    assert all(f"/{SALES}/" in q for q in sales_queues)
    assert all(f"/{MARKETING}/" in q for q in marketing_queues)
    assert "t-sales-state" in sales.client("dynamodb").list_tables()["TableNames"]
    assert "t-sales-state" not in marketing.client("dynamodb").list_tables()["TableNames"]
    buses = {b["Name"] for b in sales.client("events").list_event_buses()["EventBuses"]}
    assert buses == {"default", "t-sales"}


def test_central_rules_are_exactly_the_topology(two_domains: LocalMesh) -> None:
    events = two_domains.central.client("events")
    rules = _rules(events, "t-central")
    expected = {f"t-{g.env_name}" for g in topology.groups_for("central", two_domains.features)}
    expected |= {
        f"t-{g.env_name}-operator"
        for g in topology.groups_for("central", two_domains.features)
        if g.operator_events
    }
    expected |= {"t-sales-subscription", "t-marketing-subscription"}
    # The archive's own managed rule is the only other one (AWS creates it too).
    archive_rules = {n for n in rules if n.startswith("Events-Archive-")}
    assert set(rules) - archive_rules == expected
    for g in topology.groups_for("central", two_domains.features):
        if g.guard:
            assert _pattern(rules[f"t-{g.env_name}"]) == topology.guard_pattern(
                "central", central_account=CENTRAL, account=CENTRAL
            )
            continue
        assert _pattern(rules[f"t-{g.env_name}"]) == topology.central_group_pattern(
            g, central_account=CENTRAL
        )
        if g.operator_events:
            # people's events: any sender, central included (the handler checks)
            assert _pattern(rules[f"t-{g.env_name}-operator"]) == topology.operator_pattern(g)
    for name, account in (("sales", SALES), ("marketing", MARKETING)):
        rule = rules[f"t-{name}-subscription"]
        assert _pattern(rule) == topology.subscription_pattern(
            domain_account=account, central_account=CENTRAL
        )
        assert _target(events, rule["Name"], "t-central") == (
            f"arn:aws:events:us-east-1:{account}:event-bus/t-{name}"
        )
    schedule = _rules(events, "default")
    assert list(schedule) == ["t-central-access-schedule"]
    assert schedule["t-central-access-schedule"]["ScheduleExpression"] == topology.SWEEP_SCHEDULE
    assert _target(events, "t-central-access-schedule", "default").endswith(":t-central-access")


def test_domain_rules_are_exactly_the_topology(two_domains: LocalMesh) -> None:
    events = two_domains.domain("sales").client("events")
    rules = _rules(events, "t-sales")
    expected = {"t-sales-forward"} | {
        f"t-sales-{g.env_name}" for g in topology.groups_for("domain", two_domains.features)
    }
    expected |= {f"t-sales-{g.env_name}-own" for g in topology.groups_for("domain") if g.own_events}
    assert set(rules) == expected
    assert _pattern(rules["t-sales-forward"]) == topology.forward_pattern(domain_account=SALES)
    assert _target(events, "t-sales-forward", "t-sales") == (
        f"arn:aws:events:us-east-1:{CENTRAL}:event-bus/t-central"
    )
    for g in topology.groups_for("domain", two_domains.features):
        rule = f"t-sales-{g.env_name}"
        expected_pattern = (
            topology.guard_pattern("domain", central_account=CENTRAL, account=SALES)
            if g.guard
            else topology.domain_group_pattern(g, central_account=CENTRAL)
        )
        assert _pattern(rules[rule]) == expected_pattern
        assert _target(events, rule, "t-sales") == f"arn:aws:sqs:us-east-1:{SALES}:{rule}"
    erasure = topology.group("domain.erasure")
    assert _pattern(rules["t-sales-domain-erasure-own"]) == topology.own_pattern(
        erasure, account=SALES
    )
    default = _rules(events, "default")
    assert set(default) == {"t-sales-domain-producer-crawler", "t-sales-domain-erasure-storage"}
    assert _pattern(default["t-sales-domain-erasure-storage"]) == topology.storage_pattern(
        bucket=f"t-sales-{SALES}", prefix="products/"
    )
    assert _pattern(default["t-sales-domain-producer-crawler"]) == topology.crawler_pattern(
        mesh="t", domain="sales"
    )


def test_queues_tables_bucket_and_roles(two_domains: LocalMesh) -> None:
    sales = two_domains.domain("sales")
    sqs = sales.client("sqs")
    url = sqs.get_queue_url(QueueName="t-sales-domain-producer")["QueueUrl"]
    redrive = json.loads(
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"][
            "RedrivePolicy"
        ]
    )
    assert int(redrive["maxReceiveCount"]) == 3
    assert redrive["deadLetterTargetArn"].endswith(":t-sales-domain-producer-dlq")

    ddb = sales.client("dynamodb")
    state = ddb.describe_table(TableName="t-sales-state")["Table"]
    assert state["KeySchema"] == STATE_TABLE["KeySchema"]
    assert [i["IndexName"] for i in state["GlobalSecondaryIndexes"]] == ["gsi1", "gsi2"]
    index = ddb.describe_table(TableName="t-sales-subject-index")["Table"]
    assert index["KeySchema"] == STATE_TABLE["KeySchema"]
    idem = ddb.describe_table(TableName="t-sales-idempotency")["Table"]
    assert idem["KeySchema"] == IDEMPOTENCY_TABLE["KeySchema"]
    central_tables = two_domains.central.client("dynamodb").list_tables()["TableNames"]
    assert set(central_tables) == {"t-registry", "t-central-idempotency"}

    s3 = sales.client("s3")
    assert sales.bucket == f"t-sales-{SALES}"
    assert sales.storage_uri == f"s3://t-sales-{SALES}/products/"
    assert s3.get_bucket_versioning(Bucket=sales.bucket)["Status"] == "Enabled"

    roles = {r["Arn"] for r in two_domains.domain("marketing").client("iam").list_roles()["Roles"]}
    marketing = two_domains.domain("marketing")
    assert marketing.principal("analyst") == f"arn:aws:iam::{MARKETING}:role/t-marketing-analyst"
    assert {marketing.principal("analyst"), marketing.principal("bi")} <= roles
    assert marketing.resources.crawler_role_arn in roles
    with pytest.raises(KeyError, match="no principal 'nobody'"):
        marketing.principal("nobody")


def test_configs_follow_the_contract(two_domains: LocalMesh) -> None:
    central = two_domains.central.configs["central.access"]
    assert central.role == "central"
    assert central.bus == "t-central"
    assert central.registry_table == "t-registry"
    assert central.dead_letter_queue_url is not None
    assert central.dead_letter_queue_url.endswith("/t-central-access-dlq")
    assert central.max_receive_count == 3
    # member_accounts is one live list shared by every central group
    assert central.settings["member_accounts"] == [SALES, MARKETING]
    assert two_domains.central.configs["central.onboarding"].settings["member_accounts"] == [
        SALES,
        MARKETING,
    ]

    producer = two_domains.domain("marketing").configs["domain.producer"]
    assert producer.role == "domain"
    assert producer.domain == "marketing"
    assert producer.bus == "t-marketing"
    assert producer.registry_table == "t-marketing-state"
    assert producer.idempotency_table == "t-marketing-idempotency"
    assert producer.settings["storage_uri"] == f"s3://t-marketing-{MARKETING}/products/"
    assert producer.settings["sharing_mode"] == "named"
    assert producer.settings["principals"] == [
        f"arn:aws:iam::{MARKETING}:role/t-marketing-analyst",
        f"arn:aws:iam::{MARKETING}:role/t-marketing-bi",
    ]
    assert producer.settings["crawler_role_arn"].endswith(":role/t-marketing-crawler")


def test_mesh_and_domain_settings_reach_the_configs(recorder: object) -> None:
    with LocalMesh(name="s", settings={"policy": "ask"}, lake=False) as mesh:
        d = mesh.add_domain(
            "finance", account=SALES, sharing_mode="tag", settings={"x": 1}, register=False
        )
        assert d.config.settings["policy"] == "ask"
        assert d.config.settings["x"] == 1
        assert d.config.settings["sharing_mode"] == "tag"
        assert mesh.central.config.settings["policy"] == "ask"
        assert "x" not in mesh.central.config.settings


def test_refusals(mesh: LocalMesh) -> None:
    with pytest.raises(ValueError, match="its own account"):
        mesh.add_domain("x", account=CENTRAL)
    with pytest.raises(ValueError, match="sharing_mode"):
        mesh.add_domain("x", account=SALES, sharing_mode="both")
    mesh.add_domain("x", account=SALES, register=False)
    with pytest.raises(ValueError, match="already exists"):
        mesh.add_domain("x", account=SALES)
    with pytest.raises(ValueError, match="mesh name"):
        LocalMesh(name="Bad_Name")
    with pytest.raises(ValueError, match="no '-'"):
        LocalMesh(name="a-b")  # "a-b" + "c" would name the databases of "a" + "b_c"


def test_the_lake_simulation_is_attached_to_every_account(recorder: object) -> None:
    with LocalMesh(name="l") as mesh:
        sales = mesh.add_domain("sales", account=SALES, register=False)
        assert mesh.lake.is_attached(CENTRAL)
        assert mesh.lake.is_attached(SALES)
        # queries go to the lake's engine as one of the domain's principals
        with pytest.raises(PermissionError, match="nothing_here"):
            sales.query("SELECT * FROM nothing_here.t")
    with LocalMesh(name="n", lake=False) as bare, pytest.raises(RuntimeError, match="lake=False"):
        bare.lake  # noqa: B018 - the property raises
