// Checks that need more than the config itself, run during `pulumi preview` before any
// resource exists: will the model fit the GPU, may the token download it, what will it cost.
// Problems are reported like config problems (key, value, allowed, fix); the token never
// appears in any message.
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, ConfigProblem, memoryGiB, Settings } from "./index";
import { GPU_TYPES } from "./gpus";
import { MODEL_CATALOG, modelFromConfig, ModelSpec, quantizedVariantsOf, sizeFromModelId } from "./model-catalog";
import { estimateGpuMemory, MemoryEstimate, ServingShape, weightsGiB } from "./memory";
import { ALERT_CONDITION_MONTHLY, ARMOR_PER_MILLION_REQUESTS, ARMOR_POLICY_MONTHLY, ARMOR_RULE_MONTHLY, GMP_PER_MILLION_SAMPLES, HOURS_PER_MONTH, LB_DATA_PER_GIB, LB_FIRST_FIVE_RULES_HOUR, PRICES_AS_OF, PRICING_SOURCE, TIER1, TIER1_REGIONS } from "./pricing";
import { samplesPerScrape, SCRAPE_INTERVAL_SECONDS } from "./metrics";
import { MAX_STARTUP_SECONDS, startupEstimate, StartupEstimate } from "./startup";
import { adcPost, checkDeployerPermissions, DEPLOYER_ROLES, DeployerRole, FRONT_DOOR_ROLES, GooglePost, grantCommands } from "./permissions";
import { FP8_KV_MIN_VLLM_RELEASE, FP8_MIN_COMPUTE_CAPABILITY, isGemma3 } from "./contract";
import { compareVersions, vllmRelease } from "./vllm-images";
import { LORA_RANKS } from "./index";

export { MemoryEstimate } from "./memory";

const GiB = 1024 ** 3;

export interface HttpResponse {
    status: number;
    text: string;
}
/** The one network dependency, injectable for tests. */
export type HttpGet = (url: string, headers: Record<string, string>, timeoutMs: number) => Promise<HttpResponse>;

export const fetchHttpGet: HttpGet = async (url, headers, timeoutMs) => {
    const r = await fetch(url, { headers, redirect: "follow", signal: AbortSignal.timeout(timeoutMs) });
    return { status: r.status, text: await r.text() };
};

/** One region's instances and what its warm ones cost a month. */
export interface RegionCost {
    region: string;
    minInstances: number;
    maxInstances: number;
    monthlyAtMinInstances: number;
}

export interface CostEstimate {
    /** Always USD. */
    currency: string;
    region: string;
    perInstanceHour: number;
    gpuHour: number;
    cpuHour: number;
    memoryHour: number;
    /** At minInstances, running all month. */
    monthlyAtMinInstances: number;
    /** Of perInstanceHour, what metrics add: the sidecar's vCPU and memory, and the samples it ingests. */
    metricsPerInstanceHour: number;
    /** Alert policies' conditions, per month (0 without alerts). */
    alertingMonthly: number;
    /** With several regions: each region's warm instances (monthlyAtMinInstances is their sum). */
    perRegion?: RegionCost[];
    /** With several regions: the load balancer's forwarding rules and the Cloud Armor policy and rules, per month before traffic. */
    frontDoorMonthly?: number;
    /** With several regions: load balancer data processing per GiB of requests plus responses ($0.008 each way; request logs beyond Cloud Logging's free 50 GiB are extra). */
    frontDoorPerGiB?: number;
    /** With several regions: Cloud Armor, per million requests. */
    armorPerMillionRequests?: number;
    pricesAsOf: string;
    source: string;
    note?: string;
}

/** What the service is started with, decided by the preflight from the model and the settings. */
export interface ServingPlan {
    /** The checkpoint's own quantization (awq, gptq, compressed-tensors, fp8) when it has one. */
    checkpointQuantization?: string;
    /** The model has a vision tower. */
    vision: boolean;
    /** --max-lora-rank (0 without adapters). */
    maxLoraRank: number;
}

