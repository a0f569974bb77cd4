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

/** GCP region names (`us-central1`, `europe-west4`, `northamerica-northeast1`): used in child names. */
const REGION = /^[a-z]+(?:-[a-z]+)+[0-9]+$/;

/** Another region that gets the same image and, with `weights: gcs`, the weights. */
export interface RegionCopy {
    /** The region: of the repository and of the weights bucket. */
    region: string;
    /** Artifact Registry repository id in that region (the image is pushed there too). */
    repositoryId: pulumi.Input<string>;
    /** `<region>-docker.pkg.dev/<project>/<repo>`. */
    repositoryUrl: pulumi.Input<string>;
    /**
     * Name of that region's weights bucket: required with `weightsBucket`, unused without it.
     * Default: none.
     */
    weightsBucketName?: pulumi.Input<string>;
}

/** The copies sorted by region, checked: distinct valid regions, none the home region. */
export function sortedRegionCopies(name: string, home: pulumi.Input<string>, copies: readonly RegionCopy[] | undefined, gcs: boolean): RegionCopy[] {
    const sorted = [...(copies ?? [])].sort((a, b) => (a.region < b.region ? -1 : a.region > b.region ? 1 : 0));
    const problems: string[] = [];
    if (sorted.length > 0 && typeof home !== "string") problems.push("region must be a plain string with regionCopies (it keys imageDigestRefs)");
    sorted.forEach((c, i) => {
        if (!REGION.test(c.region)) problems.push(`"${c.region}" is not a region name`);
        if (c.region === home) problems.push(`"${c.region}" is the home region (region), not a copy`);
        if (i > 0 && sorted[i - 1].region === c.region) problems.push(`"${c.region}" is listed twice`);
        if (gcs && c.weightsBucketName === undefined) problems.push(`"${c.region}" needs weightsBucketName (weights: gcs)`);
    });
    if (problems.length > 0) throw new Error(`${name}: regionCopies: ${problems.join("; ")}`);
    return sorted;
}

/** `sha256:…` of `<repo url>/<image>@sha256:…` (getDockerImage's selfLink). */
export function digestOf(ref: string): string {
    const digest = ref.slice(ref.lastIndexOf("@") + 1);
    if (!ref.includes("@") || !/^sha256:[0-9a-f]{64}$/.test(digest)) throw new Error(`not an image reference by digest: "${ref}"`);
    return digest;
}

/**
 * `<repo url>/<image>@<home digest>` for a region's copy, after checking that the tag pushed
 * there (`pushed`, its selfLink) is that digest: every region must run the image home runs.
 */
