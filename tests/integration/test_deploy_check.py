"""The deployment artefacts stay in step with the settings classes (the one source of configuration names).

- `.env.example` documents every variable any service reads;
- each docker-compose.yml service passes on every variable its service reads, and nothing it does not
  (so a secret reaches only the service that needs it, and a misspelt name cannot hide);
- the Helm chart's ConfigMaps and Secret references name only variables the service reads (rendered with
  the helm binary that scripts/deploy-check.sh installs; skipped before the first deploy-check).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from imagebot_dispatcher.settings import DispatcherSettings
from imagebot_gateway.settings import GatewaySettings
from imagebot_imagegen.settings import ImagegenSettings

yaml = pytest.importorskip("yaml")

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SERVICES: dict[str, type[BaseSettings]] = {
    "gateway": GatewaySettings,
    "dispatcher": DispatcherSettings,
    "imagegen": ImagegenSettings,
}
# Read by the OpenTelemetry SDK, not by a settings class; every service gets them.
OTEL_PREFIX = "OTEL_"
# Deliberately never passed by Compose: its default (host name + pid) must differ per container.
NOT_IN_COMPOSE = {"INSTANCE_ID"}
HELM = ROOT / ".tools" / "deploy-venv" / "bin" / "helm"
CHART = ROOT / "deploy" / "helm" / "imagebot"


def variables(settings: type[BaseSettings]) -> set[str]:
    return {name.upper() for name in settings.model_fields}


def documented_in_env_example() -> set[str]:
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))


def compose_environment(service: str) -> set[str]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return set(compose["services"][service]["environment"])


def test_env_example_documents_every_variable_a_service_reads():
    documented = documented_in_env_example()
    for service, settings in SERVICES.items():
        missing = variables(settings) - documented
        assert not missing, f"{service} reads {sorted(missing)}, which .env.example does not document"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_compose_passes_every_variable_the_service_reads(service: str):
    missing = variables(SERVICES[service]) - NOT_IN_COMPOSE - compose_environment(service)
    assert not missing, f"docker-compose.yml does not pass {sorted(missing)} to {service}"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_compose_passes_nothing_the_service_does_not_read(service: str):
    unknown = {
        name for name in compose_environment(service) - variables(SERVICES[service]) if not name.startswith(OTEL_PREFIX)
    }
    assert not unknown, f"docker-compose.yml passes {sorted(unknown)} to {service}, which does not read them"


@pytest.mark.skipif(not HELM.exists(), reason="helm is installed by scripts/deploy-check.sh (make deploy-check)")
@pytest.mark.parametrize("values", sorted(p.name for p in (CHART / "ci").glob("*-values.yaml")))
def test_helm_gives_each_service_only_variables_it_reads(values: str, tmp_path: Path):
    env = {"HELM_CACHE_HOME": str(tmp_path), "HELM_CONFIG_HOME": str(tmp_path), "HELM_DATA_HOME": str(tmp_path)}
    rendered = subprocess.run(
        [str(HELM), "template", "imagebot", str(CHART), "-f", str(CHART / "ci" / values)],
        check=True,
        capture_output=True,
        text=True,
        env={**env, "KUBECONFIG": str(tmp_path / "none"), "PATH": "/usr/bin:/bin"},
    ).stdout
    documents = [doc for doc in yaml.safe_load_all(rendered) if doc]
    config_maps = {doc["metadata"]["name"]: doc.get("data", {}) for doc in documents if doc["kind"] == "ConfigMap"}
    for doc in documents:
        if doc["kind"] != "Deployment":
            continue
        service = doc["metadata"]["labels"]["app.kubernetes.io/component"]
        container = doc["spec"]["template"]["spec"]["containers"][0]
        names = {entry["name"] for entry in container.get("env", []) if not entry["name"].startswith("K8S_")}
        for source in container.get("envFrom", []):
            names |= set(config_maps[source["configMapRef"]["name"]])
        unknown = {name for name in names - variables(SERVICES[service]) if not name.startswith(OTEL_PREFIX)}
        assert not unknown, f"{values}: the chart gives {service} {sorted(unknown)}, which it does not read"
        assert variables(SERVICES[service]) & names >= {"NATS_URL", "LOG_LEVEL"}
