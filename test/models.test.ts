// Choosing a model: the catalog as data, reading a model's config.json, the GPU memory model,
// and the matrix (model x quantization x GPU x vision x adapters) from config to the exact vLLM
// flags, Cloud Run shape and preflight verdict, including configurations that OOM in the wild.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, validateArgs, VllmCloudRunArgs } from "../config";
import { CATALOG_FILE, MODEL_CATALOG, modelFromConfig, paramsFromArchitecture, quantizationFromConfig, sizeFromModelId } from "../config/model-catalog";
import { estimateGpuMemory, kvBytesPerSequence, weightsGiB } from "../config/memory";
import { adapterRank, fitAndCost, HttpGet, loraRankFor, runPreflight } from "../config/preflight";
import { modelTableRows } from "../config/model-table";
import { byType, FAKE_TOKEN, isConfigError, one, ROOT, runProgram, RunResult } from "./harness";

const REQUIRED_MODELS = [
    "google/gemma-3-1b-it", "google/gemma-3-4b-it", "google/gemma-3-12b-it", "google/gemma-3-27b-it",
    "meta-llama/Llama-3.1-8B-Instruct", "meta-llama/Llama-3.2-1B-Instruct", "meta-llama/Llama-3.2-3B-Instruct",
    "Qwen/Qwen2.5-0.5B-Instruct", "Qwen/Qwen2.5-1.5B-Instruct", "Qwen/Qwen2.5-3B-Instruct", "Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-14B-Instruct",
    "Qwen/Qwen3-0.6B", "Qwen/Qwen3-1.7B", "Qwen/Qwen3-4B", "Qwen/Qwen3-8B", "Qwen/Qwen3-14B", "Qwen/Qwen3-30B-A3B",
    "mistralai/Mistral-7B-Instruct-v0.3", "mistralai/Mistral-Small-24B-Instruct-2501",
];

describe("the model catalog (config/models.json)", () => {
    const models = Object.values(MODEL_CATALOG);

    it("covers the models people ask for, and their quantized checkpoints", () => {
        for (const id of REQUIRED_MODELS) assert.ok(MODEL_CATALOG[id], id);
        const quantized = models.filter((m) => m.quantization !== null).map((m) => m.quantization?.method);
        for (const method of ["awq", "compressed-tensors", "fp8"]) assert.ok(quantized.includes(method), method);
    });

    it("every entry cites its config.json at its revision, and a revision is a full commit", () => {
        for (const m of models) {
            assert.match(m.id, /^[\w.-]+\/[\w.-]+$/, m.id);
            if (m.revision !== null) assert.match(m.revision, /^[0-9a-f]{40}$/, m.id);
            assert.equal(m.source, `https://huggingface.co/${m.id}/blob/${m.revision ?? "main"}/config.json`, m.id);
        }
        assert.equal(MODEL_CATALOG["google/gemma-3-1b-it"].revision, "dcc83ea841ab6100d6b47a070329e1ba4cf78752", "the default model keeps its commit");
    });

    it("parameter counts agree with the architecture (within 5%): a typo in a layer count or width shows here", () => {
        for (const m of models) {
            const arch = paramsFromArchitecture(m, m.experts);
            const total = arch.total / 1e9 + (m.vision?.paramsB ?? 0);
            assert.ok(Math.abs(total - m.paramsB) / m.paramsB < 0.05, `${m.id}: catalog ${m.paramsB}B, architecture ${total.toFixed(2)}B`);
            if (m.experts) assert.ok(Math.abs(arch.active / 1e9 - m.activeParamsB) / m.activeParamsB < 0.1, `${m.id} active`);
            else assert.equal(m.activeParamsB, m.paramsB, m.id);
        }
    });

    it("every entry is internally consistent", () => {
        for (const m of models) {
            assert.equal(m.numAttentionHeads % m.kvHeads, 0, `${m.id}: heads are a multiple of KV heads`);
            assert.ok(m.slidingLayers < m.layers && (m.slidingLayers === 0) === (m.slidingWindow === null), m.id);
            if (m.quantization !== null) {
                assert.ok([4, 8].includes(m.quantization.bits), m.id);
                assert.ok(m.baseModel === null || m.baseModel === undefined || MODEL_CATALOG[m.baseModel], `${m.id}: base ${m.baseModel} is catalogued`);
            }
            assert.ok(m.experts === null || m.experts.active < m.experts.total, m.id);
        }
    });

    it("ships next to the code that reads it (a package consumer loads it from there)", () => {
        assert.equal(path.dirname(CATALOG_FILE), path.join(ROOT, "config"));
        assert.ok(fs.existsSync(path.join(ROOT, "config", "models-sources.md")), "where each number comes from");
    });
});

