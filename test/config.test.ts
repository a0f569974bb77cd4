import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { DEFAULTS, resourceNames } from "../config";

import { PROJECT, ROOT, RunOptions, isConfigError, runProgram } from "./harness";

const projectFile = YAML.parse(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8"));
const declared: Record<string, { type: string; default?: unknown; secret?: boolean; description?: string }> = projectFile.config;

describe("Pulumi.yaml config declarations", () => {
    it("declares every key once, with a type and description, and the code's defaults", () => {
        assert.deepEqual(Object.keys(declared).sort(), [...Object.keys(DEFAULTS), "hfToken"].sort());
        for (const [key, decl] of Object.entries(declared)) {
            assert.ok(decl.type, `${key} has a type`);
            assert.ok(decl.description && decl.description.length > 10, `${key} has a description`);
            if (key === "hfToken") continue;
            const expected = (DEFAULTS as Record<string, unknown>)[key];
            const actual = typeof expected === "number" ? Number(decl.default) : decl.default;
            assert.deepEqual(actual, expected, `default of ${key}`);
        }
    });

    it("declares hfToken secret and required (no default)", () => {
        assert.equal(declared.hfToken.secret, true);
        assert.equal("default" in declared.hfToken, false);
    });

    it("stack files set only declared keys, and never the token in plain text", () => {
        for (const file of ["Pulumi.dev.yaml", "Pulumi.prod.yaml"]) {
            const stackConfig: Record<string, unknown> = YAML.parse(fs.readFileSync(path.join(ROOT, file), "utf8")).config;
            for (const key of Object.keys(stackConfig)) {
                if (key.startsWith("gcp:")) continue;
                assert.ok(key.startsWith(`${PROJECT}:`), `${file}: ${key} is namespaced`);
                const bare = key.slice(PROJECT.length + 1);
                assert.ok(bare in declared, `${file}: ${key} is declared in Pulumi.yaml`);
                assert.notEqual(bare, "hfToken", `${file} must not hold hfToken in plain text`);
            }
            assert.ok(String(stackConfig["gcp:region"]).length > 0, `${file} sets a region`);
        }
    });
});

describe("resource names", () => {
    it("derive from project and stack, so stacks never collide", () => {
        const dev = resourceNames(PROJECT, "dev", "p1");
        const prod = resourceNames(PROJECT, "prod", "p1");
        assert.deepEqual(dev, {
            prefix: "vllm-cloudrun-dev",
            service: "vllm-cloudrun-dev",
            repository: "vllm-cloudrun-dev",
            runtimeAccountId: "vllm-cloudrun-dev-run",
            buildAccountId: "vllm-cloudrun-dev-build",
            secretId: "vllm-cloudrun-dev-hf-token",
            apiKeySecretId: "vllm-cloudrun-dev-api-key",
            stagingBucket: "vllm-cloudrun-dev-src-p1",
            weightsBucket: "vllm-cloudrun-dev-weights-p1",
        });
        for (const k of Object.keys(dev) as (keyof typeof dev)[]) assert.notEqual(dev[k], prod[k], k);
    });

    it("sanitizes stack names into valid ids", () => {
        assert.equal(resourceNames(PROJECT, "Team_A.Staging", "p").prefix, "vllm-cloudrun-team-a-staging");
    });
});

describe("settings", () => {
    it("uses the defaults and serves the model under its own name", async () => {
        const r = await runProgram();
        assert.equal(r.error, undefined);
        assert.equal(r.outputs.model, DEFAULTS.model);
        assert.equal(r.outputs.servedModelName, DEFAULTS.model);
        assert.equal(r.outputs.region, "us-central1");
    });

    it("takes the project from GOOGLE_CLOUD_PROJECT when gcp:project is unset (Cloud Shell)", async () => {
        process.env.GOOGLE_CLOUD_PROJECT = "shell-proj";
        try {
            const r = await runProgram({ noProject: true });
            assert.equal(r.error, undefined);
            const sa = r.resources.find((x) => x.type === "gcp:serviceaccount/account:Account");
            assert.equal(sa?.inputs.project, "shell-proj");
        } finally {
            delete process.env.GOOGLE_CLOUD_PROJECT;
        }
    });
});

interface BadCase {
    name: string;
    opts: RunOptions;
    key: string;
    fix: string;
}

const bad: BadCase[] = [
    { name: "missing hfToken", opts: { noToken: true }, key: "hfToken", fix: "pulumi config set --secret hfToken" },
    { name: "missing project", opts: { noProject: true }, key: "gcp:project", fix: "pulumi config set gcp:project" },
    { name: "missing region", opts: { noRegion: true }, key: "gcp:region", fix: "pulumi config set gcp:region" },
    { name: "region without L4", opts: { config: { "gcp:region": "us-west1" } }, key: "gcp:region", fix: "pulumi config set gcp:region us-central1" },
    { name: "malformed model id", opts: { config: { model: "gemma" } }, key: "model", fix: "pulumi config set model google/gemma-3-1b-it" },
    { name: "branch as revision", opts: { config: { modelRevision: "main" } }, key: "modelRevision", fix: "pulumi config set modelRevision" },
    { name: "latest image", opts: { config: { vllmImage: "vllm/vllm-openai:latest" } }, key: "vllmImage", fix: "pulumi config set vllmImage vllm/vllm-openai:v0.10.2" },
    { name: "untagged image", opts: { config: { vllmImage: "vllm/vllm-openai" } }, key: "vllmImage", fix: "pulumi config set vllmImage" },
    { name: "unknown GPU", opts: { config: { gpuType: "nvidia-h100" } }, key: "gpuType", fix: "pulumi config set gpuType nvidia-l4" },
    { name: "too few CPUs for an L4", opts: { config: { cpu: 2 } }, key: "cpu", fix: "pulumi config set cpu 8" },
    { name: "too little memory for an L4", opts: { config: { memory: "8Gi" } }, key: "memory", fix: "pulumi config set memory 32Gi" },
    { name: "malformed memory", opts: { config: { memory: "32GB" } }, key: "memory", fix: "pulumi config set memory 32Gi" },
    { name: "min above max instances", opts: { config: { minInstances: 3, maxInstances: 1 } }, key: "minInstances", fix: "pulumi config set minInstances 1" },
    { name: "zero max instances", opts: { config: { maxInstances: 0 } }, key: "maxInstances", fix: "pulumi config set maxInstances 1" },
    { name: "negative min instances", opts: { config: { minInstances: -1 } }, key: "minInstances", fix: "pulumi config set minInstances 0" },
    { name: "concurrency above Cloud Run's limit", opts: { config: { concurrency: 1001 } }, key: "concurrency", fix: "pulumi config set concurrency 64" },
    { name: "zero concurrency", opts: { config: { concurrency: 0 } }, key: "concurrency", fix: "pulumi config set concurrency 64" },
    { name: "non-integer maxModelLen", opts: { config: { maxModelLen: "8k" } }, key: "maxModelLen", fix: "pulumi config set maxModelLen 8192" },
    { name: "gpuMemoryUtilization above 1", opts: { config: { gpuMemoryUtilization: "1.2" } }, key: "gpuMemoryUtilization", fix: "pulumi config set gpuMemoryUtilization 0.9" },
    { name: "gpuMemoryUtilization of 0", opts: { config: { gpuMemoryUtilization: "0" } }, key: "gpuMemoryUtilization", fix: "pulumi config set gpuMemoryUtilization 0.9" },
    { name: "non-boolean deletionProtection", opts: { config: { deletionProtection: "yes" } }, key: "deletionProtection", fix: "pulumi config set deletionProtection false" },
    { name: "invoker without a member type", opts: { config: { invokers: ["alice@example.com"] } }, key: "invokers[0]", fix: "pulumi config set --path 'invokers[0]'" },
    { name: "public invoker", opts: { config: { invokers: ["allUsers"] } }, key: "invokers[0]", fix: "pulumi config set --path 'invokers[0]'" },
    { name: "unknown build machine", opts: { config: { buildMachineType: "e2-standard-4" } }, key: "buildMachineType", fix: "pulumi config set buildMachineType e2-highcpu-8" },
    { name: "build disk too small", opts: { config: { buildDiskSizeGb: 50 } }, key: "buildDiskSizeGb", fix: "pulumi config set buildDiskSizeGb 200" },
    { name: "unknown startup mode", opts: { config: { startupMode: "turbo" } }, key: "startupMode", fix: "pulumi config set startupMode auto" },
    { name: "unknown weights source", opts: { config: { weights: "s3" } }, key: "weights", fix: "pulumi config set weights image" },
    { name: "stack name too long for service account ids", opts: { stack: "a-very-long-stack-name" }, key: "stack name (build service account id)", fix: "pulumi stack rename" },
];

describe("bad input fails before any resource is created", () => {
    for (const c of bad) {
        it(c.name, async () => {
            const r = await runProgram(c.opts);
            assert.ok(isConfigError(r.error), `expected a ConfigError, got ${r.error}`);
            const problem = r.error.problems.find((p) => p.key === c.key);
            assert.ok(problem, `a problem names ${c.key}: ${r.error.message}`);
            assert.ok(problem.fix.startsWith(c.fix), `fix for ${c.key}: ${problem.fix}`);
            assert.ok(problem.allowed.length > 10, "says what is allowed");
            assert.match(r.error.message, new RegExp(`- ${c.key.replace(/[[\]()]/g, "\\$&")} = `));
            assert.deepEqual(r.resources.filter((x) => x.type !== "pulumi:pulumi:Stack"), [], "no resources registered");
        });
    }

    it("reports every problem at once", async () => {
        const r = await runProgram({ noToken: true, config: { cpu: 2, maxInstances: 0, vllmImage: "x:latest" } });
        assert.ok(isConfigError(r.error));
        assert.deepEqual(r.error.problems.map((p) => p.key).sort(), ["cpu", "hfToken", "maxInstances", "vllmImage"]);
        assert.match(r.error.message, /^Invalid configuration \(4 problems\); nothing was created:/);
    });
});
