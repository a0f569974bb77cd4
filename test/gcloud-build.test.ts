// The exact `gcloud builds submit` argv deploy/cloud-build.ts runs for the environment the
// program gives the build Command, and docker/cloudbuild.yaml, checked by the real Google Cloud
// CLI. With an empty CLOUDSDK_CONFIG and no account, gcloud parses every flag and the build
// config first and only then stops at "no active account"; any wrong flag, value or config
// field fails earlier with a different message.
import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { DOCKER_DIR } from "../components/image-build";
import { missingEnv, renderedBuildSource, settings, submitArgs, substitutions } from "../deploy/cloud-build";
import { renderedSource } from "../deploy/lora-adapters";
import { FAKE_TOKEN, one, ROOT, runProgram } from "./harness";
import { itUnlessUnavailable } from "./docker";
import { gcloudUnavailable, NO_ACCOUNT, runRealGcloud } from "./gcloud";

const unavailable = gcloudUnavailable();

interface Result {
    status: number;
    output: string;
}

/**
 * Runs gcloud with the script's submit argv, as the Command resource would (in the program
 * directory, no shell), with an empty gcloud config.
 */
function runSubmit(args: string[], environment: Record<string, string>): Result {
    const r = runRealGcloud(args, { cwd: ROOT, env: environment });
    return { status: r.status, output: `${r.stdout}\n${r.stderr}` };
}

interface CloudBuildConfig {
    steps: { id: string; secretEnv?: string[]; args: string[]; env?: string[] }[];
    images: string[];
    availableSecrets: { secretManager: { versionName: string; env: string }[] };
    options: Record<string, string>;
}

const CONFIGS = { image: "cloudbuild.yaml", gcs: "cloudbuild-gcs.yaml" } as const;
type Mode = keyof typeof CONFIGS;

/** The build Command's environment (its `create` command runs deploy/cloud-build.ts with it). */
async function buildEnvironment(mode: Mode): Promise<Record<string, string>> {
    const r = await runProgram({ config: { weights: mode } });
    const build = one(r, "command:local:Command", "vllm-cloudrun-dev-build");
    const environment = build.inputs.environment as Record<string, string>;
    // Everything the script needs is set, and the token is not among it.
    assert.deepEqual(missingEnv(environment), []);
    assert.ok(!JSON.stringify(environment).includes(FAKE_TOKEN));
    return environment;
}

/** The substitution keys the script passes in --substitutions for that environment. */
function passedSubstitutions(environment: Record<string, string>): string[] {
    const flag = submitArgs(environment).find((a) => a.startsWith("--substitutions="));
    assert.ok(flag, "a --substitutions flag");
    const keys = flag.slice("--substitutions=".length).split(",").map((kv) => kv.split("=")[0]).sort();
    assert.deepEqual(keys, Object.keys(substitutions(environment)).sort());
    return keys;
}

/** What the ImageBuild Command adds for two LoRA adapters (test/image-build.test.ts checks it does). */
function withAdapters(environment: Record<string, string>): Record<string, string> {
    return {
        ...environment,
        LORA_ADAPTERS: JSON.stringify([
            { name: "a", repo: "org/adapter-a", revision: "1".repeat(40) },
            { name: "b", repo: "org/adapter-b", revision: "2".repeat(40) },
        ]),
    };
}

// Skipped test by test (so the summary counts them, with the reason) when gcloud is missing outside CI.
const itWithGcloud = itUnlessUnavailable(unavailable);

