// What an operator watches, as part of the stack: a Cloud Monitoring dashboard, alert policies
// with their notification channel, an uptime check of /health, and a Cloud Billing budget. The
// metrics sidecar itself belongs to the service's containers (components/service.ts).
import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import { RegionPlan, dashboardDefinition, regionPlan } from "./dashboard";
import { ProviderAuth, projectBilledProvider } from "./billed-provider";
import { METRICS_JOB, VLLM_METRICS } from "../config/metrics";

/** Cloud Run's service id in the Cloud Billing catalog (https://cloudbilling.googleapis.com/v1/services lists it as "Cloud Run"). */
export const CLOUD_RUN_BILLING_SERVICE = "services/152E-C115-5142";

/** Budget emails at these fractions of actual spend, and at 100% of the month's forecast. */
export const BUDGET_THRESHOLDS = [0.5, 0.9, 1.0] as const;

/** Uptime check: every 5 minutes (the API takes 60, 300, 600 or 900 s) from the 3 US locations. */
export const UPTIME_PERIOD_SECONDS = 300;

/** Budget display names are at most 60 characters (budget_model.proto Budget.display_name). */
const BUDGET_NAME_MAX = 60;

export interface AlertArgs {
    /** Address for an email channel the stack creates. Default: none. */
    email?: string;
    /** Existing channels (projects/P/notificationChannels/ID) notified as well. Default: none. */
    channels?: readonly string[];
    /** 5xx percentage of requests, over 5 minutes, that opens an incident. Default: 5. */
    errorPercent?: number;
    /** Minutes requests must wait in vLLM's queue before the saturation alert opens. Default: 5. */
    queueMinutes?: number;
}

export interface ServiceMonitoringArgs {
    project: string;
    /** Plain values: the dashboard and the filters are built before anything exists. The home region. */
    region: string;
    /**
     * Every region the service runs in under the same name, home first (`regions[0]` must be
     * `region`). With two or more, the dashboard covers all of them, and the 5xx, queue,
     * at-maxInstances and failed-revision alerts fire per region. Default: `[region]` (`[]` means the same).
     */
    regions?: readonly string[];
    serviceName: string;
    /**
     * The home region's run.app URL, for the uptime check's host (also with several regions: the
     * check goes to the home region directly, not through the load balancer).
     */
    serviceUrl: pulumi.Input<string>;
    /** The home region's deployed Cloud Run service: grants on it wait for it to exist (the build comes first, so that takes long). */
    deployedService: gcp.cloudrunv2.Service;
    maxInstances: number;
    /** Each region's own maxInstances (only regions in `regions`). Default: `maxInstances` for every region. */
    maxInstancesByRegion?: Readonly<Record<string, number>>;
    /** Requests per instance (named in the saturation alert's advice). */
    concurrency: number;
    /** vLLM's metrics are collected (charts and the queue alert need them). */
    metrics: boolean;
    /** Title prefix of the dashboard, policies and budget, e.g. the stack's resource prefix. */
    title: string;
    /** Alert policies and their channels. Default: none (dashboard only). */
    alerts?: AlertArgs;
    /** Create the /health uptime check and its alert (needs `alerts`). Default: false. */
    uptimeCheck?: boolean;
    /** The service grants allUsers the invoker role, so the uptime check needs no token. Default: false. */
    publicService?: boolean;
    /** Monthly budget in the billing account's currency, and that account. Default: none. */
    budget?: { amount: number; billingAccount: string };
    /** Credentials for the budget's provider (it must bill the Budgets API to the project). */
    auth?: ProviderAuth;
    labels?: Record<string, string>;
}

/** One region, or several (the same service name in each). */
type Regions = string | readonly string[];
const regionList = (regions: Regions): readonly string[] => (typeof regions === "string" ? [regions] : regions);

/**
 * The PromQL matcher of the `location` label: `location="r"` for one region; for several an
 * alternation, which Prometheus anchors (https://prometheus.io/docs/prometheus/latest/querying/basics/#time-series-selectors).
 * Region names have no regex metacharacter; anything else is refused rather than escaped.
 */
function locationMatcher(regions: Regions): string {
    const list = regionList(regions);
    if (list.length === 1) return `location="${list[0]}"`;
    for (const r of list) if (!/^[a-z][a-z0-9-]*$/.test(r)) throw new Error(`region ${JSON.stringify(r)} cannot go in a PromQL regex`);
    return `location=~"${list.join("|")}"`;
}

