// The Cloud Monitoring dashboard (components/dashboard.ts), checked three ways: against the
// dashboard proto Google ships (test/monitoring-protos.ts, a strict proto3-JSON walker, itself
// tested first), by parsing every query filter with a strict parser of the filter subset the
// dashboard emits (labels from allow-lists per monitored resource and metric), and by layout
// geometry. No cloud calls: the API (or `gcloud monitoring dashboards create --validate-only`)
// stays the final judge.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import {
    CLOUD_RUN_GPU_METRICS, CLOUD_RUN_METRICS, DASHBOARD_COLUMNS, Dashboard, DashboardOptions, DataSet, Tile, dashboardDefinition, regionPlan,
} from "../components/dashboard";
import { METRICS_JOB, VLLM_METRICS, VLLM_METRIC_KINDS, gmpMetricType } from "../config/metrics";
import { alertPolicyProblems, dashboardProblems, dashboardsRoot, monitoringRoot, protoProblems } from "./monitoring-protos";

const OPTS: DashboardOptions = {
    project: "my-proj", region: "us-central1", serviceName: "vllm-cloudrun-dev", maxInstances: 3, metrics: true, displayName: "vLLM on Cloud Run (dev)",
};
const def = (over: Partial<DashboardOptions> = {}): Dashboard => dashboardDefinition({ ...OPTS, ...over });
/** Two regions, home first, the second with a lower maximum. */
const TWO = ["us-central1", "europe-west4"];
const MULTI: Partial<DashboardOptions> = { regions: TWO, maxInstancesByRegion: { "europe-west4": 2 } };
/** Every shape the dashboard takes: with and without vLLM metrics, one region and two. */
const ALL_SHAPES = (): Dashboard[] => [def(), def({ metrics: false }), def(MULTI), def({ ...MULTI, metrics: false })];

// ---------------------------------------------------------------------------------------------
// The validator itself.

/** A small valid dashboard to mutate. */
function sample(): any {
    return {
        displayName: "d",
        labels: { team: "ml" },
        mosaicLayout: {
            columns: 48,
            tiles: [{
                xPos: 0, yPos: 0, width: 24, height: 16,
                widget: {
                    title: "t",
                    xyChart: {
                        dataSets: [{
                            timeSeriesQuery: {
                                timeSeriesFilter: {
                                    filter: "metric.type = \"x\"",
                                    aggregation: { alignmentPeriod: "60s", perSeriesAligner: "ALIGN_RATE", crossSeriesReducer: "REDUCE_SUM", groupByFields: ["metric.label.a"] },
                                },
                            },
                            plotType: "LINE",
                            minAlignmentPeriod: "60s",
                        }],
                        thresholds: [{ label: "max", value: 3 }],
                        yAxis: { scale: "LINEAR" },
                    },
                },
            }],
        },
    };
}
const ds = (d: any): any => d.mosaicLayout.tiles[0].widget.xyChart.dataSets[0];
const agg = (d: any): any => ds(d).timeSeriesQuery.timeSeriesFilter.aggregation;

function assertProblem(problems: string[], path: string, text: RegExp): void {
    assert.ok(problems.some((p) => p.startsWith(`${path}: `) && text.test(p)), `expected a problem at ${path} matching ${text}, got:\n${problems.join("\n")}`);
}

