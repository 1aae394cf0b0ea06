"""Construct tests: CDK synth is slow, so each configuration is synthesized once per session."""

from __future__ import annotations

import os
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")

pytest.importorskip("aws_cdk", reason="the constructs need the 'cdk' extra")

CENTRAL_ACCOUNT = "111111111111"
DOMAIN_ACCOUNT = "222222222222"


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Default central + domain (the reference pages' configuration) and two extra domains,
    synthesized with the cdk-nag AwsSolutions plugin: an unacknowledged finding fails here."""
    from meshkit.constructs import docgen

    outdir = tmp_path_factory.mktemp("cdk-out")
    return docgen.synth_defaults(nag=True, outdir=str(outdir), extra_domains=2)


@pytest.fixture(scope="session")
def central(templates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return templates["Central"]


@pytest.fixture(scope="session")
def domain(templates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return templates["Domain"]
