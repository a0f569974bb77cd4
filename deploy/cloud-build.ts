// Submits the image build to Cloud Build and watches it, so `pulumi up` shows progress during
// the 20–30 minute build and, when it fails, which step failed and that step's last log lines.
//
// Run by the ImageBuild Command resource from the program directory:
//   node --require ts-node/register deploy/cloud-build.ts
// with every value in the environment (see REQUIRED_ENV); nothing goes through a shell.
//
// Why `--async` and polling rather than `gcloud beta builds submit` (read from gcloud 528):
// - GA `builds submit` does not stream builds with `options.logging: CLOUD_LOGGING_ONLY`: it
//   prints a hint to use beta and waits (googlecloudsdk/command_lib/builds/submit_util.py, Build;
//   api_lib/cloudbuild/logs.py, CloudBuildClient.Stream, which streams Cloud Logging only when
//   support_gcl is set, as it is in BETA/ALPHA only: surface/builds/submit.py).
// - Beta streams every line of the build (thousands of docker lines into `pulumi up`) through the
//   Logging tail API, which needs the grpc module (logs.py GetGCLLogTailer prints
//   LOG_STREAM_HELP_TEXT and streams nothing without it) and stops at the tail session's maximum
//   duration (api_lib/logging/tailing.py, OUT_OF_RANGE); a failing step's lines end up buried in
//   that stream above "BUILD FAILURE: <detail>" (submit_util.py Build).
// - `--async --format=json` returns the Build resource as soon as it is created (submit_util.py
//   Build returns before streaming when async_); `gcloud builds describe` returns it again on each
//   poll (surface/builds/describe.py), with each step's id and status. Polling needs only
//   cloudbuild.builds.get, which submitting already requires (roles/cloudbuild.builds.editor).
// - On failure the failing step's last lines come from `gcloud logging read` with the filter gcloud
//   itself uses for these builds (logs.py GCLLogTailer.Print: logName ".../logs/cloudbuild",
//   resource.type "build", resource.labels.build_id, timestamp >= createTime) plus the step's
//   `labels.build_step` ("Step #<index> - \"<id>\""), newest first with --limit
//   (surface/logging/read.py, command_lib/logs/read.py). That needs logging.logEntries.list
//   (roles/logging.viewer; Viewer, Editor and Owner include it). Without it the report still
//   names the step, gives the console URL and the whole-log command.
// - GA `gcloud builds log ID` does print CLOUD_LOGGING_ONLY logs when not streaming (logs.py
//   CloudBuildClient.PrintLog uses GCLLogTailer.Print for STACKDRIVER_ONLY/CLOUD_LOGGING_ONLY),
//   so that is the command printed for reading the whole log.
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { LoraAdapter, parseLoraAdapters, renderedSource } from "./lora-adapters";

/**
 * Environment the Command resource sets; all must be non-empty. Optional: WEIGHTS_BUCKET,
 * LORA_ADAPTERS (JSON list of { name, repo, revision }; see lora-adapters.ts), and for several
 * regions EXTRA_IMAGES and EXTRA_WEIGHTS_BUCKETS (comma-separated; see parseExtras).
 */
export const REQUIRED_ENV = [
    "SOURCE_DIR",
    "PROJECT",
    "REGION",
    "BUILD_CONFIG",
    "BASE_IMAGE",
    "MODEL",
    "MODEL_REVISION",
    "IMAGE",
    "HF_TOKEN_VERSION",
    "BUILD_SERVICE_ACCOUNT",
    "STAGING_BUCKET",
    "MACHINE_TYPE",
    "DISK_SIZE_GB",
    "TIMEOUT_SECONDS",
] as const;

export type Env = Record<string, string | undefined>;

/** Seconds between `gcloud builds describe` calls (BUILD_POLL_SECONDS). */
export const DEFAULT_POLL_SECONDS = 20;
/**
 * How long past the build's own timeout this script waits before giving up
 * (BUILD_DEADLINE_MARGIN_SECONDS). Below the 10 minutes Pulumi's customTimeouts add, so this
 * script reports and cancels before Pulumi kills it.
 */
export const DEFAULT_DEADLINE_MARGIN_SECONDS = 300;
/** Log lines of the failing step to show. */
export const LOG_TAIL_LINES = 40;
/** Print an unchanged progress line again after this long, so a long step still shows life. */
export const HEARTBEAT_MS = 60_000;
/** Consecutive failed polls tolerated (network blips) before giving up. */
export const MAX_POLL_ERRORS = 3;

/** Build statuses after which a build never changes (Build.StatusValueValuesEnum, cloudbuild v1). */
export const TERMINAL_STATUSES = ["SUCCESS", "FAILURE", "INTERNAL_ERROR", "TIMEOUT", "CANCELLED", "EXPIRED"] as const;
const FAILED_STEP_STATUSES = ["FAILURE", "TIMEOUT", "INTERNAL_ERROR", "CANCELLED", "EXPIRED"];

/** A wrong or missing environment: reported before gcloud runs, exit code 2. */
export class UsageError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "UsageError";
    }
}

// ---------------------------------------------------------------------------------------------
// Environment and argv (pure)

export function missingEnv(env: Env): string[] {
    return REQUIRED_ENV.filter((k) => (env[k] ?? "").trim() === "");
}

function seconds(env: Env, key: string, fallback: number, opts: { integer?: boolean; zero?: boolean } = {}): number {
    const raw = env[key];
    if (raw === undefined || raw.trim() === "") return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < 0 || (n === 0 && !opts.zero) || (opts.integer && !Number.isInteger(n))) {
        throw new UsageError(`${key} must be a ${opts.zero ? "non-negative" : "positive"} ${opts.integer ? "whole " : ""}number of seconds; got "${raw}"`);
    }
    return n;
}

