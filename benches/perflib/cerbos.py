"""Cerbos, the peer: installed from npm (pinned) into a cache under `target/`, run locally with
audit and telemetry off, on disk storage holding ONE resource policy equivalent to the rule set.

The encoding, chosen to give Cerbos its best chance: the rules are data, 16 constant maps (one per
rule level, keyed by the level's names joined with `|`), plus a map of disabled tools and one of
each tool's fallback answer (its default, else its category's, else approved → allowed, else
requires_approval). One variable, `decision`, walks the gate, the levels in oakallow's order and
the fallback, with at most 18 map lookups; two rules turn it into the effect (ALLOW only for
`allowed`) and output the three-valued answer and the deciding level. A call sends the four names
as resource attributes (an absent one as ""). The answers are compared with oakallow's reference
resolver before any load is sent."""

import json
import os
import subprocess

from . import procs
from .rules import DIMENSIONS, LEVELS

VERSION = "0.55.0"
PACKAGE = "@cerbos/cerbos-linux-x64"
KIND = "tool_call"


def install(cache_dir):
    """Installs the pinned package with npm once; returns the server binary."""
    binary = os.path.join(cache_dir, "node_modules", "@cerbos", "cerbos-linux-x64", "cerbos-linux-x64")
    marker = os.path.join(cache_dir, "node_modules", "@cerbos", "cerbos-linux-x64", "package.json")
    if os.path.exists(binary) and os.path.exists(marker) and json.load(open(marker)).get("version") == VERSION:
        return binary
    os.makedirs(cache_dir, exist_ok=True)
    with open(os.path.join(cache_dir, "package.json"), "w") as f:
        json.dump({"private": True, "description": "Cerbos for benches/perf.py"}, f)
    subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", "--no-save", f"{PACKAGE}@{VERSION}"],
                   cwd=cache_dir, check=True)
    return binary


def _key_expr(used):
    return ' + "|" + '.join(f"R.attr.{d}" for d, u in zip(DIMENSIONS, used) if u)


def policy_yaml(rule_set):
    """The resource policy (JSON is valid YAML)."""
    constants = {"disabled": {name: True for name, tool in rule_set.tools.items() if not tool["enabled"]}}
    constants["fallback"] = {name: " ".join(rule_set.fallback(tool)) for name, tool in rule_set.tools.items()}
    steps = ['R.attr.tool in C.disabled ? "disabled tool_disabled"']
    for index, (name, *used) in enumerate(LEVELS):
        entries = {"|".join(v for v in scope if v is not None): permission
                   for scope, permission in rule_set.rules.items()
                   if tuple(v is not None for v in scope) == tuple(used)}
        if not entries:
            continue
        constants[f"l{index}"] = entries
        key = _key_expr(used)
        steps.append(f'({key}) in C.l{index} ? C.l{index}[{key}] + " {name}"')
    steps.append('R.attr.tool in C.fallback ? C.fallback[R.attr.tool] : "requires_approval fail_safe"')
    decision = " :\n".join(steps)
    rule = lambda name, effect, condition: {  # noqa: E731
        "name": name, "actions": ["call"], "effect": effect, "roles": ["*"],
        "condition": {"match": {"expr": condition}}, "output": {"when": {"ruleActivated": "V.decision"}},
    }
    policy = {
        "apiVersion": "api.cerbos.dev/v1",
        "resourcePolicy": {
            "resource": KIND,
            "version": "default",
            "constants": {"local": constants},
            "variables": {"local": {"decision": decision}},
            "rules": [rule("allowed", "EFFECT_ALLOW", 'V.decision.startsWith("allowed ")'),
                      rule("not_allowed", "EFFECT_DENY", '!V.decision.startsWith("allowed ")')],
        },
    }
    return json.dumps(policy, indent=1)


def check_body(request, request_id="bench"):
    """The `POST /api/check/resources` body asking about one oakallow check request."""
    attr = {d: request.get(d) or "" for d in DIMENSIONS}
    return {"requestId": request_id, "principal": {"id": "agent", "roles": ["agent"]},
            "resources": [{"actions": ["call"], "resource": {"kind": KIND, "id": "call", "attr": attr}}]}


def answer(response):
    """(permission, resolved_from) from a Cerbos response."""
    result = response["results"][0]
    outputs = [o["val"] for o in result.get("outputs", [])]
    if len(outputs) != 1:
        raise RuntimeError(f"Cerbos gave {len(outputs)} outputs: {result}")
    permission, step = outputs[0].split(" ")
    effect = result["actions"]["call"]
    if (effect == "EFFECT_ALLOW") != (permission == "allowed"):
        raise RuntimeError(f"Cerbos effect {effect} disagrees with its output {outputs[0]}")
    return permission, step


class Server:
    """The Cerbos PDP on free loopback ports, with its policy written to `work_dir`."""

    def __init__(self, binary, rule_set, work_dir, log):
        policies = os.path.join(work_dir, "policies")
        os.makedirs(policies, exist_ok=True)
        with open(os.path.join(policies, "tool_call.yaml"), "w") as f:
            f.write(policy_yaml(rule_set))
        self.port = procs.free_port()
        config = os.path.join(work_dir, "cerbos.yaml")
        with open(config, "w") as f:
            f.write(_config(self.port, procs.free_port(), policies))
        argv = [binary, "server", f"--config={config}", "--log-level=warn",
                f"--debug-listen-addr=127.0.0.1:{procs.free_port()}"]
        self.child = procs.Child("cerbos", argv, env=dict(os.environ, CERBOS_NO_TELEMETRY="1"), log=log)
        procs.wait_until(lambda: procs.health_ok(self.port, "/_cerbos/health"), "Cerbos to answer its health check",
                         self.child, timeout=180, interval=0.05)

    def check(self, request):
        status, body = procs.request(self.port, "POST", "/api/check/resources", check_body(request))
        if status != 200:
            raise RuntimeError(f"Cerbos answered {status}: {body}")
        return answer(body)

    def stop(self):
        self.child.stop()


def _config(http_port, grpc_port, policies):
    return f"""server:
  httpListenAddr: "127.0.0.1:{http_port}"
  grpcListenAddr: "127.0.0.1:{grpc_port}"
storage:
  driver: disk
  disk:
    directory: "{policies}"
    watchForChanges: false
audit:
  enabled: false
telemetry:
  disabled: true
"""