describe("monitoring-protos: the strict proto3 JSON checker", () => {
    it("loads both packages' protos", () => {
        assert.ok(dashboardsRoot().lookupType("google.monitoring.dashboard.v1.Dashboard"));
        assert.ok(monitoringRoot().lookupType("google.monitoring.v3.AlertPolicy"));
        assert.throws(() => protoProblems(dashboardsRoot(), "google.monitoring.dashboard.v1.NoSuchThing", {}));
    });

    it("accepts a valid dashboard", () => {
        assert.deepEqual(dashboardProblems(sample()), []);
    });

    it("refuses unknown fields, including proto (snake_case) names, at their JSON path", () => {
        const d = sample();
        d.mosaicLayout.tiles[0].widget.xyChart.showLegend = false;
        d.display_name = "d";
        d.mosaicLayout.tiles[0].x_pos = 1;
        const p = dashboardProblems(d);
        assertProblem(p, "$.mosaicLayout.tiles[0].widget.xyChart.showLegend", /unknown field "showLegend" of google\.monitoring\.dashboard\.v1\.XyChart/);
        assertProblem(p, "$.display_name", /unknown field/);
        assertProblem(p, "$.mosaicLayout.tiles[0].x_pos", /unknown field/);
        assert.equal(p.length, 3);
    });

    it("refuses enum values that are not names of the enum, and enum numbers", () => {
        const d = sample();
        agg(d).perSeriesAligner = "ALIGN_AVERAGE";
        agg(d).crossSeriesReducer = 4;
        ds(d).plotType = "line";
        const p = dashboardProblems(d);
        const at = "$.mosaicLayout.tiles[0].widget.xyChart.dataSets[0]";
        assertProblem(p, `${at}.timeSeriesQuery.timeSeriesFilter.aggregation.perSeriesAligner`, /"ALIGN_AVERAGE" is not a value of enum google\.monitoring\.dashboard\.v1\.Aggregation\.Aligner/);
        assertProblem(p, `${at}.timeSeriesQuery.timeSeriesFilter.aggregation.crossSeriesReducer`, /expected a name of enum/);
        assertProblem(p, `${at}.plotType`, /not a value of enum/);
        assert.equal(p.length, 3);
    });

    it("refuses two members of one oneof", () => {
        const d = sample();
        d.mosaicLayout.tiles[0].widget.text = { content: "hi" };
        d.gridLayout = { columns: "2" };
        ds(d).timeSeriesQuery.prometheusQuery = "up";
        const p = dashboardProblems(d);
        assertProblem(p, "$", /oneof layout has more than one member set: gridLayout, mosaicLayout/);
        assertProblem(p, "$.mosaicLayout.tiles[0].widget", /oneof content has more than one member set: xyChart, text/);
        assertProblem(p, "$.mosaicLayout.tiles[0].widget.xyChart.dataSets[0].timeSeriesQuery", /oneof source .*timeSeriesFilter, prometheusQuery/);
        assert.equal(p.length, 3);
    });

    it("takes durations only as proto3 JSON strings", () => {
        for (const good of ["60s", "0s", "0.5s", "-1.000000001s", "3600s"]) {
            const d = sample();
            agg(d).alignmentPeriod = good;
            assert.deepEqual(dashboardProblems(d), [], good);
        }
        for (const bad of ["60", "1m", "60.s", "1.0000000001s", " 60s", "PT60S", 60, { seconds: 60 }]) {
            const d = sample();
            agg(d).alignmentPeriod = bad;
            const p = dashboardProblems(d);
            assertProblem(p, "$.mosaicLayout.tiles[0].widget.xyChart.dataSets[0].timeSeriesQuery.timeSeriesFilter.aggregation.alignmentPeriod", /duration string/);
            assert.equal(p.length, 1, JSON.stringify(bad));
        }
    });

    it("checks repeated fields, maps, scalars, nulls and required fields", () => {
        const d = sample();
        agg(d).groupByFields = "metric.label.a";
        d.labels = { team: 1 };
        d.mosaicLayout.columns = "48";
        d.mosaicLayout.tiles[0].width = 2.5;
        d.mosaicLayout.tiles[0].widget.xyChart.thresholds[0].value = "3";
        d.mosaicLayout.tiles[0].widget.xyChart.yAxis = null;
        d.mosaicLayout.tiles[0].widget.xyChart.dataSets.push({ plotType: "LINE" });
        d.displayName = undefined;
        const p = dashboardProblems(d);
        const chart = "$.mosaicLayout.tiles[0].widget.xyChart";
        assertProblem(p, `${chart}.dataSets[0].timeSeriesQuery.timeSeriesFilter.aggregation.groupByFields`, /expected an array/);
        assertProblem(p, "$.labels.team", /expected a string/);
        assertProblem(p, "$.mosaicLayout.columns", /expected an integer number \(int32\)/);
        assertProblem(p, "$.mosaicLayout.tiles[0].width", /expected an integer number/);
        assertProblem(p, `${chart}.thresholds[0].value`, /expected a finite number \(double\)/);
        assertProblem(p, `${chart}.yAxis`, /null is not allowed/);
        assertProblem(p, `${chart}.dataSets[1].timeSeriesQuery`, /required field of google\.monitoring\.dashboard\.v1\.XyChart\.DataSet is missing/);
        assertProblem(p, "$.displayName", /required field/);
        assert.equal(p.length, 8, p.join("\n"));
        const empty = sample();
        empty.mosaicLayout.tiles[0].widget.xyChart.dataSets = [];
        assertProblem(dashboardProblems(empty), "$.mosaicLayout.tiles[0].widget.xyChart.dataSets", /required field/);
        assertProblem(dashboardProblems([]), "$", /expected an object/);
    });

    it("checks alert policies: PromQL and log-match conditions, wrappers, int64, timestamps, Any", () => {
        const policy = {
            displayName: "vLLM waiting",
            combiner: "OR",
            enabled: true,
            userLabels: { service: "vllm" },
            conditions: [
                { displayName: "queue", conditionPrometheusQueryLanguage: { query: "sum(vllm:num_requests_waiting) > 10", duration: "300s", evaluationInterval: "60s", disableMetricValidation: true, labels: { severity: "warning" } } },
                { displayName: "errors", conditionMatchedLog: { filter: "severity>=ERROR", labelExtractors: { model: "EXTRACT(jsonPayload.model)" } } },
                { displayName: "sql", conditionSql: { query: "SELECT 1", minutes: { periodicity: 5 }, rowCountTest: { comparison: "COMPARISON_GT", threshold: "9007199254740993" } } },
            ],
            alertStrategy: { autoClose: "1800s" },
            mutationRecord: { mutateTime: "2025-01-02T03:04:05.123Z", mutatedBy: "me" },
            validity: { code: 0, details: [{ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "x" }] },
        };
        assert.deepEqual(alertPolicyProblems(policy), []);

        const bad: any = structuredClone(policy);
        bad.conditions[0].conditionMatchedLog = { filter: "x" };
        bad.conditions[1].conditionMatchedLog.filter = undefined;
        bad.conditions[0].conditionPrometheusQueryLanguage.disableMetricValidation = "true";
        bad.conditions[0].conditionPrometheusQueryLanguage.duration = "5m";
        bad.conditions[2].conditionSql.rowCountTest.threshold = "1e3";
        bad.enabled = { value: true };
        bad.mutationRecord.mutateTime = "yesterday";
        bad.validity.details[0] = { reason: "no type" };
        bad.combiner = "XOR";
        bad.severity = "CRITICAL";
        bad.notificationChannels = "projects/p/notificationChannels/1";
        const p = alertPolicyProblems(bad);
        assertProblem(p, "$.conditions[0]", /oneof condition has more than one member set: conditionMatchedLog, conditionPrometheusQueryLanguage/);
        assertProblem(p, "$.conditions[1].conditionMatchedLog.filter", /required field/);
        assertProblem(p, "$.conditions[0].conditionPrometheusQueryLanguage.disableMetricValidation", /expected a boolean/);
        assertProblem(p, "$.conditions[0].conditionPrometheusQueryLanguage.duration", /duration string/);
        assertProblem(p, "$.conditions[2].conditionSql.rowCountTest.threshold", /integer number or decimal string \(int64\)/);
        assertProblem(p, "$.enabled", /expected a boolean/);
        assertProblem(p, "$.mutationRecord.mutateTime", /RFC 3339/);
        assertProblem(p, "$.validity.details[0]", /"@type"/);
        assertProblem(p, "$.combiner", /not a value of enum google\.monitoring\.v3\.AlertPolicy\.ConditionCombinerType/);
        assert.ok(!p.some((x) => x.startsWith("$.severity:")), "CRITICAL is a Severity value");
        assertProblem(p, "$.notificationChannels", /expected an array/);
        assert.equal(p.length, 10, p.join("\n"));
    });

    it("handles Struct, Value and ListValue as free JSON", () => {
        const root = monitoringRoot();
        assert.deepEqual(protoProblems(root, "google.protobuf.Struct", { a: [1, "x", null, { b: true }] }), []);
        assert.deepEqual(protoProblems(root, "google.protobuf.Value", null), []);
        assertProblem(protoProblems(root, "google.protobuf.Struct", [1]), "$", /expected an object \(Struct\)/);
        assertProblem(protoProblems(root, "google.protobuf.ListValue", { a: 1 }), "$", /expected an array/);
        assertProblem(protoProblems(root, "google.protobuf.Struct", { a: Infinity }), "$.a", /finite number/);
    });
});

// ---------------------------------------------------------------------------------------------
// A strict parser of the filter subset the dashboard emits: `key = "value"` clauses joined by
// " AND ", keys from allow-lists.

