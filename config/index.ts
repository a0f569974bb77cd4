// The one module that reads and validates configuration. Components never read
// pulumi.Config; they get the frozen Settings this module returns.
import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "./errors";
import { GPU_TYPES, gpuRegionsFor } from "./gpus";
import { nameProblems, ResourceNames, resourceNames, sanitize } from "./names";
import { Reader } from "./reader";
import { STARTUP_MODES, StartupMode, WEIGHTS_SOURCES, WeightsSource } from "./startup";

export { ConfigError, ConfigProblem } from "./errors";
export { ResourceNames, resourceNames } from "./names";

/**
 * Defaults for every project key. Pulumi.yaml declares the same values for the CLI;
 * test/config.test.ts fails if the two drift apart.
 */
export const DEFAULTS = {
    model: "google/gemma-3-1b-it",
    // Commit of google/gemma-3-1b-it on Hugging Face (the model's main branch as of 2026-07).
    modelRevision: "dcc83ea841ab6100d6b47a070329e1ba4cf78752",
    servedModelName: "",
    // Why this tag: see README "Why vllm/vllm-openai:v0.10.2".
    vllmImage: "vllm/vllm-openai:v0.10.2",
    gpuType: "nvidia-l4",
    cpu: 8,
    memory: "32Gi",
    minInstances: 0,
    maxInstances: 1,
    // 64 full 8192-token sequences of gemma-3-1b KV cache (26 layers x 1 KV head x 256 dims
    // x 2 (K,V) x 2 bytes = 26 KiB/token) need 13.6 GB, inside the ~16 GB an L4 leaves for
    // KV at 0.9 utilisation: every admitted request can reach full length without preemption.
    concurrency: 64,
    maxModelLen: 8192,
    gpuMemoryUtilization: 0.9,
    gpuZonalRedundancy: false,
    deletionProtection: false,
    invokers: [] as string[],
    buildMachineType: "e2-highcpu-8",
    buildDiskSizeGb: 200,
    buildTimeoutMinutes: 90,
    preflightChecks: true,
    apiKey: "",
    public: false,
    smokeTest: false,
    startupMode: "auto",
    weights: "image",
} as const;


/** Cloud Build machine types accepted by `gcloud builds submit --machine-type`. */
export const BUILD_MACHINE_TYPES = ["e2-medium", "e2-highcpu-8", "e2-highcpu-32", "n1-highcpu-8", "n1-highcpu-32"];

export interface BuildSettings {
    machineType: string;
    diskSizeGb: number;
    timeoutMinutes: number;
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
    gpuType: string;
    cpu: number;
    memory: string;
    minInstances: number;
    maxInstances: number;
    concurrency: number;
    maxModelLen: number;
    gpuMemoryUtilization: number;
    gpuZonalRedundancy: boolean;
    deletionProtection: boolean;
    invokers: readonly string[];
    build: BuildSettings;
    /** Ask Hugging Face about the model during preview (access, architecture). */
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
    labels: Readonly<Record<string, string>>;
}

