// Observability as the stack builds it: the Managed Prometheus sidecar and its config, the
// runtime account's one extra role, the dashboard, alert policies, uptime check and budget, and
// that each is absent when its config is off; with several regions, alerts that fire per region
// (their PromQL and filters through strict checkers below), and one region left exactly as it was.
import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as YAML from "yaml";
import { byType, isConfigError, one, PROJECT_NUMBER, runProgram, RunResult } from "./harness";
import { alertPolicyProblems, dashboardProblems } from "./monitoring-protos";
import { GMP_SIDECAR_IMAGE, METRICS_RELAY_PORT, runMonitoringConfig, samplesPerScrape, VLLM_METRICS } from "../config/metrics";
import { CLOUD_RUN_BILLING_SERVICE, activeInstancesFilter, errorRatioQuery, failedRevisionFilter, queueQuery } from "../components/monitoring";
import { DEPLOYER_ROLES } from "../config/permissions";

const SERVICE = "gcp:cloudrunv2/service:Service";
const DASHBOARD = "gcp:monitoring/dashboard:Dashboard";
const POLICY = "gcp:monitoring/alertPolicy:AlertPolicy";
const CHANNEL = "gcp:monitoring/notificationChannel:NotificationChannel";
const UPTIME = "gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig";
const BUDGET = "gcp:billing/budget:Budget";
const PROJECT_IAM = "gcp:projects/iAMMember:IAMMember";
const SECRET = "gcp:secretmanager/secret:Secret";
const SECRET_VERSION = "gcp:secretmanager/secretVersion:SecretVersion";
const SECRET_IAM = "gcp:secretmanager/secretIamMember:SecretIamMember";
const RUN_IAM = "gcp:cloudrunv2/serviceIamMember:ServiceIamMember";
const API = "gcp:projects/service:Service";
const PROVIDER = "pulumi:providers:gcp";

const RUNTIME = "serviceAccount:vllm-cloudrun-dev-run@my-proj.iam.gserviceaccount.com";
const API_KEY = "sk-monitoring-test-key-0123456789";
const EMAIL = "oncall@example.com";

type Obj = Record<string, any>;
const template = (r: RunResult): Obj => one(r, SERVICE).inputs.template as Obj;
const container = (r: RunResult, name: string): Obj => {
    const found = (template(r).containers as Obj[]).filter((c) => c.name === name);
    assert.equal(found.length, 1, `one container named ${name}`);
    return found[0];
};
const secretValue = (v: unknown): unknown => (v && typeof v === "object" && "value" in (v as Obj) ? (v as Obj).value : v);
const policies = (r: RunResult): Obj[] => byType(r, POLICY).map((p) => p.inputs as Obj);
const dashboardOf = (r: RunResult): Obj => JSON.parse(String(one(r, DASHBOARD).inputs.dashboardJson));
/** Every metric filter in a dashboard. */
const filtersOf = (d: Obj): string[] => JSON.stringify(d).match(/"filter":"((?:[^"\\]|\\.)*)"/g)?.map((m) => JSON.parse(m.slice(9))) ?? [];
/** An alert policy's inputs as the Monitoring API's AlertPolicy (project is the provider's, not the API's). */
const asApiPolicy = (inputs: Obj): Obj => Object.fromEntries(Object.entries(inputs).filter(([k]) => k !== "project"));

/** Labels the alert queries may select on: Cloud Run's built-in series, and the sidecar's prometheus_target. */
const PROMQL_LABELS = new Set(["monitored_resource", "service_name", "location", "response_code_class", "cluster", "namespace", "job"]);
const PROMQL_METRICS = new Set(["run_googleapis_com:request_count", VLLM_METRICS.waiting]);
const PROMQL_WORDS = new Set(["sum", "max", "by", "location", "rate", "and"]);

/**
 * A strict checker of the PromQL subset the alert policies emit: balanced parentheses; selectors
 * of allow-listed metrics and labels, each label once, `=` only, except `location`, which must be
 * exactly `="r"` for one region and `=~"r1|r2"` for several; aggregations across everything for one
 * region and `by (location)` for several; no other word.
 */
function promqlProblems(query: string, regions: readonly string[]): string[] {
    const problems: string[] = [];
    let depth = 0;
    for (const c of query) {
        if (c === "(") depth++;
        if (c === ")" && --depth < 0) problems.push("a ) closes nothing");
    }
    if (depth > 0) problems.push("a ( is never closed");
    const selectors = [...query.matchAll(/([a-z_:]+)\{([^}]*)\}/g)];
    if (selectors.length === 0) problems.push("no selector");
    for (const [, metric, body] of selectors) {
        if (!PROMQL_METRICS.has(metric)) problems.push(`metric ${metric} is not in the allow-list`);
        const seen = new Set<string>();
        for (const matcher of body.split(",")) {
            const m = /^([a-z_]+)(=~|=)"([^"\\]+)"$/.exec(matcher);
            if (!m) {
                problems.push(`not a label matcher: ${matcher}`);
                continue;
            }
            const [, label, op, value] = m;
            if (!PROMQL_LABELS.has(label)) problems.push(`label ${label} is not in the allow-list`);
            if (seen.has(label)) problems.push(`label ${label} twice`);
            seen.add(label);
            if (label === "location") {
                const [wantOp, wantValue] = regions.length === 1 ? ["=", regions[0]] : ["=~", regions.join("|")];
                if (op !== wantOp || value !== wantValue) problems.push(`location${op}"${value}" is not ${wantOp}"${wantValue}"`);
            } else if (op !== "=") {
                problems.push(`regex on ${label}`);
            }
        }
        if (!seen.has("location")) problems.push(`${metric} selector without location`);
    }
    const rest = query.replace(/[a-z_:]+\{[^}]*\}/g, " SELECTOR ").replace(/\[5m\]/g, " RANGE ");
    const aggregations = [...rest.matchAll(/\b(sum|max)( by \(([^)]*)\))?\(/g)];
    if (aggregations.length !== [...rest.matchAll(/\b(sum|max)\b/g)].length) problems.push("an aggregation not followed by ( or by (...)(");
    for (const [, agg, by, labels] of aggregations) {
        if (regions.length > 1 && labels !== "location") problems.push(`${agg} does not aggregate by (location)`);
        if (regions.length === 1 && by !== undefined) problems.push(`${agg} groups with one region`);
    }
    for (const word of rest.match(/[A-Za-z_:]+/g) ?? []) {
        if (word !== "SELECTOR" && word !== "RANGE" && !PROMQL_WORDS.has(word)) problems.push(`unexpected word ${word}`);
    }
    const leftover = rest.replace(/[A-Za-z_:]+|\d+(\.\d+)?|[\s()/>,]/g, "");
    if (leftover !== "") problems.push(`unexpected characters ${leftover}`);
    return problems;
}

/** Clauses of an alert threshold filter: `key="value"` joined by " AND ", each key once. */
function alertFilterClauses(filter: string): Record<string, string> {
    const clauses: Record<string, string> = {};
    for (const clause of filter.split(" AND ")) {
        const m = /^(metric\.type|resource\.type|resource\.labels\.[a-z_]+|metric\.labels\.[a-z_]+)="([^"\\]+)"$/.exec(clause);
        if (!m) throw new Error(`not a key="value" clause: ${clause}`);
        if (m[1] in clauses) throw new Error(`${m[1]} given twice`);
        clauses[m[1]] = m[2];
    }
    return clauses;
}

