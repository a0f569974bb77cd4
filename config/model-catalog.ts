// What the preflight knows about a model: its architecture, quantization, vision tower and
// experts. Catalogued models come from config/models.json (data, each entry citing the model's
// config.json); any other model is read from its config.json on the Hub at the pinned revision
// (modelFromConfig), and with no Hub at all, from what its id says (sizeFromModelId).
import * as fs from "fs";
import * as path from "path";

/** The weight format of a checkpoint, from its config.json's quantization_config. */
export interface CheckpointQuantization {
    /** quant_method: awq, gptq, compressed-tensors, fp8, bitsandbytes, ... */
    method: string;
    /** Bits per quantized weight (4 or 8). */
    bits: number;
    /** Weights per scale (AWQ/GPTQ/W4A16 groups); null for per-channel or per-tensor scales. */
    groupSize: number | null;
    /** W4A16, W8A8, FP8, ... when the checkpoint says. */
    scheme?: string | null;
}

export interface ModelSpec {
    id: string;
    /** Commit the numbers were read at (and a revision that is known to exist), or null. */
    revision: string | null;
    /** The config.json the numbers come from. */
    source: string;
    license?: string;
    /** Hugging Face asks for the license to be accepted before download. */
    gated?: boolean;
    architecture?: string;
    /** All parameters vLLM loads, in billions (vision tower and every expert included). */
    paramsB: number;
    /** Parameters used per token (MoE: the active experts), in billions. */
    activeParamsB: number;
    vocabSize: number;
    hiddenSize: number;
    intermediateSize: number;
    numAttentionHeads: number;
    /** Decoder layers (num_hidden_layers of the language model). */
    layers: number;
    kvHeads: number;
    headDim: number;
    tiedEmbeddings: boolean;
    /** Tokens a sliding-window layer attends to, or null when every layer is global. */
    slidingWindow: number | null;
    /** How many layers use the sliding window (Gemma 3: 5 of every 6). */
    slidingLayers: number;
    /** max_position_embeddings. */
    maxContext: number;
    vision: { paramsB: number; tokensPerImage: number; source?: string } | null;
    /** MoE: experts per layer, experts per token and each expert's MLP width (moe_intermediate_size). */
    experts: { total: number; active: number; intermediateSize: number } | null;
    quantization: CheckpointQuantization | null;
    /** For a quantized checkpoint, the bf16 model it was made from. */
    baseModel?: string | null;
}

/** config/models.json, as shipped with the package. */
export const CATALOG_FILE = path.join(__dirname, "models.json");

export const MODEL_CATALOG: Readonly<Record<string, ModelSpec>> = Object.freeze(
    Object.fromEntries((JSON.parse(fs.readFileSync(CATALOG_FILE, "utf8")) as { models: ModelSpec[] }).models.map((m) => [m.id, Object.freeze(m)])),
);

/** Catalogued quantized checkpoints of `model` (for "use this instead" advice). */
export function quantizedVariantsOf(model: string): ModelSpec[] {
    return Object.values(MODEL_CATALOG).filter((m) => m.baseModel === model && m.quantization !== null);
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Json) : undefined);
const num = (o: Json | undefined, k: string): number | undefined => (typeof o?.[k] === "number" ? o[k] : undefined);

/** A checkpoint's quantization, from its quantization_config (compressed-tensors nests it in config_groups). */
export function quantizationFromConfig(config: Json): CheckpointQuantization | null {
    const q = obj(config.quantization_config) ?? obj(obj(config.text_config)?.quantization_config);
    if (q === undefined) return null;
    const method = typeof q.quant_method === "string" ? q.quant_method : "unknown";
    if (method === "compressed-tensors") {
        const group = obj(Object.values(obj(q.config_groups) ?? {})[0]);
        const w = obj(group?.weights);
        const a = obj(group?.input_activations);
        const bits = num(w, "num_bits") ?? 8;
        const float = w?.type === "float";
        return { method, bits, groupSize: num(w, "group_size") ?? null, scheme: float ? "FP8" : a === undefined ? `W${bits}A16` : `W${bits}A${num(a, "num_bits") ?? 8}` };
    }
    if (method === "fp8") return { method, bits: 8, groupSize: null, scheme: "FP8" };
    return { method, bits: num(q, "bits") ?? num(q, "w_bit") ?? (q.load_in_4bit === true ? 4 : 8), groupSize: num(q, "group_size") ?? num(q, "q_group_size") ?? null };
}

/**
 * Parameters from the architecture: attention, MLP (every expert for MoE), embeddings and an
 * untied lm_head; norms and biases are left out (well under 1%).
 */