export interface PreflightReport {
    memory?: MemoryEstimate;
    startup: StartupEstimate;
    cost: CostEstimate;
    plan: ServingPlan;
    warnings: string[];
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

/** Hourly cost of one instance and the monthly cost of the warm ones. */
/** What one instance and the stack's monitoring consist of, for the cost estimate. */
export type CostInputs = Pick<Settings, "region" | "gpuType" | "gpuZonalRedundancy" | "minInstances"> &
    Partial<Pick<Settings, "containers" | "alerts" | "uptimeCheck" | "metrics" | "regions" | "frontDoor">> & { cpu: number; memory: string };

/** Cloud Armor rules the front door has: the credential check, the rate limit (unless 0), the default. */
export function armorRuleCount(frontDoor: { rateLimitPerMinute: number }): number {
    return frontDoor.rateLimitPerMinute > 0 ? 3 : 2;
}

/** The front door's fixed monthly cost: forwarding rules around the clock, the Armor policy and its rules. */
export function frontDoorMonthly(frontDoor: { rateLimitPerMinute: number }): number {
    return LB_FIRST_FIVE_RULES_HOUR * HOURS_PER_MONTH + ARMOR_POLICY_MONTHLY + ARMOR_RULE_MONTHLY * armorRuleCount(frontDoor);
}

/**
 * Alert conditions the stack creates: 5xx, at maxInstances (one per region: each has its own
 * maximum), failed revision; the queue with metrics; the uptime check.
 */
export function alertConditions(s: Partial<Pick<Settings, "alerts" | "uptimeCheck" | "metrics" | "regions">>): number {
    return s.alerts === undefined ? 0 : 2 + Math.max(1, s.regions?.length ?? 1) + (s.metrics ? 1 : 0) + (s.uptimeCheck ? 1 : 0);
}

export function estimateCost(s: CostInputs): CostEstimate {
    const gpuPrice = TIER1.gpuSecond[s.gpuType];
    // A GPU whose price the table has no source for is left out and said so, never guessed.
    const gpuHour = gpuPrice === undefined ? 0 : (s.gpuZonalRedundancy ? gpuPrice.zonal : gpuPrice.nonZonal) * 3600;
    const notes = [
        ...(gpuPrice === undefined ? [`the ${s.gpuType} GPU price is not in this program's price table (no published price was available to it): the totals are CPU and memory only; see ${PRICING_SOURCE}`] : []),
        ...(s.frontDoor ? s.regions ?? [] : [{ region: s.region }])
            .filter((r) => !TIER1_REGIONS.includes(r.region))
            .map((r) => `${r.region} is priced above Tier 1; this uses Tier 1 prices, so the real cost is higher`),
    ];
    // Every container of the instance is billed: vLLM's and the metrics sidecar's.
    const sidecar = s.containers?.sidecar;
    const cpu = s.containers ? s.containers.vllm.cpu + (sidecar?.cpu ?? 0) : s.cpu;
    const memGiB = s.containers ? (s.containers.vllm.memoryMiB + (sidecar?.memoryMiB ?? 0)) / 1024 : (memoryGiB(s.memory) ?? 0);
    const cpuHour = TIER1.vcpuSecond * cpu * 3600;
    const memoryHour = TIER1.gibSecond * memGiB * 3600;
    const samplesHour = sidecar ? (samplesPerScrape() * 3600 / SCRAPE_INTERVAL_SECONDS / 1e6) * GMP_PER_MILLION_SAMPLES : 0;
    const metricsPerInstanceHour = sidecar ? (TIER1.vcpuSecond * sidecar.cpu + TIER1.gibSecond * (sidecar.memoryMiB / 1024)) * 3600 + samplesHour : 0;
    const perInstanceHour = gpuHour + cpuHour + memoryHour + samplesHour;
    // Several regions: the same instance in each, warm ones counted region by region.
    const multi = s.frontDoor ? s.regions : undefined;
    return {
        currency: "USD",
        region: s.region,
        perInstanceHour: round(perInstanceHour),
        gpuHour: round(gpuHour),
        cpuHour: round(cpuHour),
        memoryHour: round(memoryHour),
        monthlyAtMinInstances: round(perInstanceHour * HOURS_PER_MONTH * (multi ? multi.reduce((n, r) => n + r.minInstances, 0) : s.minInstances), 0),
        metricsPerInstanceHour: round(metricsPerInstanceHour, 4),
        alertingMonthly: round(alertConditions(s) * ALERT_CONDITION_MONTHLY),
        ...(multi && s.frontDoor
            ? {
                  perRegion: multi.map((r) => ({ region: r.region, minInstances: r.minInstances, maxInstances: r.maxInstances, monthlyAtMinInstances: round(perInstanceHour * HOURS_PER_MONTH * r.minInstances, 0) })),
                  frontDoorMonthly: round(frontDoorMonthly(s.frontDoor)),
                  frontDoorPerGiB: round(2 * LB_DATA_PER_GIB, 3),
                  armorPerMillionRequests: ARMOR_PER_MILLION_REQUESTS,
              }
            : {}),
        pricesAsOf: PRICES_AS_OF,
        source: PRICING_SOURCE,
        ...(notes.length === 0 ? {} : { note: notes.join("; ") }),
    };
}

type Access =
    | { kind: "ok"; config: Record<string, unknown> }
    | { kind: "denied"; status: number }
    | { kind: "not-found" }
    | { kind: "unreachable"; reason: string };

/** A JSON file from the Hub at a pinned revision, with the token in the header only. */
async function fetchHubJson(url: string, token: string, http: HttpGet, timeoutMs = 10_000): Promise<Access> {
    try {
        const r = await http(url, { Authorization: `Bearer ${token}` }, timeoutMs);
        if (r.status === 401 || r.status === 403) return { kind: "denied", status: r.status };
        if (r.status === 404) return { kind: "not-found" };
        if (r.status !== 200) return { kind: "unreachable", reason: `HTTP ${r.status}` };
        return { kind: "ok", config: JSON.parse(r.text) as Record<string, unknown> };
    } catch (e) {
        // Never echo the error object: some clients put request headers in it.
        return { kind: "unreachable", reason: e instanceof Error && e.name === "TimeoutError" ? "timed out" : "network error" };
    }
}

/** Asks Hugging Face for the model's config.json at the pinned revision, with the token. */
export function checkModelAccess(model: string, revision: string, token: string, http: HttpGet, timeoutMs = 10_000): Promise<Access> {
    return fetchHubJson(`https://huggingface.co/${model}/resolve/${revision}/config.json`, token, http, timeoutMs);
}

function unwrapSecret(o: pulumi.Output<string>): Promise<string> {
    return new Promise((resolve) => o.apply((v) => resolve(v)));
}

/** Your permissions on the project, as problems (missing ones with the grant commands) and warnings. */
async function permissionProblems(project: string, post: GooglePost, problems: ConfigProblem[], warnings: string[], roles: readonly DeployerRole[]): Promise<void> {
    const check = await checkDeployerPermissions(project, post, roles);
    if (check.kind === "no-credentials") {
        problems.push({ key: "Google credentials", value: check.reason, allowed: "pulumi and this check use Application Default Credentials, and none were found", fix: "gcloud auth application-default login   (and gcloud auth login, for the image build)" });
    } else if (check.kind === "no-project-access") {
        problems.push({ key: "gcp:project", value: project, allowed: `your credentials cannot see this project (HTTP ${check.status}): wrong project id, or no role on it`, fix: "gcloud projects list   (then: npx pulumi config set gcp:project PROJECT_ID)" });
    } else if (check.kind === "api-disabled-in-quota-project") {
        problems.push({ key: "Google credentials", value: check.reason, allowed: "the Cloud Resource Manager API is disabled in the quota project your Application Default Credentials bill calls to", fix: `gcloud auth application-default set-quota-project ${project}   (or enable the API there: gcloud services enable cloudresourcemanager.googleapis.com --project=QUOTA_PROJECT)` });
    } else if (check.kind === "quota-project-denied") {
        problems.push({ key: "Google credentials", value: check.reason, allowed: "your Application Default Credentials bill calls to a quota project you may not use (serviceusage.services.use)", fix: `gcloud auth application-default set-quota-project ${project}` });
    } else if (check.kind === "missing") {
        problems.push({
            key: "permissions",
            value: check.permissions,
            allowed: `your account lacks these permissions on ${project}; the roles that grant them: ${check.roles.map((r) => `${r.role} (${r.why})`).join("; ")}`,
            fix: grantCommands(project, check.roles).join("\n         "),
        });
    } else if (check.kind === "unchecked") {
        warnings.push(`Could not check your permissions on ${project} (${check.reason}); continuing. README "Permissions" lists the roles a deploy needs.`);
    }
}

/** The largest rank in an adapter's adapter_config.json (r, or the largest of rank_pattern), or undefined. */
export function adapterRank(config: Record<string, unknown>): number | undefined {
    const ranks = [config.r, ...Object.values((config.rank_pattern as Record<string, unknown> | undefined) ?? {})].filter((x): x is number => typeof x === "number");
    return ranks.length === 0 ? undefined : Math.max(...ranks);
}

/** The smallest --max-lora-rank vLLM accepts that covers `rank`, or undefined above 512. */
export function loraRankFor(rank: number): number | undefined {
    return LORA_RANKS.find((r) => r >= rank);
}

/** Reads every adapter's adapter_config.json at its revision: the largest rank, and problems. */
async function adapterRanks(s: Readonly<Settings>, token: string, http: HttpGet, problems: ConfigProblem[], warnings: string[]): Promise<number | undefined> {
    let largest = 0;
    for (const [i, a] of s.loraAdapters.entries()) {
        const access = await fetchHubJson(`https://huggingface.co/${a.repo}/resolve/${a.revision}/adapter_config.json`, token, http);
        if (access.kind === "ok") {
            const rank = adapterRank(access.config);
            const base = access.config.base_model_name_or_path;
            if (rank === undefined) problems.push({ key: `loraAdapters[${i}].repo`, value: a.repo, allowed: "its adapter_config.json has no rank (r): not a PEFT LoRA adapter vLLM can load", fix: `npx pulumi config set --path 'loraAdapters[${i}].repo' ORG/LORA_ADAPTER` });
            else largest = Math.max(largest, rank);
            if (typeof base === "string" && base !== s.model && !base.endsWith(`/${s.model.split("/")[1]}`)) {
                warnings.push(`LoRA adapter ${a.name} (${a.repo}) was trained on ${base}, not ${s.model}; vLLM loads it only if the layer shapes match.`);
            }
        } else if (access.kind === "denied" || access.kind === "not-found") {
            problems.push({ key: `loraAdapters[${i}]`, value: `${a.repo}@${a.revision}`, allowed: access.kind === "denied" ? `Hugging Face answered ${access.status}: the token has no access to this adapter` : "has no adapter_config.json at this revision (wrong repository or commit)", fix: `npx pulumi config set --path 'loraAdapters[${i}].revision' FULL_COMMIT_SHA   (commits: https://huggingface.co/${a.repo}/commits/main)` });
        } else {
            return undefined;
        }
    }
    return largest;
}

/**
 * Runs every preflight check and throws one ConfigError with all problems found.
 * With `network` false (config preflightChecks: false) nothing is fetched.
 */
export async function runPreflight(s: Readonly<Settings>, opts: { network: boolean; http?: HttpGet; googlePost?: GooglePost }): Promise<PreflightReport> {
    const problems: ConfigProblem[] = [];
    const warnings: string[] = [...s.notices];
    const modelPage = `https://huggingface.co/${s.model}`;

    let spec: ModelSpec | undefined = MODEL_CATALOG[s.model];
    let loraRank: number | undefined = s.maxLoraRank === 0 ? undefined : s.maxLoraRank;
    if (opts.network) {
        await permissionProblems(s.project, opts.googlePost ?? adcPost(), problems, warnings, s.frontDoor ? [...DEPLOYER_ROLES, ...FRONT_DOOR_ROLES] : DEPLOYER_ROLES);
        const http = opts.http ?? fetchHttpGet;
        const token = await unwrapSecret(s.hfToken);
        const access = await checkModelAccess(s.model, s.modelRevision, token, http);
        if (access.kind === "denied") {
            problems.push({ key: "hfToken", value: "(secret)", allowed: `Hugging Face answered ${access.status}: the token's account has no access to ${s.model}. Accept the model's license at ${modelPage} with that account`, fix: "npx pulumi config set --secret hfToken   (paste the token of the account that accepted, at the prompt)" });
        } else if (access.kind === "not-found") {
            problems.push({ key: "modelRevision", value: s.modelRevision, allowed: `${s.model} has no config.json at this revision (wrong model id or commit). Commits are listed at ${modelPage}/commits/main`, fix: "npx pulumi config set modelRevision FULL_COMMIT_SHA" });
        } else if (access.kind === "unreachable") {
            warnings.push(`Could not reach Hugging Face to check access to ${s.model} (${access.reason}); continuing. The image build will fail if the token has no access.`);
        } else if (spec === undefined) {
            // The model's own config.json at the pinned revision: architecture and quantization, not guessed.
            spec = modelFromConfig(s.model, s.modelRevision, access.config, `${modelPage}/blob/${s.modelRevision}/config.json`);
        }
        if (s.loraAdapters.length > 0 && loraRank === undefined) {
            const largest = await adapterRanks(s, token, http, problems, warnings);
            if (largest !== undefined && largest > 0) {
                loraRank = loraRankFor(largest);
                if (loraRank === undefined) problems.push({ key: "loraAdapters", value: largest, allowed: "an adapter's rank is above 512, vLLM's largest --max-lora-rank", fix: "use adapters of rank 512 or less" });
            }
        }
    }
    if (s.loraAdapters.length > 0 && loraRank === undefined) {
        loraRank = 16;
        warnings.push(`The LoRA adapters' ranks were not read (${opts.network ? "Hugging Face unreachable" : "preflightChecks off"}), so --max-lora-rank is vLLM's default of 16: an adapter of higher rank fails to load. Set maxLoraRank to the largest rank (npx pulumi config set maxLoraRank 64).`);
    }

    const report = fitAndCost(s, spec, problems, warnings, loraRank ?? 0);
    for (const w of report.warnings) void pulumi.log.warn(w);
    return report;
}

/** The memory estimate's inputs, from the settings. */
export function servingShape(s: Readonly<Settings>, spec: ModelSpec, loraRank: number): ServingShape {
    return {
        gpuType: s.gpuType,
        gpuMemoryUtilization: s.gpuMemoryUtilization,
        maxModelLen: s.maxModelLen,
        concurrency: s.concurrency,
        quantization: s.quantization,
        kvCacheDtype: s.kvCacheDtype,
        imagesPerPrompt: spec.vision !== null && s.imageInput ? s.imagesPerPrompt : 0,
        cudaGraphs: s.startupMode === "throughput",
        loras: s.loraAdapters.length,
        maxLoraRank: s.loraAdapters.length > 0 ? loraRank : 0,
    };
}

/** A change that might make a configuration fit: the command, and the settings it leads to. */
interface Alternative {
    command: string;
    apply: Partial<Settings>;
    model?: ModelSpec;
}

/** Changes worth trying when a configuration does not fit, nearest first. */
function candidates(s: Readonly<Settings>, spec: ModelSpec, m: MemoryEstimate): Alternative[] {
    const set = (key: string, value: string | number) => `npx pulumi config set ${key} ${value}`;
    const out: Alternative[] = [];
    if (m.limitedBy !== "weights") {
        // Longest context at which `concurrency` sequences fit, in whole KiB-tokens; then fewer sequences at full length.
        const len = Math.floor(m.maxContextAtConcurrency / 1024) * 1024;
        if (len >= 1024 && len < s.maxModelLen) out.push({ command: set("maxModelLen", len), apply: { maxModelLen: len } });
        if (m.fullLengthSequences >= 1 && m.fullLengthSequences < s.concurrency) out.push({ command: set("concurrency", m.fullLengthSequences), apply: { concurrency: m.fullLengthSequences } });
    }
    if (m.limitedBy === "cuda-graphs") {
        out.push({ command: set("startupMode", "fast"), apply: { startupMode: "fast" } });
        const gpu = GPU_TYPES[s.gpuType];
        const util = Math.floor((1 - (m.cudaGraphGiB + 0.25) / gpu.usableGiB) * 100) / 100;
        if (util > 0 && util < s.gpuMemoryUtilization) out.push({ command: set("gpuMemoryUtilization", util), apply: { gpuMemoryUtilization: util } });
    }
    const release = vllmRelease(s.vllmImage);
    const fp8KvWorks = release !== undefined && compareVersions(release, FP8_KV_MIN_VLLM_RELEASE) >= 0;
    if (s.kvCacheDtype === "auto" && fp8KvWorks && m.limitedBy !== "weights" && !isGemma3(spec.architecture ?? s.model)) out.push({ command: set("kvCacheDtype", "fp8"), apply: { kvCacheDtype: "fp8" } });
    if (spec.quantization === null && s.quantization === "none" && GPU_TYPES[s.gpuType].computeCapability >= FP8_MIN_COMPUTE_CAPABILITY) out.push({ command: set("quantization", "fp8"), apply: { quantization: "fp8" } });
    for (const variant of quantizedVariantsOf(s.model)) {
        // A quantized checkpoint is served in its own format: fp8 at load would be refused.
        const extra = [variant.revision ? "" : " && npx pulumi config set modelRevision FULL_COMMIT_SHA", s.quantization === "none" ? "" : ` && ${set("quantization", "none")}`].join("");
        out.push({ command: `${set("model", variant.id)}${extra}`, apply: { model: variant.id, quantization: "none" }, model: variant });
    }
    if (spec.vision !== null && s.imageInput) out.push({ command: set("imageInput", "false"), apply: { imageInput: false } });
    for (const [gpuType, gpu] of Object.entries(GPU_TYPES)) {
        if (gpuType === s.gpuType || gpu.usableGiB <= GPU_TYPES[s.gpuType].usableGiB) continue;
        // The nearest self-serve region: same continent prefix (us-, europe-, asia-) first.
        const open = gpu.regions.filter((r) => !gpu.invitationOnlyRegions.includes(r));
        const near = open.find((r) => r.split("-")[0] === s.region.split("-")[0]) ?? open[0];
        const region = gpu.regions.includes(s.region) ? "" : ` && npx pulumi config set gcp:region ${near}`;
        out.push({ command: `${set("gpuType", gpuType)} && npx pulumi config rm cpu && npx pulumi config rm memory${region}`, apply: { gpuType, cpu: gpu.defaultCpu, memory: gpu.defaultMemory } });
    }
    return out;
}

/** Up to three changes that make it fit (or at least run), each with what it leads to. */
export function workingAlternatives(s: Readonly<Settings>, spec: ModelSpec, m: MemoryEstimate, loraRank: number): string[] {
    const tried = candidates(s, spec, m).map((c) => {
        const next: Settings = { ...s, ...c.apply };
        const e = estimateGpuMemory(c.model ?? spec, servingShape(next, c.model ?? spec, loraRank));
        return { c, e };
    });
    // Staying on this GPU first (a bigger GPU costs more per hour), then fits before tight.
    const rank = (t: (typeof tried)[number]) => (t.c.apply.gpuType !== undefined ? 2 : 0) + (t.e.verdict === "fits" ? 0 : 1);
    const ok = tried.filter((t) => t.e.verdict !== "does-not-fit").sort((a, b) => rank(a) - rank(b));
    return ok.slice(0, 3).map(({ c, e }) => `${c.command}   (${e.verdict}: ${e.fullLengthSequences} full-length sequences of ${c.apply.maxModelLen ?? s.maxModelLen} tokens, weights ${e.weightsGiB} GiB)`);
}

/** The numbers behind a verdict, for messages. */
function numbersOf(s: Readonly<Settings>, m: MemoryEstimate): string {
    return `budget ${m.budgetGiB} GiB (gpuMemoryUtilization ${s.gpuMemoryUtilization} x ${GPU_TYPES[s.gpuType].usableGiB} GiB), weights ${m.weightsGiB} GiB (${m.weightFormat}), runtime ~${m.overheadGiB} GiB${m.loraGiB > 0 ? `, LoRA slots ${m.loraGiB} GiB` : ""}, KV cache ${m.kvCacheGiB} GiB = ${m.fullLengthSequences} sequences of ${s.maxModelLen} tokens`;
}

/** By how much it misses, in words. */
function shortfall(s: Readonly<Settings>, spec: ModelSpec, m: MemoryEstimate): string {
    if (m.limitedBy === "weights") return `weights and runtime need ${round(m.weightsGiB + m.overheadGiB + m.loraGiB - m.budgetGiB)} GiB more than the ${m.budgetGiB} GiB budget`;
    if (m.limitedBy === "kv-cache") return `one ${s.maxModelLen}-token sequence needs ${round((m.kvPerTokenKiB * s.maxModelLen) / 1024 / 1024)} GiB of KV cache and ${m.kvCacheGiB} GiB is left`;
    return `CUDA graph capture (startupMode throughput) needs ~${m.cudaGraphGiB} GiB outside vLLM's budget and ${m.outsideBudgetGiB} GiB is left there (vLLM OOMs during capture, as in https://github.com/vllm-project/vllm/issues/16199); ${spec.layers} layers`;
}

/**
 * The checks that need nothing but the settings and the model's spec (when known): checkpoint
 * and quantization, GPU memory fit, context length, startup window, cost. Throws one ConfigError
 * with `problems` and its own. VllmCloudRun runs it before registering anything, with the catalog.
 */
export function fitAndCost(s: Readonly<Settings>, spec: ModelSpec | undefined, problems: ConfigProblem[] = [], warnings: string[] = [], loraRank = 16): PreflightReport {
    let memory: MemoryEstimate | undefined;
    const gpu = GPU_TYPES[s.gpuType];
    if (spec === undefined) {
        // Nothing but the id: refuse what cannot fit even at the fewest bits its name allows.
        const size = sizeFromModelId(s.model);
        const minGiB = size === undefined ? undefined : (size.paramsB * 1e9 * size.minBitsPerWeight) / 8 / GiB;
        if (minGiB !== undefined && minGiB > gpu.usableGiB * s.gpuMemoryUtilization) {
            problems.push({ key: "model", value: s.model, allowed: `its name says ${size?.paramsB}B parameters: at ${size?.minBitsPerWeight} bits per weight that is ${round(minGiB)} GiB of weights, more than the ${round(gpu.usableGiB * s.gpuMemoryUtilization)} GiB vLLM may use on one ${s.gpuType}`, fix: "npx pulumi config set model google/gemma-3-12b-it   (or a quantized checkpoint that fits: README \"Choosing a model\")" });
        } else {
            warnings.push(`GPU memory fit was NOT checked: ${s.model} is not in the model catalog and its config.json could not be read${size ? ` (its name says ${size.paramsB}B parameters)` : ""}. Check it with preflightChecks on and Hugging Face reachable (npx pulumi preview), or pick a catalogued model (README "Choosing a model").`);
        }
    } else {
        if (s.maxModelLen > spec.maxContext) {
            problems.push({ key: "maxModelLen", value: s.maxModelLen, allowed: `${s.model} supports at most ${spec.maxContext} tokens of context`, fix: `npx pulumi config set maxModelLen ${Math.min(spec.maxContext, 8192)}` });
        }
        if (s.quantization === "fp8" && spec.quantization !== null) {
            problems.push({ key: "quantization", value: "fp8", allowed: `${s.model} is already quantized (${spec.quantization.method}, ${spec.quantization.bits}-bit, from its config.json's quantization_config); vLLM serves it in that format`, fix: "npx pulumi config set quantization none" });
        }
        if (s.loraAdapters.length > 0 && spec.experts !== null) {
            problems.push({ key: "loraAdapters", value: s.loraAdapters.map((a) => a.name), allowed: `${s.model} is a mixture-of-experts model: vLLM 0.10 applies LoRA to dense layers only (LoRA on fused MoE experts came in later releases), so adapters trained on it would not load`, fix: "npx pulumi config rm loraAdapters   (or serve the adapters on a dense model)" });
        }
        if (s.kvCacheDtype === "fp8" && spec.architecture?.startsWith("Gemma3")) {
            problems.push({ key: "kvCacheDtype", value: "fp8", allowed: `${s.model} is a Gemma 3 model (${spec.architecture}): FP8 KV cache fails under FlashInfer (https://github.com/vllm-project/vllm/issues/29531)`, fix: "npx pulumi config set kvCacheDtype auto" });
        }
        memory = estimateGpuMemory(spec, servingShape(s, spec, loraRank));
        if (memory.verdict === "does-not-fit") {
            const alternatives = workingAlternatives(s, spec, memory, loraRank);
            const key = memory.limitedBy === "cuda-graphs" ? "gpuMemoryUtilization" : memory.limitedBy === "kv-cache" ? "maxModelLen" : "model";
            const value = key === "gpuMemoryUtilization" ? s.gpuMemoryUtilization : key === "maxModelLen" ? s.maxModelLen : s.model;
            problems.push({
                key,
                value,
                allowed: `does not fit one ${s.gpuType}: ${shortfall(s, spec, memory)} (${numbersOf(s, memory)}).${alternatives.length > 0 ? ` Settings that run (nearest first):\n           ${alternatives.join("\n           ")}` : " Nothing nearby fits: pick a smaller model (README \"Choosing a model\")."}`,
                fix: alternatives.length > 0 ? alternatives[0].split("   (")[0] : "npx pulumi config set model google/gemma-3-4b-it",
            });
        } else if (memory.verdict === "tight") {
            const alternatives = workingAlternatives(s, spec, memory, loraRank);
            warnings.push(`Tight GPU memory fit: ${memory.fullLengthSequences} full-length (${s.maxModelLen}-token) sequences fit, concurrency is ${s.concurrency}; long requests may be preempted. ${numbersOf(s, memory)}.${alternatives.length > 0 ? ` To fit every request at full length: ${alternatives[0]}` : ""}`);
        }
    }

    // Loading reads the stored checkpoint: bf16 size even when vLLM quantizes it to fp8 at load.
    const storedGiB = spec === undefined ? gpu.usableGiB * s.gpuMemoryUtilization : weightsGiB(spec, "none");
    const startup = startupEstimate(s.startupMode, storedGiB, s.weights);
    if (startup.expectedSeconds > MAX_STARTUP_SECONDS) {
        problems.push({ key: "model", value: s.model, allowed: `expected startup is ~${startup.expectedSeconds} s (${round(storedGiB, 1)} GiB of weights from ${s.weights === "gcs" ? "Cloud Storage" : "the image"}, ${s.startupMode} mode), more than the ${MAX_STARTUP_SECONDS} s a GPU service's startup probe may wait`, fix: "npx pulumi config set startupMode fast   (or a smaller or quantized model)" });
    } else if (startup.exceedsCloudRunLimit) {
        warnings.push(`Expected startup of ~${startup.expectedSeconds} s (${s.startupMode} mode, ${s.weights} weights) leaves less than ${Math.round((startup.safetyFactor - 1) * 100)}% headroom in the ${MAX_STARTUP_SECONDS} s a GPU service's startup probe may wait: consider startupMode fast, or a smaller model.`);
    }

    if (problems.length > 0) throw new ConfigError(problems);
    const plan: ServingPlan = {
        ...(spec?.quantization ? { checkpointQuantization: spec.quantization.method } : {}),
        vision: spec?.vision != null,
        maxLoraRank: s.loraAdapters.length > 0 ? loraRank : 0,
    };
    return { memory, startup, cost: estimateCost(s), plan, warnings };
}
