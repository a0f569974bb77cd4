// Checks that need more than the config itself, run during `pulumi preview` before any
// resource exists: will the model fit the GPU, may the token download it, what will it cost.
// Problems are reported like config problems (key, value, allowed, fix); the token never
// appears in any message.
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, ConfigProblem, memoryGiB, Settings } from "./index";
import { GPU_TYPES } from "./gpus";
import { architectureFromConfig, MODEL_CATALOG, ModelArchitecture } from "./model-catalog";
import { HOURS_PER_MONTH, PRICES_AS_OF, PRICING_SOURCE, TIER1, TIER1_REGIONS } from "./pricing";
import { startupEstimate, StartupEstimate } from "./startup";
import { adcPost, checkDeployerPermissions, GooglePost, grantCommands } from "./permissions";

const GiB = 1024 ** 3;
/** vLLM's activation peak, CUDA graphs and non-torch allocations; an estimate, not a measurement. */
export const RUNTIME_OVERHEAD_GIB = 2;
const BYTES_PER_PARAM = 2; // bf16/fp16, what vLLM's "auto" dtype serves these models in

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

export interface MemoryEstimate {
    gpuType: string;
    /** gpuMemoryUtilization x usable GPU memory: what vLLM may use. */
    budgetGiB: number;
    weightsGiB: number;
    overheadGiB: number;
    kvCacheGiB: number;
    kvPerTokenKiB: number;
    /** Tokens the KV cache holds, across all running sequences. */
    kvCacheTokens: number;
    /** Full-length (maxModelLen) sequences that fit at once. */
    fullLengthSequences: number;
    /** Memory bandwidth / weight bytes: no single stream decodes faster than this. */
    singleStreamCeilingTokensPerSecond: number;
    /** fits, tight or does-not-fit (a plain string: component package schemas have no literal unions). */
    verdict: string;
    source: string;
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
    pricesAsOf: string;
    source: string;
    note?: string;
}

