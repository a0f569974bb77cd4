import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import * as command from "@pulumi/command";
import { LORA_DIR, loraAdapterProblems, loraPath } from "../deploy/lora-adapters";
import { commandDir } from "./package-dir";
import { propagationWait } from "./propagation-wait";

export { LORA_DIR };

/** The Docker context and Cloud Build config shipped with this program. */
export const DOCKER_DIR = path.resolve(__dirname, "..", "docker");

/** What goes into the image. Anything else (instances, concurrency, …) is a runtime setting. */
export interface ImageInputs {
    baseImage: string;
    model: string;
    modelRevision: string;
    /** Weights baked into the image, or uploaded to a bucket. Default: image. */
    weights?: "image" | "gcs";
    /**
     * LoRA adapters baked into the image (with either weights source), each in its own layer at
     * `/opt/lora/<name>`; serve them with loraServeArgs. Names: 1-64 letters, digits, `.`, `_`,
     * `-`, unique; revisions: 40-character commits. Default: none.
     */
    loraAdapters?: readonly { name: string; repo: string; revision: string }[];
}

/**
 * vLLM flags that serve the baked adapters: `--enable-lora --lora-modules a=/opt/lora/a b=…`
 * (one --lora-modules, it takes every name=path: nargs='+'); none without adapters.
 * --max-lora-rank and --max-loras are the service's to add.
 */
export function loraServeArgs(adapters: readonly { name: string }[] | undefined): string[] {
    if (adapters === undefined || adapters.length === 0) return [];
    return ["--enable-lora", "--lora-modules", ...adapters.map((a) => `${a.name}=${loraPath(a.name)}`)];
}

/** The adapters as the build gets them: exactly these keys, in this order. */
function plainAdapters(inputs: ImageInputs): { name: string; repo: string; revision: string }[] {
    return (inputs.loraAdapters ?? []).map(({ name, repo, revision }) => ({ name, repo, revision }));
}

/** Cloud Build config per weights source. */
export const BUILD_CONFIGS = { image: "cloudbuild.yaml", gcs: "cloudbuild-gcs.yaml" } as const;

/**
 * Content hash of the Docker context plus the image inputs: it tags the image and triggers
 * the build, so a rebuild happens exactly when something baked into the image changes.
 */
export function imageContentHash(contextDir: string, inputs: ImageInputs): string {
    const hash = crypto.createHash("sha256");
    const files = fs.readdirSync(contextDir, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => path.relative(contextDir, path.join(e.parentPath, e.name)).split(path.sep).join("/"))
        .sort();
    for (const file of files) {
        hash.update(`file:${file}\0`).update(fs.readFileSync(path.join(contextDir, file))).update("\0");
    }
    const baked: unknown[] = [inputs.baseImage, inputs.model, inputs.modelRevision, inputs.weights ?? "image"];
    // Only when there are adapters, so a stack without them keeps its hash (and its image).
    const adapters = plainAdapters(inputs);
    if (adapters.length > 0) baked.push(adapters);
    hash.update(JSON.stringify(baked));
    return hash.digest("hex");
}

/**
 * The build command: deploy/cloud-build.ts submits the build, reports progress while it runs
 * and, when it fails, the failing step's last log lines. Constant text: every value reaches it
 * through the environment, and the token never does (the build reads it from Secret Manager by
 * version name).
 */
export const BUILD_COMMAND = 'node --require ts-node/register "$BUILD_SCRIPT"';
export const BUILD_SCRIPT = "deploy/cloud-build.ts";

/**
 * What runs when only build settings changed (the token's secret version, machine type, disk,
 * timeout): nothing is rebuilt, so no 20-minute build, new digest or new revision. Only the
 * triggers (content hash, base image digest) replace the resource, which runs BUILD_COMMAND.
 */
export const BUILD_SETTINGS_ONLY_COMMAND =
    'echo "vLLM image unchanged: only a change to what is baked into it (docker/, model, revision, base image digest) rebuilds it; new build settings apply to the next build."';

/** The image tag: what is baked in, and the base image by digest. */
export function imageTag(contentHash: string, baseDigest: string): string {
    return crypto.createHash("sha256").update(`${contentHash}\0${baseDigest}`).digest("hex").slice(0, 16);
}

