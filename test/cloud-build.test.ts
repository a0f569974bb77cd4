// deploy/cloud-build.ts, the CLI the ImageBuild Command runs: its pure parts, then the CLI itself
// against test/fixtures/fake-gcloud/gcloud (first on PATH) in every scenario, then the argv it
// builds through the real Google Cloud CLI, which must accept every flag (it stops only at "no
// active account" with an empty config), and which the fake must reject exactly as it does.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import {
    Build,
    bucketNameProblem,
    buildLogFilter,
    cancelArgs,
    commandLine,
    COPY_WEIGHTS_BUILDER,
    copyWeightsStepId,
    currentStep,
    describeArgs,
    failedStep,
    formatDuration,
    fullLogArgs,
    gcloudHint,
    logReadArgs,
    missingEnv,
    parseBuild,
    parseLogEntries,
    parseRegistryImage,
    progressLine,
    redact,
    renderBuildConfig,
    renderedBuildSource,
    REQUIRED_ENV,
    settings,
    stepLabel,
    submitArgs,
    successReport,
    UsageError,
} from "../deploy/cloud-build";
import { renderDockerfile } from "../deploy/lora-adapters";
import { ROOT } from "./harness";
import { gcloudUnavailable, runRealGcloud } from "./gcloud";
import { skipUnlessAvailable } from "./docker";

const FAKE_DIR = path.join(__dirname, "fixtures", "fake-gcloud");
const PLANTED_TOKEN = "hf_FAKEtokenFAKEtoken1234";
const NO_ACCOUNT = "You do not currently have an active account selected";

/** What the ImageBuild Command sets, for weights: gcs (three steps). */
const ENV: Record<string, string> = {
    SOURCE_DIR: "docker",
    PROJECT: "my-proj",
    REGION: "us-central1",
    BUILD_CONFIG: "cloudbuild-gcs.yaml",
    BASE_IMAGE: "vllm/vllm-openai:v0.10.2",
    MODEL: "google/gemma-3-1b-it",
    MODEL_REVISION: "dcc83ea841ab6100d6b47a070329e1ba4cf78752",
    IMAGE: "us-central1-docker.pkg.dev/my-proj/vllm-cloudrun-dev/vllm:0123456789abcdef",
    HF_TOKEN_VERSION: "projects/123456789/secrets/vllm-cloudrun-dev-hf-token/versions/1",
    WEIGHTS_BUCKET: "my-proj-vllm-cloudrun-dev-weights",
    BUILD_SERVICE_ACCOUNT: "vllm-dev-build@my-proj.iam.gserviceaccount.com",
    STAGING_BUCKET: "my-proj-vllm-cloudrun-dev-staging",
    MACHINE_TYPE: "e2-highcpu-8",
    DISK_SIZE_GB: "200",
    TIMEOUT_SECONDS: "5400",
    CLOUDSDK_CORE_DISABLE_PROMPTS: "1",
};
const IMAGE_ENV: Record<string, string> = { ...ENV, BUILD_CONFIG: "cloudbuild.yaml" };
delete IMAGE_ENV.WEIGHTS_BUCKET;
const ADAPTERS = [
    { name: "a", repo: "org/adapter-a", revision: "1".repeat(40) },
    { name: "b", repo: "org/adapter-b", revision: "2".repeat(40) },
];
/** What the ImageBuild Command adds with two LoRA adapters. */
const LORA_ENV: Record<string, string> = { ...IMAGE_ENV, LORA_ADAPTERS: JSON.stringify(ADAPTERS) };

/** What the ImageBuild Command adds with two copy regions (weights: gcs). */
const EU_IMAGE = "europe-west4-docker.pkg.dev/my-proj/vllm-cloudrun-dev/vllm:0123456789abcdef";
const ASIA_IMAGE = "asia-southeast1-docker.pkg.dev/my-proj/vllm-cloudrun-dev/vllm:0123456789abcdef";
const REGIONS_ENV: Record<string, string> = {
    ...ENV,
    EXTRA_IMAGES: `${ASIA_IMAGE},${EU_IMAGE}`,
    EXTRA_WEIGHTS_BUCKETS: "my-proj-vllm-cloudrun-dev-weights-asia,my-proj-vllm-cloudrun-dev-weights-eu",
};

/** Step ids of a build config, read from docker/ so the tests follow edits to it. */
function stepIds(config: string): string[] {
    return (YAML.parse(fs.readFileSync(path.join(ROOT, "docker", config), "utf8")) as { steps: { id: string }[] }).steps.map((s) => s.id);
}


describe("the rendered Dockerfile for adapters (fixed text, not the renderer compared with itself)", () => {
    it("adds one stage per adapter and one COPY each onto the final stage", () => {
        const rendered = renderDockerfile("FROM x AS final\n", [
            { name: "sql", repo: "org/sql-lora", revision: "a".repeat(40) },
            { name: "chat", repo: "org/chat-lora", revision: "b".repeat(40) },
        ]);
        const run = (repo: string, rev: string, name: string) =>
            `    ["python3","/run/vllm-cloudrun/download_weights.py","--token-file","/run/secrets/hf_token","--repo","${repo}","--revision","${rev}","--local-dir","/opt/lora/${name}"]`;
        assert.equal(rendered, [
            "FROM x AS final",
            "",
            "# ---- Rendered by deploy/lora-adapters.ts: one stage per LoRA adapter, downloading only it",
            "# (same token handling as the weights: a BuildKit secret mounted for that RUN only).",
            "FROM base AS lora-0",
            "RUN --mount=type=secret,id=hf_token \\",
            "    --mount=type=bind,source=download_weights.py,target=/run/vllm-cloudrun/download_weights.py \\",
            run("org/sql-lora", "a".repeat(40), "sql"),
            "FROM base AS lora-1",
            "RUN --mount=type=secret,id=hf_token \\",
            "    --mount=type=bind,source=download_weights.py,target=/run/vllm-cloudrun/download_weights.py \\",
            run("org/chat-lora", "b".repeat(40), "chat"),
            "",
            "FROM final",
            "COPY --from=lora-0 /opt/lora/sql /opt/lora/sql",
            "COPY --from=lora-1 /opt/lora/chat /opt/lora/chat",
            "",
        ].join("\n"));
        assert.throws(() => renderDockerfile("FROM x AS final\n", [{ name: "a b", repo: "org/x", revision: "a".repeat(40) }]), /LoRA adapters: adapter 0: name "a b"/);
    });
});

