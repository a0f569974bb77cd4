// The one module that reads and validates configuration. Components never read
// pulumi.Config: a stack's config becomes VllmCloudRun's args here (readStackConfig), and the
// component turns args into the frozen Settings its children use (validateArgs), so a program
// using the component as a library gets the same checks and messages as a stack.
import * as pulumi from "@pulumi/pulumi";
import type { VllmCloudRunArgs } from "./args";
import { CONTRACT_KEYS, configKeyOf, ContractValues, CROSS_KEY_RULES, DEFAULTS, SECRET_KEYS, setCommand } from "./contract";
import { ConfigError, ConfigProblem } from "./errors";
import { isDockerHub, ImageRef, parseImageRef } from "./image-ref";
import { CLOUD_BUILD_UNRESTRICTED_REGIONS, defaultBuildRegion, HF_REPO_ID, LORA_ADAPTER_NAME, maxMemoryForCpu, memoryGiB, PROJECT_ID, REGION_NAME, SECRET_MAX_BYTES, SIDECAR_CPU, SIDECAR_MEMORY_MIB } from "./limits";
import { ContainerSize, DEFAULT_REGION, GPU_SOURCE, GPU_TYPES, gpuRegionsFor, vllmContainerSize } from "./gpus";
import { nameProblems, ResourceNames, resourceNames, sanitize } from "./names";
import { ArgsReader, readStackValues, stackConfigGetter } from "./reader";
import { StartupMode, WeightsSource } from "./startup";
import { KvCacheDtype, Quantization } from "./memory";
import { isMultiRegion, LoraAdapterDef, pinnedRevision, REGION_COUNT, regionCounts } from "./contract";

/** --max-lora-rank values vLLM 0.10 accepts (LoRAConfig.__post_init__, possible_max_ranks). */
export const LORA_RANKS = [8, 16, 32, 64, 128, 256, 320, 512] as const;


export { ConfigError, ConfigProblem } from "./errors";
export { ResourceNames, resourceNames } from "./names";
export { BUILD_MACHINE_TYPES } from "./limits";
export { ImageRef } from "./image-ref";
export { DEFAULTS } from "./contract";
export type { VllmCloudRunArgs } from "./args";

/** How every fix in a message starts: the CLI pinned in package.json, as the README uses it. */
export const PULUMI = "npx pulumi";

export interface BuildSettings {
    /** Where Cloud Build runs (and the Docker Hub cache and staging bucket live). */
    region: string;
    machineType: string;
    diskSizeGb: number;
    timeoutMinutes: number;
}

/** Credentials settings of the Google provider, passed on to the providers this program creates itself. */
export interface GcpAuth {
    credentials?: pulumi.Output<string>;
    accessToken?: pulumi.Output<string>;
    impersonateServiceAccount?: string;
}

export interface Settings {
    project: string;
    region: string;
    names: ResourceNames;
    hfToken: pulumi.Output<string>;
    model: string;
    modelRevision: string;
    servedModelName: string;
    vllmImage: string;
    /** `vllmImage`, parsed: Docker Hub images are pulled through the stack's remote repository. */
    baseImage: Readonly<ImageRef>;
    gpuType: string;
    /** vCPUs per instance (the GPU's default when the key is 0). */
    cpu: number;
    /** Memory per instance (the GPU's default when the key is empty). */
    memory: string;
    /** `memory` in GiB. */
    memoryGiB: number;
    minInstances: number;
    maxInstances: number;
    concurrency: number;
    maxModelLen: number;
    gpuMemoryUtilization: number;
    gpuZonalRedundancy: boolean;
    deletionProtection: boolean;
    invokers: readonly string[];
    build: BuildSettings;
    /** Look outside before building: Hugging Face access, your permissions, GPU quota. */
    preflightChecks: boolean;
    /** API key required on every path but /health, or undefined for IAM-only access. */
    apiKey?: pulumi.Output<string>;
    /** Grant allUsers the invoker role (only with an apiKey). */
    public: boolean;
    /** Call the deployed model as the last step of `up`. */
    smokeTest: boolean;
    /** `fast`: eager mode, quickest cold start; `throughput`: CUDA graphs and torch.compile. */
    startupMode: StartupMode;
    /** Where the weights live: baked into the image, or in a stack-owned bucket. */
    weights: WeightsSource;
    /** fp8: vLLM quantizes bf16 weights at load; none: served as stored (pre-quantized checkpoints in their own format). */
    quantization: Quantization;
    kvCacheDtype: KvCacheDtype;
    /** Accept images (vision models only; ignored for text-only models). */
    imageInput: boolean;
    imagesPerPrompt: number;
    /** LoRA adapters baked into the image, each served as a model. */
    loraAdapters: readonly Readonly<LoraAdapterDef>[];
    /** --max-lora-rank, or 0 to derive it from the adapters' adapter_config.json. */
    maxLoraRank: number;
    /** Collect vLLM's Prometheus metrics with the Managed Prometheus sidecar. */
    metrics: boolean;
    /** vLLM's container (it holds the GPU) and the metrics sidecar's; together they are one instance. */
    containers: Readonly<{ vllm: ContainerSize; sidecar?: ContainerSize }>;
    /** Alert policies and who they notify; undefined when neither alertEmail nor notificationChannels is set. */
    alerts?: Readonly<AlertSettings>;
    /** Create the /health uptime check (and its alert). */
    uptimeCheck: boolean;
    /** Monthly Cloud Billing budget, or undefined. */
    budget?: Readonly<{ amount: number; billingAccount: string }>;
    labels: Readonly<Record<string, string>>;
    gcpAuth: Readonly<GcpAuth>;
    /** Pull Docker Hub images as this account (with an access token kept in Secret Manager), or anonymously. */
    dockerHub?: { username: string; token: pulumi.Output<string> };
    /** Every region served, home first: one entry without `regions`. */
    regions: readonly Readonly<RegionSettings>[];
    /** The load balancer in front of the regions; undefined with one region. */
    frontDoor?: Readonly<FrontDoorSettings>;
    /** Things worth knowing that are not errors (printed as warnings by the preflight). */
    notices: readonly string[];
}