describe("reading a model from its config.json", () => {
    // Gemma 3 4B's shape, as the Hub serves it: the language model under text_config.
    const gemma = {
        architectures: ["Gemma3ForConditionalGeneration"],
        mm_tokens_per_image: 256,
        text_config: { hidden_size: 2560, intermediate_size: 10240, num_attention_heads: 8, num_hidden_layers: 34, num_key_value_heads: 4, head_dim: 256, vocab_size: 262208, max_position_embeddings: 131072, sliding_window: 1024, sliding_window_pattern: 6 },
        vision_config: { hidden_size: 1152, intermediate_size: 4304, num_hidden_layers: 27 },
    };

    it("takes the language model, sliding layers and vision tower", () => {
        const m = modelFromConfig("x/y", "r".repeat(40), gemma, "src");
        assert.ok(m);
        assert.deepEqual([m.layers, m.kvHeads, m.headDim, m.slidingWindow, m.slidingLayers, m.maxContext, m.tiedEmbeddings], [34, 4, 256, 1024, 29, 131072, true]);
        assert.equal(m.vision?.tokensPerImage, 256);
        assert.ok(Math.abs(m.paramsB - MODEL_CATALOG["google/gemma-3-4b-it"].paramsB) < 0.25, `${m.paramsB}`);
        assert.equal(m.quantization, null);
    });

    it("reads the checkpoint's quantization instead of guessing it", () => {
        assert.deepEqual(quantizationFromConfig({ quantization_config: { quant_method: "awq", bits: 4, group_size: 128 } }), { method: "awq", bits: 4, groupSize: 128 });
        assert.deepEqual(quantizationFromConfig({ quantization_config: { quant_method: "gptq", bits: 8, group_size: -1 } }), { method: "gptq", bits: 8, groupSize: -1 });
        const w4a16 = { quant_method: "compressed-tensors", config_groups: { group_0: { weights: { num_bits: 4, type: "int", group_size: 128 } } } };
        assert.deepEqual(quantizationFromConfig({ quantization_config: w4a16 }), { method: "compressed-tensors", bits: 4, groupSize: 128, scheme: "W4A16" });
        const w8a8 = { quant_method: "compressed-tensors", config_groups: { group_0: { weights: { num_bits: 8, type: "int" }, input_activations: { num_bits: 8 } } } };
        assert.equal(quantizationFromConfig({ quantization_config: w8a8 })?.scheme, "W8A8");
        const fp8 = { quant_method: "compressed-tensors", config_groups: { group_0: { weights: { num_bits: 8, type: "float" }, input_activations: { num_bits: 8, type: "float" } } } };
        assert.equal(quantizationFromConfig({ quantization_config: fp8 })?.scheme, "FP8");
        assert.equal(quantizationFromConfig({}), null);
    });

    it("a MoE model's memory counts every expert, its speed only the active ones", () => {
        const qwen = MODEL_CATALOG["Qwen/Qwen3-30B-A3B"];
        const rtx = { gpuType: "nvidia-rtx-pro-6000", gpuMemoryUtilization: 0.9, maxModelLen: 8192, concurrency: 64, quantization: "fp8", kvCacheDtype: "auto", imagesPerPrompt: 0, cudaGraphs: false, loras: 0, maxLoraRank: 0 } as const;
        const m = estimateGpuMemory(qwen, rtx);
        assert.ok(m.weightsGiB > 28, "30.5B parameters at 1 byte");
        const dense = estimateGpuMemory({ ...qwen, activeParamsB: qwen.paramsB }, rtx);
        assert.ok(m.singleStreamCeilingTokensPerSecond > 8 * dense.singleStreamCeilingTokensPerSecond, `${m.singleStreamCeilingTokensPerSecond} vs ${dense.singleStreamCeilingTokensPerSecond}`);
    });

    it("a model id alone gives its size and the fewest bits its name allows", () => {
        assert.deepEqual(sizeFromModelId("meta-llama/Llama-3.3-70B-Instruct"), { paramsB: 70, minBitsPerWeight: 16 });
        assert.deepEqual(sizeFromModelId("Qwen/Qwen3-30B-A3B-GPTQ-Int4"), { paramsB: 30, minBitsPerWeight: 4 });
        assert.deepEqual(sizeFromModelId("someone/tiny-135M-fp8"), { paramsB: 0.135, minBitsPerWeight: 8 });
        assert.equal(sizeFromModelId("someone/my-model"), undefined);
    });
});

