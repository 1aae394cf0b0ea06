"""Confirmed registration as DataDomain deploys it: two Provider-framework custom resources, the
request after the rules it travels on, the deregistration deleted last, least-privilege roles."""

from __future__ import annotations

import json
from typing import Any

import pytest

from meshkit.constructs import _registration
from meshkit.events.domains import DomainDeregistrationRequested, DomainRegistrationRequested
from meshkit.runtime import registration

CENTRAL_ACCOUNT = "111111111111"
DOMAIN_ACCOUNT = "222222222222"
PROVIDER_PREFIX = "DomainRegistrationProvider"


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def _custom(template: dict[str, Any], kind: str) -> tuple[str, dict[str, Any]]:
    ((logical_id, resource),) = [
        (k, r)
        for k, r in _resources(template, _registration.RESOURCE_TYPE).items()
        if r["Properties"]["Kind"] == kind
    ]
    return logical_id, resource


def _depends_on(resource: dict[str, Any]) -> list[str]:
    value = resource.get("DependsOn", [])
    return [value] if isinstance(value, str) else list(value)


def _resolve(value: Any, refs: dict[str, str]) -> Any:
    """Fn::Join / Ref / Fn::GetAtt of the template, with made-up values for what is deployed."""
    if isinstance(value, dict) and len(value) == 1:
        ((fn, arg),) = value.items()
        if fn == "Ref":
            return refs[arg]
        if fn == "Fn::GetAtt":
            return refs[f"{arg[0]}.{arg[1]}"]
        if fn == "Fn::Join":
            return arg[0].join(str(_resolve(v, refs)) for v in arg[1])
    return value


def _logical(template: dict[str, Any], prefix: str, kind: str) -> str:
    (logical_id,) = [k for k in _resources(template, kind) if k.startswith(prefix)]
    return logical_id


@pytest.fixture(scope="module")
def refs(domain: dict[str, Any]) -> dict[str, str]:
    bus = _logical(domain, "DomainBus", "AWS::Events::EventBus")
    data = _logical(domain, "DomainData", "AWS::S3::Bucket")
    return {
        "AWS::Partition": "aws",
        f"{bus}.Arn": f"arn:aws:events:eu-west-1:{DOMAIN_ACCOUNT}:event-bus/domain-bus",
        data: "sales-data",
    }


def test_two_custom_resources_behind_one_provider(domain: dict[str, Any]) -> None:
    _, request = _custom(domain, "registration")
    _, deregistration = _custom(domain, "deregistration")
    token = request["Properties"]["ServiceToken"]
    assert token == deregistration["Properties"]["ServiceToken"]
    framework = domain["Resources"][token["Fn::GetAtt"][0]]
    assert framework["Type"] == "AWS::Lambda::Function"
    assert framework["Properties"]["Handler"] == "framework.onEvent"
    (function,) = [
        f
        for f in _resources(domain, "AWS::Lambda::Function").values()
        if f["Properties"]["Handler"] == _registration.HANDLER
    ]
    # The framework outlives the function's timeout, so a wait that runs out is still answered.
    assert function["Properties"]["Timeout"] == 14 * 60 < framework["Properties"]["Timeout"]
    assert "Layers" not in function["Properties"]  # standard library and boto3 only
    # CloudFormation stops waiting well before its default hour.
    for resource in (request, deregistration):
        assert resource["Properties"]["ServiceTimeout"] == "1200"
    # No state machine: the waiting is the runtime's own loop (docs/deploy.md).
    assert not _resources(domain, "AWS::StepFunctions::StateMachine")
    assert not _resources(domain, "Custom::AWS")


def test_request_follows_the_rules_it_travels_on(domain: dict[str, Any]) -> None:
    _, request = _custom(domain, "registration")
    after = set(_depends_on(request))
    forward = _logical(domain, "DomainForwardRule", "AWS::Events::Rule")
    subscription = _logical(domain, "DomainSubscriptionRule", "AWS::Events::Rule")
    wait_policy = _logical(domain, "DomainRegistrationWaitPolicy", "AWS::IAM::Policy")
    assert {forward, subscription, wait_policy} <= after
    # every handler group's rules and event source mappings too (the answer is recorded by one)
    handler_rules = {
        k for k in _resources(domain, "AWS::Events::Rule") if k.startswith("DomainDomain")
    }
    mappings = set(_resources(domain, "AWS::Lambda::EventSourceMapping"))
    assert handler_rules
    assert handler_rules <= after
    assert mappings
    assert mappings <= after


def test_deregistration_is_deleted_last(domain: dict[str, Any]) -> None:
    deregistration_id, deregistration = _custom(domain, "deregistration")
    assert not [d for d in _depends_on(deregistration) if not d.startswith(PROVIDER_PREFIX)]
    others = {
        k: r
        for k, r in domain["Resources"].items()
        if k != deregistration_id
        and not k.startswith(PROVIDER_PREFIX)
        and not r["Type"].startswith("AWS::CDK::")
    }
    assert len(others) > 50
    missing = [k for k, r in others.items() if deregistration_id not in _depends_on(r)]
    assert missing == []
    # ...and nothing the deregistration needs depends on anything else (no cycle, no early
    # deletion): its provider references only itself.
    for k, r in domain["Resources"].items():
        if k.startswith(PROVIDER_PREFIX):
            text = json.dumps(r)
            assert all(other not in text for other in others), k


