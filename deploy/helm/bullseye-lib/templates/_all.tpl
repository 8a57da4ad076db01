{{/* Everything a service chart renders: its one template is `include "bullseye-lib.all" .` */}}
{{- define "bullseye-lib.all" -}}
{{- include "bullseye-lib.applyDefaults" . -}}
{{ include "bullseye-lib.configmap" . }}
{{- if .Values.serviceAccount.create }}
---
{{ include "bullseye-lib.serviceaccount" . }}
{{- end }}
---
{{ include "bullseye-lib.services" . }}
{{ include "bullseye-lib.workloads" . }}
{{- include "bullseye-lib.claims" . }}
{{- if .Values.networkPolicy.enabled }}
---
{{ include "bullseye-lib.networkpolicy" . }}
{{- end }}
{{- if .Values.migration.enabled }}
---
{{ include "bullseye-lib.migration" . }}
{{- end }}
{{- include "bullseye-lib.cronjobs" . }}
{{- if .Values.monitoring.serviceMonitor.enabled }}
---
{{ include "bullseye-lib.servicemonitor" . }}
{{- end }}
{{- if .Values.monitoring.prometheusRule.enabled }}
---
{{ include "bullseye-lib.prometheusrule" . }}
{{- end }}
{{- end -}}