export interface ImageBuildArgs extends ImageInputs {
    /** What the build pulls as its base: the configured image by digest (see BaseImage). */
    baseImagePull: pulumi.Input<string>;
    /** `sha256:…` of the base image; a new digest rebuilds the image. */
    baseImageDigest: pulumi.Input<string>;
    /**
     * Checks the build waits for; when one fails (a short GPU quota) the build never starts.
     * Default: none.
     */
    checks?: pulumi.Input<unknown>[];
    project: pulumi.Input<string>;
    /** Region of the repository (and the weights bucket): the service's. */
    region: pulumi.Input<string>;
    /** Region Cloud Build runs in, and of the staging bucket. Default: `region`. */
    buildRegion?: pulumi.Input<string>;
    /** Artifact Registry repository id to push to. */
    repositoryId: pulumi.Input<string>;
    /** `<region>-docker.pkg.dev/<project>/<repo>`. */
    repositoryUrl: pulumi.Input<string>;
    /** Image name inside the repository. Default: `vllm`. */
    imageName?: string;
    /** Name of the stack-owned bucket for Cloud Build's source staging. */
    stagingBucketName: pulumi.Input<string>;
    /** Email of the service account the build runs as. */
    buildServiceAccountEmail: pulumi.Input<string>;
    /** Secret Manager version (full name) holding the Hugging Face token. */
    tokenSecretVersion: pulumi.Input<string>;
    /** Resources that grant the build account its roles; the build waits for them. */
    grants: pulumi.Input<pulumi.Resource>[];
    /** Cloud Build machine type. Default: `e2-highcpu-8`. */
    machineType?: string;
    /** Cloud Build disk size in GB. Default: 200. */
    diskSizeGb?: number;
    /** Cloud Build timeout in minutes. Default: 90. */
    timeoutMinutes?: number;
    /** Seconds to let IAM grants propagate before the first build. Default: 60. */
    iamPropagationSeconds?: number;
    /**
     * For `weights: gcs`: name of the stack-owned bucket the build uploads the weights to, and
     * the members (the runtime account) that may read them. Default: none, weights are baked.
     */
    weightsBucket?: { name: pulumi.Input<string>; readers: pulumi.Input<string>[] };
    /** Docker context holding Dockerfile and cloudbuild.yaml. Default: this repository's `docker/`. */
    contextDir?: string;
    labels?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/**
 * Bakes the model into a vLLM image with Cloud Build and resolves the pushed image to its
 * digest, so Cloud Run deploys exactly what was built.
 */
export class ImageBuild extends pulumi.ComponentResource {
    /** Content hash of docker/ and the image inputs (with the base digest, it makes the image tag). */
    readonly contentHash: string;
    /** `<repo url>/<image>:<tag>`. */
    readonly taggedImage: pulumi.Output<string>;
    /** `<repo url>/<image>@sha256:…`, what Cloud Run deploys. */
    readonly imageDigestRef: pulumi.Output<string>;
    readonly stagingBucket: gcp.storage.Bucket;
    /** With `weights: gcs`, the bucket holding `<model>/<revision>/`. */
    readonly weightsBucket?: gcp.storage.Bucket;
    readonly buildCommand: command.local.Command;

