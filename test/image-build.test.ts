import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { BUILD_COMMAND, BUILD_SCRIPT, BUILD_SETTINGS_ONLY_COMMAND, digestOf, DOCKER_DIR, imageContentHash, imageTag, LORA_DIR, loraServeArgs, regionDigestRef, sortedRegionCopies } from "../components/image-build";
import { DEFAULTS } from "../config";
import { commandAction } from "./command-diff";
import { DEFAULT_REVISION, FAKE_BASE_DIGEST, FAKE_DIGEST, FAKE_TOKEN, one, plainStrings, RunOptions, runProgram, RunResult } from "./harness";

const BUILD = "command:local:Command";
const inputs = { baseImage: DEFAULTS.vllmImage, model: DEFAULTS.model, modelRevision: DEFAULT_REVISION };

function buildOf(r: RunResult) {
    return one(r, BUILD, "vllm-cloudrun-dev-build");
}

/** The token's secret version the build reads: a pinned number, never `latest`. */
function tokenVersion(inputs: Record<string, unknown>): string {
    const v = String((inputs.environment as Record<string, string>).HF_TOKEN_VERSION);
    assert.match(v, /^projects\/123456789\/secrets\/vllm-cloudrun-dev-hf-token\/versions\/[1-9][0-9]*$/);
    return v;
}

