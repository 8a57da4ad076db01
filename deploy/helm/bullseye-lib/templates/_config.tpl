{{/*
Configuration: environment variables only, as the services read them (bullseye_platform.config).
- `config` (and `global.config`, which a chart's own `config` overrides): plain variables, in
  a ConfigMap; values.schema.json (generated from the service's typed config) checks them.
- `secretEnv` (and `global.secretEnv`): variables read from existing Secrets, never
  rendered into a manifest (DATABASE_URL, keys, tokens).
- Set by the chart, never by values: the ports, the drain and grace of a stop (they must
  fit the termination grace period), and each component's switches (`components.*.env`).
*/}}

{{/* A value as its variable's text: YAML numbers reach templates as floats, and 1 TiB as a
float prints as 1.099511627776e+12, which no integer parser takes. */}}
{{- define "bullseye-lib.envValue" -}}
{{- if and (kindIs "float64" .) (eq (float64 (int64 .)) .) -}}
{{- int64 . -}}
{{- else -}}
{{- toString . -}}
{{- end -}}
{{- end -}}

{{- define "bullseye-lib.configData" -}}
{{- $prefix := include "bullseye-lib.prefix" . -}}
{{- $global := (.Values.global | default dict).config | default dict -}}
{{- $merged := mergeOverwrite (deepCopy $global) (deepCopy (.Values.config | default dict)) -}}
{{- $secrets := mergeOverwrite (deepCopy ((.Values.global | default dict).secretEnv | default dict)) (deepCopy (.Values.secretEnv | default dict)) -}}
{{- if not (or (hasKey $merged "NATS_URL") (hasKey $secrets "NATS_URL")) -}}
{{- $_ := set $merged "NATS_URL" "nats://nats:4222" -}}{{/* the NATS chart's Service in the release's namespace */}}
{{- end -}}
{{- $_ := set $merged (printf "%s_GRPC_PORT" $prefix) .Values.ports.grpc -}}
{{- $_ := set $merged (printf "%s_METRICS_PORT" $prefix) .Values.ports.metrics -}}
{{- $_ := set $merged (printf "%s_DRAIN_DELAY" $prefix) (printf "%ds" (int .Values.shutdown.drainDelaySeconds)) -}}
{{- $_ := set $merged (printf "%s_SHUTDOWN_GRACE" $prefix) (printf "%ds" (int .Values.shutdown.graceSeconds)) -}}
{{- range $name, $value := $merged }}
{{ $name }}: {{ tpl (include "bullseye-lib.envValue" $value) $ | quote }}
{{- end }}
{{- end -}}

{{/* The env list of a container: secrets by reference, then the component's switches. (dict "root" . "component" $c) */}}
{{- define "bullseye-lib.env" -}}
{{- $root := .root -}}
{{- $secrets := mergeOverwrite (deepCopy (($root.Values.global | default dict).secretEnv | default dict)) (deepCopy ($root.Values.secretEnv | default dict)) -}}
{{- range $name, $ref := $secrets }}
- name: {{ $name }}
  valueFrom:
    secretKeyRef:
      name: {{ required (printf "secretEnv.%s.name: the existing Secret holding %s" $name $name) $ref.name }}
      key: {{ required (printf "secretEnv.%s.key: the key of %s in its Secret" $name $name) $ref.key }}
{{- end }}
{{- with .component }}
{{- range $name, $value := .env }}
- name: {{ $name }}
  value: {{ include "bullseye-lib.envValue" $value | quote }}
{{- end }}
{{- if .ordinalEnv }}
- name: {{ .ordinalEnv }}
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
{{- end }}
{{- if .countEnv }}
- name: {{ .countEnv }}
  value: {{ .replicas | toString | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "bullseye-lib.configmap" -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "bullseye-lib.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "bullseye-lib.labels" . | nindent 4 }}
data:
  {{- include "bullseye-lib.configData" . | nindent 2 }}
{{- end -}}

{{- define "bullseye-lib.serviceaccount" -}}
{{- if .Values.serviceAccount.create }}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "bullseye-lib.serviceAccountName" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "bullseye-lib.labels" . | nindent 4 }}
  {{- with .Values.serviceAccount.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
automountServiceAccountToken: false
{{- end }}
{{- end -}}
