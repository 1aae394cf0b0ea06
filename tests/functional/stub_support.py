"""A boto3 session of stubbed clients, for the AWS paths of the command-line tests."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.stub import Stubber


class StubbedSession:
    """One stubbed client per service, as a boto3 session hands them out."""

    def __init__(self) -> None:
        self.clients: dict[str, Any] = {}
        self.stubs: dict[str, Stubber] = {}

    def client(self, service: str) -> Any:
        if service not in self.clients:
            client = boto3.client(
                service, region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
            )
            self.clients[service] = client
            self.stubs[service] = Stubber(client)
            self.stubs[service].activate()
        return self.clients[service]

    def stub(self, service: str) -> Stubber:
        self.client(service)
        return self.stubs[service]