describe("cloud-build: argv, parsing and formatting", () => {
    it("submits exactly the former BUILD_COMMAND, plus --async --format=json", () => {
        assert.deepEqual(submitArgs(ENV), [
            "builds",
            "submit",
            "docker",
            "--project=my-proj",
            "--region=us-central1",
            "--config=docker/cloudbuild-gcs.yaml",
            "--substitutions=_BASE_IMAGE=vllm/vllm-openai:v0.10.2,_MODEL=google/gemma-3-1b-it,_MODEL_REVISION=dcc83ea841ab6100d6b47a070329e1ba4cf78752," +
                "_IMAGE=us-central1-docker.pkg.dev/my-proj/vllm-cloudrun-dev/vllm:0123456789abcdef,_HF_TOKEN_VERSION=projects/123456789/secrets/vllm-cloudrun-dev-hf-token/versions/1," +
                "_WEIGHTS_BUCKET=my-proj-vllm-cloudrun-dev-weights",
            "--service-account=projects/my-proj/serviceAccounts/vllm-dev-build@my-proj.iam.gserviceaccount.com",
            "--gcs-source-staging-dir=gs://my-proj-vllm-cloudrun-dev-staging/source",
            "--machine-type=e2-highcpu-8",
            "--disk-size=200",
            "--timeout=5400s",
            "--async",
            "--format=json",
        ]);
        const image = submitArgs(IMAGE_ENV);
        assert.ok(image.includes("--config=docker/cloudbuild.yaml"));
        assert.ok(!image.some((a) => a.includes("_WEIGHTS_BUCKET")), "no _WEIGHTS_BUCKET without WEIGHTS_BUCKET");
        assert.ok(!submitArgs({ ...IMAGE_ENV, WEIGHTS_BUCKET: "" }).some((a) => a.includes("_WEIGHTS_BUCKET")), "an empty WEIGHTS_BUCKET is unset, as ${WEIGHTS_BUCKET:+…} was");
    });

    it("names every missing or empty variable in one error", () => {
        const env = { ...ENV, PROJECT: "", IMAGE: undefined, MODEL: "  " };
        assert.deepEqual(missingEnv(env), ["PROJECT", "MODEL", "IMAGE"]);
        assert.throws(() => submitArgs(env), (e: unknown) => e instanceof UsageError && /PROJECT, MODEL, IMAGE$/.test(e.message));
        assert.deepEqual(missingEnv({}), [...REQUIRED_ENV]);
    });

    it("rejects malformed numbers and comma-carrying substitution values", () => {
        assert.throws(() => settings({ ...ENV, TIMEOUT_SECONDS: "90m" }), /TIMEOUT_SECONDS must be a positive whole number of seconds; got "90m"/);
        assert.throws(() => settings({ ...ENV, BUILD_POLL_SECONDS: "0" }), /BUILD_POLL_SECONDS/);
        assert.throws(() => settings({ ...ENV, MODEL: "a,b" }), /must not contain a comma.*_MODEL/);
        assert.equal(settings(ENV).pollSeconds, 20);
        assert.equal(settings({ ...ENV, BUILD_POLL_SECONDS: "0.5" }).pollSeconds, 0.5);
        assert.equal(settings({ ...ENV, BUILD_DEADLINE_MARGIN_SECONDS: "0" }).deadlineMarginSeconds, 0);
    });

    it("checks LORA_ADAPTERS before gcloud runs, naming every problem", () => {
        assert.deepEqual(settings(LORA_ENV).loraAdapters, ADAPTERS);
        assert.deepEqual(settings(IMAGE_ENV).loraAdapters, []);
        assert.deepEqual(settings({ ...IMAGE_ENV, LORA_ADAPTERS: "" }).loraAdapters, []);
        const bad = (value: string, expected: RegExp) =>
            assert.throws(() => settings({ ...IMAGE_ENV, LORA_ADAPTERS: value }), (e: unknown) => e instanceof UsageError && expected.test(e.message), value);
        const rev = "1".repeat(40);
        bad("not json", /^LORA_ADAPTERS: is not JSON$/);
        bad("{}", /must be a list of \{ name, repo, revision \}/);
        bad(JSON.stringify([{ name: "-a", repo: "org/a", revision: rev }]), /adapter 0: name "-a" must be 1-64 letters/);
        bad(JSON.stringify([{ name: "a".repeat(65), repo: "org/a", revision: rev }]), /adapter 0: name "a{65}"/);
        bad(JSON.stringify([{ name: "a/b", repo: "org/a", revision: rev }]), /adapter 0: name "a\/b"/);
        bad(JSON.stringify([{ name: "a", repo: "org/a", revision: rev }, { name: "a", repo: "org/b", revision: rev }]), /adapter 1: name "a" is used twice/);
        bad(JSON.stringify([{ name: "a", repo: "org--x/a", revision: rev }]), /adapter 0: repo "org--x\/a" must be a Hugging Face repo id/);
        bad(JSON.stringify([{ name: "a", repo: "a\"; rm -rf /", revision: rev }]), /adapter 0: repo/);
        bad(JSON.stringify([{ name: "a", repo: "org/a", revision: "1".repeat(40).toUpperCase() + "A" }]), /adapter 0: revision .* 40-character lower-case commit/);
        bad(JSON.stringify([{ name: "a", repo: "org/a", revision: "main" }]), /adapter 0: revision "main"/);
        bad(JSON.stringify([{ name: "a", repo: "org/a", revision: rev, path: "/x" }]), /adapter 0 has unknown key\(s\): path/);
        // Every problem at once, in one message.
        bad(JSON.stringify([{ name: "", repo: "", revision: "" }]), /name "".*; adapter 0: repo "".*; adapter 0: revision ""/);
    });

    it("with adapters, submits a rendered copy of the source instead of SOURCE_DIR, with the same config", () => {
        assert.deepEqual(submitArgs(LORA_ENV), submitArgs(IMAGE_ENV), "LORA_ADAPTERS adds no flag or substitution");
        const args = submitArgs(LORA_ENV, "/tmp/rendered");
        assert.deepEqual(args.slice(0, 3), ["builds", "submit", "/tmp/rendered"]);
        assert.ok(args.includes("--config=/tmp/rendered/cloudbuild.yaml"));
        assert.deepEqual(args.filter((a) => !a.includes("rendered")), submitArgs(IMAGE_ENV).filter((a) => a !== "docker" && !a.startsWith("--config=")));
    });

    it("redacts Hugging Face tokens, bearer credentials and OAuth access tokens", () => {
        assert.equal(redact(`token ${PLANTED_TOKEN}.`), "token hf_[REDACTED].");
        assert.equal(redact("Authorization: Bearer abc.DEF-123/+="), "Authorization: Bearer [REDACTED]");
        assert.equal(redact("bearer  eyJhbGciOi.x.y"), "Bearer [REDACTED]");
        assert.equal(redact("ya29.a0AfH6SMBx-y_z"), "ya29.[REDACTED]");
        // Not tokens: short hf_ names, the word Bearer alone at the end.
        assert.equal(redact("hf_transfer hf_short123"), "hf_transfer hf_short123");
    });

    it("builds the log filter gcloud itself uses, narrowed to the step's label", () => {
        const build = { id: "b-1", createTime: "2025-06-20T10:00:00.123456Z" };
        assert.equal(stepLabel(1, "download-weights"), 'Step #1 - "download-weights"');
        assert.equal(stepLabel(0, undefined), "Step #0");
        assert.equal(
            buildLogFilter(build, "my-proj", stepLabel(1, "download-weights")),
            'logName="projects/my-proj/logs/cloudbuild" AND resource.type="build" AND resource.labels.build_id="b-1" AND timestamp>="2025-06-20T10:00:00.123456Z" AND labels.build_step="Step #1 - \\"download-weights\\""',
        );
        assert.deepEqual(logReadArgs("F", "my-proj"), ["logging", "read", "F", "--project=my-proj", "--order=desc", "--limit=40", "--format=json"]);
        const s = { project: "my-proj", region: "us-central1" };
        assert.deepEqual(describeArgs("b-1", s), ["builds", "describe", "b-1", "--project=my-proj", "--region=us-central1", "--format=json"]);
        assert.deepEqual(cancelArgs("b-1", s), ["builds", "cancel", "b-1", "--project=my-proj", "--region=us-central1"]);
        assert.equal(commandLine(fullLogArgs("b-1", s)), "gcloud builds log b-1 --project=my-proj --region=us-central1");
        assert.equal(commandLine(["logging", "read", 'a="b c"']), `gcloud logging read 'a="b c"'`);
    });

    it("finds the running and the failed step, and prints one compact line", () => {
        const build: Build = {
            id: "b-1",
            status: "WORKING",
            steps: [{ id: "build", status: "SUCCESS" }, { id: "download-weights", status: "WORKING" }, { id: "upload-weights", status: "QUEUED" }],
        };
        assert.equal(currentStep(build)?.name, "download-weights");
        assert.equal(progressLine(build, 754_000), "Cloud Build b-1: WORKING | step 2/3 download-weights: WORKING | 12m34s elapsed");
        assert.equal(progressLine({ id: "b-1", status: "QUEUED", steps: [{ id: "build" }] }, 5_000), "Cloud Build b-1: QUEUED | waiting for a worker | 5s elapsed");
        const failed: Build = { ...build, status: "FAILURE", steps: [{ id: "build", status: "SUCCESS" }, { id: "download-weights", status: "FAILURE", exitCode: 1 }, { status: "QUEUED" }] };
        assert.deepEqual(failedStep(failed), { index: 1, name: "download-weights", label: 'Step #1 - "download-weights"', status: "FAILURE", exitCode: 1 });
        assert.equal(failedStep({ id: "b", status: "FAILURE", steps: [{ id: "build", status: "SUCCESS" }] }), undefined);
        assert.equal(formatDuration(3_723_000), "1h02m03s");
    });

    it("parses what gcloud prints, and refuses what it does not", () => {
        assert.equal(parseBuild('{\n  "id": "x",\n  "status": "QUEUED"\n}\n').status, "QUEUED");
        assert.throws(() => parseBuild("Created [x]."), /not print a Build resource/);
        assert.throws(() => parseBuild("[]"), /not a Build resource/);
        assert.deepEqual(parseLogEntries('[\n  {\n    "textPayload": "second"\n  },\n  {\n    "textPayload": "first"\n  }\n]\n'), ["first", "second"]);
        assert.deepEqual(parseLogEntries("[]\n"), []);
    });

    it("adds a one-line hint to gcloud's own errors", () => {
        const s = { project: "my-proj" };
        assert.match(gcloudHint(`ERROR: (gcloud.builds.submit) ${NO_ACCOUNT}.`, s) ?? "", /gcloud auth login/);
        assert.match(gcloudHint("ERROR: (gcloud.builds.submit) PERMISSION_DENIED: Cloud Build API has not been used in project 1 before or it is disabled.", s) ?? "", /gcloud services enable cloudbuild.googleapis.com --project=my-proj/);
        assert.match(gcloudHint("ERROR: (gcloud.builds.submit) PERMISSION_DENIED: The caller does not have permission.", s) ?? "", /roles\/cloudbuild.builds.editor/);
        assert.match(gcloudHint("ERROR: (gcloud.builds.submit) FAILED_PRECONDITION: due to quota restrictions, cannot run builds in this region. Please contact support", s) ?? "", /npx pulumi config rm buildRegion/);
        assert.equal(gcloudHint("ERROR: (gcloud.builds.submit) something else", s), undefined);
    });
});