export interface Settings {
    project: string;
    region: string;
    timeoutSeconds: number;
    pollSeconds: number;
    deadlineMarginSeconds: number;
    loraAdapters: LoraAdapter[];
    /** EXTRA_IMAGES: more tags of the same image, pushed by the same build. Default: none. */
    extraImages: string[];
    /** EXTRA_WEIGHTS_BUCKETS: buckets that get a copy of the uploaded weights. Default: none. */
    extraWeightsBuckets: string[];
}

/** Checks the environment; throws one UsageError naming everything missing or malformed. */
export function settings(env: Env): Settings {
    const missing = missingEnv(env);
    if (missing.length > 0) throw new UsageError(`missing or empty environment variable(s): ${missing.join(", ")}`);
    const subs = substitutions(env);
    const withComma = Object.entries(subs).filter(([, v]) => v.includes(",")).map(([k]) => k);
    if (withComma.length > 0) throw new UsageError(`substitution value(s) must not contain a comma (gcloud splits --substitutions on commas): ${withComma.join(", ")}`);
    const lora = parseLoraAdapters(env.LORA_ADAPTERS);
    if (lora.problems.length > 0) throw new UsageError(`LORA_ADAPTERS: ${lora.problems.join("; ")}`);
    const extras = parseExtras(env);
    if (extras.problems.length > 0) throw new UsageError(extras.problems.join("; "));
    return {
        project: env.PROJECT as string,
        region: env.REGION as string,
        timeoutSeconds: seconds(env, "TIMEOUT_SECONDS", 0, { integer: true }),
        pollSeconds: seconds(env, "BUILD_POLL_SECONDS", DEFAULT_POLL_SECONDS),
        deadlineMarginSeconds: seconds(env, "BUILD_DEADLINE_MARGIN_SECONDS", DEFAULT_DEADLINE_MARGIN_SECONDS, { zero: true }),
        loraAdapters: lora.adapters,
        extraImages: extras.images,
        extraWeightsBuckets: extras.weightsBuckets,
    };
}

// ---------------------------------------------------------------------------------------------
// Several regions: one build, the same image and weights in every region (pure)

/**
 * `<region>-docker.pkg.dev/<project>/<repository>/<image>:<tag>`
 * (https://cloud.google.com/artifact-registry/docs/docker/names). A domain-scoped project
 * `example.com:p` appears as `example.com/p`. Repository ids: lower-case letters, digits and
 * hyphens, starting with a letter, at most 63 characters; tags: Docker's `[\w][\w.-]{0,127}`.
 */
