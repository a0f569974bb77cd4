// GPU memory a vLLM deployment needs, from the model's spec and the serving settings: weights
// at their stored or quantized size, KV cache at its dtype (sliding-window layers hold only the
// window), activations that grow with the model and the batch, CUDA graphs, the vision encoder,
// LoRA slots. vLLM gives the KV cache whatever its budget (gpuMemoryUtilization x GPU memory)
// leaves after weights and the profiled activation peak; CUDA graphs are captured afterwards,
// outside that budget (vllm/v1/worker/gpu_worker.py: determine_available_memory, then
// compile_or_warm_up_model), which is how a 27B model that "fits" still OOMs at capture
// (vllm#16199). These are estimates; the constants say where each comes from.
import { GPU_TYPES, GpuType } from "./gpus";
import { ModelSpec } from "./model-catalog";

const GiB = 1024 ** 3;

/** CUDA context, cuBLAS workspaces and NCCL, counted by vLLM's profiler as non-torch memory. */
export const NON_TORCH_GIB = 0.75;
/** vLLM 0.10's default max_num_batched_tokens for the OpenAI server: 2048 below 70 GiB of GPU memory, 8192 above (engine/arg_utils.py). */
export function maxBatchedTokens(gpu: GpuType): number {
    return gpu.usableGiB >= 70 ? 8192 : 2048;
}
/** Per CUDA graph-captured layer at vLLM's 67 default capture sizes; graphs for a 32-layer 8B model take ~0.6 GiB in vLLM's logs. */
export const CUDA_GRAPH_GIB_PER_LAYER = 0.02;
/** Memory the driver keeps for itself beyond what CUDA reports as total (never usable by vLLM). */
export const DRIVER_RESERVE_GIB = 0.25;
/** Activation peak of one image through the vision encoder (SigLIP-400M at 896 px: 4096 patches x 1152 x ~20 live tensors x 2 bytes). */
export const VISION_ACTIVATION_GIB_PER_IMAGE = 0.2;

export type Quantization = "none" | "fp8";
export type KvCacheDtype = "auto" | "fp8";

export interface ServingShape {
    gpuType: string;
    gpuMemoryUtilization: number;
    maxModelLen: number;
    concurrency: number;
    quantization: Quantization;
    kvCacheDtype: KvCacheDtype;
    /** Images per prompt the server accepts (0: text only, vision encoder not profiled). */
    imagesPerPrompt: number;
    /** CUDA graphs are captured (startupMode throughput). */
    cudaGraphs: boolean;
    /** LoRA adapters served at once (--max-loras) and their largest rank (--max-lora-rank); 0 without adapters. */
    loras: number;
    maxLoraRank: number;
}

/** The weight format vLLM ends up serving: the checkpoint's own, or fp8 made at load. */
export function servedWeightFormat(m: ModelSpec, q: Quantization): { name: string; bytesPerWeight: number } {
    const c = m.quantization;
    if (c !== null) {
        // Packed 4-bit weights plus one fp16 scale (and a 4-bit zero point) per group.
        const perGroup = c.groupSize === null ? 0 : (2 + (c.bits === 4 ? 0.5 : 1)) / c.groupSize;
        return { name: `${c.method}${c.scheme ? ` ${c.scheme}` : ""} (${c.bits}-bit)`, bytesPerWeight: c.bits / 8 + perGroup };
    }
    return q === "fp8" ? { name: "fp8 (quantized at load)", bytesPerWeight: 1 } : { name: "bf16", bytesPerWeight: 2 };
}

/** GiB of weights: linear layers at the served format; embeddings, an untied lm_head and the vision tower stay 16-bit. */
export function weightsGiB(m: ModelSpec, q: Quantization): number {
    const embed = m.vocabSize * m.hiddenSize;
    const lmHead = m.tiedEmbeddings ? 0 : embed;
    const vision = (m.vision?.paramsB ?? 0) * 1e9;
    const linear = Math.max(0, m.paramsB * 1e9 - embed - lmHead - vision);
    return ((embed + lmHead + vision) * 2 + linear * servedWeightFormat(m, q).bytesPerWeight) / GiB;
}

/** KV cache bytes for one token in one layer: K and V, kvHeads x headDim each. */
export function kvBytesPerTokenLayer(m: ModelSpec, kv: KvCacheDtype): number {
    return 2 * m.kvHeads * m.headDim * (kv === "fp8" ? 1 : 2);
}

/** KV cache bytes one sequence of `tokens` needs: global layers keep every token, sliding-window layers at most the window. */
export function kvBytesPerSequence(m: ModelSpec, kv: KvCacheDtype, tokens: number): number {
    const perLayer = kvBytesPerTokenLayer(m, kv);
    const sliding = m.slidingWindow === null ? 0 : m.slidingLayers;
    return perLayer * ((m.layers - sliding) * tokens + sliding * Math.min(tokens, m.slidingWindow ?? tokens));
}

/** Profiled activation peak: one max_num_batched_tokens forward pass, plus the sampler's logits for every sequence. */
export function activationGiB(m: ModelSpec, gpu: GpuType, concurrency: number, imagesPerPrompt: number): number {
    const tokens = maxBatchedTokens(gpu);
    const qkv = (m.numAttentionHeads + 2 * m.kvHeads) * m.headDim;
    // MoE layers run the routed tokens through experts of the same width as the dense MLP or narrower.
    const perToken = (4 * m.hiddenSize + 2 * m.intermediateSize + qkv) * 2;
    // float32 logits, probabilities and the top-k/top-p sort buffer per sequence.
    const sampler = concurrency * m.vocabSize * 4 * 3;
    const vision = m.vision !== null && imagesPerPrompt > 0 ? VISION_ACTIVATION_GIB_PER_IMAGE * imagesPerPrompt : 0;
    return (tokens * perToken + sampler) / GiB + vision;
}

