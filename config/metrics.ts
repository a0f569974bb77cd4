// vLLM's Prometheus metrics, collected by Google Cloud Managed Service for Prometheus's Cloud
// Run sidecar (https://cloud.google.com/stackdriver/docs/managed-prometheus/cloudrun-sidecar):
// the sidecar scrapes a port on localhost every SCRAPE_INTERVAL_SECONDS and writes the samples
// to Cloud Monitoring as prometheus.googleapis.com/<name>/<kind> on the prometheus_target
// resource, with cluster="__run__", namespace=<service>, job=<RunMonitoring name>.
// Source of every field: GoogleCloudPlatform/run-gmp-sidecar confgenerator/config.go at tag 1.3.0.

/**
 * The sidecar image, pinned. 1.3.0 is the newest tag seen in public deployments (so it is
 * published in Google's Artifact Registry); later git tags (1.4.0-1.7.0) exist, unverified there.
 * Its config parser is strict (unknown fields stop the sidecar), and has every field used here.
 */
export const GMP_SIDECAR_IMAGE = "us-docker.pkg.dev/cloud-ops-agents-artifacts/cloud-run-gmp-sidecar/cloud-run-gmp-sidecar:1.3.0";

/** Name of the sidecar container (and what its dependsOn names: the vLLM container). */
export const METRICS_CONTAINER = "metrics";

/** RunMonitoring metadata.name: the `job` label of every vLLM series. */
export const METRICS_JOB = "vllm";

/** Where the sidecar reads its RunMonitoring config (a Secret Manager volume). */
export const RUN_MONITORING_DIR = "/etc/rungmp";
export const RUN_MONITORING_FILE = "config.yaml";

/** The sidecar's own health endpoint (run-gmp-sidecar entrypoint.go: port 13133, /liveness, sleeps 5 s before answering). */
export const SIDECAR_LIVENESS = { port: 13133, path: "/liveness" } as const;

/**
 * With an API key, /metrics on vLLM's port needs the key, and the sidecar cannot send one
 * (RunMonitoring has no authorization field; run-gmp-sidecar#38). The image's middleware then
 * relays GET /metrics on this loopback-only port, adding the key itself (docker/vllm_cloudrun_auth.py).
 * Cloud Run routes outside requests to the one ingress port only (container runtime contract).
 */
export const METRICS_RELAY_PORT = 9400;

/** Seconds between scrapes: cost is linear in it (GMP bills per sample), 30 s is the sidecar's default. */
export const SCRAPE_INTERVAL_SECONDS = 30;

export { SIDECAR_CPU, SIDECAR_MEMORY_MIB } from "./limits";

/**
 * The vLLM series the stack keeps (everything else is dropped before ingestion, so it is not
 * billed). Names as vLLM exposes them (counters with _total). Both the current and the
 * deprecated name where vLLM renamed a metric: v0.10.2 exports both, later releases only the new one.
 */
export const VLLM_METRICS = {
    running: "vllm:num_requests_running",
    waiting: "vllm:num_requests_waiting",
    kvCacheUsage: "vllm:kv_cache_usage_perc",
    kvCacheUsageOld: "vllm:gpu_cache_usage_perc",
    preemptions: "vllm:num_preemptions_total",
    promptTokens: "vllm:prompt_tokens_total",
    generationTokens: "vllm:generation_tokens_total",
    requestSuccess: "vllm:request_success_total",
    ttft: "vllm:time_to_first_token_seconds",
    interTokenLatency: "vllm:inter_token_latency_seconds",
    interTokenLatencyOld: "vllm:time_per_output_token_seconds",
    e2eLatency: "vllm:e2e_request_latency_seconds",
    queueTime: "vllm:request_queue_time_seconds",
} as const;