describe("ImageBuild", () => {
    let r: RunResult;
    before(async () => {
        r = await runProgram();
    });

    it("stages source in a private, stack-owned bucket that destroy empties", () => {
        const bucket = one(r, "gcp:storage/bucket:Bucket");
        assert.equal(bucket.inputs.name, "vllm-cloudrun-dev-src-my-proj");
        assert.equal(bucket.inputs.location, "us-central1");
        assert.equal(bucket.inputs.forceDestroy, true);
        assert.equal(bucket.inputs.uniformBucketLevelAccess, true);
        assert.equal(bucket.inputs.publicAccessPrevention, "enforced");
        const reader = one(r, "gcp:storage/bucketIAMMember:BucketIAMMember");
        assert.equal(reader.inputs.role, "roles/storage.objectViewer");
        assert.equal(reader.inputs.member, "serviceAccount:vllm-cloudrun-dev-build@my-proj.iam.gserviceaccount.com");
    });

    it("runs the build script with every value passed through the environment", () => {
        const build = buildOf(r);
        assert.equal(build.inputs.create, BUILD_COMMAND);
        assert.equal(build.inputs.update, BUILD_SETTINGS_ONLY_COMMAND);
        const hash = imageContentHash(DOCKER_DIR, inputs);
        assert.deepEqual(build.inputs.environment, {
            BUILD_SCRIPT: "deploy/cloud-build.ts",
            TS_NODE_TRANSPILE_ONLY: "true",
            SOURCE_DIR: "docker",
            PROJECT: "my-proj",
            REGION: "us-central1",
            // The base image by digest, through the stack's Docker Hub cache in the same region.
            BASE_IMAGE: `us-central1-docker.pkg.dev/my-proj/vllm-cloudrun-dev-dockerhub/vllm/vllm-openai@${FAKE_BASE_DIGEST}`,
            MODEL: DEFAULTS.model,
            MODEL_REVISION: DEFAULT_REVISION,
            IMAGE: `us-central1-docker.pkg.dev/my-proj/vllm-cloudrun-dev/vllm:${imageTag(hash, FAKE_BASE_DIGEST)}`,
            HF_TOKEN_VERSION: tokenVersion(build.inputs),
            BUILD_SERVICE_ACCOUNT: "vllm-cloudrun-dev-build@my-proj.iam.gserviceaccount.com",
            STAGING_BUCKET: "vllm-cloudrun-dev-src-my-proj",
            MACHINE_TYPE: "e2-highcpu-8",
            DISK_SIZE_GB: "200",
            TIMEOUT_SECONDS: "5400",
            BUILD_CONFIG: "cloudbuild.yaml",
            CLOUDSDK_CORE_DISABLE_PROMPTS: "1",
        });
        assert.deepEqual(build.inputs.triggers, [hash, FAKE_BASE_DIGEST]);
        // Ours, and the one the SDK adds from the provider schema (triggers are replaceOnChanges there too).
        assert.deepEqual(build.replaceOnChanges, ["triggers", "triggers[*]"]);
        assert.equal(build.inputs.addPreviousOutputInEnv, false);
        assert.equal(BUILD_SCRIPT, "deploy/cloud-build.ts");
        assert.ok(fs.existsSync(path.join(__dirname, "..", BUILD_SCRIPT)), "the build script exists");
    });

    it("splices no value into the command lines and never carries the token", () => {
        const build = buildOf(r);
        for (const cmd of [String(build.inputs.create), String(build.inputs.update)]) {
            for (const literal of ["my-proj", "us-central1", DEFAULTS.model, DEFAULT_REVISION, "hf-token", "e2-highcpu", "sha256"]) {
                assert.ok(!cmd.includes(literal), `command line contains ${literal}`);
            }
        }
        assert.equal(BUILD_COMMAND, 'node --require ts-node/register "$BUILD_SCRIPT"');
        for (const s of plainStrings(build.inputs)) assert.ok(!s.includes(FAKE_TOKEN), "token in build inputs");
    });

    it("builds only after the grants and their propagation", () => {
        const wait = one(r, BUILD, "vllm-cloudrun-dev-iam-propagation");
        assert.deepEqual(buildOf(r).dependsOn, [`${BUILD}::vllm-cloudrun-dev-iam-propagation`]);
        assert.deepEqual(wait.dependsOn.sort(), [
            "gcp:storage/bucketIAMMember:BucketIAMMember::vllm-cloudrun-dev-staging-reader",
            "vllm-cloudrun:identities:ServiceIdentities::vllm-cloudrun-dev",
            "vllm-cloudrun:registry:ImageRegistry::vllm-cloudrun-dev",
            "vllm-cloudrun:secret:TokenSecret::vllm-cloudrun-dev-hf-token",
        ]);
    });

    it("resolves the pushed tag to a digest in Artifact Registry", () => {
        const lookups = r.invokes.filter((i) => i.token === "gcp:artifactregistry/getDockerImage:getDockerImage");
        assert.equal(lookups.length, 1);
        const hash = imageContentHash(DOCKER_DIR, inputs);
        assert.deepEqual(lookups[0].inputs, { project: "my-proj", location: "us-central1", repositoryId: "vllm-cloudrun-dev", imageName: `vllm:${imageTag(hash, FAKE_BASE_DIGEST)}` });
        assert.equal(r.outputs.image, `us-central1-docker.pkg.dev/my-proj/vllm-cloudrun-dev/vllm@${FAKE_DIGEST}`);
    });

    it("does not rebuild when only runtime settings change", async () => {
        const changed = await runProgram({ config: { maxInstances: 3, minInstances: 1, concurrency: 8, maxModelLen: 4096, gpuMemoryUtilization: "0.8", cpu: 4, memory: "16Gi", servedModelName: "gemma", invokers: ["user:a@example.com"], deletionProtection: true, gpuZonalRedundancy: true, startupMode: "throughput", smokeTest: true } });
        assert.equal(changed.error, undefined);
        const a = buildOf(r).inputs;
        const b = buildOf(changed).inputs;
        assert.deepEqual([b.create, b.environment, b.triggers], [a.create, a.environment, a.triggers]);
    });

    it("rebuilds when the model, revision, base image tag or the tag's upstream digest changes", async () => {
        const cases: RunOptions[] = [
            { config: { model: "google/gemma-3-4b-it", modelRevision: "3".repeat(40) } },
            { config: { modelRevision: "0".repeat(40) } },
            { config: { vllmImage: "vllm/vllm-openai:v0.11.0" } },
            // Same tag, moved upstream: the registry lookup returns a new digest.
            { baseDigest: "sha256:" + "ef".repeat(32) },
        ];
        for (const opts of cases) {
            const changed = buildOf(await runProgram(opts));
            const action = commandAction(buildOf(r).inputs, changed.inputs, changed.replaceOnChanges);
            assert.deepEqual(action, { kind: "replace", runs: BUILD_COMMAND }, JSON.stringify(opts));
        }
    });

    // @pulumi/command runs `create` again on any input change unless there is an `update`:
    // these settings are in the build's environment, so without BUILD_SETTINGS_ONLY_COMMAND each
    // would start a 20-30 minute build, push a new digest and roll out a new revision.
    for (const [what, opts] of [
        ["rotating hfToken (a new secret version)", { noToken: true, secretConfig: { hfToken: "hf_ROTATED-token-for-tests-9876543210-ABC" } }],
        ["buildMachineType", { config: { buildMachineType: "e2-highcpu-32" } }],
        ["buildDiskSizeGb", { config: { buildDiskSizeGb: 500 } }],
        ["buildTimeoutMinutes", { config: { buildTimeoutMinutes: 180 } }],
    ] as [string, RunOptions][]) {
        it(`does not rebuild when only ${what} changes`, async () => {
            const changed = buildOf(await runProgram(opts));
            assert.notDeepEqual(changed.inputs.environment, buildOf(r).inputs.environment, "the setting reaches the next build");
            assert.deepEqual(changed.inputs.triggers, buildOf(r).inputs.triggers);
            assert.deepEqual(commandAction(buildOf(r).inputs, changed.inputs, changed.replaceOnChanges), { kind: "update", runs: BUILD_SETTINGS_ONLY_COMMAND });
            assert.doesNotMatch(BUILD_SETTINGS_ONLY_COMMAND, /gcloud|BUILD_SCRIPT|node/);
        });
    }
});

