"""schemathesis against the gateway's own OpenAPI schema (Litestar serves it at /schema/openapi.json).

The served schema names every route but declares no inputs (no body, headers or query parameters), so it is
fuzzed twice: as served, and with the inputs the routes really read (README "Gateway contract") declared, so
the generated cases reach the secret check, the body decoder and the Kie.ai signature check. Both runs use
schemathesis' positive and negative (schema-violating) generation. The property: no 5xx but the intended 503.
"""

from __future__ import annotations

import contextlib
import copy
from collections import Counter
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from hypothesis.strategies import SearchStrategy
from schemathesis import GenerationMode

from tests.integration.security.conftest import CALLBACK_TOKEN, SECRET_HEADER, WEBHOOK_SECRET, HostileTarget

pytestmark = pytest.mark.integration

EXAMPLES_PER_OPERATION = 60
UPDATE_BODY = {
    "type": "object",
    "properties": {
        "update_id": {"type": "integer"},
        "message": {
            "type": "object",
            "properties": {
                "message_id": {"type": "integer"},
                "chat": {"type": "object", "properties": {"id": {"type": "integer"}, "type": {"type": "string"}}},
                "text": {"type": "string"},
            },
        },
    },
    "required": ["update_id"],
}
KIE_CALLBACK_BODY = {
    "type": "object",
    "properties": {
        "code": {"type": "integer"},
        "msg": {"type": "string"},
        "data": {"type": "object", "properties": {"taskId": {"type": "string"}, "state": {"type": "string"}}},
    },
}


def parameter(name: str, where: str, known: str | None = None) -> dict[str, Any]:
    """A string parameter; with `known`, positive cases carry that value and negative ones anything else."""
    schema: dict[str, Any] = {"type": "string"} if known is None else {"type": "string", "enum": [known]}
    return {"name": name, "in": where, "required": known is not None, "schema": schema}


def with_declared_inputs(served: dict[str, Any]) -> dict[str, Any]:
    """The served schema plus the headers, query parameters and JSON bodies the POST routes actually take; the
    secret header and the callback token hold the right values in positive cases (so those reach the body
    handling) and wrong ones in negative cases."""
    schema = copy.deepcopy(served)
    inputs = {
        "/webhook": ([parameter(SECRET_HEADER, "header", WEBHOOK_SECRET)], UPDATE_BODY),
        "/callbacks/kie": (
            [
                parameter("token", "query", CALLBACK_TOKEN),
                parameter("X-Webhook-Timestamp", "header"),
                parameter("X-Webhook-Signature", "header"),
            ],
            KIE_CALLBACK_BODY,
        ),
    }
    for path, (parameters, body) in inputs.items():
        # (the served schema declares the secret header; positive cases need its right value)
        operation = (
            schema["paths"].setdefault(path, {}).setdefault("post", {"responses": {"200": {"description": "ok"}}})
        )
        operation["parameters"] = parameters
        operation["requestBody"] = {"content": {"application/json": {"schema": body}}, "required": True}
    return schema


def configured(raw: dict[str, Any], base_url: str) -> schemathesis.BaseSchema:
    schema = schemathesis.openapi.from_dict(raw)
    schema.config.update(base_url=base_url)
    return schema


@pytest.fixture(scope="module")
def served_schema(hostile_target: HostileTarget) -> dict[str, Any]:
    response = httpx.get(f"{hostile_target.base_url}/schema/openapi.json", timeout=10)
    response.raise_for_status()
    return response.json()


FUZZ = settings(
    deadline=None, database=None, max_examples=EXAMPLES_PER_OPERATION, suppress_health_check=list(HealthCheck)
)


def fuzz_every_operation(schema: schemathesis.BaseSchema) -> dict[str, Counter[int]]:
    """Run each operation's positive and negative cases through hypothesis; the status codes seen, per operation.

    (Driven by hand rather than by `schemathesis.pytest.from_fixture`: schemathesis 4.32's lazy loader reads
    `request.node._nodeid`, which pytest 9 no longer has.)"""
    seen: dict[str, Counter[int]] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        seen[label] = Counter()
        run_cases(operation.as_strategy(generation_mode=GenerationMode.POSITIVE), label, seen[label])
        with contextlib.suppress(Unsatisfiable):  # an operation without inputs has no schema to violate
            run_cases(operation.as_strategy(generation_mode=GenerationMode.NEGATIVE), label, seen[label])
    return seen


def run_cases(cases: SearchStrategy[schemathesis.Case], label: str, codes: Counter[int]) -> None:
    @FUZZ
    @given(case=cases)
    def each(case: schemathesis.Case) -> None:
        response = case.call()
        codes[response.status_code] += 1
        assert response.status_code < 500 or response.status_code == 503, (
            f"{label} -> {response.status_code}: {response.text[:300]}"
        )

    each()


def test_the_served_schema_lists_the_webhook_the_kie_callback_and_every_probe(served_schema: dict[str, Any]):
    """Asserts: the OpenAPI document covers the webhook, the Kie callback and every probe/diagnostic route."""
    routes = {"/webhook", "/callbacks/kie", "/healthz", "/readyz", "/health", "/diag/webhook", "/diag/lock", "/metrics"}
    assert routes <= set(served_schema["paths"])
    webhook = served_schema["paths"]["/webhook"]["post"]
    assert {"200", "401", "413", "503"} <= set(webhook["responses"])
    assert [p["name"] for p in webhook["parameters"]] == ["X-Telegram-Bot-Api-Secret-Token"]


def test_every_route_of_the_served_schema_answers_without_a_server_error(
    hostile_target: HostileTarget, served_schema: dict[str, Any]
):
    """Injects: schemathesis cases, positive and negative, for each operation of the schema as served.
    Asserts: no answer is a 5xx other than 503; every operation was exercised."""
    seen = fuzz_every_operation(configured(served_schema, hostile_target.base_url))

    assert all(sum(codes.values()) for codes in seen.values()), seen


def test_every_route_with_its_real_inputs_declared_answers_without_a_server_error(
    hostile_target: HostileTarget, served_schema: dict[str, Any]
):
    """Injects: schemathesis cases, positive and negative, with the webhook (secret header, update body) and the
    Kie callback (token, signature headers, callback body) declared, so cases reach into the handlers.
    Asserts: no answer is a 5xx other than 503; the webhook and the callback answered more than one status
    (the generated cases got past the first refusal)."""
    seen = fuzz_every_operation(configured(with_declared_inputs(served_schema), hostile_target.base_url))
    print("\nstatus codes per operation:", {k: dict(v) for k, v in seen.items()})

    assert len(seen["POST /webhook"]) > 1 and len(seen["POST /callbacks/kie"]) > 1, seen


def test_the_gateway_survived_the_schema_fuzzing(hostile_target: HostileTarget):
    """Asserts: the same process still answers /healthz 200."""
    assert hostile_target.alive()
