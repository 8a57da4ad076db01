{{/* Campaign's own alerts: messages that could not be delivered, and campaigns a guardrail paused. */}}
{{- define "campaign.alerts" -}}
- alert: BullseyeCampaignDeliveryFailures
  expr: >-
    sum by (channel) (rate(campaign_handoffs_total{ {{- include "bullseye-lib.sel" . -}}, outcome="dead_lettered"}[15m]))
    / clamp_min(sum by (channel) (rate(campaign_handoffs_total{ {{- include "bullseye-lib.sel" . -}} }[15m])), 1e-9)
    > 0.05
  for: 10m
  labels:
    {{- include "bullseye-lib.alertLabels" (dict "root" . "severity" "warning") | nindent 4 }}
  annotations:
    summary: "campaign: over 5% of {{`{{ $labels.channel }}`}} messages dead-lettered"
    description: "Messages the channel refused for good or that ran out of attempts (CAMPAIGN_DELIVERY_ATTEMPTS). ListDeliveries shows each one's last_error: an endpoint or a relay that refuses, a template that fails for some persons, addresses gone."
- alert: BullseyeCampaignGuardrailTripped
  expr: sum by (kind) (increase(campaign_alerts_total{ {{- include "bullseye-lib.sel" . -}} }[15m])) > 0
  labels:
    {{- include "bullseye-lib.alertLabels" (dict "root" . "severity" "warning") | nindent 4 }}
  annotations:
    summary: "campaign: a guardrail paused a campaign ({{`{{ $labels.kind }}`}})"
    description: "A variant converted significantly worse than the control, or the arms do not match their weights (sample-ratio mismatch): the campaign paused itself. Its campaign.alert fact on CAMPAIGN and GetReport say which; an operator resumes it (ResumeCampaign) or cancels it."
{{- end -}}
