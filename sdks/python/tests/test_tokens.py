"""Canonical JSON and offline token verification: pinned vectors, and tokens the server minted."""

from __future__ import annotations

import base64
import json
import socket
from pathlib import Path
from typing import Any, Iterator

import pytest

from oakallow import Client, TokenInvalid, canonical_json, params_sha256, parse_token, verify_token_offline

# The server's own golden vectors (crates/oakallow-domain/tests/golden), read where they live.
DATA = Path(__file__).resolve().parents[3] / "crates" / "oakallow-domain" / "tests" / "golden"
# Params that exercise every canonical rule: key order, unicode, escapes, integral floats, big numbers.
AWKWARD_PARAMS = {
    "z": [1, 2.0, -0.0, 1e2, 0.1, 1e-7, 1e16, 2**64 + 5],
    "é": {"b": None, "a": True, "😀": "\u2028\n\"\\\x01\x7f"},
    "A": "Ana Müller",
    "": {},
}


def golden(name: str) -> dict[str, Any]:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def serde_like(text: str) -> Any:
    """JSON read as serde_json reads it (integers beyond 64 bits become doubles)."""
    return json.loads(text, parse_int=lambda s: int(s) if -(2**63) <= int(s) < 2**64 else float(s))


@pytest.mark.parametrize("vector", golden("canonical_json.json")["vectors"], ids=lambda v: v["name"])
def test_canonical_json_matches_the_pinned_vectors(vector: dict[str, str]) -> None:
    value = serde_like(vector["input"])
    assert canonical_json(value) == vector["canonical"]
    if isinstance(value, dict):
        assert params_sha256(value) == vector["params_sha256"]


def test_absent_params_hash_as_empty_object() -> None:
    assert params_sha256(None) == params_sha256({}) == golden("canonical_json.json")["absent_params_sha256"]


def test_pinned_tokens_verify_offline() -> None:
    hmac_vector, ed_vector = golden("execution_token.json")["tokens"]
    claims = hmac_vector["claims"]
    got = verify_token_offline(
        hmac_vector["token"], hmac_key=bytes.fromhex(hmac_vector["secret_hex"]), tool=claims["tool"],
        tenant="acme", resource="payments", params=hmac_vector["params"], now=claims["iat"], org=claims["org"],
    )
    assert got == claims
    keys = {"keys": [{"kid": ed_vector["claims"]["kid"], "alg": "ed25519", "public_key": ed_vector["public_key"]}]}
    got = verify_token_offline(ed_vector["token"], signing_keys=keys, tool="delete_customer", method="DELETE",
                               now=ed_vector["claims"]["iat"])
    assert got == ed_vector["claims"]
    with pytest.raises(TokenInvalid) as raised:  # never let the token choose the algorithm
        verify_token_offline(hmac_vector["token"], signing_keys=keys, tool=claims["tool"])
    assert raised.value.reason == "bad_signature"
    with pytest.raises(TokenInvalid, match="signature"):
        verify_token_offline(hmac_vector["token"], hmac_key=b"another secret", tool=claims["tool"])
    with pytest.raises(TokenInvalid) as raised:
        verify_token_offline(hmac_vector["token"], hmac_key=bytes.fromhex(hmac_vector["secret_hex"]),
                             tool=claims["tool"], tenant="acme", resource="payments", params=hmac_vector["params"],
                             org="org_other", now=claims["iat"])
    assert raised.value.reason == "wrong_org"


def test_server_hashes_params_like_the_sdk(agent: Client, make_tool: Any, tool_name: str) -> None:
    make_tool(tool_name, "allowed")
    check = agent.check(tool_name, params=AWKWARD_PARAMS, mint_token=True)
    _, claims, _ = parse_token(check["token"])
    assert claims["params_sha256"] == params_sha256(AWKWARD_PARAMS)
    assert claims["alg"] == "hmac-sha256"


@pytest.fixture
def ed25519_org(admin: Client) -> Iterator[None]:
    """The org signs with Ed25519 for the test, then goes back to HMAC-SHA256."""
    before = admin.get_org()["token_signing"]
    admin.update_org(token_signing="ed25519")
    try:
        yield
    finally:
        admin.update_org(token_signing=before)
        assert admin.get_org()["token_signing"] == before


def forge(token: str, **changes: Any) -> str:
    """The token with its claims changed and its signature kept."""
    payload, claims, _ = parse_token(token)
    new = base64.urlsafe_b64encode(json.dumps({**claims, **changes}, separators=(",", ":")).encode()).rstrip(b"=")
    return "oak_tok_" + new.decode() + token[len("oak_tok_") + len(payload):]


def test_ed25519_tokens_verify_offline_without_network(
    agent: Client, make_tool: Any, tool_name: str, ed25519_org: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_tool(tool_name, "allowed")
    keys = agent.signing_keys()
    assert keys["keys"] and all(k["alg"] == "ed25519" for k in keys["keys"])
    scope = {"tenant": "acme", "resource": "payments", "method": "POST"}
    token = agent.check(tool_name, params=AWKWARD_PARAMS, mint_token=True, **scope)["token"]

    def no_network(*args: Any, **kwargs: Any) -> None:
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket, "socket", no_network)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", 9))
    reordered = json.loads(json.dumps(AWKWARD_PARAMS, sort_keys=True))
    claims = verify_token_offline(token, signing_keys=keys, tool=tool_name, params=reordered, **scope)
    assert claims["alg"] == "ed25519" and claims["tool"] == tool_name

    def refused(tok: str, **overrides: Any) -> str:
        call = {"signing_keys": keys, "tool": tool_name, "params": AWKWARD_PARAMS, **scope, **overrides}
        with pytest.raises(TokenInvalid) as raised:
            verify_token_offline(tok, **call)
        return raised.value.reason

    assert refused(forge(token, tool="other")) == "bad_signature"
    assert refused(token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")) in ("bad_signature", "malformed")
    assert refused(token, tool="other") == "tool_mismatch"
    assert refused(token, tenant="globex") == "tenant_mismatch"
    assert refused(token, tenant=None) == "tenant_mismatch"
    assert refused(token, resource=None) == "resource_mismatch"
    assert refused(token, method="GET") == "method_mismatch"
    assert refused(token, params={**AWKWARD_PARAMS, "A": "someone else"}) == "params_mismatch"
    assert refused(token, params=None) == "params_mismatch"
    assert refused(token, now=claims["exp"]) == "expired"
    assert refused(token, signing_keys={"keys": [{**keys["keys"][0], "kid": "k_unknown"}]}) == "bad_signature"
    assert refused("oak_tok_not-a-token") == "malformed"
    assert refused(token.replace("oak_tok_", "tok_")) == "malformed"
