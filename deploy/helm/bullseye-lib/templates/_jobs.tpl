{{/*
Pods that run to completion: the migration Job (below, as a hook) and a service's scheduled
batch work (`cronJobs`, e.g. recommendation's training). Same hardened pod, the service's
image and whole environment inline (a hook runs before the release's ConfigMap exists),
`args` after the image's entrypoint (`python -m <module>`).
*/}}

{{/* (dict "root" . "name" $name "args" $args "resources" $resources "env" $env "storage" $bool) */}}
{{- define "bullseye-lib.jobPod" -}}
{{- $root := .root -}}
metadata:
  labels:
    {{- include "bullseye-lib.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .name }}
spec:
  restartPolicy: Never
  automountServiceAccountToken: false
  securityContext:
    {{- include "bullseye-lib.podSecurityContext" $root | nindent 4 }}
  {{- with $root.Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  containers:
    - name: {{ .name }}
      image: {{ include "bullseye-lib.image" $root }}
      imagePullPolicy: {{ $root.Values.image.pullPolicy }}
      args: {{ toJson .args }}
      env:
        {{- range $name, $value := (include "bullseye-lib.configData" $root | fromYaml) }}
        - name: {{ $name }}
          value: {{ $value | quote }}
        {{- end }}
        {{- include "bullseye-lib.env" (dict "root" $root "component" (dict "env" .env)) | nindent 8 }}
      resources:
        {{- toYaml (required (printf "%s: requests and limits" .name) .resources) | nindent 8 }}
      securityContext:
        {{- include "bullseye-lib.containerSecurityContext" $root | nindent 8 }}
      volumeMounts:
        {{- include "bullseye-lib.volumeMounts" $root | nindent 8 }}
        {{- if .storage }}
        {{- include "bullseye-lib.storageMounts" $root | nindent 8 }}
        {{- end }}
  volumes:
    {{- include "bullseye-lib.volumes" $root | nindent 4 }}
    {{- if .storage }}
    {{- include "bullseye-lib.storageVolumes" $root | nindent 4 }}
    {{- end }}
{{- end -}}

{{- define "bullseye-lib.cronjobs" -}}
{{- $root := . -}}
{{- range $name, $job := .Values.cronJobs }}
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: {{ include "bullseye-lib.componentName" (dict "root" $root "component" $name) }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "bullseye-lib.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ $name }}
spec:
  schedule: {{ $job.schedule | quote }}
  concurrencyPolicy: {{ $job.concurrencyPolicy | default "Forbid" }}
  startingDeadlineSeconds: {{ $job.startingDeadlineSeconds | default 600 }}
  successfulJobsHistoryLimit: 3
  failedJobsHistoryLimit: 3
  jobTemplate:
    spec:
      backoffLimit: {{ $job.backoffLimit | default 1 }}
      activeDeadlineSeconds: {{ $job.activeDeadlineSeconds | default 3600 }}
      template:
        {{- include "bullseye-lib.jobPod" (dict "root" $root "name" $name "args" $job.args "resources" $job.resources "env" ($job.env | default dict) "storage" true) | nindent 8 }}
{{- end }}
{{- end -}}
