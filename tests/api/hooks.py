"""schemathesis hooks for `just test-api`: one check of our own.

The contract answers a schema-valid request that the state does not allow with 400 FAILED_PRECONDITION
(code 9), so schemathesis's own positive-data check is told to accept 400 (schemathesis.toml). What it
was there to catch must still fail: a request the document calls valid that validation refuses, i.e.
a 400 whose body says INVALID_ARGUMENT (code 3). That means the document and the validation rules
disagree.
"""
import schemathesis


@schemathesis.check
def valid_data_is_never_invalid_argument(ctx, response, case):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    if response.status_code != 400:
        return None
    try:
        body = response.json()
    except ValueError:
        raise AssertionError("a 400 without a JSON error body")
    if body.get("code") == 3:
        raise AssertionError(
            "a request the document calls valid was refused as INVALID_ARGUMENT: "
            + str(body.get("message"))
        )
    return None