/** PromQL aggregation: across everything for one region, per `location` for several (so each region is judged on its own). */
const aggregate = (op: "sum" | "max", regions: Regions): string => (regionList(regions).length > 1 ? `${op} by (location)` : op);

/** The PromQL selector of this service's built-in Cloud Run series. */
function runSelector(serviceName: string, regions: Regions, extra = ""): string {
    return `{monitored_resource="cloud_run_revision",service_name="${serviceName}",${locationMatcher(regions)}${extra}}`;
}

/** The PromQL selector of this service's vLLM series as the sidecar writes them. */
function vllmSelector(serviceName: string, regions: Regions): string {
    // Prometheus metrics live on prometheus_target only: no monitored_resource label needed.
    return `{cluster="__run__",namespace="${serviceName}",${locationMatcher(regions)},job="${METRICS_JOB}"}`;
}

/**
 * The 5xx ratio query: above the threshold over 5 minutes, with at least one request a minute (an
 * idle service has no ratio). With several regions, a ratio per region: every term is summed by
 * location, and `/`, `>` and `and` match series on that label.
 */
export function errorRatioQuery(serviceName: string, regions: Regions, percent: number): string {
    const rate = (extra: string) => `${aggregate("sum", regions)}(rate(run_googleapis_com:request_count${runSelector(serviceName, regions, extra)}[5m]))`;
    return `(${rate(',response_code_class="5xx"')} / ${rate("")}) > ${percent / 100} and ${rate("")} > ${1 / 60}`;
}

/** vLLM's waiting queue, the largest across instances (per region with several). */
export function queueQuery(serviceName: string, regions: Regions): string {
    return `${aggregate("max", regions)}(${VLLM_METRICS.waiting}${vllmSelector(serviceName, regions)}) > 0`;
}

/** The Cloud Monitoring filter of this service's active instances in one region (the at-maxInstances condition). */
export function activeInstancesFilter(serviceName: string, region: string): string {
    return [
        `metric.type="run.googleapis.com/container/instance_count"`,
        `resource.type="cloud_run_revision"`,
        `resource.labels.service_name="${serviceName}"`,
        `resource.labels.location="${region}"`,
        `metric.labels.state="active"`,
    ].join(" AND ");
}

/**
 * The log entry Cloud Run writes when a revision's Ready condition turns False (its audit log;
 * filter as in chainguard-dev/terraform-infra-common modules/alerting). Several regions are an OR
 * group in parentheses (Logging query language: https://cloud.google.com/logging/docs/view/logging-query-language).
 */
export function failedRevisionFilter(serviceName: string, regions: Regions): string {
    const list = regionList(regions);
    return [
        `resource.type="cloud_run_revision"`,
        `resource.labels.service_name="${serviceName}"`,
        list.length === 1 ? `resource.labels.location="${list[0]}"` : `(${list.map((r) => `resource.labels.location="${r}"`).join(" OR ")})`,
        "severity>=ERROR",
        `protoPayload.status.message:"Ready condition status changed to False"`,
    ].join(" AND ");
}

/** Dashboard, alert policies, uptime check and budget for one Cloud Run service running vLLM. */
export class ServiceMonitoring extends pulumi.ComponentResource {
    readonly dashboard: gcp.monitoring.Dashboard;
    /** https://console.cloud.google.com/monitoring/dashboards/builder/ID?project=PROJECT */
    readonly dashboardUrl: pulumi.Output<string>;
    /** Display names of the alert policies (empty without alerts). */
    readonly alertPolicies: string[];
    readonly emailChannel?: gcp.monitoring.NotificationChannel;
    readonly uptimeCheck?: gcp.monitoring.UptimeCheckConfig;
    readonly budget?: gcp.billing.Budget;

