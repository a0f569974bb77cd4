import { afterEach, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { DEFAULTS, Settings } from "../config";
import { checkModelAccess, estimateCost, HttpGet, runPreflight } from "../config/preflight";
import { estimateGpuMemory } from "../config/memory";
import { MODEL_CATALOG } from "../config/model-catalog";
import { GooglePost } from "../config/permissions";
import { DEFAULT_REVISION, FAKE_TOKEN, isConfigError, runProgram } from "./harness";



/** Settings for runPreflight without the Pulumi program around it. */
function settings(over: Partial<Settings> = {}): Settings {
    return {
        project: "p", region: "us-central1", names: {} as Settings["names"], hfToken: pulumi.output(FAKE_TOKEN),
        model: DEFAULTS.model, modelRevision: "dcc83ea841ab6100d6b47a070329e1ba4cf78752", servedModelName: DEFAULTS.model, vllmImage: DEFAULTS.vllmImage,
        baseImage: { registry: "docker.io", path: "vllm/vllm-openai", tag: "v0.10.2" },
        gpuType: "nvidia-l4", cpu: 8, memory: "32Gi", memoryGiB: 32, minInstances: 0, maxInstances: 1, concurrency: 64, maxModelLen: 8192,
        gpuMemoryUtilization: 0.9, gpuZonalRedundancy: false, deletionProtection: false, invokers: [],
        build: { region: "us-central1", machineType: "e2-highcpu-8", diskSizeGb: 200, timeoutMinutes: 90 }, preflightChecks: true, public: false, smokeTest: false, startupMode: "fast", weights: "image", labels: {},
        gcpAuth: {}, notices: [], quantization: "none", kvCacheDtype: "auto", imageInput: true, imagesPerPrompt: 1, loraAdapters: [], maxLoraRank: 0,
        metrics: false, containers: { vllm: { cpu: 8, memoryMiB: 32768 } }, uptimeCheck: false,
        regions: [{ region: over.region ?? "us-central1", home: true, minInstances: over.minInstances ?? 0, maxInstances: over.maxInstances ?? 1 }],
        ...over,
    };
}

/** A fake Hugging Face that records what it was asked. */
function fakeHub(status: number, body: unknown = {}) {
    const calls: { url: string; headers: Record<string, string> }[] = [];
    const http: HttpGet = (url, headers) => {
        calls.push({ url, headers });
        return Promise.resolve({ status, text: JSON.stringify(body) });
    };
    return { http, calls };
}

/** A Resource Manager that grants every permission asked about. */
const allGranted: GooglePost = (_url, body) => Promise.resolve({ status: 200, data: { permissions: (body as { permissions: string[] }).permissions } });

const timeout: HttpGet = () => Promise.reject(Object.assign(new Error(`timeout for Bearer ${FAKE_TOKEN}`), { name: "TimeoutError" }));

const shape = { gpuType: "nvidia-l4", gpuMemoryUtilization: 0.9, maxModelLen: 8192, concurrency: 64, quantization: "none", kvCacheDtype: "auto", imagesPerPrompt: 0, cudaGraphs: false, loras: 0, maxLoraRank: 0 } as const;

describe("GPU memory estimate", () => {
    it("gemma-3-1b fits an L4 with room for hundreds of full-length sequences (22 of 26 layers keep only a 512-token window)", () => {
        const m = estimateGpuMemory(MODEL_CATALOG["google/gemma-3-1b-it"], shape);
        assert.deepEqual([m.budgetGiB, m.weightsGiB, m.kvCacheGiB, m.fullLengthSequences, m.verdict], [20.24, 1.86, 17.36, 413, "fits"]);
    });

    it("Qwen2.5-7B fits, but tightly at concurrency 64", () => {
        const m = estimateGpuMemory(MODEL_CATALOG["Qwen/Qwen2.5-7B-Instruct"], shape);
        assert.equal(m.verdict, "tight");
        assert.ok(m.fullLengthSequences >= 1 && m.fullLengthSequences < 64, String(m.fullLengthSequences));
    });

    it("gemma-3-12b in bf16 does not fit an L4 at all: its weights alone are over the budget", () => {
        const m = estimateGpuMemory(MODEL_CATALOG["google/gemma-3-12b-it"], shape);
        assert.deepEqual([m.verdict, m.limitedBy, m.kvCacheGiB], ["does-not-fit", "weights", 0]);
    });
});

describe("cost estimate", () => {
    it("prices one default instance at about $1.42 an hour, nothing a month at minInstances 0", () => {
        const c = estimateCost(settings());
        assert.deepEqual([c.gpuHour, c.cpuHour, c.memoryHour, c.perInstanceHour, c.monthlyAtMinInstances], [0.67, 0.52, 0.23, 1.42, 0]);
        assert.equal(c.note, undefined);
    });

    it("shows what minInstances 1 and zonal redundancy cost", () => {
        assert.equal(estimateCost(settings({ minInstances: 1 })).monthlyAtMinInstances, 1037);
        assert.equal(estimateCost(settings({ gpuZonalRedundancy: true })).gpuHour, 1.05);
        assert.equal(estimateCost(settings({ cpu: 4, memory: "16Gi", containers: { vllm: { cpu: 4, memoryMiB: 16384 } } })).perInstanceHour, 1.05);
    });

    it("bills every container of the instance, prices the metrics sidecar and its samples, and the alert conditions", () => {
        const withMetrics = estimateCost(settings({ metrics: true, containers: { vllm: { cpu: 6, memoryMiB: 24576 }, sidecar: { cpu: 1, memoryMiB: 512 } } }));
        // 7 vCPU x $0.000018 x 3600 = 0.4536; 24.5 GiB x $0.000002 x 3600 = 0.1764; L4 0.67212; 125 x 120 samples x $0.06/M = 0.00089.
        assert.deepEqual([withMetrics.cpuHour, withMetrics.memoryHour, withMetrics.perInstanceHour, withMetrics.metricsPerInstanceHour], [0.45, 0.18, 1.3, 0.0693]);
        // The samples ($0.0009/h) show below the hourly rounding, in the month: 10 warm instances, 9505 without them.
        assert.equal(estimateCost(settings({ metrics: true, minInstances: 10, containers: { vllm: { cpu: 6, memoryMiB: 24576 }, sidecar: { cpu: 1, memoryMiB: 512 } } })).monthlyAtMinInstances, 9512);
        const alerts = { channels: [], errorPercent: 5, queueMinutes: 5 };
        assert.equal(estimateCost(settings({ alerts })).alertingMonthly, 4.5, "5xx, at maxInstances, failed revision");
        assert.equal(estimateCost(settings({ alerts, metrics: true, uptimeCheck: true })).alertingMonthly, 7.5, "and the queue and the uptime check");
        assert.equal(estimateCost(settings({ metrics: true, uptimeCheck: true })).alertingMonthly, 0, "no alerts without someone to tell");
    });

    it("says when a region is priced above the table's tier", () => {
        assert.match(estimateCost(settings({ region: "asia-southeast1" })).note ?? "", /priced above Tier 1/);
    });
});

describe("gated-model access check", () => {
    it("asks for config.json at the pinned revision, with the token in the header only", async () => {
        const hub = fakeHub(200, { num_hidden_layers: 26 });
        const r = await checkModelAccess("google/gemma-3-1b-it", DEFAULT_REVISION, FAKE_TOKEN, hub.http);
        assert.equal(r.kind, "ok");
        assert.equal(hub.calls[0].url, `https://huggingface.co/google/gemma-3-1b-it/resolve/${DEFAULT_REVISION}/config.json`);
        assert.deepEqual(hub.calls[0].headers, { Authorization: `Bearer ${FAKE_TOKEN}` });
        assert.ok(!hub.calls[0].url.includes(FAKE_TOKEN));
    });

    for (const status of [401, 403]) {
        it(`turns ${status} into an error that says to accept the license`, async () => {
            const err = await runPreflight(settings(), { network: true, http: fakeHub(status).http, googlePost: allGranted }).catch((e: unknown) => e);
            assert.ok(isConfigError(err));
            assert.equal(err.problems[0].key, "hfToken");
            assert.match(err.problems[0].allowed, new RegExp(`answered ${status}.*Accept the model's license at https://huggingface.co/google/gemma-3-1b-it`));
            assert.ok(!err.message.includes(FAKE_TOKEN));
        });
    }

    it("turns 404 into an error about the model id or revision", async () => {
        const err = await runPreflight(settings(), { network: true, http: fakeHub(404).http, googlePost: allGranted }).catch((e: unknown) => e);
        assert.ok(isConfigError(err));
        assert.equal(err.problems[0].key, "modelRevision");
        assert.equal(err.problems[0].fix, "npx pulumi config set modelRevision FULL_COMMIT_SHA");
    });

    it("turns a timeout into a warning and goes on, without echoing the token", async () => {
        const report = await runPreflight(settings(), { network: true, http: timeout, googlePost: allGranted });
        assert.equal(report.warnings.length, 1);
        assert.match(report.warnings[0], /Could not reach Hugging Face .* \(timed out\); continuing/);
        assert.ok(!report.warnings[0].includes(FAKE_TOKEN));
        assert.equal(report.memory?.verdict, "fits", "the catalog still answers");
    });

    it("reads an uncatalogued model's architecture from the Hub and checks its context", async () => {
        const config = { num_hidden_layers: 24, num_attention_heads: 14, num_key_value_heads: 2, hidden_size: 896, intermediate_size: 4864, vocab_size: 151936, max_position_embeddings: 4096, tie_word_embeddings: true };
        const hub = fakeHub(200, config);
        const err = await runPreflight(settings({ model: "someone/small-model" }), { network: true, http: hub.http, googlePost: allGranted }).catch((e: unknown) => e);
        assert.ok(isConfigError(err), "maxModelLen 8192 exceeds the model's 4096");
        assert.deepEqual(err.problems.map((p) => [p.key, p.fix]), [["maxModelLen", "npx pulumi config set maxModelLen 4096"]]);
        const ok = await runPreflight(settings({ model: "someone/small-model", maxModelLen: 4096 }), { network: true, http: hub.http, googlePost: allGranted });
        assert.equal(ok.memory?.verdict, "fits");
        // 0.49B parameters from the architecture (Qwen2.5-0.5B's shape), in bf16.
        assert.equal(ok.memory?.weightsGiB, 0.92);
    });

    it("says plainly when an uncatalogued model's fit was not checked, and how to check it", async () => {
        const report = await runPreflight(settings({ model: "someone/small-model" }), { network: false });
        assert.equal(report.memory, undefined);
        assert.match(report.warnings[0], /GPU memory fit was NOT checked: someone\/small-model is not in the model catalog .* Check it with preflightChecks on/);
    });

    it("with no Hub, a model whose name says it cannot fit is refused anyway (a 70B model on an L4)", async () => {
        const err = await runPreflight(settings({ model: "meta-llama/Llama-3.3-70B-Instruct" }), { network: true, http: timeout, googlePost: allGranted }).catch((e: unknown) => e);
        assert.ok(isConfigError(err));
        assert.equal(err.problems[0].key, "model");
        assert.match(err.problems[0].allowed, /its name says 70B parameters: at 16 bits per weight that is 130.39 GiB of weights, more than the 20.24 GiB/);
        // Even 4-bit, by its name: 32.6 GiB.
        const awq = await runPreflight(settings({ model: "someone/Llama-3.3-70B-Instruct-AWQ" }), { network: false }).catch((e: unknown) => e);
        assert.ok(isConfigError(awq));
        assert.match(awq.problems[0].allowed, /at 4 bits per weight that is 32.6 GiB/);
    });
});

describe("preflight in the program", () => {
    const realFetch = globalThis.fetch;
    afterEach(() => {
        globalThis.fetch = realFetch;
    });

    it("a model too big for the GPU stops everything, with the numbers", async () => {
        const r = await runProgram({ config: { model: "google/gemma-3-12b-it", modelRevision: "1".repeat(40) } });
        assert.ok(isConfigError(r.error));
        assert.equal(r.error.problems[0].key, "model");
        assert.match(r.error.problems[0].allowed, /does not fit one nvidia-l4: weights and runtime need 3.81 GiB more than the 20.24 GiB budget \(budget 20.24 GiB .* weights 22.71 GiB \(bf16\)/);
        // The nearest settings that work, each with what it leads to; the fix is the first.
        assert.match(r.error.problems[0].allowed, /Settings that run \(nearest first\):\n\s+npx pulumi config set quantization fp8   \(tight: 7 full-length sequences/);
        assert.equal(r.error.problems[0].fix, "npx pulumi config set quantization fp8");
        assert.deepEqual(r.resources.filter((x) => x.type !== "pulumi:pulumi:Stack"), []);
    });

    it("a context the KV cache cannot hold suggests the largest that fits", async () => {
        const r = await runProgram({ config: { model: "mistralai/Mistral-7B-Instruct-v0.3", modelRevision: "2".repeat(40), maxModelLen: 32768, gpuMemoryUtilization: "0.8" } });
        assert.ok(isConfigError(r.error));
        assert.deepEqual(r.error.problems.map((p) => p.key), ["maxModelLen"]);
        assert.match(r.error.problems[0].allowed, /one 32768-token sequence needs 4 GiB of KV cache and \d+(\.\d+)? GiB is left/);
        assert.match(r.error.problems[0].fix, /^npx pulumi config set (maxModelLen|kvCacheDtype|quantization) /);
        assert.deepEqual(r.resources.filter((x) => x.type !== "pulumi:pulumi:Stack"), []);
    });

    it("a maxModelLen beyond the model's context is refused", async () => {
        const r = await runProgram({ config: { maxModelLen: 65536 } });
        assert.ok(isConfigError(r.error));
        assert.match(r.error.problems[0].allowed, /supports at most 32768 tokens/);
    });

    it("a token without access to the gated model, and no Google credentials, stop `up` before any resource (fetch injected)", async () => {
        const seen: string[] = [];
        globalThis.fetch = ((url: string) => {
            seen.push(url);
            return Promise.resolve(new Response("Access to model google/gemma-3-1b-it is restricted", { status: 403 }));
        }) as typeof fetch;
        // The permission check uses google-auth-library's ADC, as the Google provider does; a
        // credentials file that is not there is the same first mistake as never logging in.
        const saved = process.env.GOOGLE_APPLICATION_CREDENTIALS;
        process.env.GOOGLE_APPLICATION_CREDENTIALS = "/nonexistent/adc.json";
        try {
            const r = await runProgram({ config: { preflightChecks: true } });
            assert.deepEqual(seen, [`https://huggingface.co/google/gemma-3-1b-it/resolve/${DEFAULT_REVISION}/config.json`]);
            assert.ok(isConfigError(r.error));
            assert.deepEqual(r.error.problems.map((p) => p.key), ["Google credentials", "hfToken"]);
            assert.match(r.error.problems[0].fix, /^gcloud auth application-default login/);
            // Checks that need the network run once the component is registered, before any child.
            assert.deepEqual(r.resources.filter((x) => x.type !== "pulumi:pulumi:Stack").map((x) => x.type), ["vllm-cloudrun:index:VllmCloudRun"]);
        } finally {
            if (saved === undefined) delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
            else process.env.GOOGLE_APPLICATION_CREDENTIALS = saved;
        }
    });

    it("a token stored in plain text is refused", async () => {
        const r = await runProgram({ plainToken: true });
        assert.ok(isConfigError(r.error));
        assert.deepEqual(r.error.problems.map((p) => p.key), ["hfToken"]);
        assert.match(r.error.problems[0].allowed, /plain text/);
        assert.ok(!r.error.message.includes(FAKE_TOKEN));
    });
});