const TWO = ["us-central1", "europe-west4"];
const MULTI_CONFIG = { alertEmail: EMAIL, regions: TWO, maxInstances: 3, regionMaxInstances: ["europe-west4=2"] };

describe("metrics (default on)", () => {
    let r: RunResult;
    before(async () => {
        r = await runProgram();
    });

    it("runs Google's Managed Prometheus sidecar beside vLLM: pinned image, after vLLM starts, no GPU", () => {
        const sidecar = container(r, "metrics");
        assert.equal(sidecar.image, GMP_SIDECAR_IMAGE);
        assert.match(sidecar.image, /^us-docker\.pkg\.dev\/cloud-ops-agents-artifacts\/cloud-run-gmp-sidecar\/cloud-run-gmp-sidecar:\d+\.\d+\.\d+$/);
        assert.deepEqual(sidecar.dependsOns, ["vllm"]);
        // CPU settings as vLLM's: Cloud Run applies startup boost per revision.
        assert.deepEqual(sidecar.resources, { limits: { cpu: "1", memory: "512Mi" }, cpuIdle: false, startupCpuBoost: true });
        assert.equal(sidecar.ports, undefined, "only vLLM's container takes requests");
        assert.deepEqual(sidecar.volumeMounts, [{ name: "rungmp-config", mountPath: "/etc/rungmp" }]);
        assert.deepEqual(sidecar.livenessProbe, { periodSeconds: 30, timeoutSeconds: 30, failureThreshold: 3, httpGet: { path: "/liveness", port: 13133 } });
        assert.equal(sidecar.startupProbe, undefined);
        assert.equal(sidecar.envs, undefined);
    });

    it("leaves the GPU, the port and the probes with vLLM, which gives the sidecar room inside an L4 instance's 8 vCPU / 32 GiB", () => {
        const vllm = container(r, "vllm");
        assert.deepEqual(vllm.resources, { limits: { cpu: "6", memory: "24Gi", "nvidia.com/gpu": "1" }, cpuIdle: false, startupCpuBoost: true });
        assert.deepEqual(vllm.ports, { name: "http1", containerPort: 8000 });
        assert.equal(vllm.startupProbe.httpGet.path, "/health");
        assert.equal(vllm.livenessProbe.httpGet.path, "/health");
        assert.equal((template(r).containers as Obj[]).length, 2);
        assert.deepEqual(template(r).scaling, { minInstanceCount: 0, maxInstanceCount: 1 }, "scale to zero is unchanged");
        assert.equal(template(r).executionEnvironment, "EXECUTION_ENVIRONMENT_GEN2");
        // The revision waits for its config secret and the runtime account's grants.
        const deps = one(r, "vllm-cloudrun:service:LlmService").dependsOn;
        assert.ok(deps.includes("vllm-cloudrun:secret:TokenSecret::vllm-cloudrun-dev-metrics-config"));
        assert.ok(deps.includes("vllm-cloudrun:identities:ServiceIdentities::vllm-cloudrun-dev"));
        // Without an API key, /metrics is open on vLLM's port and there is no relay.
        assert.equal((vllm.envs as Obj[]).some((e) => String(e.name).startsWith("VLLM_CLOUDRUN_")), false);
    });

    it("reads its RunMonitoring config from a secret only the runtime account can read, pinned to the version this deploy wrote", () => {
        const secret = one(r, SECRET, "vllm-cloudrun-dev-metrics-config");
        assert.equal(secret.inputs.secretId, "vllm-cloudrun-dev-metrics-config");
        const version = one(r, SECRET_VERSION, "vllm-cloudrun-dev-metrics-config-version");
        assert.equal(secretValue(version.inputs.secretData), runMonitoringConfig(8000));
        const grants = byType(r, SECRET_IAM).filter((g) => g.name.startsWith("vllm-cloudrun-dev-metrics-config"));
        assert.deepEqual(grants.map((g) => [g.inputs.role, g.inputs.member]), [["roles/secretmanager.secretAccessor", RUNTIME]]);
        const volumes = template(r).volumes as Obj[];
        assert.deepEqual(volumes, [{ name: "rungmp-config", secret: { secret: "vllm-cloudrun-dev-metrics-config", items: [{ version: version.state?.version, path: "config.yaml" }] } }]);
        assert.notEqual(version.state?.version, "latest");
    });

    it("gives the runtime account exactly one project role, metric writer", () => {
        const roles = byType(r, PROJECT_IAM).filter((g) => g.inputs.member === RUNTIME).map((g) => g.inputs.role);
        assert.deepEqual(roles, ["roles/monitoring.metricWriter"]);
    });

    it("enables Cloud Monitoring, and not the budget API", () => {
        const apis = byType(r, API).map((a) => a.inputs.service);
        assert.ok(apis.includes("monitoring.googleapis.com"));
        assert.ok(!apis.includes("billingbudgets.googleapis.com"));
    });

    it("creates one dashboard with vLLM's charts, valid against the Dashboards API's protos, and links it", () => {
        const d = dashboardOf(r);
        assert.deepEqual(dashboardProblems(d), []);
        assert.equal(one(r, DASHBOARD).parent, "vllm-cloudrun:monitoring:ServiceMonitoring::vllm-cloudrun-dev");
        const filters = filtersOf(d);
        assert.ok(filters.some((f) => f.includes(`"prometheus.googleapis.com/${VLLM_METRICS.ttft}/histogram"`)));
        assert.ok(filters.every((f) => f.includes('"vllm-cloudrun-dev"') && f.includes('"us-central1"')), "every chart is this service's, in its region");
        assert.equal(r.outputs.dashboardUrl, "https://console.cloud.google.com/monitoring/dashboards/builder/vllm-cloudrun-dev-dashboard-id?project=my-proj");
    });

    it("creates no alert policy, channel, uptime check or budget without alertEmail, notificationChannels or monthlyBudget", () => {
        for (const t of [POLICY, CHANNEL, UPTIME, BUDGET]) assert.deepEqual(byType(r, t), [], t);
        assert.equal(byType(r, PROVIDER).some((p) => p.name.includes("billing")), false);
        assert.deepEqual(r.outputs.alertPolicies, []);
    });

    it("prices the sidecar and its samples in the cost estimate", () => {
        const cost = r.outputs.costEstimate as Obj;
        // Sidecar: 1 vCPU x $0.000018/s + 0.5 GiB x $0.000002/s, and 125 samples every 30 s at $0.06 per million.
        assert.equal(samplesPerScrape(), 125);
        assert.equal(cost.metricsPerInstanceHour, 0.0693);
        // The instance: vLLM 6 vCPU / 24 GiB and the sidecar, with the L4.
        assert.equal(cost.cpuHour, 0.45);
        assert.equal(cost.memoryHour, 0.18);
        assert.equal(cost.perInstanceHour, 1.3);
        assert.equal(cost.alertingMonthly, 0);
    });
});

