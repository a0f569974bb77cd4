// Architecture numbers of popular models that fit Cloud Run's GPUs, for the GPU memory
// estimate. Each comes from the model's config.json on Hugging Face (source field) and its
// model card's parameter count. Models not listed are looked up at preview time.

export interface ModelArchitecture {
    /** Parameters, in billions (all weights vLLM loads, vision tower included). */
    paramsB: number;
    /** Decoder layers (num_hidden_layers). */
    layers: number;
    /** Key/value heads per layer (num_key_value_heads). */
    kvHeads: number;
    /** Dimension of one attention head (head_dim, or hidden_size / num_attention_heads). */
    headDim: number;
    /** Longest context the model supports (max_position_embeddings). */
    maxContext: number;
    /** Where these numbers come from. */
    source: string;
}

const hf = (id: string) => `https://huggingface.co/${id}/blob/main/config.json`;

export const MODEL_CATALOG: Readonly<Record<string, ModelArchitecture>> = Object.freeze({
    "google/gemma-3-1b-it": { paramsB: 1.0, layers: 26, kvHeads: 1, headDim: 256, maxContext: 32768, source: hf("google/gemma-3-1b-it") },
    "google/gemma-3-4b-it": { paramsB: 4.3, layers: 34, kvHeads: 4, headDim: 256, maxContext: 131072, source: hf("google/gemma-3-4b-it") },
    "google/gemma-3-12b-it": { paramsB: 12.2, layers: 48, kvHeads: 8, headDim: 256, maxContext: 131072, source: hf("google/gemma-3-12b-it") },
    "meta-llama/Llama-3.2-1B-Instruct": { paramsB: 1.24, layers: 16, kvHeads: 8, headDim: 64, maxContext: 131072, source: hf("meta-llama/Llama-3.2-1B-Instruct") },
    "meta-llama/Llama-3.2-3B-Instruct": { paramsB: 3.21, layers: 28, kvHeads: 8, headDim: 128, maxContext: 131072, source: hf("meta-llama/Llama-3.2-3B-Instruct") },
    "Qwen/Qwen2.5-0.5B-Instruct": { paramsB: 0.49, layers: 24, kvHeads: 2, headDim: 64, maxContext: 32768, source: hf("Qwen/Qwen2.5-0.5B-Instruct") },
    "Qwen/Qwen2.5-1.5B-Instruct": { paramsB: 1.54, layers: 28, kvHeads: 2, headDim: 128, maxContext: 32768, source: hf("Qwen/Qwen2.5-1.5B-Instruct") },
    "Qwen/Qwen2.5-3B-Instruct": { paramsB: 3.09, layers: 36, kvHeads: 2, headDim: 128, maxContext: 32768, source: hf("Qwen/Qwen2.5-3B-Instruct") },
    "Qwen/Qwen2.5-7B-Instruct": { paramsB: 7.62, layers: 28, kvHeads: 4, headDim: 128, maxContext: 32768, source: hf("Qwen/Qwen2.5-7B-Instruct") },
    "mistralai/Mistral-7B-Instruct-v0.3": { paramsB: 7.25, layers: 32, kvHeads: 8, headDim: 128, maxContext: 32768, source: hf("mistralai/Mistral-7B-Instruct-v0.3") },
});

/**
 * Architecture from a model's config.json (multimodal models keep the language model's
 * numbers under text_config) and its parameter count, or undefined when fields are missing.
 */
export function architectureFromConfig(config: Record<string, unknown>, paramsB: number | undefined, source: string): ModelArchitecture | undefined {
    const c = (typeof config.text_config === "object" && config.text_config !== null ? config.text_config : config) as Record<string, unknown>;
    const num = (k: string) => (typeof c[k] === "number" ? (c[k]) : undefined);
    const layers = num("num_hidden_layers");
    const heads = num("num_attention_heads");
    const kvHeads = num("num_key_value_heads") ?? heads;
    const hidden = num("hidden_size");
    const headDim = num("head_dim") ?? (hidden !== undefined && heads !== undefined ? hidden / heads : undefined);
    const maxContext = num("max_position_embeddings");
    if (paramsB === undefined || layers === undefined || kvHeads === undefined || headDim === undefined || maxContext === undefined) return undefined;
    return { paramsB, layers, kvHeads, headDim, maxContext, source };
}