const MODEL_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*\/[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const COMMIT = /^[0-9a-f]{40}$/;
// registry/path:tag, registry/path@sha256:..., or both. A tag or digest is mandatory.
const IMAGE = /^[a-z0-9][a-z0-9._\-/:]*?(?::([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@sha256:[a-f0-9]{64})?$/;
const MEMORY = /^([1-9][0-9]*)(Gi|Mi)$/;
const IAM_MEMBER = /^(user|group|serviceAccount|domain):[^\s:]+$|^principal(Set)?:\/\/\S+$/;

/** Memory quantity in GiB, or undefined when malformed. */
export function memoryGiB(memory: string): number | undefined {
    const m = MEMORY.exec(memory);
    if (!m) return undefined;
    return m[2] === "Gi" ? Number(m[1]) : Number(m[1]) / 1024;
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

/**
 * Reads and validates every key. Throws one ConfigError listing all problems before any
 * resource is created.
 */
export function loadSettings(): Readonly<Settings> {
    const config = new pulumi.Config();
    const gcp = new pulumi.Config("gcp");
    const r = new Reader(config);

    // Same environment fallbacks as the Google provider, so Cloud Shell works unchanged.
    const project = gcp.get("project") ?? firstEnv(["GOOGLE_PROJECT", "GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT"]);
    const region = gcp.get("region") ?? firstEnv(["GOOGLE_REGION", "GCLOUD_REGION", "CLOUDSDK_COMPUTE_REGION"]);
    if (project === undefined) {
        r.problems.push({ key: "gcp:project", value: undefined, allowed: "a Google Cloud project id is required", fix: "pulumi config set gcp:project <your-project-id>" });
    }
    if (region === undefined) {
        r.problems.push({ key: "gcp:region", value: undefined, allowed: "a region with Cloud Run GPUs is required", fix: "pulumi config set gcp:region us-central1" });
    }

    const model = r.string("model", DEFAULTS.model);
    if (!MODEL_ID.test(model)) r.problem("model", model, "must be a Hugging Face model id of the form <org>/<name>", DEFAULTS.model);

    const modelRevision = r.string("modelRevision", DEFAULTS.modelRevision);
    if (!COMMIT.test(modelRevision)) {
        r.problem("modelRevision", modelRevision, "must be a 40-character commit hash (branches like main move, so builds would not be reproducible)", "<commit-sha-from-the-model-page>");
    }
    const servedModelName = r.string("servedModelName", DEFAULTS.servedModelName);

    const vllmImage = r.string("vllmImage", DEFAULTS.vllmImage);
    const imageMatch = IMAGE.exec(vllmImage);
    const pinned = imageMatch !== null && (vllmImage.includes("@sha256:") || imageMatch[1] !== undefined);
    if (!pinned || imageMatch?.[1] === "latest") {
        r.problem("vllmImage", vllmImage, "must be pinned to an exact tag or digest (never latest)", DEFAULTS.vllmImage);
    }

    const gpuType = r.string("gpuType", DEFAULTS.gpuType);
    const gpu = GPU_TYPES[gpuType];
    if (gpu === undefined) r.problem("gpuType", gpuType, `must be one of ${Object.keys(GPU_TYPES).join(", ")}`, DEFAULTS.gpuType);

    const cpu = r.number("cpu", DEFAULTS.cpu, { min: 1, max: 8, example: String(DEFAULTS.cpu) });
    const memory = r.string("memory", DEFAULTS.memory);
    const memGiB = memoryGiB(memory);
    if (memGiB === undefined) r.problem("memory", memory, "must be a quantity like 32Gi or 16384Mi", DEFAULTS.memory);
    if (gpu !== undefined) {
        if (!gpu.cpus.includes(cpu)) r.problem("cpu", cpu, `${gpuType} needs one of ${gpu.cpus.join(", ")} CPUs`, String(DEFAULTS.cpu));
        if (memGiB !== undefined && (memGiB < gpu.minMemoryGiB || memGiB > gpu.maxMemoryGiB)) {
            r.problem("memory", memory, `${gpuType} needs ${gpu.minMemoryGiB}Gi to ${gpu.maxMemoryGiB}Gi of memory`, DEFAULTS.memory);
        }
        if (region !== undefined && !gpuRegionsFor(gpuType).includes(region)) {
            r.problems.push({ key: "gcp:region", value: region, allowed: `Cloud Run offers ${gpuType} only in ${gpuRegionsFor(gpuType).join(", ")}`, fix: "pulumi config set gcp:region us-central1" });
        }
    }

    const minInstances = r.number("minInstances", DEFAULTS.minInstances, { min: 0, max: 1000, example: "0" });
    const maxInstances = r.number("maxInstances", DEFAULTS.maxInstances, { min: 1, max: 1000, example: "1" });
    if (minInstances > maxInstances) r.problem("minInstances", minInstances, `must not exceed maxInstances (${maxInstances})`, String(maxInstances));
    // Cloud Run allows 1..1000 concurrent requests per instance.
    const concurrency = r.number("concurrency", DEFAULTS.concurrency, { min: 1, max: 1000, example: String(DEFAULTS.concurrency) });
    const maxModelLen = r.number("maxModelLen", DEFAULTS.maxModelLen, { min: 1, example: String(DEFAULTS.maxModelLen) });
    const gpuMemoryUtilization = r.number("gpuMemoryUtilization", DEFAULTS.gpuMemoryUtilization, { integer: false, min: 0, minExclusive: true, max: 1, example: String(DEFAULTS.gpuMemoryUtilization) });
    const gpuZonalRedundancy = r.boolean("gpuZonalRedundancy", DEFAULTS.gpuZonalRedundancy);
    const deletionProtection = r.boolean("deletionProtection", DEFAULTS.deletionProtection);

    const invokers = r.stringList("invokers");
    invokers.forEach((member, i) => {
        if (member === "allUsers" || member === "allAuthenticatedUsers") {
            r.problems.push({ key: `invokers[${i}]`, value: member, allowed: "public access is not allowed: list the users, groups or service accounts that may call the service", fix: `pulumi config set --path 'invokers[${i}]' user:you@example.com` });
        } else if (!IAM_MEMBER.test(member)) {
            r.problems.push({ key: `invokers[${i}]`, value: member, allowed: "must be an IAM member such as user:you@example.com, group:team@example.com or serviceAccount:sa@project.iam.gserviceaccount.com", fix: `pulumi config set --path 'invokers[${i}]' user:you@example.com` });
        }
    });

    const machineType = r.string("buildMachineType", DEFAULTS.buildMachineType);
    if (!BUILD_MACHINE_TYPES.includes(machineType)) r.problem("buildMachineType", machineType, `must be one of ${BUILD_MACHINE_TYPES.join(", ")}`, DEFAULTS.buildMachineType);
    // Cloud Build accepts up to 4000 GB of disk and 24 h of build time.
    const diskSizeGb = r.number("buildDiskSizeGb", DEFAULTS.buildDiskSizeGb, { min: 100, max: 4000, example: String(DEFAULTS.buildDiskSizeGb) });
    const timeoutMinutes = r.number("buildTimeoutMinutes", DEFAULTS.buildTimeoutMinutes, { min: 10, max: 1440, example: String(DEFAULTS.buildTimeoutMinutes) });

    const startupModeRaw = r.string("startupMode", DEFAULTS.startupMode);
    if (!(STARTUP_MODES as readonly string[]).includes(startupModeRaw)) r.problem("startupMode", startupModeRaw, `must be one of ${STARTUP_MODES.join(", ")}`, "auto");
    // auto: scale-to-zero stacks pay every cold start, warm stacks pay every slow token.
    const startupMode = startupModeRaw === "fast" || startupModeRaw === "throughput" ? startupModeRaw : minInstances === 0 ? "fast" : "throughput";
    const weights = r.string("weights", DEFAULTS.weights) as WeightsSource;
    if (!(WEIGHTS_SOURCES as readonly string[]).includes(weights)) r.problem("weights", weights, `must be one of ${WEIGHTS_SOURCES.join(", ")}`, "image");

    const stack = pulumi.getStack();
    const names = resourceNames(pulumi.getProject(), stack, project ?? "project");
    r.problems.push(...nameProblems(names, stack, weights));

    const preflightChecks = r.boolean("preflightChecks", DEFAULTS.preflightChecks);
    const smokeTest = r.boolean("smokeTest", DEFAULTS.smokeTest);
    const isPublic = r.boolean("public", DEFAULTS.public);

    // apiKey is optional, so Pulumi.yaml cannot declare it `secret: true` (a secret key with a
    // default fails validation: pulumi/pulumi#21865). The secret-ness is enforced here instead.
    const apiKeyKey = `${pulumi.getProject()}:apiKey`;
    const apiKeySet = (pulumi.runtime.getConfig(apiKeyKey) ?? "") !== "";
    if (apiKeySet && isConfigSecret !== undefined && !isConfigSecret(apiKeyKey)) {
        r.problems.push({ key: "apiKey", value: "(hidden)", allowed: "is stored in plain text in the stack file; it must be a secret", fix: "pulumi config set --secret apiKey <key>   (then choose a new key: this one was readable)" });
    } else if (apiKeySet && (pulumi.runtime.getConfig(apiKeyKey) ?? "").length < 16) {
        r.problems.push({ key: "apiKey", value: "(hidden)", allowed: "must be at least 16 characters", fix: "pulumi config set --secret apiKey \"$(openssl rand -hex 32)\"" });
    }
    if (isPublic && !apiKeySet) {
        r.problems.push({ key: "public", value: true, allowed: "a public GPU endpoint needs an apiKey, or anyone can run up your bill", fix: "pulumi config set --secret apiKey \"$(openssl rand -hex 32)\"   (or: pulumi config set public false)" });
    }

    // hfToken is last: `requireSecret` throws on its own, so report it with everything else.
    const tokenValue = config.getSecret("hfToken");
    const tokenKey = `${pulumi.getProject()}:hfToken`;
    if (pulumi.runtime.getConfig(tokenKey) === undefined) {
        r.problems.push({ key: "hfToken", value: undefined, allowed: "a Hugging Face token with access to the model is required", fix: "pulumi config set --secret hfToken <hf_...>" });
    } else if (isConfigSecret !== undefined && !isConfigSecret(tokenKey)) {
        r.problems.push({ key: "hfToken", value: "(hidden)", allowed: "is stored in plain text in the stack file; it must be a secret", fix: "pulumi config set --secret hfToken <hf_...>   (then rotate the token: it was readable)" });
    }

    if (r.problems.length > 0) throw new ConfigError(r.problems);

    return Object.freeze({
        project: project as string,
        region: region as string,
        names: Object.freeze(names),
        hfToken: tokenValue as pulumi.Output<string>,
        model,
        modelRevision,
        servedModelName: servedModelName === "" ? model : servedModelName,
        vllmImage,
        gpuType,
        cpu,
        memory,
        minInstances,
        maxInstances,
        concurrency,
        maxModelLen,
        gpuMemoryUtilization,
        gpuZonalRedundancy,
        deletionProtection,
        invokers: Object.freeze([...invokers]),
        build: Object.freeze({ machineType, diskSizeGb, timeoutMinutes }),
        preflightChecks,
        apiKey: apiKeySet ? config.requireSecret("apiKey") : undefined,
        public: isPublic,
        smokeTest,
        startupMode,
        weights,
        labels: Object.freeze({ app: sanitize(pulumi.getProject()), stack: sanitize(stack), "managed-by": "pulumi" }),
    });
}
