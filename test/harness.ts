// Runs the real program (index.ts, through ts-node with the project's tsconfig, as Pulumi's
// Node.js runtime does) against Pulumi's mock engine, and records what it registers.
import { createHash } from "crypto";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import type { ConfigError } from "../config";
import type { GooglePost } from "../config/permissions";

export const ROOT = path.resolve(__dirname, "..");
export const PROJECT = "vllm-cloudrun";
/** Recognizable fake token: tests look for it everywhere it must not be. */
export const FAKE_TOKEN = "hf_FAKE-token-for-tests-0123456789-XYZ";
export const GCP_PROJECT = "my-proj";
/** What the mocked Resource Manager answers as the project's number. */
export const PROJECT_NUMBER = "123456789012";
export const FAKE_DIGEST = "sha256:" + "ab".repeat(32);
/** What the mocked Compute API gives the front door's global address. */
export const FAKE_IP = "203.0.113.10";
/** The commit the model catalog pins for the default model (modelRevision's default resolves to it). */
export const DEFAULT_REVISION = "dcc83ea841ab6100d6b47a070329e1ba4cf78752";
/** What the fake Docker Hub says vllm/vllm-openai:<tag> is. */
export const FAKE_BASE_DIGEST = "sha256:" + "cd".repeat(32);

/** Pulumi's marker for secret values in serialized properties. */
const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

export interface Registered {
    type: string;
    name: string;
    inputs: Record<string, unknown>;
    /** What the mock engine answered (inputs plus computed outputs). */
    state?: Record<string, unknown>;
    custom: boolean;
    /** `type::name` of the parent, if any. */
    parent?: string;
    /** `type::name` of each explicit dependsOn entry (also when dependsOn is an Output of resources). */
    dependsOn: string[];
    /** Resource options the engine acts on. */
    replaceOnChanges?: string[];
    /** `type::name` of the explicit provider, if any. */
    provider?: string;
    /** The URN the (mock) engine gave the resource. */
    urn?: string;
    /** The `aliases` resource option, as given. */
    aliases?: pulumi.Input<string | pulumi.Alias>[];
}

export interface RunResult {
    resources: Registered[];
    outputs: Record<string, unknown>;
    secretOutputs: Set<string>;
    invokes: { token: string; inputs: Record<string, unknown> }[];
    error?: Error;
}

export interface RunOptions {
    /** The program to run, relative to ROOT (like Pulumi.yaml `main`). Default: index.ts. */
    program?: string;
    /** Project config keys without the `vllm-cloudrun:` prefix; `gcp:` keys as they are. */
    config?: Record<string, unknown>;
    /** Stack name. Default: dev. */
    stack?: string;
    /** Leave hfToken unset. */
    noToken?: boolean;
    /** Project keys set as secrets (like `pulumi config set --secret`). */
    secretConfig?: Record<string, string>;
    /** Keep hfToken out of the secret keys, as a plain-text stack value would be. */
    plainToken?: boolean;
    /** Leave gcp:project / gcp:region unset. */
    noProject?: boolean;
    noRegion?: boolean;
    /** Quota the fake Cloud Quotas API reports for the stack's region. Default: 3 GPUs (both kinds), 1 TiB memory, 200 vCPU. */
    quota?: { gpu?: number; zonalGpu?: number; memoryGiB?: number; vcpu?: number; region?: string; /** More regions with the same quota (multi-region stacks). */ regions?: string[] };
    /** What the fake Docker Hub answers for the base image's tag. Default: FAKE_BASE_DIGEST. */
    baseDigest?: string;
    /**
     * Stands in for Resource Manager in the preflight's permission check (with preflightChecks on):
     * replaces config/permissions' adcPost, which the preflight calls for its default.
     */
    googlePost?: GooglePost;
}

/** The harness reloads config/ for every run, so compare by name, not by class identity. */
export function isConfigError(e: unknown): e is ConfigError {
    return e instanceof Error && e.name === "ConfigError" && Array.isArray((e as ConfigError).problems);
}

