// The README's "Choosing a model" table, generated from the catalog by `npm run contract`, so
// the table and the preflight cannot disagree: each row is what a preview would say for that
// model, GPU and quantization with every other key at its default.
import { GPU_TYPES } from "./gpus";
import { estimateGpuMemory } from "./memory";
import { MODEL_CATALOG, ModelSpec } from "./model-catalog";
import { estimateCost } from "./preflight";
import { DEFAULT_REGION } from "./gpus";
import { DEFAULTS } from "./contract";
import { startupEstimate } from "./startup";
import { weightsGiB } from "./memory";

export interface ModelTableRow {
    model: string;
    gpuType: string;
    quantization: "none" | "fp8";
    verdict: string;
    /** Longest maxModelLen at which the default concurrency fits, or 0. */
    maxContext: number;
    weightsGiB: number;
    /** Expected seconds from container start to ready (fast mode, baked weights). */
    startupSeconds: number;
    /** Per instance-hour in a Tier 1 region (CPU and memory only when the GPU's price is not in the table). */
    perHour: number;
    gpuPriced: boolean;
}

/** One row per catalogued model, GPU and applicable quantization (fp8 only for unquantized checkpoints). */
export function modelTableRows(): ModelTableRow[] {
    const rows: ModelTableRow[] = [];
    for (const spec of Object.values<ModelSpec>(MODEL_CATALOG)) {
        for (const [gpuType, gpu] of Object.entries(GPU_TYPES)) {
            for (const quantization of spec.quantization === null ? (["none", "fp8"] as const) : (["none"] as const)) {
                const m = estimateGpuMemory(spec, {
                    gpuType,
                    gpuMemoryUtilization: DEFAULTS.gpuMemoryUtilization,
                    maxModelLen: DEFAULTS.maxModelLen,
                    concurrency: DEFAULTS.concurrency,
                    quantization,
                    kvCacheDtype: "auto",
                    imagesPerPrompt: spec.vision === null ? 0 : DEFAULTS.imagesPerPrompt,
                    // Scale-to-zero stacks start in fast mode (startupMode auto): no CUDA graphs.
                    cudaGraphs: false,
                    loras: 0,
                    maxLoraRank: 0,
                });
                const region = gpu.regions.includes(DEFAULT_REGION) ? DEFAULT_REGION : gpu.regions.find((r) => !gpu.invitationOnlyRegions.includes(r)) ?? DEFAULT_REGION;
                const cost = estimateCost({ region, gpuType, cpu: gpu.defaultCpu, memory: gpu.defaultMemory, gpuZonalRedundancy: false, minInstances: 0 });
                rows.push({
                    model: spec.id,
                    gpuType,
                    quantization,
                    verdict: m.verdict,
                    maxContext: m.verdict === "does-not-fit" ? 0 : Math.min(m.maxContextAtConcurrency, spec.maxContext),
                    weightsGiB: m.weightsGiB,
                    startupSeconds: startupEstimate("fast", weightsGiB(spec, "none"), "image").expectedSeconds,
                    perHour: cost.perInstanceHour,
                    gpuPriced: cost.gpuHour > 0,
                });
            }
        }
    }
    return rows;
}

const VERDICT: Readonly<Record<string, string>> = { fits: "fits", tight: "tight", "does-not-fit": "no" };

/** The table in Markdown, between the README's models markers. */
export function modelTableSection(): string {
    const gpuShort = (g: string) => (g === "nvidia-l4" ? "L4" : g === "nvidia-rtx-pro-6000" ? "RTX PRO 6000" : g);
    const lines = modelTableRows().map((r) => {
        const spec = MODEL_CATALOG[r.model];
        const kind = [spec.vision ? "vision" : "", spec.experts ? `MoE ${spec.activeParamsB}B active` : "", spec.quantization ? `${spec.quantization.method} ${spec.quantization.bits}-bit` : ""].filter((x) => x !== "").join(", ");
        return `| ${r.model}${kind ? ` (${kind})` : ""} | ${gpuShort(r.gpuType)} | ${r.quantization} | ${r.weightsGiB} | ${VERDICT[r.verdict]} | ${r.maxContext > 0 ? r.maxContext : "—"} | ${r.startupSeconds} | ${r.gpuPriced ? `$${r.perHour.toFixed(2)}` : `GPU n/a + $${r.perHour.toFixed(2)} CPU and memory`} |`;
    });
    return [
        "<!-- models:start (generated from config/models.json by `npm run contract`) -->",
        `| Model | GPU | quantization | Weights (GiB) | Fits at the defaults? | Longest maxModelLen at concurrency ${DEFAULTS.concurrency} | Expected cold start (s) | Per instance-hour |`,
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ...lines,
        "<!-- models:end -->",
    ].join("\n");
}
