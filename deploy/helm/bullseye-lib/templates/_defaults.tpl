{{/*
Defaults every service chart shares, under its own values (which win). A service's
values.yaml holds only what is its own; values.schema.json documents these too.
*/}}

{{- define "bullseye-lib.defaults" -}}
enabled: true
image:
  tag: ""
  digest: ""
  pullPolicy: IfNotPresent
imagePullSecrets: []
config: {}
secretEnv: {}
secretFiles: []
volumes: []
cronJobs: {}
serviceAccount:
  create: true
  name: ""
  annotations: {}
podAnnotations: {}
podLabels: {}
nodeSelector: {}
tolerations: []
affinity: {}
securityContext:
  runAsUser: 10001
shutdown:
  drainDelaySeconds: 5
  graceSeconds: 20
  marginSeconds: 10
probes:
  startup: {periodSeconds: 2, timeoutSeconds: 2, failureThreshold: 60}
  readiness: {periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2}
  liveness: {periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3}
topologySpread:
  enabled: true
  maxSkew: 1
  topologyKeys: ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]
migration:
  enabled: true
  backoffLimit: 2
  activeDeadlineSeconds: 600
  resources:
    requests: {cpu: 100m, memory: 128Mi}
    limits: {cpu: 500m, memory: 256Mi}
networkPolicy:
  enabled: true
  callers: []
  scrapers:
    - namespaceSelector: {}
      podSelector:
        matchLabels:
          app.kubernetes.io/name: prometheus
  calls: []
  external: []
  nats: {port: 4222, to: []}
  postgres: {port: 5432, to: []}
  otlp: {enabled: false, port: 4317, to: []}
monitoring:
  serviceMonitor:
    enabled: false
    labels: {}
    interval: 30s
    scrapeTimeout: 10s
  prometheusRule:
    enabled: false
    labels: {}
  rules:
    errorRatio: 0.05
    latencyP99Ms: 250
    latencyExcludedMethods: ""
    streamStorageRatio: 0.8
    projection: false
    lagMessages: 10000
    staleSeconds: 30
    outbox: false
    outboxAgeSeconds: 60
{{- end -}}

{{- define "bullseye-lib.componentDefaults" -}}
replicas: 2
serves: true
env: {}
ordinalEnv: ""
countEnv: ""
autoscaling:
  enabled: false
  minReplicas: 2
  maxReplicas: 10
  targetCPUUtilizationPercentage: 70
pdb:
  maxUnavailable: 1
{{- end -}}

{{/* The chart's values over the defaults, set as .Values once, at the top of "bullseye-lib.all". */}}
{{- define "bullseye-lib.applyDefaults" -}}
{{- $merged := mergeOverwrite (include "bullseye-lib.defaults" . | fromYaml) (deepCopy .Values) -}}
{{- $components := dict -}}
{{- range $name, $c := $merged.components -}}
{{- $_ := set $components $name (mergeOverwrite (include "bullseye-lib.componentDefaults" $ | fromYaml) (deepCopy $c)) -}}
{{- end -}}
{{- $_ := set $merged "components" $components -}}
{{- $_ := set . "Values" $merged -}}
{{- end -}}