export function isSecretValue(v: unknown): v is { value: unknown } {
    return typeof v === "object" && v !== null && (v as Record<string, unknown>)[SIG_KEY] === SECRET_SIG;
}

/** Plain (non-secret) strings anywhere inside a value; secret-wrapped parts are skipped. */
export function plainStrings(v: unknown, out: string[] = []): string[] {
    if (isSecretValue(v)) return out;
    if (typeof v === "string") out.push(v);
    else if (Array.isArray(v)) v.forEach((e) => plainStrings(e, out));
    else if (typeof v === "object" && v !== null) Object.values(v).forEach((e) => plainStrings(e, out));
    return out;
}

function computedState(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
    switch (type) {
        case "gcp:serviceaccount/account:Account":
            return { email: `${inputs.accountId}@${inputs.project}.iam.gserviceaccount.com`, name: `projects/${inputs.project}/serviceAccounts/${inputs.accountId}` };
        case "gcp:secretmanager/secret:Secret":
            return { name: `projects/123456789/secrets/${inputs.secretId}` };
        case "gcp:secretmanager/secretVersion:SecretVersion": {
            // A new value is a new version, as Secret Manager numbers them.
            const version = String(1 + (parseInt(createHash("sha256").update(JSON.stringify(inputs.secretData)).digest("hex").slice(0, 6), 16) % 900));
            return { name: `projects/123456789/secrets/${String(inputs.secret).replace(/-id$/, "")}/versions/${version}`, version };
        }
        case "gcp:artifactregistry/repository:Repository":
            return { name: inputs.repositoryId };
        case "gcp:projects/serviceIdentity:ServiceIdentity":
            return { email: "service-123456789@gcp-sa-artifactregistry.iam.gserviceaccount.com", member: "serviceAccount:service-123456789@gcp-sa-artifactregistry.iam.gserviceaccount.com" };
        case "gcp:cloudrunv2/service:Service":
            return { uri: `https://${inputs.name}-abc123-uc.a.run.app` };
        case "command:local:Command":
            return { stdout: "", stderr: "" };
        case "gcp:monitoring/notificationChannel:NotificationChannel":
            return { name: `projects/${inputs.project}/notificationChannels/4242424242` };
        case "gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig":
            return { uptimeCheckId: "health-check-0a1b2c", name: `projects/${inputs.project}/uptimeCheckConfigs/health-check-0a1b2c` };
        case "gcp:compute/globalAddress:GlobalAddress":
            // An address from the documentation range (RFC 5737).
            return { name: inputs.name ?? name, address: FAKE_IP, selfLink: `https://www.googleapis.com/compute/v1/projects/${String(inputs.project)}/global/addresses/${typeof inputs.name === "string" ? inputs.name : name}` };
        case "gcp:monitoring/alertPolicy:AlertPolicy":
            return { name: `projects/${inputs.project}/alertPolicies/${name.length}` };
        default:
            return { name: inputs.name ?? name };
    }
}

function key(r: pulumi.Resource | undefined): string | undefined {
    if (r === undefined) return undefined;
    const internal = r as unknown as { __pulumiType: string; __name: string };
    return `${internal.__pulumiType}::${internal.__name}`;
}


/** Runs index.ts once with the given config and returns everything it registered. */
export async function runProgram(opts: RunOptions = {}): Promise<RunResult> {
    const result: RunResult = { resources: [], outputs: {}, secretOutputs: new Set(), invokes: [] };
    // Like Pulumi's Node.js runtime, an unhandled rejection (a check that throws inside an Output,
    // and every registration waiting on it) fails the program: record the first one as its error.
    const testRunnerListeners = process.listeners("unhandledRejection");
    process.removeAllListeners("unhandledRejection");
    const rejections: unknown[] = [];
    const onRejection = (e: unknown) => rejections.push(e);
    process.on("unhandledRejection", onRejection);
    try {
        return await runProgramInner(opts, result, rejections);
    } finally {
        process.off("unhandledRejection", onRejection);
        for (const l of testRunnerListeners) process.on("unhandledRejection", l);
    }
}

