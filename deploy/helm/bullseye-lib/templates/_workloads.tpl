{{/*
One workload per component, shaped by how that part of the service scales:
- a Deployment for serving replicas (stateless; an HPA may scale it) and for candidates of
  a leadership (identity's resolver: several pods, one resolves, the others stand by);
- a StatefulSet for partition owners (profile's projection): each pod's share of the
  partitions derives from its ordinal (`ordinalEnv` gets the pod's name, `countEnv` the
  replica count), so N pods own every partition exactly once. Pods start in parallel: a
  share depends on the ordinal only, not on the other pods.
*/}}

{{- define "bullseye-lib.workload" -}}
{{- $root := .root -}}
{{- $c := .component -}}
{{- $stateful := eq $c.kind "StatefulSet" -}}
apiVersion: apps/v1
kind: {{ $c.kind }}
metadata:
  name: {{ include "bullseye-lib.componentName" (dict "root" $root "component" .name) }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "bullseye-lib.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .name }}
spec:
  {{- if not (and (not $stateful) $c.autoscaling.enabled) }}
  replicas: {{ $c.replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "bullseye-lib.componentSelectorLabels" (dict "root" $root "component" .name) | nindent 6 }}
  {{- if $stateful }}
  serviceName: {{ include "bullseye-lib.fullname" $root }}-pods
  podManagementPolicy: Parallel
  updateStrategy:
    type: RollingUpdate
  {{- else }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
  {{- end }}
  template:
    {{- include "bullseye-lib.podTemplate" . | nindent 4 }}
{{- end -}}

{{- define "bullseye-lib.hpa" -}}
{{- $root := .root -}}
{{- $scale := .component.autoscaling -}}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "bullseye-lib.componentName" (dict "root" $root "component" .name) }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "bullseye-lib.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .name }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: {{ .component.kind }}
    name: {{ include "bullseye-lib.componentName" (dict "root" $root "component" .name) }}
  minReplicas: {{ $scale.minReplicas }}
  maxReplicas: {{ $scale.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $scale.targetCPUUtilizationPercentage }}
  behavior:
    scaleDown:
      stabilizationWindowSeconds: 300
{{- end -}}

{{- define "bullseye-lib.pdb" -}}
{{- $root := .root -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "bullseye-lib.componentName" (dict "root" $root "component" .name) }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "bullseye-lib.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .name }}
spec:
  {{- if hasKey .component.pdb "minAvailable" }}
  minAvailable: {{ .component.pdb.minAvailable }}
  {{- else }}
  maxUnavailable: {{ .component.pdb.maxUnavailable | default 1 }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "bullseye-lib.componentSelectorLabels" (dict "root" $root "component" .name) | nindent 6 }}
{{- end -}}

{{/* Every component's workload, PodDisruptionBudget and (Deployments that ask) HPA. */}}
{{- define "bullseye-lib.workloads" -}}
{{- $root := . -}}
{{- range $name, $component := .Values.components }}
{{- if not (has $component.kind (list "Deployment" "StatefulSet")) }}
{{- fail (printf "components.%s.kind: Deployment or StatefulSet, not %v" $name $component.kind) }}
{{- end }}
---
{{ include "bullseye-lib.workload" (dict "root" $root "name" $name "component" $component) }}
---
{{ include "bullseye-lib.pdb" (dict "root" $root "name" $name "component" $component) }}
{{- if and $component.autoscaling.enabled (eq $component.kind "Deployment") }}
---
{{ include "bullseye-lib.hpa" (dict "root" $root "name" $name "component" $component) }}
{{- end }}
{{- end }}
{{- end -}}