describe("gcloud builds submit, as the program runs it", () => {
    let environment: Record<string, string>;
    let gcsEnvironment: Record<string, string>;

    before(async () => {
        if (unavailable !== undefined) {
            if (process.env.CI === "true") throw new Error(`gcloud tests cannot run: ${unavailable}`);
            return;
        }
        environment = await buildEnvironment("image");
        gcsEnvironment = await buildEnvironment("gcs");
    });

    itWithGcloud("parses every flag and the build config, stopping only for credentials", () => {
        const r = runSubmit(submitArgs(environment), environment);
        assert.notEqual(r.status, 0);
        assert.ok(r.output.includes(NO_ACCOUNT), r.output);
        assert.ok(!r.output.includes(FAKE_TOKEN));
    });

    itWithGcloud("does the same for the weights: gcs build", () => {
        assert.equal(gcsEnvironment.BUILD_CONFIG, "cloudbuild-gcs.yaml");
        const r = runSubmit(submitArgs(gcsEnvironment), gcsEnvironment);
        assert.ok(r.output.includes(NO_ACCOUNT), r.output);
    });

    itWithGcloud("does the same for builds with two LoRA adapters, from the rendered copy of the source", () => {
        for (const env of [environment, gcsEnvironment].map(withAdapters)) {
            // As deploy/cloud-build.ts main() does it.
            const source = renderedSource(path.join(ROOT, env.SOURCE_DIR), settings(env).loraAdapters);
            try {
                const r = runSubmit(submitArgs(env, source), env);
                assert.notEqual(r.status, 0);
                assert.ok(r.output.includes(NO_ACCOUNT), `${env.BUILD_CONFIG}: ${r.output}`);
                assert.ok(!r.output.includes(FAKE_TOKEN));
            } finally {
                fs.rmSync(source, { recursive: true, force: true });
            }
        }
    });

    itWithGcloud("tells a misspelt flag apart", () => {
        const args = submitArgs(environment);
        assert.equal(args.filter((a) => a.startsWith("--machine-type=")).length, 1);
        const r = runSubmit(args.map((a) => a.replace("--machine-type=", "--machine-typ=")), environment);
        assert.notEqual(r.status, 0);
        assert.ok(!r.output.includes(NO_ACCOUNT));
        assert.match(r.output, /unrecognized arguments: --machine-typ=/);
    });

    itWithGcloud("tells a wrong value apart", () => {
        const wrong = { ...environment, MACHINE_TYPE: "e2-huge" };
        const r = runSubmit(submitArgs(wrong), wrong);
        assert.ok(!r.output.includes(NO_ACCOUNT));
        assert.match(r.output, /argument --machine-type: Invalid choice: 'e2-huge'/);
    });

    itWithGcloud("tells an unknown build config field apart", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ctx-"));
        try {
            for (const f of fs.readdirSync(DOCKER_DIR)) fs.copyFileSync(path.join(DOCKER_DIR, f), path.join(dir, f));
            fs.appendFileSync(path.join(dir, "cloudbuild.yaml"), "\nmachineTyp: E2_HIGHCPU_8\n");
            const elsewhere = { ...environment, SOURCE_DIR: dir };
            const r = runSubmit(submitArgs(elsewhere), elsewhere);
            assert.ok(!r.output.includes(NO_ACCOUNT));
            assert.match(r.output, /as build config: \.machineTyp: unused/);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});

for (const mode of Object.keys(CONFIGS) as Mode[]) {
    const file = CONFIGS[mode];
    const text = fs.readFileSync(path.join(DOCKER_DIR, file), "utf8");
    const config = YAML.parse(text) as CloudBuildConfig;

    describe(`docker/${file}, what gcloud does not check`, () => {
        let passed: string[];
        before(async () => {
            passed = passedSubstitutions(await buildEnvironment(mode));
        });

        it("uses every substitution passed, and is passed every one it uses", () => {
            const used = [...new Set([...text.matchAll(/\$\{(_[A-Z0-9_]+)\}|\$(_[A-Z0-9_]+)/g)].map((m) => m[1] ?? m[2]))].sort();
            const expected = ["_BASE_IMAGE", "_HF_TOKEN_VERSION", "_IMAGE", "_MODEL", "_MODEL_REVISION", ...(mode === "gcs" ? ["_WEIGHTS_BUCKET"] : [])].sort();
            assert.deepEqual(passed, expected);
            assert.deepEqual(used, expected);
        });

        it("passes the same substitutions with LoRA adapters (they reach the build in the rendered Dockerfile)", async () => {
            assert.deepEqual(passedSubstitutions(withAdapters(await buildEnvironment(mode))), passed);
        });

        it("hands the token to the build step as a BuildKit secret from the step environment (adapters download there)", () => {
            assert.ok(config.steps[0].args.includes("--secret=id=hf_token,env=HF_TOKEN"));
            assert.deepEqual(config.steps[0].secretEnv, ["HF_TOKEN"]);
        });

        it("has no stray $VAR that Cloud Build would treat as a substitution", () => {
            const withoutComments = text.split("\n").filter((l) => !l.trim().startsWith("#")).join("\n");
            const dollars = [...withoutComments.matchAll(/\$(\$[A-Za-z_]*|\{?[A-Za-z_][A-Za-z0-9_]*\}?)/g)].map((m) => m[0]);
            for (const d of dollars) assert.match(d, /^\$\{_[A-Z0-9_]+\}$|^\$\$/, `${d} must be a user substitution or escaped as $$`);
        });

        it("uses each secretEnv in a step, and reads the version this deploy wrote", () => {
            const declared = config.availableSecrets.secretManager.map((x) => x.env).sort();
            const used = [...new Set(config.steps.flatMap((x) => x.secretEnv ?? []))].sort();
            assert.deepEqual(declared, ["HF_TOKEN"]);
            assert.deepEqual(used, declared);
            for (const x of config.availableSecrets.secretManager) assert.equal(x.versionName, "${_HF_TOKEN_VERSION}");
        });

        it("never puts the token on a command line or in a build arg", () => {
            for (const step of config.steps) {
                assert.ok(!step.args.some((a) => /HF_TOKEN=|build-arg=HF_TOKEN|--token/.test(a)), step.id);
                assert.ok(!(step.env ?? []).some((e) => e.startsWith("HF_TOKEN")), step.id);
            }
        });

        it("lists the image so Cloud Build pushes it and reports its digest", () => {
            assert.deepEqual(config.images, ["${_IMAGE}"]);
            assert.ok(config.steps[0].args.includes("--tag=${_IMAGE}"));
        });

        it("logs to Cloud Logging only, as a build with its own service account must", () => {
            assert.equal(config.options.logging, "CLOUD_LOGGING_ONLY");
        });
    });
}

describe("docker/cloudbuild.yaml step", () => {
    it("hands the token to BuildKit as a secret from the step environment", () => {
        const config = YAML.parse(fs.readFileSync(path.join(DOCKER_DIR, CONFIGS.image), "utf8")) as CloudBuildConfig;
        assert.ok(config.steps[0].args.includes("--secret=id=hf_token,env=HF_TOKEN"));
        assert.deepEqual(config.steps[0].env, ["DOCKER_BUILDKIT=1"]);
    });

    it("runs the build as the build service account", async () => {
        const environment = await buildEnvironment("image");
        assert.ok(submitArgs(environment).includes(`--service-account=projects/${environment.PROJECT}/serviceAccounts/${environment.BUILD_SERVICE_ACCOUNT}`));
        assert.match(environment.BUILD_SERVICE_ACCOUNT, /@my-proj\.iam\.gserviceaccount\.com$/);
    });
});

// ---------------------------------------------------------------------------------------------
// Several regions: the environment an ImageBuild with two copy regions gives its Command
// (test/.tmp/regions-gcloud-build.ts, so this does not depend on the stack config), and the
// build config deploy/cloud-build.ts renders for it, checked by the real gcloud.

const REGIONS_PROGRAM = path.join("test", ".tmp", "regions-gcloud-build.ts");

async function regionsEnvironment(mode: Mode): Promise<Record<string, string>> {
    const file = path.join(ROOT, REGIONS_PROGRAM);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `import { ImageBuild } from "../../components/image-build";
export = async () => {
    const gcs = process.env.REGIONS_GCLOUD_TEST_MODE === "gcs";
    const copy = (region: string) => ({ region, repositoryId: "vllm-cloudrun-dev", repositoryUrl: region + "-docker.pkg.dev/my-proj/vllm-cloudrun-dev", weightsBucketName: "vllm-cloudrun-dev-weights-" + region });
    new ImageBuild("rg", {
        baseImage: "vllm/vllm-openai:v0.10.2", model: "google/gemma-3-1b-it", modelRevision: "${"d".repeat(40)}",
        baseImagePull: "us-central1-docker.pkg.dev/my-proj/vllm-cloudrun-dev-dockerhub/vllm/vllm-openai@sha256:${"cd".repeat(32)}", baseImageDigest: "sha256:${"cd".repeat(32)}",
        project: "my-proj", region: "us-central1", repositoryId: "vllm-cloudrun-dev", repositoryUrl: "us-central1-docker.pkg.dev/my-proj/vllm-cloudrun-dev",
        stagingBucketName: "vllm-cloudrun-dev-src-my-proj", buildServiceAccountEmail: "vllm-cloudrun-dev-build@my-proj.iam.gserviceaccount.com",
        tokenSecretVersion: "projects/123456789/secrets/vllm-cloudrun-dev-hf-token/versions/1", grants: [],
        ...(gcs ? { weightsBucket: { name: "vllm-cloudrun-dev-weights-my-proj", readers: ["serviceAccount:run@my-proj.iam.gserviceaccount.com"] } } : {}),
        regionCopies: [copy("europe-west4"), copy("asia-southeast1")],
    });
    return {};
};
`);
    process.env.REGIONS_GCLOUD_TEST_MODE = mode;
    try {
        const r = await runProgram({ program: REGIONS_PROGRAM });
        assert.equal(r.error, undefined, String(r.error));
        const environment = one(r, "command:local:Command", "rg-build").inputs.environment as Record<string, string>;
        assert.deepEqual(missingEnv(environment), []);
        return environment;
    } finally {
        delete process.env.REGIONS_GCLOUD_TEST_MODE;
    }
}

describe("gcloud builds submit for several regions, from the rendered build config", () => {
    const environments: Partial<Record<Mode, Record<string, string>>> = {};
    before(async () => {
        for (const mode of Object.keys(CONFIGS) as Mode[]) environments[mode] = await regionsEnvironment(mode);
    });

    /** Runs `fn` with the source deploy/cloud-build.ts main() would upload for that environment. */
    function withRendered(mode: Mode, fn: (env: Record<string, string>, source: string, config: CloudBuildConfig, text: string) => void): void {
        const env = environments[mode] as Record<string, string>;
        const source = renderedBuildSource(path.join(ROOT, env.SOURCE_DIR), env.BUILD_CONFIG, settings(env));
        assert.ok(source !== undefined, "extra images always render a copy");
        try {
            const text = fs.readFileSync(path.join(source, env.BUILD_CONFIG), "utf8");
            fn(env, source, YAML.parse(text) as CloudBuildConfig, text);
        } finally {
            fs.rmSync(source, { recursive: true, force: true });
        }
    }

    for (const mode of Object.keys(CONFIGS) as Mode[]) {
        itWithGcloud(`${CONFIGS[mode]}: parses every flag and the rendered config, stopping only for credentials`, () => {
            withRendered(mode, (env, source) => {
                const r = runSubmit(submitArgs(env, source), env);
                assert.notEqual(r.status, 0);
                assert.ok(r.output.includes(NO_ACCOUNT), r.output);
                assert.ok(!r.output.includes(FAKE_TOKEN));
            });
        });

        itWithGcloud(`${CONFIGS[mode]}: a misspelt field in a rendered step is refused before credentials (gcloud reads the rendered file)`, () => {
            withRendered(mode, (env, source, _config, text) => {
                fs.writeFileSync(path.join(source, env.BUILD_CONFIG), text.replace(/^images:/m, "imagez:"));
                const r = runSubmit(submitArgs(env, source), env);
                assert.ok(!r.output.includes(NO_ACCOUNT), r.output);
                assert.match(r.output, /as build config: \.imagez: unused/);
            });
        });

        it(`${CONFIGS[mode]}: pushes the same name and tag to every region's repository, copies the weights to every region's bucket, and uses only the substitutions passed`, () => {
            withRendered(mode, (env, _source, config, text) => {
                const tag = env.IMAGE.split(":").pop() as string;
                const extra = ["asia-southeast1", "europe-west4"].map((r) => `${r}-docker.pkg.dev/my-proj/vllm-cloudrun-dev/vllm:${tag}`);
                assert.equal(env.IMAGE, `us-central1-docker.pkg.dev/my-proj/vllm-cloudrun-dev/vllm:${tag}`);
                assert.deepEqual(config.images, ["${_IMAGE}", ...extra]);
                for (const image of extra) assert.ok(config.steps[0].args.includes(`--tag=${image}`), image);
                const copies = config.steps.filter((x) => x.id.startsWith("copy-weights-to-"));
                assert.deepEqual(copies.map((x) => x.args[x.args.length - 1]), mode === "gcs" ? ["asia-southeast1", "europe-west4"].map((r) => `gs://vllm-cloudrun-dev-weights-${r}/\${_MODEL}/\${_MODEL_REVISION}`) : []);
                const used = [...new Set([...text.replace(/^\s*#.*$/gm, "").matchAll(/\$\{(_[A-Z0-9_]+)\}/g)].map((m) => m[1]))].sort();
                assert.deepEqual(used, Object.keys(substitutions(env)).sort());
            });
        });
    }
});
