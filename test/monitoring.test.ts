// Observability as the stack builds it: the Managed Prometheus sidecar and its config, the
// runtime account's one extra role, the dashboard, alert policies, uptime check and budget, and
// that each is absent when its config is off.
import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as YAML from "yaml";
import { byType, isConfigError, one, PROJECT_NUMBER, runProgram, RunResult } from "./harness";
import { alertPolicyProblems, dashboardProblems } from "./monitoring-protos";
import { GMP_SIDECAR_IMAGE, METRICS_RELAY_PORT, runMonitoringConfig, samplesPerScrape, VLLM_METRICS } from "../config/metrics";
import { CLOUD_RUN_BILLING_SERVICE } from "../components/monitoring";
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
