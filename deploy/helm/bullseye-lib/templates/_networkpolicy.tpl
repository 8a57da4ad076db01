{{/*
Default deny, then only what the service really does: its callers reach the gRPC port
(`networkPolicy.callers`, by default the Bullseye services that call it), scrapers the
metrics port; it reaches DNS, NATS, PostgreSQL, the services it calls (`calls`), endpoints
outside Bullseye it delivers to (`external`: campaign's SMTP relay and providers) and, when
traces are exported, the OTLP collector. `to: []` for NATS/PostgreSQL/OTLP allows the port
on any address (they are often outside the cluster): give peers to narrow it. Kubelet's
probes are not subject to NetworkPolicy.
*/}}

{{- define "bullseye-lib.egressRule" -}}
- ports:
    - port: {{ .port }}
      protocol: TCP
  {{- with .to }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{- define "bullseye-lib.networkpolicy" -}}
{{- $np := .Values.networkPolicy -}}
{{- if $np.enabled }}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "bullseye-lib.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "bullseye-lib.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "bullseye-lib.selectorLabels" . | nindent 6 }}
  policyTypes: ["Ingress", "Egress"]
  ingress:
    {{- with $np.callers }}
    - ports:
        - port: grpc
          protocol: TCP
      from:
        {{- toYaml . | nindent 8 }}
    {{- end }}
    {{- with $np.scrapers }}
    - ports:
        - port: metrics
          protocol: TCP
      from:
        {{- toYaml . | nindent 8 }}
    {{- end }}
  egress:
    - ports:
        - port: 53
          protocol: UDP
        - port: 53
          protocol: TCP
      to:
        - namespaceSelector: {}
          podSelector:
            matchLabels:
              k8s-app: kube-dns
    {{- include "bullseye-lib.egressRule" $np.nats | nindent 4 }}
    {{- include "bullseye-lib.egressRule" $np.postgres | nindent 4 }}
    {{- if $np.otlp.enabled }}
    {{- include "bullseye-lib.egressRule" $np.otlp | nindent 4 }}
    {{- end }}
    {{- range $np.external }}
    {{- include "bullseye-lib.egressRule" . | nindent 4 }}
    {{- end }}
    {{- range $np.calls }}
    - ports:
        - port: {{ .port }}
          protocol: TCP
      to:
        - podSelector:
            matchLabels:
              app.kubernetes.io/name: {{ .name }}
              app.kubernetes.io/part-of: bullseye
              bullseye.dev/serves: "true"
    {{- end }}
{{- end }}
{{- end -}}