describe("where the build runs", () => {
    it("in the nearest region every project may use for Cloud Build, with the cache and staging there, pushing to the service region", async () => {
        const r = await runProgram({ config: { "gcp:region": "us-east4" } });
        assert.equal(r.error, undefined, String(r.error));
        const env = buildOf(r).inputs.environment as Record<string, string>;
        assert.equal(env.REGION, "us-central1", "Cloud Build region (restricted projects may build only in a few regions)");
        assert.equal(env.BASE_IMAGE, `us-central1-docker.pkg.dev/my-proj/vllm-cloudrun-dev-dockerhub/vllm/vllm-openai@${FAKE_BASE_DIGEST}`);
        assert.match(env.IMAGE, /^us-east4-docker\.pkg\.dev\/my-proj\/vllm-cloudrun-dev\/vllm:[0-9a-f]{16}$/);
        assert.equal(one(r, "gcp:storage/bucket:Bucket", "vllm-cloudrun-dev-staging").inputs.location, "us-central1");
        assert.equal(one(r, "gcp:artifactregistry/repository:Repository", "vllm-cloudrun-dev-dockerhub").inputs.location, "us-central1");
        assert.equal(one(r, "gcp:artifactregistry/repository:Repository", "vllm-cloudrun-dev").inputs.location, "us-east4");
        assert.equal(one(r, "gcp:cloudrunv2/service:Service").inputs.location, "us-east4");
    });

    it("where buildRegion says, when set", async () => {
        const r = await runProgram({ config: { "gcp:region": "europe-west4", buildRegion: "europe-west4" } });
        assert.equal(r.error, undefined, String(r.error));
        assert.equal((buildOf(r).inputs.environment as Record<string, string>).REGION, "europe-west4");
    });
});

describe("BaseImage", () => {
    it("looks the tag up with a Docker provider that never needs a Docker daemon", async () => {
        const r = await runProgram();
        const provider = one(r, "pulumi:providers:docker", "vllm-cloudrun-dev-base-registry");
        assert.deepEqual([provider.inputs.host, provider.inputs.disableDockerDaemonCheck], ["ssh://registry-lookups-only@127.0.0.1", "true"]);
        const lookups = r.invokes.filter((i) => i.token === "docker:index/getRegistryImage:getRegistryImage");
        assert.deepEqual(lookups.map((l) => l.inputs), [{ name: "vllm/vllm-openai:v0.10.2" }]);
    });

    it("uses a configured digest as is, without a lookup or a Docker provider", async () => {
        const digest = `sha256:${"e".repeat(64)}`;
        const r = await runProgram({ config: { vllmImage: `vllm/vllm-openai:v0.10.2@${digest}` } });
        assert.equal(r.invokes.filter((i) => i.token === "docker:index/getRegistryImage:getRegistryImage").length, 0);
        assert.equal(r.resources.filter((x) => x.type === "pulumi:providers:docker").length, 0);
        assert.equal(r.outputs.baseImage, `us-central1-docker.pkg.dev/my-proj/vllm-cloudrun-dev-dockerhub/vllm/vllm-openai@${digest}`);
    });
});

describe("ImageBuild with weights: gcs", () => {
    let r: RunResult;
    before(async () => {
        r = await runProgram({ config: { weights: "gcs" } });
    });

    it("creates a private, stack-owned weights bucket that destroy empties", () => {
        const bucket = one(r, "gcp:storage/bucket:Bucket", "vllm-cloudrun-dev-weights");
        assert.equal(bucket.inputs.name, "vllm-cloudrun-dev-weights-my-proj");
        assert.equal(bucket.inputs.location, "us-central1");
        assert.equal(bucket.inputs.forceDestroy, true);
        assert.equal(bucket.inputs.uniformBucketLevelAccess, true);
        assert.equal(bucket.inputs.publicAccessPrevention, "enforced");
    });

    it("lets the build add objects and the runtime account only read them", () => {
        const grants = r.resources.filter((x) => x.type === "gcp:storage/bucketIAMMember:BucketIAMMember" && x.inputs.bucket === "vllm-cloudrun-dev-weights-my-proj");
        assert.deepEqual(grants.map((g) => [g.inputs.role, g.inputs.member]).sort(), [
            ["roles/storage.objectCreator", "serviceAccount:vllm-cloudrun-dev-build@my-proj.iam.gserviceaccount.com"],
            ["roles/storage.objectViewer", "serviceAccount:vllm-cloudrun-dev-build@my-proj.iam.gserviceaccount.com"],
            ["roles/storage.objectViewer", "serviceAccount:vllm-cloudrun-dev-run@my-proj.iam.gserviceaccount.com"],
        ]);
        const wait = one(r, BUILD, "vllm-cloudrun-dev-iam-propagation");
        for (const g of grants) assert.ok(wait.dependsOn.includes(`${g.type}::${g.name}`), `the build waits for ${g.name}`);
    });

    it("builds with the gcs config and passes the bucket", () => {
        const env = buildOf(r).inputs.environment as Record<string, string>;
        assert.equal(env.BUILD_CONFIG, "cloudbuild-gcs.yaml");
        assert.equal(env.WEIGHTS_BUCKET, "vllm-cloudrun-dev-weights-my-proj");
        assert.deepEqual(buildOf(r).inputs.triggers, [imageContentHash(DOCKER_DIR, { ...inputs, weights: "gcs" }), FAKE_BASE_DIGEST]);
        assert.notEqual(imageContentHash(DOCKER_DIR, { ...inputs, weights: "gcs" }), imageContentHash(DOCKER_DIR, inputs));
    });

    it("has no weights bucket in image mode", async () => {
        const image = await runProgram();
        assert.equal(image.resources.filter((x) => x.name === "vllm-cloudrun-dev-weights").length, 0);
        assert.equal((buildOf(image).inputs.environment as Record<string, string>).WEIGHTS_BUCKET, undefined);
    });
});