const AR_IMAGE =
    /^([a-z]+(?:-[a-z]+)*[0-9]+)-docker\.pkg\.dev\/((?:[a-z0-9-]+(?:\.[a-z0-9-]+)+\/)?[a-z][a-z0-9-]{4,28}[a-z0-9])\/([a-z](?:[a-z0-9-]{0,61}[a-z0-9])?)\/([a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*):([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$/;

export interface RegistryImage {
    region: string;
    project: string;
    repository: string;
    image: string;
    tag: string;
}

/** The parts of an Artifact Registry image reference with a tag, or undefined when it is not one. */
export function parseRegistryImage(ref: string): RegistryImage | undefined {
    const m = AR_IMAGE.exec(ref);
    return m === null ? undefined : { region: m[1], project: m[2], repository: m[3], image: m[4], tag: m[5] };
}

/**
 * What is wrong with a bucket name, or undefined (https://cloud.google.com/storage/docs/buckets#naming):
 * 3-63 characters (up to 222 with dots, each dot-separated part at most 63); lower-case letters,
 * digits, `-`, `_` and `.`; a letter or digit first and last; not an IP address; no `goog` prefix
 * and no `google` inside.
 */
export function bucketNameProblem(name: string): string | undefined {
    const max = name.includes(".") ? 222 : 63;
    if (name.length < 3 || name.length > max) return `must be 3-${max} characters`;
    if (!/^[a-z0-9][a-z0-9._-]*[a-z0-9]$/.test(name)) return "must be lower-case letters, digits, '-', '_' or '.', starting and ending with a letter or digit";
    if (name.split(".").some((part) => part.length > 63)) return "each dot-separated part must be at most 63 characters";
    if (/^[0-9]{1,3}(\.[0-9]{1,3}){3}$/.test(name)) return "must not be an IP address";
    if (name.startsWith("goog") || name.includes("google")) return "must not start with 'goog' or contain 'google'";
    return undefined;
}

/** A comma-separated list; unset or empty is none. */
function commaList(text: string | undefined): string[] {
    return text === undefined || text === "" ? [] : text.split(",");
}

/**
 * EXTRA_IMAGES and EXTRA_WEIGHTS_BUCKETS, checked. EXTRA_IMAGES: comma-separated Artifact
 * Registry references with IMAGE's image name and tag (the same image, pushed to other
 * repositories); EXTRA_WEIGHTS_BUCKETS: comma-separated bucket names that get a server-side copy
 * of `gs://<WEIGHTS_BUCKET>/<model>/<revision>`, only with WEIGHTS_BUCKET.
 */
export function parseExtras(env: Env): { images: string[]; weightsBuckets: string[]; problems: string[] } {
    const images = commaList(env.EXTRA_IMAGES);
    const weightsBuckets = commaList(env.EXTRA_WEIGHTS_BUCKETS);
    const problems: string[] = [];
    if (images.length > 0) {
        const imageProblems: string[] = [];
        const home = parseRegistryImage(env.IMAGE ?? "");
        if (home === undefined) imageProblems.push(`IMAGE "${env.IMAGE ?? ""}" must be an Artifact Registry image <region>-docker.pkg.dev/<project>/<repository>/<image>:<tag> to push copies of`);
        const seen = new Set<string>([env.IMAGE ?? ""]);
        for (const ref of images) {
            const extra = parseRegistryImage(ref);
            if (extra === undefined) {
                imageProblems.push(`"${ref}" is not an Artifact Registry image <region>-docker.pkg.dev/<project>/<repository>/<image>:<tag>`);
            } else if (home !== undefined && (extra.image !== home.image || extra.tag !== home.tag)) {
                imageProblems.push(`"${ref}" must have IMAGE's image name and tag (${home.image}:${home.tag}): it is the same image in another repository`);
            }
            if (seen.has(ref)) imageProblems.push(ref === env.IMAGE ? `"${ref}" is IMAGE itself` : `"${ref}" is listed twice`);
            seen.add(ref);
        }
        if (imageProblems.length > 0) problems.push(`EXTRA_IMAGES: ${imageProblems.join("; ")}`);
    }
    if (weightsBuckets.length > 0) {
        const bucketProblems: string[] = [];
        const home = env.WEIGHTS_BUCKET ?? "";
        if (home === "") bucketProblems.push("needs WEIGHTS_BUCKET (a weights: gcs build), the bucket the copies come from");
        const seen = new Set<string>([home]);
        for (const name of weightsBuckets) {
            const why = bucketNameProblem(name);
            if (why !== undefined) bucketProblems.push(`"${name}" is not a bucket name: it ${why}`);
            if (seen.has(name)) bucketProblems.push(name === home ? `"${name}" is WEIGHTS_BUCKET itself` : `"${name}" is listed twice`);
            seen.add(name);
        }
        if (bucketProblems.length > 0) problems.push(`EXTRA_WEIGHTS_BUCKETS: ${bucketProblems.join("; ")}`);
    }
    return { images, weightsBuckets, problems };
}

/** What copies weights between buckets: the image upload-weights uses, with gcloud in it. */
export const COPY_WEIGHTS_BUILDER = "gcr.io/google.com/cloudsdktool/cloud-sdk:slim";

/** The id of the step that copies the weights to `bucket`. */
export function copyWeightsStepId(bucket: string): string {
    return `copy-weights-to-${bucket}`;
}

/**
 * The build config for several regions, from docker/'s (which stays as it is: its bytes are in
 * the image tag). With no extras: the text unchanged.
 * - Every extra image is a `--tag` of the build step too, and listed under `images`: Cloud Build
 *   pushes each `images` entry after the last step, and marks the build FAILURE if any push
 *   fails (https://cloud.google.com/build/docs/build-config-file-schema#images); an entry not
 *   tagged in the worker's Docker fails as PUSH_IMAGE_NOT_FOUND ("Final image not found", Build
 *   FailureInfo). One image tagged N times: every push is the same manifest.
 * - Every extra bucket gets a step right after upload-weights (in order) that copies the
 *   uploaded weights from bucket to bucket, in the cloud (`gcloud storage rsync` between two
 *   gs:// URLs copies server-side, nothing passes through the worker). Between two buckets rsync
 *   compares hashes only and patches no mtime (googlecloudsdk/command_lib/storage/
 *   rsync_command_util.py, gcloud 528), so copying again after a rebuild needs no more than the
 *   create and view grants the home bucket has.
 * Values are literals (validated by parseExtras), so the substitutions stay the same set.
 */
export function renderBuildConfig(text: string, extras: { images: readonly string[]; weightsBuckets: readonly string[] }): string {
    if (extras.images.length === 0 && extras.weightsBuckets.length === 0) return text;
    const doc = YAML.parseDocument(text);
    if (doc.errors.length > 0) throw new Error(`the build config is not YAML: ${doc.errors[0].message}`);
    const steps = doc.get("steps");
    if (!YAML.isSeq(steps)) throw new Error("the build config has no steps list");
    const step = (id: string): YAML.YAMLMap => {
        const found = steps.items.find((x) => YAML.isMap(x) && x.get("id") === id);
        if (!YAML.isMap(found)) throw new Error(`the build config has no step "${id}"`);
        return found;
    };
    if (extras.images.length > 0) {
        const args = step("build").get("args");
        const at = YAML.isSeq(args) ? args.items.findIndex((a) => YAML.isScalar(a) && a.value === "--tag=${_IMAGE}") : -1;
        if (!YAML.isSeq(args) || at < 0) throw new Error('the build config\'s "build" step has no --tag=${_IMAGE} argument');
        args.items.splice(at + 1, 0, ...extras.images.map((i) => doc.createNode(`--tag=${i}`)));
        const images = doc.get("images");
        if (!YAML.isSeq(images)) throw new Error("the build config has no images list");
        for (const i of extras.images) images.items.push(doc.createNode(i));
    }
    if (extras.weightsBuckets.length > 0) {
        const at = steps.items.indexOf(step("upload-weights"));
        const copies = extras.weightsBuckets.map((bucket) =>
            doc.createNode({
                id: copyWeightsStepId(bucket),
                name: COPY_WEIGHTS_BUILDER,
                entrypoint: "gcloud",
                args: ["storage", "rsync", "--recursive", "gs://${_WEIGHTS_BUCKET}/${_MODEL}/${_MODEL_REVISION}", `gs://${bucket}/\${_MODEL}/\${_MODEL_REVISION}`],
            }),
        );
        steps.items.splice(at + 1, 0, ...copies);
    }
    return `# Rendered by deploy/cloud-build.ts for EXTRA_IMAGES / EXTRA_WEIGHTS_BUCKETS (one build, every region).\n${doc.toString()}`;
}

/**
 * The source gcloud uploads when docker/ as it is will not do, else undefined: a private copy
 * (renderedSource) with the rendered Dockerfile for LoRA adapters and the rendered build config
 * for extra images and buckets. Remove it with fs.rmSync.
 */
export function renderedBuildSource(sourceDir: string, buildConfig: string, s: Pick<Settings, "loraAdapters" | "extraImages" | "extraWeightsBuckets">): string | undefined {
    const extras = { images: s.extraImages, weightsBuckets: s.extraWeightsBuckets };
    if (s.loraAdapters.length === 0 && extras.images.length === 0 && extras.weightsBuckets.length === 0) return undefined;
    const dir = renderedSource(sourceDir, s.loraAdapters);
    try {
        const config = path.join(dir, buildConfig);
        fs.writeFileSync(config, renderBuildConfig(fs.readFileSync(config, "utf8"), extras));
        return dir;
    } catch (e) {
        fs.rmSync(dir, { recursive: true, force: true });
        throw e;
    }
}

/** The Cloud Build substitutions, in the order the build config documents them. */
export function substitutions(env: Env): Record<string, string> {
    const subs: Record<string, string> = {
        _BASE_IMAGE: env.BASE_IMAGE ?? "",
        _MODEL: env.MODEL ?? "",
        _MODEL_REVISION: env.MODEL_REVISION ?? "",
        _IMAGE: env.IMAGE ?? "",
        _HF_TOKEN_VERSION: env.HF_TOKEN_VERSION ?? "",
    };
    if ((env.WEIGHTS_BUCKET ?? "") !== "") subs._WEIGHTS_BUCKET = env.WEIGHTS_BUCKET as string;
    return subs;
}

/**
 * Arguments of `gcloud` (without the program name) that submit the build: the former shell
 * BUILD_COMMAND, flag for flag, plus `--async --format=json` so gcloud returns the Build resource
 * at once. Flags from surface/builds/submit.py and command_lib/builds/flags.py. `sourceDir`
 * replaces SOURCE_DIR when LoRA adapters or extra images/buckets need a rendered copy of it
 * (renderedBuildSource).
 */
export function submitArgs(env: Env, sourceDir?: string): string[] {
    settings(env);
    const e = env as Record<(typeof REQUIRED_ENV)[number], string>;
    const source = sourceDir ?? e.SOURCE_DIR;
    const subs = Object.entries(substitutions(env)).map(([k, v]) => `${k}=${v}`).join(",");
    return [
        "builds",
        "submit",
        source,
        `--project=${e.PROJECT}`,
        `--region=${e.REGION}`,
        `--config=${source}/${e.BUILD_CONFIG}`,
        `--substitutions=${subs}`,
        `--service-account=projects/${e.PROJECT}/serviceAccounts/${e.BUILD_SERVICE_ACCOUNT}`,
        `--gcs-source-staging-dir=gs://${e.STAGING_BUCKET}/source`,
        `--machine-type=${e.MACHINE_TYPE}`,
        `--disk-size=${e.DISK_SIZE_GB}`,
        `--timeout=${e.TIMEOUT_SECONDS}s`,
        "--async",
        "--format=json",
    ];
}

/** `gcloud builds describe` (surface/builds/describe.py: BUILD, --region). */
export function describeArgs(id: string, s: Pick<Settings, "project" | "region">): string[] {
    return ["builds", "describe", id, `--project=${s.project}`, `--region=${s.region}`, "--format=json"];
}

/** `gcloud builds cancel` (surface/builds/cancel.py: BUILDS..., --region). */
export function cancelArgs(id: string, s: Pick<Settings, "project" | "region">): string[] {
    return ["builds", "cancel", id, `--project=${s.project}`, `--region=${s.region}`];
}

/** `gcloud builds log` (surface/builds/log.py): prints the whole log of a finished build. */
export function fullLogArgs(id: string, s: Pick<Settings, "project" | "region">): string[] {
    return ["builds", "log", id, `--project=${s.project}`, `--region=${s.region}`];
}

/** Cloud Logging's `labels.build_step` of a step: `Step #<index> - "<id>"`, or `Step #<index>`. */
export function stepLabel(index: number, id: string | undefined): string {
    return id ? `Step #${index} - "${id}"` : `Step #${index}`;
}

function quoteFilterValue(v: string): string {
    return `"${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/**
 * The Cloud Logging filter for a build's log (the one logs.py GCLLogTailer.Print uses), narrowed
 * to one step when a step label is given.
 */
export function buildLogFilter(build: Pick<Build, "id" | "createTime">, project: string, step?: string): string {
    const clauses = [
        `logName=${quoteFilterValue(`projects/${project}/logs/cloudbuild`)}`,
        `resource.type="build"`,
        `resource.labels.build_id=${quoteFilterValue(build.id)}`,
    ];
    // A timestamp clause also keeps `logging read` from adding its default 1-day freshness bound.
    if (build.createTime) clauses.push(`timestamp>=${quoteFilterValue(build.createTime)}`);
    if (step !== undefined) clauses.push(`labels.build_step=${quoteFilterValue(step)}`);
    return clauses.join(" AND ");
}

/** `gcloud logging read`: the newest `limit` entries matching the filter (surface/logging/read.py). */
export function logReadArgs(filter: string, project: string, limit = LOG_TAIL_LINES): string[] {
    return ["logging", "read", filter, `--project=${project}`, "--order=desc", `--limit=${limit}`, "--format=json"];
}

/** A command line to show a person (single-quoted where a shell would need it). */
export function commandLine(args: string[]): string {
    return ["gcloud", ...args].map((a) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`)).join(" ");
}

// ---------------------------------------------------------------------------------------------
// Parsing gcloud output (pure)

/**
 * The fields of the Build resource used here: cloudbuild v1 Build and BuildStep
 * (generated_clients/apis/cloudbuild/v1/cloudbuild_v1_messages.py), one JSON object as
 * core/resource/json_printer.py prints a single resource.
 */
export interface BuildStep {
    id?: string;
    name?: string;
    status?: string;
    exitCode?: number;
    timing?: { startTime?: string; endTime?: string };
}
export interface Build {
    id: string;
    projectId?: string;
    status: string;
    statusDetail?: string;
    logUrl?: string;
    createTime?: string;
    startTime?: string;
    finishTime?: string;
    timeout?: string;
    steps?: BuildStep[];
    results?: { images?: { name?: string; digest?: string }[] };
    failureInfo?: { type?: string; detail?: string };
    warnings?: { text?: string; priority?: string }[];
}

/** Parses `gcloud builds submit --async --format=json` / `builds describe --format=json`. */
export function parseBuild(stdout: string): Build {
    let value: unknown;
    try {
        value = JSON.parse(stdout);
    } catch {
        throw new Error(`gcloud did not print a Build resource as JSON: ${redact(stdout.trim().slice(0, 200))}`);
    }
    const b = value as Partial<Build> | null;
    if (b === null || typeof b !== "object" || typeof b.id !== "string" || typeof b.status !== "string") {
        throw new Error(`gcloud printed JSON that is not a Build resource: ${redact(stdout.trim().slice(0, 200))}`);
    }
    return b as Build;
}

/**
 * Lines of `gcloud logging read --format=json`: a JSON list (json_printer.py) of LogEntry
 * (generated_clients/apis/logging/v2/logging_v2_messages.py), newest first; returned oldest first.
 */
export function parseLogEntries(stdout: string): string[] {
    const entries = JSON.parse(stdout) as { textPayload?: string; jsonPayload?: { message?: string } }[];
    if (!Array.isArray(entries)) throw new Error("gcloud logging read did not print a JSON list");
    return entries
        .map((e) => e.textPayload ?? e.jsonPayload?.message ?? "")
        .reverse()
        .flatMap((t) => t.replace(/\n+$/, "").split("\n"));
}

export interface StepRef {
    index: number;
    /** The step's id, or `#<index>` when it has none. */
    name: string;
    label: string;
    status: string;
    exitCode?: number;
}

function stepRef(steps: BuildStep[], index: number): StepRef {
    const s = steps[index];
    return { index, name: s.id ?? `#${index}`, label: stepLabel(index, s.id), status: s.status ?? "PENDING", exitCode: s.exitCode };
}

/** The step running now (the last WORKING one), else the last that has a status. */
export function currentStep(build: Build): StepRef | undefined {
    const steps = build.steps ?? [];
    let last: number | undefined;
    for (let i = 0; i < steps.length; i++) {
        if (steps[i].status === "WORKING") return stepRef(steps, i);
        if (steps[i].status !== undefined && steps[i].status !== "QUEUED" && steps[i].status !== "PENDING") last = i;
    }
    return last === undefined ? undefined : stepRef(steps, last);
}

/** The step that failed: the first with a failed status, else (cancelled mid-step) the one running. */
export function failedStep(build: Build): StepRef | undefined {
    const steps = build.steps ?? [];
    const i = steps.findIndex((s) => FAILED_STEP_STATUSES.includes(s.status ?? ""));
    if (i >= 0) return stepRef(steps, i);
    const working = steps.findIndex((s) => s.status === "WORKING");
    return working >= 0 ? stepRef(steps, working) : undefined;
}

export function isTerminal(status: string): boolean {
    return (TERMINAL_STATUSES as readonly string[]).includes(status);
}

// ---------------------------------------------------------------------------------------------
// Formatting and redaction (pure)

const REDACTIONS: [RegExp, string][] = [
    // Hugging Face tokens.
    [/hf_[A-Za-z0-9]{20,}/g, "hf_[REDACTED]"],
    // Any bearer credential (an HTTP header echoed by a tool).
    [/\bBearer\s+[A-Za-z0-9._~+/=-]+/gi, "Bearer [REDACTED]"],
    // Google OAuth access tokens, in case one is printed without "Bearer".
    [/\bya29\.[A-Za-z0-9._-]+/g, "ya29.[REDACTED]"],
];

/** Removes anything that looks like a token. Every line this script prints goes through it. */
export function redact(text: string): string {
    return REDACTIONS.reduce((t, [re, by]) => t.replace(re, by), text);
}

export function formatDuration(ms: number): string {
    const total = Math.max(0, Math.round(ms / 1000));
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = total % 60;
    const pad = (n: number) => String(n).padStart(2, "0");
    return h > 0 ? `${h}h${pad(m)}m${pad(s)}s` : m > 0 ? `${m}m${pad(s)}s` : `${s}s`;
}

/** One compact progress line: build id, status, current step and its status, elapsed time. */
export function progressLine(build: Build, elapsedMs: number): string {
    const steps = build.steps ?? [];
    const step = currentStep(build);
    const stepText = step ? `step ${step.index + 1}/${steps.length} ${step.name}: ${step.status}` : build.status === "QUEUED" || build.status === "PENDING" ? "waiting for a worker" : "no step started";
    return `Cloud Build ${build.id}: ${build.status} | ${stepText} | ${formatDuration(elapsedMs)} elapsed`;
}

/**
 * Lines printed when the build succeeds: every pushed image with its digest. With `expected`
 * (IMAGE and the extra images), a warning for any the build did not report, and when they do not
 * all have one digest (ImageBuild then stops the deploy: every region must run the same image).
 */
export function successReport(build: Build, elapsedMs: number, expected?: readonly string[]): string[] {
    const lines = [`Cloud Build ${build.id}: SUCCESS after ${formatDuration(elapsedMs)}.`];
    const images = build.results?.images ?? [];
    for (const image of images) lines.push(`Pushed ${image.name ?? "image"}${image.digest ? `@${image.digest}` : ""}`);
    if (images.length === 0) lines.push("The build reported no pushed image.");
    if (expected !== undefined && expected.length > 1) {
        const digests = new Map<string, string>();
        for (const name of expected) {
            const digest = images.find((i) => i.name === name)?.digest;
            if (digest === undefined) lines.push(`WARNING: the build did not report pushing ${name}.`);
            else digests.set(name, digest);
        }
        if (new Set(digests.values()).size > 1) {
            lines.push(`WARNING: the pushed images do not all have the same digest: ${[...digests].map(([n, d]) => `${n}@${d}`).join(", ")}.`);
        }
    }
    for (const w of build.warnings ?? []) lines.push(`${w.priority ?? "WARNING"}: ${w.text ?? ""}`);
    return lines;
}

/** What reading the failing step's log produced. */
export type LogTail =
    | { kind: "step"; lines: string[] }
    | { kind: "build"; lines: string[] }
    | { kind: "empty" }
    | { kind: "denied"; error: string }
    | { kind: "error"; error: string };

/** Lines printed when the build ends in anything but SUCCESS. */
export function failureReport(build: Build, tail: LogTail, s: Settings, elapsedMs: number): string[] {
    const step = failedStep(build);
    const steps = build.steps ?? [];
    const lines: string[] = [];
    const stepText = step
        ? `step ${step.index + 1}/${steps.length} "${step.name}" ended ${step.status}${step.exitCode !== undefined ? ` (exit code ${step.exitCode})` : ""}`
        : "no build step failed";
    lines.push(`Cloud Build ${build.id}: ${build.status} after ${formatDuration(elapsedMs)}: ${stepText}.`);
    const detail = build.failureInfo?.detail ?? build.statusDetail;
    if (detail) lines.push(`  ${detail}`);
    if (build.status === "TIMEOUT") {
        lines.push(`  The build ran past its ${s.timeoutSeconds}s timeout; raise it with: npx pulumi config set buildTimeoutMinutes MINUTES`);
    }
    const what = step ? `step "${step.name}"` : "the build";
    switch (tail.kind) {
        case "step":
        case "build": {
            const whose = tail.kind === "step" ? what : "the build (no lines carry the step's label)";
            lines.push(`---- last ${tail.lines.length} log lines of ${whose} ----`);
            lines.push(...tail.lines);
            lines.push("---- end of excerpt ----");
            break;
        }
        case "empty":
            lines.push(`No log lines of ${what} in Cloud Logging yet (entries can lag a few seconds).`);
            break;
        case "denied":
            lines.push(`Could not read the log from Cloud Logging: permission denied. Reading it needs roles/logging.viewer (logging.logEntries.list) on project ${s.project}.`);
            lines.push(`  ${firstLine(tail.error)}`);
            break;
        case "error":
            lines.push(`Could not read the log from Cloud Logging: ${firstLine(tail.error)}`);
            break;
    }
    if (build.logUrl) lines.push(`Console log: ${build.logUrl}`);
    lines.push(`Whole log:   ${commandLine(fullLogArgs(build.id, s))}`);
    return lines;
}

function firstLine(text: string): string {
    return text.trim().split("\n")[0] ?? "";
}

/** A one-line hint for an error gcloud printed, or undefined when there is nothing to add. */
export function gcloudHint(stderr: string, s: Pick<Settings, "project">): string | undefined {
    if (/You do not currently have an active account selected|Reauthentication failed|problem refreshing your current auth tokens|invalid_grant/i.test(stderr)) {
        return "Hint: log gcloud in with `gcloud auth login` (the build uses gcloud's own login, not Application Default Credentials).";
    }
    if (/SERVICE_DISABLED|has not been used in project|it is disabled|API \[\S+\] not enabled/i.test(stderr)) {
        return `Hint: enable the API (\`gcloud services enable cloudbuild.googleapis.com --project=${s.project}\`), or if this stack just enabled it, wait a minute and run \`npx pulumi up\` again.`;
    }
    if (/PERMISSION_DENIED|does not have permission|HTTPError 403|\b403\b/i.test(stderr)) {
        return `Hint: your gcloud account needs roles/cloudbuild.builds.editor on project ${s.project} and roles/iam.serviceAccountUser on the build service account (Owner has both); new grants can take minutes to apply.`;
    }
    // Some projects may build only in a few regions (https://cloud.google.com/build/docs/locations).
    if (/FAILED_PRECONDITION|cannot run builds in this region/i.test(stderr)) {
        return "Hint: this project may not run Cloud Build in this region; unset buildRegion (`npx pulumi config rm buildRegion`) to build in the nearest region every project may use (us-central1, us-west2, europe-west1, asia-east1, australia-southeast1, southamerica-east1).";
    }
    if (/Unable to read file|could not find source/i.test(stderr)) {
        return "Hint: run from the Pulumi program directory; SOURCE_DIR and BUILD_CONFIG are relative to it.";
    }
    return undefined;
}

function isAuthError(stderr: string): boolean {
    return /You do not currently have an active account selected|Reauthentication failed|problem refreshing your current auth tokens|invalid_grant|PERMISSION_DENIED|SERVICE_DISABLED/i.test(stderr);
}

// ---------------------------------------------------------------------------------------------
// Running gcloud (thin)

interface Run {
    code: number;
    stdout: string;
    stderr: string;
}

const out = (line: string) => process.stdout.write(`${redact(line)}\n`);
const err = (line: string) => process.stderr.write(`${redact(line)}\n`);

/** gcloud never prompts here: a prompt would hang `pulumi up` (core/disable_prompts). */
function gcloudEnv(): NodeJS.ProcessEnv {
    return { ...process.env, CLOUDSDK_CORE_DISABLE_PROMPTS: "1" };
}

/** The attached gcloud child running now (killed when a signal stops the watch). */
let running: ChildProcess | undefined;

/**
 * Runs gcloud with an argv (no shell). `echoStderr` passes its stderr through, redacted, as it
 * comes. `detached` puts it in its own process group: a Ctrl-C (sent to the whole foreground
 * group) does not reach it, and it outlives this process if Pulumi kills it.
 */
function gcloud(args: string[], opts: { echoStderr?: boolean; detached?: boolean } = {}): Promise<Run> {
    return new Promise((resolve) => {
        const child = spawn("gcloud", args, { env: gcloudEnv(), stdio: ["ignore", "pipe", "pipe"], detached: opts.detached ?? false });
        if (!opts.detached) running = child;
        const done = () => {
            if (running === child) running = undefined;
        };
        let stdout = "";
        let stderr = "";
        let partial = "";
        child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
        child.stderr.setEncoding("utf8").on("data", (d: string) => {
            stderr += d;
            if (!opts.echoStderr) return;
            const parts = (partial + d).split("\n");
            partial = parts.pop() ?? "";
            for (const p of parts) err(p);
        });
        child.on("error", (e) => {
            done();
            resolve({ code: 127, stdout, stderr: `${stderr}ERROR: could not run gcloud: ${e.message}\n` });
        });
        child.on("close", (code, signal) => {
            done();
            if (opts.echoStderr && partial !== "") err(partial);
            resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
        });
    });
}

/** Passes gcloud's error through (redacted) with a hint; returns gcloud's exit code. */
function reportGcloudError(r: Run, s: Pick<Settings, "project">, alreadyEchoed = false): number {
    if (!alreadyEchoed) for (const l of r.stderr.trimEnd().split("\n")) err(l);
    const hint = gcloudHint(r.stderr, s);
    err(hint ?? `gcloud exited with code ${r.code}; its message is above.`);
    return r.code === 0 ? 1 : r.code;
}

/** The failing step's last lines; the whole build's when no line carries the step's label. */
async function readStepLog(build: Build, s: Settings): Promise<LogTail> {
    const step = failedStep(build);
    const attempts: { kind: "step" | "build"; filter: string }[] = [];
    if (step) attempts.push({ kind: "step", filter: buildLogFilter(build, s.project, step.label) });
    attempts.push({ kind: "build", filter: buildLogFilter(build, s.project) });
    for (const attempt of attempts) {
        const r = await gcloud(logReadArgs(attempt.filter, s.project));
        if (r.code !== 0) {
            if (/PERMISSION_DENIED|does not have permission|\b403\b/.test(r.stderr)) return { kind: "denied", error: r.stderr };
            return { kind: "error", error: r.stderr || `gcloud logging read exited with code ${r.code}` };
        }
        let lines: string[];
        try {
            lines = parseLogEntries(r.stdout);
        } catch (e) {
            return { kind: "error", error: (e as Error).message };
        }
        if (lines.length > 0) return { kind: attempt.kind, lines: lines.slice(-LOG_TAIL_LINES) };
    }
    return { kind: "empty" };
}

const SIGNAL_CODES: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

/** Submits, watches and reports; resolves to the process exit code. */
export async function main(env: Env = process.env): Promise<number> {
    let s: Settings;
    try {
        s = settings(env);
    } catch (e) {
        if (!(e instanceof UsageError)) throw e;
        err(`cloud-build: ${e.message}`);
        return 2;
    }
    // With adapters or extra images/buckets gcloud uploads a copy of the context with the
    // rendered Dockerfile and build config; removed once the submission returns (gcloud has
    // uploaded it by then).
    const rendered = renderedBuildSource(env.SOURCE_DIR as string, env.BUILD_CONFIG as string, s);
    const removeRendered = () => {
        if (rendered !== undefined) fs.rmSync(rendered, { recursive: true, force: true });
    };
    // Also when a second signal exits at once.
    process.once("exit", removeRendered);
    let args: string[];
    try {
        args = submitArgs(env, rendered);
    } catch (e) {
        removeRendered();
        process.off("exit", removeRendered);
        throw e;
    }

    const started = Date.now();
    const elapsed = () => Date.now() - started;
    let build: Build | undefined;
    let submitting = true;

    // A signal (Ctrl-C, or Pulumi stopping the Command) cancels the cloud build, so it does not
    // keep running and billing: at once when the build id is known, else as soon as the
    // submission returns it. A second signal exits without waiting.
    let stopping: NodeJS.Signals | undefined;
    let cancelled: Promise<number> | undefined;
    let wake: (() => void) | undefined;
    const sleep = (ms: number) => new Promise<void>((r) => {
        const timer = setTimeout(r, ms);
        wake = () => {
            clearTimeout(timer);
            r();
        };
    });
    const startCancel = (signal: NodeJS.Signals, b: Build): Promise<number> => {
        if (cancelled) return cancelled;
        running?.kill("SIGTERM");
        // Detached, and started before anything is printed: if Pulumi kills this process
        // meanwhile (it sends SIGKILL when it cancels a Command), the cancellation completes.
        const cancelling = gcloud(cancelArgs(b.id, s), { echoStderr: true, detached: true });
        err(`Received ${signal}: cancelling Cloud Build ${b.id}.`);
        cancelled = cancelling.then((r) => {
            if (r.code !== 0) {
                err(`Could not cancel it (see above); it may still be running: ${b.logUrl ?? ""}`);
                err(`Cancel it with: ${commandLine(cancelArgs(b.id, s))}`);
            }
            return SIGNAL_CODES[signal] ?? 1;
        });
        return cancelled;
    };
    /** The cancellation a signal started, if any (a function: the signal handler sets it). */
    const cancellation = () => cancelled;
    const onSignal = (signal: NodeJS.Signals) => {
        if (stopping !== undefined) process.exit(SIGNAL_CODES[signal] ?? 1);
        stopping = signal;
        if (build !== undefined && !isTerminal(build.status)) {
            void startCancel(signal, build);
            wake?.();
        } else if (build === undefined && submitting) {
            err(`Received ${signal}: waiting for the submission to return the build id, to cancel the build.`);
        } else {
            process.exit(SIGNAL_CODES[signal] ?? 1);
        }
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    try {
        // Detached, so a Ctrl-C cannot kill gcloud between creating the build and printing its
        // id, which would leave a build nobody can cancel from here.
        const submitted = await gcloud(args, { echoStderr: true, detached: true });
        submitting = false;
        removeRendered();
        if (submitted.code !== 0) {
            if (stopping) return SIGNAL_CODES[stopping] ?? 1;
            return reportGcloudError(submitted, s, true);
        }
        build = parseBuild(submitted.stdout);
        out(`Cloud Build ${build.id} submitted (${build.status}). Console log: ${build.logUrl ?? "(no URL returned)"}`);
        if (stopping) return await startCancel(stopping, build);

        const deadline = started + (s.timeoutSeconds + s.deadlineMarginSeconds) * 1000;
        let lastLine = "";
        let lastPrinted = 0;
        let pollErrors = 0;
        while (!isTerminal(build.status)) {
            if (Date.now() >= deadline) {
                err(`Cloud Build ${build.id} is still ${build.status} after ${formatDuration(elapsed())}, past its ${s.timeoutSeconds}s timeout plus ${s.deadlineMarginSeconds}s; cancelling it.`);
                const r = await gcloud(cancelArgs(build.id, s), { echoStderr: true });
                if (r.code !== 0) reportGcloudError(r, s, true);
                if (build.logUrl) err(`Console log: ${build.logUrl}`);
                err(`Whole log:   ${commandLine(fullLogArgs(build.id, s))}`);
                return 1;
            }
            await sleep(Math.min(s.pollSeconds * 1000, Math.max(0, deadline - Date.now())));
            const stoppedWhileWaiting = cancellation();
            if (stoppedWhileWaiting) return await stoppedWhileWaiting;
            const r = await gcloud(describeArgs(build.id, s));
            const stoppedWhilePolling = cancellation();
            if (stoppedWhilePolling) return await stoppedWhilePolling;
            let next: Build | undefined;
            try {
                next = r.code === 0 ? parseBuild(r.stdout) : undefined;
            } catch (e) {
                r.stderr = (e as Error).message;
            }
            if (next === undefined) {
                pollErrors++;
                if (isAuthError(r.stderr) || pollErrors >= MAX_POLL_ERRORS) {
                    const code = reportGcloudError(r, s);
                    err(`Stopped watching Cloud Build ${build.id}; it may still be running: ${build.logUrl ?? ""}`);
                    err(`Cancel it with: ${commandLine(cancelArgs(build.id, s))}`);
                    return code;
                }
                err(`gcloud builds describe failed (${pollErrors}/${MAX_POLL_ERRORS}), retrying: ${firstLine(r.stderr)}`);
                continue;
            }
            pollErrors = 0;
            build = next;
            const line = progressLine(build, elapsed());
            const key = line.replace(/ \| [^|]*$/, "");
            if (key !== lastLine || Date.now() - lastPrinted >= HEARTBEAT_MS) {
                out(line);
                lastLine = key;
                lastPrinted = Date.now();
            }
        }

        if (build.status === "SUCCESS") {
            const expected = s.extraImages.length > 0 ? [env.IMAGE as string, ...s.extraImages] : undefined;
            for (const l of successReport(build, elapsed(), expected)) out(l);
            return 0;
        }
        const tail = await readStepLog(build, s);
        for (const l of failureReport(build, tail, s, elapsed())) err(l);
        return 1;
    } finally {
        removeRendered();
        process.off("exit", removeRendered);
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
    }
}

if (require.main === module) {
    main().then(
        (code) => process.exit(code),
        (e: unknown) => {
            err(`cloud-build: ${e instanceof Error ? e.message : String(e)}`);
            process.exit(1);
        },
    );
}
