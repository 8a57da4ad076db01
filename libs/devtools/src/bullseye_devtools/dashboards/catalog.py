"""The dashboards: the ensemble at a glance, then one per service.

Metric names are those of bullseye_platform.instruments and of each service's own
instruments; a service's series carry `job="<service>"` (the ServiceMonitor's jobLabel).
Shared sections (RPCs, a projection, the outbox, a stream) are written once, below.
"""

from __future__ import annotations

from bullseye_devtools.dashboards.grafana import RATE, Dashboard, Panel, Query, Row, p99, sel

SERVER_ERRORS = "~INTERNAL|UNKNOWN|UNAVAILABLE|DATA_LOSS|DEADLINE_EXCEEDED"


def rpcs(job: str) -> list[Panel | Row]:
    calls = f"rpc_server_calls_total{sel(job)}"
    return [
        Row("Calls (RED per method)"),
        Panel("Calls per second, by method", [Query(f"sum by (rpc_method) (rate({calls}[{RATE}]))", "{{rpc_method}}")],
              unit="reqps"),
        Panel("Failures per second, by method and code",
              [Query(f"sum by (rpc_method, rpc_grpc_status_code) "
                     f"(rate(rpc_server_calls_total{sel(job, rpc_grpc_status_code='!OK')}[{RATE}]))",
                     "{{rpc_method}} {{rpc_grpc_status_code}}")], unit="reqps",
              description="Every code but OK: client errors (INVALID_ARGUMENT, ...) and server errors alike."),
        Panel("Duration p99, by method (ms)",
              [Query(p99("rpc_server_duration_milliseconds_bucket", sel(job), "rpc_method"), "{{rpc_method}}")],
              unit="ms"),
        Panel("Duration p50, by method (ms)",
              [Query(f"histogram_quantile(0.5, sum by (le, rpc_method) "
                     f"(rate(rpc_server_duration_milliseconds_bucket{sel(job)}[{RATE}])))", "{{rpc_method}}")],
              unit="ms"),
    ]  # fmt: skip


def projection(job: str, reads: str) -> list[Panel | Row]:
    s = sel(job)
    return [
        Row(f"Projection of {reads}"),
        Panel("Records applied per second, by partition",
              [Query(f"sum by (partition) (rate(projection_records_total{s}[{RATE}]))", "{{partition}}")],
              unit="ops", stack=True),
        Panel("Consumer lag (messages not yet acknowledged)",
              [Query(f"max by (stream, consumer) (consumer_lag_messages{s})", "{{consumer}}")],
              description="JetStream's pending plus unacknowledged messages of each consumer's partitions."),
        Panel("Stored-to-applied delay p99 (s)",
              [Query(p99("projection_delay_seconds_bucket", s, "projection"), "{{projection}}")], unit="s",
              description="From the record's append to the stream to its batch being acked: how stale reads are."),
        Panel("Batch duration p99 (s) and records per batch p50",
              [Query(p99("projection_batch_duration_seconds_bucket", s, "projection"), "duration p99"),
               Query(f"histogram_quantile(0.5, sum by (le) (rate(projection_batch_records_bucket{s}[{RATE}])))",
                     "records p50")]),
        Panel("Position reached, by partition",
              [Query(f"max by (partition) (projection_position{s})", "{{partition}}")],
              description="A partition whose position stands still while its consumer lags is stuck."),
        Panel("Dead letters (records set aside, last hour)",
              [Query(f"sum by (partition) (increase(projection_dead_letters_total{s}[1h]))", "{{partition}}")]),
    ]  # fmt: skip


def outbox(job: str, stream: str) -> list[Panel | Row]:
    s = sel(job)
    return [
        Row(f"Outbox to {stream}"),
        Panel("Facts relayed per second",
              [Query(f"sum(rate(outbox_relayed_total{s}[{RATE}]))", "relayed")], unit="ops"),
        Panel("Backlog: facts waiting, and the oldest one's age (s)",
              [Query(f"max(outbox_backlog_rows{s})", "rows"),
               Query(f"max(outbox_oldest_age_seconds{s})", "oldest (s)")]),
    ]  # fmt: skip


def stream(job: str, name: str) -> Panel:
    s = sel(job, stream=name)
    return Panel(f"{name}: bytes held and its limit",
                 [Query(f"max(stream_bytes{s})", "bytes"), Query(f"max(stream_limit_bytes{s})", "limit")],
                 unit="bytes",
                 description="At the limit JetStream discards the OLDEST messages: alert at 80%.")  # fmt: skip


