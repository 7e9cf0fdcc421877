"""The admission policy evaluated, not read: its CEL runs under cel-python over admission requests
as the API server would hand them over (issue 23: #26).

Kubernetes, ValidatingAdmissionPolicy (API reference, Validation.expression): "CEL expressions
have access to the contents of the API request/response, organized into CEL variables":
"'object' - The object from the incoming request. The value is null for DELETE requests.
'oldObject' - The existing object. The value is null for CREATE requests. 'request' -
Attributes of the API request". The binding's ``validationActions``: "Deny: Validation failure
results in a denied request." A policy acts only on requests its ``matchConstraints`` and the
binding's ``matchResources`` both match, and only when every ``matchConditions`` expression is true.

Kueue (``tasks/run/plain_pods.md``, v0.19.2): "Kueue injects the `kueue.x-k8s.io/admission`
scheduling gate to the Pods that Kueue is managing. Once the corresponding Workload is admitted,
Kueue will patch the pods and remove this scheduling gate." Whoever else lifts it runs the pod
outside every quota.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import celpy

from gpufleet.catalog import load_catalog
from tests.kubernetes.test_queues import matches, objects

KUEUE = load_catalog().kubernetes.kueue
GATE = KUEUE.admission_gate
CONTROLLER = f"system:serviceaccount:{load_catalog().kubernetes.charts['kueue'].namespace}:{KUEUE.controller_service_account}"
TENANT_USER = "alice@example.com"
EXPRESSION_KEYS = ("expression", "messageExpression", "valueExpression")
"""Where the admissionregistration API takes CEL: validations, matchConditions, variables,
auditAnnotations."""


def pod(namespace: str, *gates: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "main", "image": "trainer:1"}]}
    if gates:
        spec["schedulingGates"] = [{"name": gate} for gate in gates]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "job-0", "namespace": namespace}, "spec": spec}


def request(operation: str, user: str, namespace: str, old: dict | None, new: dict | None) -> dict[str, Any]:
    """The CEL activation of one pod request (``request`` as AdmissionRequest carries it)."""
    return {
        "request": {
            "operation": operation,
            "namespace": namespace,
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "userInfo": {"username": user, "groups": ["system:authenticated"]},
        },
        "object": new,
        "oldObject": old,
    }


def evaluate(expression: str, activation: Mapping[str, Any]) -> Any:
    environment = celpy.Environment()
    return environment.program(environment.compile(expression)).evaluate(celpy.json_to_cel(dict(activation)))


def holds(expression: str, activation: Mapping[str, Any]) -> bool:
    """True or false; anything else (an evaluation error) fails the test, not the request."""
    outcome = evaluate(expression, activation)
    assert isinstance(outcome, celpy.celtypes.BoolType), (expression, outcome)
    return bool(outcome)


def rule_matches(constraints: Mapping[str, Any], activation: Mapping[str, Any]) -> bool:
    """``matchConstraints.resourceRules`` as the API server reads them, for a core-group request."""
    asked = activation["request"]
    return any(
        asked["operation"] in rule["operations"]
        and asked["resource"]["group"] in rule["apiGroups"]
        and asked["resource"]["version"] in rule["apiVersions"]
        and asked["resource"]["resource"] in rule["resources"]
        for rule in constraints["resourceRules"]
    )


def admitted(result, activation: Mapping[str, Any]) -> bool:
    """Every bound policy that matches the request: denied when one of its validations is false."""
    policies = objects(result, "ValidatingAdmissionPolicy")
    namespace = {"kubernetes.io/metadata.name": activation["request"]["namespace"]}
    for binding in objects(result, "ValidatingAdmissionPolicyBinding").values():
        policy = policies[binding["spec"]["policyName"]]["spec"]
        constraints = policy["matchConstraints"]
        if not rule_matches(constraints, activation):
            continue
        selectors = [binding["spec"].get("matchResources", {}).get("namespaceSelector"), constraints.get("namespaceSelector")]
        if not all(selector is None or matches(selector, namespace) for selector in selectors):
            continue
        if not all(holds(condition["expression"], activation) for condition in policy.get("matchConditions", ())):
            continue
        failed = [v for v in policy["validations"] if not holds(v["expression"], activation)]
        if failed and "Deny" in binding["spec"]["validationActions"]:
            return False
    return True


def cel_in(value: Any) -> Iterator[str]:
    """Every CEL expression anywhere in a rendered object."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key in EXPRESSION_KEYS and isinstance(item, str):
                yield item
            else:
                yield from cel_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from cel_in(item)


