import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { startupProbeFor, vllmArgs, VLLM_PORT } from "../components/service";
import { DEFAULTS } from "../config";
import { byType, DEFAULT_REVISION, FAKE_DIGEST, one, runProgram, RunResult } from "./harness";

const SERVICE = "gcp:cloudrunv2/service:Service";
const INVOKER = "gcp:cloudrunv2/serviceIamMember:ServiceIamMember";

type Container = Record<string, any>;

/** vLLM's container: first, and the only one but the metrics sidecar. */
function containerOf(r: RunResult): Container {
    const template = one(r, SERVICE).inputs.template as { containers: Container[] };
    assert.ok(["vllm", "vllm,metrics"].includes(template.containers.map((c) => c.name).join(",")), "vLLM, and the metrics sidecar when metrics are on");
    return template.containers[0];
}

function templateOf(r: RunResult): Record<string, unknown> {
    return one(r, SERVICE).inputs.template as Record<string, unknown>;
}

describe("LlmService", () => {
    let r: RunResult;
    before(async () => {
        r = await runProgram();
    });

    it("is one Cloud Run v2 service named after the stack, in the configured region", () => {
        const svc = one(r, SERVICE);
        assert.equal(svc.inputs.name, "vllm-cloudrun-dev");
        assert.equal(svc.inputs.location, "us-central1");
        assert.equal(svc.inputs.project, "my-proj");
        assert.equal(svc.inputs.deletionProtection, false, "the provider defaults to true, which would break pulumi destroy");
    });

    it("mounts nothing into vLLM when the weights are baked (the one volume is the metrics sidecar's config)", async () => {
        assert.deepEqual((templateOf(r).volumes as Container[]).map((v) => v.name), ["rungmp-config"]);
        assert.equal(containerOf(r).volumeMounts, undefined);
        const off = await runProgram({ config: { metrics: false } });
        assert.equal(templateOf(off).volumes, undefined);
    });

    it("runs the digest-pinned image as the runtime account", () => {
        assert.equal(containerOf(r).image, `us-central1-docker.pkg.dev/my-proj/vllm-cloudrun-dev/vllm@${FAKE_DIGEST}`);
        assert.equal(templateOf(r).serviceAccount, "vllm-cloudrun-dev-run@my-proj.iam.gserviceaccount.com");
    });

    it("gets one L4 with the CPU and memory an L4 needs, always allocated (all 8 vCPU and 32 GiB without the metrics sidecar)", async () => {
        const c = containerOf(r);
        assert.deepEqual(c.resources, { limits: { cpu: "6", memory: "24Gi", "nvidia.com/gpu": "1" }, cpuIdle: false, startupCpuBoost: true });
        const off = await runProgram({ config: { metrics: false } });
        assert.deepEqual(containerOf(off).resources, { limits: { cpu: "8", memory: "32Gi", "nvidia.com/gpu": "1" }, cpuIdle: false, startupCpuBoost: true });
        assert.deepEqual(templateOf(r).nodeSelector, { accelerator: "nvidia-l4" });
        assert.equal(templateOf(r).gpuZonalRedundancyDisabled, true);
    });

    it("scales 0..1 with concurrency equal to vLLM's --max-num-seqs and an hour per request", () => {
        const t = templateOf(r);
        assert.deepEqual(t.scaling, { minInstanceCount: 0, maxInstanceCount: 1 });
        assert.equal(t.maxInstanceRequestConcurrency, DEFAULTS.concurrency);
        const args: string[] = containerOf(r).args;
        assert.equal(args[args.indexOf("--max-num-seqs") + 1], String(DEFAULTS.concurrency));
        assert.equal(t.timeout, "3600s");
    });

    it("starts vLLM on the baked model with the configured flags, on the routed port", () => {
        const c = containerOf(r);
        assert.deepEqual(c.args, [
            DEFAULTS.model,
            "--revision", DEFAULT_REVISION,
            "--tokenizer-revision", DEFAULT_REVISION,
            "--served-model-name", DEFAULTS.model,
            "--host", "0.0.0.0",
            "--port", "8000",
            "--max-model-len", "8192",
            "--max-num-seqs", "64",
            "--gpu-memory-utilization", "0.9",
            // minInstances 0 with startupMode auto: eager, for the quickest cold start.
            "--enforce-eager",
        ]);
        assert.equal(c.commands, undefined, "the image's ENTRYPOINT (vllm serve) starts the server");
        assert.deepEqual(c.ports, { name: "http1", containerPort: VLLM_PORT });
        assert.deepEqual(c.envs, [{ name: "HF_HUB_OFFLINE", value: "1" }]);
        assert.ok(!c.envs.some((e: { name: string }) => e.name === "PORT"), "PORT is reserved by Cloud Run");
    });

    it("probes /health: a startup window sized for the mode and model, then liveness", async () => {
        const c = containerOf(r);
        // fast mode, 1.86 GiB baked weights: ~79 s expected, doubled, at least 240 s.
        assert.deepEqual(c.startupProbe, { initialDelaySeconds: 0, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 24, httpGet: { path: "/health", port: 8000 } });
        // A 7B model in throughput mode: 30 + 90 + 14.17 GiB x 10 s = ~262 s expected, 524 s window,
        // checked from the first second (no initial delay holding back an instance that is ready sooner).
        const big = await runProgram({ config: { model: "Qwen/Qwen2.5-7B-Instruct", modelRevision: "4".repeat(40), startupMode: "throughput", concurrency: 8 } });
        assert.equal(big.error, undefined);
        assert.deepEqual(containerOf(big).startupProbe, { initialDelaySeconds: 0, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 53, httpGet: { path: "/health", port: 8000 } });
        assert.ok(!(containerOf(big).args as string[]).includes("--enforce-eager"));
        assert.deepEqual(c.livenessProbe, { periodSeconds: 30, timeoutSeconds: 10, failureThreshold: 3, httpGet: { path: "/health", port: 8000 } });
    });

    it("grants no invoker by default, and never to allUsers", () => {
        assert.deepEqual(byType(r, INVOKER), []);
        for (const res of r.resources) assert.notEqual(res.inputs.member, "allUsers");
    });

    it("follows config: invokers, zonal redundancy, deletion protection, scaling, shape", async () => {
        const invokers = ["user:alice@example.com", "group:ml@example.com", "serviceAccount:app@my-proj.iam.gserviceaccount.com"];
        const p = await runProgram({ config: { invokers, gpuZonalRedundancy: true, deletionProtection: true, minInstances: 1, maxInstances: 3, cpu: 4, memory: "16Gi", concurrency: 8, servedModelName: "gemma" } });
        assert.equal(p.error, undefined);
        const grants = byType(p, INVOKER);
        assert.deepEqual(grants.map((g) => g.inputs.member), invokers);
        for (const g of grants) {
            assert.equal(g.inputs.role, "roles/run.invoker");
            assert.equal(g.inputs.name, "vllm-cloudrun-dev");
            assert.equal(g.inputs.location, "us-central1");
        }
        assert.deepEqual(grants.map((g) => g.name), [
            "vllm-cloudrun-dev-invoker-user-alice-example-com",
            "vllm-cloudrun-dev-invoker-group-ml-example-com",
            "vllm-cloudrun-dev-invoker-serviceAccount-app-my-proj-iam-gserviceaccount-com",
        ]);
        assert.equal(one(p, SERVICE).inputs.deletionProtection, true);
        assert.equal(templateOf(p).gpuZonalRedundancyDisabled, false);
        assert.deepEqual(templateOf(p).scaling, { minInstanceCount: 1, maxInstanceCount: 3 });
        assert.equal(templateOf(p).maxInstanceRequestConcurrency, 8);
        const c = containerOf(p);
        // 4 vCPU and 16 GiB leave room for the sidecar inside the L4 instance's 8 vCPU / 32 GiB: vLLM keeps them.
        assert.deepEqual(c.resources.limits, { cpu: "4", memory: "16Gi", "nvidia.com/gpu": "1" });
        assert.equal(c.args[c.args.indexOf("--served-model-name") + 1], "gemma");
        assert.equal(c.args[c.args.indexOf("--max-num-seqs") + 1], "8");
        assert.equal(p.outputs.servedModelName, "gemma");
    });
});

