"""The pydantic layer per partition: Powertools' publishing account of each partition, a team's
own layer (``dependencies_layer``), and a refusal at synth where Powertools publishes none."""

from __future__ import annotations

from typing import Any

import pytest

from meshkit.constructs import _code

CENTRAL, DOMAIN = "111111111111", "222222222222"
OWN_LAYER = f"arn:aws-cn:lambda:cn-northwest-1:{DOMAIN}:layer:pydantic:3"


@pytest.mark.parametrize(
    ("region", "partition", "account"),
    [
        ("eu-west-1", "aws", "017000801446"),
        ("ap-southeast-4", "aws", "017000801446"),
        ("cn-north-1", "aws-cn", "498634801083"),
        ("us-gov-east-1", "aws-us-gov", "165087284144"),
        ("us-gov-west-1", "aws-us-gov", "165093116878"),
    ],
)
def test_layer_arn_per_partition(region: str, partition: str, account: str) -> None:
    arn = _code.powertools_layer_arn(
        region=region, partition=partition, version=27, architecture="arm64", python_tag="python313"
    )
    assert arn == (
        f"arn:{partition}:lambda:{region}:{account}:layer:"
        "AWSLambdaPowertoolsPythonV3-python313-arm64:27"
    )


@pytest.mark.parametrize(
    ("region", "partition"),
    [("cn-northwest-1", "aws-cn"), ("us-iso-east-1", "aws-iso"), ("eusc-de-east-1", "aws-eusc")],
)
def test_a_region_without_a_known_layer_is_refused(region: str, partition: str) -> None:
    with pytest.raises(ValueError, match=rf"{region}.*{partition}.*dependencies_layer="):
        _code.powertools_layer_arn(
            region=region,
            partition=partition,
            version=27,
            architecture="x86_64",
            python_tag="python313",
        )


def test_synth_refuses_it_when_no_layer_is_given() -> None:
    from aws_cdk import App, Environment, Stack

    from meshkit.constructs import DataDomain

    stack = Stack(App(), "D", env=Environment(account=DOMAIN, region="cn-northwest-1"))
    with pytest.raises(ValueError, match=r"cn-northwest-1.*dependencies_layer"):
        DataDomain(stack, "Domain", mesh_name="demo", domain_name="sales", central_account=CENTRAL)


@pytest.fixture(scope="module")
def synthesized() -> dict[str, dict[str, Any]]:
    """One app: central in GovCloud (its layer from GovCloud's account), a domain in a China
    region without a Powertools layer, with its own layer."""
    from aws_cdk import App, Environment, Stack
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk.assertions import Template

    from meshkit.constructs import CentralGovernance, DataDomain

    app = App()
    central = Stack(app, "C", env=Environment(account=CENTRAL, region="us-gov-west-1"))
    CentralGovernance(central, "Governance", mesh_name="demo", member_accounts=[DOMAIN])
    domain = Stack(app, "D", env=Environment(account=DOMAIN, region="cn-northwest-1"))
    own = lambda_.LayerVersion.from_layer_version_arn(domain, "Pydantic", OWN_LAYER)
    DataDomain(
        domain,
        "Domain",
        mesh_name="demo",
        domain_name="sales",
        central_account=CENTRAL,
        dependencies_layer=own,
        pyarrow_layer=own,
    )
    return {
        "central": Template.from_stack(central).to_json(),
        "domain": Template.from_stack(domain).to_json(),
    }


def _handler_layers(template: dict[str, Any]) -> list[list[Any]]:
    return [
        r["Properties"].get("Layers", [])
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"].get("Handler") == _code.HANDLER
    ]


def test_govcloud_central_uses_govclouds_layer(synthesized: dict[str, dict[str, Any]]) -> None:
    layers = _handler_layers(synthesized["central"])
    assert layers
    for found in layers:
        assert found == [
            "arn:aws-us-gov:lambda:us-gov-west-1:165093116878:layer:"
            "AWSLambdaPowertoolsPythonV3-python313-arm64:27"
        ]


def test_own_layer_replaces_powertools(synthesized: dict[str, dict[str, Any]]) -> None:
    layers = _handler_layers(synthesized["domain"])
    assert layers
    for found in layers:
        assert found[0] == OWN_LAYER
        assert not any("Powertools" in str(layer) for layer in found)
