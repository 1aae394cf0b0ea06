"""The data-lake admins custom resource: read-modify-write, never a replacement (moto)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto import mock_aws

from meshkit.runtime import data_lake_admins
from meshkit.runtime.data_lake_admins import apply, handler, merged

ADMIN = "arn:aws:iam::123456789012:role/platform-admin"
CENTRAL_ROLES = [
    "arn:aws:iam::123456789012:role/central-onboarding",
    "arn:aws:iam::123456789012:role/central-access",
]
DOMAIN_ROLES = ["arn:aws:iam::123456789012:role/sales-producer"]


def _admins(lf: Any) -> list[str]:
    settings = lf.get_data_lake_settings()["DataLakeSettings"]
    return [a["DataLakePrincipalIdentifier"] for a in settings["DataLakeAdmins"]]


@pytest.fixture
def lf() -> Any:
    with mock_aws():
        client = boto3.client("lakeformation", region_name="us-east-1")
        client.put_data_lake_settings(
            DataLakeSettings={
                "DataLakeAdmins": [{"DataLakePrincipalIdentifier": ADMIN}],
                "CreateDatabaseDefaultPermissions": [],
                "CreateTableDefaultPermissions": [],
                "Parameters": {"CROSS_ACCOUNT_VERSION": "4"},
                "TrustedResourceOwners": ["210987654321"],
            }
        )
        yield client


def test_two_stacks_of_one_account_keep_each_others_admins_and_every_setting(lf: Any) -> None:
    # GIVEN an account whose admin and settings were set by hand
    # WHEN the central stack and then a domain stack add their roles
    apply(lf, add=CENTRAL_ROLES)
    apply(lf, add=DOMAIN_ROLES)

    # THEN every admin is there, in order, and nothing else changed
    assert _admins(lf) == [ADMIN, *CENTRAL_ROLES, *DOMAIN_ROLES]
    settings = lf.get_data_lake_settings()["DataLakeSettings"]
    assert settings["Parameters"] == {"CROSS_ACCOUNT_VERSION": "4"}
    assert settings["TrustedResourceOwners"] == ["210987654321"]
    assert settings["CreateTableDefaultPermissions"] == []

    # WHEN the central stack is deleted, it removes its own roles only
    apply(lf, add=[], remove=CENTRAL_ROLES)
    assert _admins(lf) == [ADMIN, *DOMAIN_ROLES]
    assert lf.get_data_lake_settings()["DataLakeSettings"]["Parameters"] == {
        "CROSS_ACCOUNT_VERSION": "4"
    }


def test_a_repeated_create_changes_nothing(lf: Any) -> None:
    apply(lf, add=CENTRAL_ROLES)
    apply(lf, add=CENTRAL_ROLES)
    assert _admins(lf) == [ADMIN, *CENTRAL_ROLES]


def test_merged_drops_only_what_is_removed_and_not_re_added() -> None:
    settings = {"DataLakeAdmins": [{"DataLakePrincipalIdentifier": a} for a in ("a", "b", "c")]}
    out = merged(settings, add=["c", "d"], remove=["b", "c"])
    assert [a["DataLakePrincipalIdentifier"] for a in out["DataLakeAdmins"]] == ["a", "c", "d"]
    assert settings["DataLakeAdmins"][1] == {"DataLakePrincipalIdentifier": "b"}  # not mutated


class RacingLakeFormation:
    """A Lake Formation whose first write is overwritten by another stack's stale write."""

    def __init__(self, settings: dict[str, Any], *, races: int) -> None:
        self.settings = settings
        self.races = races
        self.writes = 0

    def get_data_lake_settings(self) -> dict[str, Any]:
        return {"DataLakeSettings": json.loads(json.dumps(self.settings))}

    def put_data_lake_settings(self, DataLakeSettings: dict[str, Any]) -> None:
        self.writes += 1
        stale = json.loads(json.dumps(self.settings))
        self.settings = DataLakeSettings
        if self.races:
            self.races -= 1
            # the other stack read before our write and writes its own merge afterwards
            stale["DataLakeAdmins"].append({"DataLakePrincipalIdentifier": "other-stack"})
            self.settings = stale


