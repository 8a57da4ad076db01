{{/*
The schema migration, before the release's pods start or change: `python -m <module> migrate`
as a pre-install/pre-upgrade hook. Services also migrate at start-up (under an advisory
lock, forward-only), so the Job is what makes an upgrade stop *before* new pods roll out
when a migration fails. It runs before the release's ConfigMap and ServiceAccount exist,
so it carries its environment inline (`_jobs.tpl`) and runs under the namespace's default
account (without its token).
*/}}

{{- define "bullseye-lib.migration" -}}
{{- if .Values.migration.enabled }}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ include "bullseye-lib.fullname" . }}-migrate
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "bullseye-lib.labels" . | nindent 4 }}
    app.kubernetes.io/component: migrate
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: "-5"
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
spec:
  backoffLimit: {{ .Values.migration.backoffLimit }}
  activeDeadlineSeconds: {{ .Values.migration.activeDeadlineSeconds }}
  ttlSecondsAfterFinished: 3600
  template:
    {{- include "bullseye-lib.jobPod" (dict "root" . "name" "migrate" "args" (list "migrate") "resources" .Values.migration.resources "env" dict) | nindent 4 }}
{{- end }}
{{- end -}}