/** One region's service: the home region first, then the others in the order `regions` lists them. */
export interface RegionSettings {
    region: string;
    /** gcp:region: the build runs for it, and its children keep the names they had before regions existed. */
    home: boolean;
    minInstances: number;
    maxInstances: number;
}

/** The global external Application Load Balancer in front of several regions. */
export interface FrontDoorSettings {
    /** Host for the managed certificate; undefined: `<ip>.nip.io`. */
    domain?: string;
    /** Cloud Armor's per-IP limit per minute (0: none). */
    rateLimitPerMinute: number;
}

export interface AlertSettings {
    /** Address of the email channel the stack creates, if any. */
    email?: string;
    /** Existing channels, by resource name. */
    channels: readonly string[];
    errorPercent: number;
    queueMinutes: number;
}

const COMMIT = /^[0-9a-f]{40}$/;
/** A billing account id as gcloud shows it: "0X0X0X-0X0X0X-0X0X0X" (gcloud billing accounts describe). */
export const BILLING_ACCOUNT = /^[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}$/;
const NOTIFICATION_CHANNEL = /^projects\/(?:[a-z][a-z0-9-]{4,28}[a-z0-9]|[0-9]+)\/notificationChannels\/[0-9]+$/;
const EMAIL = /^[^@\s:]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$/;
const DOMAIN = /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$/;
const IAM_MEMBER = /^(user|group|serviceAccount|domain):(.+)$|^principal(Set)?:\/\/iam\.googleapis\.com\/\S+$/;
/** What an HTTP header value may carry without being mangled: printable ASCII, no spaces. */
const HEADER_TOKEN = /^[\x21-\x7e]+$/;

export { memoryGiB } from "./limits";

/** Why an IAM member string is not one Cloud Run's IAM accepts, or undefined when it is fine. */
export function iamMemberProblem(member: string): string | undefined {
    if (member === "allUsers" || member === "allAuthenticatedUsers") {
        return "public access is not allowed here: list the users, groups or service accounts that may call the service (or use public: true with an apiKey)";
    }
    const m = IAM_MEMBER.exec(member);
    const shape = "must be an IAM member such as user:you@example.com, group:team@example.com, serviceAccount:sa@project.iam.gserviceaccount.com, domain:example.com or principal://iam.googleapis.com/...";
    if (!m) return shape;
    if (m[1] === "domain") return DOMAIN.test(m[2]) ? undefined : `${shape} (domain: takes a domain name)`;
    if (m[1] !== undefined && !EMAIL.test(m[2])) return `${shape} (${m[1]}: takes an email address)`;
    return undefined;
}

/** The secret keys: their values are Inputs, checked by secretProblems once they resolve. */
export type SecretKey = "hfToken" | "apiKey" | "dockerHubToken";

/**
 * What is wrong with a secret's value (never quoted in the message), and what is merely worth
 * knowing. Used on stack config before anything registers, and by the component on its args.
 */