describe("metrics on the RTX PRO 6000", () => {
    it("adds the sidecar on top of the documented 20 vCPU / 80 GiB minimum (no instance maximum is documented), and the cost counts it", async () => {
        const r = await runProgram({ config: { gpuType: "nvidia-rtx-pro-6000", "gcp:region": "us-central1" } });
        assert.equal(r.error, undefined, String(r.error));
        assert.deepEqual(container(r, "vllm").resources.limits, { cpu: "20", memory: "80Gi", "nvidia.com/gpu": "1" });
        assert.deepEqual(container(r, "metrics").resources.limits, { cpu: "1", memory: "512Mi" });
        // 21 vCPU x $0.000018 x 3600 = 1.3608; 80.5 GiB x $0.000002 x 3600 = 0.5796; no GPU price in the table.
        const cost = r.outputs.costEstimate as Obj;
        assert.deepEqual([cost.cpuHour, cost.memoryHour, cost.gpuHour], [1.36, 0.58, 0]);
    });
});

describe("metrics false", () => {
    let r: RunResult;
    before(async () => {
        r = await runProgram({ config: { metrics: false } });
    });

    it("has no sidecar, no config secret, no metric writer role; vLLM keeps the whole instance", () => {
        assert.deepEqual((template(r).containers as Obj[]).map((c) => c.name), ["vllm"]);
        assert.equal(template(r).volumes, undefined);
        assert.equal(template(r).executionEnvironment, undefined);
        assert.equal(byType(r, SECRET).some((s) => s.name.includes("metrics")), false);
        assert.equal(byType(r, PROJECT_IAM).some((g) => g.inputs.role === "roles/monitoring.metricWriter"), false);
        assert.deepEqual(container(r, "vllm").resources.limits, { cpu: "8", memory: "32Gi", "nvidia.com/gpu": "1" });
        assert.equal((r.outputs.costEstimate as Obj).metricsPerInstanceHour, 0);
    });

    it("keeps a dashboard of Cloud Run's own metrics, with no vLLM chart", () => {
        const d = dashboardOf(r);
        assert.deepEqual(dashboardProblems(d), []);
        assert.ok(filtersOf(d).length > 0);
        assert.ok(filtersOf(d).every((f) => !f.includes("prometheus")));
    });
});

describe("metrics with an API key", () => {
    let r: RunResult;
    before(async () => {
        r = await runProgram({ secretConfig: { apiKey: API_KEY } });
    });

    it("scrapes the image's loopback relay, which adds the key; /metrics on vLLM's port stays guarded", () => {
        const envs = container(r, "vllm").envs as Obj[];
        assert.deepEqual(envs.filter((e) => String(e.name).startsWith("VLLM_CLOUDRUN_")), [
            { name: "VLLM_CLOUDRUN_METRICS_PORT", value: String(METRICS_RELAY_PORT) },
            { name: "VLLM_CLOUDRUN_UPSTREAM_PORT", value: "8000" },
        ]);
        assert.ok((container(r, "vllm").args as string[]).includes("vllm_cloudrun_auth.RequireApiKey"));
        const version = one(r, SECRET_VERSION, "vllm-cloudrun-dev-metrics-config-version");
        assert.equal(secretValue(version.inputs.secretData), runMonitoringConfig(METRICS_RELAY_PORT));
        assert.equal(YAML.parse(String(secretValue(version.inputs.secretData))).spec.endpoints[0].port, "9400");
        assert.ok(!JSON.stringify(container(r, "metrics")).includes(API_KEY), "the sidecar never sees the key");
        assert.ok(!String(secretValue(version.inputs.secretData)).includes(API_KEY));
    });
});

describe("the RunMonitoring config", () => {
    // The fields run-gmp-sidecar 1.3.0 parses (confgenerator/config.go at tag 1.3.0, yaml.Strict():
    // an unknown field stops the sidecar).
    const TOP = ["apiVersion", "kind", "metadata", "spec"];
    const SPEC = ["endpoints", "targetLabels", "limits"];
    const ENDPOINT = ["port", "scheme", "path", "params", "proxyUrl", "interval", "timeout", "metricRelabeling"];
    const RULE = ["sourceLabels", "separator", "targetLabel", "regex", "modulus", "replacement", "action"];
    const config = YAML.parse(runMonitoringConfig(8000)) as Obj;

    it("uses only fields the sidecar's strict parser knows, with the values it requires", () => {
        assert.deepEqual(Object.keys(config).filter((k) => !TOP.includes(k)), []);
        assert.equal(config.apiVersion, "monitoring.googleapis.com/v1beta");
        assert.equal(config.kind, "RunMonitoring");
        assert.deepEqual(Object.keys(config.spec).filter((k) => !SPEC.includes(k)), []);
        assert.equal(config.spec.endpoints.length, 1);
        const ep = config.spec.endpoints[0];
        assert.deepEqual(Object.keys(ep).filter((k) => !ENDPOINT.includes(k)), []);
        assert.deepEqual([ep.port, ep.path, ep.interval, ep.timeout], ["8000", "/metrics", "30s", "10s"]);
        for (const rule of ep.metricRelabeling) assert.deepEqual(Object.keys(rule).filter((k) => !RULE.includes(k)), []);
        assert.deepEqual(config.spec.targetLabels, { metadata: ["revision", "service"] });
        assert.equal(config.metadata.name, "vllm");
        assert.equal(YAML.parse(runMonitoringConfig(9400)).spec.endpoints[0].port, "9400");
    });

    it("keeps the charted vLLM series (histograms' _bucket/_sum/_count too) and drops everything else before it is billed", () => {
        const rule = config.spec.endpoints[0].metricRelabeling[0];
        assert.deepEqual([rule.action, rule.sourceLabels], ["keep", ["__name__"]]);
        const keep = new RegExp(`^(?:${rule.regex})$`); // Prometheus anchors relabel regexes.
        for (const name of Object.values(VLLM_METRICS)) assert.ok(keep.test(name), name);
        for (const kept of ["vllm:time_to_first_token_seconds_bucket", "vllm:e2e_request_latency_seconds_sum", "vllm:request_queue_time_seconds_count"]) assert.ok(keep.test(kept), kept);
        assert.ok(keep.test("process_start_time_seconds"), "the collector's counter start time");
        for (const dropped of ["vllm:prompt_tokens_created", "vllm:time_to_first_token_seconds_created", "python_gc_objects_collected_total", "process_cpu_seconds_total", "vllm:cache_config_info", "vllm:num_requests_running_extra", "xvllm:num_requests_running"]) {
            assert.ok(!keep.test(dropped), dropped);
        }
    });
});