/** Labels of each monitored resource type the dashboard may use. */
const RESOURCE_LABELS: Readonly<Record<string, readonly string[]>> = {
    cloud_run_revision: ["project_id", "service_name", "revision_name", "location", "configuration_name"],
    // GMP's resource; on Cloud Run cluster="__run__", namespace=<service>, job=<RunMonitoring name>.
    prometheus_target: ["project_id", "location", "cluster", "namespace", "job", "instance"],
};

const CLOUD_RUN_REQUEST_LABELS = ["response_code", "response_code_class", "route_type"];
/** vLLM's labels plus the ones the sidecar adds (targetLabels.metadata: revision, service). */
const VLLM_LABELS = ["model_name", "engine", "service_name", "revision_name"];

/** The metric types a chart may use, with their metric labels, and their monitored resource. */
const METRIC_TYPES: ReadonlyMap<string, { resource: string; labels: readonly string[] }> = new Map([
    ["run.googleapis.com/request_count", { resource: "cloud_run_revision", labels: CLOUD_RUN_REQUEST_LABELS }],
    ["run.googleapis.com/request_latencies", { resource: "cloud_run_revision", labels: CLOUD_RUN_REQUEST_LABELS }],
    ["run.googleapis.com/container/instance_count", { resource: "cloud_run_revision", labels: ["state"] }],
    ["run.googleapis.com/container/startup_latencies", { resource: "cloud_run_revision", labels: [] }],
    ["run.googleapis.com/container/gpu/utilizations", { resource: "cloud_run_revision", labels: [] }],
    ["run.googleapis.com/container/gpu/memory_usages", { resource: "cloud_run_revision", labels: [] }],
    ["run.googleapis.com/container/billable_instance_time", { resource: "cloud_run_revision", labels: [] }],
    ...Object.values(VLLM_METRICS).map((n) => [gmpMetricType(n), {
        resource: "prometheus_target",
        labels: n === VLLM_METRICS.requestSuccess ? [...VLLM_LABELS, "finished_reason"] : VLLM_LABELS,
    }] as const),
]);

/** A label's value: one literal, or the list of a `one_of(...)`. */
type LabelValue = string | string[];

interface ParsedFilter {
    metricType: string;
    resourceType: string;
    resourceLabels: Record<string, LabelValue>;
    metricLabels: Record<string, LabelValue>;
}

/** `"v"` literals: no quote, backslash or empty value (the dashboard emits none). */
const QUOTED = /^"([^"\\]+)"$/;

