#!/usr/bin/env python3
"""Recomputes every expected value in the golden files from their inputs, independently of the
Rust code: Python's json, hashlib, hmac and base64, the openssl command for Ed25519, and the
official `standardwebhooks` package when it is installed. It only reads the files and reports
differences (exit status 1); it never writes them.

Run: python3 crates/oakallow-domain/tests/golden/crosscheck.py
"""

import base64
import datetime
import decimal
import hashlib
import hmac
import json
import pathlib
import subprocess
import sys
import tempfile

try:  # The official Standard Webhooks library, when installed (CI installs it).
    import standardwebhooks.webhooks as standard_webhooks
except ImportError:
    standard_webhooks = None

HERE = pathlib.Path(__file__).resolve().parent
GENESIS = "0" * 64
I64_MIN, U64_MAX = -(2**63), 2**64 - 1
EXACT_FLOAT_LIMIT = 2.0**53
ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
# PRODUCT.md section 8: the payload's fields, in this order.
CLAIM_FIELDS = ["v", "alg", "kid", "jti", "org", "tool", "tenant", "resource", "method", "params_sha256", "src", "iat", "exp"]
BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def parse_json(text):
    """JSON text as serde_json reads it: integers outside i64/u64 become the nearest double."""

    def integer(literal):
        value = int(literal)
        return value if I64_MIN <= value <= U64_MAX else float(value)

    def no_constants(name):
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_int=integer, parse_constant=no_constants)


def string(text):
    """serde_json's minimal escaping: quote, backslash, and control characters."""
    return '"' + "".join(ESCAPES.get(c, f"\\u{ord(c):04x}" if ord(c) < 0x20 else c) for c in text) + '"'


def shortest_float(x):
    """serde_json's shortest form: the shortest digits that round-trip (Python's repr finds the
    same digits), laid out as ryu does: fixed notation while the decimal point falls at most 16
    digits right or 5 places left of the digits, else d.ddde±x."""
    sign, digits, exponent = decimal.Decimal(repr(abs(x))).normalize().as_tuple()
    digits = "".join(map(str, digits))
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


def number(x):
    if isinstance(x, int):
        return str(x)
    if x == int(x) and abs(x) < EXACT_FLOAT_LIMIT:
        return str(int(x))
    return shortest_float(x)


def canonical(value):
    """DECISIONS.md: keys sorted by code point at every depth, no whitespace, integral numbers
    as integers."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return number(value)
    if isinstance(value, str):
        return string(value)
    if isinstance(value, list):
        return "[" + ",".join(canonical(v) for v in value) + "]"
    return "{" + ",".join(string(k) + ":" + canonical(value[k]) for k in sorted(value)) + "}"


def sha256_hex(text):
    return hashlib.sha256(text.encode()).hexdigest()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def ed25519(seed, message):
    """(public key, signature) from openssl, with the seed wrapped as a PKCS#8 key."""
    der = bytes.fromhex("302e020100300506032b657004220420") + seed
    with tempfile.TemporaryDirectory() as tmp:
        key, msg, sig = (pathlib.Path(tmp) / n for n in ("key.der", "msg", "sig"))
        key.write_bytes(der)
        msg.write_bytes(message)
        run = ["openssl", "pkeyutl", "-sign", "-rawin", "-keyform", "DER", "-inkey", key, "-in", msg, "-out", sig]
        subprocess.run(run, check=True)
        public = subprocess.run(["openssl", "pkey", "-inform", "DER", "-in", key, "-pubout", "-outform", "DER"], check=True, capture_output=True)
        return public.stdout[-32:], sig.read_bytes()


class Report:
    def __init__(self):
        self.failures = 0

    def expect(self, where, expected, computed):
        if expected != computed:
            self.failures += 1
            print(f"DIFFERS {where}\n  file:     {expected!r}\n  computed: {computed!r}")


def load(name):
    return parse_json((HERE / name).read_text(encoding="utf-8"))


def check_canonical(report):
    data = load("canonical_json.json")
    report.expect("absent params", data["absent_params_sha256"], sha256_hex("{}"))
    for v in data["vectors"]:
        text = canonical(parse_json(v["input"]))
        report.expect(f"canonical {v['name']}", v["canonical"], text)
        report.expect(f"params_sha256 {v['name']}", v["params_sha256"], sha256_hex(text))


def entry_text(record, seq, prev_hash):
    return canonical({**record, "seq": seq, "prev_hash": prev_hash})


def check_activity(report):
    data = load("activity_entry.json")
    for v in data["entries"]:
        text = entry_text(v["record"], v["seq"], v["prev_hash"])
        report.expect(f"entry {v['name']} text", v["canonical_without_hash"], text)
        report.expect(f"entry {v['name']} hash", v["hash"], sha256_hex(v["prev_hash"] + text))
    prev = GENESIS
    for seq, v in enumerate(data["chain"], start=1):
        report.expect(f"chain {seq} prev_hash", v["prev_hash"], prev)
        prev = sha256_hex(prev + entry_text(v["record"], seq, prev))
        report.expect(f"chain {seq} hash", v["hash"], prev)


def payload(claims):
    return "{" + ",".join(string(k) + ":" + canonical(claims[k]) for k in CLAIM_FIELDS) + "}"


def check_tokens(report):
    data = load("execution_token.json")
    for v in data["tokens"]:
        claims = v["claims"]
        report.expect(f"token {v['name']} params_sha256", claims["params_sha256"], sha256_hex(canonical(v["params"])))
        segment = b64url(payload(claims).encode())
        secret = bytes.fromhex(v["secret_hex"])
        if claims["alg"] == "hmac-sha256":
            signature = hmac.new(secret, segment.encode(), hashlib.sha256).digest()
        else:
            public, signature = ed25519(secret, segment.encode())
            report.expect(f"token {v['name']} public key", v["public_key"], b64url(public))
        report.expect(f"token {v['name']} text", v["token"], f"oak_tok_{segment}.{b64url(signature)}")


def check_webhooks(report):
    data = load("webhook_signature.json")
    for v in data["deliveries"]:
        secret, body, ts = v["secret"], v["body"].encode(), str(v["timestamp"])
        mac = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        report.expect(f"webhook {v['name']} oakallow", v["x_oakallow_signature"], f"sha256={mac}")
        key = base64.b64decode(secret.removeprefix("whsec_"))
        content = f"{v['event_id']}.{ts}.".encode() + body
        mac = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
        report.expect(f"webhook {v['name']} standard", v["webhook_signature"], f"v1,{mac}")
        if standard_webhooks:
            sent_at = datetime.datetime.fromtimestamp(v["timestamp"], tz=datetime.timezone.utc)
            signed = standard_webhooks.Webhook(secret).sign(v["event_id"], sent_at, v["body"])
            report.expect(f"webhook {v['name']} by the standardwebhooks library", v["webhook_signature"], signed)


def check_references(report):
    data = load("approval_reference.json")
    for v in data["references"]:
        bits = int.from_bytes(bytes.fromhex(v["bytes_hex"]), "big")
        chars = "".join(BASE32[(bits >> (5 * i)) & 0x1F] for i in range(12))
        report.expect(f"reference {v['bytes_hex']}", v["reference"], f"REF-{chars[:8]}-{chars[8:]}")


def main():
    report = Report()
    for check in (check_canonical, check_activity, check_tokens, check_webhooks, check_references):
        check(report)
    print("golden vectors: every value recomputed" if not report.failures else f"{report.failures} values differ")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