describe("alerts", () => {
    let r: RunResult;
    before(async () => {
        r = await runProgram({ config: { alertEmail: EMAIL } });
    });

    it("creates one email channel and four policies (no uptime check while the service scales to zero)", () => {
        const ch = one(r, CHANNEL);
        assert.deepEqual([ch.inputs.type, ch.inputs.labels], ["email", { email_address: EMAIL }]);
        assert.deepEqual(byType(r, UPTIME), []);
        assert.deepEqual(policies(r).map((p) => p.displayName), [
            "vllm-cloudrun-dev: 5%+ of requests fail (5xx)",
            "vllm-cloudrun-dev: requests queued in vLLM for 5+ minutes",
            "vllm-cloudrun-dev: all 1 instance(s) busy for 15 minutes",
            "vllm-cloudrun-dev: a revision failed to become ready",
        ]);
        assert.deepEqual(r.outputs.alertPolicies, policies(r).map((p) => p.displayName));
    });

    it("notifies the channel from every policy, each with Markdown that says what it means and which config fixes it", () => {
        for (const p of policies(r)) {
            assert.deepEqual(p.notificationChannels, [`projects/my-proj/notificationChannels/4242424242`]);
            assert.equal(p.documentation.mimeType, "text/markdown");
            assert.match(p.documentation.content, /npx pulumi config set|gcloud run/);
            assert.equal(p.combiner, "OR");
        }
    });

    it("is valid against the Monitoring API's AlertPolicy proto", () => {
        for (const p of policies(r)) assert.deepEqual(alertPolicyProblems(asApiPolicy(p)), [], p.displayName);
    });

    it("watches this service in its region: 5xx ratio with a traffic floor, the vLLM queue, active instances at maxInstances, Ready=False", () => {
        const [errors, queue, atMax, revision] = policies(r);
        const q = errors.conditions[0].conditionPrometheusQueryLanguage;
        assert.equal(
            q.query,
            '(sum(rate(run_googleapis_com:request_count{monitored_resource="cloud_run_revision",service_name="vllm-cloudrun-dev",location="us-central1",response_code_class="5xx"}[5m])) / sum(rate(run_googleapis_com:request_count{monitored_resource="cloud_run_revision",service_name="vllm-cloudrun-dev",location="us-central1"}[5m]))) > 0.05 and sum(rate(run_googleapis_com:request_count{monitored_resource="cloud_run_revision",service_name="vllm-cloudrun-dev",location="us-central1"}[5m])) > 0.016666666666666666',
        );
        assert.equal(q.duration, "300s");
        const w = queue.conditions[0].conditionPrometheusQueryLanguage;
        assert.equal(w.query, 'max(vllm:num_requests_waiting{cluster="__run__",namespace="vllm-cloudrun-dev",location="us-central1",job="vllm"}) > 0');
        assert.deepEqual([w.duration, w.disableMetricValidation], ["300s", true]);
        const t = atMax.conditions[0].conditionThreshold;
        assert.equal(t.filter, 'metric.type="run.googleapis.com/container/instance_count" AND resource.type="cloud_run_revision" AND resource.labels.service_name="vllm-cloudrun-dev" AND resource.labels.location="us-central1" AND metric.labels.state="active"');
        assert.deepEqual([t.comparison, t.thresholdValue, t.duration], ["COMPARISON_GT", 0.5, "900s"]);
        const log = revision.conditions[0].conditionMatchedLog;
        assert.equal(log.filter, 'resource.type="cloud_run_revision" AND resource.labels.service_name="vllm-cloudrun-dev" AND resource.labels.location="us-central1" AND severity>=ERROR AND protoPayload.status.message:"Ready condition status changed to False"');
        assert.deepEqual(revision.alertStrategy.notificationRateLimit, { period: "300s" }, "log-match policies need a rate limit");
    });

    it("with one region, nothing is per region: today's names, one condition each, the revision extractor alone, today's documentation", () => {
        const [errors, queue, atMax, revision] = policies(r);
        for (const p of policies(r)) {
            assert.equal(p.conditions.length, 1, p.displayName);
            assert.doesNotMatch(JSON.stringify(p), /in a region|per region|judged on its own|several regions|one_of|=~|by \(location\)|extracted_label\.location/, p.displayName);
        }
        for (const p of [errors, queue]) assert.deepEqual(promqlProblems(p.conditions[0].conditionPrometheusQueryLanguage.query, ["us-central1"]), [], p.displayName);
        assert.deepEqual([errors.conditions[0].displayName, queue.conditions[0].displayName, atMax.conditions[0].displayName], [
            "5xx above 5% for 5 minutes", "vllm:num_requests_waiting above 0 for 5 minutes", "active instances at maxInstances (1) for 15 minutes",
        ]);
        assert.deepEqual(revision.conditions[0].conditionMatchedLog.labelExtractors, { revision: "EXTRACT(resource.labels.revision_name)" });
        assert.deepEqual(alertFilterClauses(atMax.conditions[0].conditionThreshold.filter)["resource.labels.location"], "us-central1");
        assert.deepEqual([errors.documentation.subject, atMax.documentation.subject, revision.documentation.subject], [
            "vllm-cloudrun-dev: more than 5% of requests answer 5xx", "vllm-cloudrun-dev: every instance is busy", "vllm-cloudrun-dev: revision ${log.extracted_label.revision} is not ready",
        ]);
        assert.equal(errors.documentation.content, [
            "More than 5% of the requests to Cloud Run service `vllm-cloudrun-dev` (us-central1) answered 5xx for 5 minutes.",
            "",
            "- 503 or 429 with no container log: no instance could take the request (all at maxInstances, or a GPU instance could not start). Raise `maxInstances` (`npx pulumi config set maxInstances N`, within the GPU quota) or keep one warm (`minInstances 1`).",
            "- 500 from vLLM: read the container log: `gcloud run services logs read vllm-cloudrun-dev --region us-central1`.",
            "- To change the threshold: `npx pulumi config set alertErrorPercent N`.",
        ].join("\n"));
        assert.equal(atMax.documentation.content, [
            "All 1 instance(s) of `vllm-cloudrun-dev` have been serving requests for 15 minutes: new requests wait up to 10 s for a free slot and then fail with 429.",
            "",
            "- Raise `maxInstances` (`npx pulumi config set maxInstances N`; the GPU quota must cover it, and preview checks it).",
            "- With maxInstances 1 this opens whenever the one GPU is busy for 15 minutes: it says capacity is used up, not that anything is broken.",
        ].join("\n"));
        assert.equal(revision.documentation.content.split("\n")[2], "- Its log says why: `gcloud run revisions describe REVISION --region us-central1` and `gcloud run services logs read vllm-cloudrun-dev --region us-central1`.");
        const d = dashboardOf(r);
        assert.ok(filtersOf(d).every((f) => f.endsWith('resource.labels.location = "us-central1"') || f.includes('resource.labels.location = "us-central1" AND')));
    });

    it("adds the five alert conditions' cost to the estimate", () => {
        assert.equal((r.outputs.costEstimate as Obj).alertingMonthly, 6);
    });

    it("takes the thresholds from config", async () => {
        const tuned = await runProgram({ config: { alertEmail: EMAIL, alertErrorPercent: 20, alertQueueMinutes: 12, maxInstances: 3 } });
        const [errors, queue, atMax] = policies(tuned);
        assert.match(errors.conditions[0].conditionPrometheusQueryLanguage.query, /\) > 0\.2 and /);
        assert.equal(queue.conditions[0].conditionPrometheusQueryLanguage.duration, "720s");
        assert.equal(atMax.conditions[0].conditionThreshold.thresholdValue, 2.5);
    });

    it("with metrics false has no queue alert (its metric would never exist)", async () => {
        const off = await runProgram({ config: { alertEmail: EMAIL, metrics: false } });
        assert.deepEqual(policies(off).map((p) => p.displayName.split(": ")[1]), ["5%+ of requests fail (5xx)", "all 1 instance(s) busy for 15 minutes", "a revision failed to become ready"]);
    });

    it("notifies the email channel and the existing channels together", async () => {
        const both = await runProgram({ config: { alertEmail: EMAIL, notificationChannels: ["projects/my-proj/notificationChannels/777"] } });
        for (const p of policies(both)) assert.deepEqual(p.notificationChannels, ["projects/my-proj/notificationChannels/4242424242", "projects/my-proj/notificationChannels/777"]);
    });

    it("notifies existing channels without creating one", async () => {
        const existing = "projects/my-proj/notificationChannels/777";
        const ch = await runProgram({ config: { notificationChannels: [existing] } });
        assert.deepEqual(byType(ch, CHANNEL), []);
        for (const p of policies(ch)) assert.deepEqual(p.notificationChannels, [existing]);
    });
});

