// A Cloud Monitoring dashboard for one vLLM service on Cloud Run: Cloud Run's built-in metrics
// (cloud_run_revision) and, when the GMP sidecar runs, vLLM's own Prometheus metrics
// (prometheus_target, see config/metrics.ts). dashboardDefinition() is pure: it returns the
// dashboard as plain JSON-serialisable objects in the Monitoring API's JSON form
// (google.monitoring.dashboard.v1.Dashboard, lowerCamelCase field names, enums as strings,
// durations as "60s"), ready for JSON.stringify into gcp.monitoring.Dashboard's dashboardJson.
//
// Every chart uses timeSeriesQuery.timeSeriesFilter (not PromQL or MQL) so its filter can be
// read and checked; every filter pins the project, the service and the region.
// Aggregation recipes follow Google's samples (GoogleCloudPlatform/monitoring-dashboard-samples:
// dashboards/google-cloud-run/cloudrun-monitoring.json and dashboards/vllm/vllm-prometheus-2.json).
import { METRICS_JOB, VLLM_METRICS, gmpMetricType } from "../config/metrics";

/** Built-in Cloud Run metrics (resource cloud_run_revision) charted here. */
export const CLOUD_RUN_METRICS = {
    requestCount: "run.googleapis.com/request_count",
    requestLatencies: "run.googleapis.com/request_latencies",
    instanceCount: "run.googleapis.com/container/instance_count",
    startupLatencies: "run.googleapis.com/container/startup_latencies",
    billableInstanceTime: "run.googleapis.com/container/billable_instance_time",
} as const;

/**
 * Cloud Run's GPU metrics. NOT taken from an official metric list: Google's Cloud Run monitoring
 * page names "Container GPU utilization" and "GPU memory usage" as built-in metrics, but the
 * metric list itself was not readable when this was written; these type names come from several
 * independent public repositories, and follow the naming of container/cpu/utilizations. Their
 * metric kind (GAUGE or DELTA) and unit are unconfirmed too, hence ALIGN_SUM below (valid for GAUGE
 * and DELTA distributions alike, common.proto) and no unitOverride (the descriptor's unit applies).
 * Confirm with: gcloud monitoring metrics-descriptors list --filter='metric.type=starts_with("run.googleapis.com/container/gpu")'
 */
export const CLOUD_RUN_GPU_METRICS = {
    utilization: "run.googleapis.com/container/gpu/utilizations",
    memoryUsage: "run.googleapis.com/container/gpu/memory_usages",
} as const;

/**
 * Mosaic grid width. The proto comment (layouts.proto in @google-cloud/monitoring-dashboards 4.2.0)
 * still says "between 1 and 12", but the REST API's own reference (the discovery-generated
 * Google.Apis.Monitoring.v1 MosaicLayout.Columns: "between 1 and 48, inclusive"), the console
 * and every Google sample use 48, which gives finer placement.
 */
export const DASHBOARD_COLUMNS = 48;

/** Alignment period of every query: Cloud Run's built-in metrics are sampled every 60 s. */
export const ALIGNMENT_PERIOD = "60s";

const CHART_WIDTH = 24;
const CHART_HEIGHT = 16;
const HEADER_HEIGHT = 4;

export type Aligner = "ALIGN_DELTA" | "ALIGN_RATE" | "ALIGN_MAX" | "ALIGN_MEAN" | "ALIGN_SUM";
export type Reducer = "REDUCE_SUM" | "REDUCE_MAX" | "REDUCE_PERCENTILE_50" | "REDUCE_PERCENTILE_95" | "REDUCE_PERCENTILE_99";

export interface Aggregation {
    alignmentPeriod: string;
    perSeriesAligner: Aligner;
    crossSeriesReducer: Reducer;
    /** Absent rather than empty (see noDefaults). */
    groupByFields?: string[];
}

export interface DataSet {
    timeSeriesQuery: {
        timeSeriesFilter: { filter: string; aggregation: Aggregation };
        unitOverride?: string;
    };
    plotType: "LINE" | "STACKED_AREA" | "STACKED_BAR";
    legendTemplate: string;
    minAlignmentPeriod: string;
    targetAxis: "Y1";
}

