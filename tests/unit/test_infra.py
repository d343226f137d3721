"""infra/ without Docker or a cluster: every YAML parses, the Helm chart lints and renders with Helm's own
engine (helm-python-sdk: Helm v4 as a library), values validate against values.schema.json, every
SWITCHBOARD_* name used is a real setting, compose services have healthchecks and matching ports, and the
Dockerfile is multi-stage, non-root and installs from constraints.txt.

Not checked here (needs Docker / a cluster): that the image builds and the pods start.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import helm_python as helm
import jsonschema
import pytest
import yaml
from pydantic import BaseModel

from hub.metrics import Metrics, StateGauges
from hub.runtime import chroma_config
from hub.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
CHART = INFRA / "helm" / "switchboard"
EXAMPLES = sorted((INFRA / "helm" / "examples").glob("*.yaml"))
NAME = re.compile(r"SWITCHBOARD_[A-Z0-9_]*[A-Z0-9]")
REQUIRED = {
    "database": {"url": "postgresql+asyncpg://sb:pw@db:5432/sb"},
    "redis": {"url": "redis://redis:6379/0"},
    "chroma": {"url": "http://chroma:8000"},
    "secrets": {"secretKeys": "a-fernet-key"},
}


def setting_names(model: type[BaseModel], prefix: str = "SWITCHBOARD_") -> Iterator[str]:
    """Every variable the Settings model reads: each field, and each nested field joined with ``__``."""
    for name, field in model.model_fields.items():
        variable = prefix + name.upper()
        yield variable
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from setting_names(annotation, variable + "__")


VALID_NAMES = frozenset(setting_names(Settings))


def exported_metric_names() -> set[str]:
    """Sample names /metrics can show, derived from the registry's metric families and their types."""
    metrics = Metrics()
    StateGauges(metrics.registry)
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
    return {family.name + suffix for family in metrics.registry.collect() for suffix in suffixes[family.type]}


