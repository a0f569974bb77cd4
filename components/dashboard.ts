// A Cloud Monitoring dashboard for one vLLM service on Cloud Run: Cloud Run's built-in metrics
// (cloud_run_revision) and, when the GMP sidecar runs, vLLM's own Prometheus metrics
// (prometheus_target, see config/metrics.ts). dashboardDefinition() is pure: it returns the
// dashboard as plain JSON-serialisable objects in the Monitoring API's JSON form
// (google.monitoring.dashboard.v1.Dashboard, lowerCamelCase field names, enums as strings,
// durations as "60s"), ready for JSON.stringify into gcp.monitoring.Dashboard's dashboardJson.
//
// Every chart uses timeSeriesQuery.timeSeriesFilter (not PromQL or MQL) so its filter can be
// read and checked; every filter pins the project, the service and the region (with several
// regions, all of them: `resource.labels.location = one_of(...)`).
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
    /** The home region; the only one unless `regions` lists more. */
    region: string;
    /**
     * Every region the service (same name in each) runs in, home first: `regions[0]` must be
     * `region`. With two or more, every chart covers all of them, and the request, instance,
     * latency, GPU utilization and running/waiting charts draw one line per region.
     * Default: `[region]` (and `[]` means the same).
     */
    regions?: readonly string[];
    serviceName: string;
    /** The service's max instance count: drawn as a threshold line on the instance chart. */
    maxInstances: number;
    /** Each region's own max instance count (only regions in `regions`). Default: `maxInstances` for every region. */
    maxInstancesByRegion?: Readonly<Record<string, number>>;
    /** Whether the GMP sidecar exports vLLM's metrics (adds the vLLM section). */
    metrics: boolean;
    displayName: string;
}

/** The regions a service runs in, as the dashboard and the alert policies use them. */
export interface RegionPlan {
    /** The home region (`region`), first of `regions`. */
    home: string;
    /** Every region, home first. */
    regions: readonly string[];
    /** Two or more regions: filters take all of them and per-region charts and alerts split by `location`. */
    multi: boolean;
    /** Each region's max instance count. */
    maxInstances: Readonly<Record<string, number>>;
}

/** A Cloud Run region name (us-central1, europe-west4): safe in a filter literal and in a PromQL regex without escaping. */
const REGION = /^[a-z][a-z0-9-]*[0-9]$/;

/**
 * Checks and completes the region arguments shared by the dashboard and the alert policies:
 * `regions` defaults to `[region]` and must start with it; `maxInstancesByRegion` defaults to
 * `maxInstances` for every region. With one region nothing is checked beyond what the filters
 * check, so a single-region stack's dashboard and policies stay exactly as they were.
 */
export function regionPlan(region: string, regions: readonly string[] | undefined, maxInstances: number, maxInstancesByRegion?: Readonly<Record<string, number>>): RegionPlan {
    const list = regions === undefined || regions.length === 0 ? [region] : [...regions];
    if (list[0] !== region) throw new Error(`regions must start with the home region ${JSON.stringify(region)}, got ${JSON.stringify(list)}`);
    if (new Set(list).size !== list.length) throw new Error(`regions lists a region twice: ${JSON.stringify(list)}`);
    const multi = list.length > 1;
    if (multi) {
        for (const r of list) if (!REGION.test(r)) throw new Error(`region ${JSON.stringify(r)} is not a Cloud Run region name`);
    }
    for (const [r, n] of Object.entries(maxInstancesByRegion ?? {})) {
        if (!list.includes(r)) throw new Error(`maxInstancesByRegion names ${JSON.stringify(r)}, which is not in regions (${list.join(", ")})`);
        if (!Number.isInteger(n) || n < 1) throw new Error(`maxInstancesByRegion[${JSON.stringify(r)}] must be a positive integer, got ${n}`);
    }
    return { home: region, regions: list, multi, maxInstances: Object.fromEntries(list.map((r) => [r, maxInstancesByRegion?.[r] ?? maxInstances])) };
}

/** A filter value as a quoted literal; only characters that need no escaping in a Monitoring filter. */
function literal(value: string, what: string): string {
    if (!/^[A-Za-z0-9._:/-]+$/.test(value)) throw new Error(`${what} ${JSON.stringify(value)} cannot go in a Monitoring filter`);
    return `"${value}"`;
}

/**
 * `key = "value" AND ...`, the Monitoring filter syntax; a list of values is
 * `key = one_of("a", "b")`, the filter syntax's function for "equals any of"
 * (https://cloud.google.com/monitoring/api/v3/filters; Google's own samples use it on resource
 * labels, e.g. GoogleCloudPlatform/monitoring-dashboard-samples alerts/google-cloud-chronicle).
 */
