{{/* Identity's own alert: no candidate holds the resolver's lock, so nothing is resolved. */}}
{{- define "identity.alerts" -}}
- alert: BullseyeIdentityNoResolver
  expr: max(leadership_leading{ {{- include "bullseye-lib.sel" . -}} }) < 1
  for: 2m
  labels:
    {{- include "bullseye-lib.alertLabels" (dict "root" . "severity" "critical") | nindent 4 }}
  annotations:
    summary: "identity: no pod resolves EVENTS"
    description: "No resolver candidate holds the leadership lock (all down, or none reaches PostgreSQL): events are accepted but no person, profile or segment sees them. Check the resolver pods and PostgreSQL."
{{- end -}}