describe("GPU memory model", () => {
    const l4 = { gpuType: "nvidia-l4", gpuMemoryUtilization: 0.9, maxModelLen: 8192, concurrency: 64, quantization: "none", kvCacheDtype: "auto", imagesPerPrompt: 0, cudaGraphs: false, loras: 0, maxLoraRank: 0 } as const;

    it("weights at the served format: 4-bit groups carry their scales, embeddings and the vision tower stay 16-bit", () => {
        const g27 = MODEL_CATALOG["google/gemma-3-27b-it"];
        assert.equal(Math.round(weightsGiB(g27, "none") * 100) / 100, 51.09);
        assert.equal(Math.round(weightsGiB(g27, "fp8") * 100) / 100, 27.25);
        // vllm#16199 measured 17.6 GiB for a 27B int4 AWQ checkpoint with 32-weight groups (QAT q4_0); 128-weight groups carry fewer scales.
        const w4 = MODEL_CATALOG["RedHatAI/gemma-3-27b-it-quantized.w4a16"];
        assert.equal(Math.round(weightsGiB(w4, "none") * 100) / 100, 15.79);
        const g32 = { ...w4, quantization: { ...w4.quantization!, groupSize: 32 } };
        assert.ok(Math.abs(weightsGiB(g32, "none") - 17.61) / 17.61 < 0.05, `${weightsGiB(g32, "none")}`);
    });

    it("KV cache: sliding-window layers hold only the window, fp8 halves it", () => {
        const g = MODEL_CATALOG["google/gemma-3-4b-it"];
        // 5 global layers x 8192 tokens + 29 sliding layers x 1024, at 2 x 4 KV heads x 256 x 2 bytes.
        assert.equal(kvBytesPerSequence(g, "auto", 8192), 4096 * (5 * 8192 + 29 * 1024));
        assert.equal(kvBytesPerSequence(g, "fp8", 8192), 2048 * (5 * 8192 + 29 * 1024));
        const llama = MODEL_CATALOG["meta-llama/Llama-3.1-8B-Instruct"];
        assert.equal(kvBytesPerSequence(llama, "auto", 1000), 32 * 2 * 8 * 128 * 2 * 1000);
    });

    it("runtime overhead grows with the model and with concurrency (the sampler's logits)", () => {
        const small = estimateGpuMemory(MODEL_CATALOG["Qwen/Qwen2.5-0.5B-Instruct"], l4);
        const big = estimateGpuMemory(MODEL_CATALOG["Qwen/Qwen2.5-14B-Instruct"], { ...l4, quantization: "fp8" });
        assert.ok(big.overheadGiB > small.overheadGiB);
        const busy = estimateGpuMemory(MODEL_CATALOG["Qwen/Qwen2.5-0.5B-Instruct"], { ...l4, concurrency: 512 });
        assert.ok(busy.overheadGiB - small.overheadGiB > 0.7, "448 more sequences of 152k float32 logits, logits, probabilities and sort buffers");
    });

    it("LoRA slots are counted: more adapters and higher ranks leave less KV cache", () => {
        const base = estimateGpuMemory(MODEL_CATALOG["meta-llama/Llama-3.1-8B-Instruct"], { ...l4, quantization: "fp8" });
        const lora = estimateGpuMemory(MODEL_CATALOG["meta-llama/Llama-3.1-8B-Instruct"], { ...l4, quantization: "fp8", loras: 4, maxLoraRank: 64 });
        assert.ok(lora.loraGiB > 0.5 && lora.kvCacheGiB < base.kvCacheGiB, `${lora.loraGiB}`);
    });
});

/** Settings from args, as the component makes them, then the offline checks. */
function preview(args: Partial<VllmCloudRunArgs>, loraRank = 16) {
    const s = validateArgs("vllm-cloudrun", { project: "my-proj", region: "us-east4", hfToken: pulumi.secret(FAKE_TOKEN), ...args });
    return fitAndCost(s, MODEL_CATALOG[s.model], [], [], loraRank);
}
function refusal(args: Partial<VllmCloudRunArgs>): ConfigError {
    try {
        preview(args);
    } catch (e) {
        assert.ok(isConfigError(e), String(e));
        return e;
    }
    assert.fail(`not refused: ${JSON.stringify(args)}`);
}