describe("uptime check", () => {
    it("with a warm instance, checks GET /health with an OIDC token from the Monitoring agent, which may invoke only this service", async () => {
        const r = await runProgram({ config: { alertEmail: EMAIL, minInstances: 1 } });
        const check = one(r, UPTIME);
        assert.deepEqual(check.inputs.monitoredResource, { type: "uptime_url", labels: { project_id: "my-proj", host: "vllm-cloudrun-dev-abc123-uc.a.run.app" } });
        assert.deepEqual(check.inputs.httpCheck, {
            path: "/health", port: 443, useSsl: true, validateSsl: true, requestMethod: "GET", acceptedResponseStatusCodes: [{ statusValue: 200 }], serviceAgentAuthentication: { type: "OIDC_TOKEN" },
        });
        assert.deepEqual([check.inputs.period, check.inputs.selectedRegions], ["300s", ["USA"]]);
        const invokers = byType(r, RUN_IAM).filter((g) => g.name.includes("uptime"));
        assert.deepEqual(invokers.map((g) => [g.inputs.name, g.inputs.role, g.inputs.member]), [
            ["vllm-cloudrun-dev", "roles/run.invoker", `serviceAccount:service-${PROJECT_NUMBER}@gcp-sa-monitoring-notification.iam.gserviceaccount.com`],
        ]);
        // It waits for the service to exist (otherwise it would run right after the APIs, long before the build, and get a 404).
        assert.deepEqual(invokers[0].dependsOn.sort(), ["gcp:cloudrunv2/service:Service::vllm-cloudrun-dev", "gcp:projects/serviceIdentity:ServiceIdentity::vllm-cloudrun-dev-monitoring-agent"]);
        assert.deepEqual(check.dependsOn, ["gcp:cloudrunv2/serviceIamMember:ServiceIamMember::vllm-cloudrun-dev-uptime-invoker"]);
        const uptimePolicy = policies(r).find((p) => p.displayName.includes("/health"));
        const c = (uptimePolicy as Obj).conditions[0].conditionThreshold;
        assert.deepEqual([c.comparison, c.thresholdValue, c.duration, c.aggregations], ["COMPARISON_GT", 1, "600s", [{ alignmentPeriod: "1200s", perSeriesAligner: "ALIGN_NEXT_OLDER", crossSeriesReducer: "REDUCE_COUNT_FALSE", groupByFields: ["resource.labels.host"] }]]);
        assert.match(String(uptimePolicy?.conditions[0].conditionThreshold.filter), /metric\.labels\.check_id="health-check-0a1b2c"/);
        assert.deepEqual(alertPolicyProblems(asApiPolicy(uptimePolicy as Obj)), []);
        assert.equal((r.outputs.costEstimate as Obj).alertingMonthly, 7.5);
        // One region: today's name and documentation, nothing about other regions.
        assert.equal(uptimePolicy?.displayName, "vllm-cloudrun-dev: /health fails from 2+ locations");
        assert.equal(uptimePolicy?.documentation.content, [
            "GET /health on `vllm-cloudrun-dev` failed from more than one location for 10 minutes: the service is down or unreachable.",
            "",
            "- `npm run smoke` (or the stack's `curlCommand`) to see it yourself; `gcloud run services logs read vllm-cloudrun-dev --region us-central1` for why.",
        ].join("\n"));
    });

    it("on a public service sends no token and grants nothing", async () => {
        const r = await runProgram({ config: { alertEmail: EMAIL, minInstances: 1, public: true }, secretConfig: { apiKey: API_KEY } });
        assert.equal((one(r, UPTIME).inputs.httpCheck as Obj).serviceAgentAuthentication, undefined);
        assert.deepEqual(one(r, UPTIME).dependsOn, []);
        assert.deepEqual(byType(r, RUN_IAM).filter((g) => g.name.includes("uptime")), []);
    });

    it("off means no check, even with a warm instance; on works with existing channels alone", async () => {
        const off = await runProgram({ config: { alertEmail: EMAIL, minInstances: 1, uptimeCheck: "off" } });
        assert.deepEqual(byType(off, UPTIME), []);
        assert.ok(!policies(off).some((p) => String(p.displayName).includes("/health")));
        const channelsOnly = await runProgram({ config: { notificationChannels: ["projects/my-proj/notificationChannels/777"], minInstances: 1, uptimeCheck: "on" } });
        assert.equal(channelsOnly.error, undefined, String(channelsOnly.error));
        assert.equal(byType(channelsOnly, UPTIME).length, 1);
    });

    it("refuses on with minInstances 0 (it would keep a GPU awake) and on without anyone to alert", async () => {
        const waking = await runProgram({ config: { alertEmail: EMAIL, uptimeCheck: "on" } });
        assert.ok(isConfigError(waking.error));
        assert.match(waking.error.message, /uptimeCheck[\s\S]*keeps one GPU instance awake around the clock[\s\S]*config set uptimeCheck auto/);
        const nobody = await runProgram({ config: { minInstances: 1, uptimeCheck: "on" } });
        assert.ok(isConfigError(nobody.error));
        assert.match(nobody.error.message, /uptimeCheck[\s\S]*neither is set[\s\S]*config set alertEmail/);
        assert.deepEqual(waking.resources.filter((x) => x.custom), [], "nothing is created");
    });
});