export interface Threshold {
    label: string;
    value: number;
    color: "YELLOW" | "RED";
    direction: "ABOVE" | "BELOW";
    targetAxis: "Y1";
}

export interface XyChart {
    dataSets: DataSet[];
    thresholds?: Threshold[];
    yAxis: { label: string; scale: "LINEAR" | "LOG10" };
    chartOptions: { mode: "COLOR" };
}

export interface Widget {
    title: string;
    xyChart?: XyChart;
    sectionHeader?: { subtitle: string; dividerBelow: boolean };
}

export interface Tile {
    /** Absent rather than 0 (see noDefaults). */
    xPos?: number;
    yPos?: number;
    width: number;
    height: number;
    widget: Widget;
}

/** The subset of google.monitoring.dashboard.v1.Dashboard this module emits, in API JSON form. */
export interface Dashboard {
    displayName: string;
    mosaicLayout: { columns: number; tiles: Tile[] };
}

export interface DashboardOptions {
    project: string;
    region: string;
    serviceName: string;
    /** The service's max instance count: drawn as a threshold line on the instance chart. */
    maxInstances: number;
    /** Whether the GMP sidecar exports vLLM's metrics (adds the vLLM section). */
    metrics: boolean;
    displayName: string;
}

/** A filter value as a quoted literal; only characters that need no escaping in a Monitoring filter. */
function literal(value: string, what: string): string {
    if (!/^[A-Za-z0-9._:/-]+$/.test(value)) throw new Error(`${what} ${JSON.stringify(value)} cannot go in a Monitoring filter`);
    return `"${value}"`;
}

/** `key = "value" AND ...`, the Monitoring filter syntax. */
function filterOf(clauses: readonly (readonly [string, string])[]): string {
    return clauses.map(([k, v]) => `${k} = ${literal(v, k)}`).join(" AND ");
}

interface Series {
    filter: string;
    aligner: Aligner;
    reducer: Reducer;
    groupBy?: string[];
    legend: string;
    unit?: string;
    plot?: DataSet["plotType"];
}

function dataSet(s: Series): DataSet {
    const query: DataSet["timeSeriesQuery"] = {
        timeSeriesFilter: {
            filter: s.filter,
            aggregation: {
                alignmentPeriod: ALIGNMENT_PERIOD,
                perSeriesAligner: s.aligner,
                crossSeriesReducer: s.reducer,
                ...(s.groupBy === undefined || s.groupBy.length === 0 ? {} : { groupByFields: s.groupBy }),
            },
        },
    };
    if (s.unit !== undefined) query.unitOverride = s.unit;
    return {
        timeSeriesQuery: query,
        plotType: s.plot ?? "LINE",
        legendTemplate: s.legend,
        minAlignmentPeriod: ALIGNMENT_PERIOD,
        targetAxis: "Y1",
    };
}

function chart(title: string, yLabel: string, series: Series[], thresholds?: Threshold[]): Widget {
    const xyChart: XyChart = { dataSets: series.map(dataSet), yAxis: { label: yLabel, scale: "LINEAR" }, chartOptions: { mode: "COLOR" } };
    if (thresholds !== undefined) xyChart.thresholds = thresholds;
    return { title, xyChart };
}

const PERCENTILES = [50, 95, 99] as const;
type Percentile = (typeof PERCENTILES)[number];
const percentileReducer = (p: Percentile): Reducer => `REDUCE_PERCENTILE_${p}`;

/** p50/p95/p99 lines of a distribution: merge the series' distributions, then take the percentile. */
function percentiles(filter: string, aligner: Aligner, which: readonly Percentile[], unit?: string, legendSuffix = ""): Series[] {
    return which.map((p) => ({ filter, aligner, reducer: percentileReducer(p), legend: `p${p}${legendSuffix}`, unit }));
}

interface Section {
    title: string;
    subtitle: string;
    charts: Widget[];
}

/**
 * The API returns a dashboard in proto3 JSON, which leaves out fields at their default (0, an
 * empty list): written here, they would differ from what the provider reads back and show as a
 * change on every `pulumi up` (terraform-provider-google#16173). So 0 positions are left out.
 */