describe("imageContentHash", () => {
    it("changes with any file in the Docker context, and only then", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ctx-"));
        try {
            for (const f of fs.readdirSync(DOCKER_DIR)) fs.copyFileSync(path.join(DOCKER_DIR, f), path.join(dir, f));
            assert.equal(imageContentHash(dir, inputs), imageContentHash(DOCKER_DIR, inputs), "same content, same hash");
            fs.appendFileSync(path.join(dir, "Dockerfile"), "\n# changed\n");
            assert.notEqual(imageContentHash(dir, inputs), imageContentHash(DOCKER_DIR, inputs));
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("is a sha256 hex digest", () => {
        assert.match(imageContentHash(DOCKER_DIR, inputs), /^[0-9a-f]{64}$/);
    });
});

// ---------------------------------------------------------------------------------------------
// LoRA adapters: an ImageBuild on its own (test/.tmp/lora-image-build.ts), until the stack config
// passes loraAdapters on.

const ADAPTERS = [
    { name: "a", repo: "org/adapter-a", revision: "1".repeat(40) },
    { name: "b", repo: "org/adapter-b", revision: "2".repeat(40) },
];
const LORA_PROGRAM = path.join("test", ".tmp", "lora-image-build.ts");

/** Runs an ImageBuild with these adapters (undefined: the input left out); node caches the program, so they come through the environment. */
async function runLoraBuild(adapters: unknown): Promise<RunResult> {
    const file = path.join(__dirname, "..", LORA_PROGRAM);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `import { ImageBuild } from "../../components/image-build";
export = async () => {
    new ImageBuild("lora", {
        baseImage: "vllm/vllm-openai:v0.10.2", model: "google/gemma-3-1b-it", modelRevision: "${"d".repeat(40)}",
        baseImagePull: "vllm/vllm-openai@${FAKE_BASE_DIGEST}", baseImageDigest: "${FAKE_BASE_DIGEST}",
        project: "my-proj", region: "us-central1", repositoryId: "r", repositoryUrl: "us-central1-docker.pkg.dev/my-proj/r",
        stagingBucketName: "s", buildServiceAccountEmail: "b@my-proj.iam.gserviceaccount.com",
        tokenSecretVersion: "projects/1/secrets/t/versions/1", grants: [],
        ...(process.env.LORA_TEST_ADAPTERS === undefined ? {} : { loraAdapters: JSON.parse(process.env.LORA_TEST_ADAPTERS) }),
    });
    return {};
};
`);
    if (adapters === undefined) delete process.env.LORA_TEST_ADAPTERS;
    else process.env.LORA_TEST_ADAPTERS = JSON.stringify(adapters);
    try {
        return await runProgram({ program: LORA_PROGRAM });
    } finally {
        delete process.env.LORA_TEST_ADAPTERS;
    }
}
const loraInputs = { baseImage: "vllm/vllm-openai:v0.10.2", model: "google/gemma-3-1b-it", modelRevision: "d".repeat(40) };
const loraBuildOf = (r: RunResult) => one(r, BUILD, "lora-build");

describe("ImageBuild with LoRA adapters", () => {
    it("keeps today's content hash and environment without adapters (none or an empty list)", async () => {
        assert.equal(imageContentHash(DOCKER_DIR, { ...inputs, loraAdapters: [] }), imageContentHash(DOCKER_DIR, inputs));
        const none = loraBuildOf(await runLoraBuild(undefined));
        const empty = loraBuildOf(await runLoraBuild([]));
        assert.deepEqual(empty.inputs, none.inputs);
        assert.equal((none.inputs.environment as Record<string, string>).LORA_ADAPTERS, undefined);
        assert.deepEqual(none.inputs.triggers, [imageContentHash(DOCKER_DIR, loraInputs), FAKE_BASE_DIGEST]);
    });

    it("passes them as JSON in the environment, never in a command line, and hashes them", async () => {
        const build = loraBuildOf(await runLoraBuild(ADAPTERS));
        const env = build.inputs.environment as Record<string, string>;
        assert.equal(env.LORA_ADAPTERS, JSON.stringify(ADAPTERS));
        assert.equal(build.inputs.create, BUILD_COMMAND);
        for (const cmd of [String(build.inputs.create), String(build.inputs.update)]) assert.doesNotMatch(cmd, /adapter|1111|2222|LORA/);
        const hash = imageContentHash(DOCKER_DIR, { ...loraInputs, loraAdapters: ADAPTERS });
        assert.notEqual(hash, imageContentHash(DOCKER_DIR, loraInputs));
        assert.deepEqual(build.inputs.triggers, [hash, FAKE_BASE_DIGEST]);
        assert.match(env.IMAGE, new RegExp(`:${imageTag(hash, FAKE_BASE_DIGEST)}$`));
    });

    it("rebuilds when an adapter is added, removed, renamed or moved to another revision or order", async () => {
        const base = loraBuildOf(await runLoraBuild(ADAPTERS));
        for (const changed of [
            [...ADAPTERS, { name: "c", repo: "org/adapter-c", revision: "3".repeat(40) }],
            [ADAPTERS[0]],
            [ADAPTERS[0], { ...ADAPTERS[1], name: "b2" }],
            [ADAPTERS[0], { ...ADAPTERS[1], revision: "4".repeat(40) }],
            [ADAPTERS[1], ADAPTERS[0]],
        ]) {
            const next = loraBuildOf(await runLoraBuild(changed));
            assert.deepEqual(commandAction(base.inputs, next.inputs, next.replaceOnChanges), { kind: "replace", runs: BUILD_COMMAND }, JSON.stringify(changed));
        }
    });

    it("refuses bad adapters at preview, naming each problem", async () => {
        const r = await runLoraBuild([
            { name: "../x", repo: "org/a", revision: "1".repeat(40) },
            { name: "a", repo: "not a repo", revision: "main" },
            { name: "a", repo: "org/a", revision: "1".repeat(40) },
            { name: "a", repo: "org/a", revision: "1".repeat(40) },
        ]);
        assert.ok(r.error, "the program fails");
        const message = String(r.error);
        for (const part of [/adapter 0: name "\.\.\/x"/, /adapter 1: repo "not a repo"/, /adapter 1: revision "main"/, /adapter 3: name "a" is used twice/]) assert.match(message, part);
        assert.equal(r.resources.filter((x) => x.name === "lora-build").length, 0, "no build");
    });

    it("loraServeArgs: one --lora-modules with every name=/opt/lora/<name>, nothing without adapters", () => {
        assert.equal(LORA_DIR, "/opt/lora");
        assert.deepEqual(loraServeArgs(ADAPTERS), ["--enable-lora", "--lora-modules", "a=/opt/lora/a", "b=/opt/lora/b"]);
        assert.deepEqual(loraServeArgs([]), []);
        assert.deepEqual(loraServeArgs(undefined), []);
    });
});

// ---------------------------------------------------------------------------------------------
// Several regions: an ImageBuild on its own (test/.tmp/regions-image-build.ts) with regionCopies,
// so these tests do not depend on how the stack config fills them in.

const REGIONS_PROGRAM = path.join("test", ".tmp", "regions-image-build.ts");
const RUN_MEMBER = "serviceAccount:run@my-proj.iam.gserviceaccount.com";
const BUILD_MEMBER = "serviceAccount:b@my-proj.iam.gserviceaccount.com";
/** Out of order on purpose: the build sorts them by region. */
const COPIES = [
    { region: "europe-west4", repositoryId: "r", repositoryUrl: "europe-west4-docker.pkg.dev/my-proj/r", weightsBucketName: "w-europe-west4" },
    { region: "asia-southeast1", repositoryId: "r", repositoryUrl: "asia-southeast1-docker.pkg.dev/my-proj/r", weightsBucketName: "w-asia-southeast1" },
];

/** Runs an ImageBuild "rb" in us-central1 with these copies (undefined: the input left out). */
async function runRegionsBuild(opts: { copies?: unknown; gcs?: boolean }): Promise<RunResult> {
    const file = path.join(__dirname, "..", REGIONS_PROGRAM);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `import * as pulumi from "@pulumi/pulumi";
import { ImageBuild } from "../../components/image-build";
export = async () => {
    const o = JSON.parse(process.env.REGIONS_TEST_OPTS ?? "{}");
    const build = new ImageBuild("rb", {
        baseImage: "vllm/vllm-openai:v0.10.2", model: "google/gemma-3-1b-it", modelRevision: "${"d".repeat(40)}",
        baseImagePull: "vllm/vllm-openai@${FAKE_BASE_DIGEST}", baseImageDigest: "${FAKE_BASE_DIGEST}",
        project: "my-proj", region: "us-central1", repositoryId: "r", repositoryUrl: "us-central1-docker.pkg.dev/my-proj/r",
        stagingBucketName: "s", buildServiceAccountEmail: "b@my-proj.iam.gserviceaccount.com",
        tokenSecretVersion: "projects/1/secrets/t/versions/1", grants: [],
        ...(o.gcs ? { weightsBucket: { name: "w-home", readers: ["${RUN_MEMBER}"] } } : {}),
        ...(o.copies === undefined ? {} : { regionCopies: o.copies }),
    });
    return { refs: pulumi.all(build.imageDigestRefs), weightsBuckets: Object.keys(build.weightsBuckets ?? {}), home: build.imageDigestRef };
};
`);
    process.env.REGIONS_TEST_OPTS = JSON.stringify(opts);
    try {
        return await runProgram({ program: REGIONS_PROGRAM });
    } finally {
        delete process.env.REGIONS_TEST_OPTS;
    }
}
const regionsInputs = loraInputs;
const regionsBuildOf = (r: RunResult) => one(r, BUILD, "rb-build");
const regionsEnv = (r: RunResult) => regionsBuildOf(r).inputs.environment as Record<string, string>;
const regionsTag = (gcs: boolean) => imageTag(imageContentHash(DOCKER_DIR, { ...regionsInputs, weights: gcs ? "gcs" : "image" }), FAKE_BASE_DIGEST);
const DIGEST_LOOKUP = "gcp:artifactregistry/getDockerImage:getDockerImage";