def render(values: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The chart rendered by Helm's engine: template path -> its parsed manifests (empty ones dropped)."""
    with helm.Chart.load(str(CHART)) as chart:
        rendered: dict[str, str] = chart.render(values, name="sb", namespace="prod")
    return {
        path: [doc for doc in yaml.safe_load_all(text) if doc]
        for path, text in rendered.items()
        if path.endswith(".yaml")
    }


def manifests(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [doc for docs in render(values).values() for doc in docs]


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def example_values(path: Path) -> dict[str, Any]:
    values: dict[str, Any] = load_yaml(path)
    return values


# ---- every YAML file ------------------------------------------------------------------------------


def test_plain_yaml_files_parse() -> None:
    templates = CHART / "templates"
    plain = [p for p in INFRA.rglob("*.yaml") if templates not in p.parents]
    assert len(plain) >= 6  # compose, Chart, values, three examples
    for path in plain:
        assert list(yaml.safe_load_all(path.read_text())), path


def test_every_chart_template_renders_to_valid_kubernetes_yaml() -> None:
    templates = {f"switchboard/templates/{p.name}" for p in (CHART / "templates").glob("*.yaml")}
    rendered = render(REQUIRED | {"metrics": {"podMonitor": {"enabled": True}}})
    assert templates <= set(rendered)
    for path, docs in rendered.items():
        for doc in docs:
            assert {"apiVersion", "kind", "metadata"} <= set(doc), path
            assert doc["metadata"]["name"].startswith("sb-switchboard"), path


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_each_example_renders(example: Path) -> None:
    docs = manifests(example_values(example))
    kinds = {d["kind"] for d in docs}
    assert {"Deployment", "Service", "ConfigMap", "PodDisruptionBudget", "Job"} <= kinds


def test_helm_lint_reports_no_errors() -> None:
    result = helm.lint(str(CHART), values=REQUIRED, strict=True)
    assert result["errors"] == []
    assert [m for m in result["messages"] if m["severity"] >= 2] == []  # 2 = warning, 4 = error


def test_rendering_without_required_engines_fails_clearly() -> None:
    with pytest.raises(helm.HelmError, match=r"database\.url is required"):
        render({"chroma": {"url": "http://chroma:8000"}, "redis": REQUIRED["redis"]})


# ---- values.schema.json -----------------------------------------------------------------------------


def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((CHART / "values.schema.json").read_text())
    return loaded


@pytest.mark.parametrize("path", [CHART / "values.yaml", *EXAMPLES], ids=lambda p: str(p.relative_to(INFRA)))
def test_values_validate_against_the_schema(path: Path) -> None:
    jsonschema.Draft7Validator.check_schema(schema())
    jsonschema.validate(load_yaml(path), schema(), cls=jsonschema.Draft7Validator)


@pytest.mark.parametrize(
    "bad",
    [
        {"worker": {"autoscaling": {"mode": "redis-list"}}},
        {"database": {"url": "mysql://db/sb"}},
        {"api": {"port": 0}},
        {"config": {"extraEnv": {"NOT_OURS": "1"}}},
        {"typo": True},
    ],
)
def test_schema_rejects_bad_values(bad: dict[str, Any]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema(), cls=jsonschema.Draft7Validator)
    with helm.Chart.load(str(CHART)) as chart, pytest.raises(helm.HelmError):
        chart.validate_schema(bad)  # Helm itself refuses them too, before rendering anything


# ---- SWITCHBOARD_* names are real settings -----------------------------------------------------------


def test_setting_names_are_derived_from_the_model() -> None:
    expected = {"SWITCHBOARD_DATABASE_URL", "SWITCHBOARD_SLACK__SIGNING_SECRET", "SWITCHBOARD_OTEL__ENDPOINT"}
    assert expected <= VALID_NAMES
    assert "SWITCHBOARD_SLACK__NOPE" not in VALID_NAMES


def test_every_switchboard_name_in_infra_is_a_setting() -> None:
    suffixes = {".yaml", ".tpl", ".txt", ".example", ".md", ".json", ""}
    files = [p for p in INFRA.rglob("*") if p.is_file() and p.suffix in suffixes]
    used = {name for path in files for name in NAME.findall(path.read_text())}
    assert len(used) >= 15
    assert used - VALID_NAMES == set()


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_rendered_config_and_secret_keys_are_settings(example: Path) -> None:
    docs = manifests(example_values(example))
    keys = {k for d in by_kind(docs, "ConfigMap") + by_kind(docs, "Secret") for k in d.get("data") or {}}
    keys |= {k for d in by_kind(docs, "Secret") for k in d.get("stringData") or {}}
    assert keys and keys - VALID_NAMES == set()


# ---- compose -----------------------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = load_yaml(INFRA / "compose.yaml")
    return loaded


def test_compose_has_the_services_and_long_running_ones_have_healthchecks() -> None:
    services = compose()["services"]
    assert set(services) == {"api", "worker", "migrate", "postgres", "redis", "chroma"}
    for name, service in services.items():
        if name == "migrate":
            assert service["command"] == ["db", "upgrade"] and service["restart"] == "no"
            continue
        assert service["healthcheck"]["test"][0] == "CMD", name
    assert "/readyz" in " ".join(services["api"]["healthcheck"]["test"])
    assert services["worker"]["healthcheck"]["test"][1:] == ["switchboard", "worker", "--check"]
    for app in ("api", "worker"):
        assert services[app]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}


def test_compose_redis_is_append_only() -> None:
    command = compose()["services"]["redis"]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"


def listen_port(service: dict[str, Any], default: int) -> int:
    """The port a service's command line names, or the one of the config file it mounts and names."""
    command = [str(c) for c in service.get("command", [])]
    if "--port" in command:
        return int(command[command.index("--port") + 1])
    mounts: dict[str, str] = {}  # container path -> host path
    for volume in service.get("volumes", []):
        host, _, inside = str(volume).partition(":")
        mounts[inside.split(":")[0]] = host
    for argument in command:
        if argument in mounts and mounts[argument].startswith("./"):
            return int(load_yaml(INFRA / mounts[argument])["port"])
    return default


def test_compose_chroma_keeps_its_store_on_the_volume_with_the_collection_cache() -> None:
    chroma = compose()["services"]["chroma"]
    config = load_yaml(INFRA / "chroma.yaml")
    assert chroma["command"] == ["run", "/etc/chroma/chroma.yaml"]
    assert "chroma:/data" in chroma["volumes"] and config["persist_path"].startswith("/data/")
    assert config["collections_with_segments_provider"]["cache"]["lru"]["capacity"] > 0
    # the same cache settings as the Chroma server that `serve` starts
    cache = chroma_config(Path("/data/chroma"), 8000)["collections_with_segments_provider"]
    assert config["collections_with_segments_provider"] == cache


def test_compose_urls_point_at_services_on_the_ports_they_listen_on() -> None:
    services = compose()["services"]
    env = services["api"]["environment"]
    ports = {
        "postgres": 5432,
        "redis": listen_port(services["redis"], 6379),
        "chroma": listen_port(services["chroma"], 8000),
    }
    for variable, service in [
        ("SWITCHBOARD_DATABASE_URL", "postgres"),
        ("SWITCHBOARD_REDIS_URL", "redis"),
        ("SWITCHBOARD_CHROMA_URL", "chroma"),
    ]:
        url = urlsplit(env[variable].replace("${POSTGRES_PASSWORD:-switchboard}", "pw"))
        assert (url.hostname, url.port) == (service, ports[service]), variable
    for service in ("postgres", "redis", "chroma"):
        assert str(ports[service]) in " ".join(map(str, services[service]["healthcheck"]["test"]))


def test_compose_api_port_matches_its_command_mapping_and_healthcheck() -> None:
    api = compose()["services"]["api"]
    port = listen_port(api, 0)
    assert api["ports"][0].endswith(f":{port}")
    assert f"127.0.0.1:{port}/readyz" in " ".join(api["healthcheck"]["test"])


def test_compose_app_services_share_one_environment() -> None:
    services = compose()["services"]
    envs = [services[name]["environment"] for name in ("api", "worker", "migrate")]
    assert envs[0] == envs[1] == envs[2]
    assert envs[0]["SWITCHBOARD_SECRET_KEYS"].startswith("${SWITCHBOARD_SECRET_KEYS:?")


# ---- the chart's contents -------------------------------------------------------------------------


def container(docs: list[dict[str, Any]], kind: str, component: str) -> dict[str, Any]:
    component_of = "app.kubernetes.io/component"
    [doc] = [d for d in by_kind(docs, kind) if d["metadata"]["labels"][component_of] == component]
    containers: list[dict[str, Any]] = doc["spec"]["template"]["spec"]["containers"]
    return containers[0]


def test_api_has_probes_hpa_and_pdb() -> None:
    docs = manifests(REQUIRED)
    api = container(docs, "Deployment", "api")
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["args"][-1] == str(api["ports"][0]["containerPort"])
    assert api["resources"]["requests"] and api["resources"]["limits"]
    [hpa] = by_kind(docs, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "sb-switchboard-api"
    assert {p["metadata"]["name"] for p in by_kind(docs, "PodDisruptionBudget")} == {
        "sb-switchboard-api",
        "sb-switchboard-worker",
    }


def test_every_pod_runs_as_non_root_with_a_read_only_root() -> None:
    docs = manifests(REQUIRED)
    pods = [d["spec"]["template"]["spec"] for d in by_kind(docs, "Deployment") + by_kind(docs, "Job")]
    assert len(pods) == 3
    for pod in pods:
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
        assert pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True


def test_migration_job_is_a_helm_hook_running_db_upgrade() -> None:
    [job] = by_kind(manifests(REQUIRED), "Job")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,pre-upgrade"
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["db", "upgrade"]


def test_pods_read_the_rendered_config_and_secret() -> None:
    docs = manifests(REQUIRED)
    names = {d["metadata"]["name"] for d in by_kind(docs, "ConfigMap") + by_kind(docs, "Secret")}
    for kind, component in [("Deployment", "api"), ("Deployment", "worker"), ("Job", "migrate")]:
        refs = container(docs, kind, component)["envFrom"]
        assert {next(iter(r.values()))["name"] for r in refs} <= names


def test_existing_secret_is_used_instead_of_a_rendered_one() -> None:
    docs = manifests({"chroma": REQUIRED["chroma"], "secrets": {"existingSecret": "mine"}})
    assert by_kind(docs, "Secret") == []
    refs = container(docs, "Deployment", "api")["envFrom"]
    assert {"secretRef": {"name": "mine"}} in refs


def test_worker_scales_on_queue_depth_with_keda_prometheus_trigger() -> None:
    docs = manifests(REQUIRED | {"worker": {"autoscaling": {"mode": "keda"}}})
    [scaled] = by_kind(docs, "ScaledObject")
    [trigger] = scaled["spec"]["triggers"]
    assert trigger["type"] == "prometheus"
    query = trigger["metadata"]["query"]
    assert set(re.findall(r"switchboard_[a-z0-9_]+", query)) == {"switchboard_queue_depth"}
    assert "replicas" not in by_kind(docs, "Deployment")[1]["spec"]  # the scaler owns the replica count


def test_worker_hpa_external_metric_mode() -> None:
    docs = manifests(REQUIRED | {"worker": {"autoscaling": {"mode": "hpa-external"}}})
    hpas = by_kind(docs, "HorizontalPodAutoscaler")
    worker_hpa = [h for h in hpas if h["metadata"]["name"].endswith("worker")]
    assert worker_hpa[0]["spec"]["metrics"][0]["external"]["metric"]["name"] == "switchboard_queue_depth"


def test_metric_names_in_chart_and_examples_are_exported() -> None:
    exported = exported_metric_names()
    files = [*CHART.rglob("*.yaml"), *EXAMPLES]
    used = {m for p in files for m in re.findall(r"switchboard_[a-z0-9_]+", p.read_text())}
    assert "switchboard_queue_depth" in used
    assert used - exported == set()


# ---- Dockerfile --------------------------------------------------------------------------------------


def dockerfile() -> list[str]:
    text = (INFRA / "Dockerfile").read_text().replace("\\\n", " ")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def test_dockerfile_is_multi_stage_and_runs_as_non_root() -> None:
    lines = dockerfile()
    stages = [i for i, line in enumerate(lines) if line.startswith("FROM ")]
    assert len(stages) >= 2
    users = [line.split()[1] for line in lines[stages[-1] :] if line.startswith("USER ")]
    assert users, "the final stage sets no USER"
    assert users[-1].split(":")[0] not in {"0", "root"}
    assert any(line.startswith("COPY --from=build") for line in lines[stages[-1] :])


def test_dockerfile_installs_from_constraints_and_verifies_the_model() -> None:
    lines = dockerfile()
    installs = [line for line in lines if "pip install" in line]
    assert installs and all("-c constraints.txt" in line for line in installs)
    assert any(line.startswith("COPY") and "constraints.txt" in line for line in lines)
    assert any("MiniLMEmbedder()" in line for line in lines)  # the baked-in model is loaded at build time
    final_stage = lines[max(i for i, line in enumerate(lines) if line.startswith("FROM ")) :]
    assert not any("pip install" in line for line in final_stage)  # the runtime stage only copies the venv


# ---- Grafana -----------------------------------------------------------------------------------------


def test_grafana_dashboard_uses_only_exported_metrics() -> None:
    dashboard = json.loads((INFRA / "grafana" / "switchboard.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {m for e in exprs for m in re.findall(r"switchboard_[a-z0-9_]+", e)}
    exported = exported_metric_names()
    assert used - exported == set()
    wanted = {"switchboard_queue_depth", "switchboard_job_seconds_bucket", "switchboard_llm_cost_usd_total"}
    assert wanted <= used
