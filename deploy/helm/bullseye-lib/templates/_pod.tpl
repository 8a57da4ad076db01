{{/*
The hardened pod (Pod Security "restricted", as Online Boutique's charts do): non-root,
read-only root file system (a writable /tmp only), no privilege escalation, every
capability dropped, the runtime's seccomp profile, no service account token. Probes are
kubelet's native gRPC probes against the standard health service every server has: a pod
is ready only while it says SERVING, and on SIGTERM it says NOT_SERVING first, waits
`<PREFIX>_DRAIN_DELAY` for endpoints to drop it, then drains its calls for up to
`<PREFIX>_SHUTDOWN_GRACE`; the termination grace period covers both, plus a margin.
*/}}

{{- define "bullseye-lib.terminationGrace" -}}
{{- add .Values.shutdown.drainDelaySeconds .Values.shutdown.graceSeconds .Values.shutdown.marginSeconds -}}
{{- end -}}

{{- define "bullseye-lib.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsUser }}
fsGroup: {{ .Values.securityContext.runAsUser }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "bullseye-lib.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "bullseye-lib.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- range .Values.secretFiles }}
- name: {{ .name }}
  mountPath: {{ .mountPath }}
  readOnly: true
{{- end }}
{{- end -}}

{{/* The service's own storage (`volumes`): in its pods and CronJobs, not in the migration hook,
which runs before a claim the chart makes exists. */}}
{{- define "bullseye-lib.storageMounts" -}}
{{- range .Values.volumes }}
- name: {{ .name }}
  mountPath: {{ .mountPath }}
{{- end }}
{{- end -}}

{{- define "bullseye-lib.storageVolumes" -}}
{{- $root := . -}}
{{- range .Values.volumes }}
- name: {{ .name }}
  {{- if .claim }}
  persistentVolumeClaim:
    claimName: {{ include "bullseye-lib.componentName" (dict "root" $root "component" .name) }}
  {{- else }}
  {{- toYaml .source | nindent 2 }}
  {{- end }}
{{- end }}
{{- end -}}

{{- define "bullseye-lib.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- range .Values.secretFiles }}
- name: {{ .name }}
  secret:
    secretName: {{ .secret }}
    defaultMode: 0440
{{- end }}
{{- end -}}

{{/*
The claims the service's `volumes` ask the chart to make (recommendation's model storage).
Kept when the release is uninstalled (helm.sh/resource-policy: keep): they hold data.
*/}}
{{- define "bullseye-lib.claims" -}}
{{- $root := . -}}
{{- range .Values.volumes }}
{{- if .claim }}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: {{ include "bullseye-lib.componentName" (dict "root" $root "component" .name) }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "bullseye-lib.labels" $root | nindent 4 }}
  annotations:
    helm.sh/resource-policy: keep
spec:
  accessModes: {{ toJson (.claim.accessModes | default (list "ReadWriteMany")) }}
  {{- with .claim.storageClassName }}
  storageClassName: {{ . }}
  {{- end }}
  resources:
    requests:
      storage: {{ .claim.size }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "bullseye-lib.probe" -}}
grpc:
  port: {{ .port }}
periodSeconds: {{ .probe.periodSeconds }}
timeoutSeconds: {{ .probe.timeoutSeconds }}
failureThreshold: {{ .probe.failureThreshold }}
{{- end -}}

{{/* The service's container. (dict "root" . "name" $name "component" $c) */}}
{{- define "bullseye-lib.container" -}}
{{- $root := .root -}}
- name: {{ include "bullseye-lib.name" $root }}
  image: {{ include "bullseye-lib.image" $root }}
  imagePullPolicy: {{ $root.Values.image.pullPolicy }}
  args: ["serve"]
  ports:
    - name: grpc
      containerPort: {{ $root.Values.ports.grpc }}
      protocol: TCP
    - name: metrics
      containerPort: {{ $root.Values.ports.metrics }}
      protocol: TCP
  envFrom:
    - configMapRef:
        name: {{ include "bullseye-lib.fullname" $root }}
  env:
    - name: OTEL_SERVICE_NAME
      value: {{ include "bullseye-lib.name" $root }}
    {{- include "bullseye-lib.env" . | nindent 4 }}
  startupProbe:
    {{- include "bullseye-lib.probe" (dict "port" $root.Values.ports.grpc "probe" $root.Values.probes.startup) | nindent 4 }}
  readinessProbe:
    {{- include "bullseye-lib.probe" (dict "port" $root.Values.ports.grpc "probe" $root.Values.probes.readiness) | nindent 4 }}
  livenessProbe:
    {{- include "bullseye-lib.probe" (dict "port" $root.Values.ports.grpc "probe" $root.Values.probes.liveness) | nindent 4 }}
  resources:
    {{- toYaml (required (printf "components.%s.resources: requests and limits" .name) .component.resources) | nindent 4 }}
  securityContext:
    {{- include "bullseye-lib.containerSecurityContext" $root | nindent 4 }}
  volumeMounts:
    {{- include "bullseye-lib.volumeMounts" $root | nindent 4 }}
    {{- include "bullseye-lib.storageMounts" $root | nindent 4 }}
{{- end -}}

{{- define "bullseye-lib.topologySpread" -}}
{{- $root := .root -}}
{{- $component := .name -}}
{{- range $root.Values.topologySpread.topologyKeys }}
- maxSkew: {{ $root.Values.topologySpread.maxSkew }}
  topologyKey: {{ . }}
  whenUnsatisfiable: ScheduleAnyway
  labelSelector:
    matchLabels:
      {{- include "bullseye-lib.componentSelectorLabels" (dict "root" $root "component" $component) | nindent 6 }}
{{- end }}
{{- end -}}

{{/* The pod template of a component. (dict "root" . "name" $name "component" $c) */}}
{{- define "bullseye-lib.podTemplate" -}}
{{- $root := .root -}}
metadata:
  labels:
    {{- include "bullseye-lib.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .name }}
    {{- if .component.serves }}
    bullseye.dev/serves: "true"
    {{- end }}
    {{- with $root.Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    checksum/config: {{ include "bullseye-lib.configData" $root | sha256sum }}
    {{- with $root.Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "bullseye-lib.serviceAccountName" $root }}
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: {{ include "bullseye-lib.terminationGrace" $root }}
  securityContext:
    {{- include "bullseye-lib.podSecurityContext" $root | nindent 4 }}
  {{- with $root.Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  containers:
    {{- include "bullseye-lib.container" . | nindent 4 }}
  volumes:
    {{- include "bullseye-lib.volumes" $root | nindent 4 }}
    {{- include "bullseye-lib.storageVolumes" $root | nindent 4 }}
  {{- if $root.Values.topologySpread.enabled }}
  topologySpreadConstraints:
    {{- include "bullseye-lib.topologySpread" . | nindent 4 }}
  {{- end }}
  {{- with $root.Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $root.Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $root.Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}