    constructor(name: string, args: ServiceMonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
        super("vllm-cloudrun:monitoring:ServiceMonitoring", name, {}, opts);
        const { region, serviceName } = args;
        const plan = regionPlan(region, args.regions, args.maxInstances, args.maxInstancesByRegion);
        // Names and condition titles that say an alert is about one region of several (empty with one region).
        const inARegion = plan.multi ? " in a region" : "";
        const perRegion = plan.multi ? ", per region" : "";

        this.dashboard = new gcp.monitoring.Dashboard(
            `${name}-dashboard`,
            {
                project: args.project,
                dashboardJson: JSON.stringify(
                    dashboardDefinition({
                        project: args.project, region, regions: plan.regions, serviceName, maxInstances: args.maxInstances, maxInstancesByRegion: plan.maxInstances,
                        metrics: args.metrics, displayName: `${args.title}: vLLM on Cloud Run`,
                    }),
                ),
            },
            { parent: this },
        );
        // The id is the dashboard's name, projects/NUMBER/dashboards/ID (terraform-provider-google's import format).
        this.dashboardUrl = pulumi.interpolate`https://console.cloud.google.com/monitoring/dashboards/builder/${this.dashboard.id.apply((id) => id.split("/").pop() ?? id)}?project=${args.project}`;

        const alerts = args.alerts;
        this.emailChannel = alerts?.email === undefined
            ? undefined
            : new gcp.monitoring.NotificationChannel(
                  `${name}-email`,
                  { project: args.project, type: "email", displayName: `${args.title} alerts`, labels: { email_address: alerts.email }, userLabels: args.labels },
                  { parent: this },
              );
        const channels: pulumi.Input<string>[] = [...(this.emailChannel ? [this.emailChannel.name] : []), ...(alerts?.channels ?? [])];
        const policies: { key: string; displayName: string; args: Omit<gcp.monitoring.AlertPolicyArgs, "displayName" | "project" | "notificationChannels" | "userLabels" | "combiner"> }[] = [];

        if (alerts !== undefined) {
            const errorPercent = alerts.errorPercent ?? 5;
            policies.push({
                key: "errors",
                displayName: `${args.title}: ${errorPercent}%+ of requests fail (5xx)${inARegion}`,
                args: {
                    severity: "ERROR",
                    conditions: [{
                        displayName: `5xx above ${errorPercent}% for 5 minutes${perRegion}`,
                        conditionPrometheusQueryLanguage: { query: errorRatioQuery(serviceName, plan.regions, errorPercent), duration: "300s", evaluationInterval: "60s" },
                    }],
                    documentation: doc(
                        `${serviceName}: more than ${errorPercent}% of requests answer 5xx${inARegion}`,
                        plan.multi
                            ? [
                                `More than ${errorPercent}% of the requests to Cloud Run service \`${serviceName}\` in one region answered 5xx for 5 minutes. ${judgedPerRegion(plan)}`,
                                "",
                                `- 503 or 429 with no container log: no instance in that region could take the request (all at maxInstances, or a GPU instance could not start). Raise its maximum (\`npx pulumi config set maxInstances N\` for every region, or a \`regionMaxInstances\` entry REGION=N for one; within the GPU quota) or keep one warm there (\`regionMinInstances\` REGION=1).`,
                                "- 500 from vLLM: read that region's container log:",
                                ...regionLines(plan, (r) => `\`gcloud run services logs read ${serviceName} --region ${r}\``),
                                `- To change the threshold: \`npx pulumi config set alertErrorPercent N\`.`,
                            ]
                            : [
                                `More than ${errorPercent}% of the requests to Cloud Run service \`${serviceName}\` (${region}) answered 5xx for 5 minutes.`,
                                "",
                                "- 503 or 429 with no container log: no instance could take the request (all at maxInstances, or a GPU instance could not start). Raise `maxInstances` (`npx pulumi config set maxInstances N`, within the GPU quota) or keep one warm (`minInstances 1`).",
                                "- 500 from vLLM: read the container log: `gcloud run services logs read " + serviceName + " --region " + region + "`.",
                                `- To change the threshold: \`npx pulumi config set alertErrorPercent N\`.`,
                            ],
                    ),
                    alertStrategy: { autoClose: "1800s" },
                },
            });
            if (args.metrics) {
                const minutes = alerts.queueMinutes ?? 5;
                policies.push({
                    key: "queue",
                    displayName: `${args.title}: requests queued in vLLM for ${minutes}+ minutes${inARegion}`,
                    args: {
                        severity: "WARNING",
                        conditions: [{
                            displayName: `vllm:num_requests_waiting above 0 for ${minutes} minutes${perRegion}`,
                            // The metric exists only after the sidecar's first scrape.
                            conditionPrometheusQueryLanguage: { query: queueQuery(serviceName, plan.regions), duration: `${minutes * 60}s`, evaluationInterval: "60s", disableMetricValidation: true },
                        }],
                        documentation: doc(
                            `${serviceName}: requests wait in vLLM's queue${inARegion}`,
                            [
                                plan.multi
                                    ? `Requests have waited in vLLM's queue on \`${serviceName}\` in one region for ${minutes} minutes: that region's instances are saturated (vLLM admits a request only when the KV cache can hold it). ${judgedPerRegion(plan)}`
                                    : `Requests have waited in vLLM's queue on \`${serviceName}\` for ${minutes} minutes: the instances are saturated (vLLM admits a request only when the KV cache can hold it).`,
                                "",
                                plan.multi
                                    ? `- More instances: \`npx pulumi config set maxInstances N\` for every region, or a \`regionMaxInstances\` entry REGION=N for one (needs the GPU quota; preview checks it).`
                                    : `- More instances: \`npx pulumi config set maxInstances N\` (needs the GPU quota; preview checks it).`,
                                `- Fewer requests per instance, so Cloud Run sends the rest to other instances: \`npx pulumi config set concurrency N\` (now ${args.concurrency}).`,
                                "- More KV cache per instance: a shorter `maxModelLen`, or `quantization fp8`.",
                                plan.multi
                                    ? "- The dashboard's KV-cache and preemption charts show which limit is hit; its running-vs-waiting chart shows the region."
                                    : "- The dashboard's KV-cache and preemption charts show which limit is hit.",
                            ],
                        ),
                        alertStrategy: { autoClose: "1800s" },
                    },
                });
            }
            const home = plan.maxInstances[region];
            policies.push({
                key: "at-max",
                displayName: plan.multi
                    ? `${args.title}: all instances in a region busy for 15 minutes`
                    : `${args.title}: all ${home} instance(s) busy for 15 minutes`,
                args: {
                    severity: "WARNING",
                    // A threshold condition has one threshold, and the regions' maximums may differ:
                    // one condition per region, each on that region's series; the policy's combiner
                    // OR opens an incident for whichever region is at its maximum.
                    conditions: plan.regions.map((r) => ({
                        displayName: `${plan.multi ? `${r}: ` : ""}active instances at maxInstances (${plan.maxInstances[r]}) for 15 minutes`,
                        conditionThreshold: {
                            filter: activeInstancesFilter(serviceName, r),
                            aggregations: [{ alignmentPeriod: "60s", perSeriesAligner: "ALIGN_MAX", crossSeriesReducer: "REDUCE_SUM", groupByFields: ["resource.labels.service_name"] }],
                            // The API takes only COMPARISON_GT and COMPARISON_LT (alert.proto): > max - 0.5 is >= max.
                            comparison: "COMPARISON_GT",
                            thresholdValue: plan.maxInstances[r] - 0.5,
                            duration: "900s",
                            trigger: { count: 1 },
                        },
                    })),
                    documentation: doc(
                        `${serviceName}: every instance${inARegion} is busy`,
                        plan.multi
                            ? [
                                `All instances of \`${serviceName}\` in one region have been serving requests for 15 minutes: new requests that reach that region wait up to 10 s for a free slot and then fail with 429. The policy has one condition per region (a threshold condition has a single threshold, and each region has its own maxInstances); the condition's name says the region.`,
                                "",
                                "Each region's maxInstances:",
                                ...regionLines(plan, (r) => `${plan.maxInstances[r]} (\`gcloud run services describe ${serviceName} --region ${r}\`)`),
                                "",
                                "- Raise the region's maximum: a `regionMaxInstances` entry REGION=N, or `npx pulumi config set maxInstances N` for every region (the GPU quota must cover it, and preview checks it).",
                                "- With maxInstances 1 in a region this opens whenever its one GPU is busy for 15 minutes: it says capacity is used up, not that anything is broken.",
                            ]
                            : [
                                `All ${home} instance(s) of \`${serviceName}\` have been serving requests for 15 minutes: new requests wait up to 10 s for a free slot and then fail with 429.`,
                                "",
                                "- Raise `maxInstances` (`npx pulumi config set maxInstances N`; the GPU quota must cover it, and preview checks it).",
                                "- With maxInstances 1 this opens whenever the one GPU is busy for 15 minutes: it says capacity is used up, not that anything is broken.",
                            ],
                    ),
                    alertStrategy: { autoClose: "1800s" },
                },
            });
            policies.push({
                key: "revision-failed",
                displayName: `${args.title}: a revision failed to become ready`,
                args: {
                    severity: "CRITICAL",
                    conditions: [{
                        displayName: "Ready condition changed to False",
                        conditionMatchedLog: {
                            filter: failedRevisionFilter(serviceName, plan.regions),
                            // Each combination of extracted values notifies on its own (alert.proto LogMatch.label_extractors): per revision, and per region.
                            labelExtractors: plan.multi
                                ? { revision: "EXTRACT(resource.labels.revision_name)", location: "EXTRACT(resource.labels.location)" }
                                : { revision: "EXTRACT(resource.labels.revision_name)" },
                        },
                    }],
                    documentation: doc(
                        plan.multi
                            ? `${serviceName}: revision \${log.extracted_label.revision} in \${log.extracted_label.location} is not ready`
                            : `${serviceName}: revision \${log.extracted_label.revision} is not ready`,
                        plan.multi
                            ? [
                                `A revision of \`${serviceName}\` in region \${log.extracted_label.location} failed to become ready; that region's previous revision keeps serving, and the other regions are not affected.`,
                                "",
                                "- Its log says why; in that region:",
                                ...regionLines(plan, (r) => `\`gcloud run revisions describe REVISION --region ${r}\` and \`gcloud run services logs read ${serviceName} --region ${r}\``),
                                "- Startup probe failed: the model needs longer to load (README \"Cold starts\"), or vLLM exited (out of GPU memory: a shorter `maxModelLen`, fewer `concurrency`).",
                                "- Quota or capacity: no GPU could be allocated in the region.",
                            ]
                            : [
                                `A revision of \`${serviceName}\` failed to become ready; the previous revision keeps serving.`,
                                "",
                                "- Its log says why: `gcloud run revisions describe REVISION --region " + region + "` and `gcloud run services logs read " + serviceName + " --region " + region + "`.",
                                "- Startup probe failed: the model needs longer to load (README \"Cold starts\"), or vLLM exited (out of GPU memory: a shorter `maxModelLen`, fewer `concurrency`).",
                                "- Quota or capacity: no GPU could be allocated in the region.",
                            ],
                    ),
                    // Log-match conditions require a notification rate limit (alert.proto AlertStrategy).
                    alertStrategy: { notificationRateLimit: { period: "300s" }, autoClose: "1800s" },
                },
            });
        }
        if (args.uptimeCheck === true && alerts !== undefined) {
            const host = pulumi.output(args.serviceUrl).apply((u) => new URL(u).host);
            // A private service: the check sends an OIDC token of the Monitoring service agent, which may invoke only this service.
            const agentGrant = args.publicService === true ? undefined : this.uptimeInvoker(name, args);
            this.uptimeCheck = new gcp.monitoring.UptimeCheckConfig(
                `${name}-uptime`,
                {
                    project: args.project,
                    displayName: `${args.title}: GET /health`,
                    period: `${UPTIME_PERIOD_SECONDS}s`,
                    timeout: "10s",
                    selectedRegions: ["USA"],
                    monitoredResource: { type: "uptime_url", labels: { project_id: args.project, host } },
                    httpCheck: {
                        path: "/health",
                        port: 443,
                        useSsl: true,
                        validateSsl: true,
                        requestMethod: "GET",
                        acceptedResponseStatusCodes: [{ statusValue: 200 }],
                        ...(agentGrant === undefined ? {} : { serviceAgentAuthentication: { type: "OIDC_TOKEN" } }),
                    },
                    userLabels: args.labels,
                },
                { parent: this, dependsOn: agentGrant ? [agentGrant] : [] },
            );
            policies.push({
                key: "uptime",
                displayName: `${args.title}: /health fails from 2+ locations${plan.multi ? ` (${region})` : ""}`,
                args: {
                    severity: "CRITICAL",
                    conditions: [{
                        displayName: "uptime check failing",
                        conditionThreshold: {
                            filter: pulumi.interpolate`metric.type="monitoring.googleapis.com/uptime_check/check_passed" AND resource.type="uptime_url" AND metric.labels.check_id="${this.uptimeCheck.uptimeCheckId}"`,
                            aggregations: [{ alignmentPeriod: "1200s", perSeriesAligner: "ALIGN_NEXT_OLDER", crossSeriesReducer: "REDUCE_COUNT_FALSE", groupByFields: ["resource.labels.host"] }],
                            comparison: "COMPARISON_GT",
                            thresholdValue: 1,
                            duration: "600s",
                            trigger: { count: 1 },
                        },
                    }],
                    documentation: doc(`${serviceName}: /health is failing`, [
                        ...(plan.multi
                            ? [
                                `GET /health on \`${serviceName}\` in the home region (${region}) failed from more than one location for 10 minutes: that region's service is down or unreachable.`,
                                "",
                                // https://cloud.google.com/run/docs/securing/ingress lists "Synthetic monitors (including uptime checks)" among the sources every ingress setting admits.
                                `With several regions the check goes to the home region's run.app URL directly, not through the load balancer: Cloud Run's ingress setting admits uptime checks even when the service takes only load-balancer traffic (https://cloud.google.com/run/docs/securing/ingress); every region, home included, is also watched by the per-region alerts.`,
                            ]
                            : [`GET /health on \`${serviceName}\` failed from more than one location for 10 minutes: the service is down or unreachable.`]),
                        "",
                        "- `npm run smoke` (or the stack's `curlCommand`) to see it yourself; `gcloud run services logs read " + serviceName + " --region " + region + "` for why.",
                    ]),
                    alertStrategy: { autoClose: "1800s" },
                },
            });
        }

        for (const p of policies) {
            new gcp.monitoring.AlertPolicy(
                `${name}-alert-${p.key}`,
                { project: args.project, displayName: p.displayName, combiner: "OR", notificationChannels: channels, userLabels: args.labels, ...p.args },
                { parent: this },
            );
        }
        this.alertPolicies = policies.map((p) => p.displayName);

        if (args.budget !== undefined) this.budget = this.createBudget(name, args, args.budget);

        this.registerOutputs({ dashboardUrl: this.dashboardUrl, alertPolicies: this.alertPolicies });
    }

