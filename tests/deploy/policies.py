"""What every rendered workload must satisfy, written as checks that name what is wrong.

Pod Security "restricted" (kubernetes.io/docs/concepts/security/pod-security-standards):
non-root, no privilege escalation, every capability dropped, a RuntimeDefault seccomp
profile, no host namespaces, ports or paths, only ephemeral/secret/configMap volumes.
Bullseye's own on top: a read-only root file system, requests and limits, native gRPC
probes, a pinned image, a termination grace longer than the service's drain.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Manifest = dict[str, Any]
ALLOWED_VOLUMES = {"emptyDir", "secret", "configMap", "projected", "downwardAPI", "persistentVolumeClaim"}


def pod_of(workload: Manifest) -> Manifest:
    """The pod spec of a Deployment, StatefulSet, Job or CronJob."""
    spec = workload["spec"]["jobTemplate"]["spec"] if workload["kind"] == "CronJob" else workload["spec"]
    pod: Manifest = spec["template"]["spec"]
    return pod


def restricted(pod: Manifest) -> list[str]:
    """Where `pod` breaks Pod Security "restricted" or the read-only root rule."""
    found = [f"pod sets {key}" for key in ("hostNetwork", "hostPID", "hostIPC") if pod.get(key)]
    found += [f"volume {v['name']} is not ephemeral" for v in pod.get("volumes", []) if not ALLOWED_VOLUMES & v.keys()]
    for container in pod["containers"] + pod.get("initContainers", []):
        found += [f"{container['name']}: {problem}" for problem in _container_restricted(container, pod)]
    return found


def _container_restricted(container: Manifest, pod: Manifest) -> list[str]:
    own, inherited = container.get("securityContext", {}), pod.get("securityContext", {})
    capabilities = own.get("capabilities", {})
    seccomp = (own.get("seccompProfile") or inherited.get("seccompProfile") or {}).get("type")
    problems = {
        "runAsNonRoot is not set": not (own.get("runAsNonRoot") or inherited.get("runAsNonRoot")),
        "runs as user 0": 0 in (own.get("runAsUser"), inherited.get("runAsUser")),
        "allowPrivilegeEscalation is not false": own.get("allowPrivilegeEscalation") is not False,
        "privileged": bool(own.get("privileged")),
        "capabilities are not drop [ALL] with nothing added": capabilities.get("drop") != ["ALL"]
        or bool(capabilities.get("add")),
        f"seccompProfile is {seccomp}": seccomp not in ("RuntimeDefault", "Localhost"),
        "the root file system is writable": own.get("readOnlyRootFilesystem") is not True,
        "uses a host port": any("hostPort" in port for port in container.get("ports", [])),
    }
    return [problem for problem, broken in problems.items() if broken]


def container_rules(container: Manifest) -> list[str]:
    """Requests and limits for CPU and memory, and an image pinned to a version or digest."""
    found = []
    name, image = container["name"], container["image"]
    for bound in ("requests", "limits"):
        missing = {"cpu", "memory"} - set(container.get("resources", {}).get(bound, {}))
        if missing:
            found.append(f"{name}: no {bound} for {sorted(missing)}")
    tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else ""
    if "@sha256:" not in image and tag in ("", "latest"):
        found.append(f"{name}: image {image} is not pinned (tag {tag or 'missing'})")
    return found


def probe_rules(container: Manifest, grpc_port: int) -> list[str]:
    """Startup, readiness and liveness probes, each kubelet's native gRPC probe on the gRPC port."""
    found = []
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        spec = container.get(probe)
        if not spec or spec.get("grpc", {}).get("port") != grpc_port:
            found.append(f"{container['name']}: {probe} is not a gRPC probe on port {grpc_port}: {spec}")
    return found


def seconds(text: str) -> float:
    """'5s' / '20s' / '1m' as the services' config reads them (subset used by the charts)."""
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    for suffix in ("ms", "s", "m", "h"):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * units[suffix]
    return float(text)


def grace_rule(pod: Manifest, config: Mapping[str, str], prefix: str) -> list[str]:
    drain = seconds(config[f"{prefix}_DRAIN_DELAY"]) + seconds(config[f"{prefix}_SHUTDOWN_GRACE"])
    grace = pod.get("terminationGracePeriodSeconds", 30)
    return [] if grace > drain else [f"terminationGracePeriodSeconds {grace} is not above drain + grace {drain}"]


def selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())
