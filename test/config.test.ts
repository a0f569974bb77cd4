import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { DEFAULTS, resourceNames } from "../config";
import { CONTRACT_KEYS, configKeyOf, PROJECT_CONFIG_KEYS } from "../config/contract";

import { PROJECT, ROOT, RunOptions, isConfigError, runProgram } from "./harness";

const projectFile = YAML.parse(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8"));
const declared: Record<string, { type: string; default?: unknown; secret?: boolean; description?: string }> = projectFile.config;

describe("Pulumi.yaml config declarations", () => {
    it("declares every project key of the contract, with a type, description and the contract's default", () => {
        assert.deepEqual(Object.keys(declared), PROJECT_CONFIG_KEYS);
        for (const [key, decl] of Object.entries(declared)) {
            assert.ok(decl.type, `${key} has a type`);
            assert.ok(decl.description && decl.description.length > 10, `${key} has a description`);
            if (key === "hfToken") continue;
            const expected = (DEFAULTS as Record<string, unknown>)[key];
            const actual = typeof expected === "number" ? Number(decl.default) : decl.default;
            assert.deepEqual(actual, expected, `default of ${key}`);
        }
    });

    it("README's configuration table has one row per contract key", () => {
        const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
        const table = readme.slice(readme.indexOf("## Configuration"), readme.indexOf("**What a setting costs**"));
        const rows = [...table.matchAll(/^\| `([A-Za-z:]+)`/gm)].map((m) => m[1]);
        assert.deepEqual(rows, CONTRACT_KEYS.map(configKeyOf));
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

describe("example stack files", () => {
    for (const stack of ["dev", "prod"]) {
        it(`Pulumi.${stack}.yaml passes every offline check and fits the quota its comments ask for`, async () => {
            const stackConfig: Record<string, unknown> = YAML.parse(fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8")).config;
            const config = Object.fromEntries(Object.entries(stackConfig).map(([k, v]) => [k.startsWith(`${PROJECT}:`) ? k.slice(PROJECT.length + 1) : k, v]));
            const r = await runProgram({ stack, config });
            assert.equal(r.error, undefined, String(r.error));
            const comments = fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8");
            // The GPU quota the file says it needs is the one the service draws from, for maxInstances.
            assert.equal(stackConfig[`${PROJECT}:gpuZonalRedundancy`] ?? false, false, "new projects have no zonal-redundancy quota");
            assert.match(comments, new RegExp(`${String(stackConfig[`${PROJECT}:maxInstances`])}[^\\n]*(without zonal redundancy|NoZonalRedundancy)|without zonal redundancy" quota`));
            assert.doesNotMatch(comments, /(^|[^x] )pulumi config/m, "commands in comments use npx pulumi");
        });
    }
});

describe("resource names", () => {
    it("derive from project and stack, so stacks never collide", () => {
        const dev = resourceNames(PROJECT, "dev", "p1");
        const prod = resourceNames(PROJECT, "prod", "p1");
        assert.deepEqual(dev, {
            prefix: "vllm-cloudrun-dev",
            service: "vllm-cloudrun-dev",
            repository: "vllm-cloudrun-dev",
            dockerHubRemote: "vllm-cloudrun-dev-dockerhub",
            runtimeAccountId: "vllm-cloudrun-dev-run",
            buildAccountId: "vllm-cloudrun-dev-build",
            secretId: "vllm-cloudrun-dev-hf-token",
            apiKeySecretId: "vllm-cloudrun-dev-api-key",
            dockerHubSecretId: "vllm-cloudrun-dev-dockerhub-token",
            metricsConfigSecretId: "vllm-cloudrun-dev-metrics-config",
            stagingBucket: "vllm-cloudrun-dev-src-p1",
            weightsBucket: "vllm-cloudrun-dev-weights-p1",
            regionWeightsBuckets: {},
        });
        for (const k of Object.keys(dev).filter((k) => k !== "regionWeightsBuckets") as (keyof typeof dev)[]) assert.notEqual(dev[k], prod[k], k);
        // Another region's weights bucket: its own global name, with a short region code.
        assert.deepEqual(resourceNames(PROJECT, "dev", "p1", ["europe-west4", "us-east4", "asia-southeast1"]).regionWeightsBuckets, {
            "europe-west4": "vllm-cloudrun-dev-weights-euw4-p1",
            "us-east4": "vllm-cloudrun-dev-weights-use4-p1",
            "asia-southeast1": "vllm-cloudrun-dev-weights-asse1-p1",
        });
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
    { name: "missing hfToken", opts: { noToken: true }, key: "hfToken", fix: "npx pulumi config set --secret hfToken" },
    { name: "missing project", opts: { noProject: true }, key: "gcp:project", fix: "npx pulumi config set gcp:project" },
    { name: "missing region", opts: { noRegion: true }, key: "gcp:region", fix: "npx pulumi config set gcp:region" },
    { name: "region without L4", opts: { config: { "gcp:region": "us-west1" } }, key: "gcp:region", fix: "npx pulumi config set gcp:region us-east4" },
    { name: "malformed model id", opts: { config: { model: "gemma" } }, key: "model", fix: "npx pulumi config set model google/gemma-3-1b-it" },
    { name: "another model with the default model's revision", opts: { config: { model: "someone/uncatalogued-model" } }, key: "modelRevision", fix: "npx pulumi config set modelRevision FULL_COMMIT_SHA_FROM_THE_MODEL_PAGE" },
    { name: "branch as revision", opts: { config: { modelRevision: "main" } }, key: "modelRevision", fix: "npx pulumi config set modelRevision" },
    { name: "latest image", opts: { config: { vllmImage: "vllm/vllm-openai:latest" } }, key: "vllmImage", fix: "npx pulumi config set vllmImage vllm/vllm-openai:v0.10.2" },
    { name: "untagged image", opts: { config: { vllmImage: "vllm/vllm-openai" } }, key: "vllmImage", fix: "npx pulumi config set vllmImage" },
    { name: "unknown GPU", opts: { config: { gpuType: "nvidia-h100" } }, key: "gpuType", fix: "npx pulumi config set gpuType nvidia-l4" },
    { name: "too few CPUs for an L4", opts: { config: { cpu: 2 } }, key: "cpu", fix: "npx pulumi config set cpu 8" },
    { name: "too little memory for an L4", opts: { config: { memory: "8Gi" } }, key: "memory", fix: "npx pulumi config set memory 32Gi" },
    { name: "malformed memory", opts: { config: { memory: "32GB" } }, key: "memory", fix: "npx pulumi config set memory 32Gi" },
    { name: "min above max instances", opts: { config: { minInstances: 3, maxInstances: 1 } }, key: "minInstances", fix: "npx pulumi config set minInstances 1" },
    { name: "zero max instances", opts: { config: { maxInstances: 0 } }, key: "maxInstances", fix: "npx pulumi config set maxInstances 1" },
    { name: "negative min instances", opts: { config: { minInstances: -1 } }, key: "minInstances", fix: "npx pulumi config set minInstances 0" },
    { name: "concurrency above Cloud Run's limit", opts: { config: { concurrency: 1001 } }, key: "concurrency", fix: "npx pulumi config set concurrency 64" },
    { name: "zero concurrency", opts: { config: { concurrency: 0 } }, key: "concurrency", fix: "npx pulumi config set concurrency 64" },
    { name: "non-integer maxModelLen", opts: { config: { maxModelLen: "8k" } }, key: "maxModelLen", fix: "npx pulumi config set maxModelLen 8192" },
    { name: "gpuMemoryUtilization above 1", opts: { config: { gpuMemoryUtilization: "1.2" } }, key: "gpuMemoryUtilization", fix: "npx pulumi config set gpuMemoryUtilization 0.9" },
    { name: "gpuMemoryUtilization of 0", opts: { config: { gpuMemoryUtilization: "0" } }, key: "gpuMemoryUtilization", fix: "npx pulumi config set gpuMemoryUtilization 0.9" },
    { name: "non-boolean deletionProtection", opts: { config: { deletionProtection: "yes" } }, key: "deletionProtection", fix: "npx pulumi config set deletionProtection false" },
    { name: "invoker without a member type", opts: { config: { invokers: ["alice@example.com"] } }, key: "invokers[0]", fix: "npx pulumi config set --path 'invokers[0]'" },
    { name: "public invoker", opts: { config: { invokers: ["allUsers"] } }, key: "invokers[0]", fix: "npx pulumi config set --path 'invokers[0]'" },
    { name: "unknown build machine", opts: { config: { buildMachineType: "e2-standard-4" } }, key: "buildMachineType", fix: "npx pulumi config set buildMachineType e2-highcpu-8" },
    { name: "build disk too small", opts: { config: { buildDiskSizeGb: 50 } }, key: "buildDiskSizeGb", fix: "npx pulumi config set buildDiskSizeGb 200" },
    { name: "unknown startup mode", opts: { config: { startupMode: "turbo" } }, key: "startupMode", fix: "npx pulumi config set startupMode auto" },
    { name: "unknown weights source", opts: { config: { weights: "s3" } }, key: "weights", fix: "npx pulumi config set weights image" },
    // Cloud Run ties memory to CPU (memory-limits page): > 16 GiB needs 6, > 24 GiB needs 8.
    { name: "4 CPUs with 32Gi (Cloud Run needs 8)", opts: { config: { cpu: 4 } }, key: "cpu", fix: "npx pulumi config set cpu 8   (or: npx pulumi config set memory 16Gi)" },
    { name: "6 CPUs with 25Gi (Cloud Run needs 8)", opts: { config: { cpu: 6, memory: "25Gi" } }, key: "cpu", fix: "npx pulumi config set cpu 8   (or: npx pulumi config set memory 24Gi)" },
    { name: "4 CPUs with 17408Mi (Cloud Run needs 6)", opts: { config: { cpu: 4, memory: "17408Mi" } }, key: "cpu", fix: "npx pulumi config set cpu 6" },
    { name: "project given by display name", opts: { config: { "gcp:project": "My Project" } }, key: "gcp:project", fix: "npx pulumi config set gcp:project YOUR_PROJECT_ID" },
    { name: "project id too short", opts: { config: { "gcp:project": "abc" } }, key: "gcp:project", fix: "npx pulumi config set gcp:project" },
    { name: "domain-scoped project", opts: { config: { "gcp:project": "example.com:my-proj" } }, key: "gcp:project", fix: "npx pulumi config set gcp:project PLAIN_PROJECT_ID" },
    { name: "model id with --", opts: { config: { model: "google/gemma--3" } }, key: "model", fix: "npx pulumi config set model" },
    { name: "model id with a third part", opts: { config: { model: "google/gemma/3" } }, key: "model", fix: "npx pulumi config set model" },
    { name: "model name over 96 characters", opts: { config: { model: `org/${"m".repeat(97)}` } }, key: "model", fix: "npx pulumi config set model" },
    { name: "model id ending in a dot", opts: { config: { model: "google/gemma." } }, key: "model", fix: "npx pulumi config set model" },
    { name: "upper-case commit", opts: { config: { modelRevision: "DCC83EA841AB6100D6B47A070329E1BA4CF78752" } }, key: "modelRevision", fix: "npx pulumi config set modelRevision" },
    { name: "served name with surrounding spaces", opts: { config: { servedModelName: " gemma " } }, key: "servedModelName", fix: "npx pulumi config set servedModelName" },
    { name: "served name with a line break", opts: { config: { servedModelName: "gem\nma" } }, key: "servedModelName", fix: "npx pulumi config set servedModelName" },
    { name: "upper-case image path", opts: { config: { vllmImage: "VLLM/vllm-openai:v0.10.2" } }, key: "vllmImage", fix: "npx pulumi config set vllmImage" },
    { name: "short digest", opts: { config: { vllmImage: "vllm/vllm-openai@sha256:abc" } }, key: "vllmImage", fix: "npx pulumi config set vllmImage" },
    { name: "empty image", opts: { config: { vllmImage: "" } }, key: "vllmImage", fix: "npx pulumi config set vllmImage" },
    { name: "image tag with a slash", opts: { config: { vllmImage: "vllm/vllm-openai:v0/10" } }, key: "vllmImage", fix: "npx pulumi config set vllmImage" },
    { name: "LoRA adapters that are not a list", opts: { config: { loraAdapters: "sql" } }, key: "loraAdapters", fix: "npx pulumi config set --path 'loraAdapters[0].name' sql" },
    { name: "LoRA adapter with a branch as revision", opts: { config: { loraAdapters: [{ name: "sql", repo: "org/sql-lora", revision: "main" }] } }, key: "loraAdapters[0].revision", fix: "npx pulumi config set --path 'loraAdapters[0].revision' FULL_COMMIT_SHA" },
    { name: "fp8 KV cache on vLLM 0.10", opts: { config: { model: "meta-llama/Llama-3.1-8B-Instruct", kvCacheDtype: "fp8" } }, key: "kvCacheDtype", fix: "npx pulumi config set kvCacheDtype auto" },
    { name: "RTX PRO 6000 with an L4's CPU count", opts: { config: { gpuType: "nvidia-rtx-pro-6000", "gcp:region": "us-central1", cpu: 8 } }, key: "cpu", fix: "npx pulumi config set cpu 20" },
    { name: "invoker listed twice", opts: { config: { invokers: ["user:a@example.com", "user:A@example.com"] } }, key: "invokers[1]", fix: "npx pulumi config rm --path 'invokers[1]'" },
    { name: "user invoker without an email", opts: { config: { invokers: ["user:alice"] } }, key: "invokers[0]", fix: "npx pulumi config set --path 'invokers[0]'" },
    { name: "domain invoker with an email", opts: { config: { invokers: ["domain:a@example.com"] } }, key: "invokers[0]", fix: "npx pulumi config set --path 'invokers[0]'" },
    { name: "deleted member", opts: { config: { invokers: ["deleted:user:a@example.com?uid=1"] } }, key: "invokers[0]", fix: "npx pulumi config set --path 'invokers[0]'" },
    { name: "empty invoker", opts: { config: { invokers: [""] } }, key: "invokers[0]", fix: "npx pulumi config set --path 'invokers[0]'" },
    { name: "build disk above gcloud's 1 TB", opts: { config: { buildDiskSizeGb: 2000 } }, key: "buildDiskSizeGb", fix: "npx pulumi config set buildDiskSizeGb 200" },
    { name: "build timeout above 24 h", opts: { config: { buildTimeoutMinutes: 1441 } }, key: "buildTimeoutMinutes", fix: "npx pulumi config set buildTimeoutMinutes 90" },
    { name: "maxModelLen below 16", opts: { config: { maxModelLen: 8 } }, key: "maxModelLen", fix: "npx pulumi config set maxModelLen 8192" },
    { name: "empty hfToken", opts: { noToken: true, secretConfig: { hfToken: "" } }, key: "hfToken", fix: "npx pulumi config set --secret hfToken   (it prompts" },
    { name: "hfToken with a pasted line break", opts: { noToken: true, secretConfig: { hfToken: "hf_pasted-with-a-line-break\n" } }, key: "hfToken", fix: "npx pulumi config set --secret hfToken" },
    { name: "apiKey with a space", opts: { secretConfig: { apiKey: "correct horse battery staple" } }, key: "apiKey", fix: "npx pulumi config set --secret apiKey" },
    { name: "stack name that puts google in bucket names", opts: { stack: "google" }, key: "stack name (staging bucket name)", fix: "npx pulumi stack rename" },
    { name: "Docker ID without its token", opts: { config: { dockerHubUsername: "alice42" } }, key: "dockerHubToken", fix: "npx pulumi config set --secret dockerHubToken" },
    { name: "Docker Hub token without its Docker ID", opts: { secretConfig: { dockerHubToken: "dckr_pat_0123456789abcdef" } }, key: "dockerHubUsername", fix: "npx pulumi config set dockerHubUsername" },
    { name: "Docker Hub token in plain text", opts: { config: { dockerHubUsername: "alice42", dockerHubToken: "dckr_pat_0123456789abcdef" } }, key: "dockerHubToken", fix: "npx pulumi config set --secret dockerHubToken" },
    { name: "upper-case Docker ID", opts: { config: { dockerHubUsername: "Alice" }, secretConfig: { dockerHubToken: "dckr_pat_0123456789abcdef" } }, key: "dockerHubUsername", fix: "npx pulumi config set dockerHubUsername" },
    { name: "stack name too long for service account ids", opts: { stack: "a-very-long-stack-name" }, key: "stack name (build service account id)", fix: "npx pulumi stack rename" },
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
        assert.equal(r.error.note, undefined, "a stack's own commands need no translation");
        assert.doesNotMatch(r.error.message, /VllmCloudRun's args/);
    });
});

describe("values at the edge of what the cloud accepts", () => {
    const ok: { name: string; opts: RunOptions }[] = [
        { name: "6 CPUs with 24Gi", opts: { config: { cpu: 6, memory: "24Gi" } } },
        { name: "4 CPUs with 16Gi", opts: { config: { cpu: 4, memory: "16Gi" } } },
        { name: "8 CPUs with 32768Mi", opts: { config: { cpu: 8, memory: "32768Mi" } } },
        { name: "image by digest only", opts: { config: { vllmImage: `vllm/vllm-openai@sha256:${"e".repeat(64)}` } } },
        { name: "image by tag and digest", opts: { config: { vllmImage: `vllm/vllm-openai:v0.10.2@sha256:${"e".repeat(64)}` } } },
        { name: "image from another registry", opts: { config: { vllmImage: "us-docker.pkg.dev/my-proj/images/vllm:v1" } } },
        { name: "every IAM member kind", opts: { config: { invokers: ["user:a@example.com", "group:g@example.com", "serviceAccount:s@p.iam.gserviceaccount.com", "domain:example.com", "principal://iam.googleapis.com/locations/global/workforcePools/p/subject/s"] } } },
        { name: "build disk of exactly 1024 GB and a 24 h timeout", opts: { config: { buildDiskSizeGb: 1024, buildTimeoutMinutes: 1440 } } },
        { name: "96-character model name", opts: { config: { model: `org/${"m".repeat(96)}`, modelRevision: "0".repeat(40), preflightChecks: false } } },
    ];
    for (const c of ok) {
        it(`accepts ${c.name}`, async () => {
            const r = await runProgram(c.opts);
            assert.equal(r.error, undefined, String(r.error));
        });
    }
});
