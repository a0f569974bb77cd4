// How long an instance may take to become ready, derived from the startup mode, the model's
// size and where its weights come from, for the Cloud Run startup probe.
// Published figures (Cloud Run GPU docs; vLLM): a GPU instance starts in ~5 s; vLLM's engine
// start is ~30-60 s for a 1B model with torch.compile and CUDA graph capture, 20-30 s in eager
// mode; gemma-3-1b was reported ready ~2.7 min after start on an L4. The constants below are
// conservative estimates built on those; `npm run bench` measures the real cold start.

/** `auto` resolves to fast or throughput in config/index.ts. */
export const STARTUP_MODES = ["auto", "fast", "throughput"] as const;
export type StartupMode = "fast" | "throughput";
export const WEIGHTS_SOURCES = ["image", "gcs"] as const;
export type WeightsSource = (typeof WEIGHTS_SOURCES)[number];

/** Container start, Python and vLLM imports. */
export const BASE_SECONDS = 30;
/** vLLM engine start beyond loading weights: eager vs torch.compile + CUDA graph capture. */
export const ENGINE_SECONDS: Readonly<Record<StartupMode, number>> = { fast: 30, throughput: 90 };
/** Seconds to load one GiB of weights: from the streamed image, or through Cloud Storage FUSE (serial). */
export const LOAD_SECONDS_PER_GIB: Readonly<Record<WeightsSource, number>> = { image: 10, gcs: 20 };
/** Headroom over the estimate before an instance is declared failed. */
export const SAFETY_FACTOR = 2;
/**
 * The longest a GPU service's startup probe may check: failureThreshold x periodSeconds "cannot
 * exceed 600 seconds (1800 for GPU)" (https://cloud.google.com/run/docs/configuring/healthchecks,
 * "Startup probe requirements and behavior", read 2026-11).
 */
export const MAX_STARTUP_SECONDS = 1800;
export const MIN_STARTUP_SECONDS = 240;

export interface StartupEstimate {
    /** Expected seconds from container start to ready. */
    expectedSeconds: number;
    /** Window given to the startup probe. */
    windowSeconds: number;
    /** The expected time with headroom exceeds what Cloud Run allows. */
    exceedsCloudRunLimit: boolean;
    /** The headroom asked for: window = expected x this, within Cloud Run's limits. */
    safetyFactor: number;
}

export function startupEstimate(mode: StartupMode, weightsGiB: number, weights: WeightsSource): StartupEstimate {
    const expectedSeconds = Math.round(BASE_SECONDS + ENGINE_SECONDS[mode] + weightsGiB * LOAD_SECONDS_PER_GIB[weights]);
    const wanted = expectedSeconds * SAFETY_FACTOR;
    return {
        expectedSeconds,
        windowSeconds: Math.min(Math.max(wanted, MIN_STARTUP_SECONDS), MAX_STARTUP_SECONDS),
        exceedsCloudRunLimit: wanted > MAX_STARTUP_SECONDS,
        safetyFactor: SAFETY_FACTOR,
    };
}