describe("LlmService with weights: gcs", () => {
    it("mounts the model's folder of the weights bucket read-only and loads from it", async () => {
        const r = await runProgram({ config: { weights: "gcs" } });
        assert.equal(r.error, undefined);
        const t = templateOf(r);
        assert.equal(t.executionEnvironment, "EXECUTION_ENVIRONMENT_GEN2");
        assert.deepEqual((t.volumes as Container[])[0], {
            name: "weights",
            gcs: { bucket: "vllm-cloudrun-dev-weights-my-proj", readOnly: true, mountOptions: [`only-dir=${DEFAULTS.model}/${DEFAULT_REVISION}`, "implicit-dirs"] },
        });
        assert.deepEqual((t.volumes as Container[]).map((v) => v.name), ["weights", "rungmp-config"]);
        const c = containerOf(r);
        assert.deepEqual(c.volumeMounts, [{ name: "weights", mountPath: "/weights" }]);
        assert.deepEqual(c.args.slice(0, 3), ["/weights", "--served-model-name", DEFAULTS.model]);
        assert.ok(!c.args.includes("--revision"));
    });

    it("does not set HF_HUB_OFFLINE: vLLM may refuse a local path with it (vllm#23684)", async () => {
        const r = await runProgram({ config: { weights: "gcs" } });
        assert.equal(r.error, undefined);
        const envs = (containerOf(r).envs ?? []) as { name: string }[];
        assert.deepEqual(envs.filter((e) => /OFFLINE/.test(e.name)), []);
    });
});