// Several regions (the same service name in each): per-region alerts.
describe("alert queries and filters, one region or several", () => {
    const S = "vllm-cloudrun-dev";
    const ONE_RATIO = '(sum(rate(run_googleapis_com:request_count{monitored_resource="cloud_run_revision",service_name="vllm-cloudrun-dev",location="us-central1",response_code_class="5xx"}[5m])) / sum(rate(run_googleapis_com:request_count{monitored_resource="cloud_run_revision",service_name="vllm-cloudrun-dev",location="us-central1"}[5m]))) > 0.05 and sum(rate(run_googleapis_com:request_count{monitored_resource="cloud_run_revision",service_name="vllm-cloudrun-dev",location="us-central1"}[5m])) > 0.016666666666666666';
    const ONE_QUEUE = 'max(vllm:num_requests_waiting{cluster="__run__",namespace="vllm-cloudrun-dev",location="us-central1",job="vllm"}) > 0';
    const ONE_LOG = 'resource.type="cloud_run_revision" AND resource.labels.service_name="vllm-cloudrun-dev" AND resource.labels.location="us-central1" AND severity>=ERROR AND protoPayload.status.message:"Ready condition status changed to False"';

    it("with one region, a string or a one-element list gives today's queries and filters exactly", () => {
        for (const one of ["us-central1", ["us-central1"]]) {
            assert.equal(errorRatioQuery(S, one, 5), ONE_RATIO);
            assert.equal(queueQuery(S, one), ONE_QUEUE);
            assert.equal(failedRevisionFilter(S, one), ONE_LOG);
        }
        assert.equal(activeInstancesFilter(S, "us-central1"), 'metric.type="run.googleapis.com/container/instance_count" AND resource.type="cloud_run_revision" AND resource.labels.service_name="vllm-cloudrun-dev" AND resource.labels.location="us-central1" AND metric.labels.state="active"');
    });

    it("with several, selects every region with an anchored regex and judges each region on its own (by location)", () => {
        const sel = (extra = "") => `{monitored_resource="cloud_run_revision",service_name="vllm-cloudrun-dev",location=~"us-central1|europe-west4"${extra}}`;
        assert.equal(
            errorRatioQuery(S, TWO, 5),
            `(sum by (location)(rate(run_googleapis_com:request_count${sel(',response_code_class="5xx"')}[5m])) / sum by (location)(rate(run_googleapis_com:request_count${sel()}[5m]))) > 0.05 and sum by (location)(rate(run_googleapis_com:request_count${sel()}[5m])) > 0.016666666666666666`,
        );
        assert.equal(queueQuery(S, TWO), 'max by (location)(vllm:num_requests_waiting{cluster="__run__",namespace="vllm-cloudrun-dev",location=~"us-central1|europe-west4",job="vllm"}) > 0');
        assert.equal(
            failedRevisionFilter(S, TWO),
            'resource.type="cloud_run_revision" AND resource.labels.service_name="vllm-cloudrun-dev" AND (resource.labels.location="us-central1" OR resource.labels.location="europe-west4") AND severity>=ERROR AND protoPayload.status.message:"Ready condition status changed to False"',
        );
        assert.throws(() => queueQuery(S, ["us-central1", "europe.*"]), /cannot go in a PromQL regex/);
        assert.throws(() => errorRatioQuery(S, ["us-central1", 'x"} or up{a="'], 5), /cannot go in a PromQL regex/);
    });

    it("every query passes the strict PromQL check, for one, two and three regions", () => {
        for (const regions of [["us-central1"], TWO, [...TWO, "us-east4"]]) {
            for (const q of [errorRatioQuery(S, regions, 5), errorRatioQuery(S, regions, 20), queueQuery(S, regions)]) assert.deepEqual(promqlProblems(q, regions), [], q);
        }
    });

    it("the PromQL check refuses what it must", () => {
        const multi = queueQuery(S, TWO);
        const cases: [string, readonly string[], RegExp][] = [
            [ONE_QUEUE, TWO, /location="us-central1" is not =~"us-central1\|europe-west4"/],
            [ONE_QUEUE, TWO, /max does not aggregate by \(location\)/],
            [multi, ["us-central1"], /max groups with one region/],
            [multi.replace("max by (location)(", "max by (location)"), TWO, /\( closes nothing|aggregation not followed/],
            [multi.replace(") > 0", " > 0"), TWO, /never closed/],
            [multi.replace('job="vllm"', 'pod="p"'), TWO, /label pod is not in the allow-list/],
            [multi.replace('job="vllm"', 'job=~"v.*"'), TWO, /regex on job/],
            [multi.replace('job="vllm"', 'namespace="x"'), TWO, /label namespace twice/],
            [multi.replace(',location=~"us-central1|europe-west4"', ""), TWO, /selector without location/],
            [multi.replace("by (location)", "without (location)"), TWO, /unexpected word without|aggregation not followed/],
            [multi.replace("vllm:num_requests_waiting", "up"), TWO, /metric up is not in the allow-list/],
            [multi.replace("max by (location)", "max by (service_name)"), TWO, /does not aggregate by \(location\)/],
            [`${multi} or vector(1)`, TWO, /unexpected word or/],
        ];
        for (const [q, regions, why] of cases) assert.ok(promqlProblems(q, regions).some((p) => why.test(p)), `${q}: ${promqlProblems(q, regions).join("; ")}`);
    });

    it("the alert filter parser takes the at-max filter and refuses anything else", () => {
        assert.deepEqual(alertFilterClauses(activeInstancesFilter(S, "europe-west4")), {
            "metric.type": "run.googleapis.com/container/instance_count", "resource.type": "cloud_run_revision",
            "resource.labels.service_name": S, "resource.labels.location": "europe-west4", "metric.labels.state": "active",
        });
        for (const bad of [
            `${activeInstancesFilter(S, "us-central1")} AND resource.labels.location="europe-west4"`,
            activeInstancesFilter(S, "us-central1").replace(" AND ", " OR "),
            activeInstancesFilter(S, "us-central1").replace('location="us-central1"', 'location=one_of("a", "b")'),
            activeInstancesFilter(S, "us-central1").replace('="us-central1"', ' = "us-central1"'),
        ]) assert.throws(() => alertFilterClauses(bad), bad);
    });
});

describe("alerts across several regions", () => {
    let r: RunResult;
    before(async () => {
        r = await runProgram({ config: MULTI_CONFIG });
    });

    it("creates the same four policies, named for a region, each valid against the AlertPolicy proto, notifying the channel", () => {
        assert.equal(r.error, undefined, String(r.error));
        assert.deepEqual(policies(r).map((p) => p.displayName), [
            "vllm-cloudrun-dev: 5%+ of requests fail (5xx) in a region",
            "vllm-cloudrun-dev: requests queued in vLLM for 5+ minutes in a region",
            "vllm-cloudrun-dev: all instances in a region busy for 15 minutes",
            "vllm-cloudrun-dev: a revision failed to become ready",
        ]);
        assert.deepEqual(byType(r, POLICY).map((p) => p.name), ["errors", "queue", "at-max", "revision-failed"].map((k) => `vllm-cloudrun-dev-alert-${k}`), "same logical names: going multi-region updates them in place");
        for (const p of policies(r)) {
            assert.deepEqual(alertPolicyProblems(asApiPolicy(p)), [], p.displayName);
            assert.equal(p.combiner, "OR");
            assert.deepEqual(p.notificationChannels, ["projects/my-proj/notificationChannels/4242424242"]);
        }
    });

    it("5xx ratio and queue: one PromQL condition each, summed by location over both regions", () => {
        const [errors, queue] = policies(r);
        assert.equal(errors.conditions.length, 1);
        const e = errors.conditions[0];
        assert.equal(e.displayName, "5xx above 5% for 5 minutes, per region");
        assert.equal(e.conditionPrometheusQueryLanguage.query, errorRatioQuery("vllm-cloudrun-dev", TWO, 5));
        assert.deepEqual(promqlProblems(e.conditionPrometheusQueryLanguage.query, TWO), []);
        assert.equal(queue.conditions.length, 1);
        const q = queue.conditions[0];
        assert.equal(q.displayName, "vllm:num_requests_waiting above 0 for 5 minutes, per region");
        assert.equal(q.conditionPrometheusQueryLanguage.query, 'max by (location)(vllm:num_requests_waiting{cluster="__run__",namespace="vllm-cloudrun-dev",location=~"us-central1|europe-west4",job="vllm"}) > 0');
        assert.deepEqual(promqlProblems(q.conditionPrometheusQueryLanguage.query, TWO), []);
        assert.deepEqual([q.conditionPrometheusQueryLanguage.duration, q.conditionPrometheusQueryLanguage.disableMetricValidation], ["300s", true]);
    });

    it("at maxInstances: one threshold condition per region, each on that region's series with its own maximum", () => {
        const atMax = policies(r)[2];
        assert.deepEqual(atMax.conditions.map((c: Obj) => [c.displayName, alertFilterClauses(c.conditionThreshold.filter)["resource.labels.location"], c.conditionThreshold.thresholdValue]), [
            ["us-central1: active instances at maxInstances (3) for 15 minutes", "us-central1", 2.5],
            ["europe-west4: active instances at maxInstances (2) for 15 minutes", "europe-west4", 1.5],
        ]);
        for (const [i, region] of TWO.entries()) {
            const t = atMax.conditions[i].conditionThreshold;
            assert.equal(t.filter, activeInstancesFilter("vllm-cloudrun-dev", region));
            assert.deepEqual(alertFilterClauses(t.filter), {
                "metric.type": "run.googleapis.com/container/instance_count", "resource.type": "cloud_run_revision",
                "resource.labels.service_name": "vllm-cloudrun-dev", "resource.labels.location": region, "metric.labels.state": "active",
            });
            assert.deepEqual([t.comparison, t.duration, t.trigger, t.aggregations], ["COMPARISON_GT", "900s", { count: 1 }, [{ alignmentPeriod: "60s", perSeriesAligner: "ALIGN_MAX", crossSeriesReducer: "REDUCE_SUM", groupByFields: ["resource.labels.service_name"] }]]);
        }
    });

    it("at maxInstances without per-region overrides: every region at maxInstances; a third region adds a third condition", async () => {
        const same = await runProgram({ config: { alertEmail: EMAIL, regions: [...TWO, "us-east4"], maxInstances: 2 } });
        assert.equal(same.error, undefined, String(same.error));
        const atMax = policies(same).find((p) => String(p.displayName).includes("busy"))!;
        assert.deepEqual(atMax.conditions.map((c: Obj) => [c.displayName, c.conditionThreshold.thresholdValue]), [
            ["us-central1: active instances at maxInstances (2) for 15 minutes", 1.5],
            ["europe-west4: active instances at maxInstances (2) for 15 minutes", 1.5],
            ["us-east4: active instances at maxInstances (2) for 15 minutes", 1.5],
        ]);
        assert.match(policies(same)[0].conditions[0].conditionPrometheusQueryLanguage.query, /location=~"us-central1\|europe-west4\|us-east4"/);
    });

    it("a failed revision: one log condition over both regions, extracting the region so each notifies on its own", () => {
        const revision = policies(r)[3];
        assert.equal(revision.conditions.length, 1, "a log-match condition must be alone in its policy (alert.proto)");
        const log = revision.conditions[0].conditionMatchedLog;
        assert.equal(log.filter, failedRevisionFilter("vllm-cloudrun-dev", TWO));
        assert.deepEqual(log.labelExtractors, { revision: "EXTRACT(resource.labels.revision_name)", location: "EXTRACT(resource.labels.location)" });
        assert.deepEqual(revision.alertStrategy, { notificationRateLimit: { period: "300s" }, autoClose: "1800s" });
    });

    it("documents each alert per region: the region in the subject or the incident, and gcloud commands with --region for each region", () => {
        const [errors, queue, atMax, revision] = policies(r).map((p) => p.documentation as Obj);
        for (const d of [errors, queue, atMax, revision]) assert.equal(d.mimeType, "text/markdown");
        const judged = "Each of the service's regions (us-central1, europe-west4) is judged on its own; the incident's `location` label names the region.";
        assert.equal(errors.subject, "vllm-cloudrun-dev: more than 5% of requests answer 5xx in a region");
        assert.equal(errors.content, [
            `More than 5% of the requests to Cloud Run service \`vllm-cloudrun-dev\` in one region answered 5xx for 5 minutes. ${judged}`,
            "",
            "- 503 or 429 with no container log: no instance in that region could take the request (all at maxInstances, or a GPU instance could not start). Raise its maximum (`npx pulumi config set maxInstances N` for every region, or a `regionMaxInstances` entry REGION=N for one; within the GPU quota) or keep one warm there (`regionMinInstances` REGION=1).",
            "- 500 from vLLM: read that region's container log:",
            "  - us-central1: `gcloud run services logs read vllm-cloudrun-dev --region us-central1`",
            "  - europe-west4: `gcloud run services logs read vllm-cloudrun-dev --region europe-west4`",
            "- To change the threshold: `npx pulumi config set alertErrorPercent N`.",
        ].join("\n"));
        assert.equal(queue.subject, "vllm-cloudrun-dev: requests wait in vLLM's queue in a region");
        assert.ok(String(queue.content).startsWith(`Requests have waited in vLLM's queue on \`vllm-cloudrun-dev\` in one region for 5 minutes: that region's instances are saturated (vLLM admits a request only when the KV cache can hold it). ${judged}\n`), queue.content);
        assert.match(queue.content, /`regionMaxInstances` entry REGION=N for one/);
        assert.equal(atMax.subject, "vllm-cloudrun-dev: every instance in a region is busy");
        assert.equal(atMax.content, [
            "All instances of `vllm-cloudrun-dev` in one region have been serving requests for 15 minutes: new requests that reach that region wait up to 10 s for a free slot and then fail with 429. The policy has one condition per region (a threshold condition has a single threshold, and each region has its own maxInstances); the condition's name says the region.",
            "",
            "Each region's maxInstances:",
            "  - us-central1: 3 (`gcloud run services describe vllm-cloudrun-dev --region us-central1`)",
            "  - europe-west4: 2 (`gcloud run services describe vllm-cloudrun-dev --region europe-west4`)",
            "",
            "- Raise the region's maximum: a `regionMaxInstances` entry REGION=N, or `npx pulumi config set maxInstances N` for every region (the GPU quota must cover it, and preview checks it).",
            "- With maxInstances 1 in a region this opens whenever its one GPU is busy for 15 minutes: it says capacity is used up, not that anything is broken.",
        ].join("\n"));
        assert.equal(revision.subject, "vllm-cloudrun-dev: revision ${log.extracted_label.revision} in ${log.extracted_label.location} is not ready");
        assert.equal(revision.content, [
            "A revision of `vllm-cloudrun-dev` in region ${log.extracted_label.location} failed to become ready; that region's previous revision keeps serving, and the other regions are not affected.",
            "",
            "- Its log says why; in that region:",
            "  - us-central1: `gcloud run revisions describe REVISION --region us-central1` and `gcloud run services logs read vllm-cloudrun-dev --region us-central1`",
            "  - europe-west4: `gcloud run revisions describe REVISION --region europe-west4` and `gcloud run services logs read vllm-cloudrun-dev --region europe-west4`",
            "- Startup probe failed: the model needs longer to load (README \"Cold starts\"), or vLLM exited (out of GPU memory: a shorter `maxModelLen`, fewer `concurrency`).",
            "- Quota or capacity: no GPU could be allocated in the region.",
        ].join("\n"));
        // Only extracted labels the condition defines are used as variables.
        for (const d of [errors, queue, atMax, revision]) {
            for (const [, v] of `${d.subject}\n${d.content}`.matchAll(/\$\{([^}]*)\}/g)) assert.ok(["log.extracted_label.revision", "log.extracted_label.location"].includes(v), v);
        }
        for (const d of [errors, atMax, revision]) for (const region of TWO) assert.ok(String(d.content).includes(`--region ${region}\``), `${d.subject}: ${region}`);
    });

    it("keeps the home region first whatever the order of the regions config", async () => {
        const reversed = await runProgram({ config: { ...MULTI_CONFIG, regions: [...TWO].reverse() } });
        assert.equal(reversed.error, undefined, String(reversed.error));
        assert.equal(policies(reversed)[0].conditions[0].conditionPrometheusQueryLanguage.query, errorRatioQuery("vllm-cloudrun-dev", TWO, 5));
    });

    it("charts both regions on the one dashboard, valid against the Dashboards proto", () => {
        const d = dashboardOf(r);
        assert.deepEqual(dashboardProblems(d), []);
        const filters = filtersOf(d);
        assert.ok(filters.length > 0);
        for (const f of filters) assert.ok(f.includes('resource.labels.location = one_of("us-central1", "europe-west4")'), f);
        const instances = (d.mosaicLayout.tiles as Obj[]).find((t) => String(t.widget.title).startsWith("Instances"));
        assert.equal(instances?.widget.title, "Instances, by region and state (at most 3 in us-central1, 2 in europe-west4)");
    });
});

