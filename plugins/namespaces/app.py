"""Team namespaces with labels, quotas and network isolation: a cairn
component in Python.

componentize-py maps wit/component.wit to the generated `wit_world`
package: records are dataclasses, variants are one class per case, and an
`err` result is raised as `componentize_py_types.Err`.
"""

import json

import wit_world
from componentize_py_types import Err
from wit_world.imports import host, types

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Config",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "namespaces": {
            "description": "Namespaces to create.",
            "type": "array",
            "default": [{"name": "apps"}],
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name"],
                "properties": {
                    "name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}, "default": {}},
                    "quota": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "cpu": {"type": "string"},
                            "memory": {"type": "string"},
                            "pods": {"type": "integer", "minimum": 1},
                        },
                    },
                    "isolate": {"type": "boolean", "default": True},
                },
            },
        },
    },
}

RESERVED = {"default", "kube-system", "kube-public", "kube-node-lease", "flux-system"}


class WitWorld(wit_world.WitWorld):
    def describe(self) -> types.Metadata:
        return types.Metadata(
            name="namespaces",
            version="0.2.0",
            title="Namespaces",
            description="Team namespaces with labels, quotas and network isolation.",
            category="platform",
            readme="Namespaces with labels, ResourceQuotas and default-deny NetworkPolicies.",
            config_schema=json.dumps(SCHEMA),
            provides=[types.FactDecl(key="namespaces.list", description="the namespaces created", required=False, wait=False)],
            # Only a label in a network policy: nothing to wait for.
            reads=[types.FactDecl(key="gateway.namespace", description="namespace of the gateway, whose proxies may reach the apps", required=False, wait=False)],
            crd_groups=[],
        )

    def facts(self, config: str) -> list[types.Fact]:
        names = [ns["name"] for ns in json.loads(config)["namespaces"]]
        return [types.Fact(key="namespaces.list", value=types.FactValue_Texts(names))]

    def render(self, config: str, facts: list[types.Fact]) -> types.RenderOutput:
        namespaces = json.loads(config)["namespaces"]
        problems = []
        seen = set()
        for i, ns in enumerate(namespaces):
            if ns["name"] in RESERVED:
                problems.append((f"namespaces[{i}].name", f"{ns['name']} is managed by Kubernetes or Flux; pick another name"))
            if ns["name"] in seen:
                problems.append((f"namespaces[{i}].name", f"{ns['name']} is listed twice"))
            seen.add(ns["name"])
        if problems:
            raise Err(types.RenderError_InvalidConfig([
                types.Diagnostic(severity=types.Severity.ERROR, message=message, field=field, file=None)
                for field, message in problems
            ]))
        gateway_ns = next((f.value.value for f in facts if f.key == "gateway.namespace"), "envoy-gateway-system")
        files = []
        for ns in namespaces:
            name = ns["name"]
            labels = {"app.kubernetes.io/managed-by": "cairn", **ns.get("labels", {})}
            docs = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}]
            quota = ns.get("quota")
            if quota:
                hard = {}
                if "cpu" in quota:
                    hard["limits.cpu"] = quota["cpu"]
                if "memory" in quota:
                    hard["limits.memory"] = quota["memory"]
                if "pods" in quota:
                    hard["pods"] = str(quota["pods"])
                docs.append({
                    "apiVersion": "v1",
                    "kind": "ResourceQuota",
                    "metadata": {"name": "quota", "namespace": name},
                    "spec": {"hard": hard},
                })
            if ns.get("isolate", True):
                docs.append({
                    "apiVersion": "networking.k8s.io/v1",
                    "kind": "NetworkPolicy",
                    "metadata": {"name": "isolate", "namespace": name},
                    "spec": {
                        "podSelector": {},
                        "policyTypes": ["Ingress"],
                        "ingress": [
                            {"from": [{"podSelector": {}}]},
                            {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": gateway_ns}}}]},
                        ],
                    },
                })
            files.append(types.File(path=f"{name}.yaml", content="---\n".join(to_yaml(d) for d in docs), layer=types.Layer.MAIN))
        host.log(host.Level.INFO, f"{len(files)} namespaces")
        return types.RenderOutput(files=files, diagnostics=[])


def to_yaml(value) -> str:
    """A small YAML writer for plain data: block style, strings quoted with
    JSON syntax (valid YAML) unless plainly safe."""
    return _emit(value, 0).lstrip("\n") + "\n"


def _emit(value, indent: int) -> str:
    pad = " " * indent
    if isinstance(value, list):
        if not value:
            return " []"
        out = ""
        for item in value:
            body = _emit(item, indent + 2)
            out += f"\n{pad}-" + (body if not isinstance(item, (dict, list)) else " " + body.lstrip("\n").lstrip())
        return out
    if isinstance(value, dict):
        if not value:
            return " {}"
        return "".join(f"\n{pad}{_scalar(k)}:{_emit(v, indent + 2)}" for k, v in value.items())
    return " " + _scalar(value)


def _scalar(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    s = str(value)
    safe = s and (s[0].isalpha() or s[0] in "_/.") and all(c.isalnum() or c in "_./-" for c in s)
    if safe and s.lower() not in {"true", "false", "null", "yes", "no", "on", "off"}:
        return s
    return json.dumps(s)