def fixtures(tenant: str) -> dict[str, tuple[dict[str, Any], bool]]:
    """Named requests in a tenant namespace, each with whether the API server must admit it."""
    gated, lifted = pod(tenant, GATE), pod(tenant)
    return {
        "a tenant lifts Kueue's gate": (request("UPDATE", TENANT_USER, tenant, gated, lifted), False),
        "a tenant lifts it beside another gate": (
            request("UPDATE", TENANT_USER, tenant, pod(tenant, GATE, "x/y"), pod(tenant, "x/y")),
            False,
        ),
        "Kueue's controller lifts it": (request("UPDATE", CONTROLLER, tenant, gated, lifted), True),
        "a pod that never had the gate": (request("UPDATE", TENANT_USER, tenant, lifted, lifted), True),
        "an update that keeps it": (request("UPDATE", TENANT_USER, tenant, gated, gated), True),
        "a tenant creates a gated pod": (request("CREATE", TENANT_USER, tenant, None, gated), True),
    }


def test_only_kueue_lifts_its_gate_in_a_tenant_namespace(stack) -> None:
    """Each fixture request through the rendered policy and binding, evaluated: a tenant removing
    the gate is denied, Kueue's controller removing it is allowed, and so are updates that never
    touch it. In a namespace the stack does not list (kube-system, gpu-operator, kueue-system) the
    binding does not match, so the same removal is left to the cluster's other controls."""
    _, plan, result = stack
    tenants = sorted({*plan.queues.training, *plan.queues.inference, *plan.queues.lab})
    if not tenants:
        assert objects(result, "ValidatingAdmissionPolicy") == {}
        return
    for tenant in tenants:
        for name, (activation, allowed) in fixtures(tenant).items():
            assert admitted(result, activation) is allowed, (tenant, name)
    for outside in ("kube-system", "gpu-operator", "kueue-system", "default"):
        lifted = request("UPDATE", TENANT_USER, outside, pod(outside, GATE), pod(outside))
        assert admitted(result, lifted), outside


def test_every_cel_expression_rendered_compiles_and_yields_a_bool(stack) -> None:
    """The API server type-checks CEL when the policy is written and fails a request whose
    expression errors (``failurePolicy: Fail``). Every expression anywhere in the Kubernetes
    layer's objects (validations, matchConditions, messageExpression...) belongs to a policy,
    compiles under cel-python and gives a bool, never an error, on every fixture request the
    policy's ``matchConstraints`` let through (a DELETE, whose ``object`` is null, included)."""
    _, plan, result = stack
    everywhere = {expression for resource in result.resources for expression in cel_in(resource.inputs)}
    tenant = next(iter(sorted({*plan.queues.training, *plan.queues.inference, *plan.queues.lab})), "ml")
    requests = [activation for activation, _ in fixtures(tenant).values()]
    requests.append(request("DELETE", TENANT_USER, tenant, pod(tenant, GATE), None))
    evaluated = set()
    for policy in objects(result, "ValidatingAdmissionPolicy").values():
        let_through = [activation for activation in requests if rule_matches(policy["spec"]["matchConstraints"], activation)]
        assert let_through, policy["metadata"]["name"]
        for expression in cel_in(policy["spec"]):
            for activation in let_through:
                outcome = evaluate(expression, activation)
                assert isinstance(outcome, celpy.celtypes.BoolType), (expression, activation["request"], outcome)
            evaluated.add(expression)
    assert evaluated == everywhere
    assert bool(evaluated) == bool({*plan.queues.training, *plan.queues.inference, *plan.queues.lab})
