{{/* Ingestion's own alert: a source whose events are mostly rejected (a broken SDK or integration). */}}
{{- define "ingestion.alerts" -}}
- alert: BullseyeIngestionRejectsMostOfASource
  expr: |-
    sum by (source) (rate(ingestion_events_total{ {{- include "bullseye-lib.sel" . -}} ,status="rejected"}[15m]))
      / sum by (source) (rate(ingestion_events_total{ {{- include "bullseye-lib.sel" . -}} }[15m])) > 0.2
  for: 30m
  labels:
    {{- include "bullseye-lib.alertLabels" (dict "root" . "severity" "warning") | nindent 4 }}
  annotations:
    summary: "More than 20% of the events of source {{ "{{ $labels.source }}" }} are rejected"
    description: "Their senders get INVALID_ARGUMENT with field violations per event; the source's integration needs fixing, nothing is lost on our side."
{{- end -}}
