"""The deterministic rule set of the benchmarks, the requests sent to it, and a reference
resolver (PRODUCT.md section 3) that the servers' answers are compared with.

Sizes follow QUALITY.md: 100 tenants, 200 tools, 50 resources, 10 methods, N rules spread over
the rule levels. The `org_wildcard` level gets no rule: its single possible rule would answer
every call and no fallback (`tool_default`, `category_default`, `tool_approved`, `fail_safe`)
could ever decide; the other 15 levels and the 4 fallbacks are all reached by the requests."""

import random

TENANTS = [f"tenant{i:03d}" for i in range(100)]
TOOLS = [f"tool{i:03d}" for i in range(200)]
RESOURCES = [f"resource{i:02d}" for i in range(50)]
METHODS = [f"method{i}" for i in range(10)]
CATEGORIES = [f"category{i}" for i in range(5)]
PERMISSIONS = ["allowed", "requires_approval", "disabled"]

# The 16 rule levels in resolution order: (name, tenant, resource, tool, method).
LEVELS = [
    (f"{'tenant' if tenant else 'org'}_{shape}", tenant, r, t, m)
    for tenant in (True, False)
    for shape, r, t, m in [
        ("resource_tool_method", True, True, True), ("resource_tool", True, True, False),
        ("tool_method", False, True, True), ("tool", False, True, False),
        ("resource_method", True, False, True), ("resource", True, False, False),
        ("method", False, False, True), ("wildcard", False, False, False),
    ]
]
DIMENSIONS = ("tenant", "resource", "tool", "method")
_NAMES = {"tenant": TENANTS, "resource": RESOURCES, "tool": TOOLS, "method": METHODS}

# At most this share of a level's possible scopes gets a rule, so that less specific levels and
# the fallbacks are still reached.
_LEVEL_SHARE = {"tenant_wildcard": 0.3, "tenant_method": 0.1, "tenant_resource": 0.05, "tenant_tool": 0.5,
                "org_resource_method": 0.1, "org_tool": 0.2, "org_resource": 0.2, "org_method": 0.3,
                "org_tool_method": 0.3, "org_resource_tool": 0.5, "org_wildcard": 0.0}


def _capacity(level):
    _, tenant, r, t, m = level
    size = 1
    for used, dimension in zip((tenant, r, t, m), DIMENSIONS):
        size *= len(_NAMES[dimension]) if used else 1
    return int(size * _LEVEL_SHARE.get(level[0], 1.0))


def _shares(count):
    """Rules per level: as even as the caps allow (water filling)."""
    caps = [_capacity(level) for level in LEVELS]
    shares = [0] * len(LEVELS)
    left = count
    while left > 0:
        open_levels = [i for i in range(len(LEVELS)) if shares[i] < caps[i]]
        if not open_levels:
            raise ValueError(f"{count} rules do not fit the caps")
        each = max(1, left // len(open_levels))
        for i in open_levels:
            take = min(each, caps[i] - shares[i], left)
            shares[i] += take
            left -= take
    return shares


class RuleSet:
    """Tools, categories and `count` rules, all from `seed`."""

    def __init__(self, count, seed=20261130):
        rng = random.Random(seed)
        self.count = count
        self.categories = {name: rng.choice([None, "allowed", "requires_approval"]) for name in CATEGORIES}
        self.tools = {name: self._tool(rng, i) for i, name in enumerate(TOOLS)}
        self.rules = {}  # (tenant, resource, tool, method) with None for unused -> permission
        for level, share in zip(LEVELS, _shares(count)):
            self._fill(rng, level, share)

    @staticmethod
    def _tool(rng, index):
        return {
            "enabled": index % 50 != 7,  # 4 disabled tools
            "default_permission": rng.choice(PERMISSIONS) if rng.random() < 0.2 else None,
            "category": rng.choice(CATEGORIES) if rng.random() < 0.5 else None,
            "approved": rng.random() < 0.5,
        }

    def _fill(self, rng, level, share):
        _, *used = level
        added = 0
        while added < share:
            scope = tuple(rng.choice(_NAMES[d]) if u else None for u, d in zip(used, DIMENSIONS))
            if scope not in self.rules:
                self.rules[scope] = rng.choices(PERMISSIONS, weights=[6, 3, 1])[0]
                added += 1

    def document(self):
        """The policy document for `PUT /v1/policy`."""
        tools = []
        for name, tool in self.tools.items():
            spec = {"name": name, "approved": tool["approved"], "enabled": tool["enabled"]}
            if tool["category"]:
                spec["category"] = tool["category"]
            if tool["default_permission"]:
                spec["default_permission"] = tool["default_permission"]
            tools.append(spec)
        rules = [{**{d: v for d, v in zip(DIMENSIONS, scope) if v is not None}, "permission": permission}
                 for scope, permission in self.rules.items()]
        return {
            "version": 1,
            "categories": [{"name": n, **({"default_permission": p} if p else {})} for n, p in self.categories.items()],
            "tools": tools,
            "tenants": [{"external_id": t} for t in TENANTS],
            "resources": [{"name": r} for r in RESOURCES],
            "methods": [{"name": m} for m in METHODS],
            "rules": rules,
        }

    def resolve(self, request):
        """The reference answer: (permission, resolved_from)."""
        tool = self.tools.get(request["tool"])
        if tool and not tool["enabled"]:
            return "disabled", "tool_disabled"
        for name, tenant, r, t, m in LEVELS:
            needed = dict(zip(DIMENSIONS, (tenant, r, t, m)))
            if any(needed[d] and not request.get(d) for d in DIMENSIONS):
                continue
            scope = tuple(request.get(d) if needed[d] else None for d in DIMENSIONS)
            if scope in self.rules:
                return self.rules[scope], name
        return self.fallback(tool)

    def fallback(self, tool):
        """The answer when no rule matches: (permission, resolved_from)."""
        if tool is None:
            return "requires_approval", "fail_safe"
        if tool["default_permission"]:
            return tool["default_permission"], "tool_default"
        category_default = self.categories.get(tool["category"]) if tool["category"] else None
        if category_default:
            return category_default, "category_default"
        if tool["approved"]:
            return "allowed", "tool_approved"
        return "requires_approval", "fail_safe"

    def requests(self, count, seed=7):
        """`count` check requests: most aimed at a rule (its unused dimensions filled at random or
        left out), the rest random, a few naming an unknown tenant or tool."""
        rng = random.Random(seed)
        scopes = list(self.rules)
        out = []
        for _ in range(count):
            roll = rng.random()
            if roll < 0.7:
                base = dict(zip(DIMENSIONS, rng.choice(scopes)))
            else:
                base = {"tool": None}
            request = {}
            for d in DIMENSIONS:
                value = base.get(d)
                if value is None and (d == "tool" or rng.random() < 0.6):
                    value = rng.choice(_NAMES[d])
                if value is not None:
                    request[d] = value
            if roll > 0.97:
                request["tool"] = f"unregistered{rng.randrange(1000)}"
            elif roll > 0.94:
                request["tenant"] = f"unknown{rng.randrange(1000)}"
            out.append(request)
        return out
