"""deploy/: what stands in for building and running the image, which CI cannot do here.

No Docker engine runs in CI and base images cannot be pulled. So: hadolint lints the
Dockerfile, kubernetes-validate checks every manifest against the Kubernetes API schemas
it ships, check-jsonschema checks the compose file against the Compose Specification
schema it vendors (the schema ``docker compose config`` applies), the wheel the image
installs is built and checked for completeness, and the pieces are checked against each
other (names, probes, commands, settings). tests/deploy/test_production.py runs the image's
command itself.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from service import settings
from service.ops import health
from service.thresholds.files import load_thresholds
from tests.support.paths import ROOT
from tests.support.production_server import DOCKERFILE, documented_command, image_command

DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
COMPOSE_FILE = DEPLOY / "docker-compose.yml"
BIN = Path(sys.executable).parent
# Oldest Kubernetes minor still commonly run, and the newest the package knows.
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
MIGRATE_COMMAND = ["flask", "--app", "service", "db", "upgrade"]

# Settings the manifests set that arrive with features not merged on this branch yet.
# When one lands, test_manifests_only_set_known_settings says to drop it from here.
PENDING_SETTINGS: set[str] = set()


# --- Dockerfile -------------------------------------------------------------------------


def hadolint(dockerfile: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "hadolint"), "--no-color", "--failure-threshold", "style", str(dockerfile)],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.integration
def test_dockerfile_passes_hadolint() -> None:
    result = hadolint(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.integration
def test_hadolint_really_lints(tmp_path: Path) -> None:
    sloppy = tmp_path / "Dockerfile"
    sloppy.write_text("FROM python:latest\nRUN apt-get update && apt-get install curl\n")
    result = hadolint(sloppy)
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # the :latest tag
    assert "DL3008" in result.stdout or "DL3015" in result.stdout


def stages() -> list[str]:
    text = DOCKERFILE.read_text(encoding="utf-8")
    return ["FROM " + part for part in re.split(r"^FROM ", text, flags=re.M)[1:]]


def test_image_is_multi_stage_slim_pinned_and_non_root() -> None:
    all_stages = stages()
    assert len(all_stages) >= 2
    for stage in all_stages:
        base = stage.split()[1]
        assert re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?", base), base
    final = all_stages[-1]
    users = re.findall(r"^USER (\S+)", final, re.M)
    assert users and users[-1].split(":")[0] not in {"0", "root"}
    # The final stage installs wheels only: no compilers, no package manager installs.
    assert not re.search(r"apt-get|apk add|gcc|build-essential", final)
    assert "--no-index" in final


def test_image_healthcheck_uses_python_not_curl() -> None:
    final = stages()[-1]
    check = re.search(r"^HEALTHCHECK [^\[]*?CMD (\[[^\]]*\])", final, re.M | re.S)
    assert check, "the final stage needs a HEALTHCHECK in exec form"
    assert json.loads(check.group(1)) == ["python", "-m", "service.ops.probe"]
    assert "curl" not in final and "wget" not in final


def test_everything_the_dockerfile_copies_exists() -> None:
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), f"Dockerfile copies missing {source}"


def test_image_command_is_the_documented_production_command() -> None:
    assert image_command() == ["gunicorn", "-c", "deploy/gunicorn.conf.py", "service:create_app()"]
    assert image_command() == documented_command()


def test_the_builder_stage_copies_every_source_the_package_is_built_from() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    sources = {"pyproject.toml", "README.md"} | set(
        project["tool"]["setuptools"]["package-dir"].values()
    )
    builder = stages()[0]
    copied = {
        source.rstrip("/")
        for line in builder.splitlines()
        if line.startswith("COPY ")
        for source in line.split()[1:-1]
    }
    assert sources <= copied, f"deploy/Dockerfile builder stage lacks {sources - copied}"


@pytest.mark.integration
def test_the_wheel_the_image_installs_carries_the_whole_service(tmp_path: Path) -> None:
    # The image runs from the wheel, not from the source tree: a subpackage or data file
    # missing from pyproject's package list would only show up in production.
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("mcas_cds-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        f"service/{path.relative_to(ROOT / 'service').as_posix()}"
        for path in (ROOT / "service").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    } | {
        f"service/cards/{path.relative_to(ROOT / 'cards').as_posix()}"
        for path in (ROOT / "cards").rglob("*")
        if path.is_file() and path.suffix in {".yaml", ".md"}
    } | {
        f"service/fhir_fixtures/{path.name}"
        for path in (ROOT / "fhir_fixtures").glob("*")
        if path.suffix in {".json", ".md"}
    }
    missing = sorted(expected - shipped)
    assert not missing, f"add to pyproject.toml packages / package-data: {missing}"


# --- Kubernetes -------------------------------------------------------------------------


def manifest_files() -> list[Path]:
    return sorted(p for p in KUBERNETES.glob("*.yaml") if p.name != "kustomization.yaml")


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def resources() -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for path in manifest_files():
        for doc in documents(path):
            found[(doc["kind"], doc["metadata"]["name"])] = doc
    return found


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_manifests_validate_against_the_kubernetes_api(version: str) -> None:
    for path in manifest_files():
        for doc in documents(path):
            kubernetes_validate.validate(doc, version, strict=True)


def test_validation_catches_a_misspelt_field() -> None:
    deployment = copy.deepcopy(resources()[("Deployment", "mcas-cds")])
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[-1], strict=True)


def test_kustomization_lists_every_manifest_but_the_secret_template() -> None:
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    assert listed == {p.name for p in manifest_files()} - {"secret.yaml"}
    assert all((KUBERNETES / name).is_file() for name in listed)


def test_every_kind_the_issue_asks_for_is_there() -> None:
    kinds = {kind for kind, _ in resources()}
    assert {
        "Deployment",
        "Service",
        "ConfigMap",
        "Secret",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
    } <= kinds


def pod_spec() -> dict[str, Any]:
    return resources()[("Deployment", "mcas-cds")]["spec"]["template"]["spec"]


def test_deployment_probes_resources_and_security() -> None:
    spec = pod_spec()
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] != 0
    assert spec["automountServiceAccountToken"] is False
    (container,) = spec["containers"]
    port = container["ports"][0]
    assert port["containerPort"] == 8080 and port["name"] == "http"
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    # The container runs the image's own command: the tested production command.
    assert "command" not in container and "args" not in container
    for each in spec["containers"] + spec["initContainers"]:
        resources_ = each["resources"]
        assert {"cpu", "memory"} <= set(resources_["requests"]) <= set(resources_["limits"])
        security = each["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"]["drop"] == ["ALL"]
        mounted = {mount["name"] for mount in each.get("volumeMounts", [])}
        assert mounted <= {volume["name"] for volume in spec["volumes"]}


def test_workers_follow_the_cpu_limit() -> None:
    (container,) = pod_spec()["containers"]
    env = resources()[("ConfigMap", "mcas-cds-env")]["data"]
    assert int(env["MCAS_WORKERS"]) == int(container["resources"]["limits"]["cpu"])


def test_writable_paths_are_volumes_on_a_read_only_root() -> None:
    (container,) = pod_spec()["containers"]
    env = {item["name"]: item["value"] for item in container["env"]}
    mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
    assert any(env["PROMETHEUS_MULTIPROC_DIR"].startswith(m + "/") for m in mounts)
    thresholds = Path(env["MCAS_THRESHOLDS_FILE"])
    assert str(thresholds.parent) in mounts


def test_references_between_manifests_resolve() -> None:
    found = resources()
    deployment = found[("Deployment", "mcas-cds")]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    spec = pod_spec()
    for each in spec["containers"] + spec["initContainers"]:
        for source in each.get("envFrom", []):
            if "configMapRef" in source:
                assert ("ConfigMap", source["configMapRef"]["name"]) in found
            if "secretRef" in source:
                assert ("Secret", source["secretRef"]["name"]) in found
    for volume in spec["volumes"]:
        if "configMap" in volume:
            assert ("ConfigMap", volume["configMap"]["name"]) in found
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= pod_labels.items()
    service = found[("Service", "mcas-cds")]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    pdb = found[("PodDisruptionBudget", "mcas-cds")]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    hpa = found[("HorizontalPodAutoscaler", "mcas-cds")]
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "mcas-cds",
    }
    assert hpa["spec"]["minReplicas"] >= 2  # one pod can go without an outage
    assert pdb["spec"]["maxUnavailable"] < hpa["spec"]["minReplicas"]


def test_migrations_run_before_the_service_starts() -> None:
    (migrate,) = pod_spec()["initContainers"]
    assert migrate["command"] == MIGRATE_COMMAND
    assert migrate["image"] == pod_spec()["containers"][0]["image"]
    env = resources()[("ConfigMap", "mcas-cds-env")]["data"]
    assert env["MCAS_DB_AUTO_MIGRATE"] == "never"


def test_secret_template_holds_placeholders_only() -> None:
    secret = resources()[("Secret", "mcas-cds")]
    assert "data" not in secret  # nothing base64-encoded to hide a real value in
    values = secret["stringData"]
    assert {"MCAS_DATABASE_URL", "MCAS_ADMIN_TOKEN", "MCAS_PATIENT_HASH_SALT"} <= set(values)
    for value in values.values():
        assert "REPLACE-ME" in value
    # Too short to pass start-up checks: an unchanged template cannot serve.
    assert len(values["MCAS_ADMIN_TOKEN"]) < 32 and len(values["MCAS_PATIENT_HASH_SALT"]) < 16


def configured_names() -> set[str]:
    found = resources()
    names = set(found[("ConfigMap", "mcas-cds-env")]["data"])
    names |= set(found[("Secret", "mcas-cds")]["stringData"])
    for each in pod_spec()["containers"] + pod_spec()["initContainers"]:
        names |= {item["name"] for item in each.get("env", [])}
    for service in yaml.safe_load(COMPOSE_FILE.read_text())["services"].values():
        environment = service.get("environment", {})
        names |= set(environment if isinstance(environment, dict) else [])
    return {name for name in names if name.startswith(settings.ENV_PREFIX)}


def test_manifests_only_set_known_settings() -> None:
    known = {setting.env for setting in settings.all_settings()}
    landed = PENDING_SETTINGS & known
    assert not landed, f"these settings exist now, drop them from PENDING_SETTINGS: {landed}"
    unknown = configured_names() - known - PENDING_SETTINGS
    assert not unknown, f"deploy/ sets settings the service does not have: {unknown}"


def test_thresholds_configmap_is_a_valid_thresholds_file(tmp_path: Path) -> None:
    data = resources()[("ConfigMap", "mcas-cds-thresholds")]["data"]
    path = tmp_path / "thresholds.yaml"
    path.write_text(data["thresholds.yaml"], encoding="utf-8")
    load_thresholds(path)
    bundled = ROOT / "cards" / "thresholds.yaml"
    assert yaml.safe_load(data["thresholds.yaml"]) == yaml.safe_load(bundled.read_text()), (
        "the ConfigMap should ship the bundled default thresholds"
    )


def test_trust_configmap_is_the_shipped_trust_template(tmp_path: Path) -> None:
    data = resources()[("ConfigMap", "mcas-cds-trust")]["data"]
    template = DEPLOY / "trust" / "trust.yaml"
    assert data["trust.yaml"] == template.read_text(encoding="utf-8")
    (container,) = pod_spec()["containers"]
    env = {item["name"]: item["value"] for item in container["env"]}
    assert Path(env["MCAS_TRUST_FILE"]).name == "trust.yaml"
    from service.auth.trust import load_trust_file

    issuers = load_trust_file(template)
    assert all("example" in iss for iss in issuers), "the template trusts no real issuer"


def test_init_container_gets_the_configuration_the_app_needs() -> None:
    # `flask --app service db upgrade` builds the app: same files and variables as serving.
    spec = pod_spec()
    (migrate,), (container,) = spec["initContainers"], spec["containers"]
    assert migrate["envFrom"] == container["envFrom"]
    names = {item["name"] for item in migrate["env"]}
    assert {"MCAS_THRESHOLDS_FILE", "MCAS_TRUST_FILE"} <= names
    assert [m for m in container["volumeMounts"] if m["name"] != "tmp"] == [
        m for m in migrate["volumeMounts"] if m["name"] != "tmp"
    ]


# --- docker compose ---------------------------------------------------------------------

COMPOSE_ENV = {
    "POSTGRES_PASSWORD": "compose-test-password",
    "MCAS_ADMIN_TOKEN": "compose-test-admin-token-0123456789abcdef",
    "MCAS_PATIENT_HASH_SALT": "compose-test-salt-0123456789",
}


def compose_schema_check(path: Path) -> subprocess.CompletedProcess[str]:
    """The Compose Specification's JSON schema (what `docker compose config` checks)."""
    return subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.integration
