{{/*
Names and labels (app.kubernetes.io/*, as bitnami's common chart does).
A service chart names itself after its service (ingestion, identity, profile, ...); its
Chart.yaml annotations say its Python module and its variables' prefix.
*/}}

{{- define "bullseye-lib.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "bullseye-lib.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* (dict "root" . "component" "serving") */}}
{{- define "bullseye-lib.componentName" -}}
{{- printf "%s-%s" (include "bullseye-lib.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "bullseye-lib.prefix" -}}
{{- required "Chart.yaml needs the annotation bullseye.dev/prefix" (index .Chart.Annotations "bullseye.dev/prefix") -}}
{{- end -}}

{{- define "bullseye-lib.module" -}}
{{- required "Chart.yaml needs the annotation bullseye.dev/module" (index .Chart.Annotations "bullseye.dev/module") -}}
{{- end -}}

{{- define "bullseye-lib.selectorLabels" -}}
app.kubernetes.io/name: {{ include "bullseye-lib.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "bullseye-lib.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "bullseye-lib.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: bullseye
{{- end -}}

{{/* (dict "root" . "component" "serving") */}}
{{- define "bullseye-lib.componentSelectorLabels" -}}
{{ include "bullseye-lib.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "bullseye-lib.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "bullseye-lib.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "bullseye-lib.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if eq $tag "latest" -}}
{{- fail "image.tag: \"latest\" is not a version; pin a tag (or a digest) so that every pod runs the same code" -}}
{{- end -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}