    constructor(name: string, args: ImageBuildArgs, opts?: pulumi.ComponentResourceOptions) {
        super("vllm-cloudrun:image:ImageBuild", name, {}, opts);
        const contextDir = args.contextDir ?? DOCKER_DIR;
        const imageName = args.imageName ?? "vllm";
        const weights = args.weightsBucket === undefined ? "image" : "gcs";
        // Fail at preview rather than in the build script, minutes into `up`.
        const adapters = plainAdapters(args);
        const adapterProblems = loraAdapterProblems(adapters);
        if (adapterProblems.length > 0) throw new Error(`${name}: loraAdapters: ${adapterProblems.join("; ")}`);
        this.contentHash = imageContentHash(contextDir, { ...args, weights });
        const tag = pulumi.output(args.baseImageDigest).apply((d) => imageTag(this.contentHash, d));
        this.taggedImage = pulumi.interpolate`${args.repositoryUrl}/${imageName}:${tag}`;

        // Stack-owned staging: `pulumi destroy` deletes the bucket and every object in it.
        this.stagingBucket = new gcp.storage.Bucket(
            `${name}-staging`,
            {
                project: args.project,
                name: args.stagingBucketName,
                location: args.buildRegion ?? args.region,
                forceDestroy: true,
                uniformBucketLevelAccess: true,
                publicAccessPrevention: "enforced",
                lifecycleRules: [{ action: { type: "Delete" }, condition: { age: 7 } }],
                labels: args.labels,
            },
            { parent: this },
        );
        // The build account reads the uploaded source; the caller (you) writes it.
        const stagingReader = new gcp.storage.BucketIAMMember(
            `${name}-staging-reader`,
            { bucket: this.stagingBucket.name, role: "roles/storage.objectViewer", member: pulumi.interpolate`serviceAccount:${args.buildServiceAccountEmail}` },
            { parent: this },
        );

        const weightsGrants: pulumi.Resource[] = [];
        if (args.weightsBucket !== undefined) {
            this.weightsBucket = new gcp.storage.Bucket(
                `${name}-weights`,
                {
                    project: args.project,
                    name: args.weightsBucket.name,
                    location: args.region,
                    forceDestroy: true,
                    uniformBucketLevelAccess: true,
                    publicAccessPrevention: "enforced",
                    labels: args.labels,
                },
                { parent: this },
            );
            // The build adds objects (rsync lists and creates; paths include the revision, so it
            // never overwrites); readers (the runtime account) only read.
            const buildMember = pulumi.interpolate`serviceAccount:${args.buildServiceAccountEmail}`;
            const grants: [string, string, pulumi.Input<string>][] = [
                ["weights-build-creator", "roles/storage.objectCreator", buildMember],
                ["weights-build-viewer", "roles/storage.objectViewer", buildMember],
                ...args.weightsBucket.readers.map((m, i) => [`weights-reader-${i}`, "roles/storage.objectViewer", m] as [string, string, pulumi.Input<string>]),
            ];
            for (const [suffix, role, member] of grants) {
                weightsGrants.push(new gcp.storage.BucketIAMMember(`${name}-${suffix}`, { bucket: this.weightsBucket.name, role, member }, { parent: this }));
            }
        }

        // IAM is eventually consistent: a build started right after the grants fails with 403.
        const iamPropagation = propagationWait(`${name}-iam-propagation`, args.iamPropagationSeconds ?? 60, [stagingReader, ...weightsGrants, ...args.grants], this);
        // Resolves only when every check passed; a check that throws stops the build unregistered.
        const ready = pulumi.all(args.checks ?? []).apply(() => [iamPropagation]);

        const dir = commandDir();
        this.buildCommand = new command.local.Command(
            `${name}-build`,
            {
                create: BUILD_COMMAND,
                update: BUILD_SETTINGS_ONLY_COMMAND,
                environment: {
                    BUILD_SCRIPT,
                    // The script needs no type check at deploy time (the project's tests do that).
                    TS_NODE_TRANSPILE_ONLY: "true",
                    // Relative to where the command runs, so the same stack run from another
                    // checkout or CI path does not look like a change.
                    SOURCE_DIR: path.relative(dir ?? process.cwd(), contextDir) || ".",
                    PROJECT: args.project,
                    REGION: args.buildRegion ?? args.region,
                    BASE_IMAGE: args.baseImagePull,
                    MODEL: args.model,
                    MODEL_REVISION: args.modelRevision,
                    IMAGE: this.taggedImage,
                    HF_TOKEN_VERSION: args.tokenSecretVersion,
                    BUILD_SERVICE_ACCOUNT: args.buildServiceAccountEmail,
                    STAGING_BUCKET: this.stagingBucket.name,
                    MACHINE_TYPE: args.machineType ?? "e2-highcpu-8",
                    DISK_SIZE_GB: String(args.diskSizeGb ?? 200),
                    TIMEOUT_SECONDS: String((args.timeoutMinutes ?? 90) * 60),
                    BUILD_CONFIG: BUILD_CONFIGS[weights],
                    ...(this.weightsBucket === undefined ? {} : { WEIGHTS_BUCKET: this.weightsBucket.name }),
                    // JSON in the environment, never in a command line; absent without adapters.
                    ...(adapters.length === 0 ? {} : { LORA_ADAPTERS: JSON.stringify(adapters) }),
                    CLOUDSDK_CORE_DISABLE_PROMPTS: "1",
                },
                // Only what is baked into the image rebuilds it (replaceOnChanges below).
                triggers: [this.contentHash, args.baseImageDigest],
                addPreviousOutputInEnv: false,
                ...(dir === undefined ? {} : { dir }),
            },
            {
                parent: this,
                dependsOn: ready,
                // A changed trigger replaces the resource (which runs `create`): the SDK asks for it on
                // `triggers[*]`, and this covers a changed number of triggers too. Any other input change
                // runs `update` (pulumi-command local/commandController.go).
                replaceOnChanges: ["triggers"],
                customTimeouts: { create: `${(args.timeoutMinutes ?? 90) + 10}m`, update: "5m" },
            },
        );

        // A clean source for the digest: Artifact Registry, with the caller's Google credentials
        // (the gcp provider's own data source, so @pulumi/docker and a Docker daemon are not needed).
        const pushed = gcp.artifactregistry.getDockerImageOutput(
            { project: args.project, location: args.region, repositoryId: args.repositoryId, imageName: pulumi.interpolate`${imageName}:${tag}` },
            { parent: this, dependsOn: [this.buildCommand] },
        );
        this.imageDigestRef = pushed.selfLink;

        this.registerOutputs({ taggedImage: this.taggedImage, imageDigestRef: this.imageDigestRef });
    }
}