def test_compose_file_follows_the_compose_specification() -> None:
    result = compose_schema_check(COMPOSE_FILE)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.integration
def test_the_compose_schema_check_catches_a_misspelt_key(tmp_path: Path) -> None:
    broken = yaml.safe_load(COMPOSE_FILE.read_text())
    broken["services"]["cds"]["healthcheck"]["intreval"] = "5s"
    (tmp_path / "docker-compose.yml").write_text(yaml.safe_dump(broken))
    result = compose_schema_check(tmp_path / "docker-compose.yml")
    assert result.returncode != 0 and "intreval" in result.stdout


def test_compose_requires_every_secret_and_says_how_to_give_it() -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    required = set(re.findall(r"\$\{(\w+):\?", text))
    assert required == set(COMPOSE_ENV)
    header = "\n".join(line for line in text.splitlines() if line.startswith("#"))
    assert all(name in header for name in required)


def test_compose_wires_postgres_migrations_and_the_service() -> None:
    compose = yaml.safe_load(COMPOSE_FILE.read_text())
    services = compose["services"]
    db, migrate, cds = services["db"], services["migrate"], services["cds"]
    assert db["image"].startswith("postgres:") and "pg_isready" in db["healthcheck"]["test"]
    assert any(volume.endswith(":/var/lib/postgresql/data") for volume in db["volumes"])
    assert migrate["build"]["dockerfile"] == "deploy/Dockerfile"
    assert migrate["command"] == MIGRATE_COMMAND
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"
    assert cds["image"] == migrate["image"]
    assert "command" not in cds  # the image's command: the tested production command
    assert cds["depends_on"]["db"]["condition"] == "service_healthy"
    assert cds["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert cds["healthcheck"]["test"] == ["CMD", "python", "-m", "service.ops.probe"]
    assert cds["environment"]["MCAS_DATABASE_URL"].startswith("postgresql://")
    assert "@db:5432/" in cds["environment"]["MCAS_DATABASE_URL"]
    assert set(services) == {"db", "migrate", "cds"}
    assert cds["read_only"] is True and "/tmp" in cds["tmpfs"]
    for volume in cds["volumes"] + migrate["volumes"]:
        source = volume.split(":", 1)[0]
        assert (DEPLOY / source).exists(), f"compose mounts a missing {source}"
    for port in cds["ports"]:
        assert port.startswith("127.0.0.1:"), "publish on loopback; a TLS proxy faces out"


# --- the operations guide ---------------------------------------------------------------

OPERATIONS = ROOT / "docs" / "operations.md"


def test_operations_guide_names_only_real_settings_and_the_real_command() -> None:
    text = OPERATIONS.read_text(encoding="utf-8")
    known = {setting.env for setting in settings.all_settings()}
    named = set(re.findall(r"\bMCAS_[A-Z_]+\b", text))
    assert not named - known - PENDING_SETTINGS, named - known - PENDING_SETTINGS
    assert "(configuration.md)" in text
    assert 'gunicorn -c deploy/gunicorn.conf.py "service:create_app()"' in text
    assert " ".join(documented_command()) in text.replace('"', "")
    for path in re.findall(r"`(deploy/[\w./-]+)`", text):
        assert (ROOT / path).exists(), f"docs/operations.md names a missing {path}"
    for link in re.findall(r"\]\(([\w./-]+\.md)\)", text):
        assert (OPERATIONS.parent / link).is_file(), f"docs/operations.md links a missing {link}"


def test_build_context_lets_in_what_the_dockerfile_copies() -> None:
    rules = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules[0] == "*"
    allowed = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            for source in line.split()[1:-1]:
                assert source.rstrip("/") in allowed, f".dockerignore keeps out {source}"


# --- the configuration the manifests give is the configuration the service accepts -------


def kubernetes_environment(tmp_path: Path, secret: dict[str, str]) -> dict[str, str]:
    """The pod's MCAS_* environment, with its mounted files written under tmp_path."""
    found = resources()
    (container,) = pod_spec()["containers"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod_spec()["volumes"]}
    local: dict[str, Path] = {}
    for name, mount_path in mounts.items():
        target = tmp_path / name
        target.mkdir()
        local[mount_path] = target
        config_map = volumes[name].get("configMap")
        if config_map:
            for file_name, text in found[("ConfigMap", config_map["name"])]["data"].items():
                (target / file_name).write_text(text, encoding="utf-8")
    env = dict(found[("ConfigMap", "mcas-cds-env")]["data"])
    env.update(secret)
    env.update({item["name"]: item["value"] for item in container["env"]})
    for key, value in env.items():
        for mount_path, target in local.items():
            if value.startswith(mount_path + "/"):
                env[key] = str(target / value.removeprefix(mount_path + "/"))
    return env


def start_with(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    from service import create_app

    for key in list(os.environ):
        if key.startswith(settings.ENV_PREFIX):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    app = create_app()
    # Verification on and a client trusted: no "no CDS client is trusted" readiness check.
    assert not app.config["AUTH_DISABLED"]
    assert "trust" not in health.registry(app).checks
    # ...and the URL the EHR calls is configured, so tokens can pass (issue 17).
    with app.app_context():
        health.registry(app).checks["audience"]()


def test_the_pod_configuration_starts_the_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = dict(resources()[("Secret", "mcas-cds")]["stringData"])
    secret["MCAS_ADMIN_TOKEN"] = "a-real-administrator-token-0123456789"
    secret["MCAS_PATIENT_HASH_SALT"] = "a-real-patient-hash-salt-0123"
    # The database is opened on first use, not at start: the placeholder host is fine.
    start_with(monkeypatch, kubernetes_environment(tmp_path, secret))


@pytest.mark.parametrize("placeholder", ["MCAS_ADMIN_TOKEN", "MCAS_PATIENT_HASH_SALT"])
def test_an_unchanged_secret_template_stops_the_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, placeholder: str
) -> None:
    secret = {
        "MCAS_DATABASE_URL": "postgresql://mcas:pw@db.example.internal:5432/mcas",
        "MCAS_ADMIN_TOKEN": "a-real-administrator-token-0123456789",
        "MCAS_PATIENT_HASH_SALT": "a-real-patient-hash-salt-0123",
    }
    secret[placeholder] = resources()[("Secret", "mcas-cds")]["stringData"][placeholder]
    with pytest.raises(ValueError, match=placeholder):
        start_with(monkeypatch, kubernetes_environment(tmp_path, secret))


def test_the_compose_configuration_starts_the_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    for name in ("migrate", "cds"):
        environment = {**services["migrate"]["environment"], **services[name]["environment"]}
        env = {}
        for key, value in environment.items():
            if key == "<<" or not key.startswith(settings.ENV_PREFIX):
                continue
            # ${VAR:?...} and ${VAR:-default}: the exported secret, or the default.
            value = re.sub(
                r"\$\{(\w+):([?-])([^}]*)\}",
                lambda m: COMPOSE_ENV.get(m.group(1), m.group(3) if m.group(2) == "-" else ""),
                str(value),
            )
            env[key] = value
        env["MCAS_TRUST_FILE"] = str(DEPLOY / "trust" / "trust.yaml")
        if "MCAS_REPLAY_CACHE" in env:
            env["MCAS_REPLAY_CACHE"] = str(tmp_path / "replay-cache.sqlite3")
        env["MCAS_DATA_DIR"] = str(tmp_path)
        start_with(monkeypatch, env)


def test_operations_guide_lists_the_real_metrics_and_rejection_codes() -> None:
    from prometheus_client import REGISTRY

    from service.auth.rejections import REJECTION_CODES

    text = OPERATIONS.read_text(encoding="utf-8")
    exposed = {
        sample_name
        for family in REGISTRY.collect()
        if family.name.startswith("mcas_")
        for sample_name in (family.name, f"{family.name}_total")
    }
    documented = set(re.findall(r"`(mcas_[a-z_]+)`", text))
    assert documented <= exposed, documented - exposed
    codes_line = next(line for line in text.splitlines() if "reason codes:" in line)
    assert set(re.findall(r"`(\w+)`", codes_line)) == set(REJECTION_CODES)


def test_the_hpa_target_is_the_one_the_sizing_guide_derives() -> None:
    # Issue 18: docs/operations.md works out the target from the measured cost per chart;
    # the manifest must say the same number.
    hpa = resources()[("HorizontalPodAutoscaler", "mcas-cds")]
    (metric,) = hpa["spec"]["metrics"]
    target = metric["resource"]["target"]
    assert (metric["resource"]["name"], target["type"]) == ("cpu", "Utilization")
    guide = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    stated = re.search(r"HPA target: (\d+)% CPU", guide)
    assert stated is not None, "docs/operations.md states no HPA target"
    assert target["averageUtilization"] == int(stated.group(1))
    assert hpa["spec"]["minReplicas"] >= 2