function position(xPos: number, yPos: number): { xPos?: number; yPos?: number } {
    return { ...(xPos === 0 ? {} : { xPos }), ...(yPos === 0 ? {} : { yPos }) };
}

/** Sections one below the other: a full-width header, then charts two per row. */
function layout(sections: Section[]): Tile[] {
    const tiles: Tile[] = [];
    let y = 0;
    for (const section of sections) {
        tiles.push({
            ...position(0, y), width: DASHBOARD_COLUMNS, height: HEADER_HEIGHT,
            widget: { title: section.title, sectionHeader: { subtitle: section.subtitle, dividerBelow: true } },
        });
        y += HEADER_HEIGHT;
        section.charts.forEach((widget, i) => {
            const col = i % (DASHBOARD_COLUMNS / CHART_WIDTH);
            tiles.push({ ...position(col * CHART_WIDTH, y), width: CHART_WIDTH, height: CHART_HEIGHT, widget });
            if (col === DASHBOARD_COLUMNS / CHART_WIDTH - 1 || i === section.charts.length - 1) y += CHART_HEIGHT;
        });
    }
    return tiles;
}

function cloudRunSection(o: DashboardOptions): Section {
    const f = (metricType: string) => filterOf([
        ["metric.type", metricType],
        ["resource.type", "cloud_run_revision"],
        ["resource.labels.project_id", o.project],
        ["resource.labels.service_name", o.serviceName],
        ["resource.labels.location", o.region],
    ]);
    const rate = (metricType: string, legend: string, groupBy?: string[]): Series =>
        ({ filter: f(metricType), aligner: "ALIGN_RATE", reducer: "REDUCE_SUM", groupBy, legend });
    return {
        title: "Cloud Run",
        subtitle: `Service ${o.serviceName} in ${o.region}: Cloud Run's built-in metrics, all revisions together.`,
        charts: [
            chart("Requests per second, by response code class", "requests/s", [
                { ...rate(CLOUD_RUN_METRICS.requestCount, "${metric.labels.response_code_class}", ["metric.label.response_code_class"]), plot: "STACKED_BAR" },
            ]),
            chart("Request latency (p50, p95, p99)", "latency", percentiles(f(CLOUD_RUN_METRICS.requestLatencies), "ALIGN_DELTA", PERCENTILES, "ms")),
            chart(`Instances, by state (the service allows at most ${o.maxInstances})`, "instances", [{
                filter: f(CLOUD_RUN_METRICS.instanceCount), aligner: "ALIGN_MAX", reducer: "REDUCE_SUM",
                groupBy: ["metric.label.state"], legend: "${metric.labels.state}", plot: "STACKED_AREA",
            }], [{ label: "maxInstances", value: o.maxInstances, color: "YELLOW", direction: "ABOVE", targetAxis: "Y1" }]),
            chart("Instance startup latency (p50, p95)", "startup time", percentiles(f(CLOUD_RUN_METRICS.startupLatencies), "ALIGN_DELTA", [50, 95], "ms")),
            chart("GPU utilization (p50, p95, p99)", "utilization", percentiles(f(CLOUD_RUN_GPU_METRICS.utilization), "ALIGN_SUM", PERCENTILES)),
            chart("GPU memory used (p50, p99)", "memory", percentiles(f(CLOUD_RUN_GPU_METRICS.memoryUsage), "ALIGN_SUM", [50, 99])),
            chart("Billable instance time (billed instance-seconds per second)", "instances billed", [
                { ...rate(CLOUD_RUN_METRICS.billableInstanceTime, "billable instance-seconds per second"), plot: "STACKED_AREA" },
            ]),
        ],
    };
}

