// The contract (config/contract.ts) is the one definition of every key: the generated files
// must match it, and validation must enforce exactly what it says, for stacks and for
// programs that pass VllmCloudRun's args directly.
import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { validateArgs, VllmCloudRunArgs } from "../config";
import { CONTRACT, CONTRACT_KEYS, configKeyOf, CROSS_KEY_RULES, DEFAULTS, fp8GpuProblems, KeyDef, REQUIRED_KEYS, SECRET_KEYS } from "../config/contract";
import { GPU_TYPES } from "../config/gpus";
import * as YAML from "yaml";
import { pulumiYamlConfig } from "../config/contract-render";
import { expectedFiles, pulumiYamlText } from "../scripts/contract";
import { VllmCloudRun } from "../components/vllm-cloudrun";
import { isConfigError, ROOT } from "./harness";

const BASE: VllmCloudRunArgs = { project: "my-proj", region: "us-east4", hfToken: pulumi.secret("hf_x") };

function problemsOf(args: Partial<VllmCloudRunArgs>): { key: string; allowed: string; fix: string }[] {
    try {
        validateArgs("vllm-cloudrun", { ...BASE, ...args });
        return [];
    } catch (e) {
        assert.ok(isConfigError(e), String(e));
        return e.problems;
    }
}

describe("the contract", () => {
    before(async () => {
        await pulumi.runtime.setMocks({ newResource: (a) => ({ id: a.name, state: a.inputs }), call: (a) => a.inputs }, "vllm-cloudrun", "dev", false);
    });

    it("config/args.ts, Pulumi.yaml's config block and README's table are what `npm run contract` writes", () => {
        for (const [file, text] of Object.entries(expectedFiles())) {
            assert.equal(fs.readFileSync(path.join(ROOT, file), "utf8"), text, `${file} is out of date: run npm run contract`);
        }
    });

    it("Pulumi.yaml as `pulumi new` leaves it (re-serialized, no template, pulumi:tags added) still agrees; a changed key does not", () => {
        const cli = YAML.stringify({ name: "vllm-cloudrun", runtime: { name: "nodejs", options: { typescript: true } }, main: "index.ts", config: { "pulumi:tags": { value: { "pulumi:template": "https://github.com/OWNER/vllm-cloudrun" } }, ...pulumiYamlConfig() } });
        assert.equal(pulumiYamlText(cli), cli);
        const drifted = YAML.parse(cli);
        drifted.config.cpu.default = 4;
        const rewritten = YAML.parse(pulumiYamlText(YAML.stringify(drifted)));
        assert.equal(rewritten.config.cpu.default, 0);
        assert.deepEqual(rewritten.config["pulumi:tags"], { value: { "pulumi:template": "https://github.com/OWNER/vllm-cloudrun" } }, "the CLI's tags are kept");
    });

    it("`npm run contract -- --check` agrees, as a user (or CI) runs it", () => {
        const out = execFileSync("npm", ["run", "-s", "contract", "--", "--check"], { cwd: ROOT, encoding: "utf8" });
        assert.equal(out, "");
    });

    it("every key has a description, and a default unless it is one of the three a deploy cannot guess", () => {
        for (const key of CONTRACT_KEYS) assert.ok((CONTRACT[key] as KeyDef).description.length > 20, key);
        assert.deepEqual(REQUIRED_KEYS, ["project", "region", "hfToken"]);
        assert.deepEqual(SECRET_KEYS, ["hfToken", "apiKey", "dockerHubToken", "gcpCredentials", "gcpAccessToken"]);
    });

    it("the defaults alone (plus the required keys) are valid", () => {
        assert.deepEqual(problemsOf({}), []);
    });

    it("missing required keys are each named, with the command that sets them", () => {
        const problems = problemsOf({ project: undefined, region: undefined, hfToken: undefined });
        assert.deepEqual(problems.map((p) => [p.key, p.fix]), [
            ["gcp:project", "npx pulumi config set gcp:project YOUR_PROJECT_ID"],
            ["gcp:region", "npx pulumi config set gcp:region us-east4"],
            ["hfToken", "npx pulumi config set --secret hfToken   (it prompts for the value, so it stays out of your shell history)"],
        ]);
    });

    for (const key of CONTRACT_KEYS.filter((k) => (CONTRACT[k] as KeyDef).max !== undefined || (CONTRACT[k] as KeyDef).min !== undefined)) {
        it(`${key}: the contract's range is enforced at both ends, and a wrong type is refused`, () => {
            const d = CONTRACT[key] as KeyDef;
            const step = d.type === "integer" ? 1 : 0.01;
            if (d.max !== undefined) assert.deepEqual(problemsOf({ [key]: d.max + step }).map((p) => p.key), [key], `above ${d.max}`);
            if (d.min !== undefined) assert.deepEqual(problemsOf({ [key]: d.minExclusive ? d.min : d.min - step }).map((p) => p.key), [key], `below ${d.min}`);
            assert.deepEqual(problemsOf({ [key]: JSON.stringify(d.default) }).map((p) => p.key), [key], "a string is not a number");
            if (d.type === "integer") assert.match(problemsOf({ [key]: (d.default as number) + 0.5 })[0].allowed, /^must be an integer/);
        });
    }

    for (const key of CONTRACT_KEYS.filter((k) => (CONTRACT[k] as KeyDef).oneOf !== undefined)) {
        it(`${key}: only the contract's values are accepted, and the message lists them`, () => {
            const d = CONTRACT[key] as KeyDef;
            for (const v of d.oneOf ?? []) {
                const args: Partial<VllmCloudRunArgs> = { [key]: v };
                // A value that is valid alone may still break a rule across keys; this checks the key's own rule.
                assert.ok(!problemsOf(args).some((p) => p.key === key && p.allowed.startsWith("must be one of")), `${key}=${v}`);
            }
            const [problem] = problemsOf({ [key]: "no-such-value" });
            assert.equal(problem.key, key);
            assert.equal(problem.allowed, `must be one of ${(d.oneOf ?? []).join(", ")}`);
        });
    }

    for (const key of CONTRACT_KEYS.filter((k) => (CONTRACT[k] as KeyDef).type === "boolean")) {
        it(`${key}: a boolean, and "true" is not one`, () => {
            assert.deepEqual(problemsOf({ [key]: "true" }).map((p) => [p.key, p.allowed]), [[key, "must be true or false"]]);
        });
    }

    // One violation per rule across keys: adding a rule without an example here fails the test below.
    const VIOLATIONS: Record<string, Partial<VllmCloudRunArgs>> = {
        "modelRevision+model": { model: "someone/uncatalogued-model" },
        "cpu+gpuType": { cpu: 2 },
        "memory+gpuType": { memory: "8Gi", cpu: 4 },
        "region+gpuType": { region: "us-west1" },
        "cpu+memory": { cpu: 4, memory: "32Gi" },
        "minInstances+maxInstances": { minInstances: 2, maxInstances: 1 },
        "public+apiKey": { public: true },
        "dockerHubUsername+dockerHubToken": { dockerHubUsername: "alice42" },
        "quantization+model": { model: "Qwen/Qwen2.5-7B-Instruct-AWQ", quantization: "fp8" },
        "kvCacheDtype+model": { model: "google/gemma-3-4b-it", kvCacheDtype: "fp8", vllmImage: "vllm/vllm-openai:v0.11.0" },
        "kvCacheDtype+vllmImage": { model: "meta-llama/Llama-3.1-8B-Instruct", kvCacheDtype: "fp8" },
        "vllmImage+gpuType": { gpuType: "nvidia-rtx-pro-6000", region: "us-central1", vllmImage: "vllm/vllm-openai:v0.8.5.post1" },
        "loraAdapters+servedModelName": { servedModelName: "mine", loraAdapters: [{ name: "mine", repo: "org/lora", revision: "b".repeat(40) }] },
        "monthlyBudget+billingAccount": { monthlyBudget: 100 },
        "uptimeCheck+minInstances": { uptimeCheck: "on", alertEmail: "a@example.com" },
        "uptimeCheck+alertEmail": { uptimeCheck: "on", minInstances: 1, maxInstances: 1 },
        "regions+region": { regions: ["europe-west4", "europe-west1"] },
        "regions+gpuType": { regions: ["us-east4", "us-west1"] },
        "regionMaxInstances+regions": { regions: ["us-east4", "europe-west4"], regionMaxInstances: ["asia-southeast1=2"] },
        "regionMinInstances+regionMaxInstances": { regions: ["us-east4", "europe-west4"], regionMinInstances: ["europe-west4=2"] },
        "domain+regions": { domain: "llm.example.com" },
        "rateLimitPerMinute+regions": { rateLimitPerMinute: 60 },
    };
    // Rules no value can break with today's GPUs: their check is tested on its own below.
    const UNREACHABLE = ["quantization+gpuType"];
    it("quantization fp8 is refused on a GPU below compute capability 8.9, and none of today's is", () => {
        assert.deepEqual(fp8GpuProblems("nvidia-t4", { computeCapability: 7.5 }).map((p) => [p.key, p.allowed, p.fix]), [["quantization", "nvidia-t4 has compute capability 7.5; vLLM's FP8 W8A8 needs 8.9", "npx pulumi config set quantization none"]]);
        for (const [gpuType, gpu] of Object.entries(GPU_TYPES)) assert.deepEqual(fp8GpuProblems(gpuType, gpu), [], gpuType);
    });
    for (const rule of CROSS_KEY_RULES.filter((r) => !UNREACHABLE.includes(r.keys.join("+")))) {
        it(`rule across ${rule.keys.join(" and ")}: "${rule.rule}"`, () => {
            const example = VIOLATIONS[rule.keys.join("+")];
            assert.ok(example, "has a violating example in this test");
            const problems = problemsOf(example);
            assert.equal(problems.length, 1, JSON.stringify(problems));
            assert.ok(rule.keys.map((k) => configKeyOf(k)).some((k) => problems[0].key === k || problems[0].key.startsWith(`${k}[`)), problems[0].key);
            assert.match(problems[0].fix, /^npx pulumi config set /);
        });
    }

    it("uptimeCheck on is fine with notification channels alone", () => {
        assert.deepEqual(problemsOf({ uptimeCheck: "on", minInstances: 1, maxInstances: 1, notificationChannels: ["projects/my-proj/notificationChannels/1"] }), []);
    });

    it("a key's own problem silences the rules that involve it (one message per mistake)", () => {
        assert.deepEqual(problemsOf({ cpu: 3, memory: "32Gi" }).map((p) => [p.key, p.allowed]), [["cpu", "nvidia-l4 needs one of 4, 6, 8 CPUs"]]);
        assert.deepEqual(problemsOf({ cpu: 21 }).map((p) => p.key), ["cpu"]);
        assert.deepEqual(problemsOf({ maxInstances: 0, minInstances: 1 }).map((p) => p.key), ["maxInstances"]);
    });

    it("a program constructing VllmCloudRun with bad args gets the same problems, told how they translate", () => {
        // Thrown before super(): not even the component registers.
        assert.throws(
            () => new VllmCloudRun("llm", { ...BASE, cpu: 3, maxInstances: 0 }),
            (e: unknown) => {
                assert.ok(isConfigError(e));
                assert.deepEqual(e.problems.map((p) => p.key), ["maxInstances", "cpu"]);
                assert.match(e.message, /These values are VllmCloudRun's args: set the arg of the same name/);
                return true;
            },
        );
    });

    it("another model with its own revision is fine; a catalogued model needs none (the catalog pins one)", () => {
        assert.deepEqual(problemsOf({ model: "someone/uncatalogued-model", modelRevision: "a".repeat(40) }), []);
        assert.deepEqual(problemsOf({ model: DEFAULTS.model }), []);
        assert.deepEqual(problemsOf({ model: "google/gemma-3-4b-it" }), []);
        // Catalogued without a pinned commit: like any other model.
        assert.deepEqual(problemsOf({ model: "RedHatAI/gemma-3-12b-it-quantized.w4a16" }).map((p) => p.key), ["modelRevision"]);
    });

    it("the GPU picks CPU and memory when they are unset: one change moves a stack to the RTX PRO 6000", () => {
        assert.deepEqual(problemsOf({ gpuType: "nvidia-rtx-pro-6000", region: "us-central1" }), []);
        assert.deepEqual(problemsOf({ gpuType: "nvidia-rtx-pro-6000", region: "us-central1", cpu: 8, memory: "32Gi" }).map((p) => [p.key, p.fix]), [
            ["cpu", "npx pulumi config set cpu 20"],
            ["memory", "npx pulumi config set memory 80Gi"],
        ]);
        assert.deepEqual(problemsOf({ gpuType: "nvidia-rtx-pro-6000", region: "us-east4" }).map((p) => p.key), ["gcp:region"]);
    });

    it("LoRA adapters: each field checked, names unique, ranks only vLLM's", () => {
        const ok = { name: "sql", repo: "org/sql-lora", revision: "c".repeat(40) };
        assert.deepEqual(problemsOf({ loraAdapters: [ok, { ...ok, name: "chat" }], maxLoraRank: 64 }), []);
        assert.deepEqual(
            problemsOf({ loraAdapters: [ok, { ...ok }, { name: "-bad", repo: "no-slash", revision: "main" }] }).map((p) => p.key),
            ["loraAdapters[1].name", "loraAdapters[2].name", "loraAdapters[2].repo", "loraAdapters[2].revision"],
        );
        assert.deepEqual(problemsOf({ loraAdapters: [{ name: "x" }] as never }).map((p) => p.key), ["loraAdapters"]);
        assert.match(problemsOf({ maxLoraRank: 24 })[0].allowed, /one of 8, 16, 32, 64, 128, 256, 320, 512/);
    });
});