function filterOf(clauses: readonly (readonly [string, string | readonly string[]])[]): string {
    return clauses.map(([k, v]) => `${k} = ${typeof v === "string" ? literal(v, k) : `one_of(${v.map((x) => literal(x, k)).join(", ")})`}`).join(" AND ");
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

/** p50/p95/p99 lines of a distribution: merge the series' distributions (per `groupBy` group), then take the percentile. */
function percentiles(filter: string, aligner: Aligner, which: readonly Percentile[], unit?: string, legendSuffix = "", groupBy?: string[]): Series[] {
    return which.map((p) => ({ filter, aligner, reducer: percentileReducer(p), groupBy, legend: `p${p}${legendSuffix}`, unit }));
}

/** Group-by field and legend of a per-region line. */
const BY_REGION = "resource.label.location";
const REGION_LEGEND = "${resource.labels.location}";

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

function cloudRunSection(o: DashboardOptions, plan: RegionPlan): Section {
    const f = (metricType: string) => filterOf([
        ["metric.type", metricType],
        ["resource.type", "cloud_run_revision"],
        ["resource.labels.project_id", o.project],
        ["resource.labels.service_name", o.serviceName],
        ["resource.labels.location", plan.multi ? plan.regions : o.region],
    ]);
    const rate = (metricType: string, legend: string, groupBy?: string[]): Series =>
        ({ filter: f(metricType), aligner: "ALIGN_RATE", reducer: "REDUCE_SUM", groupBy, legend });
    const billable = chart("Billable instance time (billed instance-seconds per second)", "instances billed", [
        { ...rate(CLOUD_RUN_METRICS.billableInstanceTime, "billable instance-seconds per second"), plot: "STACKED_AREA" },
    ]);
    const startup = chart("Instance startup latency (p50, p95)", "startup time", percentiles(f(CLOUD_RUN_METRICS.startupLatencies), "ALIGN_DELTA", [50, 95], "ms"));
    const gpuMemory = chart("GPU memory used (p50, p99)", "memory", percentiles(f(CLOUD_RUN_GPU_METRICS.memoryUsage), "ALIGN_SUM", [50, 99]));
    if (!plan.multi) {
        const max = plan.maxInstances[o.region];
        return {
            title: "Cloud Run",
            subtitle: `Service ${o.serviceName} in ${o.region}: Cloud Run's built-in metrics, all revisions together.`,
            charts: [
                chart("Requests per second, by response code class", "requests/s", [
                    { ...rate(CLOUD_RUN_METRICS.requestCount, "${metric.labels.response_code_class}", ["metric.label.response_code_class"]), plot: "STACKED_BAR" },
                ]),
                chart("Request latency (p50, p95, p99)", "latency", percentiles(f(CLOUD_RUN_METRICS.requestLatencies), "ALIGN_DELTA", PERCENTILES, "ms")),
                chart(`Instances, by state (the service allows at most ${max})`, "instances", [{
                    filter: f(CLOUD_RUN_METRICS.instanceCount), aligner: "ALIGN_MAX", reducer: "REDUCE_SUM",
                    groupBy: ["metric.label.state"], legend: "${metric.labels.state}", plot: "STACKED_AREA",
                }], [{ label: "maxInstances", value: max, color: "YELLOW", direction: "ABOVE", targetAxis: "Y1" }]),
                startup,
                chart("GPU utilization (p50, p95, p99)", "utilization", percentiles(f(CLOUD_RUN_GPU_METRICS.utilization), "ALIGN_SUM", PERCENTILES)),
                gpuMemory,
                billable,
            ],
        };
    }
    // Several regions: the charts that say whether one region is in trouble get a line per
    // region (grouped by the resource's location); the rest are summed or merged across regions.
    const perRegion = ` ${REGION_LEGEND}`;
    return {
        title: "Cloud Run",
        subtitle: `Service ${o.serviceName} in ${plan.regions.length} regions (${plan.regions.join(", ")}; home ${plan.home}): Cloud Run's built-in metrics, all revisions together. Requests, instances, request latency and GPU utilization per region; the rest across regions.`,
        charts: [
            chart("Requests per second, by region and response code class", "requests/s", [
                { ...rate(CLOUD_RUN_METRICS.requestCount, `${REGION_LEGEND} \${metric.labels.response_code_class}`, [BY_REGION, "metric.label.response_code_class"]), plot: "STACKED_BAR" },
            ]),
            chart("Request latency (p50, p95, p99), by region", "latency", percentiles(f(CLOUD_RUN_METRICS.requestLatencies), "ALIGN_DELTA", PERCENTILES, "ms", perRegion, [BY_REGION])),
            // Lines, not stacked: each region's line is compared with that region's maximum.
            chart(`Instances, by region and state (at most ${plan.regions.map((r) => `${plan.maxInstances[r]} in ${r}`).join(", ")})`, "instances", [{
                filter: f(CLOUD_RUN_METRICS.instanceCount), aligner: "ALIGN_MAX", reducer: "REDUCE_SUM",
                groupBy: [BY_REGION, "metric.label.state"], legend: `${REGION_LEGEND} \${metric.labels.state}`,
            }], maxThresholds(plan)),
            startup,
            chart("GPU utilization (p50, p95, p99), by region", "utilization", percentiles(f(CLOUD_RUN_GPU_METRICS.utilization), "ALIGN_SUM", PERCENTILES, undefined, perRegion, [BY_REGION])),
            gpuMemory,
            billable,
        ],
    };
}

/** One maxInstances line per distinct maximum, naming the regions it applies to. */
function maxThresholds(plan: RegionPlan): Threshold[] {
    const byValue = new Map<number, string[]>();
    for (const r of plan.regions) byValue.set(plan.maxInstances[r], [...(byValue.get(plan.maxInstances[r]) ?? []), r]);
    return [...byValue].map(([value, regions]) => ({ label: `maxInstances (${regions.join(", ")})`, value, color: "YELLOW", direction: "ABOVE", targetAxis: "Y1" }));
}

function vllmSection(o: DashboardOptions, plan: RegionPlan): Section {
    // The GMP Cloud Run sidecar writes vLLM's series on prometheus_target with cluster "__run__",
    // namespace = the Cloud Run service, job = the RunMonitoring name (see config/metrics.ts).
    const f = (name: string) => filterOf([
        ["metric.type", gmpMetricType(name)],
        ["resource.type", "prometheus_target"],
        ["resource.labels.project_id", o.project],
        ["resource.labels.location", plan.multi ? plan.regions : o.region],
        ["resource.labels.cluster", "__run__"],
        ["resource.labels.namespace", o.serviceName],
        ["resource.labels.job", METRICS_JOB],
    ]);
    // GMP histograms are CUMULATIVE distributions: ALIGN_DELTA, then the percentile across series.
    const hist = (name: string, which: readonly Percentile[], suffix = "") => percentiles(f(name), "ALIGN_DELTA", which, "s", suffix);
    const counterRate = (name: string, legend: string, groupBy?: string[]): Series =>
        ({ filter: f(name), aligner: "ALIGN_RATE", reducer: "REDUCE_SUM", groupBy, legend });
    // With several regions, running and waiting are per region: a queue in one region is what to see.
    const gaugeSum = (name: string, legend: string): Series => plan.multi
        ? { filter: f(name), aligner: "ALIGN_MEAN", reducer: "REDUCE_SUM", groupBy: [BY_REGION], legend: `${legend} ${REGION_LEGEND}` }
        : { filter: f(name), aligner: "ALIGN_MEAN", reducer: "REDUCE_SUM", legend };
    const gaugeMax = (name: string, legend: string): Series =>
        ({ filter: f(name), aligner: "ALIGN_MAX", reducer: "REDUCE_MAX", legend, unit: "10^2.%" });
    const bare = (name: string) => name.replace(/^vllm:/, "");
    return {
        title: "vLLM",
        subtitle: plan.multi
            ? `vLLM's own metrics from ${plan.regions.join(", ")}, scraped by the Managed Service for Prometheus sidecar, summed or merged across instances and regions; requests running and waiting per region.`
            : "vLLM's own metrics, scraped by the Managed Service for Prometheus sidecar, summed or merged across instances.",
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
            chart(plan.multi ? "Requests running vs waiting, by region (all instances)" : "Requests running vs waiting (all instances)", "requests", [
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

/** The dashboard for one service (in one region or several): Cloud Run's metrics, plus vLLM's when `metrics` is on. */
export function dashboardDefinition(opts: DashboardOptions): Dashboard {
    if (!Number.isInteger(opts.maxInstances) || opts.maxInstances < 1) throw new Error(`maxInstances must be a positive integer, got ${opts.maxInstances}`);
    const plan = regionPlan(opts.region, opts.regions, opts.maxInstances, opts.maxInstancesByRegion);
    const sections = [cloudRunSection(opts, plan)];
    if (opts.metrics) sections.push(vllmSection(opts, plan));
    return {
        displayName: opts.displayName,
        mosaicLayout: { columns: DASHBOARD_COLUMNS, tiles: layout(sections) },
    };
}
