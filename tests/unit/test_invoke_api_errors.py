"""How the Invoke API reports a remote backend's failure: AWS-shaped, as a
``ServiceException``, without the backing function's ARN or account."""

from __future__ import annotations

import json

from lockgate.controllers.http.lambda_api import _to_response
from lockgate.errors import RemoteInvocationError
from lockgate.models.invocation import InvocationResult

BACKING_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:thumbs"


def test_a_remote_failure_is_a_service_exception_that_names_no_arn() -> None:
    error = RemoteInvocationError(
        f"AWS Lambda has no function {BACKING_ARN}", code="ResourceNotFoundException"
    )
    result = InvocationResult(success=False, status_code=502, payload=None, error=error)

    response = _to_response(result, "req-1", tail=False)

    headers = dict(response.headers)
    body = json.loads(response.body)
    assert response.status_code == 502
    assert headers["x-amzn-errortype"] == "ServiceException"  # not ResourceNotFoundException
    assert "ResourceNotFoundException" in body["Message"]
    assert "123456789012" not in response.body.decode()
    assert BACKING_ARN not in response.body.decode()
