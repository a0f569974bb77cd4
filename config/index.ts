// The one module that reads and validates configuration. Components never read
// pulumi.Config; they get the frozen Settings this module returns.
import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "./errors";
import { DEFAULT_REGION, GPU_SOURCE, GPU_TYPES, gpuRegionsFor } from "./gpus";
import { isDockerHub, ImageRef, parseImageRef } from "./image-ref";
import { BUILD_DISK_GB, BUILD_MACHINE_TYPES, BUILD_TIMEOUT_MINUTES, CLOUD_BUILD_UNRESTRICTED_REGIONS, defaultBuildRegion, HF_REPO_ID, maxMemoryForCpu, minCpuForMemory, PROJECT_ID, REGION_NAME, SECRET_MAX_BYTES } from "./limits";
import { nameProblems, ResourceNames, resourceNames, sanitize } from "./names";
import { Reader } from "./reader";
import { STARTUP_MODES, StartupMode, WEIGHTS_SOURCES, WeightsSource } from "./startup";

export { ConfigError, ConfigProblem } from "./errors";
export { ResourceNames, resourceNames } from "./names";
export { BUILD_MACHINE_TYPES } from "./limits";
export { ImageRef } from "./image-ref";

/** How every fix in a message starts: the CLI pinned in package.json, as the README uses it. */
export const PULUMI = "npx pulumi";

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
    // x 2 (K,V) x 2 bytes = 26 KiB/token) need 13.0 GiB, inside the 16.38 GiB an L4 leaves for
    // KV at 0.9 utilisation (80 such sequences): every admitted request can reach full length.
    concurrency: 64,
    maxModelLen: 8192,
    gpuMemoryUtilization: 0.9,
    gpuZonalRedundancy: false,
    deletionProtection: false,
    invokers: [] as string[],
    buildRegion: "",
    buildMachineType: "e2-highcpu-8",
    buildDiskSizeGb: 200,
    buildTimeoutMinutes: 90,
    preflightChecks: true,
    apiKey: "",
    public: false,
    smokeTest: false,
    startupMode: "auto",
    weights: "image",
    dockerHubUsername: "",
    dockerHubToken: "",
} as const;


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
    cpu: number;
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
    labels: Readonly<Record<string, string>>;
    gcpAuth: Readonly<GcpAuth>;
    /** Pull Docker Hub images as this account (with an access token kept in Secret Manager), or anonymously. */
    dockerHub?: { username: string; token: pulumi.Output<string> };
    /** Things worth knowing that are not errors (printed as warnings by the preflight). */
    notices: readonly string[];
}

const COMMIT = /^[0-9a-f]{40}$/;
const MEMORY = /^([1-9][0-9]*)(Gi|Mi)$/;
const EMAIL = /^[^@\s:]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$/;
const DOMAIN = /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$/;
const IAM_MEMBER = /^(user|group|serviceAccount|domain):(.+)$|^principal(Set)?:\/\/iam\.googleapis\.com\/\S+$/;
/** What an HTTP header value may carry without being mangled: printable ASCII, no spaces. */
const HEADER_TOKEN = /^[\x21-\x7e]+$/;

