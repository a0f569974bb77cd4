// The exact build command and docker/cloudbuild.yaml the program produces, checked by the
// real Google Cloud CLI. With an empty CLOUDSDK_CONFIG and no account, gcloud parses every
// flag and the build config first and only then stops at "no active account"; any wrong
// flag, value or config field fails earlier with a different message.
import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { BUILD_COMMAND, DOCKER_DIR } from "../components/image-build";
import { FAKE_TOKEN, one, ROOT, runProgram } from "./harness";
import { skipUnlessAvailable } from "./docker";

const NO_ACCOUNT = "You do not currently have an active account selected";

function gcloudUnavailable(): string | undefined {
    const r = spawnSync("gcloud", ["version"], { encoding: "utf8" });
    if (r.error || r.status !== 0) return "the Google Cloud CLI is not installed (apt-get install google-cloud-cli)";
    return undefined;
}
const unavailable = gcloudUnavailable();

interface Result {
    status: number;
    output: string;
}

/** Runs the build command as the Command resource would, with an empty gcloud config. */
function runBuildCommand(script: string, environment: Record<string, string>): Result {
    const config = fs.mkdtempSync(path.join(os.tmpdir(), "gcloud-config-"));
    try {
        // The Command provider runs in the program directory.
        const r = spawnSync("/bin/sh", ["-c", script], {
            cwd: ROOT,
            encoding: "utf8",
            timeout: 120_000,
            env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: config, CLOUDSDK_CONFIG: config, ...environment },
        });
        return { status: r.status ?? -1, output: `${r.stdout}\n${r.stderr}` };
    } finally {
        fs.rmSync(config, { recursive: true, force: true });
    }
}

interface CloudBuildConfig {
    steps: { id: string; secretEnv?: string[]; args: string[]; env?: string[] }[];
    images: string[];
    availableSecrets: { secretManager: { versionName: string; env: string }[] };
    options: Record<string, string>;
}

const CONFIGS = { image: "cloudbuild.yaml", gcs: "cloudbuild-gcs.yaml" } as const;
type Mode = keyof typeof CONFIGS;

async function buildEnvironment(mode: Mode): Promise<Record<string, string>> {
    const r = await runProgram({ config: { weights: mode } });
    const build = one(r, "command:local:Command", "vllm-cloudrun-dev-build");
    assert.equal(build.inputs.create, BUILD_COMMAND);
    return build.inputs.environment as Record<string, string>;
}

/** The substitution keys the command passes, expanded by a real shell as the Command would. */
function passedSubstitutions(environment: Record<string, string>): string[] {
    const template = /--substitutions="([^"]+)"/.exec(BUILD_COMMAND)?.[1] ?? "";
    const r = spawnSync("/bin/sh", ["-c", `printf '%s' "${template}"`], { encoding: "utf8", env: { PATH: process.env.PATH, ...environment } });
    return r.stdout.split(",").map((kv) => kv.split("=")[0]).sort();
}

describe("gcloud builds submit, as the program runs it", { skip: skipUnlessAvailable(unavailable) }, () => {
    let environment: Record<string, string>;
    let gcsEnvironment: Record<string, string>;

    before(async () => {
        if (unavailable) throw new Error(`gcloud tests cannot run: ${unavailable}`);
        environment = await buildEnvironment("image");
        gcsEnvironment = await buildEnvironment("gcs");
    });

    it("parses every flag and the build config, stopping only for credentials", () => {
        const r = runBuildCommand(BUILD_COMMAND, environment);
        assert.notEqual(r.status, 0);
        assert.ok(r.output.includes(NO_ACCOUNT), r.output);
        assert.ok(!r.output.includes(FAKE_TOKEN));
    });

    it("does the same for the weights: gcs build", () => {
        assert.equal(gcsEnvironment.BUILD_CONFIG, "cloudbuild-gcs.yaml");
        const r = runBuildCommand(BUILD_COMMAND, gcsEnvironment);
        assert.ok(r.output.includes(NO_ACCOUNT), r.output);
    });

    it("tells a misspelt flag apart", () => {
        const r = runBuildCommand(BUILD_COMMAND.replace("--machine-type=", "--machine-typ="), environment);
        assert.notEqual(r.status, 0);
        assert.ok(!r.output.includes(NO_ACCOUNT));
        assert.match(r.output, /unrecognized arguments: --machine-typ=/);
    });

    it("tells a wrong value apart", () => {
        const r = runBuildCommand(BUILD_COMMAND, { ...environment, MACHINE_TYPE: "e2-huge" });
        assert.ok(!r.output.includes(NO_ACCOUNT));
        assert.match(r.output, /argument --machine-type: Invalid choice: 'e2-huge'/);
    });

    it("tells an unknown build config field apart", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ctx-"));
        try {
            for (const f of fs.readdirSync(DOCKER_DIR)) fs.copyFileSync(path.join(DOCKER_DIR, f), path.join(dir, f));
            fs.appendFileSync(path.join(dir, "cloudbuild.yaml"), "\nmachineTyp: E2_HIGHCPU_8\n");
            const r = runBuildCommand(BUILD_COMMAND, { ...environment, SOURCE_DIR: dir });
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
        assert.match(BUILD_COMMAND, /--service-account="projects\/\$PROJECT\/serviceAccounts\/\$BUILD_SERVICE_ACCOUNT"/);
    });
});