function vllmSection(o: DashboardOptions): Section {
    // The GMP Cloud Run sidecar writes vLLM's series on prometheus_target with cluster "__run__",
    // namespace = the Cloud Run service, job = the RunMonitoring name (see config/metrics.ts).
    const f = (name: string) => filterOf([
        ["metric.type", gmpMetricType(name)],
        ["resource.type", "prometheus_target"],
        ["resource.labels.project_id", o.project],
        ["resource.labels.location", o.region],
        ["resource.labels.cluster", "__run__"],
        ["resource.labels.namespace", o.serviceName],
        ["resource.labels.job", METRICS_JOB],
    ]);
    // GMP histograms are CUMULATIVE distributions: ALIGN_DELTA, then the percentile across series.
    const hist = (name: string, which: readonly Percentile[], suffix = "") => percentiles(f(name), "ALIGN_DELTA", which, "s", suffix);
    const counterRate = (name: string, legend: string, groupBy?: string[]): Series =>
        ({ filter: f(name), aligner: "ALIGN_RATE", reducer: "REDUCE_SUM", groupBy, legend });
    const gaugeSum = (name: string, legend: string): Series =>
        ({ filter: f(name), aligner: "ALIGN_MEAN", reducer: "REDUCE_SUM", legend });
    const gaugeMax = (name: string, legend: string): Series =>
        ({ filter: f(name), aligner: "ALIGN_MAX", reducer: "REDUCE_MAX", legend, unit: "10^2.%" });
    const bare = (name: string) => name.replace(/^vllm:/, "");
    return {
        title: "vLLM",
        subtitle: "vLLM's own metrics, scraped by the Managed Service for Prometheus sidecar, summed or merged across instances.",
        charts: [
            chart("Time to first token (p50, p95, p99)", "seconds", hist(VLLM_METRICS.ttft, PERCENTILES)),
            // vLLM 0.10.2 exports both names (same values); later releases only the new one.
            chart("Inter-token latency (p50, p95, p99)", "seconds", [
                ...hist(VLLM_METRICS.interTokenLatency, PERCENTILES, ` ${bare(VLLM_METRICS.interTokenLatency)}`),
                ...hist(VLLM_METRICS.interTokenLatencyOld, PERCENTILES, ` ${bare(VLLM_METRICS.interTokenLatencyOld)} (deprecated name)`),
            ]),
            chart("Request latency, end to end and waiting in the queue (p95)", "seconds", [
                ...hist(VLLM_METRICS.e2eLatency, [95], " end to end"),
                ...hist(VLLM_METRICS.queueTime, [95], " in queue"),
            ]),
            chart("Tokens per second, generated and prompt", "tokens/s", [
                counterRate(VLLM_METRICS.generationTokens, "generated tokens/s"),
                counterRate(VLLM_METRICS.promptTokens, "prompt tokens/s"),
            ]),
            chart("Requests running vs waiting (all instances)", "requests", [
                gaugeSum(VLLM_METRICS.running, "running"),
                gaugeSum(VLLM_METRICS.waiting, "waiting"),
            ]),
            // vLLM 0.10.2 exports both names (same values); later releases only the new one.
            chart("KV-cache usage (fullest instance)", "KV cache used", [
                gaugeMax(VLLM_METRICS.kvCacheUsage, bare(VLLM_METRICS.kvCacheUsage)),
                gaugeMax(VLLM_METRICS.kvCacheUsageOld, `${bare(VLLM_METRICS.kvCacheUsageOld)} (deprecated name)`),
            ]),
            chart("Preemptions per second", "preemptions/s", [counterRate(VLLM_METRICS.preemptions, "preemptions/s")]),
            chart("Finished requests per second, by finish reason", "requests/s", [
                { ...counterRate(VLLM_METRICS.requestSuccess, "${metric.labels.finished_reason}", ["metric.label.finished_reason"]), plot: "STACKED_BAR" },
            ]),
        ],
    };
}

/** The dashboard for one service: Cloud Run's metrics, plus vLLM's when `metrics` is on. */
export function dashboardDefinition(opts: DashboardOptions): Dashboard {
    if (!Number.isInteger(opts.maxInstances) || opts.maxInstances < 1) throw new Error(`maxInstances must be a positive integer, got ${opts.maxInstances}`);
    const sections = [cloudRunSection(opts)];
    if (opts.metrics) sections.push(vllmSection(opts));
    return {
        displayName: opts.displayName,
        mosaicLayout: { columns: DASHBOARD_COLUMNS, tiles: layout(sections) },
    };
}