export function regionDigestRef(region: string, repositoryUrl: string, imageName: string, homeDigest: string, pushed: string): string {
    const digest = digestOf(pushed);
    if (digest !== homeDigest) {
        throw new Error(
            `the image pushed to ${region} (${pushed}) is not the home region's (${homeDigest}): Cloud Build pushed different manifests. ` +
                "Every region must run the same image; rebuild with `npx pulumi up --replace <URN of the image build Command>` (the ImageBuild's `-build` child, see `npx pulumi stack --show-urns`).",
        );
    }
    return `${repositoryUrl}/${imageName}@${homeDigest}`;
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
    /**
     * The regions besides `region` that get the same image (pushed by the same build to each
     * one's repository) and, with `weightsBucket`, a copy of the weights in a bucket of their own
     * (same settings and grants as the home one). Default: none (today's single region).
     */
    regionCopies?: RegionCopy[];
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
    /**
     * By region (home and every copy): `<that region's repo url>/<image>@sha256:…`, one digest
     * everywhere (a copy whose pushed digest differs fails the deploy). Home's is imageDigestRef.
     */
    readonly imageDigestRefs: Record<string, pulumi.Output<string>>;
    readonly stagingBucket: gcp.storage.Bucket;
    /** With `weights: gcs`, the bucket holding `<model>/<revision>/`. */
    readonly weightsBucket?: gcp.storage.Bucket;
    /** With `weights: gcs`, by region (home and every copy): the bucket holding `<model>/<revision>/`. */
    readonly weightsBuckets?: Record<string, gcp.storage.Bucket>;
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
        const copies = sortedRegionCopies(name, args.region, args.regionCopies, weights === "gcs");
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
        /** The copy regions' weights buckets, in the order of `copies`. */
        const copyBuckets: gcp.storage.Bucket[] = [];
        if (args.weightsBucket !== undefined) {
            const readers = args.weightsBucket.readers;
            // The same private, stack-owned bucket in each region, and the same grants on it.
            const newWeightsBucket = (suffix: string, bucketName: pulumi.Input<string>, location: pulumi.Input<string>) => {
                const bucket = new gcp.storage.Bucket(
                    `${name}-weights${suffix}`,
                    {
                        project: args.project,
                        name: bucketName,
                        location,
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
                    ...readers.map((m, i) => [`weights-reader-${i}`, "roles/storage.objectViewer", m] as [string, string, pulumi.Input<string>]),
                ];
                for (const [grant, role, member] of grants) {
                    weightsGrants.push(new gcp.storage.BucketIAMMember(`${name}-${grant}${suffix}`, { bucket: bucket.name, role, member }, { parent: this }));
                }
                return bucket;
            };
            this.weightsBucket = newWeightsBucket("", args.weightsBucket.name, args.region);
            // sortedRegionCopies checked that every copy has a bucket name with weights: gcs.
            copyBuckets.push(...copies.map((c) => newWeightsBucket(`-${c.region}`, c.weightsBucketName as pulumi.Input<string>, c.region)));
            const byRegion: Record<string, gcp.storage.Bucket> = typeof args.region === "string" ? { [args.region]: this.weightsBucket } : {};
            copies.forEach((c, i) => {
                byRegion[c.region] = copyBuckets[i];
            });
            this.weightsBuckets = byRegion;
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
                    // The same image to every other region's repository, and the weights to every
                    // other region's bucket; absent in a single region.
                    ...(copies.length === 0 ? {} : { EXTRA_IMAGES: pulumi.all(copies.map((c) => pulumi.interpolate`${c.repositoryUrl}/${imageName}:${tag}`)).apply((refs) => refs.join(",")) }),
                    ...(copyBuckets.length === 0 ? {} : { EXTRA_WEIGHTS_BUCKETS: pulumi.all(copyBuckets.map((b) => b.name)).apply((names) => names.join(",")) }),
                    // JSON in the environment, never in a command line; absent without adapters.
                    ...(adapters.length === 0 ? {} : { LORA_ADAPTERS: JSON.stringify(adapters) }),
                    CLOUDSDK_CORE_DISABLE_PROMPTS: "1",
                },
                // Only what is baked into the image rebuilds it (replaceOnChanges below), and a
                // new copy region: the image must be pushed there. None in a single region.
                triggers: [this.contentHash, args.baseImageDigest, ...copies.map((c) => c.region)],
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

        // Each copy region's tag, read back from its own repository: Cloud Build pushed the same
        // local image to all of them, so each must be home's digest.
        this.imageDigestRefs = typeof args.region === "string" ? { [args.region]: this.imageDigestRef } : {};
        for (const c of copies) {
            const copy = gcp.artifactregistry.getDockerImageOutput(
                { project: args.project, location: c.region, repositoryId: c.repositoryId, imageName: pulumi.interpolate`${imageName}:${tag}` },
                { parent: this, dependsOn: [this.buildCommand] },
            );
            this.imageDigestRefs[c.region] = pulumi
                .all([c.repositoryUrl, this.imageDigestRef, copy.selfLink])
                .apply(([url, home, pushedThere]) => regionDigestRef(c.region, url, imageName, digestOf(home), pushedThere));
        }

        // The same outputs as before in a single region.
        this.registerOutputs({ taggedImage: this.taggedImage, imageDigestRef: this.imageDigestRef, ...(copies.length === 0 ? {} : { imageDigestRefs: this.imageDigestRefs }) });
    }
}