async function runProgramInner(opts: RunOptions, result: RunResult, rejections: unknown[]): Promise<RunResult> {
    const stack = opts.stack ?? "dev";

    const config: Record<string, string> = {};
    if (!opts.noProject) config["gcp:project"] = GCP_PROJECT;
    if (!opts.noRegion) config["gcp:region"] = "us-central1";
    if (!opts.noToken) config[`${PROJECT}:hfToken`] = FAKE_TOKEN;
    // Tests never reach huggingface.co; preflight tests swap in a fake fetch instead.
    config[`${PROJECT}:preflightChecks`] = "false";
    for (const [k, v] of Object.entries(opts.config ?? {})) {
        const full = k.includes(":") ? k : `${PROJECT}:${k}`;
        config[full] = typeof v === "string" ? v : JSON.stringify(v);
    }
    const secretKeys = opts.noToken || opts.plainToken ? [] : [`${PROJECT}:hfToken`];
    for (const [k, v] of Object.entries(opts.secretConfig ?? {})) {
        config[`${PROJECT}:${k}`] = v;
        secretKeys.push(`${PROJECT}:${k}`);
    }
    pulumi.runtime.setAllConfig(config, secretKeys);

    await pulumi.runtime.setMocks(
        {
            newResource(args: pulumi.runtime.MockResourceArgs) {
                const state = { ...args.inputs, ...computedState(args.type, args.name, args.inputs) };
                const rec = result.resources.find((x) => x.type === args.type && x.name === args.name);
                if (rec) Object.assign(rec, { inputs: args.inputs, state });
                else result.resources.push({ type: args.type, name: args.name, inputs: args.inputs, state, custom: args.custom ?? true, dependsOn: [] });
                return { id: `${args.name}-id`, state };
            },
            call(args: pulumi.runtime.MockCallArgs) {
                result.invokes.push({ token: args.token, inputs: args.inputs });
                if (args.token === "docker:index/getRegistryImage:getRegistryImage") {
                    return { ...args.inputs, sha256Digest: opts.baseDigest ?? FAKE_BASE_DIGEST };
                }
                if (args.token === "gcp:organizations/getProject:getProject") return { ...args.inputs, number: PROJECT_NUMBER };
                if (args.token === "gcp:cloudquota/getSQuotaInfo:getSQuotaInfo") return quotaInfo(String(args.inputs.quotaId), opts.quota);
                if (args.token === "gcp:artifactregistry/getDockerImage:getDockerImage") {
                    const image = String(args.inputs.imageName).split(":")[0];
                    return { ...args.inputs, selfLink: `${args.inputs.location}-docker.pkg.dev/${args.inputs.project}/${args.inputs.repositoryId}/${image}@${FAKE_DIGEST}` };
                }
                return args.inputs;
            },
        },
        PROJECT,
        stack,
        false,
    );
    // Run inside a root Stack resource, as Pulumi's Node.js runtime does.
    let exported: Record<string, unknown> = {};
    await pulumi.runtime.runInPulumiStack(async () => {
        // Records parent and dependsOn, which the mock monitor does not pass to newResource.
        pulumi.runtime.registerStackTransformation((args) => {
            const rec: Registered = {
                type: args.type,
                name: args.name,
                inputs: {},
                custom: !(args.resource instanceof pulumi.ComponentResource),
                parent: key(args.opts.parent),
                dependsOn: [],
                replaceOnChanges: (args.opts as pulumi.CustomResourceOptions).replaceOnChanges,
                provider: key((args.opts as pulumi.CustomResourceOptions).provider),
                aliases: args.opts.aliases,
            };
            result.resources.push(rec);
            // The URN output exists once the constructor has run on.
            queueMicrotask(() => void args.resource.urn.apply((urn) => {
                rec.urn = urn;
            }));
            // dependsOn may be an Output of resources (a gate that resolves once checks pass).
            void pulumi.output(args.opts.dependsOn).apply((deps) => {
                const list = (Array.isArray(deps) ? deps : deps === undefined ? [] : [deps]);
                rec.dependsOn.push(...list.map((d) => key(d) as string));
            });
            return undefined;
        });
        // Fresh module state for every run: the program reads config at load time.
        for (const id of Object.keys(require.cache)) {
            if (id.startsWith(ROOT) && !id.includes(`${path.sep}node_modules${path.sep}`) && !id.includes(`${path.sep}test${path.sep}`)) delete require.cache[id];
        }
        if (opts.googlePost !== undefined) {
            const permissions = require(path.join(ROOT, "config", "permissions.ts")) as { adcPost: () => GooglePost };
            const post = opts.googlePost;
            permissions.adcPost = () => post;
        }
        // Like Pulumi's runtime: a module exporting a function is called and awaited.
        try {
            const mod: unknown = require(path.join(ROOT, opts.program ?? "index.ts"));
            exported = typeof mod === "function" ? ((await (mod as () => Promise<unknown>)()) as Record<string, unknown>) : (mod as Record<string, unknown>);
        } catch (e) {
            result.error = e as Error;
        }
        return undefined;
    });
    for (const [name, value] of Object.entries(exported)) {
        if (pulumi.Output.isInstance(value)) {
            // A check that throws inside an Output (the quota gate) fails the update like this.
            try {
                result.outputs[name] = await (value as unknown as { promise(): Promise<unknown> }).promise();
            } catch (e) {
                result.error ??= e as Error;
                continue;
            }
            // Pulumi serializes no undefined property: such an output is absent from the stack.
            if (result.outputs[name] === undefined) delete result.outputs[name];
            else if (await pulumi.isSecret(value)) result.secretOutputs.add(name);
        } else {
            result.outputs[name] = value;
        }
    }
    await settle(result, rejections);
    if (rejections.length > 0) result.error ??= rejections[0] as Error;
    return result;
}