def test_a_change_lost_to_a_concurrent_writer_is_merged_again() -> None:
    lf = RacingLakeFormation({"DataLakeAdmins": []}, races=1)

    result = apply(lf, add=["mine"], sleep=lambda _s: None)

    admins = [a["DataLakePrincipalIdentifier"] for a in result["DataLakeAdmins"]]
    assert admins == ["other-stack", "mine"]
    assert lf.writes == 2


def test_a_writer_that_never_lets_go_fails_with_a_clear_error() -> None:
    lf = RacingLakeFormation({"DataLakeAdmins": []}, races=100)
    with pytest.raises(RuntimeError, match="kept changing under 5 writes"):
        apply(lf, add=["mine"], sleep=lambda _s: None)


def _event(kind: str, admins: list[str], old: list[str] | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "RequestType": kind,
        "ResponseURL": "https://cloudformation-custom-resource-response.example/x",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1",
        "RequestId": "r-1",
        "LogicalResourceId": "DataLakeAdmins",
        "ResourceProperties": {"ServiceToken": "arn:fn", "Admins": admins},
    }
    if old is not None:
        event["OldResourceProperties"] = {"ServiceToken": "arn:fn", "Admins": old}
        event["PhysicalResourceId"] = "meshkit-data-lake-admins-DataLakeAdmins"
    return event


def test_handler_answers_cloudformation_for_create_update_delete(
    lf: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers: list[tuple[str, str, str]] = []
    monkeypatch.setattr(
        data_lake_admins,
        "_respond",
        lambda event, status, reason, physical: answers.append((status, reason, physical)),
    )
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")

    handler(_event("Create", CENTRAL_ROLES))
    assert _admins(lf) == [ADMIN, *CENTRAL_ROLES]
    handler(_event("Update", CENTRAL_ROLES[:1], old=CENTRAL_ROLES))
    assert _admins(lf) == [ADMIN, CENTRAL_ROLES[0]]
    handler(_event("Delete", CENTRAL_ROLES[:1], old=CENTRAL_ROLES[:1]))
    assert _admins(lf) == [ADMIN]

    # one stable physical id, so an update never replaces (and deletes) the resource
    assert answers == [("SUCCESS", "", "meshkit-data-lake-admins-DataLakeAdmins")] * 3


def test_handler_reports_a_failure_instead_of_raising(monkeypatch: pytest.MonkeyPatch) -> None:
    answers: list[tuple[str, str]] = []
    monkeypatch.setattr(
        data_lake_admins,
        "_respond",
        lambda event, status, reason, physical: answers.append((status, reason)),
    )

    def broken(*_a: Any, **_k: Any) -> None:
        raise RuntimeError("AccessDeniedException: not allowed")

    monkeypatch.setattr(data_lake_admins, "apply", broken)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")

    handler(_event("Create", CENTRAL_ROLES))

    assert answers == [("FAILED", "RuntimeError: AccessDeniedException: not allowed")]


def test_the_response_is_a_put_to_the_presigned_url(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[Any] = []

    class Response:
        def __enter__(self) -> Response:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

    def urlopen(request: Any, timeout: float) -> Response:
        sent.append(request)
        return Response()

    monkeypatch.setattr(data_lake_admins.urllib.request, "urlopen", urlopen)
    data_lake_admins._respond(_event("Create", []), "SUCCESS", "", "pid")

    (request,) = sent
    assert request.get_method() == "PUT"
    body = json.loads(request.data)
    assert body == {
        "Status": "SUCCESS",
        "Reason": "",
        "PhysicalResourceId": "pid",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1",
        "RequestId": "r-1",
        "LogicalResourceId": "DataLakeAdmins",
    }