describe("preflight verdicts over the matrix", () => {
    const RTX = { gpuType: "nvidia-rtx-pro-6000", region: "us-central1" } as const;
    const cases: { name: string; args: Partial<VllmCloudRunArgs>; verdict?: string; refused?: { key: string; fix: RegExp; says: RegExp } }[] = [
        { name: "gemma-3-1b on an L4 (the default)", args: {}, verdict: "fits" },
        { name: "gemma-3-4b with images on an L4", args: { model: "google/gemma-3-4b-it" }, verdict: "tight" },
        { name: "gemma-3-4b at 4096 tokens on an L4", args: { model: "google/gemma-3-4b-it", maxModelLen: 2048 }, verdict: "fits" },
        { name: "gemma-3-12b bf16 on an L4", args: { model: "google/gemma-3-12b-it" }, refused: { key: "model", fix: /^npx pulumi config set quantization fp8$/, says: /weights and runtime need 3.81 GiB more/ } },
        { name: "gemma-3-12b fp8 on an L4", args: { model: "google/gemma-3-12b-it", quantization: "fp8" }, verdict: "tight" },
        { name: "gemma-3-27b bf16 on an L4", args: { model: "google/gemma-3-27b-it" }, refused: { key: "model", fix: /^npx pulumi config set model RedHatAI\/gemma-3-27b-it-quantized.w4a16$/, says: /need 32.26 GiB more.*gpuType nvidia-rtx-pro-6000/s } },
        { name: "gemma-3-27b fp8 on an L4", args: { model: "google/gemma-3-27b-it", quantization: "fp8" }, refused: { key: "model", fix: /^npx pulumi config set model RedHatAI\/gemma-3-27b-it-quantized.w4a16 && npx pulumi config set quantization none$/, says: /need 8.42 GiB more/ } },
        { name: "gemma-3-27b W4A16 on an L4", args: { model: "RedHatAI/gemma-3-27b-it-quantized.w4a16" }, verdict: "tight" },
        // vllm#16199: a 27B 4-bit model with gpu_memory_utilization 0.98 OOMed capturing CUDA graphs.
        { name: "gemma-3-27b W4A16 at 0.98 with CUDA graphs (vllm#16199)", args: { model: "RedHatAI/gemma-3-27b-it-quantized.w4a16", gpuMemoryUtilization: 0.98, startupMode: "throughput" }, refused: { key: "gpuMemoryUtilization", fix: /^npx pulumi config set (startupMode fast|gpuMemoryUtilization 0\.\d+)$/, says: /CUDA graph capture .* needs ~1.24 GiB outside vLLM's budget and 0.2 GiB is left there/ } },
        { name: "gemma-3-27b bf16 on the RTX PRO 6000", args: { model: "google/gemma-3-27b-it", ...RTX }, verdict: "tight" },
        { name: "gemma-3-27b fp8 on the RTX PRO 6000", args: { model: "google/gemma-3-27b-it", quantization: "fp8", ...RTX }, verdict: "tight" },
        // vLLM 0.10.2 has no V1 FP8 KV cache on these GPUs: it would fall back to V0 with uncalibrated scales.
        { name: "an fp8 KV cache with the default vLLM v0.10.2", args: { model: "meta-llama/Llama-3.1-8B-Instruct", kvCacheDtype: "fp8", quantization: "fp8" }, refused: { key: "kvCacheDtype", fix: /^npx pulumi config set kvCacheDtype auto$/, says: /falls back to the V0 engine with XFormers and uncalibrated scales/ } },
        { name: "Llama 3.1 8B with an fp8 KV cache on vLLM 0.11", args: { model: "meta-llama/Llama-3.1-8B-Instruct", kvCacheDtype: "fp8", quantization: "fp8", vllmImage: "vllm/vllm-openai:v0.11.0" }, verdict: "tight" },
        { name: "Qwen3-30B-A3B (MoE) on an L4", args: { model: "Qwen/Qwen3-30B-A3B" }, refused: { key: "model", fix: /gpuType nvidia-rtx-pro-6000/, says: /weights and runtime need/ } },
        { name: "Qwen3-30B-A3B fp8 on the RTX PRO 6000", args: { model: "Qwen/Qwen3-30B-A3B", quantization: "fp8", ...RTX }, verdict: "fits" },
        { name: "Mistral Small 24B on an L4", args: { model: "mistralai/Mistral-Small-24B-Instruct-2501" }, refused: { key: "model", fix: /gpuType nvidia-rtx-pro-6000/, says: /does not fit one nvidia-l4/ } },
        { name: "a context only the KV cache cannot hold", args: { model: "mistralai/Mistral-7B-Instruct-v0.3", maxModelLen: 32768, gpuMemoryUtilization: 0.8 }, refused: { key: "maxModelLen", fix: /^npx pulumi config set (kvCacheDtype fp8|quantization fp8|maxModelLen \d+)$/, says: /one 32768-token sequence needs 4 GiB of KV cache/ } },
    ];
    for (const c of cases) {
        it(`${c.name}: ${c.refused ? `refused on ${c.refused.key}` : c.verdict}`, () => {
            if (c.refused) {
                const e = refusal(c.args);
                assert.equal(e.problems.length, 1, e.message);
                assert.equal(e.problems[0].key, c.refused.key);
                assert.match(e.problems[0].fix, c.refused.fix);
                assert.match(e.problems[0].allowed, c.refused.says);
            } else {
                assert.equal(preview(c.args).memory?.verdict, c.verdict);
            }
        });
    }

    it("each suggested setting really fits when applied", () => {
        for (const c of cases.filter((x) => x.refused)) {
            const e = refusal(c.args);
            const first = e.problems[0].fix.split(" && ");
            const applied: Record<string, unknown> = { ...c.args };
            for (const cmd of first) {
                const set = /^npx pulumi config set (\S+) (\S+)$/.exec(cmd);
                const rm = /^npx pulumi config rm (\S+)$/.exec(cmd);
                if (set) applied[set[1] === "gcp:region" ? "region" : set[1]] = /^\d+(\.\d+)?$/.test(set[2]) ? Number(set[2]) : set[2];
                if (rm) delete applied[rm[1]];
            }
            assert.notEqual(preview(applied).memory?.verdict, "does-not-fit", `${c.name}: ${e.problems[0].fix}`);
        }
    });

    it("refuses LoRA adapters on a mixture-of-experts model (vLLM 0.10 has no LoRA on fused experts)", () => {
        const e = refusal({ model: "Qwen/Qwen3-30B-A3B", quantization: "fp8", gpuType: "nvidia-rtx-pro-6000", region: "us-central1", loraAdapters: [{ name: "a", repo: "org/lora", revision: "a".repeat(40) }] });
        assert.deepEqual(e.problems.map((p) => p.key), ["loraAdapters"]);
        assert.match(e.problems[0].allowed, /mixture-of-experts/);
    });

    it("Gemma 3 under another name: refused by id for catalog-less ids, by architecture once config.json is read", async () => {
        const v011 = { kvCacheDtype: "fp8", vllmImage: "vllm/vllm-openai:v0.11.0" } as const;
        assert.deepEqual(refusal({ model: "someone/gemma-3-4b-finetune", modelRevision: "a".repeat(40), ...v011 }).problems.map((p) => p.key), ["kvCacheDtype"]);
        // An id that does not say Gemma: the contract cannot know; the Hub's config.json does.
        const s = validateArgs("vllm-cloudrun", { project: "my-proj", region: "us-east4", hfToken: pulumi.secret(FAKE_TOKEN), model: "someone/my-finetune", modelRevision: "a".repeat(40), ...v011 });
        const gemma = { architectures: ["Gemma3ForCausalLM"], hidden_size: 1152, intermediate_size: 6912, num_attention_heads: 4, num_hidden_layers: 26, num_key_value_heads: 1, head_dim: 256, vocab_size: 262144, max_position_embeddings: 32768, sliding_window: 512, sliding_window_pattern: 6 };
        const http: HttpGet = () => Promise.resolve({ status: 200, text: JSON.stringify(gemma) });
        const granted = (_: string, body: unknown) => Promise.resolve({ status: 200, data: { permissions: (body as { permissions: string[] }).permissions } });
        const e = await runPreflight(s, { network: true, http, googlePost: granted }).catch((x: unknown) => x);
        assert.ok(isConfigError(e));
        assert.deepEqual(e.problems.map((p) => p.key), ["kvCacheDtype"]);
        assert.match(e.problems[0].allowed, /Gemma 3 model \(Gemma3ForCausalLM\)/);
    });

    it("suggests an FP8 KV cache only where it works: vLLM 0.11+, never for Gemma 3", () => {
        const mistral = { model: "mistralai/Mistral-7B-Instruct-v0.3", maxModelLen: 32768, gpuMemoryUtilization: 0.8 };
        const said = (args: Partial<VllmCloudRunArgs>) => refusal(args).problems[0].allowed;
        assert.doesNotMatch(said(mistral), /kvCacheDtype fp8/, "not with v0.10.2");
        assert.match(said({ ...mistral, vllmImage: "vllm/vllm-openai:v0.11.0" }), /npx pulumi config set kvCacheDtype fp8/);
        assert.doesNotMatch(said({ model: "google/gemma-3-12b-it", quantization: "fp8", maxModelLen: 131072, vllmImage: "vllm/vllm-openai:v0.11.0" }), /kvCacheDtype fp8/);
    });

    it("refuses fp8 on an already-quantized checkpoint, and FP8 KV with Gemma 3 (vllm#29531)", () => {
        assert.deepEqual(refusal({ model: "Qwen/Qwen2.5-7B-Instruct-AWQ", quantization: "fp8" }).problems.map((p) => [p.key, p.fix]), [["quantization", "npx pulumi config set quantization none"]]);
        const kv = refusal({ model: "google/gemma-3-12b-it", quantization: "fp8", kvCacheDtype: "fp8", vllmImage: "vllm/vllm-openai:v0.11.0" });
        assert.deepEqual(kv.problems.map((p) => p.key), ["kvCacheDtype"]);
        assert.match(kv.problems[0].allowed, /vllm-project\/vllm\/issues\/29531/);
    });

    it("refuses a vLLM image without Blackwell kernels on the RTX PRO 6000, accepts it on the L4", () => {
        const old = refusal({ ...RTX, vllmImage: "vllm/vllm-openai:v0.9.1" });
        assert.deepEqual(old.problems.map((p) => [p.key, p.fix]), [["vllmImage", "npx pulumi config set vllmImage vllm/vllm-openai:v0.10.2"]]);
        assert.match(old.problems[0].allowed, /vLLM 0.9.1 images have no NVIDIA RTX PRO 6000 Blackwell kernels/);
        assert.equal(preview({ vllmImage: "vllm/vllm-openai:v0.9.1" }).memory?.verdict, "fits");
        // Images this table cannot place (another registry, a bare digest) pass.
        assert.equal(preview({ ...RTX, vllmImage: "us-docker.pkg.dev/p/r/vllm:v0.8.0" }).memory?.verdict, "fits");
    });

    it("a configuration that cannot start within a GPU service's 1800 s probe window is refused with the estimate", () => {
        const s = validateArgs("vllm-cloudrun", { project: "my-proj", hfToken: pulumi.secret(FAKE_TOKEN), ...RTX, weights: "gcs", startupMode: "throughput", gpuMemoryUtilization: 0.95 });
        // A 46B dense model through Cloud Storage FUSE: 30 + 90 + 85.7 GiB x 20 s.
        const big = { ...MODEL_CATALOG["mistralai/Mistral-Small-24B-Instruct-2501"], paramsB: 46, activeParamsB: 46 };
        assert.throws(() => fitAndCost(s, big), (e: unknown) => {
            assert.ok(isConfigError(e));
            assert.deepEqual(e.problems.map((p) => p.key), ["model"]);
            assert.match(e.problems[0].allowed, /expected startup is ~1834 s \(85.\d GiB of weights from Cloud Storage, throughput mode\), more than the 1800 s/);
            return true;
        });
    });
});

describe("LoRA ranks from adapter_config.json", () => {
    it("the largest r (or rank_pattern value), rounded up to a rank vLLM accepts", () => {
        assert.equal(adapterRank({ r: 8 }), 8);
        assert.equal(adapterRank({ r: 8, rank_pattern: { "q_proj": 48 } }), 48);
        assert.equal(adapterRank({}), undefined);
        assert.deepEqual([loraRankFor(8), loraRankFor(12), loraRankFor(48), loraRankFor(300), loraRankFor(513)], [8, 16, 64, 320, undefined]);
    });

    it("the preflight reads every adapter's config at its revision and sizes --max-lora-rank", async () => {
        const asked: string[] = [];
        const http: HttpGet = (url) => {
            asked.push(url);
            if (url.endsWith("/adapter_config.json")) return Promise.resolve({ status: 200, text: JSON.stringify({ r: url.includes("big") ? 40 : 8, base_model_name_or_path: "google/gemma-3-1b-it" }) });
            return Promise.resolve({ status: 200, text: "{}" });
        };
        const adapters = [{ name: "a", repo: "org/small-lora", revision: "a".repeat(40) }, { name: "b", repo: "org/big-lora", revision: "b".repeat(40) }];
        const s = validateArgs("vllm-cloudrun", { project: "my-proj", region: "us-east4", hfToken: pulumi.secret(FAKE_TOKEN), loraAdapters: adapters });
        const granted = (_: string, body: unknown) => Promise.resolve({ status: 200, data: { permissions: (body as { permissions: string[] }).permissions } });
        const report = await runPreflight(s, { network: true, http, googlePost: granted });
        assert.equal(report.plan.maxLoraRank, 64);
        assert.ok(asked.includes(`https://huggingface.co/org/big-lora/resolve/${"b".repeat(40)}/adapter_config.json`));
        assert.ok((report.memory?.loraGiB ?? 0) > 0);
    });

    it("without the Hub it falls back to vLLM's default of 16 and says so", async () => {
        const s = validateArgs("vllm-cloudrun", { project: "my-proj", region: "us-east4", hfToken: pulumi.secret(FAKE_TOKEN), preflightChecks: false, loraAdapters: [{ name: "a", repo: "org/lora", revision: "a".repeat(40) }] });
        const report = await runPreflight(s, { network: false });
        assert.equal(report.plan.maxLoraRank, 16);
        assert.ok(report.warnings.some((w) => /--max-lora-rank is vLLM's default of 16/.test(w)));
    });
});

type Container = Record<string, any>;
function container(r: RunResult): Container {
    assert.equal(r.error, undefined, String(r.error));
    return (one(r, "gcp:cloudrunv2/service:Service").inputs.template as { containers: Container[] }).containers[0];
}
function flagsAfter(args: string[], flag: string): string[] {
    assert.ok(args.includes(flag), `${flag} is passed`);
    return args.slice(args.indexOf(flag) + 1);
}

describe("from config to the exact vLLM flags and Cloud Run shape", () => {
    const NEW_FLAGS = ["--quantization", "--kv-cache-dtype", "--limit-mm-per-prompt", "--enable-lora", "--lora-modules", "--max-lora-rank", "--max-loras"];

    it("the default text-only model gets none of the new flags", async () => {
        const args = container(await runProgram()).args as string[];
        for (const f of NEW_FLAGS) assert.ok(!args.includes(f), f);
    });

    it("a vision model takes one image per prompt as JSON, or none (no encoder profile) with imageInput false", async () => {
        const on = container(await runProgram({ config: { model: "google/gemma-3-4b-it", maxModelLen: 2048, smokeTest: true } }));
        assert.deepEqual(flagsAfter(on.args, "--limit-mm-per-prompt")[0], '{"image":1}');
        const off = await runProgram({ config: { model: "google/gemma-3-4b-it", maxModelLen: 2048, imageInput: false, imagesPerPrompt: 3, smokeTest: true } });
        assert.deepEqual(flagsAfter(container(off).args, "--limit-mm-per-prompt")[0], '{"image":0}');
        // The smoke test sends an image only when the service takes one.
        const smokeEnv = (r: RunResult) => byType(r, "command:local:Command").find((c) => c.name.endsWith("-smoke"))?.inputs.environment as Record<string, string>;
        assert.equal(smokeEnv(await runProgram({ config: { model: "google/gemma-3-4b-it", maxModelLen: 2048, smokeTest: true } })).SMOKE_IMAGE_INPUT, "1");
        assert.equal(smokeEnv(off).SMOKE_IMAGE_INPUT, undefined);
        assert.equal(off.outputs.imageInput, false);
    });

    it("fp8 weights and an fp8 KV cache for Llama 3.1 8B", async () => {
        const args = container(await runProgram({ config: { model: "meta-llama/Llama-3.1-8B-Instruct", quantization: "fp8", kvCacheDtype: "fp8", vllmImage: "vllm/vllm-openai:v0.11.0", maxModelLen: 4096 } })).args as string[];
        assert.deepEqual(flagsAfter(args, "--quantization").slice(0, 1), ["fp8"]);
        assert.deepEqual(flagsAfter(args, "--kv-cache-dtype").slice(0, 1), ["fp8"]);
        assert.equal(args[args.indexOf("--revision") + 1], MODEL_CATALOG["meta-llama/Llama-3.1-8B-Instruct"].revision, "the catalog's commit");
    });

    it("a pre-quantized checkpoint gets no --quantization: vLLM reads its quantization_config", async () => {
        const args = container(await runProgram({ config: { model: "Qwen/Qwen2.5-7B-Instruct-AWQ", maxModelLen: 4096 } })).args as string[];
        assert.ok(!args.includes("--quantization"));
    });

    it("gpuType nvidia-rtx-pro-6000 alone: 20 vCPU, 80Gi, the Blackwell accelerator", async () => {
        const r = await runProgram({ config: { gpuType: "nvidia-rtx-pro-6000", "gcp:region": "us-central1", model: "google/gemma-3-27b-it", quantization: "fp8" } });
        const c = container(r);
        assert.deepEqual(c.resources.limits, { cpu: "20", memory: "80Gi", "nvidia.com/gpu": "1" });
        const template = one(r, "gcp:cloudrunv2/service:Service").inputs.template as { nodeSelector: { accelerator: string } };
        assert.equal(template.nodeSelector.accelerator, "nvidia-rtx-pro-6000");
        // The 580 driver is newer than the image's CUDA 12.8: no forward-compatibility libraries.
        assert.deepEqual((c.envs as { name: string; value?: string }[]).find((e) => e.name === "VLLM_ENABLE_CUDA_COMPATIBILITY"), { name: "VLLM_ENABLE_CUDA_COMPATIBILITY", value: "0" });
        assert.equal(((container(await runProgram()).envs ?? []) as { name: string }[]).find((e) => e.name === "VLLM_ENABLE_CUDA_COMPATIBILITY"), undefined, "the L4 keeps the image's setting");
        assert.ok((r.outputs.costEstimate as { note: string }).note.includes("nvidia-rtx-pro-6000 GPU price is not in this program's price table"));
    });

    it("LoRA adapters: baked by the build, served with their names, rank and count", async () => {
        const adapters = [{ name: "sql", repo: "org/sql-lora", revision: "a".repeat(40) }, { name: "chat", repo: "org/chat-lora", revision: "b".repeat(40) }];
        const r = await runProgram({ config: { loraAdapters: adapters, maxLoraRank: 32, smokeTest: true } });
        const args = container(r).args as string[];
        assert.deepEqual(args.slice(args.indexOf("--enable-lora")), ["--enable-lora", "--lora-modules", "sql=/opt/lora/sql", "chat=/opt/lora/chat", "--max-lora-rank", "32", "--max-loras", "2"]);
        const build = byType(r, "command:local:Command").find((c) => c.name.endsWith("-build"));
        assert.deepEqual(JSON.parse((build?.inputs.environment as Record<string, string>).LORA_ADAPTERS), adapters);
        const smoke = byType(r, "command:local:Command").find((c) => c.name.endsWith("-smoke"));
        assert.equal((smoke?.inputs.environment as Record<string, string>).SMOKE_LORA_MODELS, "sql,chat");
        assert.deepEqual(r.outputs.loraModels, ["sql", "chat"], "the stack says which adapters it serves (npm run smoke reads it)");
        assert.equal(r.outputs.imageInput, false, "gemma-3-1b has no vision tower");
    });

    it("a refused model creates nothing", async () => {
        const r = await runProgram({ config: { model: "google/gemma-3-27b-it" } });
        assert.ok(isConfigError(r.error));
        assert.deepEqual(r.resources.filter((x) => x.type !== "pulumi:pulumi:Stack"), []);
    });
});

describe("the README's model table", () => {
    it("has a row for every catalogued model, GPU and quantization, as the preflight computes it", () => {
        const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
        const section = /<!-- models:start[^]*?<!-- models:end -->/.exec(readme)?.[0] ?? "";
        const rows = modelTableRows();
        assert.equal(section.split("\n").filter((l) => l.startsWith("| ") && !l.startsWith("| Model") && !l.startsWith("| ---")).length, rows.length);
        for (const id of Object.keys(MODEL_CATALOG)) assert.ok(section.includes(`| ${id}`), id);
        // Spot check one row against the estimate itself.
        const g4 = rows.find((r) => r.model === "google/gemma-3-4b-it" && r.gpuType === "nvidia-l4" && r.quantization === "none");
        assert.ok(g4 && section.includes(`| google/gemma-3-4b-it (vision) | L4 | none | ${g4.weightsGiB} | tight | ${g4.maxContext} | ${g4.startupSeconds} | $1.42 |`));
    });
});