/** A Cloud Quotas QuotaInfo as the provider returns it: a default entry and one for the region. */
function quotaInfo(quotaId: string, q: RunOptions["quota"] = {}): Record<string, unknown> {
    const value =
        quotaId === "MemAllocPerProjectRegion" ? (q.memoryGiB ?? 1024) * 1024 ** 3
        : quotaId === "CpuAllocPerProjectRegion" ? (q.vcpu ?? 200) * 1000
        : quotaId === "NvidiaL4GpuAllocPerProjectRegion" ? (q.zonalGpu ?? 3)
        : q.gpu ?? 3;
    return {
        quotaId,
        service: "run.googleapis.com",
        dimensionsInfos: [
            ...[q.region ?? "us-central1", ...(q.regions ?? [])].map((region) => ({ dimensions: { region }, applicableLocations: [region], details: [{ value: String(value) }] })),
            { dimensions: {}, applicableLocations: ["europe-west1"], details: [{ value: "0" }] },
        ],
    };
}

/** Waits until no new resources register and their inputs have arrived. */
async function settle(result: RunResult, rejections: unknown[]): Promise<void> {
    let stable = 0;
    let last = -1;
    while (stable < 5) {
        await new Promise((r) => setTimeout(r, 20));
        const n = result.resources.length + result.invokes.length + rejections.length;
        stable = n === last ? stable + 1 : 0;
        last = n;
    }
}

export function byType(r: RunResult, type: string): Registered[] {
    return r.resources.filter((x) => x.type === type);
}

export function one(r: RunResult, type: string, name?: string): Registered {
    const found = byType(r, type).filter((x) => name === undefined || x.name === name);
    if (found.length !== 1) throw new Error(`expected exactly one ${type}${name ? ` named ${name}` : ""}, found ${found.length}`);
    return found[0];
}
