// Access modes: IAM only (default), IAM plus API key, public plus API key; and the smoke test
// that runs at the end of `up`. Exact IAM resources and env wiring per mode, and the key
// never in plain state, outputs or the service's plain environment.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { SMOKE_COMMAND } from "../components/smoke-test";
import { FAKE_TOKEN, RunResult, byType, isConfigError, isSecretValue, one, plainStrings, runProgram } from "./harness";

const API_KEY = "sk-test-0123456789abcdef-KEY";
const RUNTIME = "serviceAccount:vllm-cloudrun-dev-run@my-proj.iam.gserviceaccount.com";
const INVOKER = "gcp:cloudrunv2/serviceIamMember:ServiceIamMember";
const SERVICE = "gcp:cloudrunv2/service:Service";


/** The version number the mock engine gave the API key's secret version. */
function keyVersion(r: RunResult): string {
    return String(one(r, "gcp:secretmanager/secretVersion:SecretVersion", "vllm-cloudrun-dev-api-key-version").state?.version);
}

function envsOf(r: RunResult): { name: string; value?: string; valueSource?: unknown }[] {
    return (one(r, SERVICE).inputs.template as { containers: { envs: { name: string; value?: string; valueSource?: unknown }[] }[] }).containers[0].envs;
}

function argsOf(r: RunResult): string[] {
    return (one(r, SERVICE).inputs.template as { containers: { args: string[] }[] }).containers[0].args;
}

function assertNoPlainSecret(r: RunResult): void {
    for (const res of r.resources) {
        for (const s of plainStrings(res.inputs)) {
            assert.ok(!s.includes(API_KEY), `${res.type} ${res.name} holds the API key in plain text`);
            assert.ok(!s.includes(FAKE_TOKEN), `${res.type} ${res.name} holds the HF token in plain text`);
        }
    }
    assert.ok(!JSON.stringify(r.outputs).includes(API_KEY), "outputs hold the API key");
}

describe("IAM only (default)", () => {
    it("has no key, no key secret, and no public invoker", async () => {
        const r = await runProgram();
        assert.deepEqual(envsOf(r).map((e) => e.name), ["HF_HUB_OFFLINE"]);
        assert.ok(!argsOf(r).includes("--middleware"));
        // The token's secret and the metrics sidecar's config; no key secret.
        assert.deepEqual(byType(r, "gcp:secretmanager/secret:Secret").map((x) => x.inputs.secretId).sort(), ["vllm-cloudrun-dev-hf-token", "vllm-cloudrun-dev-metrics-config"]);
        assert.deepEqual(byType(r, INVOKER), []);
        assert.equal(r.outputs.accessMode, "iam");
    });
});

describe("IAM plus API key", () => {
    it("keeps the key in its own secret, readable by the runtime account only, and passes it by reference", async () => {
        const r = await runProgram({ secretConfig: { apiKey: API_KEY } });
        assert.equal(r.error, undefined);
        const secrets = byType(r, "gcp:secretmanager/secret:Secret");
        assert.deepEqual(secrets.map((x) => x.inputs.secretId).sort(), ["vllm-cloudrun-dev-api-key", "vllm-cloudrun-dev-hf-token", "vllm-cloudrun-dev-metrics-config"]);
        const versions = byType(r, "gcp:secretmanager/secretVersion:SecretVersion").filter((v) => v.name === "vllm-cloudrun-dev-api-key-version");
        assert.equal(versions.length, 1);
        assert.ok(isSecretValue(versions[0].inputs.secretData));
        const accessors = byType(r, "gcp:secretmanager/secretIamMember:SecretIamMember");
        assert.deepEqual(accessors.map((a) => [a.inputs.secretId, a.inputs.member]).sort(), [
            ["vllm-cloudrun-dev-api-key", RUNTIME],
            ["vllm-cloudrun-dev-hf-token", "serviceAccount:vllm-cloudrun-dev-build@my-proj.iam.gserviceaccount.com"],
            ["vllm-cloudrun-dev-metrics-config", RUNTIME],
        ]);
        // The key by reference only; the metrics relay's ports (it reads the key from VLLM_API_KEY).
        assert.deepEqual(envsOf(r), [
            { name: "HF_HUB_OFFLINE", value: "1" },
            { name: "VLLM_CLOUDRUN_METRICS_PORT", value: "9400" },
            { name: "VLLM_CLOUDRUN_UPSTREAM_PORT", value: "8000" },
            { name: "VLLM_API_KEY", valueSource: { secretKeyRef: { secret: "vllm-cloudrun-dev-api-key", version: keyVersion(r) } } },
        ]);
        // vLLM checks its key on /v1/* only; the baked middleware guards the rest (/invocations!).
        assert.deepEqual(argsOf(r).slice(-2), ["--middleware", "vllm_cloudrun_auth.RequireApiKey"]);
        const svc = r.resources.find((x) => x.type === "vllm-cloudrun:service:LlmService");
        assert.deepEqual(svc?.dependsOn.sort(), [
            "vllm-cloudrun:apis:ProjectApis::vllm-cloudrun-dev",
            "vllm-cloudrun:identities:ServiceIdentities::vllm-cloudrun-dev",
            "vllm-cloudrun:secret:TokenSecret::vllm-cloudrun-dev-api-key",
            "vllm-cloudrun:secret:TokenSecret::vllm-cloudrun-dev-metrics-config",
        ]);
        const wait = one(r, "command:local:Command", "vllm-cloudrun-dev-api-key-grant-propagation");
        assert.deepEqual(wait.dependsOn, ["gcp:secretmanager/secretIamMember:SecretIamMember::vllm-cloudrun-dev-api-key-accessor-0"]);
        assert.deepEqual(byType(r, INVOKER), []);
        assert.equal(r.outputs.accessMode, "iam+key");
        assertNoPlainSecret(r);
    });

    it("refuses a key stored in plain text, or a short one", async () => {
        const plain = await runProgram({ config: { apiKey: API_KEY } });
        assert.ok(isConfigError(plain.error));
        assert.deepEqual(plain.error.problems.map((p) => p.key), ["apiKey"]);
        assert.ok(!plain.error.message.includes(API_KEY));
        const short = await runProgram({ secretConfig: { apiKey: "abc" } });
        assert.ok(isConfigError(short.error));
        assert.match(short.error.problems[0].allowed, /16 to 4096 printable ASCII characters/);
    });
});