describe("uptime check with several regions", () => {
    it("checks the home region's run.app URL directly, grants the agent on the home service only, and says so in the documentation", async () => {
        const r = await runProgram({ config: { alertEmail: EMAIL, regions: TWO, minInstances: 1 } });
        assert.equal(r.error, undefined, String(r.error));
        const check = one(r, UPTIME);
        assert.deepEqual(check.inputs.monitoredResource, { type: "uptime_url", labels: { project_id: "my-proj", host: "vllm-cloudrun-dev-abc123-uc.a.run.app" } });
        const invokers = byType(r, RUN_IAM).filter((g) => g.name.includes("uptime"));
        assert.deepEqual(invokers.map((g) => [g.inputs.location, g.inputs.name]), [["us-central1", "vllm-cloudrun-dev"]]);
        const policy = policies(r).find((p) => String(p.displayName).includes("/health"))!;
        assert.equal(policy.displayName, "vllm-cloudrun-dev: /health fails from 2+ locations (us-central1)");
        assert.equal(policy.documentation.content, [
            "GET /health on `vllm-cloudrun-dev` in the home region (us-central1) failed from more than one location for 10 minutes: that region's service is down or unreachable.",
            "",
            "With several regions the check goes to the home region's run.app URL directly, not through the load balancer: Cloud Run's ingress setting admits uptime checks even when the service takes only load-balancer traffic (https://cloud.google.com/run/docs/securing/ingress); every region, home included, is also watched by the per-region alerts.",
            "",
            "- `npm run smoke` (or the stack's `curlCommand`) to see it yourself; `gcloud run services logs read vllm-cloudrun-dev --region us-central1` for why.",
        ].join("\n"));
        assert.deepEqual(alertPolicyProblems(asApiPolicy(policy)), []);
    });
});