/** Today's environment keys (single region), exactly. */
const SINGLE_REGION_KEYS = [
    "BASE_IMAGE", "BUILD_CONFIG", "BUILD_SCRIPT", "BUILD_SERVICE_ACCOUNT", "CLOUDSDK_CORE_DISABLE_PROMPTS", "DISK_SIZE_GB", "HF_TOKEN_VERSION", "IMAGE",
    "MACHINE_TYPE", "MODEL", "MODEL_REVISION", "PROJECT", "REGION", "SOURCE_DIR", "STAGING_BUCKET", "TIMEOUT_SECONDS", "TS_NODE_TRANSPILE_ONLY",
];

describe("ImageBuild in a single region (no regionCopies)", () => {
    for (const gcs of [false, true]) {
        it(`${gcs ? "weights: gcs" : "weights: image"}: exactly today's environment keys, triggers, buckets and lookups, with regionCopies left out or empty`, async () => {
            const none = await runRegionsBuild({ gcs });
            const empty = await runRegionsBuild({ gcs, copies: [] });
            assert.equal(none.error, undefined, String(none.error));
            assert.deepEqual(regionsBuildOf(empty).inputs, regionsBuildOf(none).inputs);
            assert.deepEqual(Object.keys(regionsEnv(none)).sort(), [...SINGLE_REGION_KEYS, ...(gcs ? ["WEIGHTS_BUCKET"] : [])].sort());
            assert.deepEqual(regionsBuildOf(none).inputs.triggers, [imageContentHash(DOCKER_DIR, { ...regionsInputs, weights: gcs ? "gcs" : "image" }), FAKE_BASE_DIGEST]);
            for (const r of [none, empty]) {
                assert.deepEqual(r.resources.filter((x) => x.type === "gcp:storage/bucket:Bucket").map((b) => b.name).sort(), gcs ? ["rb-staging", "rb-weights"] : ["rb-staging"]);
                assert.equal(r.resources.filter((x) => x.type === "gcp:storage/bucketIAMMember:BucketIAMMember").length, gcs ? 4 : 1);
                assert.deepEqual(r.invokes.filter((i) => i.token === DIGEST_LOOKUP).map((i) => i.inputs.location), ["us-central1"]);
                const home = `us-central1-docker.pkg.dev/my-proj/r/vllm@${FAKE_DIGEST}`;
                assert.equal(r.outputs.home, home);
                assert.deepEqual(r.outputs.refs, { "us-central1": home });
                assert.deepEqual(r.outputs.weightsBuckets, gcs ? ["us-central1"] : []);
            }
        });
    }
});