describe("public", () => {
    it("is refused without an API key", async () => {
        const r = await runProgram({ config: { public: true } });
        assert.ok(isConfigError(r.error));
        assert.deepEqual(r.error.problems.map((p) => p.key), ["public"]);
        assert.match(r.error.problems[0].fix, /pulumi config set --secret apiKey/);
        assert.deepEqual(r.resources.filter((x) => x.type !== "pulumi:pulumi:Stack"), []);
    });

    it("with a key grants allUsers exactly one invoker role", async () => {
        const r = await runProgram({ config: { public: true, invokers: ["user:a@example.com"] }, secretConfig: { apiKey: API_KEY } });
        assert.equal(r.error, undefined);
        assert.deepEqual(byType(r, INVOKER).map((g) => [g.inputs.member, g.inputs.role]), [["user:a@example.com", "roles/run.invoker"], ["allUsers", "roles/run.invoker"]]);
        assert.equal(r.outputs.accessMode, "public+key");
        assert.ok(envsOf(r).some((e) => e.name === "VLLM_API_KEY"));
        assert.deepEqual(argsOf(r).slice(-2), ["--middleware", "vllm_cloudrun_auth.RequireApiKey"]);
        assertNoPlainSecret(r);
    });
});

describe("smoke test at the end of `up`", () => {
    it("is absent unless smokeTest is on", async () => {
        const r = await runProgram();
        assert.equal(r.resources.filter((x) => x.type === "vllm-cloudrun:smoke:SmokeTest").length, 0);
    });

    it("calls the new revision with the service URL, and the key only as a secret", async () => {
        const r = await runProgram({ config: { smokeTest: true }, secretConfig: { apiKey: API_KEY } });
        assert.equal(r.error, undefined);
        const component = one(r, "vllm-cloudrun:smoke:SmokeTest");
        assert.deepEqual(component.dependsOn, ["vllm-cloudrun:service:LlmService::vllm-cloudrun-dev"]);
        const cmd = one(r, "command:local:Command", "vllm-cloudrun-dev-smoke");
        assert.equal(cmd.inputs.create, SMOKE_COMMAND);
        const env = cmd.inputs.environment as Record<string, unknown>;
        // The secret key makes the whole environment map secret in state.
        assert.ok(isSecretValue(env), "the command's environment is secret");
        const plainEnv = env.value as Record<string, unknown>;
        assert.equal(plainEnv.VLLM_API_KEY, API_KEY);
        assert.equal(plainEnv.SERVICE_URL, "https://vllm-cloudrun-dev-abc123-uc.a.run.app");
        assert.equal(plainEnv.SERVED_MODEL_NAME, "google/gemma-3-1b-it");
        assert.equal(plainEnv.SMOKE_SCRIPT, "client/smoke.ts");
        assert.equal(plainEnv.VLLM_ID_TOKEN_SOURCE, "gcloud");
        assertNoPlainSecret(r);
    });
});
