{{/* Profile has no alert of its own yet: the shared ones cover its projection, outbox and RPCs. */}}
{{- define "profile.alerts" -}}
{{- end -}}
