{{/* Recommendation's own alerts: a model refused, answers lost or stuck, no model at all. */}}
{{- define "recommendation.alerts" -}}
{{- $sel := include "bullseye-lib.sel" . -}}
- alert: BullseyeRecommendationModelRefused
  expr: sum(increase(recommendation_model_swaps_total{ {{- $sel -}} ,outcome="refused"}[15m])) > 0
  labels:
    {{- include "bullseye-lib.alertLabels" (dict "root" . "severity" "warning") | nindent 4 }}
  annotations:
    summary: "recommendation: a serving process refused the published model"
    description: "Its file failed its checksum or its load (the log names the version); the previous model keeps serving. Check the model storage, then publish again or roll back (RollbackModel)."
- alert: BullseyeRecommendationImpressionsLost
  expr: sum(increase(recommendation_impressions_total{ {{- $sel -}} ,outcome="lost"}[1h])) > 0
  labels:
    {{- include "bullseye-lib.alertLabels" (dict "root" . "severity" "warning") | nindent 4 }}
  annotations:
    summary: "recommendation: impressions lost by a serving process that died"
    description: "A process was killed before writing its last batch of reco.served facts; the experiment report counts them as lost. Look for OOM kills or crashes of the serving pods."
- alert: BullseyeRecommendationImpressionsStuck
  expr: max(recommendation_impressions_pending{ {{- $sel -}} }) > 5000
  for: 10m
  labels:
    {{- include "bullseye-lib.alertLabels" (dict "root" . "severity" "critical") | nindent 4 }}
  annotations:
    summary: "recommendation: impressions are not reaching RECO"
    description: "Answers are kept in memory until RECO acknowledges them (NATS unreachable?); a crash now loses them all."
- alert: BullseyeRecommendationWithoutModel
  expr: sum(rate(recommendation_served_total{ {{- $sel -}} ,path="no_model"}[15m])) > 0
  for: 6h
  labels:
    {{- include "bullseye-lib.alertLabels" (dict "root" . "severity" "warning") | nindent 4 }}
  annotations:
    summary: "recommendation: answering without a model for 6 hours"
    description: "No model is published (or none could be loaded): shoppers with a history get popular and similar items only. Check the training CronJob and the registry (ListModels)."
{{- end -}}