export interface PreflightReport {
    memory?: MemoryEstimate;
    startup: StartupEstimate;
    cost: CostEstimate;
    warnings: string[];
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

/** GPU memory needed by weights, runtime and KV cache, against what vLLM may use. */
export function estimateGpuMemory(arch: ModelArchitecture, s: Pick<Settings, "gpuType" | "gpuMemoryUtilization" | "maxModelLen" | "concurrency">): MemoryEstimate {
    const gpu = GPU_TYPES[s.gpuType];
    const budget = gpu.usableGiB * s.gpuMemoryUtilization;
    const weights = (arch.paramsB * 1e9 * BYTES_PER_PARAM) / GiB;
    const kvCache = Math.max(0, budget - weights - RUNTIME_OVERHEAD_GIB);
    // K and V, per layer, per KV head, head_dim values of 2 bytes each. Sliding-window layers
    // (Gemma 3) need less, so this is an upper bound.
    const kvPerToken = 2 * arch.layers * arch.kvHeads * arch.headDim * BYTES_PER_PARAM;
    const kvCacheTokens = Math.floor((kvCache * GiB) / kvPerToken);
    const fullLengthSequences = Math.floor(kvCacheTokens / s.maxModelLen);
    const verdict = fullLengthSequences < 1 ? "does-not-fit" : fullLengthSequences < s.concurrency ? "tight" : "fits";
    return {
        gpuType: s.gpuType,
        budgetGiB: round(budget),
        weightsGiB: round(weights),
        overheadGiB: RUNTIME_OVERHEAD_GIB,
        kvCacheGiB: round(kvCache),
        kvPerTokenKiB: round(kvPerToken / 1024),
        kvCacheTokens,
        fullLengthSequences,
        singleStreamCeilingTokensPerSecond: Math.round((gpu.memoryBandwidthGBs * 1e9) / (arch.paramsB * 1e9 * BYTES_PER_PARAM)),
        verdict,
        source: arch.source,
    };
}

/** Hourly cost of one instance and the monthly cost of the warm ones. */
export function estimateCost(s: Pick<Settings, "region" | "gpuType" | "cpu" | "memory" | "gpuZonalRedundancy" | "minInstances">): CostEstimate {
    const gpuPrice = TIER1.gpuSecond[s.gpuType];
    const gpuHour = (s.gpuZonalRedundancy ? gpuPrice.zonal : gpuPrice.nonZonal) * 3600;
    const cpuHour = TIER1.vcpuSecond * s.cpu * 3600;
    const memoryHour = TIER1.gibSecond * (memoryGiB(s.memory) ?? 0) * 3600;
    const perInstanceHour = gpuHour + cpuHour + memoryHour;
    return {
        currency: "USD",
        region: s.region,
        perInstanceHour: round(perInstanceHour),
        gpuHour: round(gpuHour),
        cpuHour: round(cpuHour),
        memoryHour: round(memoryHour),
        monthlyAtMinInstances: round(perInstanceHour * HOURS_PER_MONTH * s.minInstances, 0),
        pricesAsOf: PRICES_AS_OF,
        source: PRICING_SOURCE,
        ...(TIER1_REGIONS.includes(s.region) ? {} : { note: `${s.region} is priced above Tier 1; this uses Tier 1 prices, so the real cost is higher` }),
    };
}

type Access =
    | { kind: "ok"; config: Record<string, unknown> }
    | { kind: "denied"; status: number }
    | { kind: "not-found" }
    | { kind: "unreachable"; reason: string };

/** Asks Hugging Face for the model's config.json at the pinned revision, with the token. */
export async function checkModelAccess(model: string, revision: string, token: string, http: HttpGet, timeoutMs = 10_000): Promise<Access> {
    try {
        const r = await http(`https://huggingface.co/${model}/resolve/${revision}/config.json`, { Authorization: `Bearer ${token}` }, timeoutMs);
        if (r.status === 401 || r.status === 403) return { kind: "denied", status: r.status };
        if (r.status === 404) return { kind: "not-found" };
        if (r.status !== 200) return { kind: "unreachable", reason: `HTTP ${r.status}` };
        return { kind: "ok", config: JSON.parse(r.text) as Record<string, unknown> };
    } catch (e) {
        // Never echo the error object: some clients put request headers in it.
        return { kind: "unreachable", reason: e instanceof Error && e.name === "TimeoutError" ? "timed out" : "network error" };
    }
}

/** Parameter count (billions) from the Hub's safetensors metadata, if it has it. */
async function parameterCount(model: string, revision: string, token: string, http: HttpGet): Promise<number | undefined> {
    try {
        const r = await http(`https://huggingface.co/api/models/${model}/revision/${revision}`, { Authorization: `Bearer ${token}` }, 10_000);
        if (r.status !== 200) return undefined;
        const total = (JSON.parse(r.text) as { safetensors?: { total?: number } }).safetensors?.total;
        return typeof total === "number" ? total / 1e9 : undefined;
    } catch {
        return undefined;
    }
}

function unwrapSecret(o: pulumi.Output<string>): Promise<string> {
    return new Promise((resolve) => o.apply((v) => resolve(v)));
}

/** Your permissions on the project, as problems (missing ones with the grant commands) and warnings. */
async function permissionProblems(project: string, post: GooglePost, problems: ConfigProblem[], warnings: string[]): Promise<void> {
    const check = await checkDeployerPermissions(project, post);
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

/**
 * Runs every preflight check and throws one ConfigError with all problems found.
 * With `network` false (config preflightChecks: false) nothing is fetched.
 */
export async function runPreflight(s: Readonly<Settings>, opts: { network: boolean; http?: HttpGet; googlePost?: GooglePost }): Promise<PreflightReport> {
    const problems: ConfigProblem[] = [];
    const warnings: string[] = [...s.notices];
    const modelPage = `https://huggingface.co/${s.model}`;

    let arch: ModelArchitecture | undefined = MODEL_CATALOG[s.model];
    if (opts.network) {
        await permissionProblems(s.project, opts.googlePost ?? adcPost(), problems, warnings);
        const http = opts.http ?? fetchHttpGet;
        const token = await unwrapSecret(s.hfToken);
        const access = await checkModelAccess(s.model, s.modelRevision, token, http);
        if (access.kind === "denied") {
            problems.push({ key: "hfToken", value: "(secret)", allowed: `Hugging Face answered ${access.status}: the token's account has no access to ${s.model}. Accept the model's license at ${modelPage} with that account`, fix: "npx pulumi config set --secret hfToken   (paste the token of the account that accepted, at the prompt)" });
        } else if (access.kind === "not-found") {
            problems.push({ key: "modelRevision", value: s.modelRevision, allowed: `${s.model} has no config.json at this revision (wrong model id or commit). Commits are listed at ${modelPage}/commits/main`, fix: "npx pulumi config set modelRevision FULL_COMMIT_SHA" });
        } else if (access.kind === "unreachable") {
            warnings.push(`Could not reach Hugging Face to check access to ${s.model} (${access.reason}); continuing. The image build will fail if the token has no access.`);
        } else if (arch === undefined) {
            arch = architectureFromConfig(access.config, await parameterCount(s.model, s.modelRevision, token, http), `${modelPage}/blob/${s.modelRevision}/config.json`);
        }
    }

    const report = fitAndCost(s, arch, problems, warnings);
    for (const w of report.warnings) void pulumi.log.warn(w);
    return report;
}

/**
 * The checks that need nothing but the settings and the model's architecture (when known):
 * GPU memory fit, context length, startup window, cost. Throws one ConfigError with `problems`
 * and its own. VllmCloudRun runs it before registering anything, with the catalog's answer.
 */
export function fitAndCost(s: Readonly<Settings>, arch: ModelArchitecture | undefined, problems: ConfigProblem[] = [], warnings: string[] = []): PreflightReport {
    let memory: MemoryEstimate | undefined;
    if (arch === undefined) {
        warnings.push(`${s.model} is not in the model catalog and its architecture could not be read, so GPU memory fit was not checked.`);
    } else {
        if (s.maxModelLen > arch.maxContext) {
            problems.push({ key: "maxModelLen", value: s.maxModelLen, allowed: `${s.model} supports at most ${arch.maxContext} tokens of context`, fix: `npx pulumi config set maxModelLen ${Math.min(arch.maxContext, 8192)}` });
        }
        memory = estimateGpuMemory(arch, s);
        const numbers = `budget ${memory.budgetGiB} GiB (gpuMemoryUtilization ${s.gpuMemoryUtilization} x ${GPU_TYPES[s.gpuType].usableGiB} GiB), weights ${memory.weightsGiB} GiB, runtime ~${memory.overheadGiB} GiB, KV cache ${memory.kvCacheGiB} GiB = ${memory.kvCacheTokens} tokens at ${memory.kvPerTokenKiB} KiB/token`;
        if (memory.verdict === "does-not-fit") {
            const maxLen = Math.floor(memory.kvCacheTokens / 1024) * 1024;
            problems.push(
                maxLen >= 1024
                    ? { key: "maxModelLen", value: s.maxModelLen, allowed: `one ${s.maxModelLen}-token sequence does not fit the KV cache vLLM would have (${numbers})`, fix: `npx pulumi config set maxModelLen ${maxLen}` }
                    : { key: "model", value: s.model, allowed: `does not fit one ${s.gpuType} (${numbers})`, fix: "npx pulumi config set model google/gemma-3-4b-it   (or another smaller model)" },
            );
        } else if (memory.verdict === "tight") {
            warnings.push(`Tight GPU memory fit: ${memory.fullLengthSequences} full-length (${s.maxModelLen}-token) sequences fit, concurrency is ${s.concurrency}; long requests may be preempted. ${numbers}.`);
        }
    }

    // Unknown architectures are assumed to fill the GPU's budget.
    const startup = startupEstimate(s.startupMode, memory?.weightsGiB ?? GPU_TYPES[s.gpuType].usableGiB * s.gpuMemoryUtilization, s.weights);
    if (startup.exceedsCloudRunLimit) {
        warnings.push(`Expected startup of ~${startup.expectedSeconds} s (${s.startupMode} mode, ${s.weights} weights) leaves little headroom in Cloud Run's ${startup.windowSeconds} s startup-probe limit: consider startupMode fast, or a smaller model.`);
    }

    if (problems.length > 0) throw new ConfigError(problems);
    return { memory, startup, cost: estimateCost(s), warnings };
}
