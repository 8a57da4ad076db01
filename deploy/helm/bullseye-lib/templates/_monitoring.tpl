{{/*
Prometheus Operator objects, each optional: a ServiceMonitor over the headless `-pods`
Service (every pod once; the job label is the service's name) and a PrometheusRule with
the alerts every service shares plus the chart's own (`<chart>.alerts`, a template each
service chart defines). The metric names are bullseye_platform.instruments'; tests/deploy
checks that every name used here is exported by the running services.
*/}}

{{- define "bullseye-lib.servicemonitor" -}}
{{- with .Values.monitoring.serviceMonitor }}
{{- if .enabled }}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "bullseye-lib.fullname" $ }}
  namespace: {{ $.Release.Namespace }}
  labels:
    {{- include "bullseye-lib.labels" $ | nindent 4 }}
    {{- with .labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  jobLabel: app.kubernetes.io/name
  namespaceSelector:
    matchNames: [{{ $.Release.Namespace }}]
  selector:
    matchLabels:
      {{- include "bullseye-lib.selectorLabels" $ | nindent 6 }}
      bullseye.dev/service-role: pods
  endpoints:
    - port: metrics
      path: /metrics
      interval: {{ .interval }}
      scrapeTimeout: {{ .scrapeTimeout }}
{{- end }}
{{- end }}
{{- end -}}

{{/* The label matchers of this service's series: its job (the ServiceMonitor's jobLabel) and namespace. */}}
{{- define "bullseye-lib.sel" -}}
job="{{ include "bullseye-lib.name" . }}",namespace="{{ .Release.Namespace }}"
{{- end -}}

{{- define "bullseye-lib.alertLabels" -}}
severity: {{ .severity }}
service: {{ include "bullseye-lib.name" .root }}
{{- end -}}

{{- define "bullseye-lib.commonAlerts" -}}
{{- $sel := include "bullseye-lib.sel" . -}}
{{- $r := .Values.monitoring.rules -}}
- alert: BullseyeTargetDown
  expr: up{ {{- $sel -}} } == 0
  for: 5m
  labels:
    {{- include "bullseye-lib.alertLabels" (dict "root" . "severity" "critical") | nindent 4 }}
  annotations:
    summary: "{{ include "bullseye-lib.name" . }}: a pod's metrics cannot be scraped"
    description: "{{ "{{ $labels.pod }}" }} did not answer the scrape for 5 minutes: crashed, not ready, or its metrics port is blocked."
- alert: BullseyeRpcErrorRatio
  expr: |-
    sum by (rpc_method) (rate(rpc_server_calls_total{ {{- $sel -}} ,rpc_grpc_status_code=~"INTERNAL|UNKNOWN|UNAVAILABLE|DATA_LOSS|DEADLINE_EXCEEDED"}[5m]))
      / sum by (rpc_method) (rate(rpc_server_calls_total{ {{- $sel -}} }[5m])) > {{ $r.errorRatio }}
  for: 10m
  labels:
    {{- include "bullseye-lib.alertLabels" (dict "root" . "severity" "critical") | nindent 4 }}
  annotations:
    summary: "{{ include "bullseye-lib.name" . }}: more than {{ mulf $r.errorRatio 100 }}% of {{ "{{ $labels.rpc_method }}" }} calls fail on the server side"
    description: "Server-side failures (INTERNAL, UNKNOWN, UNAVAILABLE, DATA_LOSS, DEADLINE_EXCEEDED) for 10 minutes; the pods' WARNING log lines name the code and trace id of each."
- alert: BullseyeRpcLatencyP99
  expr: |-
    histogram_quantile(0.99, sum by (le, rpc_method) (rate(rpc_server_duration_milliseconds_bucket{ {{- $sel -}} ,rpc_method!~"{{ $r.latencyExcludedMethods }}"}[5m]))) > {{ $r.latencyP99Ms }}
  for: 10m
  labels:
    {{- include "bullseye-lib.alertLabels" (dict "root" . "severity" "warning") | nindent 4 }}
  annotations:
    summary: "{{ include "bullseye-lib.name" . }}: p99 of {{ "{{ $labels.rpc_method }}" }} above {{ $r.latencyP99Ms }} ms"
    description: "The 99th percentile of server-side call duration stayed above {{ $r.latencyP99Ms }} ms for 10 minutes (CPU saturation, a slow dependency, or PostgreSQL)."
- alert: BullseyeStreamStorageNearLimit
  expr: max by (stream) (stream_bytes{ {{- $sel -}} }) / max by (stream) (stream_limit_bytes{ {{- $sel -}} }) > {{ $r.streamStorageRatio }}
  for: 15m
  labels:
    {{- include "bullseye-lib.alertLabels" (dict "root" . "severity" "critical") | nindent 4 }}
  annotations:
    summary: "{{ "{{ $labels.stream }}" }} holds more than {{ mulf $r.streamStorageRatio 100 }}% of its byte limit"
    description: "At the limit JetStream discards the stream's OLDEST messages, which are the source of truth: raise the limit (<PREFIX>_STREAM_MAX_BYTES, NATS storage) now. deploy/README.md, Streams."
{{- if $r.projection }}
- alert: BullseyeConsumerLagGrowing
  expr: |-
    max by (stream, consumer) (consumer_lag_messages{ {{- $sel -}} }) > {{ $r.lagMessages }}
      and max by (stream, consumer) (delta(consumer_lag_messages{ {{- $sel -}} }[15m])) > 0
  for: 15m
  labels:
    {{- include "bullseye-lib.alertLabels" (dict "root" . "severity" "warning") | nindent 4 }}
  annotations:
    summary: "{{ "{{ $labels.consumer }}" }} is more than {{ $r.lagMessages }} messages behind {{ "{{ $labels.stream }}" }}, and falling further"
    description: "The projection applies less than arrives. Look at projection_batch_duration_seconds and PostgreSQL; for profile, more projection pods (partitions by ordinal) help, identity resolves in one order and cannot be split."
- alert: BullseyeProjectionStale
  expr: histogram_quantile(0.99, sum by (le, projection) (rate(projection_delay_seconds_bucket{ {{- $sel -}} }[5m]))) > {{ $r.staleSeconds }}
  for: 10m
  labels:
    {{- include "bullseye-lib.alertLabels" (dict "root" . "severity" "warning") | nindent 4 }}
  annotations:
    summary: "{{ "{{ $labels.projection }}" }} applies records more than {{ $r.staleSeconds }} s after they were stored (p99)"
    description: "What users read (profiles, segments, persons) is that much behind what was accepted."
- alert: BullseyeDeadLetters
  expr: sum by (projection, partition) (increase(projection_dead_letters_total{ {{- $sel -}} }[15m])) > 0
  labels:
    {{- include "bullseye-lib.alertLabels" (dict "root" . "severity" "warning") | nindent 4 }}
  annotations:
    summary: "{{ "{{ $labels.projection }}" }} set records of partition {{ "{{ $labels.partition }}" }} aside"
    description: "A record that cannot be applied is kept in projection_dead_letters (its error included) and skipped; fix the cause, then replay it. deploy/README.md, Dead letters."
{{- end }}
{{- if $r.outbox }}
- alert: BullseyeOutboxBacklog
  expr: max(outbox_oldest_age_seconds{ {{- $sel -}} }) > {{ $r.outboxAgeSeconds }}
  for: 5m
  labels:
    {{- include "bullseye-lib.alertLabels" (dict "root" . "severity" "critical") | nindent 4 }}
  annotations:
    summary: "{{ include "bullseye-lib.name" . }}: facts wait in the outbox for more than {{ $r.outboxAgeSeconds }} s"
    description: "Facts committed in PostgreSQL do not reach their stream (NATS unreachable, the relay stuck, or no leader): outbox_backlog_rows says how many."
{{- end }}
{{- end -}}

{{- define "bullseye-lib.prometheusrule" -}}
{{- with .Values.monitoring.prometheusRule }}
{{- if .enabled }}
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: {{ include "bullseye-lib.fullname" $ }}
  namespace: {{ $.Release.Namespace }}
  labels:
    {{- include "bullseye-lib.labels" $ | nindent 4 }}
    {{- with .labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  groups:
    - name: {{ include "bullseye-lib.fullname" $ }}
      rules:
        {{- include "bullseye-lib.commonAlerts" $ | nindent 8 }}
        {{- include (printf "%s.alerts" $.Chart.Name) $ | nindent 8 }}
{{- end }}
{{- end }}
{{- end -}}