describe("startupProbeFor", () => {
    it("checks every 10 s from the start and covers the window, within a GPU service's 1800 s", () => {
        for (const seconds of [60, 240, 360, 480, 1200, 1800]) {
            const p = startupProbeFor(seconds);
            assert.equal(p.initialDelaySeconds, 0, "no delay: an instance that is ready sooner serves sooner");
            assert.equal(p.periodSeconds, 10);
            assert.ok(p.timeoutSeconds < p.periodSeconds, "timeout below the period, as the API asks");
            assert.equal(p.failureThreshold * p.periodSeconds, seconds);
        }
        assert.equal(startupProbeFor(10_000).failureThreshold * 10, 1800, "capped at the documented maximum for GPU services");
    });
});

describe("vllmArgs", () => {
    it("adds exactly the flags each model feature needs, after the base ones", () => {
        const base = { model: "org/m", modelRevision: "r", servedModelName: "s", maxModelLen: 4096, maxNumSeqs: 8, gpuMemoryUtilization: 0.9 };
        const plain = vllmArgs(base);
        const all = vllmArgs({ ...base, quantization: "fp8", kvCacheDtype: "fp8", imagesPerPrompt: 2, loraAdapters: [{ name: "a" }, { name: "b" }], maxLoraRank: 64 });
        assert.deepEqual(all.slice(0, plain.length), plain);
        assert.deepEqual(all.slice(plain.length), [
            "--quantization", "fp8",
            "--kv-cache-dtype", "fp8",
            "--limit-mm-per-prompt", '{"image":2}',
            "--enable-lora", "--lora-modules", "a=/opt/lora/a", "b=/opt/lora/b", "--max-lora-rank", "64", "--max-loras", "2",
        ]);
        assert.deepEqual(vllmArgs({ ...base, imagesPerPrompt: 0 }).slice(plain.length), ["--limit-mm-per-prompt", '{"image":0}']);
        assert.deepEqual(vllmArgs({ ...base, quantization: "none", kvCacheDtype: "auto", loraAdapters: [] }), plain);
    });

    it("puts the model first, as `vllm serve` expects", () => {
        const args = vllmArgs({ model: "org/m", modelRevision: "r", servedModelName: "s", maxModelLen: 1, maxNumSeqs: 2, gpuMemoryUtilization: 0.5, port: 9000 });
        assert.equal(args[0], "org/m");
        assert.equal(args[args.indexOf("--port") + 1], "9000");
    });
});
