"""Canonical JSON, the params hash, and offline verification of execution tokens."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import time
from decimal import Decimal
from typing import Any, Iterable, Mapping

from .errors import TokenInvalid

PREFIX = "oak_tok_"
_I64_MIN = -(2**63)
_U64_MAX = 2**64 - 1
_EXACT_FLOAT_LIMIT = 2.0**53
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def canonical_json(value: Any) -> str:
    """oakallow's canonical JSON: keys sorted by code point at every depth, no white space,
    serde_json's minimal string escaping, integral numbers (below 2^53) as integers."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return _number(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(canonical_json(v) for v in value) + "]"
    if isinstance(value, Mapping):
        keys = sorted(value)
        if not all(isinstance(k, str) for k in keys):
            raise TypeError("object keys must be strings")
        return "{" + ",".join(_string(k) + ":" + canonical_json(value[k]) for k in keys) + "}"
    raise TypeError(f"{type(value).__name__} is not JSON")


def params_sha256(params: Mapping[str, Any] | None) -> str:
    """Hex SHA-256 of the canonical JSON of ``params``; ``None`` hashes as ``{}``."""
    text = "{}" if params is None else canonical_json(params)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _string(text: str) -> str:
    return '"' + "".join(_ESCAPES.get(c, f"\\u{ord(c):04x}" if ord(c) < 0x20 else c) for c in text) + '"'


def _number(x: int | float) -> str:
    if isinstance(x, int) and _I64_MIN <= x <= _U64_MAX:
        return str(x)
    x = float(x)  # the server reads integers beyond 64 bits as the nearest double
    if not math.isfinite(x):
        raise ValueError("NaN and infinities are not JSON")
    if x == int(x) and abs(x) < _EXACT_FLOAT_LIMIT:
        return str(int(x))
    return _shortest_float(x)


def _shortest_float(x: float) -> str:
    """serde_json (ryu) layout of the shortest round-trip digits."""
    _, digit_tuple, exponent = Decimal(repr(abs(x))).normalize().as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    point = len(digits) + exponent
    sign = "-" if x < 0 else ""
    if exponent >= 0 and point <= 16:
        return sign + digits + "0" * exponent + ".0"
    if 0 < point <= 16:
        return sign + digits[:point] + "." + digits[point:]
    if -5 < point <= 0:
        return sign + "0." + "0" * -point + digits
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    power = point - 1
    return sign + mantissa + "e" + ("+" if power >= 0 else "-") + str(abs(power))


def _b64decode(text: str) -> bytes:
    if "=" in text or not text:
        raise ValueError("not unpadded base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parse_token(token: str) -> tuple[str, dict[str, Any], bytes]:
    """Split a token into its payload text, its claims and its signature (step 1)."""
    try:
        if not token.startswith(PREFIX):
            raise ValueError("missing oak_tok_ prefix")
        payload, signature = token[len(PREFIX):].split(".")
        payload.encode("ascii")
        claims = json.loads(_b64decode(payload))
        sig = _b64decode(signature)
    except (ValueError, binascii.Error, UnicodeError) as exc:
        raise TokenInvalid("malformed", f"malformed token: {exc}") from None
    if not isinstance(claims, dict) or claims.get("v") != 1:
        raise TokenInvalid("malformed", "the payload is not version 1 claims")
    return payload, claims, sig


def _check_signature(
    payload: str,
    claims: Mapping[str, Any],
    signature: bytes,
    signing_keys: Iterable[Mapping[str, Any]] | Mapping[str, Any] | None,
    hmac_key: bytes | None,
) -> None:
    """Step 2: the algorithm is the trusted key's, never the token's."""
    kid = claims.get("kid")
    if signing_keys is not None:
        keys = signing_keys.get("keys", []) if isinstance(signing_keys, Mapping) else signing_keys
        key = next((k for k in keys if k.get("kid") == kid), None)
        if key is None or key.get("alg") != "ed25519" or claims.get("alg") != "ed25519":
            raise TokenInvalid("bad_signature", f"no trusted ed25519 key {kid!r}")
        _verify_ed25519(str(key["public_key"]), signature, payload.encode("ascii"))
        return
    if hmac_key is None:
        raise ValueError("give signing_keys (ed25519) or hmac_key (hmac-sha256)")
    if claims.get("alg") != "hmac-sha256":
        raise TokenInvalid("bad_signature", "the token is not signed with hmac-sha256")
    expected = hmac.new(hmac_key, payload.encode("ascii"), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, signature):
        raise TokenInvalid("bad_signature", "the signature does not verify")


def _verify_ed25519(public_key: str, signature: bytes, message: bytes) -> None:
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    except ImportError as exc:  # pragma: no cover
        raise ImportError("Ed25519 verification needs `pip install oakallow[ed25519]`") from exc
    try:
        Ed25519PublicKey.from_public_bytes(_b64decode(public_key)).verify(signature, message)
    except (InvalidSignature, ValueError):
        raise TokenInvalid("bad_signature", "the signature does not verify") from None


def _check_scope(claims: Mapping[str, Any], expected: Mapping[str, str | None]) -> None:
    """Steps 4 and 5: each name equals the call's, ``None`` only when the call has none."""
    for field, value in expected.items():
        if claims.get(field) != value:
            raise TokenInvalid(f"{field}_mismatch", f"the token's {field} is {claims.get(field)!r}, not {value!r}")


def verify_token_offline(
    token: str,
    *,
    tool: str,
    signing_keys: Iterable[Mapping[str, Any]] | Mapping[str, Any] | None = None,
    hmac_key: bytes | None = None,
    org: str | None = None,
    tenant: str | None = None,
    resource: str | None = None,
    method: str | None = None,
    params: Mapping[str, Any] | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """Check a token offline for exactly this call and return its claims, or raise ``TokenInvalid``.

    ``signing_keys`` is the answer of ``GET /v1/signing-keys`` (or its ``keys`` list);
    ``hmac_key`` is an HMAC secret you hold. ``tenant``, ``resource`` and ``method`` are the
    call's (``None`` = the call has none, and then the token must have none). ``org``, when
    given, must be the token's org. Single use cannot be checked offline: consume the token
    with ``verify_token(..., consume=True)`` or by logging the execution.
    """
    payload, claims, signature = parse_token(token)
    _check_signature(payload, claims, signature, signing_keys, hmac_key)
    if org is not None and claims.get("org") != org:
        raise TokenInvalid("wrong_org", "the token is for another org")
    _check_scope(claims, {"tool": tool, "tenant": tenant, "resource": resource, "method": method})
    if claims.get("params_sha256") != params_sha256(params):
        raise TokenInvalid("params_mismatch", "the params do not hash to the token's")
    exp = claims.get("exp")
    if not isinstance(exp, int) or (time.time() if now is None else now) >= exp:
        raise TokenInvalid("expired", "the token has expired")
    return dict(claims)