describe("ImageBuild with two region copies", () => {
    let image: RunResult;
    let gcs: RunResult;
    let single: RunResult;
    before(async () => {
        image = await runRegionsBuild({ copies: COPIES });
        gcs = await runRegionsBuild({ copies: COPIES, gcs: true });
        single = await runRegionsBuild({});
    });

    it("adds only EXTRA_IMAGES to the environment: the same name and tag in each copy region's repository, sorted by region", () => {
        assert.equal(image.error, undefined, String(image.error));
        const tag = regionsTag(false);
        assert.deepEqual(regionsEnv(image), {
            ...regionsEnv(single),
            EXTRA_IMAGES: `asia-southeast1-docker.pkg.dev/my-proj/r/vllm:${tag},europe-west4-docker.pkg.dev/my-proj/r/vllm:${tag}`,
        });
        assert.equal(regionsEnv(image).IMAGE, `us-central1-docker.pkg.dev/my-proj/r/vllm:${tag}`, "home's image and tag are unchanged");
        assert.equal(regionsEnv(image).EXTRA_WEIGHTS_BUCKETS, undefined, "no buckets with weights baked in");
    });

    it("adds the copy regions, sorted, to the triggers: adding a region rebuilds (the image must be pushed there)", () => {
        const hash = imageContentHash(DOCKER_DIR, regionsInputs);
        assert.deepEqual(regionsBuildOf(image).inputs.triggers, [hash, FAKE_BASE_DIGEST, "asia-southeast1", "europe-west4"]);
        assert.deepEqual(commandAction(regionsBuildOf(single).inputs, regionsBuildOf(image).inputs, regionsBuildOf(image).replaceOnChanges), { kind: "replace", runs: BUILD_COMMAND });
    });

    it("reads each region's pushed tag back from that region's repository, and gives every region the same digest", () => {
        const tag = regionsTag(false);
        const lookups = image.invokes.filter((i) => i.token === DIGEST_LOOKUP).map((i) => i.inputs);
        assert.deepEqual(lookups, ["us-central1", "asia-southeast1", "europe-west4"].map((location) => ({ project: "my-proj", location, repositoryId: "r", imageName: `vllm:${tag}` })));
        assert.deepEqual(image.outputs.refs, {
            "us-central1": `us-central1-docker.pkg.dev/my-proj/r/vllm@${FAKE_DIGEST}`,
            "asia-southeast1": `asia-southeast1-docker.pkg.dev/my-proj/r/vllm@${FAKE_DIGEST}`,
            "europe-west4": `europe-west4-docker.pkg.dev/my-proj/r/vllm@${FAKE_DIGEST}`,
        });
        assert.equal((image.outputs.refs as Record<string, string>)["us-central1"], image.outputs.home, "home's entry is imageDigestRef");
        assert.deepEqual(image.outputs.weightsBuckets, []);
        assert.equal(image.resources.filter((x) => x.type === "gcp:storage/bucket:Bucket").length, 1, "only staging");
    });

    it("weights: gcs: one private, stack-owned bucket per copy region, in that region, like home's", () => {
        assert.equal(gcs.error, undefined, String(gcs.error));
        const buckets = gcs.resources.filter((x) => x.type === "gcp:storage/bucket:Bucket" && x.name.startsWith("rb-weights"));
        assert.deepEqual(buckets.map((b) => [b.name, b.inputs.name, b.inputs.location]).sort(), [
            ["rb-weights", "w-home", "us-central1"],
            ["rb-weights-asia-southeast1", "w-asia-southeast1", "asia-southeast1"],
            ["rb-weights-europe-west4", "w-europe-west4", "europe-west4"],
        ]);
        const home = buckets.find((b) => b.name === "rb-weights")?.inputs ?? {};
        for (const b of buckets) {
            assert.deepEqual({ ...b.inputs, name: undefined, location: undefined }, { ...home, name: undefined, location: undefined }, b.name);
            assert.deepEqual([b.inputs.forceDestroy, b.inputs.uniformBucketLevelAccess, b.inputs.publicAccessPrevention], [true, true, "enforced"]);
            assert.equal(b.parent, "vllm-cloudrun:image:ImageBuild::rb");
        }
        assert.deepEqual(gcs.outputs.weightsBuckets, ["us-central1", "asia-southeast1", "europe-west4"]);
    });

    it("weights: gcs: the same grants on every region's bucket, and the build waits for all of them", () => {
        const grants = gcs.resources.filter((x) => x.type === "gcp:storage/bucketIAMMember:BucketIAMMember" && String(x.inputs.bucket).startsWith("w-"));
        const expected = (bucket: string, suffix: string) => [
            [`rb-weights-build-creator${suffix}`, bucket, "roles/storage.objectCreator", BUILD_MEMBER],
            [`rb-weights-build-viewer${suffix}`, bucket, "roles/storage.objectViewer", BUILD_MEMBER],
            [`rb-weights-reader-0${suffix}`, bucket, "roles/storage.objectViewer", RUN_MEMBER],
        ];
        assert.deepEqual(grants.map((g) => [g.name, g.inputs.bucket, g.inputs.role, g.inputs.member]).sort(), [
            ...expected("w-home", ""),
            ...expected("w-asia-southeast1", "-asia-southeast1"),
            ...expected("w-europe-west4", "-europe-west4"),
        ].sort());
        const wait = one(gcs, BUILD, "rb-iam-propagation");
        for (const g of grants) assert.ok(wait.dependsOn.includes(`${g.type}::${g.name}`), `the build waits for ${g.name}`);
    });

    it("weights: gcs: passes EXTRA_IMAGES and EXTRA_WEIGHTS_BUCKETS (sorted by region) and nothing else new", () => {
        const tag = regionsTag(true);
        const env = regionsEnv(gcs);
        assert.deepEqual(Object.keys(env).sort(), [...SINGLE_REGION_KEYS, "WEIGHTS_BUCKET", "EXTRA_IMAGES", "EXTRA_WEIGHTS_BUCKETS"].sort());
        assert.equal(env.BUILD_CONFIG, "cloudbuild-gcs.yaml");
        assert.equal(env.WEIGHTS_BUCKET, "w-home");
        assert.equal(env.EXTRA_WEIGHTS_BUCKETS, "w-asia-southeast1,w-europe-west4");
        assert.equal(env.EXTRA_IMAGES, `asia-southeast1-docker.pkg.dev/my-proj/r/vllm:${tag},europe-west4-docker.pkg.dev/my-proj/r/vllm:${tag}`);
    });

    it("refuses bad copies at preview, naming each problem, before any build", async () => {
        const r = await runRegionsBuild({
            gcs: true,
            copies: [
                { region: "us-central1", repositoryId: "r", repositoryUrl: "u", weightsBucketName: "a" },
                { region: "Europe West", repositoryId: "r", repositoryUrl: "u", weightsBucketName: "b" },
                { region: "europe-west4", repositoryId: "r", repositoryUrl: "u", weightsBucketName: "c" },
                { region: "europe-west4", repositoryId: "r", repositoryUrl: "u" },
            ],
        });
        assert.ok(r.error, "the program fails");
        const message = String(r.error);
        assert.match(message, /rb: regionCopies: /);
        for (const part of [/"us-central1" is the home region/, /"Europe West" is not a region name/, /"europe-west4" is listed twice/, /"europe-west4" needs weightsBucketName \(weights: gcs\)/]) assert.match(message, part);
        assert.equal(r.resources.filter((x) => x.name === "rb-build").length, 0, "no build");
    });
});