OVERVIEW = Dashboard(
    "bullseye-overview", "Bullseye / Overview",
    "The ensemble: what comes in, how far each stage is behind, what fails.",
    [
        Row("Traffic"),
        Panel("Calls per second, by service",
              [Query(f"sum by (job) (rate(rpc_server_calls_total{sel()}[{RATE}]))", "{{job}}")], unit="reqps"),
        Panel("Server-error ratio, by service",
              [Query(f"sum by (job) (rate(rpc_server_calls_total{sel(rpc_grpc_status_code=SERVER_ERRORS)}[{RATE}]))"
                     f" / sum by (job) (rate(rpc_server_calls_total{sel()}[{RATE}]))", "{{job}}")],
              unit="percentunit"),
        Panel("Events accepted per second, by source",
              [Query(f"sum by (source) (rate(ingestion_events_total{sel('ingestion', status='accepted')}[{RATE}]))",
                     "{{source}}")], unit="ops", stack=True),
        Panel("Call duration p99, by service (ms)",
              [Query(p99("rpc_server_duration_milliseconds_bucket", sel(), "job"), "{{job}}")], unit="ms"),
        Row("The log, stage by stage"),
        Panel("Records applied per second, by projection",
              [Query(f"sum by (job, projection) (rate(projection_records_total{sel()}[{RATE}]))",
                     "{{job}} {{projection}}")], unit="ops"),
        Panel("Consumer lag, by consumer",
              [Query(f"max by (job, consumer) (consumer_lag_messages{sel()})", "{{job}} {{consumer}}")]),
        Panel("Stored-to-applied delay p99, by projection (s)",
              [Query(p99("projection_delay_seconds_bucket", sel(), "job, projection"), "{{job}} {{projection}}")],
              unit="s"),
        Panel("Streams: share of their byte limit",
              [Query(f"max by (stream) (stream_bytes{sel()}) / max by (stream) (stream_limit_bytes{sel()})",
                     "{{stream}}")], unit="percentunit"),
        Row("Health"),
        Panel("Identity resolvers leading (must be 1)",
              [Query(f"sum(leadership_leading{sel('identity')})", "leading")]),
        Panel("Outbox: the oldest waiting fact's age, by service (s)",
              [Query(f"max by (job) (outbox_oldest_age_seconds{sel()})", "{{job}}")], unit="s"),
        Panel("Dead letters in the last hour, by projection",
              [Query(f"sum by (job, projection) (increase(projection_dead_letters_total{sel()}[1h]))",
                     "{{job}} {{projection}}")]),
    ],
)  # fmt: skip

INGESTION = Dashboard(
    "bullseye-ingestion", "Bullseye / Ingestion",
    "The front door: events by outcome and source, calls, EVENTS and CATALOG.",
    [
        Row("Events"),
        Panel("Events per second, by outcome",
              [Query(f"sum by (status) (rate(ingestion_events_total{sel('ingestion')}[{RATE}]))", "{{status}}")],
              unit="ops", stack=True),
        Panel("Rejected share, by source",
              [Query(f"sum by (source) (rate(ingestion_events_total{sel('ingestion', status='rejected')}[{RATE}]))"
                     f" / sum by (source) (rate(ingestion_events_total{sel('ingestion')}[{RATE}]))", "{{source}}")],
              unit="percentunit"),
        stream("ingestion", "EVENTS"),
        Panel("EVENTS: messages held", [Query(f"max(stream_messages{sel('ingestion', stream='EVENTS')})", "EVENTS")]),
        stream("ingestion", "CATALOG"),
        *rpcs("ingestion"),
    ],
)  # fmt: skip

IDENTITY = Dashboard(
    "bullseye-identity", "Bullseye / Identity",
    "Resolution (one leader at a time), the merge graph's changes, RESOLVED and the calls.",
    [
        Row("Resolver"),
        Panel("Leading, by pod (one at a time)",
              [Query(f"max by (pod) (leadership_leading{sel('identity')})", "{{pod}}")]),
        Panel("Merges per second, by reason and rule",
              [Query(f"sum by (reason, rule) (rate(identity_merges_total{sel('identity')}[{RATE}]))",
                     "{{reason}} {{rule}}")], unit="ops"),
        Panel("Refused links (conflicts) per second, by rule",
              [Query(f"sum by (rule) (rate(identity_conflicts_total{sel('identity')}[{RATE}]))", "{{rule}}")],
              unit="ops"),
        Panel("Values marked shared and automatic splits per second, by reason",
              [Query(f"sum by (reason, type) (rate(identity_shared_values_total{sel('identity')}[{RATE}]))",
                     "shared {{type}}: {{reason}}"),
               Query(f"sum by (reason) (rate(identity_automatic_splits_total{sel('identity')}[{RATE}]))",
                     "split: {{reason}}")], unit="ops"),
        stream("identity", "RESOLVED"),
        *projection("identity", "EVENTS"),
        *outbox("identity", "RESOLVED"),
        *rpcs("identity"),
    ],
)  # fmt: skip

PROFILE = Dashboard(
    "bullseye-profile", "Bullseye / Profile", "Profiles and segments: the projection by partition, segments, reads.",
    [
        Row("Segments and reads"),
        Panel("Members, by segment",
              [Query(f"max by (segment) (profile_segment_members{sel('profile')})", "{{segment}}")]),
        Panel("GetProfile bases read from the process's cache",
              [Query(f"sum by (result) (rate(profile_read_cache_lookups_total{sel('profile')}[{RATE}]))",
                     "{{result}}")],
              unit="ops", stack=True),
        stream("profile", "PROFILE"),
        *projection("profile", "RESOLVED"),
        *outbox("profile", "PROFILE"),
        *rpcs("profile"),
    ],
)  # fmt: skip

