{{/* Campaign's own alerts: messages that could not be delivered, campaigns a guardrail paused, and a job lane with no time to spare. */}}
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
- alert: BullseyeCampaignJobLaneSaturated
  expr: max by (queue) (rate(jobs_pass_duration_seconds_sum{ {{- include "bullseye-lib.sel" . -}} }[15m])) > 0.9
  for: 15m
  labels:
    {{- include "bullseye-lib.alertLabels" (dict "root" . "severity" "warning") | nindent 4 }}
  annotations:
    summary: "campaign: the {{`{{ $labels.queue }}`}} lane of a pod has been busy over 90% of the time for 15 minutes"
    description: "A lane runs one pass at a time, so its queue (sends to decide, messages to hand over, timers) waits behind it and messages leave late. The pods share the queues: more campaign pods add lanes (the HPA, or replicas). If it stays busy with more pods, look at PostgreSQL and the channel endpoints' answer times (campaign_handoff_duration_seconds)."
{{- end -}}
