{{/*
Two Services: `<fullname>` sends gRPC to the pods that serve (label bullseye.dev/serves,
from `components.*.serves`) and exposes their metrics; `<fullname>-pods` is headless over
every pod of the release: the StatefulSets' governing Service (stable pod DNS) and what the
ServiceMonitor scrapes, so that each pod is scraped once whatever its component.
*/}}

{{- define "bullseye-lib.ports" -}}
- name: grpc
  port: {{ .Values.ports.grpc }}
  targetPort: grpc
  protocol: TCP
  appProtocol: grpc
- name: metrics
  port: {{ .Values.ports.metrics }}
  targetPort: metrics
  protocol: TCP
  appProtocol: http
{{- end -}}

{{- define "bullseye-lib.services" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "bullseye-lib.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "bullseye-lib.labels" . | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "bullseye-lib.selectorLabels" . | nindent 4 }}
    bullseye.dev/serves: "true"
  ports:
    {{- include "bullseye-lib.ports" . | nindent 4 }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ include "bullseye-lib.fullname" . }}-pods
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "bullseye-lib.labels" . | nindent 4 }}
    bullseye.dev/service-role: pods
spec:
  clusterIP: None
  publishNotReadyAddresses: false
  selector:
    {{- include "bullseye-lib.selectorLabels" . | nindent 4 }}
  ports:
    {{- include "bullseye-lib.ports" . | nindent 4 }}
{{- end -}}