describe("regionDigestRef and digestOf", () => {
    const digest = `sha256:${"ab".repeat(32)}`;
    const other = `sha256:${"cd".repeat(32)}`;

    it("gives the copy's repository with home's digest when the region's pushed tag has it", () => {
        assert.equal(digestOf(`us-central1-docker.pkg.dev/p/r/vllm@${digest}`), digest);
        assert.equal(regionDigestRef("europe-west4", "europe-west4-docker.pkg.dev/p/r", "vllm", digest, `europe-west4-docker.pkg.dev/p/r/vllm@${digest}`), `europe-west4-docker.pkg.dev/p/r/vllm@${digest}`);
    });

    it("fails, naming the region and both digests, when the pushed digest differs", () => {
        assert.throws(
            () => regionDigestRef("europe-west4", "europe-west4-docker.pkg.dev/p/r", "vllm", digest, `europe-west4-docker.pkg.dev/p/r/vllm@${other}`),
            (e: unknown) => e instanceof Error && e.message.startsWith(`the image pushed to europe-west4 (europe-west4-docker.pkg.dev/p/r/vllm@${other}) is not the home region's (${digest})`) && e.message.includes("--replace"),
        );
    });

    it("refuses what is not a reference by digest", () => {
        for (const bad of ["us-central1-docker.pkg.dev/p/r/vllm:tag", "x@sha256:abc", `x@sha512:${"a".repeat(64)}`, ""]) assert.throws(() => digestOf(bad), /not an image reference by digest/, bad);
    });
});

describe("sortedRegionCopies", () => {
    it("sorts by region and accepts none", () => {
        assert.deepEqual(sortedRegionCopies("x", "us-central1", COPIES, true).map((c) => c.region), ["asia-southeast1", "europe-west4"]);
        assert.deepEqual(sortedRegionCopies("x", "us-central1", undefined, false), []);
        assert.deepEqual(sortedRegionCopies("x", "us-central1", [], true), []);
        // Without weights: gcs the bucket name is not needed.
        assert.equal(sortedRegionCopies("x", "us-central1", [{ region: "us-east4", repositoryId: "r", repositoryUrl: "u" }], false).length, 1);
    });

    it("needs a plain home region to key the outputs by", () => {
        assert.throws(() => sortedRegionCopies("x", Promise.resolve("us-central1"), COPIES, false), /x: regionCopies: region must be a plain string/);
    });
});
