"""The container images, checked statically (no Docker engine runs here; README and
deploy/README.md say the images were not built): every service has a target on a pinned
base, its dependencies come from the lock file, the protobuf code is generated in the build,
the final stages run as a numeric non-root user with no build tools and carry OCI labels, and
no secret is baked in or sent as build context."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.deploy.dockerfile import Stage, instructions, lineage, stages

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "images" / "Dockerfile"
IGNORE = DOCKERFILE.with_name("Dockerfile.dockerignore")
SERVICES = sorted(p.parent.name for p in (ROOT / "services").glob("*/pyproject.toml"))
PINNED = re.compile(r"^[\w./-]+(:[\w.-]*\d+\.\d+\.\d+[\w.-]*)?(@sha256:[0-9a-f]{64})?$")
BUILD_TOOLS = re.compile(r"\b(pip install|uv (sync|pip)|apt-get install|gcc|make)\b")
SECRET_NAME = re.compile(r"(KEY|TOKEN|PASSWORD|SECRET|DATABASE_URL)", re.IGNORECASE)
OCI = ("version", "revision", "source", "title")


@pytest.fixture(scope="module")
def built() -> dict[str, Stage]:
    return stages(DOCKERFILE)


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_a_target_that_runs_it(built: dict[str, Stage], service: str) -> None:
    assert service in built, f"no target for services/{service}"
    entrypoint = json.loads(built[service].all("ENTRYPOINT")[-1])
    assert entrypoint == ["python", "-m", f"bullseye_{service}"]
    assert json.loads(built[service].all("CMD")[-1]) == ["serve"]


def test_every_base_image_is_pinned_to_an_exact_version_or_digest(built: dict[str, Stage]) -> None:
    external = {s.base for s in built.values() if s.base not in built}
    assert external, "no base image found"
    for base in external:
        assert PINNED.match(base) and ":" in base and "latest" not in base, f"{base} floats"


@pytest.mark.parametrize("service", SERVICES)
def test_dependencies_come_from_the_lock_file_without_dev_tools(built: dict[str, Stage], service: str) -> None:
    copied = [a for stage in lineage(built, service) for a in stage.all("COPY") if a.startswith("--from=")]
    [venv] = [a.split()[0].removeprefix("--from=") for a in copied]
    syncs = [a for stage in lineage(built, venv) for a in stage.all("RUN") if "uv sync" in a]
    assert any(f"--package bullseye-{service}" in a and "--frozen" in a and "--no-dev" in a for a in syncs), syncs
    sources = [a for stage in lineage(built, venv) for a in stage.all("COPY")]
    assert any("uv.lock" in a for a in sources), "the lock file is in the build"


def test_the_protobuf_code_is_generated_in_the_build(built: dict[str, Stage]) -> None:
    runs = [a for stage in built.values() for a in stage.all("RUN")]
    assert any("libs/proto/generate.py" in a and "--frozen" in a for a in runs)


@pytest.mark.parametrize("service", SERVICES)
def test_the_final_stage_runs_as_non_root_without_build_tools(built: dict[str, Stage], service: str) -> None:
    chain = lineage(built, service)
    users = [u for stage in chain for u in stage.all("USER")]
    assert users, "USER is set"
    uid = users[0].split(":")[0]  # the nearest stage's
    assert uid.isdigit() and int(uid) != 0, "a numeric uid: kubelet checks runAsNonRoot against it"
    for stage in chain:
        for run in stage.all("RUN"):
            assert not BUILD_TOOLS.search(run), f"{stage.name} installs build tools: {run}"
        for copy in stage.all("COPY"):
            assert copy.startswith("--from=venv-"), f"{stage.name} copies more than a virtual environment: {copy}"
    assert any("pip uninstall" in run for stage in chain for run in stage.all("RUN")), "pip is removed"


@pytest.mark.parametrize("service", SERVICES)
def test_the_image_carries_oci_labels(built: dict[str, Stage], service: str) -> None:
    labels = " ".join(label for stage in lineage(built, service) for label in stage.all("LABEL"))
    for key in OCI:
        assert f"org.opencontainers.image.{key}=" in labels


def test_no_secret_is_baked_in_and_none_is_sent_as_build_context() -> None:
    for keyword, args in instructions(DOCKERFILE.read_text()):
        if keyword in ("ENV", "ARG"):
            names = re.findall(r"(\w+)=", args) or [args.split("=")[0]]
            assert not [n for n in names if SECRET_NAME.search(n)], f"{keyword} {args}"
    rules = [line for line in IGNORE.read_text().splitlines() if line and not line.startswith("#")]
    assert rules[0] == "*", "everything is left out of the build context unless named"
    assert {"**/.env*", "**/*.pem", "**/*.key"} <= set(rules)
    assert not [rule for rule in rules if rule.startswith("!") and rule.strip("!/") in (".data", ".venv", ".uv")]