describe("cloud-build: several regions (EXTRA_IMAGES, EXTRA_WEIGHTS_BUCKETS)", () => {
    const gcsText = fs.readFileSync(path.join(ROOT, "docker", "cloudbuild-gcs.yaml"), "utf8");
    const imageText = fs.readFileSync(path.join(ROOT, "docker", "cloudbuild.yaml"), "utf8");
    const BUCKETS = ["my-proj-vllm-cloudrun-dev-weights-asia", "my-proj-vllm-cloudrun-dev-weights-eu"];
    type Step = { id: string; name: string; entrypoint?: string; args: string[] };
    type Config = { steps: Step[]; images: string[] } & Record<string, unknown>;

    it("reads both lists, in order; unset or empty is none", () => {
        const s = settings(REGIONS_ENV);
        assert.deepEqual(s.extraImages, [ASIA_IMAGE, EU_IMAGE]);
        assert.deepEqual(s.extraWeightsBuckets, BUCKETS);
        for (const env of [ENV, { ...ENV, EXTRA_IMAGES: "", EXTRA_WEIGHTS_BUCKETS: "" }]) {
            assert.deepEqual([settings(env).extraImages, settings(env).extraWeightsBuckets], [[], []]);
        }
        // Extra images alone (weights baked in) are fine.
        assert.deepEqual(settings({ ...IMAGE_ENV, EXTRA_IMAGES: EU_IMAGE }).extraImages, [EU_IMAGE]);
    });

    it("adds no flag or substitution: the copies live in the rendered build config", () => {
        assert.deepEqual(submitArgs(REGIONS_ENV), submitArgs(ENV));
        assert.deepEqual(submitArgs(REGIONS_ENV, "/tmp/rendered"), submitArgs(ENV, "/tmp/rendered"));
    });

    it("refuses malformed, foreign or repeated images and buckets before gcloud runs, naming every problem", () => {
        const bad = (env: Record<string, string | undefined>, expected: string) =>
            assert.throws(() => settings({ ...ENV, ...env }), (e: unknown) => e instanceof UsageError && e.message === expected, JSON.stringify(env));
        const AR = "<region>-docker.pkg.dev/<project>/<repository>/<image>:<tag>";
        bad({ EXTRA_IMAGES: "europe-west4-docker.pkg.dev/my-proj/vllm-cloudrun-dev/vllm" }, `EXTRA_IMAGES: "europe-west4-docker.pkg.dev/my-proj/vllm-cloudrun-dev/vllm" is not an Artifact Registry image ${AR}`);
        bad({ EXTRA_IMAGES: "docker.io/library/vllm:0123456789abcdef" }, `EXTRA_IMAGES: "docker.io/library/vllm:0123456789abcdef" is not an Artifact Registry image ${AR}`);
        bad({ EXTRA_IMAGES: `${EU_IMAGE},` }, `EXTRA_IMAGES: "" is not an Artifact Registry image ${AR}`);
        bad({ EXTRA_IMAGES: " " + EU_IMAGE }, `EXTRA_IMAGES: " ${EU_IMAGE}" is not an Artifact Registry image ${AR}`);
        bad({ EXTRA_IMAGES: EU_IMAGE.replace(":0123", ":f123") }, `EXTRA_IMAGES: "${EU_IMAGE.replace(":0123", ":f123")}" must have IMAGE's image name and tag (vllm:0123456789abcdef): it is the same image in another repository`);
        bad({ EXTRA_IMAGES: EU_IMAGE.replace("/vllm:", "/other:") }, `EXTRA_IMAGES: "${EU_IMAGE.replace("/vllm:", "/other:")}" must have IMAGE's image name and tag (vllm:0123456789abcdef): it is the same image in another repository`);
        bad({ EXTRA_IMAGES: `${EU_IMAGE},${EU_IMAGE}` }, `EXTRA_IMAGES: "${EU_IMAGE}" is listed twice`);
        bad({ EXTRA_IMAGES: ENV.IMAGE }, `EXTRA_IMAGES: "${ENV.IMAGE}" is IMAGE itself`);
        bad({ EXTRA_IMAGES: EU_IMAGE, IMAGE: "vllm:0123456789abcdef" }, `EXTRA_IMAGES: IMAGE "vllm:0123456789abcdef" must be an Artifact Registry image ${AR} to push copies of`);
        bad({ EXTRA_WEIGHTS_BUCKETS: "Bad_Bucket" }, `EXTRA_WEIGHTS_BUCKETS: "Bad_Bucket" is not a bucket name: it must be lower-case letters, digits, '-', '_' or '.', starting and ending with a letter or digit`);
        bad({ EXTRA_WEIGHTS_BUCKETS: "ab" }, `EXTRA_WEIGHTS_BUCKETS: "ab" is not a bucket name: it must be 3-63 characters`);
        bad({ EXTRA_WEIGHTS_BUCKETS: "b,b" }, `EXTRA_WEIGHTS_BUCKETS: "b" is not a bucket name: it must be 3-63 characters; "b" is not a bucket name: it must be 3-63 characters; "b" is listed twice`);
        bad({ EXTRA_WEIGHTS_BUCKETS: ENV.WEIGHTS_BUCKET }, `EXTRA_WEIGHTS_BUCKETS: "${ENV.WEIGHTS_BUCKET}" is WEIGHTS_BUCKET itself`);
        bad({ EXTRA_WEIGHTS_BUCKETS: "a-bucket", WEIGHTS_BUCKET: undefined }, "EXTRA_WEIGHTS_BUCKETS: needs WEIGHTS_BUCKET (a weights: gcs build), the bucket the copies come from");
        // Both at once, in one message.
        bad({ EXTRA_IMAGES: "x", EXTRA_WEIGHTS_BUCKETS: "y" }, `EXTRA_IMAGES: "x" is not an Artifact Registry image ${AR}; EXTRA_WEIGHTS_BUCKETS: "y" is not a bucket name: it must be 3-63 characters`);
    });

    it("parses Artifact Registry references, domain-scoped projects and nested image names included", () => {
        assert.deepEqual(parseRegistryImage(EU_IMAGE), { region: "europe-west4", project: "my-proj", repository: "vllm-cloudrun-dev", image: "vllm", tag: "0123456789abcdef" });
        assert.deepEqual(parseRegistryImage("northamerica-northeast1-docker.pkg.dev/example.com/my-proj/r/a/b:v1.0"), { region: "northamerica-northeast1", project: "example.com/my-proj", repository: "r", image: "a/b", tag: "v1.0" });
        for (const bad of ["europe-west4-docker.pkg.dev/my-proj/r/vllm@sha256:" + "a".repeat(64), "us-docker.pkg.dev/my-proj/r/vllm:t", "europe-west4-docker.pkg.dev/My-Proj/r/vllm:t", "europe-west4-docker.pkg.dev/my-proj/R/vllm:t", "europe-west4-docker.pkg.dev/my-proj/r/vllm:-t", "gcr.io/my-proj/vllm:t"]) {
            assert.equal(parseRegistryImage(bad), undefined, bad);
        }
    });

    it("checks bucket names as Cloud Storage does", () => {
        for (const good of ["abc", "a".repeat(63), "my_bucket-1", `${"a".repeat(63)}.example.com`]) assert.equal(bucketNameProblem(good), undefined, good);
        assert.equal(bucketNameProblem("a".repeat(64)), "must be 3-63 characters");
        assert.equal(bucketNameProblem(`${"a".repeat(64)}.com`), "each dot-separated part must be at most 63 characters");
        assert.equal(bucketNameProblem("-abc"), "must be lower-case letters, digits, '-', '_' or '.', starting and ending with a letter or digit");
        assert.equal(bucketNameProblem("a b c"), "must be lower-case letters, digits, '-', '_' or '.', starting and ending with a letter or digit");
        assert.equal(bucketNameProblem("192.168.5.4"), "must not be an IP address");
        assert.equal(bucketNameProblem("goog-bucket"), "must not start with 'goog' or contain 'google'");
        assert.equal(bucketNameProblem("my-google-bucket"), "must not start with 'goog' or contain 'google'");
    });

    it("renders the gcs config: every image tagged by the build step and listed under images, one copy step per bucket after upload-weights", () => {
        const original = YAML.parse(gcsText) as Config;
        const rendered = renderBuildConfig(gcsText, { images: [ASIA_IMAGE, EU_IMAGE], weightsBuckets: BUCKETS });
        assert.match(rendered, /^# Rendered by deploy\/cloud-build\.ts for EXTRA_IMAGES \/ EXTRA_WEIGHTS_BUCKETS/);
        const config = YAML.parse(rendered) as Config;
        assert.deepEqual(config.images, ["${_IMAGE}", ASIA_IMAGE, EU_IMAGE]);
        assert.deepEqual(config.steps.map((x) => x.id), ["build", "download-weights", "upload-weights", "copy-weights-to-my-proj-vllm-cloudrun-dev-weights-asia", "copy-weights-to-my-proj-vllm-cloudrun-dev-weights-eu"]);
        assert.deepEqual(config.steps[0].args, [
            "build",
            "--secret=id=hf_token,env=HF_TOKEN",
            "--build-arg=BASE_IMAGE=${_BASE_IMAGE}",
            "--build-arg=BAKE_WEIGHTS=false",
            "--tag=${_IMAGE}",
            `--tag=${ASIA_IMAGE}`,
            `--tag=${EU_IMAGE}`,
            ".",
        ]);
        assert.equal(COPY_WEIGHTS_BUILDER, "gcr.io/google.com/cloudsdktool/cloud-sdk:slim");
        assert.deepEqual(config.steps.slice(3), BUCKETS.map((b) => ({
            id: copyWeightsStepId(b),
            name: "gcr.io/google.com/cloudsdktool/cloud-sdk:slim",
            entrypoint: "gcloud",
            args: ["storage", "rsync", "--recursive", "gs://${_WEIGHTS_BUCKET}/${_MODEL}/${_MODEL_REVISION}", `gs://${b}/\${_MODEL}/\${_MODEL_REVISION}`],
        })));
        // Everything else exactly as in docker/.
        assert.deepEqual({ ...config, images: undefined, steps: undefined }, { ...original, images: undefined, steps: undefined });
        assert.deepEqual(config.steps.slice(1, 3), original.steps.slice(1, 3));
        assert.deepEqual({ ...config.steps[0], args: undefined }, { ...original.steps[0], args: undefined });
        // The same substitutions as docker/'s: the rest are literals.
        const subs = (t: string) => [...new Set([...t.replace(/^\s*#.*$/gm, "").matchAll(/\$\{?(_[A-Z0-9_]+)/g)].map((m) => m[1]))].sort();
        assert.deepEqual(subs(rendered), subs(gcsText));
    });

    it("renders the image config with extra images only; with nothing extra, docker/'s text unchanged", () => {
        const config = YAML.parse(renderBuildConfig(imageText, { images: [EU_IMAGE], weightsBuckets: [] })) as Config;
        const original = YAML.parse(imageText) as Config;
        assert.deepEqual(config.images, ["${_IMAGE}", EU_IMAGE]);
        assert.deepEqual(config.steps.map((x) => x.id), ["build"]);
        assert.deepEqual(config.steps[0].args, [...original.steps[0].args.slice(0, -1), `--tag=${EU_IMAGE}`, "."]);
        // Buckets only: no extra tag or image.
        const bucketsOnly = YAML.parse(renderBuildConfig(gcsText, { images: [], weightsBuckets: [BUCKETS[0]] })) as Config;
        assert.deepEqual(bucketsOnly.images, ["${_IMAGE}"]);
        assert.deepEqual(bucketsOnly.steps[0], (YAML.parse(gcsText) as Config).steps[0]);
        assert.equal(bucketsOnly.steps.length, 4);
        for (const text of [gcsText, imageText]) assert.equal(renderBuildConfig(text, { images: [], weightsBuckets: [] }), text);
        // A config without the step to copy after fails loudly rather than copying nothing.
        assert.throws(() => renderBuildConfig(imageText, { images: [], weightsBuckets: ["a-bucket"] }), /the build config has no step "upload-weights"/);
        assert.throws(() => renderBuildConfig(imageText.replace("--tag=${_IMAGE}", "--tag=x"), { images: [EU_IMAGE], weightsBuckets: [] }), /"build" step has no --tag=\$\{_IMAGE\} argument/);
    });

    it("renders into a private copy of the source only when something needs rendering", () => {
        assert.equal(renderedBuildSource(path.join(ROOT, "docker"), "cloudbuild-gcs.yaml", settings(ENV)), undefined);
        const dir = renderedBuildSource(path.join(ROOT, "docker"), "cloudbuild-gcs.yaml", settings(REGIONS_ENV));
        assert.ok(dir !== undefined);
        try {
            assert.deepEqual(fs.readdirSync(dir).sort(), fs.readdirSync(path.join(ROOT, "docker")).sort());
            assert.equal(fs.readFileSync(path.join(dir, "cloudbuild-gcs.yaml"), "utf8"), renderBuildConfig(gcsText, { images: [ASIA_IMAGE, EU_IMAGE], weightsBuckets: BUCKETS }));
            for (const f of fs.readdirSync(dir).filter((x) => x !== "cloudbuild-gcs.yaml")) {
                assert.ok(fs.readFileSync(path.join(dir, f)).equals(fs.readFileSync(path.join(ROOT, "docker", f))), `${f} is docker/'s`);
            }
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("the success report lists every pushed image, and warns when one is missing or the digests differ", () => {
        const d = (c: string) => `sha256:${c.repeat(64)}`;
        const build = (images: { name: string; digest: string }[]): Build => ({ id: "b-1", status: "SUCCESS", results: { images } });
        const expected = [ENV.IMAGE, ASIA_IMAGE, EU_IMAGE];
        assert.deepEqual(successReport(build(expected.map((name) => ({ name, digest: d("a") }))), 61_000, expected), [
            "Cloud Build b-1: SUCCESS after 1m01s.",
            `Pushed ${ENV.IMAGE}@${d("a")}`,
            `Pushed ${ASIA_IMAGE}@${d("a")}`,
            `Pushed ${EU_IMAGE}@${d("a")}`,
        ]);
        assert.deepEqual(successReport(build([{ name: ENV.IMAGE, digest: d("a") }, { name: EU_IMAGE, digest: d("b") }]), 1_000, expected), [
            "Cloud Build b-1: SUCCESS after 1s.",
            `Pushed ${ENV.IMAGE}@${d("a")}`,
            `Pushed ${EU_IMAGE}@${d("b")}`,
            `WARNING: the build did not report pushing ${ASIA_IMAGE}.`,
            `WARNING: the pushed images do not all have the same digest: ${ENV.IMAGE}@${d("a")}, ${EU_IMAGE}@${d("b")}.`,
        ]);
        // A single region: exactly the report it always was.
        assert.deepEqual(successReport(build([{ name: ENV.IMAGE, digest: d("a") }]), 1_000), ["Cloud Build b-1: SUCCESS after 1s.", `Pushed ${ENV.IMAGE}@${d("a")}`]);
    });
});

interface ScriptRun {
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
    /** argv of every gcloud call the fake received. */
    calls: string[][];
}

interface RunOptions {
    env?: Record<string, string | undefined>;
    /** State directory of the fake; by default a fresh one, removed afterwards. */
    state?: string;
    /** Called with the output so far; may signal the child. */
    onOutput?: (stdout: string, stderr: string, child: ReturnType<typeof spawn>) => void;
}

/** Runs the CLI as the Command does (node + ts-node, in the program directory) with the fake first on PATH. */
function runScript(scenario: string, opts: RunOptions = {}): Promise<ScriptRun> {
    fs.chmodSync(path.join(FAKE_DIR, "gcloud"), 0o755);
    const state = opts.state ?? fs.mkdtempSync(path.join(os.tmpdir(), "fake-gcloud-"));
    const env: Record<string, string> = {
        PATH: `${FAKE_DIR}${path.delimiter}${process.env.PATH ?? "/usr/bin:/bin"}`,
        HOME: state,
        FAKE_GCLOUD_STATE: state,
        FAKE_GCLOUD_SCENARIO: scenario,
        BUILD_POLL_SECONDS: "0.05",
        // As the Command sets it (type checking is the test suite's job, not the deploy's).
        TS_NODE_TRANSPILE_ONLY: "true",
        ...ENV,
    };
    for (const [k, v] of Object.entries(opts.env ?? {})) {
        if (v === undefined) delete env[k];
        else env[k] = v;
    }
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, ["--require", "ts-node/register", "deploy/cloud-build.ts"], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
        child.stdout.setEncoding("utf8").on("data", (d: string) => {
            stdout += d;
            opts.onOutput?.(stdout, stderr, child);
        });
        child.stderr.setEncoding("utf8").on("data", (d: string) => {
            stderr += d;
            opts.onOutput?.(stdout, stderr, child);
        });
        child.on("error", reject);
        child.on("close", (code, signal) => {
            clearTimeout(timer);
            const log = path.join(state, "calls.jsonl");
            const calls = fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n").map((l) => (JSON.parse(l) as { argv: string[] }).argv) : [];
            if (opts.state === undefined) fs.rmSync(state, { recursive: true, force: true });
            resolve({ code, signal, stdout, stderr, calls });
        });
    });
}

const buildIdOf = (r: ScriptRun) => /Cloud Build (\S+) submitted/.exec(r.stdout)?.[1] ?? assert.fail(`no build id in:\n${r.stdout}\n${r.stderr}`);
const wholeLogCommand = (id: string) => `Whole log:   gcloud builds log ${id} --project=my-proj --region=us-central1`;
const consoleUrl = (id: string) => `https://console.cloud.google.com/cloud-build/builds;region=us-central1/${id}?project=123456789012`;

describe("cloud-build against a fake gcloud", () => {
    const gcsSteps = stepIds("cloudbuild-gcs.yaml");

    it("success: submits once, shows each step with the console URL, prints the pushed digest, exits 0", async () => {
        const r = await runScript("success");
        assert.equal(r.code, 0, r.stderr);
        const id = buildIdOf(r);
        assert.deepEqual(r.calls[0], submitArgs(ENV));
        assert.ok(r.calls.slice(1).every((c) => c.join(" ") === describeArgs(id, { project: "my-proj", region: "us-central1" }).join(" ")), JSON.stringify(r.calls));
        const lines = r.stdout.trim().split("\n");
        assert.equal(lines[0], `Cloud Build ${id} submitted (QUEUED). Console log: ${consoleUrl(id)}`);
        gcsSteps.forEach((step, i) => assert.ok(lines.some((l) => l.startsWith(`Cloud Build ${id}: WORKING | step ${i + 1}/${gcsSteps.length} ${step}: WORKING | `)), `${step} in\n${r.stdout}`));
        // One line per change: the fake reports each step twice.
        assert.equal(lines.filter((l) => l.includes(`${gcsSteps[0]}: WORKING`)).length, 1);
        assert.match(r.stdout, new RegExp(`Cloud Build ${id}: SUCCESS after \\S+\\.\\nPushed ${ENV.IMAGE.replace(/[.]/g, "\\.")}@sha256:[0-9a-f]{64}\\n$`));
        // gcloud's own submit messages come through.
        assert.match(r.stderr, /^Creating temporary archive of \d+ file\(s\)/m);
        assert.ok(r.stderr.includes(`Logs are available at [ ${consoleUrl(id)} ].`));
    });

    it("failure: names the failed step, prints its last 40 lines redacted, the URL and the whole-log command", async () => {
        const r = await runScript("failure", { env: { FAKE_GCLOUD_FAIL_STEP: "download-weights" } });
        assert.equal(r.code, 1);
        const id = buildIdOf(r);
        const index = gcsSteps.indexOf("download-weights");
        assert.ok(r.stderr.includes(`Cloud Build ${id}: FAILURE after `), r.stderr);
        assert.ok(r.stderr.includes(`step ${index + 1}/${gcsSteps.length} "download-weights" ended FAILURE (exit code 1).`), r.stderr);
        assert.ok(r.stderr.includes(`Build step failure: build step ${index} `), r.stderr);
        const excerpt = /---- last 40 log lines of step "download-weights" ----\n([\s\S]*?)\n---- end of excerpt ----/.exec(r.stderr)?.[1];
        assert.ok(excerpt, r.stderr);
        assert.equal(excerpt.split("\n").length, 40);
        assert.match(excerpt, /LAST-LINE-MARKER of download-weights: exiting with status 1$/);
        assert.ok(!r.stderr.includes("EARLY-LINE-MARKER"), "only the last 40 lines");
        assert.ok(!excerpt.includes("build output line"), "only the failed step's lines");
        // The planted token and bearer credential are redacted in everything printed.
        assert.ok(!`${r.stdout}${r.stderr}`.includes(PLANTED_TOKEN));
        assert.ok(excerpt.includes("401 Client Error for token hf_[REDACTED]"));
        assert.ok(excerpt.includes("> Authorization: Bearer [REDACTED]"));
        assert.ok(!`${r.stdout}${r.stderr}`.includes("ya29.a0FAKE"));
        assert.ok(r.stderr.includes(`Console log: ${consoleUrl(id)}`));
        assert.ok(r.stderr.includes(wholeLogCommand(id)));
        // The log was read with the step's label.
        const reads = r.calls.filter((c) => c[0] === "logging");
        assert.equal(reads.length, 1);
        assert.match(reads[0][2], /AND labels\.build_step="Step #1 - \\"download-weights\\""$/);
    });

    it("timeout: reports the TIMEOUT status, the step it stopped in, its lines and how to raise the timeout", async () => {
        const r = await runScript("timeout", { env: { ...IMAGE_ENV, WEIGHTS_BUCKET: undefined } });
        assert.equal(r.code, 1);
        const id = buildIdOf(r);
        assert.ok(r.stderr.includes(`Cloud Build ${id}: TIMEOUT after `), r.stderr);
        assert.ok(r.stderr.includes(`step 1/1 "build" ended TIMEOUT.`), r.stderr);
        assert.ok(r.stderr.includes("npx pulumi config set buildTimeoutMinutes"));
        assert.match(r.stderr, /---- last 40 log lines of step "build" ----[\s\S]*LAST-LINE-MARKER of build/);
        assert.ok(!r.stderr.includes(PLANTED_TOKEN));
        assert.ok(r.stderr.includes(wholeLogCommand(id)));
    });

    it("logs not readable: still names the step, gives the role, the URL and the command, and does not crash", async () => {
        const r = await runScript("logs-denied");
        assert.equal(r.code, 1);
        const id = buildIdOf(r);
        assert.ok(r.stderr.includes(`"${gcsSteps[gcsSteps.length - 1]}" ended FAILURE`), r.stderr);
        assert.ok(r.stderr.includes("Could not read the log from Cloud Logging: permission denied. Reading it needs roles/logging.viewer (logging.logEntries.list) on project my-proj."));
        assert.ok(r.stderr.includes("ERROR: (gcloud.logging.read) PERMISSION_DENIED: Permission 'logging.logEntries.list' denied"));
        assert.ok(r.stderr.includes(`Console log: ${consoleUrl(id)}`));
        assert.ok(r.stderr.includes(wholeLogCommand(id)));
        assert.ok(!/TypeError|\n\s+at /.test(r.stderr), r.stderr);
    });

    it("no active account: passes gcloud's error through with a login hint, and stops", async () => {
        const r = await runScript("no-account");
        assert.equal(r.code, 1);
        assert.ok(r.stderr.includes(`ERROR: (gcloud.builds.submit) ${NO_ACCOUNT}.`), r.stderr);
        assert.match(r.stderr, /Hint: log gcloud in with `gcloud auth login`/);
        assert.equal(r.calls.length, 1);
        assert.equal(r.stdout, "");
    });

    it("API disabled: passes the error through with the enable command", async () => {
        const r = await runScript("api-disabled");
        assert.equal(r.code, 1);
        assert.match(r.stderr, /ERROR: \(gcloud\.builds\.submit\) PERMISSION_DENIED: Cloud Build API has not been used in project/);
        assert.ok(r.stderr.includes("Hint: enable the API (`gcloud services enable cloudbuild.googleapis.com --project=my-proj`)"));
    });

    it("LoRA adapters: gcloud uploads a private copy of docker/ with the rendered Dockerfile, removed afterwards", async () => {
        // A gcloud in front of the fake that keeps what `builds submit` would upload.
        const bin = fs.mkdtempSync(path.join(os.tmpdir(), "gcloud-spy-"));
        const state = fs.mkdtempSync(path.join(os.tmpdir(), "fake-gcloud-"));
        try {
            fs.writeFileSync(path.join(bin, "gcloud"), `#!/bin/sh\n[ "$1 $2" = "builds submit" ] && cp -r "$3" "$FAKE_GCLOUD_STATE/uploaded"\nexec "${path.join(FAKE_DIR, "gcloud")}" "$@"\n`, { mode: 0o755 });
            const r = await runScript("success", { state, env: { ...LORA_ENV, WEIGHTS_BUCKET: undefined, PATH: `${bin}${path.delimiter}${FAKE_DIR}${path.delimiter}${process.env.PATH ?? "/usr/bin:/bin"}` } });
            assert.equal(r.code, 0, r.stderr);
            const source = r.calls[0][2];
            assert.match(source, new RegExp(`^${os.tmpdir().replace(/[.]/g, "\\.")}/vllm-lora-source-`));
            assert.deepEqual(r.calls[0], submitArgs(LORA_ENV, source));
            assert.ok(!fs.existsSync(source), "the rendered copy is removed once the submission returns");
            const uploaded = path.join(state, "uploaded");
            assert.deepEqual(fs.readdirSync(uploaded).sort(), fs.readdirSync(path.join(ROOT, "docker")).sort());
            assert.equal(fs.readFileSync(path.join(uploaded, "Dockerfile"), "utf8"), renderDockerfile(fs.readFileSync(path.join(ROOT, "docker", "Dockerfile"), "utf8"), ADAPTERS));
            for (const f of fs.readdirSync(uploaded).filter((x) => x !== "Dockerfile")) {
                assert.ok(fs.readFileSync(path.join(uploaded, f)).equals(fs.readFileSync(path.join(ROOT, "docker", f))), f);
            }
        } finally {
            fs.rmSync(bin, { recursive: true, force: true });
            fs.rmSync(state, { recursive: true, force: true });
        }
    });

    it("bad LORA_ADAPTERS: exits 2 naming the problem, without calling gcloud or rendering anything", async () => {
        const before = fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith("vllm-lora-source-")).length;
        const r = await runScript("success", { env: { LORA_ADAPTERS: JSON.stringify([{ name: "a", repo: "org/a", revision: "main" }]) } });
        assert.equal(r.code, 2);
        assert.equal(r.stderr, 'cloud-build: LORA_ADAPTERS: adapter 0: revision "main" must be a 40-character lower-case commit hash\n');
        assert.deepEqual(r.calls, []);
        assert.equal(fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith("vllm-lora-source-")).length, before);
    });

    it("missing environment: exits 2 naming the variables, without calling gcloud", async () => {
        const r = await runScript("success", { env: { PROJECT: undefined, HF_TOKEN_VERSION: "", STAGING_BUCKET: undefined } });
        assert.equal(r.code, 2);
        assert.equal(r.stderr, "cloud-build: missing or empty environment variable(s): PROJECT, HF_TOKEN_VERSION, STAGING_BUCKET\n");
        assert.deepEqual(r.calls, []);
    });

    it("SIGTERM (pulumi cancelled): cancels the cloud build, then exits", async () => {
        let sent = false;
        const r = await runScript("stuck", {
            onOutput: (stdout, _stderr, child) => {
                if (!sent && /: WORKING \| step 1\//.test(stdout)) {
                    sent = true;
                    child.kill("SIGTERM");
                }
            },
        });
        assert.ok(sent, r.stdout);
        const id = buildIdOf(r);
        assert.equal(r.code, 143);
        assert.deepEqual(r.calls[r.calls.length - 1], cancelArgs(id, { project: "my-proj", region: "us-central1" }));
        assert.ok(r.stderr.includes(`Received SIGTERM: cancelling Cloud Build ${id}.`));
        assert.ok(r.stderr.includes(`Cancelled [https://cloudbuild.googleapis.com/v1/projects/my-proj/locations/us-central1/builds/${id}].`));
    });

    it("SIGINT while submitting: waits for the build id, cancels that build, then exits", async () => {
        let sent = false;
        const r = await runScript("stuck", {
            env: { FAKE_GCLOUD_SUBMIT_DELAY_MS: "1500" },
            onOutput: (_stdout, stderr, child) => {
                if (!sent && stderr.includes("Uploading tarball of [docker]")) {
                    sent = true;
                    child.kill("SIGINT");
                }
            },
        });
        assert.ok(sent, r.stderr);
        const id = buildIdOf(r);
        assert.equal(r.code, 130);
        assert.ok(r.stderr.includes("Received SIGINT: waiting for the submission to return the build id, to cancel the build."), r.stderr);
        assert.deepEqual(r.calls.map((c) => c[1]), ["submit", "cancel"]);
        assert.deepEqual(r.calls[1], cancelArgs(id, { project: "my-proj", region: "us-central1" }));
    });

    it("SIGINT then SIGKILL (Pulumi kills the Command when it cancels): the cancellation still completes", async () => {
        const state = fs.mkdtempSync(path.join(os.tmpdir(), "fake-gcloud-"));
        try {
            let sent: "" | "SIGINT" | "SIGKILL" = "";
            const r = await runScript("stuck", {
                state,
                env: { FAKE_GCLOUD_CANCEL_DELAY_MS: "1500" },
                onOutput: (stdout, stderr, child) => {
                    if (sent === "" && /: WORKING \| step 1\//.test(stdout)) {
                        sent = "SIGINT";
                        child.kill("SIGINT");
                    } else if (sent === "SIGINT" && stderr.includes("Received SIGINT: cancelling")) {
                        sent = "SIGKILL";
                        child.kill("SIGKILL");
                    }
                },
            });
            assert.equal(r.signal, "SIGKILL");
            const cancelledBuild = () => (JSON.parse(fs.readFileSync(path.join(state, "build.json"), "utf8")) as { cancelled: boolean }).cancelled;
            for (let i = 0; i < 100 && !cancelledBuild(); i++) await new Promise((res) => setTimeout(res, 100));
            assert.ok(cancelledBuild(), "the detached gcloud builds cancel finished after the CLI was killed");
        } finally {
            fs.rmSync(state, { recursive: true, force: true });
        }
    });

    it("local deadline: a build still running past its timeout plus the margin is reported, cancelled, and fails", async () => {
        const r = await runScript("stuck", { env: { TIMEOUT_SECONDS: "1", BUILD_DEADLINE_MARGIN_SECONDS: "0" } });
        assert.equal(r.code, 1);
        const id = buildIdOf(r);
        assert.match(r.stderr, new RegExp(`Cloud Build ${id} is still WORKING after \\S+, past its 1s timeout plus 0s; cancelling it\\.`));
        assert.ok(r.stderr.includes(`Console log: ${consoleUrl(id)}`));
        assert.deepEqual(r.calls[r.calls.length - 1], cancelArgs(id, { project: "my-proj", region: "us-central1" }));
    });
});

describe("cloud-build against a fake gcloud, several regions", () => {
    it("uploads a copy of docker/ whose build config pushes every image and copies the weights, shows the copy steps and lists every pushed image", async () => {
        // A gcloud in front of the fake that keeps what `builds submit` would upload.
        const bin = fs.mkdtempSync(path.join(os.tmpdir(), "gcloud-spy-"));
        const state = fs.mkdtempSync(path.join(os.tmpdir(), "fake-gcloud-"));
        try {
            fs.writeFileSync(path.join(bin, "gcloud"), `#!/bin/sh\n[ "$1 $2" = "builds submit" ] && cp -r "$3" "$FAKE_GCLOUD_STATE/uploaded"\nexec "${path.join(FAKE_DIR, "gcloud")}" "$@"\n`, { mode: 0o755 });
            const r = await runScript("success", { state, env: { ...REGIONS_ENV, PATH: `${bin}${path.delimiter}${FAKE_DIR}${path.delimiter}${process.env.PATH ?? "/usr/bin:/bin"}` } });
            assert.equal(r.code, 0, r.stderr);
            const id = buildIdOf(r);
            const source = r.calls[0][2];
            assert.match(source, new RegExp(`^${os.tmpdir().replace(/[.]/g, "\\.")}/vllm-lora-source-`));
            assert.deepEqual(r.calls[0], submitArgs(REGIONS_ENV, source));
            assert.ok(!fs.existsSync(source), "the rendered copy is removed once the submission returns");
            const uploaded = path.join(state, "uploaded");
            const gcsText = fs.readFileSync(path.join(ROOT, "docker", "cloudbuild-gcs.yaml"), "utf8");
            assert.equal(fs.readFileSync(path.join(uploaded, "cloudbuild-gcs.yaml"), "utf8"), renderBuildConfig(gcsText, { images: [ASIA_IMAGE, EU_IMAGE], weightsBuckets: REGIONS_ENV.EXTRA_WEIGHTS_BUCKETS.split(",") }));
            assert.ok(fs.readFileSync(path.join(uploaded, "Dockerfile")).equals(fs.readFileSync(path.join(ROOT, "docker", "Dockerfile"))), "the Dockerfile is docker/'s");
            // The fake runs the steps of the config it was given: the two copy steps come last.
            const steps = [...stepIds("cloudbuild-gcs.yaml"), "copy-weights-to-my-proj-vllm-cloudrun-dev-weights-asia", "copy-weights-to-my-proj-vllm-cloudrun-dev-weights-eu"];
            steps.forEach((step, i) => assert.ok(r.stdout.includes(`Cloud Build ${id}: WORKING | step ${i + 1}/5 ${step}: WORKING | `), `${step} in\n${r.stdout}`));
            // Every pushed image, in the order of the config's images; the fake's digests are a
            // hash of each name, so they differ and the report says so.
            const pushed = [...r.stdout.matchAll(/^Pushed (\S+)@sha256:[0-9a-f]{64}$/gm)].map((m) => m[1]);
            assert.deepEqual(pushed, [ENV.IMAGE, ASIA_IMAGE, EU_IMAGE]);
            assert.match(r.stdout, /^WARNING: the pushed images do not all have the same digest: /m);
        } finally {
            fs.rmSync(bin, { recursive: true, force: true });
            fs.rmSync(state, { recursive: true, force: true });
        }
    });

    it("bad EXTRA_IMAGES: exits 2 naming the problem, without calling gcloud or rendering anything", async () => {
        const before = fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith("vllm-lora-source-")).length;
        const r = await runScript("success", { env: { EXTRA_IMAGES: EU_IMAGE.replace(":0123", ":9999") } });
        assert.equal(r.code, 2);
        assert.equal(r.stderr, `cloud-build: EXTRA_IMAGES: "${EU_IMAGE.replace(":0123", ":9999")}" must have IMAGE's image name and tag (vllm:0123456789abcdef): it is the same image in another repository\n`);
        assert.deepEqual(r.calls, []);
        assert.equal(fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith("vllm-lora-source-")).length, before);
    });
});

// ---------------------------------------------------------------------------------------------
// The real CLI: it accepts every argv the script runs or prints, and the fake rejects bad ones
// with the same error and exit code.

const unavailable = gcloudUnavailable();

interface CliRun {
    status: number;
    stderr: string;
}

/** The real gcloud (from PATH, not the fake) with an empty config and HOME, in the program directory. */
function realGcloud(args: string[]): CliRun {
    const r = runRealGcloud(args, { cwd: ROOT });
    return { status: r.status, stderr: r.stderr };
}

function fakeGcloud(args: string[], scenario = "no-account"): CliRun {
    const state = fs.mkdtempSync(path.join(os.tmpdir(), "fake-gcloud-"));
    try {
        const r = spawnSync(process.execPath, [path.join(FAKE_DIR, "gcloud"), ...args], { cwd: ROOT, encoding: "utf8", env: { PATH: process.env.PATH, FAKE_GCLOUD_STATE: state, FAKE_GCLOUD_SCENARIO: scenario } });
        return { status: r.status ?? -1, stderr: r.stderr };
    } finally {
        fs.rmSync(state, { recursive: true, force: true });
    }
}

describe("the real gcloud accepts the script's argv; the fake is as strict", { skip: skipUnlessAvailable(unavailable) }, () => {
    const s = { project: "my-proj", region: "us-central1" };
    const id = "0f1e2d3c-4b5a-6978-8091-a2b3c4d5e6f7";
    const build = { id, createTime: "2025-06-20T10:00:00.123456Z" };
    const good: [string, string[]][] = [
        ["submit (image)", submitArgs(IMAGE_ENV)],
        // A rendered copy lives outside the program directory: gcloud takes an absolute source and config.
        ["submit (image, LoRA adapters, rendered source)", submitArgs(LORA_ENV, path.join(ROOT, "docker"))],
        ["submit (gcs)", submitArgs(ENV)],
        ["describe", describeArgs(id, s)],
        ["cancel", cancelArgs(id, s)],
        ["logging read", logReadArgs(buildLogFilter(build, "my-proj", stepLabel(1, "download-weights")), "my-proj")],
        ["builds log (printed for people)", fullLogArgs(id, s)],
    ];
    for (const [name, args] of good) {
        it(`${name}: parses every flag and stops only for credentials`, () => {
            const real = realGcloud(args);
            assert.equal(real.status, 1, real.stderr);
            assert.ok(real.stderr.includes(NO_ACCOUNT), real.stderr);
            if (name.startsWith("builds log")) return; // the script only prints this one
            const fake = fakeGcloud(args);
            assert.equal(fake.stderr, real.stderr, "the fake's no-account error is the real one");
            assert.equal(fake.status, real.status);
        });
    }

    const submit = submitArgs(IMAGE_ENV);
    const bad: [string, string[], RegExp][] = [
        ["a misspelt flag", submit.map((a) => a.replace("--machine-type=", "--machine-typ=")), /unrecognized arguments: --machine-typ=e2-highcpu-8/],
        ["a wrong machine type", submit.map((a) => (a.startsWith("--machine-type=") ? "--machine-type=e2-huge" : a)), /argument --machine-type: Invalid choice: 'e2-huge'/],
        ["a disk below 100GB", submit.map((a) => (a.startsWith("--disk-size=") ? "--disk-size=50" : a)), /argument --disk-size: value must be greater than or equal to 100GB; received: 50/],
        ["a flag describe does not have", [...describeArgs(id, s), "--stream"], /unrecognized arguments: --stream/],
        ["describe without a build", ["builds", "describe", "--project=my-proj", "--region=us-central1"], /argument BUILD: Must be specified/],
        ["a bad --order", ["logging", "read", "x", "--project=my-proj", "--order=newest"], /argument --order: Invalid choice: 'newest'/],
        ["--limit=0", ["logging", "read", "x", "--project=my-proj", "--limit=0"], /argument --limit: Value must be greater than or equal to 1; received: 0/],
        ["a config that does not exist", submit.map((a) => (a.startsWith("--config=") ? "--config=docker/nope.yaml" : a)), /Unable to read file \[docker\/nope\.yaml\]/],
    ];
    for (const [name, args, expected] of bad) {
        it(`${name}: fails before credentials, the same way in the fake`, () => {
            const real = realGcloud(args);
            assert.notEqual(real.status, 0);
            assert.ok(!real.stderr.includes(NO_ACCOUNT), real.stderr);
            assert.match(real.stderr, expected);
            const fake = fakeGcloud(args);
            // The fake knows only the flags the script uses, so it makes no "did you mean" guess
            // (calliope/parser_extensions.py _Suggest picks one from all of gcloud's flags).
            const withoutSuggestion = real.stderr.split("\n")[0].replace(/ \(did you mean '[^']*'\?\)/, "");
            assert.equal(fake.stderr.split("\n")[0], withoutSuggestion);
            assert.equal(fake.status, real.status);
        });
    }
});