export function secretProblems(key: SecretKey, value: string): { problems: ConfigProblem[]; notices: string[] } {
    const problems: ConfigProblem[] = [];
    const notices: string[] = [];
    const fix = setCommand(key);
    if (key === "hfToken") {
        if (value === "") {
            problems.push({ key, value: "", allowed: "a Hugging Face token with access to the model is required (https://huggingface.co/settings/tokens, read access)", fix });
        } else if (!HEADER_TOKEN.test(value) || Buffer.byteLength(value) > SECRET_MAX_BYTES) {
            problems.push({ key, value: "(hidden)", allowed: "must be one token without spaces or line breaks (a pasted newline breaks the download's Authorization header), under 64 KiB", fix });
        } else if (!value.startsWith("hf_")) {
            notices.push("hfToken does not start with hf_, as Hugging Face user access tokens do; the preflight's access check will tell whether it works.");
        }
    } else if (key === "apiKey") {
        if (value.length < 16 || value.length > 4096 || !HEADER_TOKEN.test(value)) {
            problems.push({ key, value: "(hidden)", allowed: "must be 16 to 4096 printable ASCII characters without spaces (callers send it in an HTTP header)", fix });
        }
    } else if (!HEADER_TOKEN.test(value) || Buffer.byteLength(value) > SECRET_MAX_BYTES) {
        problems.push({ key, value: "(hidden)", allowed: "must be one token without spaces or line breaks, under 64 KiB", fix });
    }
    return { problems, notices };
}

/** Whether a secret arg was given at all (an empty string is "not given", as in stack config). */
function isGiven(v: pulumi.Input<string> | undefined): boolean {
    return v !== undefined && v !== null && v !== "";
}

/**
 * Checks VllmCloudRun's args against the contract and the rules across keys, and returns the
 * frozen Settings the children use. Throws one ConfigError listing every problem, before any
 * resource registers. Secret values are checked later, when they resolve (secretProblems).
 */