CAMPAIGN = Dashboard(
    "bullseye-campaign", "Bullseye / Campaign",
    "Decisions at the last moment, handoffs to channels, guardrails, the projection of RESOLVED and PROFILE.",
    [
        Row("Decisions and delivery"),
        Panel("Sends decided per second, by outcome and reason",
              [Query(f"sum by (outcome, reason) (rate(campaign_decisions_total{sel('campaign')}[{RATE}]))",
                     "{{outcome}} {{reason}}")], unit="ops", stack=True,
              description="Suppressed sends say why: capped, no consent, no contact, holdout, exited, ..."),
        Panel("Handoffs per second, by channel and outcome",
              [Query(f"sum by (channel, outcome) (rate(campaign_handoffs_total{sel('campaign')}[{RATE}]))",
                     "{{channel}} {{outcome}}")], unit="ops", stack=True),
        Panel("Dead-lettered share, by channel",
              [Query(f"sum by (channel) (rate(campaign_handoffs_total{sel('campaign', outcome='dead_lettered')}"
                     f"[{RATE}])) / sum by (channel) (rate(campaign_handoffs_total{sel('campaign')}[{RATE}]))",
                     "{{channel}}")], unit="percentunit"),
        Panel("Handoff of a batch p99, by channel (s)",
              [Query(p99("campaign_handoff_duration_seconds_bucket", sel("campaign"), "channel"), "{{channel}}")],
              unit="s"),
        Panel("Job lanes: share of time busy, by queue (the busiest pod's)",
              [Query(f"max by (queue) (rate(jobs_pass_duration_seconds_sum{sel('campaign')}[{RATE}]))",
                     "{{queue}}")], unit="percentunit",
              description="A lane runs one pass at a time: near 100%, it holds its queue back (sends decided, "
                          "handoffs); pods share the queues, so more pods add lanes."),
        Panel("Jobs run per second, by queue",
              [Query(f"sum by (queue) (rate(jobs_run_total{sel('campaign')}[{RATE}]))", "{{queue}}")],
              unit="ops", stack=True),
        Panel("Guardrails that paused a campaign (last hour), by kind",
              [Query(f"sum by (kind) (increase(campaign_alerts_total{sel('campaign')}[1h]))", "{{kind}}")]),
        stream("campaign", "CAMPAIGN"),
        *projection("campaign", "RESOLVED and PROFILE"),
        *outbox("campaign", "CAMPAIGN"),
        *rpcs("campaign"),
    ],
)  # fmt: skip

RECOMMENDATION = Dashboard(
    "bullseye-recommendation", "Bullseye / Recommendation",
    "The served model and its swaps, answers by path, impressions, the projection and the calls.",
    [
        Row("Model and answers"),
        Panel("Model version served, by pod",
              [Query(f"max by (pod, version) (recommendation_model_info{sel('recommendation')}) > 0",
                     "{{pod}} {{version}}")],
              description="One series per pod at 1: every serving process swaps on reco model.published. None: "
                          "no model published yet (popular items)."),
        Panel("Model swaps, by outcome (last hour)",
              [Query(f"sum by (outcome) (increase(recommendation_model_swaps_total{sel('recommendation')}[1h]))",
                     "{{outcome}}")],
              description="refused: a file that failed its checksum or its load; the previous model kept serving."),
        Panel("Model load p99 (s)",
              [Query(p99("recommendation_model_load_seconds_bucket", sel("recommendation"), "job"), "load p99")],
              unit="s"),
        Panel("Answers per second, by path",
              [Query(f"sum by (path) (rate(recommendation_served_total{sel('recommendation')}[{RATE}]))",
                     "{{path}}")], unit="ops", stack=True,
              description="model, no_model (nothing published), cold_start (no history), not_personalized (no "
                          "consent)."),
        Panel("Rankings from the process's cache",
              [Query(f"sum by (result) (rate(recommendation_answer_cache_lookups_total{sel('recommendation')}"
                     f"[{RATE}]))", "{{result}}")], unit="ops", stack=True),
        Row("Impressions (reco.served)"),
        Panel("Impressions per second, by outcome",
              [Query(f"sum by (outcome) (rate(recommendation_impressions_total{sel('recommendation')}[{RATE}]))",
                     "{{outcome}}")], unit="ops", stack=True,
              description="written: on RECO; lost: answered by a process that died before writing them (counted "
                          "by the next one to start)."),
        Panel("Impressions waiting to be written",
              [Query(f"max by (pod) (recommendation_impressions_pending{sel('recommendation')})", "{{pod}}")]),
        stream("recommendation", "RECO"),
        *projection("recommendation", "RESOLVED, CATALOG and RECO"),
        *outbox("recommendation", "RECO"),
        *rpcs("recommendation"),
    ],
)  # fmt: skip

DASHBOARDS = {
    "overview": OVERVIEW, "ingestion": INGESTION, "identity": IDENTITY, "profile": PROFILE, "campaign": CAMPAIGN,
    "recommendation": RECOMMENDATION,
}  # fmt: skip