describe("budget", () => {
    it("is this project's Cloud Run spend, monthly, with emails at 50/90/100% and at 100% of forecast, through a provider that bills the API to the project", async () => {
        // Budget emails go to email channels only: the stack's own, not the existing (maybe Slack) ones.
        const r = await runProgram({ config: { monthlyBudget: 500, billingAccount: "012345-6789AB-CDEF01", alertEmail: EMAIL, notificationChannels: ["projects/my-proj/notificationChannels/777"] } });
        const b = one(r, BUDGET);
        assert.equal(b.inputs.billingAccount, "012345-6789AB-CDEF01");
        assert.deepEqual(b.inputs.budgetFilter, { projects: [`projects/${PROJECT_NUMBER}`], services: [CLOUD_RUN_BILLING_SERVICE], calendarPeriod: "MONTH", creditTypesTreatment: "INCLUDE_ALL_CREDITS" });
        assert.deepEqual(b.inputs.amount, { specifiedAmount: { units: "500" } });
        assert.deepEqual(b.inputs.thresholdRules, [
            { thresholdPercent: 0.5, spendBasis: "CURRENT_SPEND" },
            { thresholdPercent: 0.9, spendBasis: "CURRENT_SPEND" },
            { thresholdPercent: 1, spendBasis: "CURRENT_SPEND" },
            { thresholdPercent: 1, spendBasis: "FORECASTED_SPEND" },
        ]);
        assert.deepEqual(b.inputs.allUpdatesRule, { monitoringNotificationChannels: ["projects/my-proj/notificationChannels/4242424242"], disableDefaultIamRecipients: false });
        assert.ok(String(b.inputs.displayName).length <= 60);
        const provider = one(r, PROVIDER, "vllm-cloudrun-dev-billing-provider");
        assert.deepEqual([provider.inputs.userProjectOverride, provider.inputs.billingProject, provider.inputs.project], ["true", "my-proj", "my-proj"]);
        assert.equal(b.provider?.startsWith(`${PROVIDER}::vllm-cloudrun-dev-billing-provider`), true);
        assert.ok(byType(r, API).some((a) => a.inputs.service === "billingbudgets.googleapis.com"));
    });

    it("refuses a budget without a billing account, a malformed account, and an account without a budget, before creating anything", async () => {
        const cases: [Record<string, unknown>, RegExp][] = [
            [{ monthlyBudget: 500 }, /billingAccount[\s\S]*a budget lives in a billing account[\s\S]*config set billingAccount/],
            [{ monthlyBudget: 500, billingAccount: "012345-6789ab-cdef01" }, /billingAccount = "012345-6789ab-cdef01"[\s\S]*upper-case hex[\s\S]*fix: npx pulumi config set billingAccount 012345-6789AB-CDEF01/],
            [{ monthlyBudget: 500, billingAccount: "billingAccounts/012345-6789AB-CDEF01" }, /billingAccount[\s\S]*upper-case hex/],
            [{ billingAccount: "012345-6789AB-CDEF01" }, /monthlyBudget[\s\S]*no budget amount/],
            [{ monthlyBudget: -1, billingAccount: "012345-6789AB-CDEF01" }, /monthlyBudget[\s\S]*>= 0/],
        ];
        for (const [config, message] of cases) {
            const r = await runProgram({ config });
            assert.ok(isConfigError(r.error), JSON.stringify(config));
            assert.match(r.error.message, message);
            assert.deepEqual(r.resources.filter((x) => x.custom), []);
        }
    });
});

describe("alert config checks", () => {
    it("refuses a malformed alertEmail or notification channel, naming the key and the fix", async () => {
        const bad = await runProgram({ config: { alertEmail: "oncall", notificationChannels: ["777", "projects/my-proj/notificationChannels/1", "projects/my-proj/notificationChannels/1"] } });
        assert.ok(isConfigError(bad.error));
        assert.match(bad.error.message, /alertEmail = "oncall"[\s\S]*one email address/);
        assert.match(bad.error.message, /notificationChannels\[0\] = "777"[\s\S]*projects\/PROJECT_ID\/notificationChannels\/NUMBER[\s\S]*gcloud beta monitoring channels list/);
        assert.match(bad.error.message, /notificationChannels\[2\][\s\S]*listed twice/);
    });

    it("needs roles/monitoring.editor from the deployer, checked in preview", () => {
        const role = DEPLOYER_ROLES.find((x) => x.role === "roles/monitoring.editor");
        assert.ok(role);
        for (const p of ["monitoring.dashboards.create", "monitoring.alertPolicies.create", "monitoring.notificationChannels.create", "monitoring.uptimeCheckConfigs.create"]) assert.ok(role.permissions.includes(p), p);
    });
});