function parseFilter(filter: string): ParsedFilter {
    const clauses = new Map<string, LabelValue>();
    for (const clause of filter.split(" AND ")) {
        const m = /^([a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+) = (?:("[^"\\]+")|one_of\((.*)\))$/.exec(clause);
        if (!m) throw new Error(`not a key = "value" clause: ${JSON.stringify(clause)}`);
        if (clauses.has(m[1])) throw new Error(`${m[1]} given twice`);
        if (m[2] !== undefined) {
            clauses.set(m[1], QUOTED.exec(m[2])![1]);
            continue;
        }
        // one_of("a", "b", ...): two or more distinct literals, ", " between them; label values only.
        if (!/^(resource|metric)\.labels\./.test(m[1])) throw new Error(`one_of on ${m[1]}, which must be exact`);
        const values = m[3].split(", ").map((v) => {
            const q = QUOTED.exec(v);
            if (!q) throw new Error(`one_of value ${JSON.stringify(v)} is not a "value" literal`);
            return q[1];
        });
        if (values.length < 2) throw new Error(`one_of with fewer than two values: ${JSON.stringify(clause)}`);
        if (new Set(values).size !== values.length) throw new Error(`one_of lists a value twice: ${JSON.stringify(clause)}`);
        clauses.set(m[1], values);
    }
    // Exact strings: one_of was refused on them above.
    const metricType = clauses.get("metric.type") as string | undefined;
    const resourceType = clauses.get("resource.type") as string | undefined;
    if (metricType === undefined) throw new Error("no metric.type");
    if (resourceType === undefined) throw new Error("no resource.type");
    const metric = METRIC_TYPES.get(metricType);
    if (metric === undefined) throw new Error(`metric type ${metricType} is not in the allow-list`);
    if (metric.resource !== resourceType) throw new Error(`${metricType} is written on ${metric.resource}, not ${resourceType}`);
    const parsed: ParsedFilter = { metricType, resourceType, resourceLabels: {}, metricLabels: {} };
    for (const [k, v] of clauses) {
        if (k === "metric.type" || k === "resource.type") continue;
        const r = /^resource\.labels\.([a-z0-9_]+)$/.exec(k);
        const l = /^metric\.labels\.([a-z0-9_]+)$/.exec(k);
        if (r) {
            if (!RESOURCE_LABELS[resourceType].includes(r[1])) throw new Error(`${resourceType} has no label ${r[1]}`);
            parsed.resourceLabels[r[1]] = v;
        } else if (l) {
            if (!metric.labels.includes(l[1])) throw new Error(`${metricType} has no label ${l[1]}`);
            parsed.metricLabels[l[1]] = v;
        } else {
            throw new Error(`key ${k} is not allowed`);
        }
    }
    return parsed;
}

/** groupByFields entries: metric.label.<name> or resource.label.<name>, which must exist. */
function checkGroupBy(field: string, f: ParsedFilter): void {
    const m = /^(metric|resource)\.label\.([a-z0-9_]+)$/.exec(field);
    assert.ok(m, `group-by field ${field}`);
    const labels = m[1] === "metric" ? METRIC_TYPES.get(f.metricType)!.labels : RESOURCE_LABELS[f.resourceType];
    assert.ok(labels.includes(m[2]), `${f.metricType} on ${f.resourceType} has no ${m[1]} label ${m[2]}`);
}

describe("the filter parser used below", () => {
    const ok = `metric.type = "${gmpMetricType(VLLM_METRICS.running)}" AND resource.type = "prometheus_target" AND resource.labels.namespace = "s"`;

    it("parses the subset", () => {
        assert.deepEqual(parseFilter(ok), {
            metricType: "prometheus.googleapis.com/vllm:num_requests_running/gauge",
            resourceType: "prometheus_target", resourceLabels: { namespace: "s" }, metricLabels: {},
        });
        assert.deepEqual(parseFilter(`${ok} AND metric.labels.model_name = "m"`).metricLabels, { model_name: "m" });
        assert.deepEqual(parseFilter(`${ok} AND resource.labels.location = one_of("us-central1", "europe-west4")`).resourceLabels, { namespace: "s", location: ["us-central1", "europe-west4"] });
        assert.deepEqual(parseFilter(`${ok} AND resource.labels.location = one_of("a", "b", "c")`).resourceLabels.location, ["a", "b", "c"]);
    });

    it("refuses anything else", () => {
        const bad: [string, RegExp][] = [
            [ok.replace(/ = /g, "="), /not a key = "value" clause/],
            [ok.replace(" AND resource.labels", " OR resource.labels"), /not a key = "value" clause/],
            [ok.replace(" AND resource.labels", " and resource.labels"), /not a key = "value" clause/],
            [`${ok} AND `, /not a key = "value" clause/],
            [`${ok} AND resource.labels.namespace = "t"`, /given twice/],
            [`${ok} AND resource.labels.pod = "p"`, /prometheus_target has no label pod/],
            [`${ok} AND resource.labels.namespace_name = "n"`, /has no label namespace_name/],
            [`${ok} AND resource.labels.cluster_name = "c"`, /has no label cluster_name/],
            [`${ok} AND resource.labels.container_name = "c"`, /has no label container_name/],
            [`${ok} AND resource.labels.service_name = "s"`, /prometheus_target has no label service_name/],
            [`${ok} AND metric.labels.pod = "p"`, /has no label pod/],
            [`${ok} AND metric.labels.finished_reason = "stop"`, /has no label finished_reason/],
            [`${ok} AND resource.label.namespace = "s"`, /key resource\.label\.namespace is not allowed/],
            [`${ok} AND metadata.system_labels.name = "x"`, /is not allowed/],
            [ok.replace(`resource.type = "prometheus_target"`, `resource.type = "cloud_run_revision"`), /written on prometheus_target/],
            [ok.replace(`resource.type = "prometheus_target"`, `resource.type = "k8s_container"`), /written on prometheus_target/],
            [ok.replace(` AND resource.type = "prometheus_target"`, ""), /no resource\.type/],
            [`resource.type = "cloud_run_revision"`, /no metric\.type/],
            [`metric.type = "run.googleapis.com/container/gpu/utilization" AND resource.type = "cloud_run_revision"`, /not in the allow-list/],
            [`metric.type = "kubernetes.io/container/accelerator/duty_cycle" AND resource.type = "k8s_container"`, /not in the allow-list/],
            [`metric.type = starts_with("run.googleapis.com/") AND resource.type = "cloud_run_revision"`, /not a key = "value" clause/],
            [`${ok} AND resource.labels.job = "a\\"b"`, /not a key = "value" clause/],
            [`${ok} AND resource.labels.job = ""`, /not a key = "value" clause/],
            [`${ok} AND resource.labels.location = one_of("us-central1")`, /fewer than two values/],
            [`${ok} AND resource.labels.location = one_of("a", "a")`, /lists a value twice/],
            [`${ok} AND resource.labels.location = one_of("a","b")`, /not a "value" literal/],
            [`${ok} AND resource.labels.location = one_of("a", b)`, /not a "value" literal/],
            [`${ok} AND resource.labels.location = one_of("a", "")`, /not a "value" literal/],
            [`${ok} AND resource.labels.location = one_of()`, /not a "value" literal/],
            [`${ok} AND resource.labels.location = one_of ("a", "b")`, /not a key = "value" clause/],
            [`${ok} AND resource.labels.location=one_of("a", "b")`, /not a key = "value" clause/],
            [`${ok} AND resource.labels.location = any_of("a", "b")`, /not a key = "value" clause/],
            [`${ok} AND resource.labels.pod = one_of("a", "b")`, /prometheus_target has no label pod/],
            [`metric.type = one_of("${gmpMetricType(VLLM_METRICS.running)}", "x") AND resource.type = "prometheus_target"`, /one_of on metric\.type, which must be exact/],
            [ok.replace(`resource.type = "prometheus_target"`, `resource.type = one_of("prometheus_target", "k8s_container")`), /one_of on resource\.type/],
        ];
        for (const [filter, why] of bad) assert.throws(() => parseFilter(filter), why, filter);
    });
});

// ---------------------------------------------------------------------------------------------
// The dashboard.

interface Query {
    title: string;
    dataSet: DataSet;
    parsed: ParsedFilter;
}

const charts = (d: Dashboard): Tile[] => d.mosaicLayout.tiles.filter((t) => t.widget.xyChart !== undefined);
const sectionTitles = (d: Dashboard): string[] => d.mosaicLayout.tiles.filter((t) => t.widget.sectionHeader !== undefined).map((t) => t.widget.title);

function queries(d: Dashboard): Query[] {
    return charts(d).flatMap((t) => t.widget.xyChart!.dataSets.map((dataSet) => ({
        title: t.widget.title, dataSet, parsed: parseFilter(dataSet.timeSeriesQuery.timeSeriesFilter.filter),
    })));
}

const seconds = (duration: string): number => {
    const m = /^(\d+)s$/.exec(duration);
    assert.ok(m, duration);
    return Number(m[1]);
};

const VLLM_NAMES = new Map(Object.values(VLLM_METRICS).map((n) => [gmpMetricType(n), n]));

describe("dashboardDefinition", () => {
    it("is a valid google.monitoring.dashboard.v1.Dashboard, with vLLM metrics and without, and plain JSON", () => {
        for (const over of [{}, { metrics: false }, { maxInstances: 1 }, { maxInstances: 20, metrics: false }, MULTI, { ...MULTI, metrics: false }, { regions: [...TWO, "us-east4"] }]) {
            const d = def(over);
            assert.deepEqual(dashboardProblems(d), [], JSON.stringify(over));
            assert.deepEqual(JSON.parse(JSON.stringify(d)), d);
            assert.equal(d.displayName, OPTS.displayName);
            assert.equal(d.mosaicLayout.columns, DASHBOARD_COLUMNS);
        }
    });

    it("has sections, and a human title on every tile, each chart's distinct", () => {
        assert.deepEqual(sectionTitles(def()), ["Cloud Run", "vLLM"]);
        assert.deepEqual(sectionTitles(def({ metrics: false })), ["Cloud Run"]);
        assert.deepEqual(sectionTitles(def(MULTI)), ["Cloud Run", "vLLM"]);
        for (const d of ALL_SHAPES()) {
            const titles = charts(d).map((t) => t.widget.title);
            assert.equal(new Set(titles).size, titles.length, "chart titles are distinct");
            for (const t of d.mosaicLayout.tiles) assert.match(t.widget.title, /^[A-Za-z][A-Za-z0-9 ,()-]{3,}$/, t.widget.title);
        }
    });

    it("without vLLM metrics has no prometheus_target chart at all", () => {
        const d = def({ metrics: false });
        assert.ok(queries(d).length > 0);
        for (const q of queries(d)) assert.equal(q.parsed.resourceType, "cloud_run_revision", q.title);
        assert.doesNotMatch(JSON.stringify(d), /prometheus|vllm:/);
    });

    it("charts every built-in Cloud Run metric listed, both with and without vLLM metrics", () => {
        const expected = [...Object.values(CLOUD_RUN_METRICS), ...Object.values(CLOUD_RUN_GPU_METRICS)].sort();
        assert.equal(expected.length, 7);
        for (const d of [def(), def({ metrics: false })]) {
            const charted = new Set(queries(d).filter((q) => q.parsed.resourceType === "cloud_run_revision").map((q) => q.parsed.metricType));
            assert.deepEqual([...charted].sort(), expected);
        }
    });

    it("with vLLM metrics charts every metric the sidecar keeps", () => {
        const leftOut: string[] = []; // every VLLM_METRICS entry is charted
        const charted = new Set(queries(def()).filter((q) => q.parsed.resourceType === "prometheus_target").map((q) => VLLM_NAMES.get(q.parsed.metricType)));
        assert.deepEqual([...charted].sort(), Object.values(VLLM_METRICS).filter((n) => !leftOut.includes(n)).sort());
    });

    it("pins every filter to this project, service and region (and the sidecar's target labels)", () => {
        for (const q of queries(def())) {
            const r = q.parsed.resourceLabels;
            assert.equal(r.project_id, OPTS.project, q.title);
            assert.equal(r.location, OPTS.region, q.title);
            if (q.parsed.resourceType === "cloud_run_revision") {
                assert.deepEqual(Object.keys(r).sort(), ["location", "project_id", "service_name"], q.title);
                assert.equal(r.service_name, OPTS.serviceName, q.title);
            } else {
                assert.deepEqual(r, { project_id: OPTS.project, location: OPTS.region, cluster: "__run__", namespace: OPTS.serviceName, job: METRICS_JOB }, q.title);
            }
            assert.deepEqual(q.parsed.metricLabels, {}, q.title);
        }
    });

    it("lets another service, region and project flow into every filter", () => {
        const other = { project: "other-proj-42", region: "europe-west4", serviceName: "chat-prod" };
        const qs = queries(def(other));
        assert.equal(qs.length, queries(def()).length);
        for (const q of qs) {
            const r = q.parsed.resourceLabels;
            assert.equal(r.project_id, other.project);
            assert.equal(r.location, other.region);
            assert.equal(r.service_name ?? r.namespace, other.serviceName);
            const filter = q.dataSet.timeSeriesQuery.timeSeriesFilter.filter;
            for (const old of [OPTS.project, OPTS.region, OPTS.serviceName]) assert.ok(!filter.includes(old), `${q.title}: ${filter}`);
        }
    });

    it("refuses values that cannot be put in a filter, and a bad maxInstances", () => {
        assert.throws(() => def({ serviceName: 'a" OR metric.type = "b' }), /cannot go in a Monitoring filter/);
        assert.throws(() => def({ region: "" }), /cannot go in a Monitoring filter/);
        assert.throws(() => def({ maxInstances: 0 }), /maxInstances/);
        assert.throws(() => def({ maxInstances: 1.5 }), /maxInstances/);
    });

    it("aggregates per series then across series, every 60 s or more, grouping only by labels that exist", () => {
        for (const q of ALL_SHAPES().flatMap(queries)) {
            const a = q.dataSet.timeSeriesQuery.timeSeriesFilter.aggregation;
            assert.ok(seconds(a.alignmentPeriod) >= 60, q.title);
            assert.ok(seconds(q.dataSet.minAlignmentPeriod) >= 60, q.title);
            assert.ok(a.perSeriesAligner && a.crossSeriesReducer, q.title);
            for (const g of a.groupByFields ?? []) checkGroupBy(g, q.parsed);
            for (const [, kind, label] of q.dataSet.legendTemplate.matchAll(/\$\{(metric|resource)\.labels\.([a-z_]+)\}/g)) {
                assert.ok((a.groupByFields ?? []).includes(`${kind}.label.${label}`), `${q.title}: legend names ${kind} label ${label}, which is not grouped by`);
            }
            assert.doesNotMatch(q.dataSet.legendTemplate.replace(/\$\{(metric|resource)\.labels\.[a-z_]+\}/g, ""), /\$\{/, `${q.title}: only label variables in legends`);
        }
    });

    it("uses the aggregation each metric kind needs", () => {
        const percentile = /^REDUCE_PERCENTILE_(50|95|99)$/;
        for (const q of queries(def())) {
            const a = q.dataSet.timeSeriesQuery.timeSeriesFilter.aggregation;
            const name = VLLM_NAMES.get(q.parsed.metricType);
            const recipe = `${a.perSeriesAligner} ${a.crossSeriesReducer} [${(a.groupByFields ?? []).join(",")}]`;
            if (name !== undefined) {
                const kind = VLLM_METRIC_KINDS[name];
                if (kind === "histogram") assert.ok(a.perSeriesAligner === "ALIGN_DELTA" && percentile.test(a.crossSeriesReducer), `${name}: ${recipe}`);
                else if (kind === "counter") assert.ok(a.perSeriesAligner === "ALIGN_RATE" && a.crossSeriesReducer === "REDUCE_SUM", `${name}: ${recipe}`);
                else assert.ok(["ALIGN_MEAN REDUCE_SUM", "ALIGN_MAX REDUCE_MAX"].includes(`${a.perSeriesAligner} ${a.crossSeriesReducer}`), `${name}: ${recipe}`);
                if (name === VLLM_METRICS.requestSuccess) assert.deepEqual(a.groupByFields, ["metric.label.finished_reason"]);
                else assert.equal(a.groupByFields, undefined, name);
                continue;
            }
            switch (q.parsed.metricType) {
                case CLOUD_RUN_METRICS.requestCount:
                    assert.equal(recipe, "ALIGN_RATE REDUCE_SUM [metric.label.response_code_class]");
                    break;
                case CLOUD_RUN_METRICS.instanceCount:
                    assert.equal(recipe, "ALIGN_MAX REDUCE_SUM [metric.label.state]");
                    break;
                case CLOUD_RUN_METRICS.billableInstanceTime:
                    assert.equal(recipe, "ALIGN_RATE REDUCE_SUM []");
                    break;
                case CLOUD_RUN_METRICS.requestLatencies:
                case CLOUD_RUN_METRICS.startupLatencies:
                    assert.ok(a.perSeriesAligner === "ALIGN_DELTA" && percentile.test(a.crossSeriesReducer), `${q.parsed.metricType}: ${recipe}`);
                    break;
                case CLOUD_RUN_GPU_METRICS.utilization:
                case CLOUD_RUN_GPU_METRICS.memoryUsage:
                    // Kind unconfirmed (GAUGE or DELTA distribution): ALIGN_SUM is valid for both.
                    assert.ok(a.perSeriesAligner === "ALIGN_SUM" && percentile.test(a.crossSeriesReducer), `${q.parsed.metricType}: ${recipe}`);
                    break;
                default:
                    assert.fail(`unexpected metric ${q.parsed.metricType}`);
            }
        }
    });

    it("shows the percentiles asked for, with one legend per line", () => {
        const reducers = (title: RegExp, metricType: string): string[] => queries(def())
            .filter((q) => title.test(q.title) && q.parsed.metricType === metricType)
            .map((q) => q.dataSet.timeSeriesQuery.timeSeriesFilter.aggregation.crossSeriesReducer);
        const p = (...n: number[]) => n.map((x) => `REDUCE_PERCENTILE_${x}`);
        assert.deepEqual(reducers(/^Request latency \(/, CLOUD_RUN_METRICS.requestLatencies), p(50, 95, 99));
        assert.deepEqual(reducers(/startup/, CLOUD_RUN_METRICS.startupLatencies), p(50, 95));
        assert.deepEqual(reducers(/first token/, gmpMetricType(VLLM_METRICS.ttft)), p(50, 95, 99));
        assert.deepEqual(reducers(/Inter-token/, gmpMetricType(VLLM_METRICS.interTokenLatency)), p(50, 95, 99));
        assert.deepEqual(reducers(/Inter-token/, gmpMetricType(VLLM_METRICS.interTokenLatencyOld)), p(50, 95, 99));
        assert.deepEqual(reducers(/end to end/, gmpMetricType(VLLM_METRICS.e2eLatency)), p(95));
        assert.deepEqual(reducers(/queue/, gmpMetricType(VLLM_METRICS.queueTime)), p(95));
        for (const t of ALL_SHAPES().flatMap(charts)) {
            const legends = t.widget.xyChart!.dataSets.map((d) => d.legendTemplate);
            assert.ok(legends.every((l) => l.length > 0), t.widget.title);
            assert.equal(new Set(legends).size, legends.length, `${t.widget.title}: ${legends.join(" | ")}`);
        }
        const itl = charts(def()).find((t) => /Inter-token/.test(t.widget.title))!.widget.xyChart!.dataSets;
        assert.equal(itl.length, 6);
        for (const d of itl) {
            const name = VLLM_NAMES.get(parseFilter(d.timeSeriesQuery.timeSeriesFilter.filter).metricType)!;
            assert.ok(d.legendTemplate.includes(name.replace("vllm:", "")), `legend ${d.legendTemplate} says which metric`);
        }
    });

    it("draws maxInstances as a threshold on the instance chart, and nowhere else", () => {
        for (const maxInstances of [1, 3, 7]) {
            const withThresholds = charts(def({ maxInstances })).filter((t) => (t.widget.xyChart!.thresholds ?? []).length > 0);
            assert.equal(withThresholds.length, 1);
            const chart = withThresholds[0].widget.xyChart!;
            assert.deepEqual(chart.dataSets.map((d) => parseFilter(d.timeSeriesQuery.timeSeriesFilter.filter).metricType), [CLOUD_RUN_METRICS.instanceCount]);
            assert.equal(chart.thresholds!.length, 1);
            assert.equal(chart.thresholds![0].value, maxInstances);
            assert.equal(chart.thresholds![0].label, "maxInstances");
        }
    });

    it("uses no GKE label or resource anywhere", () => {
        for (const d of ALL_SHAPES()) {
            const json = JSON.stringify(d);
            const words = new Set(json.split(/[^A-Za-z0-9_]+/));
            for (const gke of ["pod", "pod_name", "container_name", "namespace_name", "cluster_name", "node", "node_name", "k8s_container", "k8s_pod", "k8s_node", "k8s_cluster"]) {
                assert.ok(!words.has(gke), `${gke} appears in the dashboard`);
            }
            assert.doesNotMatch(json, /kubernetes\.io|gke/i);
            for (const q of queries(d)) assert.ok(!/prometheusQuery|timeSeriesQueryLanguage/.test(JSON.stringify(q.dataSet)), q.title);
        }
    });

    it("holds no field at its proto3 default (0, empty list, false, empty string), which the API leaves out and the provider would then show as a change on every up", () => {
        for (const d of ALL_SHAPES()) {
            const defaults: string[] = [];
            const walk = (v: unknown, at: string): void => {
                if (v === 0 || v === false || v === "" || (Array.isArray(v) && v.length === 0)) defaults.push(at);
                if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${at}[${i}]`));
                else if (v !== null && typeof v === "object") for (const [k, x] of Object.entries(v)) walk(x, `${at}.${k}`);
            };
            walk(d, "dashboard");
            assert.deepEqual(defaults, []);
        }
    });

    it("lays tiles on the grid without overlap", () => {
        for (const d of ALL_SHAPES()) {
            const tiles = d.mosaicLayout.tiles.map((t) => ({ ...t, xPos: t.xPos ?? 0, yPos: t.yPos ?? 0 }));
            for (const t of tiles) {
                for (const v of [t.xPos, t.yPos, t.width, t.height]) assert.ok(Number.isInteger(v) && v >= 0, t.widget.title);
                assert.ok(t.width >= 1 && t.height >= 1, t.widget.title);
                assert.ok(t.xPos + t.width <= d.mosaicLayout.columns, `${t.widget.title} overflows the ${d.mosaicLayout.columns} columns`);
            }
            tiles.forEach((a, i) => tiles.slice(i + 1).forEach((b) => {
                const apart = a.xPos + a.width <= b.xPos || b.xPos + b.width <= a.xPos || a.yPos + a.height <= b.yPos || b.yPos + b.height <= a.yPos;
                assert.ok(apart, `${a.widget.title} overlaps ${b.widget.title}`);
            }));
            // Section headers span the grid.
            for (const t of tiles.filter((x) => x.widget.sectionHeader)) assert.equal(t.width, d.mosaicLayout.columns);
        }
    });
});

describe("dashboardDefinition with several regions", () => {
    const ONE_OF = 'resource.labels.location = one_of("us-central1", "europe-west4")';
    /** The single-region chart titles that become per-region charts, and their multi-region titles. */
    const PER_REGION_TITLES: ReadonlyMap<string, string> = new Map([
        ["Requests per second, by response code class", "Requests per second, by region and response code class"],
        ["Request latency (p50, p95, p99)", "Request latency (p50, p95, p99), by region"],
        ["Instances, by state (the service allows at most 3)", "Instances, by region and state (at most 3 in us-central1, 2 in europe-west4)"],
        ["GPU utilization (p50, p95, p99)", "GPU utilization (p50, p95, p99), by region"],
        ["Requests running vs waiting (all instances)", "Requests running vs waiting, by region (all instances)"],
    ]);
    const recipe = (d: DataSet): string => {
        const a = d.timeSeriesQuery.timeSeriesFilter.aggregation;
        return [d.legendTemplate, a.perSeriesAligner, a.crossSeriesReducer, (a.groupByFields ?? []).join(","), d.plotType, d.timeSeriesQuery.unitOverride ?? "-"].join(" | ");
    };
    const chartNamed = (d: Dashboard, title: string): Tile => {
        const found = charts(d).filter((t) => t.widget.title === title);
        assert.equal(found.length, 1, title);
        return found[0];
    };

    it("with one region (regions absent, [] or [region], maxInstancesByRegion naming it with maxInstances) is byte for byte today's dashboard", () => {
        for (const metrics of [true, false]) {
            const today = JSON.stringify(def({ metrics }));
            const same: Partial<DashboardOptions>[] = [{ regions: ["us-central1"] }, { regions: [] }, { maxInstancesByRegion: { "us-central1": 3 } }, { regions: ["us-central1"], maxInstancesByRegion: {} }];
            for (const over of same) {
                assert.equal(JSON.stringify(def({ ...over, metrics })), today, JSON.stringify(over));
            }
        }
        // Today's bytes, pinned: one exact location, no group-by region, the region named in the subtitle.
        const d = def();
        assert.equal(
            chartNamed(d, "Requests per second, by response code class").widget.xyChart!.dataSets[0].timeSeriesQuery.timeSeriesFilter.filter,
            'metric.type = "run.googleapis.com/request_count" AND resource.type = "cloud_run_revision" AND resource.labels.project_id = "my-proj" AND resource.labels.service_name = "vllm-cloudrun-dev" AND resource.labels.location = "us-central1"',
        );
        assert.equal(d.mosaicLayout.tiles[0].widget.sectionHeader!.subtitle, "Service vllm-cloudrun-dev in us-central1: Cloud Run's built-in metrics, all revisions together.");
        const json = JSON.stringify(d);
        for (const multiOnly of ["one_of", "resource.label.location", "resource.labels.location}", "by region"]) assert.ok(!json.includes(multiOnly), multiOnly);
        assert.deepEqual(chartNamed(d, "Instances, by state (the service allows at most 3)").widget.xyChart!.thresholds, [{ label: "maxInstances", value: 3, color: "YELLOW", direction: "ABOVE", targetAxis: "Y1" }]);
    });

    it("filters every chart to all regions with one_of, through the strict parser, still pinning project and service", () => {
        for (const metrics of [true, false]) {
            const qs = queries(def({ ...MULTI, metrics }));
            assert.equal(qs.length, queries(def({ metrics })).length);
            for (const q of qs) {
                const r = q.parsed.resourceLabels;
                assert.deepEqual(r.location, TWO, q.title);
                assert.equal(r.project_id, OPTS.project, q.title);
                assert.equal(r.service_name ?? r.namespace, OPTS.serviceName, q.title);
                assert.ok(q.dataSet.timeSeriesQuery.timeSeriesFilter.filter.includes(` AND ${ONE_OF}`), q.title);
            }
        }
        const d = def(MULTI);
        assert.equal(
            chartNamed(d, "Requests per second, by region and response code class").widget.xyChart!.dataSets[0].timeSeriesQuery.timeSeriesFilter.filter,
            `metric.type = "run.googleapis.com/request_count" AND resource.type = "cloud_run_revision" AND resource.labels.project_id = "my-proj" AND resource.labels.service_name = "vllm-cloudrun-dev" AND ${ONE_OF}`,
        );
        assert.deepEqual(
            chartNamed(d, "Requests running vs waiting, by region (all instances)").widget.xyChart!.dataSets.map((x) => x.timeSeriesQuery.timeSeriesFilter.filter),
            [VLLM_METRICS.running, VLLM_METRICS.waiting].map((n) => `metric.type = "${gmpMetricType(n)}" AND resource.type = "prometheus_target" AND resource.labels.project_id = "my-proj" AND ${ONE_OF} AND resource.labels.cluster = "__run__" AND resource.labels.namespace = "vllm-cloudrun-dev" AND resource.labels.job = "vllm"`),
        );
        const three = queries(def({ regions: [...TWO, "us-east4"] }));
        for (const q of three) assert.deepEqual(q.parsed.resourceLabels.location, [...TWO, "us-east4"], q.title);
    });

    it("draws request rate, request latency, instances, GPU utilization and running/waiting as one line per region, grouped by location", () => {
        const d = def(MULTI);
        const expected: Record<string, string[]> = {
            "Requests per second, by region and response code class": [
                "${resource.labels.location} ${metric.labels.response_code_class} | ALIGN_RATE | REDUCE_SUM | resource.label.location,metric.label.response_code_class | STACKED_BAR | -",
            ],
            "Request latency (p50, p95, p99), by region": [50, 95, 99].map((p) => `p${p} \${resource.labels.location} | ALIGN_DELTA | REDUCE_PERCENTILE_${p} | resource.label.location | LINE | ms`),
            "Instances, by region and state (at most 3 in us-central1, 2 in europe-west4)": [
                "${resource.labels.location} ${metric.labels.state} | ALIGN_MAX | REDUCE_SUM | resource.label.location,metric.label.state | LINE | -",
            ],
            "GPU utilization (p50, p95, p99), by region": [50, 95, 99].map((p) => `p${p} \${resource.labels.location} | ALIGN_SUM | REDUCE_PERCENTILE_${p} | resource.label.location | LINE | -`),
            "Requests running vs waiting, by region (all instances)": [
                "running ${resource.labels.location} | ALIGN_MEAN | REDUCE_SUM | resource.label.location | LINE | -",
                "waiting ${resource.labels.location} | ALIGN_MEAN | REDUCE_SUM | resource.label.location | LINE | -",
            ],
        };
        for (const [title, recipes] of Object.entries(expected)) assert.deepEqual(chartNamed(d, title).widget.xyChart!.dataSets.map(recipe), recipes, title);
        // No other chart splits by region.
        const split = charts(d).filter((t) => t.widget.xyChart!.dataSets.some((x) => (x.timeSeriesQuery.timeSeriesFilter.aggregation.groupByFields ?? []).includes("resource.label.location")));
        assert.deepEqual(split.map((t) => t.widget.title).sort(), Object.keys(expected).sort());
        assert.deepEqual([...PER_REGION_TITLES.values()].sort(), Object.keys(expected).sort());
    });

    it("keeps every other chart, and the order of all of them, as with one region: only the location clause differs", () => {
        for (const metrics of [true, false]) {
            const one = charts(def({ metrics }));
            const multi = charts(def({ ...MULTI, metrics }));
            assert.deepEqual(multi.map((t) => t.widget.title), one.map((t) => PER_REGION_TITLES.get(t.widget.title) ?? t.widget.title));
            one.forEach((t, i) => {
                if (PER_REGION_TITLES.has(t.widget.title)) return;
                const expected = JSON.stringify(t).replaceAll('resource.labels.location = \\"us-central1\\"', ONE_OF.replaceAll('"', '\\"'));
                assert.equal(JSON.stringify(multi[i]), expected, t.widget.title);
            });
        }
    });

    it("draws each region's maxInstances on the instance chart, one line per distinct maximum naming its regions", () => {
        const thresholds = (over: Partial<DashboardOptions>) => {
            const withThresholds = charts(def(over)).filter((t) => (t.widget.xyChart!.thresholds ?? []).length > 0);
            assert.equal(withThresholds.length, 1);
            assert.deepEqual(withThresholds[0].widget.xyChart!.dataSets.map((x) => parseFilter(x.timeSeriesQuery.timeSeriesFilter.filter).metricType), [CLOUD_RUN_METRICS.instanceCount]);
            return { title: withThresholds[0].widget.title, lines: withThresholds[0].widget.xyChart!.thresholds!.map((t) => [t.label, t.value, t.color, t.direction, t.targetAxis]) };
        };
        assert.deepEqual(thresholds(MULTI), {
            title: "Instances, by region and state (at most 3 in us-central1, 2 in europe-west4)",
            lines: [["maxInstances (us-central1)", 3, "YELLOW", "ABOVE", "Y1"], ["maxInstances (europe-west4)", 2, "YELLOW", "ABOVE", "Y1"]],
        });
        assert.deepEqual(thresholds({ regions: TWO }), {
            title: "Instances, by region and state (at most 3 in us-central1, 3 in europe-west4)",
            lines: [["maxInstances (us-central1, europe-west4)", 3, "YELLOW", "ABOVE", "Y1"]],
        });
        // The home region can have its own maximum too; regions sharing one share the line.
        assert.deepEqual(thresholds({ regions: [...TWO, "us-east4"], maxInstancesByRegion: { "us-central1": 5 } }), {
            title: "Instances, by region and state (at most 5 in us-central1, 3 in europe-west4, 3 in us-east4)",
            lines: [["maxInstances (us-central1)", 5, "YELLOW", "ABOVE", "Y1"], ["maxInstances (europe-west4, us-east4)", 3, "YELLOW", "ABOVE", "Y1"]],
        });
    });

    it("names the regions (home first) in the section subtitles", () => {
        const headers = def(MULTI).mosaicLayout.tiles.filter((t) => t.widget.sectionHeader).map((t) => t.widget.sectionHeader!.subtitle);
        assert.deepEqual(headers, [
            "Service vllm-cloudrun-dev in 2 regions (us-central1, europe-west4; home us-central1): Cloud Run's built-in metrics, all revisions together. Requests, instances, request latency and GPU utilization per region; the rest across regions.",
            "vLLM's own metrics from us-central1, europe-west4, scraped by the Managed Service for Prometheus sidecar, summed or merged across instances and regions; requests running and waiting per region.",
        ]);
    });

    it("refuses regions without the home region first, repeated or malformed regions, and maxima for unknown regions or below 1", () => {
        const cases: [Partial<DashboardOptions>, RegExp][] = [
            [{ regions: ["europe-west4", "us-central1"] }, /regions must start with the home region "us-central1"/],
            [{ regions: ["europe-west4"] }, /must start with the home region/],
            [{ regions: ["us-central1", "europe-west4", "europe-west4"] }, /lists a region twice/],
            [{ regions: ["us-central1", "Europe-West4"] }, /"Europe-West4" is not a Cloud Run region name/],
            [{ regions: ["us-central1", 'europe-west4" OR metric.type = "x'] }, /is not a Cloud Run region name/],
            [{ regions: ["us-central1", "europe-west.*"] }, /is not a Cloud Run region name/],
            [{ regions: TWO, maxInstancesByRegion: { "us-east4": 2 } }, /maxInstancesByRegion names "us-east4", which is not in regions \(us-central1, europe-west4\)/],
            [{ maxInstancesByRegion: { "europe-west4": 2 } }, /not in regions \(us-central1\)/],
            [{ regions: TWO, maxInstancesByRegion: { "europe-west4": 0 } }, /maxInstancesByRegion\["europe-west4"\] must be a positive integer, got 0/],
            [{ regions: TWO, maxInstancesByRegion: { "europe-west4": 1.5 } }, /positive integer/],
        ];
        for (const [over, message] of cases) assert.throws(() => def(over), message, JSON.stringify(over));
    });

    it("regionPlan: defaults to the home region and maxInstances, keeps the order given", () => {
        assert.deepEqual(regionPlan("us-central1", undefined, 3), { home: "us-central1", regions: ["us-central1"], multi: false, maxInstances: { "us-central1": 3 } });
        assert.deepEqual(regionPlan("us-central1", [], 3), regionPlan("us-central1", undefined, 3));
        assert.deepEqual(regionPlan("europe-west4", ["europe-west4", "us-central1"], 2, { "us-central1": 4 }), {
            home: "europe-west4", regions: ["europe-west4", "us-central1"], multi: true, maxInstances: { "europe-west4": 2, "us-central1": 4 },
        });
    });
});
