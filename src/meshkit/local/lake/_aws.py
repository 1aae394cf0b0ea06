"""Answers in botocore's shapes, for hooks that short-circuit a call with AWS's behaviour."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.awsrequest import AWSResponse

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["LakeClientError", "answer", "fail", "iso", "utcnow"]

#: ``before-call`` handlers return ``(http_response, parsed)``; botocore then behaves as if the
#: service had answered (after-call hooks run, a status >= 300 raises the modelled exception).
Answer = tuple[AWSResponse, dict[str, Any]]


class _RawBody(io.BytesIO):
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.getvalue()


class LakeClientError(Exception):
    """An AWS error the simulation answers with (code, message, HTTP status)."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


def _metadata(status: int) -> dict[str, Any]:
    return {
        "RequestId": str(uuid.uuid4()),
        "HTTPStatusCode": status,
        "HTTPHeaders": {"x-meshkit-lake": "simulated"},
        "RetryAttempts": 0,
    }


def answer(parsed: dict[str, Any]) -> Answer:
    """A successful response with ``parsed`` as the operation's output."""
    body = dict(parsed)
    body["ResponseMetadata"] = _metadata(200)
    return AWSResponse("https://meshkit.local/lake", 200, {}, _RawBody(b"{}")), body


def fail(error: LakeClientError, *, xml: bool = False) -> Answer:
    """An error response botocore turns into the service's modelled exception.

    ``xml=True`` gives the body S3's protocol has (some S3 parsers read the body first).
    """
    parsed = {
        "Error": {"Code": error.code, "Message": error.message},
        "Message": error.message,
        "ResponseMetadata": _metadata(error.status),
    }
    body = (
        f"<Error><Code>{error.code}</Code><Message>{error.message}</Message></Error>".encode()
        if xml
        else b"{}"
    )
    return AWSResponse("https://meshkit.local/lake", error.status, {}, _RawBody(body)), parsed


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """``2017-10-10T16:44:11Z``: the timestamp format of AWS service events."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