/** Memory quantity in GiB, or undefined when malformed. */
export function memoryGiB(memory: string): number | undefined {
    const m = MEMORY.exec(memory);
    if (!m) return undefined;
    return m[2] === "Gi" ? Number(m[1]) : Number(m[1]) / 1024;
}

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
    const notices: string[] = [];

    // Same environment fallbacks as the Google provider, so Cloud Shell works unchanged.
    const project = gcp.get("project") ?? firstEnv(["GOOGLE_PROJECT", "GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT"]);
    const region = gcp.get("region") ?? firstEnv(["GOOGLE_REGION", "GCLOUD_REGION", "CLOUDSDK_COMPUTE_REGION"]);
    if (project === undefined) {
        r.problems.push({ key: "gcp:project", value: undefined, allowed: "a Google Cloud project id is required", fix: `${PULUMI} config set gcp:project YOUR_PROJECT_ID` });
    } else if (project.includes(":")) {
        r.problems.push({ key: "gcp:project", value: project, allowed: "domain-scoped projects (domain:name) cannot name the stack's buckets and Artifact Registry hosts; use a project with a plain id", fix: `${PULUMI} config set gcp:project PLAIN_PROJECT_ID` });
    } else if (!PROJECT_ID.test(project)) {
        r.problems.push({ key: "gcp:project", value: project, allowed: "a project id is 6-30 lower-case letters, digits and hyphens, starting with a letter (the id, not the display name or number: `gcloud projects list` shows it)", fix: `${PULUMI} config set gcp:project YOUR_PROJECT_ID` });
    }
    if (region === undefined) {
        r.problems.push({ key: "gcp:region", value: undefined, allowed: "a region with Cloud Run GPUs is required", fix: `${PULUMI} config set gcp:region ${DEFAULT_REGION}` });
    }

    const model = r.string("model", DEFAULTS.model);
    if (!HF_REPO_ID.test(model) || model.includes("--") || model.includes("..") || model.endsWith(".git")) {
        r.problem("model", model, "must be a Hugging Face model id <org>/<name>: letters, digits, '_', '-', '.', a name of at most 96 characters, no '--' or '..', not ending in .git", DEFAULTS.model);
    }

    const modelRevision = r.string("modelRevision", DEFAULTS.modelRevision);
    if (!COMMIT.test(modelRevision)) {
        r.problem("modelRevision", modelRevision, "must be a 40-character lower-case commit hash (branches like main move, so builds would not be reproducible)", "FULL_COMMIT_SHA_FROM_THE_MODEL_PAGE");
    }
    const servedModelName = r.string("servedModelName", DEFAULTS.servedModelName);
    if (servedModelName !== "" && (!/^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/.test(servedModelName) || servedModelName.length > 256)) {
        r.problem("servedModelName", servedModelName, "must be printable ASCII without leading/trailing spaces, at most 256 characters (clients send it in every request); empty means the model id", "my-model");
    }

    const vllmImage = r.string("vllmImage", DEFAULTS.vllmImage);
    const baseImage = parseImageRef(vllmImage);
    if (baseImage === undefined || (baseImage.tag === undefined && baseImage.digest === undefined) || (baseImage.tag === "latest" && baseImage.digest === undefined)) {
        r.problem("vllmImage", vllmImage, "must be an image reference pinned to an exact tag or sha256 digest (never latest), e.g. vllm/vllm-openai:v0.10.2", DEFAULTS.vllmImage);
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
            r.problems.push({ key: "gcp:region", value: region, allowed: `Cloud Run offers ${gpuType} only in ${gpuRegionsFor(gpuType).join(", ")}`, fix: `${PULUMI} config set gcp:region ${DEFAULT_REGION}` });
        } else if (region !== undefined && gpu.invitationOnlyRegions.includes(region)) {
            notices.push(`${gpuType} in ${region} is available by invitation only (${GPU_SOURCE}); without an invitation the region has no GPU quota and the quota check stops the deploy. Self-serve regions: ${gpuRegionsFor(gpuType).filter((x) => !gpu.invitationOnlyRegions.includes(x)).join(", ")}.`);
        }
    }
    // Cloud Run ties memory to CPU: more than 16 GiB needs 6 vCPU, more than 24 GiB needs 8.
    // (Once per key: a CPU count the GPU refuses is already reported.)
    if (memGiB !== undefined && cpu < minCpuForMemory(memGiB) && (gpu === undefined || gpu.cpus.includes(cpu))) {
        r.problems.push({ key: "cpu", value: cpu, allowed: `Cloud Run needs at least ${minCpuForMemory(memGiB)} vCPU for memory ${memory} (more than 16 GiB needs 6, more than 24 GiB needs 8); with ${cpu} vCPU memory can be at most ${maxMemoryForCpu(cpu)}Gi`, fix: `${PULUMI} config set cpu ${minCpuForMemory(memGiB)}   (or: ${PULUMI} config set memory ${maxMemoryForCpu(cpu)}Gi)` });
    }

    const minInstances = r.number("minInstances", DEFAULTS.minInstances, { min: 0, max: 1000, example: "0" });
    const maxInstances = r.number("maxInstances", DEFAULTS.maxInstances, { min: 1, max: 1000, example: "1" });
    if (minInstances > maxInstances) r.problem("minInstances", minInstances, `must not exceed maxInstances (${maxInstances})`, String(maxInstances));
    // Cloud Run allows 1..1000 concurrent requests per instance.
    const concurrency = r.number("concurrency", DEFAULTS.concurrency, { min: 1, max: 1000, example: String(DEFAULTS.concurrency) });
    const maxModelLen = r.number("maxModelLen", DEFAULTS.maxModelLen, { min: 16, example: String(DEFAULTS.maxModelLen) });
    const gpuMemoryUtilization = r.number("gpuMemoryUtilization", DEFAULTS.gpuMemoryUtilization, { integer: false, min: 0, minExclusive: true, max: 1, example: String(DEFAULTS.gpuMemoryUtilization) });
    const gpuZonalRedundancy = r.boolean("gpuZonalRedundancy", DEFAULTS.gpuZonalRedundancy);
    const deletionProtection = r.boolean("deletionProtection", DEFAULTS.deletionProtection);

    const invokers = r.stringList("invokers");
    const seen = new Map<string, number>();
    invokers.forEach((member, i) => {
        const fix = `${PULUMI} config set --path 'invokers[${i}]' user:you@example.com`;
        const problem = iamMemberProblem(member);
        if (problem !== undefined) r.problems.push({ key: `invokers[${i}]`, value: member, allowed: problem, fix });
        const first = seen.get(member.toLowerCase());
        if (first !== undefined) r.problems.push({ key: `invokers[${i}]`, value: member, allowed: `is listed twice (also invokers[${first}])`, fix: `${PULUMI} config rm --path 'invokers[${i}]'` });
        else seen.set(member.toLowerCase(), i);
    });

    const buildRegionRaw = r.string("buildRegion", DEFAULTS.buildRegion);
    if (buildRegionRaw !== "" && !REGION_NAME.test(buildRegionRaw)) r.problem("buildRegion", buildRegionRaw, "must be a region name like us-central1, or empty for the nearest region every project may build in", "us-central1");
    const buildRegion = buildRegionRaw !== "" ? buildRegionRaw : defaultBuildRegion(region ?? "");
    if (buildRegionRaw !== "" && !(CLOUD_BUILD_UNRESTRICTED_REGIONS as readonly string[]).includes(buildRegionRaw)) {
        notices.push(`buildRegion ${buildRegionRaw}: some projects may run Cloud Build only in ${CLOUD_BUILD_UNRESTRICTED_REGIONS.join(", ")} (https://cloud.google.com/build/docs/locations); if the build fails with FAILED_PRECONDITION, unset buildRegion.`);
    }
    const machineType = r.string("buildMachineType", DEFAULTS.buildMachineType);
    if (!(BUILD_MACHINE_TYPES as readonly string[]).includes(machineType)) r.problem("buildMachineType", machineType, `must be one of ${BUILD_MACHINE_TYPES.join(", ")} (what gcloud builds submit --machine-type accepts)`, DEFAULTS.buildMachineType);
    const diskSizeGb = r.number("buildDiskSizeGb", DEFAULTS.buildDiskSizeGb, { ...BUILD_DISK_GB, example: String(DEFAULTS.buildDiskSizeGb) });
    const timeoutMinutes = r.number("buildTimeoutMinutes", DEFAULTS.buildTimeoutMinutes, { ...BUILD_TIMEOUT_MINUTES, example: String(DEFAULTS.buildTimeoutMinutes) });

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
    const apiKeyValue = pulumi.runtime.getConfig(apiKeyKey) ?? "";
    const apiKeySet = apiKeyValue !== "";
    const newKey = `${PULUMI} config set --secret apiKey "$(openssl rand -hex 32)"`;
    if (apiKeySet && isConfigSecret !== undefined && !isConfigSecret(apiKeyKey)) {
        r.problems.push({ key: "apiKey", value: "(hidden)", allowed: "is stored in plain text in the stack file; it must be a secret", fix: `${newKey}   (a new key: this one was readable)` });
    } else if (apiKeySet && (apiKeyValue.length < 16 || apiKeyValue.length > 4096 || !HEADER_TOKEN.test(apiKeyValue))) {
        r.problems.push({ key: "apiKey", value: "(hidden)", allowed: "must be 16 to 4096 printable ASCII characters without spaces (callers send it in an HTTP header)", fix: newKey });
    }
    if (isPublic && !apiKeySet) {
        r.problems.push({ key: "public", value: true, allowed: "a public GPU endpoint needs an apiKey, or anyone can run up your bill", fix: `${newKey}   (or: ${PULUMI} config set public false)` });
    }

    // Docker Hub credentials for the base-image cache: both or neither, the token a secret
    // (declared like apiKey, for the same reason). Docker ID rules: 4-30 lower-case letters and digits.
    const dockerHubUsername = r.string("dockerHubUsername", DEFAULTS.dockerHubUsername);
    const dockerHubTokenKey = `${pulumi.getProject()}:dockerHubToken`;
    const dockerHubTokenValue = pulumi.runtime.getConfig(dockerHubTokenKey) ?? "";
    const setDockerHubToken = `${PULUMI} config set --secret dockerHubToken   (a Docker Hub access token; it prompts)`;
    if (dockerHubUsername !== "" && !/^[a-z0-9]{4,30}$/.test(dockerHubUsername)) {
        r.problem("dockerHubUsername", dockerHubUsername, "must be a Docker ID: 4-30 lower-case letters and digits", "YOUR_DOCKER_ID");
    }
    if (dockerHubUsername !== "" && dockerHubTokenValue === "") {
        r.problems.push({ key: "dockerHubToken", value: undefined, allowed: "dockerHubUsername is set, so the access token is needed too", fix: setDockerHubToken });
    } else if (dockerHubUsername === "" && dockerHubTokenValue !== "") {
        r.problems.push({ key: "dockerHubUsername", value: "", allowed: "dockerHubToken is set, so the Docker ID it belongs to is needed too", fix: `${PULUMI} config set dockerHubUsername YOUR_DOCKER_ID` });
    } else if (dockerHubTokenValue !== "" && isConfigSecret !== undefined && !isConfigSecret(dockerHubTokenKey)) {
        r.problems.push({ key: "dockerHubToken", value: "(hidden)", allowed: "is stored in plain text in the stack file; it must be a secret", fix: `${setDockerHubToken}   (then revoke the old token: it was readable)` });
    } else if (dockerHubTokenValue !== "" && (!HEADER_TOKEN.test(dockerHubTokenValue) || Buffer.byteLength(dockerHubTokenValue) > SECRET_MAX_BYTES)) {
        r.problems.push({ key: "dockerHubToken", value: "(hidden)", allowed: "must be one token without spaces or line breaks, under 64 KiB", fix: setDockerHubToken });
    }
    if (dockerHubUsername !== "" && baseImage !== undefined && !isDockerHub(baseImage)) {
        notices.push(`dockerHubUsername is set but vllmImage (${vllmImage}) is not on Docker Hub, so no Docker Hub cache is created and the credentials are not used.`);
    }

    // hfToken is last: `requireSecret` throws on its own, so report it with everything else.
    const tokenValue = config.getSecret("hfToken");
    const tokenKey = `${pulumi.getProject()}:hfToken`;
    const tokenPlain = pulumi.runtime.getConfig(tokenKey);
    // Without a value argument the CLI prompts, so the token stays out of shell history.
    const setToken = `${PULUMI} config set --secret hfToken   (it prompts for the value)`;
    if (tokenPlain === undefined || tokenPlain === "") {
        r.problems.push({ key: "hfToken", value: tokenPlain, allowed: "a Hugging Face token with access to the model is required (https://huggingface.co/settings/tokens, read access)", fix: setToken });
    } else if (isConfigSecret !== undefined && !isConfigSecret(tokenKey)) {
        r.problems.push({ key: "hfToken", value: "(hidden)", allowed: "is stored in plain text in the stack file; it must be a secret", fix: `${setToken}   (then rotate the token: it was readable)` });
    } else if (!HEADER_TOKEN.test(tokenPlain) || Buffer.byteLength(tokenPlain) > SECRET_MAX_BYTES) {
        r.problems.push({ key: "hfToken", value: "(hidden)", allowed: "must be one token without spaces or line breaks (a pasted newline breaks the download's Authorization header), under 64 KiB", fix: setToken });
    } else if (!tokenPlain.startsWith("hf_")) {
        notices.push("hfToken does not start with hf_, as Hugging Face user access tokens do; the preflight's access check will tell whether it works.");
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
        apiKey: apiKeySet ? config.requireSecret("apiKey") : undefined,
        public: isPublic,
        smokeTest,
        startupMode,
        weights,
        // Label values: at most 63 of [a-z0-9_-] (https://cloud.google.com/resource-manager/docs/labels-overview); sanitize gives the characters.
        labels: Object.freeze({ app: sanitize(pulumi.getProject()).slice(0, 63), stack: sanitize(stack).slice(0, 63), "managed-by": "pulumi" }),
        gcpAuth: Object.freeze({
            credentials: gcp.getSecret("credentials"),
            accessToken: gcp.getSecret("accessToken"),
            impersonateServiceAccount: gcp.get("impersonateServiceAccount"),
        }),
        dockerHub: dockerHubUsername === "" ? undefined : Object.freeze({ username: dockerHubUsername, token: config.requireSecret("dockerHubToken") }),
        notices: Object.freeze(notices),
    });
}

/** Whether Cloud Build pulls `baseImage` through the stack's Docker Hub remote repository. */
export function pullsThroughDockerHubRemote(s: Pick<Settings, "baseImage">): boolean {
    return isDockerHub(s.baseImage);
}