/** Prometheus kind of each kept metric, which names its Cloud Monitoring type. */
export const VLLM_METRIC_KINDS: Readonly<Record<string, "gauge" | "counter" | "histogram">> = {
    [VLLM_METRICS.running]: "gauge",
    [VLLM_METRICS.waiting]: "gauge",
    [VLLM_METRICS.kvCacheUsage]: "gauge",
    [VLLM_METRICS.kvCacheUsageOld]: "gauge",
    [VLLM_METRICS.preemptions]: "counter",
    [VLLM_METRICS.promptTokens]: "counter",
    [VLLM_METRICS.generationTokens]: "counter",
    [VLLM_METRICS.requestSuccess]: "counter",
    [VLLM_METRICS.ttft]: "histogram",
    [VLLM_METRICS.interTokenLatency]: "histogram",
    [VLLM_METRICS.interTokenLatencyOld]: "histogram",
    [VLLM_METRICS.e2eLatency]: "histogram",
    [VLLM_METRICS.queueTime]: "histogram",
};

/** The Cloud Monitoring metric type of a vLLM metric: prometheus.googleapis.com/<name>/<kind> (colons kept). */
export function gmpMetricType(name: string): string {
    const kind = VLLM_METRIC_KINDS[name];
    if (kind === undefined) throw new Error(`${name} is not one of the vLLM metrics this stack keeps`);
    return `prometheus.googleapis.com/${name}/${kind}`;
}

/** Histogram buckets per metric in vLLM 0.10 (vllm/v1/metrics/loggers.py), for the sample count. */
const HISTOGRAM_BUCKETS: Readonly<Record<string, number>> = {
    [VLLM_METRICS.ttft]: 19,
    [VLLM_METRICS.interTokenLatency]: 17,
    [VLLM_METRICS.interTokenLatencyOld]: 17,
    [VLLM_METRICS.e2eLatency]: 23,
    [VLLM_METRICS.queueTime]: 23,
};

/**
 * Samples one scrape ingests: one per gauge and counter series (request_success has one per
 * finished_reason: stop, length, abort), and, counted high, one per histogram bucket plus
 * _sum and _count (whether GMP bills a histogram as one sample or per bucket is not documented
 * where this program could read it, so the estimate assumes the dearer).
 */
export function samplesPerScrape(): number {
    let n = 1; // process_start_time_seconds
    for (const [name, kind] of Object.entries(VLLM_METRIC_KINDS)) {
        if (kind === "histogram") n += (HISTOGRAM_BUCKETS[name] ?? 0) + 1 + 2;
        else n += name === VLLM_METRICS.requestSuccess ? 3 : 1;
    }
    return n;
}

/** The RunMonitoring config the sidecar reads: scrape `port` on localhost, keep only VLLM_METRICS. */
export function runMonitoringConfig(port: number): string {
    // Relabeling sees sample names: a histogram's are <name>_bucket, _sum and _count (its
    // _created gauge, like every counter's, is dropped). Prometheus anchors the regex.
    const names = Object.values(VLLM_METRICS).map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
    // process_start_time_seconds: the sidecar's collector takes counters' start time from it
    // (use_start_time_metric in config.go) and warns on every scrape without it.
    const keep = `(${names.join("|")})(_bucket|_sum|_count)?|process_start_time_seconds`;
    // YAML by hand, every string quoted: the sidecar's parser is strict and this stays diffable.
    return [
        "apiVersion: monitoring.googleapis.com/v1beta",
        "kind: RunMonitoring",
        "metadata:",
        `  name: ${JSON.stringify(METRICS_JOB)}`,
        "spec:",
        "  endpoints:",
        `    - port: ${JSON.stringify(String(port))}`,
        "      path: \"/metrics\"",
        `      interval: "${SCRAPE_INTERVAL_SECONDS}s"`,
        "      timeout: \"10s\"",
        "      metricRelabeling:",
        "        - action: \"keep\"",
        "          sourceLabels: [\"__name__\"]",
        `          regex: ${JSON.stringify(keep)}`,
        // revision_name, service_name on every series; not instanceId/configuration (the
        // resource's `instance` label already names the instance).
        "  targetLabels:",
        "    metadata: [\"revision\", \"service\"]",
        "",
    ].join("\n");
}