export function validateArgs(componentName: string, args: Readonly<VllmCloudRunArgs>): Readonly<Settings> {
    const r = new ArgsReader(args);
    const notices: string[] = [];

    const project = r.string("project");
    const region = r.string("region");
    if (args.project === undefined || project === "") {
        r.problem("project", undefined, "a Google Cloud project id is required");
    } else if (project.includes(":")) {
        r.problem("project", project, "domain-scoped projects (domain:name) cannot name the stack's buckets and Artifact Registry hosts; use a project with a plain id", "PLAIN_PROJECT_ID");
    } else if (!PROJECT_ID.test(project)) {
        r.problem("project", project, "a project id is 6-30 lower-case letters, digits and hyphens, starting with a letter (the id, not the display name or number: `gcloud projects list` shows it)");
    }
    if (args.region === undefined || region === "") {
        r.problem("region", undefined, "a region with Cloud Run GPUs is required", DEFAULT_REGION);
    }
    if (!isGiven(args.hfToken)) {
        const missing = secretProblems("hfToken", "").problems[0];
        r.problems.push({ ...missing, value: undefined });
    }

    const model = r.string("model");
    if (!HF_REPO_ID.test(model) || model.includes("--") || model.includes("..") || model.endsWith(".git")) {
        r.problem("model", model, "must be a Hugging Face model id <org>/<name>: letters, digits, '_', '-', '.', a name of at most 96 characters, no '--' or '..', not ending in .git", DEFAULTS.model);
    }
    const modelRevisionRaw = r.string("modelRevision");
    const modelRevision = modelRevisionRaw === "" ? (pinnedRevision(model) ?? "") : modelRevisionRaw;
    if (modelRevisionRaw !== "" && !COMMIT.test(modelRevision)) {
        r.problem("modelRevision", modelRevision, "must be a 40-character lower-case commit hash (branches like main move, so builds would not be reproducible)");
    }
    const servedModelName = r.string("servedModelName");
    if (servedModelName !== "" && (!/^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/.test(servedModelName) || servedModelName.length > 256)) {
        r.problem("servedModelName", servedModelName, "must be printable ASCII without leading/trailing spaces, at most 256 characters (clients send it in every request); empty means the model id");
    }

    const vllmImage = r.string("vllmImage");
    const baseImage = parseImageRef(vllmImage);
    if (baseImage === undefined || (baseImage.tag === undefined && baseImage.digest === undefined) || (baseImage.tag === "latest" && baseImage.digest === undefined)) {
        r.problem("vllmImage", vllmImage, "must be an image reference pinned to an exact tag or sha256 digest (never latest), e.g. vllm/vllm-openai:v0.10.2");
    }

    const gpuType = r.string("gpuType");
    const gpu = GPU_TYPES[gpuType];
    const cpuRaw = r.number("cpu");
    const memoryRaw = r.string("memory");
    // 0 and "" mean the GPU's own default (the fewest CPUs it allows at its full memory).
    const cpu = cpuRaw === 0 ? (gpu?.defaultCpu ?? 8) : cpuRaw;
    const memory = memoryRaw === "" ? (gpu?.defaultMemory ?? "32Gi") : memoryRaw;
    const memGiB = memoryGiB(memory);
    if (memGiB === undefined) r.problem("memory", memoryRaw, "must be a quantity like 32Gi or 16384Mi, or empty for the GPU's default");
    if (gpu !== undefined && gpuRegionsFor(gpuType).includes(region) && gpu.invitationOnlyRegions.includes(region)) {
        notices.push(`${gpuType} in ${region} is available by invitation only (${GPU_SOURCE}); without an invitation the region has no GPU quota and the quota check stops the deploy. Self-serve regions: ${gpuRegionsFor(gpuType).filter((x) => !gpu.invitationOnlyRegions.includes(x)).join(", ")}.`);
    }

    const minInstances = r.number("minInstances");
    const maxInstances = r.number("maxInstances");
    const concurrency = r.number("concurrency");
    const maxModelLen = r.number("maxModelLen");
    const gpuMemoryUtilization = r.number("gpuMemoryUtilization");
    const gpuZonalRedundancy = r.boolean("gpuZonalRedundancy");
    const deletionProtection = r.boolean("deletionProtection");

    const invokers = r.strings("invokers");
    const seen = new Map<string, number>();
    invokers.forEach((member, i) => {
        const fix = `${PULUMI} config set --path 'invokers[${i}]' user:you@example.com`;
        const problem = iamMemberProblem(member);
        if (problem !== undefined) r.problems.push({ key: `invokers[${i}]`, value: member, allowed: problem, fix });
        const first = seen.get(member.toLowerCase());
        if (first !== undefined) r.problems.push({ key: `invokers[${i}]`, value: member, allowed: `is listed twice (also invokers[${first}])`, fix: `${PULUMI} config rm --path 'invokers[${i}]'` });
        else seen.set(member.toLowerCase(), i);
    });

    // Several regions behind one endpoint (README "Several regions").
    const regionList = r.strings("regions");
    const seenRegions = new Map<string, number>();
    regionList.forEach((reg, i) => {
        if (!REGION_NAME.test(reg)) r.problems.push({ key: `regions[${i}]`, value: reg, allowed: "must be a region name like europe-west4", fix: `${PULUMI} config set --path 'regions[${i}]' europe-west4` });
        const first = seenRegions.get(reg);
        if (first !== undefined) r.problems.push({ key: `regions[${i}]`, value: reg, allowed: `is listed twice (also regions[${first}])`, fix: `${PULUMI} config rm --path 'regions[${i}]'` });
        else seenRegions.set(reg, i);
    });
    for (const [key, min] of [["regionMaxInstances", 1], ["regionMinInstances", 0]] as const) {
        const seenIn = new Map<string, number>();
        r.strings(key).forEach((e, i) => {
            const m = REGION_COUNT.exec(e);
            const fix = `${PULUMI} config set --path '${key}[${i}]' us-east4=${key === "regionMaxInstances" ? 3 : 1}`;
            if (!m || Number(m[2]) < min || Number(m[2]) > 1000) {
                r.problems.push({ key: `${key}[${i}]`, value: e, allowed: `must be REGION=N with N from ${min} to 1000, like us-east4=${key === "regionMaxInstances" ? 3 : 1}`, fix });
                return;
            }
            const first = seenIn.get(m[1]);
            if (first !== undefined) r.problems.push({ key: `${key}[${i}]`, value: e, allowed: `sets ${m[1]} twice (also ${key}[${first}])`, fix: `${PULUMI} config rm --path '${key}[${i}]'` });
            else seenIn.set(m[1], i);
        });
    }
    const domain = r.string("domain");
    if (domain !== "" && (!DOMAIN.test(domain) || domain.length > 253 || domain.split(".").some((l) => l.length > 63))) {
        r.problem("domain", domain, "must be a lower-case DNS host name like llm.example.com (no scheme, port, path or trailing dot), or empty for <ip>.nip.io");
    }
    const rateLimitPerMinute = r.number("rateLimitPerMinute");

    const buildRegionRaw = r.string("buildRegion");
    if (buildRegionRaw !== "" && !REGION_NAME.test(buildRegionRaw)) r.problem("buildRegion", buildRegionRaw, "must be a region name like us-central1, or empty for the nearest region every project may build in");
    const buildRegion = buildRegionRaw !== "" ? buildRegionRaw : defaultBuildRegion(region);
    if (buildRegionRaw !== "" && !(CLOUD_BUILD_UNRESTRICTED_REGIONS as readonly string[]).includes(buildRegionRaw)) {
        notices.push(`buildRegion ${buildRegionRaw}: some projects may run Cloud Build only in ${CLOUD_BUILD_UNRESTRICTED_REGIONS.join(", ")} (https://cloud.google.com/build/docs/locations); if the build fails with FAILED_PRECONDITION, unset buildRegion.`);
    }
    const machineType = r.string("buildMachineType");
    const diskSizeGb = r.number("buildDiskSizeGb");
    const timeoutMinutes = r.number("buildTimeoutMinutes");

    const startupModeRaw = r.string("startupMode");
    // auto: scale-to-zero stacks pay every cold start, warm stacks pay every slow token.
    const startupMode: StartupMode = startupModeRaw === "fast" || startupModeRaw === "throughput" ? startupModeRaw : minInstances === 0 ? "fast" : "throughput";
    const weights = r.string("weights") as WeightsSource;
    const quantization = r.string("quantization") as Quantization;
    const kvCacheDtype = r.string("kvCacheDtype") as KvCacheDtype;
    const imageInput = r.boolean("imageInput");
    const imagesPerPrompt = r.number("imagesPerPrompt");
    const maxLoraRank = r.number("maxLoraRank");
    if (maxLoraRank !== 0 && !(LORA_RANKS as readonly number[]).includes(maxLoraRank)) {
        r.problem("maxLoraRank", maxLoraRank, `must be 0 (read from the adapters) or one of ${LORA_RANKS.join(", ")} (vLLM's --max-lora-rank choices)`, "16");
    }
    const loraAdapters = r.adapters("loraAdapters");
    const adapterNames = new Map<string, number>();
    loraAdapters.forEach((a, i) => {
        const at = (field: string) => `loraAdapters[${i}].${field}`;
        const fix = (field: string, v: string) => `${PULUMI} config set --path '${at(field)}' ${v}`;
        if (!LORA_ADAPTER_NAME.test(a.name)) r.problems.push({ key: at("name"), value: a.name, allowed: "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit (clients send it as the model name; it names the adapter's directory in the image)", fix: fix("name", "sql") });
        const first = adapterNames.get(a.name);
        if (first !== undefined) r.problems.push({ key: at("name"), value: a.name, allowed: `is also the name of loraAdapters[${first}]: each adapter needs its own model name`, fix: fix("name", `${a.name}-2`) });
        else adapterNames.set(a.name, i);
        if (!HF_REPO_ID.test(a.repo) || a.repo.includes("--") || a.repo.includes("..")) r.problems.push({ key: at("repo"), value: a.repo, allowed: "must be a Hugging Face repository id <org>/<name>", fix: fix("repo", "ORG/ADAPTER") });
        if (!COMMIT.test(a.revision)) r.problems.push({ key: at("revision"), value: a.revision, allowed: "must be a 40-character lower-case commit hash of the adapter's repository", fix: fix("revision", "FULL_COMMIT_SHA") });
    });

    const stack = pulumi.getStack();
    const names = resourceNames(componentName, stack, project === "" ? "project" : project, regionList.filter((x) => x !== region && REGION_NAME.test(x)));
    r.problems.push(...nameProblems(names, stack, weights));

    const preflightChecks = r.boolean("preflightChecks");
    const smokeTest = r.boolean("smokeTest");
    const isPublic = r.boolean("public");
    const dockerHubUsername = r.string("dockerHubUsername");
    if (dockerHubUsername !== "" && !/^[a-z0-9]{4,30}$/.test(dockerHubUsername)) {
        r.problem("dockerHubUsername", dockerHubUsername, "must be a Docker ID: 4-30 lower-case letters and digits");
    }
    if (dockerHubUsername !== "" && baseImage !== undefined && !isDockerHub(baseImage)) {
        notices.push(`dockerHubUsername is set but vllmImage (${vllmImage}) is not on Docker Hub, so no Docker Hub cache is created and the credentials are not used.`);
    }
    const impersonate = r.string("gcpImpersonateServiceAccount");

    const metrics = r.boolean("metrics");
    const alertEmail = r.string("alertEmail");
    if (alertEmail !== "" && !EMAIL.test(alertEmail)) r.problem("alertEmail", alertEmail, "must be one email address (or empty for no email channel)");
    const notificationChannels = r.strings("notificationChannels");
    const seenChannels = new Map<string, number>();
    notificationChannels.forEach((name, i) => {
        const fix = `${PULUMI} config set --path 'notificationChannels[${i}]' projects/${project || "PROJECT_ID"}/notificationChannels/CHANNEL_ID   (ids: gcloud beta monitoring channels list --format='value(name)')`;
        if (!NOTIFICATION_CHANNEL.test(name)) r.problems.push({ key: `notificationChannels[${i}]`, value: name, allowed: "must be a channel's resource name, projects/PROJECT_ID/notificationChannels/NUMBER", fix });
        const first = seenChannels.get(name);
        if (first !== undefined) r.problems.push({ key: `notificationChannels[${i}]`, value: name, allowed: `is listed twice (also notificationChannels[${first}])`, fix: `${PULUMI} config rm --path 'notificationChannels[${i}]'` });
        else seenChannels.set(name, i);
    });
    const alertErrorPercent = r.number("alertErrorPercent");
    const alertQueueMinutes = r.number("alertQueueMinutes");
    const uptimeCheckRaw = r.string("uptimeCheck");
    const monthlyBudget = r.number("monthlyBudget");
    const billingAccount = r.string("billingAccount");
    if (billingAccount !== "" && !BILLING_ACCOUNT.test(billingAccount)) {
        const id = billingAccount.replace(/^billingAccounts\//, "").toUpperCase();
        r.problem("billingAccount", billingAccount, "must be a billing account id: three groups of 6 upper-case hex digits joined by '-', like 012345-6789AB-CDEF01 (gcloud billing projects describe PROJECT_ID --format='value(billingAccountName)' shows billingAccounts/ID)", BILLING_ACCOUNT.test(id) ? id : undefined);
    }

    // Rules across keys, on values that passed their own checks (secrets only as set or not):
    // a rule is skipped when one of its keys already has a problem of its own.
    const values = {
        project, region, model, modelRevision: modelRevisionRaw, servedModelName, vllmImage, gpuType, cpu: cpuRaw, memory: memoryRaw, minInstances, maxInstances, concurrency, maxModelLen,
        quantization, kvCacheDtype, imageInput, imagesPerPrompt, loraAdapters, maxLoraRank,
        gpuMemoryUtilization, gpuZonalRedundancy, deletionProtection, invokers, buildRegion: buildRegionRaw, buildMachineType: machineType,
        buildDiskSizeGb: diskSizeGb, buildTimeoutMinutes: timeoutMinutes, preflightChecks, public: isPublic, smokeTest, startupMode: startupModeRaw, weights,
        dockerHubUsername, gcpImpersonateServiceAccount: impersonate,
        metrics, alertEmail, notificationChannels, alertErrorPercent, alertQueueMinutes, uptimeCheck: uptimeCheckRaw, monthlyBudget, billingAccount,
        regions: regionList, regionMaxInstances: r.strings("regionMaxInstances"), regionMinInstances: r.strings("regionMinInstances"), domain, rateLimitPerMinute,
        hfToken: isGiven(args.hfToken) ? "set" : "", apiKey: isGiven(args.apiKey) ? "set" : "", dockerHubToken: isGiven(args.dockerHubToken) ? "set" : "",
        gcpCredentials: isGiven(args.gcpCredentials) ? "set" : "", gcpAccessToken: isGiven(args.gcpAccessToken) ? "set" : "",
    } satisfies ContractValues;
    const ownProblems = new Set(r.problems.map((p) => p.key));
    const given = new Set(CONTRACT_KEYS.filter((k) => args[k] !== undefined && args[k] !== null));
    for (const rule of CROSS_KEY_RULES) {
        if (rule.keys.some((k) => ownProblems.has(configKeyOf(k)))) continue;
        r.problems.push(...rule.check(values, given));
    }

    // The metrics sidecar shares the instance with vLLM (see vllmContainerSize).
    const sidecar = metrics ? { cpu: SIDECAR_CPU, memoryMiB: SIDECAR_MEMORY_MIB } : undefined;
    // Only for a size the GPU takes: a wrong cpu or memory is reported once, as itself.
    const sizeIsValid = gpu !== undefined && memGiB !== undefined && !r.problems.some((p) => ["cpu", "memory", "gpuType"].includes(p.key));
    const vllmSize = sizeIsValid ? vllmContainerSize(gpu, cpu, memGiB, sidecar, maxMemoryForCpu) : { cpu, memoryMiB: (memGiB ?? 0) * 1024 };
    if (vllmSize === undefined) {
        r.problem("metrics", true, `the metrics sidecar needs ${SIDECAR_CPU} vCPU and ${SIDECAR_MEMORY_MIB} MiB beside vLLM, and ${cpu} vCPU / ${memory} leaves vLLM less than ${gpuType} needs`, "false");
    } else if (sidecar && (vllmSize.cpu !== cpu || vllmSize.memoryMiB !== (memGiB as number) * 1024)) {
        notices.push(`metrics: the Managed Prometheus sidecar takes ${SIDECAR_CPU} vCPU and ${SIDECAR_MEMORY_MIB} MiB of the instance (Cloud Run allows ${gpu?.instanceMax?.cpu} vCPU and ${gpu?.instanceMax?.memoryGiB} GiB an instance), so vLLM's container runs with ${vllmSize.cpu} vCPU and ${vllmSize.memoryMiB / 1024}Gi; set metrics false to give vLLM all ${cpu} vCPU and ${memory}.`);
    }

    // Home first, then the others in the order listed.
    const maxIn = regionCounts(r.strings("regionMaxInstances"));
    const minIn = regionCounts(r.strings("regionMinInstances"));
    const regions: RegionSettings[] = [region, ...regionList.filter((x) => x !== region)].map((x) => ({
        region: x,
        home: x === region,
        minInstances: minIn.get(x) ?? minInstances,
        maxInstances: maxIn.get(x) ?? maxInstances,
    }));
    const multi = isMultiRegion({ regions: regionList });
    if (multi) {
        for (const x of regions.slice(1)) {
            if (gpu !== undefined && gpu.invitationOnlyRegions.includes(x.region)) notices.push(`${gpuType} in ${x.region} is available by invitation only (${GPU_SOURCE}); without an invitation the region has no GPU quota and its quota check stops the deploy.`);
        }
        const cold = regions.filter((x) => x.minInstances === 0).map((x) => x.region);
        if (cold.length > 0) {
            notices.push(`regions: ${cold.join(", ")} ${cold.length === 1 ? "has" : "have"} minInstances 0, so Cloud Run service health cannot judge ${cold.length === 1 ? "it" : "them"} (it needs a running instance): a region that cannot serve is taken out only by the load balancer's outlier detection (5xx) and retries, and a 429 (no instance available) reaches the client. Automatic failover needs regionMinInstances REGION=1 (an always-on GPU per region; README "Several regions").`);
        }
    }

    if (r.problems.length > 0) throw new ConfigError(r.problems);

    const alerting = alertEmail !== "" || notificationChannels.length > 0;
    const secret = (v: pulumi.Input<string> | undefined) => (isGiven(v) ? pulumi.secret(v as pulumi.Input<string>) : undefined);
    return Object.freeze({
        project,
        region,
        names: Object.freeze(names),
        hfToken: secret(args.hfToken) as pulumi.Output<string>,
        model,
        modelRevision,
        servedModelName: servedModelName === "" ? model : servedModelName,
        vllmImage,
        baseImage: Object.freeze(baseImage as ImageRef),
        gpuType,
        cpu,
        memory,
        memoryGiB: memGiB as number,
        minInstances,
        maxInstances,
        concurrency,
        maxModelLen,
        gpuMemoryUtilization,
        gpuZonalRedundancy,
        deletionProtection,
        invokers: Object.freeze([...invokers]),
        build: Object.freeze({ region: buildRegion, machineType, diskSizeGb, timeoutMinutes }),
        preflightChecks,
        apiKey: secret(args.apiKey),
        public: isPublic,
        smokeTest,
        startupMode,
        weights,
        quantization,
        kvCacheDtype,
        imageInput,
        imagesPerPrompt,
        loraAdapters: Object.freeze(loraAdapters.map((a) => Object.freeze(a))),
        maxLoraRank,
        // Label values: at most 63 of [a-z0-9_-] (https://cloud.google.com/resource-manager/docs/labels-overview); sanitize gives the characters.
        labels: Object.freeze({ app: sanitize(pulumi.getProject()).slice(0, 63), stack: sanitize(stack).slice(0, 63), "managed-by": "pulumi" }),
        gcpAuth: Object.freeze({
            credentials: secret(args.gcpCredentials),
            accessToken: secret(args.gcpAccessToken),
            impersonateServiceAccount: impersonate === "" ? undefined : impersonate,
        }),
        dockerHub: dockerHubUsername === "" ? undefined : Object.freeze({ username: dockerHubUsername, token: secret(args.dockerHubToken) as pulumi.Output<string> }),
        metrics,
        containers: Object.freeze({ vllm: Object.freeze(vllmSize as ContainerSize), ...(sidecar ? { sidecar: Object.freeze(sidecar) } : {}) }),
        alerts: alerting
            ? Object.freeze({ ...(alertEmail === "" ? {} : { email: alertEmail }), channels: Object.freeze([...notificationChannels]), errorPercent: alertErrorPercent, queueMinutes: alertQueueMinutes })
            : undefined,
        // auto: only where checks cannot keep a GPU awake that would otherwise scale to zero.
        // The check watches the home region's service (with regions too).
        uptimeCheck: alerting && (uptimeCheckRaw === "on" || (uptimeCheckRaw === "auto" && regions[0].minInstances >= 1)),
        budget: monthlyBudget > 0 ? Object.freeze({ amount: monthlyBudget, billingAccount }) : undefined,
        regions: Object.freeze(regions.map((x) => Object.freeze(x))),
        frontDoor: multi ? Object.freeze({ ...(domain === "" ? {} : { domain }), rateLimitPerMinute }) : undefined,
        notices: Object.freeze(notices),
    });
}

// The SDK's own check behind its "use getSecret" warning; not in its typings.
const isConfigSecret = (pulumi.runtime as unknown as { isConfigSecret?: (key: string) => boolean }).isConfigSecret;

function firstEnv(names: string[]): string | undefined {
    for (const n of names) {
        const v = process.env[n];
        if (v !== undefined && v !== "") return v;
    }
    return undefined;
}

/** Args that readStackConfig made: their problems' fixes are the stack's own commands. */
const stackArgs = new WeakSet<object>();

/** How a fix reads for a program that passes VllmCloudRun's args itself. */
export const ARGS_NOTE =
    "These values are VllmCloudRun's args: set the arg of the same name in your program (project and region for gcp:project and gcp:region; snake_case in Python, e.g. max_instances); the fixes above are the commands a stack of this repository would run. Resource names derive from the component's name and the stack: a name that is too long needs a shorter component name.";

/** `e` with ARGS_NOTE when it is a ConfigError about args that did not come from a stack's config. */
export function explainForArgs(e: unknown, args: object): unknown {
    return e instanceof ConfigError && e.note === undefined && !stackArgs.has(args) ? new ConfigError(e.problems, ARGS_NOTE) : e;
}

/**
 * Reads a stack's config into VllmCloudRun's args: the only place that reads pulumi.Config.
 * Values that do not parse, and secrets stored in plain text or malformed, are reported here
 * (one ConfigError, before anything registers); everything else is validateArgs' job.
 */
export function readStackConfig(): VllmCloudRunArgs {
    const get = stackConfigGetter();
    const plainKeys = CONTRACT_KEYS.filter((k) => !SECRET_KEYS.includes(k));
    const { values, problems } = readStackValues(plainKeys, get);
    // Same environment fallbacks as the Google provider, so Cloud Shell works unchanged.
    values.project ??= firstEnv(["GOOGLE_PROJECT", "GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT"]);
    values.region ??= firstEnv(["GOOGLE_REGION", "GCLOUD_REGION", "CLOUDSDK_COMPUTE_REGION"]);

    // Secrets: read as secrets, refused in plain text, checked here while their values are at hand.
    const secrets: Record<string, pulumi.Output<string>> = {};
    for (const key of SECRET_KEYS) {
        const configKey = configKeyOf(key);
        const full = configKey.includes(":") ? configKey : `${pulumi.getProject()}:${configKey}`;
        const plain = pulumi.runtime.getConfig(full) ?? "";
        if (plain === "") continue;
        const [ns, k] = full.split(":");
        const value = new pulumi.Config(ns).requireSecret(k);
        if (key === "gcpCredentials" || key === "gcpAccessToken") {
            secrets[key] = value;
            continue;
        }
        if (isConfigSecret !== undefined && !isConfigSecret(full)) {
            const rotate = key === "hfToken" ? "   (then rotate the token: it was readable)" : key === "apiKey" ? "   (a new key: this one was readable)" : "   (then revoke the old token: it was readable)";
            problems.push({ key, value: "(hidden)", allowed: "is stored in plain text in the stack file; it must be a secret", fix: `${setCommand(key)}${rotate}` });
            continue;
        }
        // Problems only: the component checks the values again and prints the notices once.
        problems.push(...secretProblems(key as SecretKey, plain).problems);
        secrets[key] = value;
    }
    if (problems.length > 0) throw new ConfigError(problems);
    const args = { ...values, ...secrets } as unknown as VllmCloudRunArgs;
    stackArgs.add(args);
    return args;
}
/** Whether Cloud Build pulls `baseImage` through the stack's Docker Hub remote repository. */
export function pullsThroughDockerHubRemote(s: Pick<Settings, "baseImage">): boolean {
    return isDockerHub(s.baseImage);
}