def test_entries_are_the_contract_and_run_through_the_handler(
    domain: dict[str, Any], refs: dict[str, str]
) -> None:
    _, request = _custom(domain, "registration")
    _, deregistration = _custom(domain, "deregistration")
    register = json.loads(_resolve(request["Properties"]["Entry"], refs))
    assert register["DetailType"] == DomainRegistrationRequested.DETAIL_TYPE
    assert register["EventBusName"] == refs[next(k for k in refs if k.endswith(".Arn"))]
    detail = DomainRegistrationRequested.model_validate_json(register["Detail"])
    assert detail.storage_uri == "s3://sales-data/products/"
    assert request["Properties"]["Domain"] == detail.domain == "sales"
    leave = json.loads(_resolve(deregistration["Properties"]["Entry"], refs))
    assert leave["DetailType"] == DomainDeregistrationRequested.DETAIL_TYPE
    # straight to the central bus: the forward rule is gone when it is sent
    assert leave["EventBusName"] == (
        f"arn:aws:events:eu-west-1:{CENTRAL_ACCOUNT}:event-bus/meshkit-demo-central"
    )
    DomainDeregistrationRequested.model_validate_json(leave["Detail"])

    # WHEN CloudFormation deletes the deregistration (as the template's properties arrive)
    sent: list[dict[str, Any]] = []

    class Events:
        def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
            sent.extend(Entries)
            return {"FailedEntryCount": 0, "Entries": [{"EventId": "e-1"}]}

    properties = {
        **deregistration["Properties"],
        "Entry": _resolve(deregistration["Properties"]["Entry"], refs),
    }
    registration.handle(
        {"RequestType": "Delete", "RequestId": "r", "ResourceProperties": properties},
        events=Events(),
        dynamodb=None,
        remaining_seconds=840,
    )
    # THEN the entry sent is the template's, unchanged
    assert sent == [leave]


def _statements(template: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    return [
        s
        for k, p in _resources(template, "AWS::IAM::Policy").items()
        if k.startswith(prefix)
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_function_role_is_least_privilege(domain: dict[str, Any]) -> None:
    bus = _logical(domain, "DomainBus", "AWS::Events::EventBus")
    state = _logical(domain, "DomainState", "AWS::DynamoDB::Table")
    key = _logical(domain, "DomainKey", "AWS::KMS::Key")
    own = _statements(domain, f"{PROVIDER_PREFIX}FunctionRole")
    wait = _statements(domain, "DomainRegistrationWaitPolicy")
    by_sid = {s["Sid"]: s for s in own + wait}
    assert set(by_sid) == {
        "Logs",
        "SendDeregistration",
        "SendRegistration",
        "ReadAnswer",
        "DecryptState",
    }
    for statement in own + wait:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        assert all("*" not in a for a in actions)
        assert statement["Resource"] != "*"
    leave = by_sid["SendDeregistration"]
    assert leave["Action"] == "events:PutEvents"
    assert "meshkit-demo-central" in json.dumps(leave["Resource"])
    assert leave["Condition"] == {
        "StringEquals": {
            "events:source": [DomainDeregistrationRequested.SOURCE],
            "events:detail-type": [DomainDeregistrationRequested.DETAIL_TYPE],
        }
    }
    join = by_sid["SendRegistration"]
    assert join["Resource"] == {"Fn::GetAtt": [bus, "Arn"]}
    assert join["Condition"]["StringEquals"]["events:detail-type"] == [
        DomainRegistrationRequested.DETAIL_TYPE
    ]
    assert by_sid["ReadAnswer"]["Action"] == "dynamodb:GetItem"
    assert by_sid["ReadAnswer"]["Resource"] == {"Fn::GetAtt": [state, "Arn"]}
    assert by_sid["DecryptState"]["Action"] == "kms:Decrypt"
    assert by_sid["DecryptState"]["Resource"] == {"Fn::GetAtt": [key, "Arn"]}
    # the framework's role only invokes that one function and writes its own logs
    framework = _statements(domain, f"{PROVIDER_PREFIX}FrameworkRole")
    assert sorted(a for s in framework for a in _as_list(s["Action"])) == [
        "lambda:GetFunction",
        "lambda:InvokeFunction",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    ]
    # no AWS managed policy on either role
    for k, role in _resources(domain, "AWS::IAM::Role").items():
        if k.startswith(PROVIDER_PREFIX):
            assert "ManagedPolicyArns" not in role["Properties"]


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


@pytest.mark.parametrize(
    ("request_type", "physical", "expected"),
    [
        ("Create", None, "meshkit-Logical"),
        # an update keeps the id: CloudFormation never deletes (and deregisters) the old one
        ("Update", "meshkit-Logical", "meshkit-Logical"),
        ("Delete", "meshkit-Logical", "meshkit-Logical"),
    ],
)
def test_on_event_keeps_the_physical_id(
    monkeypatch: pytest.MonkeyPatch, request_type: str, physical: str | None, expected: str
) -> None:
    import boto3

    class Client:
        def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
            return {"FailedEntryCount": 0, "Entries": [{"EventId": "e-1"}]}

    monkeypatch.setattr(boto3, "client", lambda *_a, **_k: Client())
    event: dict[str, Any] = {
        "RequestType": request_type,
        "RequestId": "r-1",
        "LogicalResourceId": "Logical",
        "ResourceProperties": {"Kind": "deregistration", "Entry": {"Detail": "{}"}},
    }
    if physical:
        event["PhysicalResourceId"] = physical
    assert registration.on_event(event) == {"PhysicalResourceId": expected}


def test_on_event_reports_a_failure_by_raising(monkeypatch: pytest.MonkeyPatch) -> None:
    """The framework turns the exception into FAILED with its message (no own response)."""
    import boto3

    monkeypatch.setattr(boto3, "client", lambda *_a, **_k: None)
    event = {
        "RequestType": "Create",
        "RequestId": "r-1",
        "LogicalResourceId": "Logical",
        "ResourceProperties": {"Kind": "registrations"},
    }
    with pytest.raises(ValueError, match="Kind='registrations'"):
        registration.on_event(event)
