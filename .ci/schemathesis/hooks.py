"""schemathesis hooks for oakallow.

- Every operation is called with a key of a tier it accepts: the published document names them as
  the roles of each operation's security requirement (`"api_key": ["standard"]`), so the fuzzer
  follows the document, not a list kept here.
- The run never revokes the keys it is using (`DELETE /v1/keys/{id}` of one of them is sent for an
  unknown id instead), or every later request would only see 401.
- Long-polls (`GET /v1/approvals/{id}?wait=N`, N up to 60) wait at most OAKALLOW_FUZZ_MAX_WAIT
  seconds (default 2), so that a few of them cannot spend a short run's whole time budget.
- A followed export (`GET /v1/activity/export?follow=true`) never ends by design: it is sent
  without `follow` (the export itself is still fuzzed; `follow` is tested in the API tests).

The keys and the server come from the environment (see `run`).
"""

import os

import requests
import schemathesis

URL = os.environ["OAKALLOW_FUZZ_URL"]
KEYS = {tier: os.environ[f"OAKALLOW_FUZZ_{tier.upper()}_KEY"] for tier in ("management", "standard", "approver")}
UNKNOWN_KEY_ID = "key_" + "0" * 26
MAX_WAIT = int(os.environ.get("OAKALLOW_FUZZ_MAX_WAIT", "2"))


def _ids_of_keys_in_use():
    answer = requests.get(f"{URL}/v1/keys?limit=500", headers={"X-API-Key": KEYS["management"]}, timeout=10)
    answer.raise_for_status()
    prefixes = {key[:12] for key in KEYS.values()}
    return {key["id"] for key in answer.json()["data"] if key["prefix"] in prefixes}


KEYS_IN_USE = _ids_of_keys_in_use()
assert len(KEYS_IN_USE) == len(KEYS), "every key of the run is listed"


def tier_of(operation):
    """The first key tier the operation's security requirement names, or None without one."""
    for requirement in operation.definition.raw.get("security", []):
        for tiers in requirement.values():
            if tiers:
                return tiers[0]
    return None


@schemathesis.auth(refresh_interval=None)
class TierKey:
    def get(self, case, context):
        return tier_of(case.operation)

    def set(self, case, tier, context):
        case.headers = case.headers or {}
        case.headers["X-API-Key"] = KEYS[tier]


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.operation.label == "DELETE /v1/keys/{id}" and (case.path_parameters or {}).get("id") in KEYS_IN_USE:
        case.path_parameters["id"] = UNKNOWN_KEY_ID
    wait = (case.query or {}).get("wait")
    if case.operation.label == "GET /v1/approvals/{id}" and isinstance(wait, int) and wait > MAX_WAIT:
        case.query["wait"] = MAX_WAIT
    if case.operation.label == "GET /v1/activity/export" and "follow" in (case.query or {}):
        del case.query["follow"]