/** LoRA slots vLLM allocates up front: max_loras x max_rank x (in + out) of every adapted projection, 16-bit. */
export function loraGiB(m: ModelSpec, loras: number, rank: number): number {
    if (loras === 0) return 0;
    const h = m.hiddenSize;
    const q = m.numAttentionHeads * m.headDim;
    const kv = m.kvHeads * m.headDim;
    // q, k, v, o, gate, up, down: sum of input and output widths.
    const widths = (h + q) + 2 * (h + kv) + (q + h) + 2 * (h + m.intermediateSize) + (m.intermediateSize + h);
    return (loras * rank * widths * m.layers * 2) / GiB;
}

export interface MemoryEstimate {
    gpuType: string;
    /** gpuMemoryUtilization x usable GPU memory: what vLLM may use. */
    budgetGiB: number;
    /** How the weights are served: bf16, fp8 (quantized at load), awq W4A16 (4-bit), ... */
    weightFormat: string;
    weightsGiB: number;
    /** Non-torch memory and the profiled activation peak (the vision encoder's included). */
    overheadGiB: number;
    loraGiB: number;
    kvCacheGiB: number;
    /** KV cache per token of one full-length sequence, averaged over global and sliding layers. */
    kvPerTokenKiB: number;
    /** Tokens the KV cache holds across running sequences (at the global layers' rate). */
    kvCacheTokens: number;
    /** Full-length (maxModelLen) sequences that fit at once. */
    fullLengthSequences: number;
    /** Longest maxModelLen at which `concurrency` sequences fit (capped at the model's context), or 0. */
    maxContextAtConcurrency: number;
    /** CUDA graph memory, captured outside the budget (0 in fast mode). */
    cudaGraphGiB: number;
    /** GPU memory left outside the budget for CUDA graphs: (1 - gpuMemoryUtilization) x usable - driver reserve. */
    outsideBudgetGiB: number;
    /** Memory bandwidth / bytes read per token (active weights): no single stream decodes faster. */
    singleStreamCeilingTokensPerSecond: number;
    /** fits, tight or does-not-fit (a plain string: component package schemas have no literal unions). */
    verdict: string;
    /** Why, when it does not fit: weights, kv-cache or cuda-graphs. */
    limitedBy?: string;
    source: string;
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

/** Largest length at which `n` sequences fit in `kvBytes` (binary search: sliding layers make it non-linear). */
function longestFitting(m: ModelSpec, kv: KvCacheDtype, kvBytes: number, n: number): number {
    let lo = 0;
    let hi = m.maxContext;
    while (lo < hi) {
        const mid = Math.ceil((lo + hi) / 2);
        if (n * kvBytesPerSequence(m, kv, mid) <= kvBytes) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

/** The whole estimate for one model and serving shape. */
export function estimateGpuMemory(m: ModelSpec, s: ServingShape): MemoryEstimate {
    const gpu = GPU_TYPES[s.gpuType];
    const budget = gpu.usableGiB * s.gpuMemoryUtilization;
    const weights = weightsGiB(m, s.quantization);
    const overhead = NON_TORCH_GIB + activationGiB(m, gpu, s.concurrency, s.imagesPerPrompt);
    const lora = loraGiB(m, s.loras, s.maxLoraRank);
    const kvCache = Math.max(0, budget - weights - overhead - lora);
    const kvBytes = kvCache * GiB;
    const perSeq = kvBytesPerSequence(m, s.kvCacheDtype, s.maxModelLen);
    const fullLengthSequences = Math.floor(kvBytes / perSeq);
    const cudaGraph = s.cudaGraphs ? CUDA_GRAPH_GIB_PER_LAYER * m.layers : 0;
    const outside = gpu.usableGiB * (1 - s.gpuMemoryUtilization) - DRIVER_RESERVE_GIB;
    const limitedBy = weights + overhead + lora >= budget ? "weights" : fullLengthSequences < 1 ? "kv-cache" : cudaGraph > outside ? "cuda-graphs" : undefined;
    const verdict = limitedBy !== undefined ? "does-not-fit" : fullLengthSequences < s.concurrency ? "tight" : "fits";
    const bytesPerToken = (m.activeParamsB / m.paramsB) * weights * GiB;
    return {
        gpuType: s.gpuType,
        budgetGiB: round(budget),
        weightFormat: servedWeightFormat(m, s.quantization).name,
        weightsGiB: round(weights),
        overheadGiB: round(overhead),
        loraGiB: round(lora),
        kvCacheGiB: round(kvCache),
        kvPerTokenKiB: round(perSeq / s.maxModelLen / 1024),
        kvCacheTokens: Math.floor(kvBytes / (kvBytesPerTokenLayer(m, s.kvCacheDtype) * m.layers)),
        fullLengthSequences,
        maxContextAtConcurrency: longestFitting(m, s.kvCacheDtype, kvBytes, s.concurrency),
        cudaGraphGiB: round(cudaGraph),
        outsideBudgetGiB: round(outside),
        singleStreamCeilingTokensPerSecond: Math.round((gpu.memoryBandwidthGBs * 1e9) / bytesPerToken),
        verdict,
        ...(limitedBy === undefined ? {} : { limitedBy }),
        source: m.source,
    };
}
