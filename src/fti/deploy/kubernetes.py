"""Kubernetes manifests of an exported deployment, one file per object.

* ``configmap.yaml``: the container's ``fti.yaml``, mounted over the image's.
* ``deployment.yaml``: the server pods: resources, a readiness probe on ``/v2/health/ready`` (503 while a
  model version fails to load, so a bad version never gets traffic), liveness and startup probes on
  ``/v2/health/live``, rolling updates with no pod unavailable, a grace period longer than the server's
  own drain (requests in flight finish, the request log is flushed), secrets from ``<name>-secrets``.
* ``service.yaml``: a ClusterIP service on port 80.
* ``hpa.yaml``: a HorizontalPodAutoscaler on CPU and on requests per second per pod, the custom metric
  ``fti_requests_per_second`` (serve it from ``fti_requests_total`` with the Prometheus adapter; see
  docs/deployment.md).
* ``pdb.yaml``: a PodDisruptionBudget keeping one pod up through node drains.
* ``servicemonitor.yaml`` and ``prometheusrule.yaml``: the Prometheus Operator's scrape of ``/metrics``
  and alerts on the error rate, the p99 latency, and drift (the latest drift check failed).
* ``drift-cronjob.yaml``: runs ``fti monitor check NAME --fail-on-drift`` every hour; drift fails the job.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

import yaml

from fti.deploy.docker import USER_ID
from fti.errors import ValidationError

__all__ = ["KubernetesOptions", "manifests", "resource_name"]

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_PORT = 8080


@dataclass(frozen=True, slots=True)
class KubernetesOptions:
    """Sizes, scaling and alert thresholds of the Kubernetes target.

    Attributes:
        image: the image the pods run (build it from the export's Dockerfile and push it there).
        namespace: the namespace of every object, or None for the one ``kubectl`` uses.
        min_replicas: pods at least (also the Deployment's replicas).
        max_replicas: pods at most.
        cpu_request: CPU each pod asks for (``"500m"``).
        memory_request: memory each pod asks for (``"1Gi"``).
        cpu_limit: CPU each pod may use at most.
        memory_limit: memory each pod may use at most.
        target_cpu_percent: average CPU use (of the request) the autoscaler aims at.
        target_requests_per_second: requests per second per pod the autoscaler aims at.
        max_error_rate: the share of failed requests over 5 minutes that raises an alert.
        max_p99_latency_ms: the p99 latency over 5 minutes that raises an alert.
        drift_schedule: the cron schedule of the drift check.
    """

    image: str = ""
    namespace: str | None = None
    min_replicas: int = 2
    max_replicas: int = 10
    cpu_request: str = "500m"
    memory_request: str = "1Gi"
    cpu_limit: str = "2"
    memory_limit: str = "2Gi"
    target_cpu_percent: int = 70
    target_requests_per_second: int = 50
    max_error_rate: float = 0.05
    max_p99_latency_ms: float = 500.0
    drift_schedule: str = "0 * * * *"


def resource_name(deployment: str) -> str:
    """The Kubernetes name of a deployment's objects: ``fti-`` and the name, in lower case with dashes.

    Raises:
        ValidationError: the result is not a valid DNS label (at most 63 characters).
    """
    name = "fti-" + deployment.lower().replace("_", "-").replace(".", "-")
    if len(name) > 63 or not _DNS_LABEL.match(name):
        raise ValidationError(
            f"Deployment '{deployment}' becomes '{name}' in Kubernetes, which is not a valid name (lower-case "
            "letters, digits and '-', at most 63 characters): export a deployment with a shorter name."
        )
    return name


def manifests(deployment: str, project: str, config: str, options: KubernetesOptions) -> dict[str, str]:
    """File name -> YAML text of every object."""
    if options.min_replicas < 1 or options.max_replicas < options.min_replicas:
        raise ValidationError(
            f"Replicas {options.min_replicas}..{options.max_replicas} of deployment '{deployment}' must satisfy "
            "1 <= min <= max."
        )
    name = resource_name(deployment)
    labels = {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/component": "model-server",
        "app.kubernetes.io/part-of": re.sub(r"[^A-Za-z0-9_.-]", "-", project)[:63].strip("-_.") or "fti",
        "app.kubernetes.io/managed-by": "fti",
    }
    objects = {
        "configmap.yaml": _object("v1", "ConfigMap", f"{name}-config", labels, options, data={"fti.yaml": config}),
        "deployment.yaml": _deployment(name, labels, config, options),
        "service.yaml": _service(name, labels, options),
        "hpa.yaml": _autoscaler(name, labels, options),
        "pdb.yaml": _object(
            "policy/v1",
            "PodDisruptionBudget",
            name,
            labels,
            options,
            spec={"minAvailable": 1, "selector": {"matchLabels": _selector(labels)}},
        ),
        "servicemonitor.yaml": _service_monitor(name, labels, options),
        "prometheusrule.yaml": _rules(name, deployment, labels, options),
        "drift-cronjob.yaml": _drift_check(name, deployment, labels, options),
    }
    header = f"# {{kind}} of deployment '{deployment}' (written by `fti deployments export`)\n"
    return {
        file_name: header.format(kind=body["kind"]) + yaml.safe_dump(body, sort_keys=False)
        for file_name, body in objects.items()
    }


def _object(
    api_version: str, kind: str, name: str, labels: dict[str, str], options: KubernetesOptions, **body: Any
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "labels": labels}
    if options.namespace is not None:
        metadata["namespace"] = options.namespace
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, **body}


def _selector(labels: dict[str, str]) -> dict[str, str]:
    return {"app.kubernetes.io/name": labels["app.kubernetes.io/name"]}


def _container(name: str, options: KubernetesOptions) -> dict[str, Any]:
    def probe(path: str, period: int, failures: int) -> dict[str, Any]:
        return {"httpGet": {"path": path, "port": "http"}, "periodSeconds": period, "failureThreshold": failures}

    return {
        "name": "model-server",
        "image": options.image or f"{name}:latest",
        "ports": [{"name": "http", "containerPort": _PORT, "protocol": "TCP"}],
        "envFrom": [{"secretRef": {"name": f"{name}-secrets"}}],
        "resources": {
            "requests": {"cpu": options.cpu_request, "memory": options.memory_request},
            "limits": {"cpu": options.cpu_limit, "memory": options.memory_limit},
        },
        # loading models can take a while: liveness starts counting once the server answers at all
        "startupProbe": probe("/v2/health/live", 5, 60),
        "readinessProbe": probe("/v2/health/ready", 5, 2),
        "livenessProbe": probe("/v2/health/live", 10, 3),
        # let the endpoints drop the pod before it stops taking connections
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", "5"]}}},
        "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True, "runAsUser": USER_ID},
        "volumeMounts": [
            {"name": "config", "mountPath": "/app/fti.yaml", "subPath": "fti.yaml", "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }


def _deployment(name: str, labels: dict[str, str], config: str, options: KubernetesOptions) -> dict[str, Any]:
    checksum = hashlib.sha256(config.encode()).hexdigest()[:16]
    template = {
        "metadata": {"labels": labels, "annotations": {"fti.dev/config-sha256": checksum}},
        "spec": {
            "terminationGracePeriodSeconds": 45,  # the server drains for up to 30 s after the 5 s preStop
            "containers": [_container(name, options)],
            "volumes": [
                {"name": "config", "configMap": {"name": f"{name}-config"}},
                {"name": "tmp", "emptyDir": {}},
            ],
        },
    }
    spec = {
        "replicas": options.min_replicas,
        "selector": {"matchLabels": _selector(labels)},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
        "template": template,
    }
    return _object("apps/v1", "Deployment", name, labels, options, spec=spec)


def _service(name: str, labels: dict[str, str], options: KubernetesOptions) -> dict[str, Any]:
    spec = {
        "type": "ClusterIP",
        "selector": _selector(labels),
        "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
    }
    return _object("v1", "Service", name, labels, options, spec=spec)


def _autoscaler(name: str, labels: dict[str, str], options: KubernetesOptions) -> dict[str, Any]:
    spec = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
        "minReplicas": options.min_replicas,
        "maxReplicas": options.max_replicas,
        "metrics": [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": options.target_cpu_percent},
                },
            },
            {
                "type": "Pods",
                "pods": {
                    "metric": {"name": "fti_requests_per_second"},
                    "target": {"type": "AverageValue", "averageValue": str(options.target_requests_per_second)},
                },
            },
        ],
        "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}},
    }
    return _object("autoscaling/v2", "HorizontalPodAutoscaler", name, labels, options, spec=spec)


def _service_monitor(name: str, labels: dict[str, str], options: KubernetesOptions) -> dict[str, Any]:
    spec = {
        "selector": {"matchLabels": _selector(labels)},
        "endpoints": [{"port": "http", "path": "/metrics", "interval": "30s"}],
    }
    return _object("monitoring.coreos.com/v1", "ServiceMonitor", name, labels, options, spec=spec)


def _rules(name: str, deployment: str, labels: dict[str, str], options: KubernetesOptions) -> dict[str, Any]:
    job = f'job="{name}"'
    errors = f"sum(rate(fti_request_errors_total{{{job}}}[5m]))"
    answered = f"sum(rate(fti_requests_total{{{job}}}[5m]))"
    latency = f'sum by (le) (rate(fti_request_latency_seconds_bucket{{{job},deployment="{deployment}"}}[5m]))'
    drift = f'cronjob="{name}-drift"'
    prefix = "Fti" + "".join(part.capitalize() for part in re.split(r"[-_.]", deployment))
    rules = [
        {
            "alert": f"{prefix}HighErrorRate",
            "expr": f"{errors} / clamp_min({errors} + {answered}, 1e-9) > {options.max_error_rate:g}",
            "for": "5m",
            "labels": {"severity": "critical"},
            "annotations": {
                "summary": f"Deployment '{deployment}' fails more than {options.max_error_rate:.0%} of requests."
            },
        },
        {
            "alert": f"{prefix}HighP99Latency",
            "expr": f"histogram_quantile(0.99, {latency}) > {options.max_p99_latency_ms / 1000:g}",
            "for": "10m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": f"Deployment '{deployment}' answers its p99 in over {options.max_p99_latency_ms:g} ms."
            },
        },
        {
            "alert": f"{prefix}Drift",
            # the latest scheduled drift check has not succeeded (it found drift, or could not run)
            "expr": (
                f"kube_cronjob_status_last_schedule_time{{{drift}}}"
                f" > kube_cronjob_status_last_successful_time{{{drift}}}"
            ),
            "for": "30m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": f"The drift check of deployment '{deployment}' failed: see `fti monitor check {deployment}`."
            },
        },
    ]
    spec = {"groups": [{"name": name, "rules": rules}]}
    return _object("monitoring.coreos.com/v1", "PrometheusRule", name, labels, options, spec=spec)


def _drift_check(name: str, deployment: str, labels: dict[str, str], options: KubernetesOptions) -> dict[str, Any]:
    container = {
        "name": "drift-check",
        "image": options.image or f"{name}:latest",
        "command": ["fti", "monitor", "check", deployment, "--window", "1h", "--fail-on-drift", "--project", "/app"],
        "envFrom": [{"secretRef": {"name": f"{name}-secrets"}}],
        "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True, "runAsUser": USER_ID},
        "volumeMounts": [{"name": "config", "mountPath": "/app/fti.yaml", "subPath": "fti.yaml", "readOnly": True}],
    }
    # its own name: the service and the disruption budget select the server's pods by name
    pod_labels = {**labels, "app.kubernetes.io/name": f"{name}-drift", "app.kubernetes.io/component": "drift-check"}
    job = {
        "backoffLimit": 0,
        "template": {
            "metadata": {"labels": pod_labels},
            "spec": {
                "restartPolicy": "Never",
                "containers": [container],
                "volumes": [{"name": "config", "configMap": {"name": f"{name}-config"}}],
            },
        },
    }
    spec = {
        "schedule": options.drift_schedule,
        "concurrencyPolicy": "Forbid",
        "successfulJobsHistoryLimit": 1,
        "failedJobsHistoryLimit": 1,
        "jobTemplate": {"spec": job},
    }
    return _object("batch/v1", "CronJob", f"{name}-drift", labels, options, spec=spec)
