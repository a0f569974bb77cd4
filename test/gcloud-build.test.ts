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

const cloudbuildText = fs.readFileSync(path.join(DOCKER_DIR, "cloudbuild.yaml"), "utf8");
const cloudbuild = YAML.parse(cloudbuildText) as CloudBuildConfig;

describe("gcloud builds submit, as the program runs it", { skip: skipUnlessAvailable(unavailable) }, () => {
    let environment: Record<string, string>;

    before(async () => {
        if (unavailable) throw new Error(`gcloud tests cannot run: ${unavailable}`);
        const r = await runProgram();
        const build = one(r, "command:local:Command", "vllm-cloudrun-dev-build");
        assert.equal(build.inputs.create, BUILD_COMMAND);
        environment = build.inputs.environment as Record<string, string>;
    });

    it("parses every flag and the build config, stopping only for credentials", () => {
        const r = runBuildCommand(BUILD_COMMAND, environment);
        assert.notEqual(r.status, 0);
        assert.ok(r.output.includes(NO_ACCOUNT), r.output);
        assert.ok(!r.output.includes(FAKE_TOKEN));
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

describe("docker/cloudbuild.yaml, what gcloud does not check", () => {
    const passed = /--substitutions="([^"]+)"/.exec(BUILD_COMMAND)?.[1].split(",").map((kv) => kv.split("=")[0]) ?? [];

    it("uses every substitution passed, and is passed every one it uses", () => {
        const used = [...new Set([...cloudbuildText.matchAll(/\$\{(_[A-Z0-9_]+)\}|\$(_[A-Z0-9_]+)/g)].map((m) => m[1] ?? m[2]))];
        assert.deepEqual(passed.sort(), ["_BASE_IMAGE", "_HF_TOKEN_VERSION", "_IMAGE", "_MODEL", "_MODEL_REVISION"]);
        assert.deepEqual(used.sort(), passed.sort());
    });

    it("has no stray $VAR that Cloud Build would treat as a substitution", () => {
        const yamlWithoutComments = cloudbuildText.split("\n").filter((l) => !l.trim().startsWith("#")).join("\n");
        const dollars = [...yamlWithoutComments.matchAll(/\$(\$|\{?[A-Za-z_][A-Za-z0-9_]*\}?)/g)].map((m) => m[0]);
        for (const d of dollars) assert.match(d, /^\$\{_[A-Z0-9_]+\}$|^\$\$/, `${d} must be a user substitution or escaped as $$`);
    });

    it("uses each secretEnv in a step, and reads the version this deploy wrote", () => {
        const declared = cloudbuild.availableSecrets.secretManager.map((s) => s.env).sort();
        const used = [...new Set(cloudbuild.steps.flatMap((s) => s.secretEnv ?? []))].sort();
        assert.deepEqual(declared, ["HF_TOKEN"]);
        assert.deepEqual(used, declared);
        for (const s of cloudbuild.availableSecrets.secretManager) {
            assert.equal(s.versionName, "${_HF_TOKEN_VERSION}");
            assert.ok(!s.versionName.includes("latest"));
        }
    });

    it("never puts the token on a command line: BuildKit reads it from the step environment", () => {
        const args = cloudbuild.steps[0].args;
        assert.ok(args.includes("--secret=id=hf_token,env=HF_TOKEN"));
        assert.ok(!args.some((a) => /HF_TOKEN=\$|build-arg=HF_TOKEN/.test(a)));
        assert.deepEqual(cloudbuild.steps[0].env, ["DOCKER_BUILDKIT=1"]);
    });

    it("lists the image so Cloud Build pushes it and reports its digest", () => {
        assert.deepEqual(cloudbuild.images, ["${_IMAGE}"]);
        assert.ok(cloudbuild.steps[0].args.includes("--tag=${_IMAGE}"));
    });

    it("logs to Cloud Logging only, as a build with its own service account must", () => {
        assert.equal(cloudbuild.options.logging, "CLOUD_LOGGING_ONLY");
        assert.match(BUILD_COMMAND, /--service-account="projects\/\$PROJECT\/serviceAccounts\/\$BUILD_SERVICE_ACCOUNT"/);
    });
});
