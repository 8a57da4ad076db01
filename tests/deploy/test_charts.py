"""The Helm charts, rendered by the real Helm engine with their default values and with the
production values file: valid Kubernetes objects, Pod Security "restricted" with a read-only
root, probes, limits, disruption budgets, default-deny network policies, migrations, and
workloads shaped by how each service scales. Wrong values fail at install, naming the value."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import promql_parser
import pytest

from tests.deploy.charts import (
    NAMESPACE,
    RELEASE,
    ROOT,
    SERVICES,
    Rendered,
    build,
    production_values,
    render,
)
from tests.deploy.policies import container_rules, grace_rule, pod_of, probe_rules, restricted, selects

KUBERNETES = "1.31.0"  # the oldest minor the charts are checked against (native gRPC probes: 1.27+)
OPERATOR_KINDS = {"ServiceMonitor", "PrometheusRule"}  # CRDs: no schema in kubernetes-validate
WORKLOADS = ("Deployment", "StatefulSet")
PREFIX = {
    "identity": "IDENTITY", "ingestion": "INGESTION", "profile": "PROFILE", "campaign": "CAMPAIGN",
    "recommendation": "RECOMMENDATION",
}  # fmt: skip
# Who calls whom: ingestion (data keys), profile and recommendation (Resolve) and campaign
# (contacts) call identity, identity records corrections through ingestion (AppendCorrections,
# docs/design.md D1), campaign asks profile about segments, traits and tags and recommendation
# for the items a template shows.
CALLEES = {"identity": {"ingestion"}, "ingestion": {"identity"}, "profile": {"identity"},
           "campaign": {"identity", "profile", "recommendation"}, "recommendation": {"identity"}}  # fmt: skip
CASES = [*((chart, "defaults") for chart in (*SERVICES, "bullseye")), ("bullseye", "production")]


@pytest.fixture(scope="module")
def charts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("charts"))


@pytest.fixture(scope="module", params=CASES, ids=[f"{c}-{v}" for c, v in CASES])
def rendered(charts: Path, request: pytest.FixtureRequest) -> Rendered:
    chart, values = request.param
    return render(charts, chart, production_values() if values == "production" else None)


def service_of(obj: dict[str, Any]) -> str:
    return str(obj["metadata"]["labels"]["app.kubernetes.io/name"])


def workloads(rendered: Rendered) -> list[dict[str, Any]]:
    return [o for o in rendered.objects if o["kind"] in WORKLOADS]


def test_every_object_is_valid_against_the_kubernetes_schemas(rendered: Rendered) -> None:
    kinds = set()
    for obj in rendered.objects:
        if obj["kind"] not in OPERATOR_KINDS:
            kubernetes_validate.validate(obj, KUBERNETES, strict=True)
            kinds.add(obj["kind"])
    expected = {"ConfigMap", "ServiceAccount", "Service", "Deployment", "PodDisruptionBudget", "NetworkPolicy", "Job"}
    assert expected <= kinds, f"missing {expected - kinds}"


def test_every_pod_meets_pod_security_restricted_with_a_read_only_root(rendered: Rendered) -> None:
    pods = [*workloads(rendered), *rendered.of_kind("Job")]
    assert pods
    for workload in pods:
        pod = pod_of(workload)
        assert restricted(pod) == [], workload["metadata"]["name"]
        assert pod["automountServiceAccountToken"] is False


def test_every_container_has_requests_limits_and_a_pinned_image(rendered: Rendered) -> None:
    for workload in [*workloads(rendered), *rendered.of_kind("Job")]:
        for container in pod_of(workload)["containers"]:
            assert container_rules(container) == [], workload["metadata"]["name"]


def test_every_workload_has_native_grpc_probes_and_a_grace_longer_than_its_drain(rendered: Rendered) -> None:
    for workload in workloads(rendered):
        service = service_of(workload)
        config = rendered.named("ConfigMap", f"{RELEASE}-{service}")["data"]
        [container] = pod_of(workload)["containers"]
        grpc_port = int(config[f"{PREFIX[service]}_GRPC_PORT"])
        assert probe_rules(container, grpc_port) == []
        assert grace_rule(pod_of(workload), config, PREFIX[service]) == []
        assert container["envFrom"] == [{"configMapRef": {"name": f"{RELEASE}-{service}"}}]


def test_every_workload_has_a_disruption_budget_and_spreads_over_zones_and_nodes(rendered: Rendered) -> None:
    budgets = rendered.of_kind("PodDisruptionBudget")
    for workload in workloads(rendered):
        labels = workload["spec"]["template"]["metadata"]["labels"]
        assert [b for b in budgets if selects(b["spec"]["selector"]["matchLabels"], labels)], workload["metadata"]
        spread = {c["topologyKey"] for c in pod_of(workload)["topologySpreadConstraints"]}
        assert spread == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}


def test_every_pod_is_under_a_default_deny_policy_that_opens_only_what_the_service_uses(rendered: Rendered) -> None:
    policies = rendered.of_kind("NetworkPolicy")
    for workload in [*workloads(rendered), *rendered.of_kind("Job")]:
        labels = workload["spec"]["template"]["metadata"]["labels"]
        [policy] = [p for p in policies if selects(p["spec"]["podSelector"]["matchLabels"], labels)]
        spec = policy["spec"]
        assert spec["policyTypes"] == ["Ingress", "Egress"], "both directions default to deny"
        assert {p["port"] for rule in spec["ingress"] for p in rule["ports"]} <= {"grpc", "metrics"}
        assert all(rule.get("from") for rule in spec["ingress"]), "no ingress rule admits everyone"
        egress = {p["port"] for rule in spec["egress"] for p in rule["ports"]}
        assert {53, 4222, 5432} <= egress, "DNS, NATS and PostgreSQL"
        peers = [peer for rule in spec["egress"] for peer in rule.get("to", [])]
        calls = {p["podSelector"]["matchLabels"].get("app.kubernetes.io/name") for p in peers if "podSelector" in p}
        calls.discard(None)  # DNS
        assert calls == CALLEES[service_of(workload)], "only the services it really calls"


def test_a_service_that_another_calls_admits_it(charts: Path) -> None:
    """Both ends of each call are open: the caller's egress and the callee's ingress (the
    umbrella, with default and production values)."""
    for rendered in (render(charts, "bullseye"), render(charts, "bullseye", production_values())):
        policies = {service_of(p): p["spec"] for p in rendered.of_kind("NetworkPolicy")}
        for caller, callees in CALLEES.items():
            labels = {"app.kubernetes.io/name": caller, "app.kubernetes.io/part-of": "bullseye"}
            for callee in callees:
                grpc_from = [
                    peer for rule in policies[callee]["ingress"] if {"port": "grpc", "protocol": "TCP"} in rule["ports"]
                    for peer in rule["from"]
                ]  # fmt: skip
                # A pod of the release's namespace: a podSelector alone (a namespaceSelector names others).
                same_namespace = [p["podSelector"] for p in grpc_from if p.keys() == {"podSelector"}]
                admitted = [s for s in same_namespace if selects(s.get("matchLabels", {}), labels)]
                assert admitted, f"{callee} does not admit calls from {caller}"


def test_each_service_migrates_in_a_job_before_install_and_upgrade(rendered: Rendered) -> None:
    services = {service_of(w) for w in workloads(rendered)}
    jobs = {service_of(j): j for j in rendered.of_kind("Job")}
    assert set(jobs) == services
    for job in jobs.values():
        assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
        [container] = pod_of(job)["containers"]
        assert container["args"] == ["migrate"]
        names = {e["name"] for e in container["env"]}
        assert {"NATS_URL", "DATABASE_URL"} <= names, "the whole environment: the config loads before migrating"


def test_credentials_come_from_existing_secrets_never_from_the_configmap(rendered: Rendered) -> None:
    for config in rendered.of_kind("ConfigMap"):
        leaked = [k for k in config["data"] if k == "DATABASE_URL" or re.search(r"(KEY|TOKEN|PASSWORD)$", k)]
        assert leaked == [], config["metadata"]["name"]
    for workload in workloads(rendered):
        [container] = pod_of(workload)["containers"]
        env = {e["name"]: e for e in container["env"]}
        assert "secretKeyRef" in env["DATABASE_URL"]["valueFrom"]
        if service_of(workload) == "identity":
            assert {"BULLSEYE_MASTER_KEY", "BULLSEYE_HASH_KEY"} <= env.keys()
            assert all("secretKeyRef" in env[k]["valueFrom"] for k in ("BULLSEYE_MASTER_KEY", "BULLSEYE_HASH_KEY"))


def test_serving_replicas_scale_with_an_hpa_and_partition_owners_and_resolvers_do_not(rendered: Rendered) -> None:
    scaled = {h["spec"]["scaleTargetRef"]["name"] for h in rendered.of_kind("HorizontalPodAutoscaler")}
    for workload in workloads(rendered):
        name, component = workload["metadata"]["name"], workload["metadata"]["labels"]["app.kubernetes.io/component"]
        assert (name in scaled) == (component == "serving"), name
        if name in scaled:
            assert "replicas" not in workload["spec"], "the HPA owns the replica count"


def test_profile_projection_is_a_statefulset_whose_pods_take_their_partitions_from_their_ordinal(
    charts: Path,
) -> None:
    profile = render(charts, "profile", {"components": {"projection": {"replicas": 4}}})
    [owners] = profile.of_kind("StatefulSet")
    [container] = pod_of(owners)["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["PROFILE_WORKER_ORDINAL"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert env["PROFILE_WORKER_COUNT"]["value"] == "4" and owners["spec"]["replicas"] == 4
    assert env["PROFILE_PROJECTION"]["value"] == "true"
    assert owners["spec"]["serviceName"] == f"{RELEASE}-profile-pods"
    [serving] = profile.of_kind("Deployment")
    assert {e["name"]: e.get("value") for e in pod_of(serving)["containers"][0]["env"]}["PROFILE_PROJECTION"] == "false"


def test_campaign_folds_its_streams_in_exactly_one_pod_and_serves_from_scaled_replicas(charts: Path) -> None:
    campaign = render(charts, "campaign")
    [folder] = campaign.of_kind("StatefulSet")
    [serving] = campaign.of_kind("Deployment")
    switch = {w["metadata"]["labels"]["app.kubernetes.io/component"]: {
        e["name"]: e.get("value") for e in pod_of(w)["containers"][0]["env"]} for w in (folder, serving)}  # fmt: skip
    assert folder["spec"]["replicas"] == 1 and switch["projection"]["CAMPAIGN_PROJECTION"] == "true"
    assert switch["serving"]["CAMPAIGN_PROJECTION"] == "false"
    [policy] = campaign.of_kind("NetworkPolicy")
    assert {587, 443} <= {p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]}, "relay, providers"


def test_identity_runs_resolver_candidates_that_never_serve_and_serving_replicas(charts: Path) -> None:
    identity = render(charts, "identity")
    by_component = {d["metadata"]["labels"]["app.kubernetes.io/component"]: d for d in identity.of_kind("Deployment")}
    resolver, serving = by_component["resolver"], by_component["serving"]
    switch = {
        c: {e["name"]: e.get("value") for e in pod_of(d)["containers"][0]["env"]} for c, d in by_component.items()
    }
    assert switch["resolver"]["IDENTITY_RESOLVER"] == "true" and switch["serving"]["IDENTITY_RESOLVER"] == "false"
    assert resolver["spec"]["replicas"] >= 2, "a standby takes over the leader's lock"
    assert "bullseye.dev/serves" not in resolver["spec"]["template"]["metadata"]["labels"]
    assert serving["spec"]["template"]["metadata"]["labels"]["bullseye.dev/serves"] == "true"
    service = identity.named("Service", f"{RELEASE}-identity")
    assert service["spec"]["selector"]["bullseye.dev/serves"] == "true"


def test_scheduled_batch_work_runs_as_a_hardened_cronjob_with_the_services_environment(charts: Path) -> None:
    resources = {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "2Gi"}}
    job = {"schedule": "0 3 * * *", "args": ["rebuild-something"], "resources": resources}
    rendered = render(charts, "profile", {"cronJobs": {"nightly": job}})
    [cron] = rendered.of_kind("CronJob")
    kubernetes_validate.validate(cron, KUBERNETES, strict=True)
    pod = pod_of(cron)
    assert restricted(pod) == [] and container_rules(pod["containers"][0]) == []
    assert pod["containers"][0]["args"] == ["rebuild-something"] and cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert "DATABASE_URL" in {e["name"] for e in pod["containers"][0]["env"]}
    [policy] = rendered.of_kind("NetworkPolicy")
    assert selects(
        policy["spec"]["podSelector"]["matchLabels"],
        cron["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"],
    )


def test_recommendation_trains_on_a_schedule_into_the_storage_its_pods_read(charts: Path) -> None:
    """The training CronJob and every recommendation pod mount the model storage the chart
    claims (ReadWriteMany: pods of several nodes); the migration hook, which runs before the
    claim exists, does not."""
    rendered = render(charts, "recommendation")
    [claim] = rendered.of_kind("PersistentVolumeClaim")
    kubernetes_validate.validate(claim, KUBERNETES, strict=True)
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep", "model versions outlive a release"
    [cron] = rendered.of_kind("CronJob")
    assert pod_of(cron)["containers"][0]["args"][:2] == ["train", "--publish"]
    for pod in [pod_of(cron), *(pod_of(w) for w in workloads(rendered))]:
        mounted = {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
        claims = {
            v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"] if "persistentVolumeClaim" in v
        }
        assert mounted["models"] == "/models" and claims["models"] == claim["metadata"]["name"]
    [migration] = rendered.of_kind("Job")
    assert "models" not in {v["name"] for v in pod_of(migration)["volumes"]}
    config = rendered.named("ConfigMap", f"{RELEASE}-recommendation")["data"]
    assert config["RECOMMENDATION_MODEL_DIR"] == "/models"


def test_the_umbrella_installs_each_service_only_when_enabled(charts: Path) -> None:
    without = render(charts, "bullseye", {"profile": {"enabled": False}})
    assert {service_of(w) for w in workloads(without)} == {"identity", "ingestion", "campaign", "recommendation"}
    config = without.named("ConfigMap", f"{RELEASE}-ingestion")["data"]
    assert config["INGESTION_IDENTITY_ADDRESS"] == f"{RELEASE}-identity:50052", "values may use templates"
    assert config["NATS_URL"] == "nats://nats.nats.svc:4222", "global config reaches every service"


def test_monitoring_objects_scrape_every_pod_once_and_their_rules_parse(charts: Path) -> None:
    production = render(charts, "bullseye", production_values())
    monitors = production.of_kind("ServiceMonitor")
    assert {service_of(m) for m in monitors} == set(SERVICES)
    for monitor in monitors:
        selector = monitor["spec"]["selector"]["matchLabels"]
        [pods] = [s for s in production.of_kind("Service") if selects(selector, s["metadata"]["labels"])]
        assert pods["spec"]["clusterIP"] == "None" and monitor["spec"]["jobLabel"] == "app.kubernetes.io/name"
    rules = [r for rule in production.of_kind("PrometheusRule") for g in rule["spec"]["groups"] for r in g["rules"]]
    assert {r["alert"] for r in rules} >= {
        "BullseyeConsumerLagGrowing", "BullseyeRpcErrorRatio", "BullseyeRpcLatencyP99", "BullseyeOutboxBacklog",
        "BullseyeDeadLetters", "BullseyeStreamStorageNearLimit", "BullseyeIdentityNoResolver",
        "BullseyeCampaignDeliveryFailures", "BullseyeCampaignGuardrailTripped", "BullseyeCampaignJobLaneSaturated",
    }  # fmt: skip
    for rule in rules:
        promql_parser.parse(rule["expr"])
        assert f'namespace="{NAMESPACE}"' in rule["expr"], rule["alert"]
        assert rule["labels"]["severity"] in ("warning", "critical")


@pytest.mark.parametrize("values", [None, "production"])
def test_the_charts_pass_helm_lint(charts: Path, values: str | None) -> None:
    for chart in ("bullseye-lib", *SERVICES, "bullseye"):
        chosen = production_values() if values and chart == "bullseye" else None
        report = helm.lint(charts / chart, chosen, strict=True, kube_version=f"v{KUBERNETES}")
        problems = [m for m in report["messages"] if m["severity"] >= 2]
        assert (problems, report["errors"]) == ([], []), chart


@pytest.mark.parametrize(
    ("chart", "values", "named"),
    [
        ("ingestion", {"config": {"INGESTION_PARTITONS": 8}}, "INGESTION_PARTITONS"),
        ("ingestion", {"config": {"INGESTION_PARTITIONS": "sixteen"}}, "/config/INGESTION_PARTITIONS"),
        ("identity", {"config": {"BULLSEYE_MASTER_KEY": "c2VjcmV0"}}, "BULLSEYE_MASTER_KEY"),
        ("profile", {"config": {"DATABASE_URL": "postgresql://u:p@db/x"}}, "DATABASE_URL"),
        ("profile", {"config": {"PROFILE_PROJECTION": "false"}}, "PROFILE_PROJECTION"),
        ("profile", {"components": {"projectoin": {"kind": "StatefulSet"}}}, "projectoin"),
        ("identity", {"secretEnv": {"BULLSEYE_HASH_KEY": {"name": ""}}}, "/secretEnv/BULLSEYE_HASH_KEY/name"),
        ("ingestion", {"image": {"tag": "latest"}}, "/image/tag"),
        ("bullseye", {"profile": {"config": {"PROFILE_BATCH_SIZE": 1.5}}}, "PROFILE_BATCH_SIZE"),
    ],
    ids=["typo", "type", "secret-as-config", "dsn-as-config", "set-by-chart", "component", "secret-ref", "latest",
         "umbrella"],
)  # fmt: skip
def test_wrong_values_fail_at_install_naming_the_value(
    charts: Path, chart: str, values: dict[str, Any], named: str
) -> None:
    with pytest.raises(helm.HelmError) as refused:
        render(charts, chart, values)
    assert named in str(refused.value)


def test_the_committed_values_schemas_are_generated_from_the_services_config() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bullseye_devtools.charts", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    "module",
    ["bullseye_ingestion", "bullseye_identity", "bullseye_profile", "bullseye_campaign", "bullseye_recommendation"],
)
def test_every_variable_named_like_a_credential_is_declared_secret(module: str) -> None:
    described = subprocess.run([sys.executable, "-m", module, "config", "--json"], capture_output=True, text=True)
    variables = json.loads(described.stdout)
    credentials = [v for v in variables if re.search(r"(_KEY|_TOKEN|PASSWORD|SECRET|DATABASE_URL)$", v)]
    assert credentials, "each service has at least its DATABASE_URL"
    assert [v for v in credentials if not variables[v]["x-secret"]] == []
