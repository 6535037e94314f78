"""Interop test: the official Huawei Cloud Python SDK against `batchconf serve`.

Proves that a real client signs requests the way the reference server verifies them (AK/SK,
SDK-HMAC-SHA256), and that the server's answers parse into the SDK's own models. Run by
tests/sdk/run.sh, which starts the server and passes its URL and credentials in the environment.

Exit status 0 when every assertion holds; the failing assertion is printed otherwise.
"""

import os
import sys

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkmetastudio.v1 import (
    BatchAssetActionReq,
    BatchExecuteAssetActionRequest,
    MetaStudioClient,
)


def client(endpoint, ak, sk, project_id):
    return (
        MetaStudioClient.new_builder()
        .with_credentials(BasicCredentials(ak, sk, project_id))
        .with_endpoints([endpoint])
        .build()
    )


def groups_by_status(response):
    """ret_status -> list of ids, from the SDK's parsed model objects."""
    out = {}
    for group in response.results or []:
        out.setdefault(group.ret_status, []).extend(group.asset_ids or [])
    return out


def main():
    endpoint = os.environ["BATCHCONF_URL"]
    ak = os.environ["BATCHCONF_AK"]
    sk = os.environ["BATCHCONF_SK"]
    fixture = os.environ["BATCHCONF_FIXTURE"]
    project_id = "0123456789abcdef0123456789abcdef"
    checks = 0

    # A signed batch with one existing and one unknown asset: one SUCCESS and one FAILED group.
    good = client(endpoint, ak, sk, project_id)
    request = BatchExecuteAssetActionRequest(body=BatchAssetActionReq(action="DELETE", asset_ids=[fixture, "nope"]))
    response = good.batch_execute_asset_action(request)
    assert response.status_code == 200, f"status {response.status_code}"
    groups = groups_by_status(response)
    assert groups.get("SUCCESS") == [fixture], f"SUCCESS group: {groups}"
    assert groups.get("FAILED") == ["nope"], f"FAILED group: {groups}"
    failed = [g for g in response.results if g.ret_status == "FAILED"][0]
    assert failed.error_info is not None and failed.error_info.error_code == "MSS.00000003", failed.error_info
    assert response.x_request_id, "the SDK parsed no X-Request-Id"
    checks += 1

    # The deleted asset comes back with RESTORE: the server kept the state between calls.
    request = BatchExecuteAssetActionRequest(body=BatchAssetActionReq(action="RESTORE", asset_ids=[fixture]))
    groups = groups_by_status(good.batch_execute_asset_action(request))
    assert groups == {"SUCCESS": [fixture]}, f"RESTORE: {groups}"
    checks += 1

    # A wrong secret key: the signature does not verify, and the SDK raises the contract's 400.
    bad = client(endpoint, ak, sk + "x", project_id)
    request = BatchExecuteAssetActionRequest(body=BatchAssetActionReq(action="SHARE", asset_ids=[fixture]))
    try:
        bad.batch_execute_asset_action(request)
        raise AssertionError("a request signed with the wrong SK was accepted")
    except ClientRequestException as e:
        assert e.status_code == 400, f"status {e.status_code}"
        assert e.error_code == "MSS.00000001", f"error_code {e.error_code}"
    checks += 1

    print(f"interop: {checks} passed, 0 failed")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"sdk interop FAILED: {e}", file=sys.stderr)
        print("interop: 0 passed, 1 failed")
        sys.exit(1)