export function paramsFromArchitecture(a: Pick<ModelSpec, "vocabSize" | "hiddenSize" | "intermediateSize" | "numAttentionHeads" | "layers" | "kvHeads" | "headDim" | "tiedEmbeddings">, experts?: { total: number; active: number; intermediateSize: number } | null): { total: number; active: number } {
    const h = a.hiddenSize;
    const attention = h * a.numAttentionHeads * a.headDim * 2 + h * a.kvHeads * a.headDim * 2;
    const mlp = (n: number, inter: number) => n * 3 * h * inter;
    const embed = a.vocabSize * h * (a.tiedEmbeddings ? 1 : 2);
    if (experts) {
        return {
            total: a.layers * (attention + mlp(experts.total, experts.intermediateSize) + h * experts.total) + embed,
            active: a.layers * (attention + mlp(experts.active, experts.intermediateSize)) + embed,
        };
    }
    const total = a.layers * (attention + mlp(1, a.intermediateSize)) + embed;
    return { total, active: total };
}

/** Vision tower parameters from vision_config (ViT blocks: attention 4h², MLP 2·h·I), in billions. */
function visionParamsB(v: Json): number | undefined {
    const h = num(v, "hidden_size");
    const i = num(v, "intermediate_size");
    const l = num(v, "num_hidden_layers");
    if (h === undefined || i === undefined || l === undefined) return undefined;
    return (l * (4 * h * h + 2 * h * i)) / 1e9;
}

/**
 * A model's spec from its config.json (multimodal models keep the language model under
 * text_config), or undefined when a field the estimate needs is missing.
 */
export function modelFromConfig(id: string, revision: string, config: Json, source: string): ModelSpec | undefined {
    const c = obj(config.text_config) ?? config;
    const layers = num(c, "num_hidden_layers");
    const heads = num(c, "num_attention_heads");
    const hidden = num(c, "hidden_size");
    const vocab = num(c, "vocab_size") ?? num(config, "vocab_size");
    const kvHeads = num(c, "num_key_value_heads") ?? heads;
    const headDim = num(c, "head_dim") ?? (hidden !== undefined && heads !== undefined ? hidden / heads : undefined);
    const maxContext = num(c, "max_position_embeddings");
    const inter = num(c, "intermediate_size");
    if (layers === undefined || heads === undefined || hidden === undefined || vocab === undefined || kvHeads === undefined || headDim === undefined || maxContext === undefined || inter === undefined) return undefined;
    const tied = (c.tie_word_embeddings ?? config.tie_word_embeddings) !== false;
    const expertsTotal = num(c, "num_experts") ?? num(c, "num_local_experts");
    const expertsActive = num(c, "num_experts_per_tok");
    const experts = expertsTotal !== undefined && expertsActive !== undefined ? { total: expertsTotal, active: expertsActive, intermediateSize: num(c, "moe_intermediate_size") ?? inter } : null;
    const arch = { vocabSize: vocab, hiddenSize: hidden, intermediateSize: inter, numAttentionHeads: heads, layers, kvHeads, headDim, tiedEmbeddings: tied };
    const params = paramsFromArchitecture(arch, experts);
    const visionConfig = obj(config.vision_config);
    const vParams = visionConfig && visionParamsB(visionConfig);
    const vision = vParams === undefined ? null : { paramsB: vParams, tokensPerImage: num(config, "mm_tokens_per_image") ?? 256 };
    const window = num(c, "sliding_window");
    const layerTypes = Array.isArray(c.layer_types) ? (c.layer_types as unknown[]) : undefined;
    const pattern = num(c, "sliding_window_pattern");
    // Only models that mix sliding and global layers save KV memory this way (Mistral-style
    // configs carry sliding_window: null or apply it everywhere through use_sliding_window).
    const slidingLayers = window === undefined ? 0
        : layerTypes !== undefined ? layerTypes.filter((t) => t === "sliding_attention").length
        : pattern !== undefined && pattern > 1 ? layers - Math.floor(layers / pattern)
        : 0;
    return {
        id,
        revision,
        source,
        architecture: Array.isArray(config.architectures) ? String(config.architectures[0]) : undefined,
        paramsB: params.total / 1e9 + (vParams ?? 0),
        activeParamsB: params.active / 1e9 + (vParams ?? 0),
        ...arch,
        slidingWindow: slidingLayers > 0 && window !== undefined ? window : null,
        slidingLayers,
        maxContext,
        vision,
        experts,
        quantization: quantizationFromConfig(config),
    };
}

/**
 * What a model id alone says, for when the Hub cannot be asked: its size ("Llama-3.3-70B",
 * "Qwen3-30B-A3B": total 30) and whether its name marks a 4- or 8-bit checkpoint. Undefined
 * when the id names no size.
 */
export function sizeFromModelId(id: string): { paramsB: number; minBitsPerWeight: number } | undefined {
    const name = id.split("/").pop() ?? id;
    const sizes = [...name.matchAll(/(?:^|[-_.])(\d+(?:\.\d+)?)([bBmM])(?=$|[-_.])/g)].map((m) => Number(m[1]) / (m[2].toLowerCase() === "m" ? 1000 : 1));
    if (sizes.length === 0) return undefined;
    const lower = name.toLowerCase();
    const bits = /awq|gptq|int4|w4a16|4bit|q4|nf4|bnb-4bit/.test(lower) ? 4 : /fp8|int8|w8a8|w8a16|8bit/.test(lower) ? 8 : 16;
    // The first size is the total ("30B-A3B": 30 total, 3 active).
    return { paramsB: sizes[0], minBitsPerWeight: bits };
}