    /** The Monitoring service agent (created if the project has none yet), allowed to invoke this one service. */
    private uptimeInvoker(name: string, args: ServiceMonitoringArgs): gcp.cloudrunv2.ServiceIamMember {
        const project = gcp.organizations.getProjectOutput({ projectId: args.project }, { parent: this });
        const agent = new gcp.projects.ServiceIdentity(`${name}-monitoring-agent`, { project: args.project, service: "monitoring.googleapis.com" }, { parent: this });
        return new gcp.cloudrunv2.ServiceIamMember(
            `${name}-uptime-invoker`,
            {
                project: args.project,
                location: args.region,
                name: args.deployedService.name,
                role: "roles/run.invoker",
                member: pulumi.interpolate`serviceAccount:service-${project.number}@gcp-sa-monitoring-notification.iam.gserviceaccount.com`,
            },
            { parent: this, dependsOn: [agent, args.deployedService] },
        );
    }

    /**
     * The budget: this project's Cloud Run spend for the calendar month. The Budgets API needs a
     * quota project, which user credentials do not carry (the provider's billing_budget docs), so
     * its provider bills the calls to the stack's project.
     */
    private createBudget(name: string, args: ServiceMonitoringArgs, budget: { amount: number; billingAccount: string }): gcp.billing.Budget {
        const provider = projectBilledProvider(`${name}-billing-provider`, args.project, args.auth, this);
        const project = gcp.organizations.getProjectOutput({ projectId: args.project }, { parent: this });
        return new gcp.billing.Budget(
            `${name}-budget`,
            {
                billingAccount: budget.billingAccount,
                displayName: `${args.title} Cloud Run`.slice(0, BUDGET_NAME_MAX),
                budgetFilter: {
                    projects: [pulumi.interpolate`projects/${project.number}`],
                    services: [CLOUD_RUN_BILLING_SERVICE],
                    calendarPeriod: "MONTH",
                    creditTypesTreatment: "INCLUDE_ALL_CREDITS",
                },
                // No currency: the billing account's own (a given one must match it).
                amount: { specifiedAmount: { units: String(budget.amount) } },
                thresholdRules: [
                    ...BUDGET_THRESHOLDS.map((thresholdPercent) => ({ thresholdPercent, spendBasis: "CURRENT_SPEND" })),
                    { thresholdPercent: 1.0, spendBasis: "FORECASTED_SPEND" },
                ],
                // Budget emails go to email channels only (at most 5), so the stack's own; the
                // billing account's admins get them as well.
                allUpdatesRule: { monitoringNotificationChannels: this.emailChannel ? [this.emailChannel.name] : [], disableDefaultIamRecipients: false },
            },
            { parent: this, provider },
        );
    }
}

/** Markdown sub-list items, one per region (home first), for per-region commands. */
function regionLines(plan: RegionPlan, line: (region: string) => string): string[] {
    return plan.regions.map((r) => `  - ${r}: ${line(r)}`);
}

/** Says that a multi-region alert judges each region on its own, and where the incident names it. */
function judgedPerRegion(plan: RegionPlan): string {
    return `Each of the service's regions (${plan.regions.join(", ")}) is judged on its own; the incident's \`location\` label names the region.`;
}

/** Alert documentation: a subject line and Markdown the notification carries. */
function doc(subject: string, lines: string[]) {
    return { subject, content: lines.join("\n"), mimeType: "text/markdown" };
}
