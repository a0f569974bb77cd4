// What `npm run e2e` reports: each phase with its timing, cold start, tokens/s, an estimate of
// what the run cost and what was left behind; as JSON for machines and a table for people.
// Nothing secret goes in: the run redacts the Hugging Face token from the whole text as well.
import type { OpMap } from "@pulumi/pulumi/automation";
import { DEFAULTS } from "../config";
import { GPU_TYPES } from "../config/gpus";
import { estimateCost } from "../config/preflight";
import { PRICES_AS_OF, PRICING_SOURCE } from "../config/pricing";
import type { LeftoverCheck } from "./leftovers";

export const PHASES = ["create", "up", "ready", "smoke", "bench", "preview", "destroy", "remove-stack", "leftovers"] as const;
export type PhaseName = (typeof PHASES)[number];

export interface PhaseRecord {
    name: PhaseName;
    /** ISO times and duration; null when the phase did not run. */
    start: string | null;
    end: string | null;
    seconds: number | null;
    ok: boolean;
    skipped: boolean;
    error?: string;
    /** destroy: 2 when the first attempt failed and it was retried. */
    attempts?: number;
}

/**
 * Cloud Build, default pool, USD per build-minute (partial minutes billed by the second; the
 * 2,500 free minutes a month are for e2-standard-2 only; n1 types cost the same as e2).
 * Source: https://cloud.google.com/build/pricing (read 2026-11).
 */
export const CLOUD_BUILD_USD_PER_MINUTE: Readonly<Record<string, number>> = {
    "e2-medium": 0.003,
    "e2-highcpu-8": 0.016,
    "e2-highcpu-32": 0.064,
    "n1-highcpu-8": 0.016,
    "n1-highcpu-32": 0.064,
};
export const CLOUD_BUILD_PRICING_SOURCE = "https://cloud.google.com/build/pricing";
/** The e2e stack keeps the default build machine. */
export const BUILD_MACHINE = DEFAULTS.buildMachineType;

export interface RunCost {
    /** An upper bound, in USD: see assumptions. */
    estimateUsd: number;
    gpuInstance: { usdPerHour: number; priceFrom: string; hours: number; usd: number };
    cloudBuild: { machineType: string; usdPerMinute: number; minutes: number; usd: number };
    assumptions: string[];
    sources: string[];
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

/** USD per hour of one instance of the e2e stack (Pulumi.yaml's defaults) from the price table, for when the stack has no outputs. */
export function defaultInstanceHourUsd(region: string): number {
    // cpu 0 and memory "" mean the GPU's own defaults.
    const gpu = GPU_TYPES[DEFAULTS.gpuType];
    return estimateCost({ region, gpuType: DEFAULTS.gpuType, cpu: gpu.defaultCpu, memory: gpu.defaultMemory, gpuZonalRedundancy: DEFAULTS.gpuZonalRedundancy, minInstances: 0 }).perInstanceHour;
}

/**
 * What a run cost at most: one GPU instance billed from the start of `up` to the end of
 * `destroy` (or of the run, when destroy did not finish), and Cloud Build minutes as long as
 * `up` ran. Both are upper bounds: the service exists only from late in `up`, and at
 * minInstances 0 an idle instance is shut down; the build is only part of `up`.
 */
export function runCost(t: { upStartMs?: number; upEndMs?: number; endMs: number; destroyed: boolean }, usdPerHour: number, priceFrom: string): RunCost {
    const hours = t.upStartMs === undefined ? 0 : Math.max(0, t.endMs - t.upStartMs) / 3_600_000;
    const minutes = t.upStartMs === undefined ? 0 : Math.max(0, (t.upEndMs ?? t.endMs) - t.upStartMs) / 60_000;
    const perMinute = CLOUD_BUILD_USD_PER_MINUTE[BUILD_MACHINE];
    const gpuUsd = hours * usdPerHour;
    const buildUsd = minutes * perMinute;
    return {
        estimateUsd: round(gpuUsd + buildUsd),
        gpuInstance: { usdPerHour, priceFrom, hours: round(hours, 3), usd: round(gpuUsd) },
        cloudBuild: { machineType: BUILD_MACHINE, usdPerMinute: perMinute, minutes: round(minutes, 1), usd: round(buildUsd) },
        assumptions: [
            "An estimate and an upper bound, not a bill.",
            "GPU instance: minInstances 0 and maxInstances 1, so at most one instance; counted from the start of `up` to the end of `destroy`, although the service exists only from late in `up` and an idle instance is shut down.",
            ...(t.destroyed ? [] : ["destroy did not finish: an instance costs money only while it runs (minInstances 0), but the stack's storage does until it is removed."]),
            `Cloud Build: ${BUILD_MACHINE} for as long as \`up\` ran (the build is most, not all, of it); pushing the image to another region is included in build-minutes.`,
            `Cloud Run prices: Tier 1, as of ${PRICES_AS_OF}; other regions cost more.`,
            "Not counted (cents or less for one run): Artifact Registry storage of ~25 GB for under an hour, the build disk above the free 100 GB, Secret Manager, Cloud Storage, Cloud Logging.",
        ],
        sources: [PRICING_SOURCE, CLOUD_BUILD_PRICING_SOURCE],
    };
}

/** What a typical run takes, for the estimate before it starts: a 30-minute `up`, 15 minutes for the rest. */
export const TYPICAL_MINUTES = { up: 30, rest: 15 };

export function typicalRunCost(region: string): RunCost {
    const up = TYPICAL_MINUTES.up * 60_000;
    return runCost({ upStartMs: 0, upEndMs: up, endMs: up + TYPICAL_MINUTES.rest * 60_000, destroyed: true }, defaultInstanceHourUsd(region), "price table (config/pricing.ts)");
}

export interface BenchSummary {
    maxTokens: number;
    levels: { concurrency: number; requests: number; ok: number; tokensPerSecond: number; perStreamTokensPerSecond: number; ttftP50Ms: number | null }[];
    /** Highest total output tokens/s of any level. */
    bestTokensPerSecond: number | null;
    truncated: boolean;
}

export interface E2eReport {
    stack: string;
    project: string;
    region: string;
    buildRegion: string;
    model: string;
    startedAt: string;
    endedAt: string;
    passed: boolean;
    exitCode: number;
    /** The first phase that failed, if any. */
    failedPhase: PhaseName | null;
    /** SIGINT or SIGTERM when the run was interrupted; `exitedEarly` when a second signal ended it before cleanup finished. */
    interrupted: { signal: string; exitedEarly: boolean } | null;
    phases: PhaseRecord[];
    coldStart: {
        /** From the end of `up` to the first 200 from /health. */
        upEndToHealthySeconds: number | null;
        /** The benchmark's first request, first request to first token. */
        firstRequestToFirstTokenMs: number | null;
        note: string;
    };
    smoke: { timeToFirstTokenMs: number; tokensPerSecond: number; models: string[] } | null;
    bench: BenchSummary | null;
    preview: { changeSummary: OpMap; changes: string[] } | null;
    cost: RunCost;
    /** null when the check did not run; `error` when it ran and could not answer at all. */
    leftovers: { checked: number; remaining: LeftoverCheck[]; unchecked: LeftoverCheck[]; error?: string } | null;
    cleanup: { destroyed: boolean; stackRemoved: boolean; commands: string[] };
}

const cell = (n: number | null | undefined, digits = 1) => (n === null || n === undefined || !Number.isFinite(n) ? "-" : n.toFixed(digits));

/** The report for people: phases, measurements, cost, what is left and how to remove it. */
export function reportTable(r: E2eReport, reportPath: string): string[] {
    const lines = [`e2e: stack ${r.stack}, project ${r.project}, region ${r.region} (build ${r.buildRegion}), model ${r.model}`];
    const width = Math.max(...PHASES.map((p) => p.length));
    lines.push(`${"phase".padEnd(width)}  ${"seconds".padStart(8)}  result`);
    for (const p of r.phases) {
        const result = p.skipped ? "skipped" : p.ok ? `ok${p.attempts && p.attempts > 1 ? ` (attempt ${p.attempts})` : ""}` : `FAILED: ${(p.error ?? "").split("\n")[0]}`;
        lines.push(`${p.name.padEnd(width)}  ${cell(p.seconds).padStart(8)}  ${result}`);
    }
    const cs = r.coldStart;
    if (cs.upEndToHealthySeconds !== null || cs.firstRequestToFirstTokenMs !== null) {
        lines.push(`cold start: ${cell(cs.upEndToHealthySeconds)} s from the end of up to the first healthy answer; first request to first token ${cell(cs.firstRequestToFirstTokenMs, 0)} ms`);
    }
    if (r.smoke) lines.push(`smoke: time to first token ${r.smoke.timeToFirstTokenMs} ms, ${cell(r.smoke.tokensPerSecond)} tokens/s (one stream)`);
    if (r.bench) lines.push(`bench (${r.bench.maxTokens} output tokens per request): ${r.bench.levels.map((l) => `${l.concurrency} stream${l.concurrency === 1 ? "" : "s"} ${cell(l.tokensPerSecond)} tokens/s (${l.ok}/${l.requests} ok)`).join(", ")}`);
    const c = r.cost;
    lines.push(`cost, estimated upper bound: $${c.estimateUsd.toFixed(2)} = GPU instance ${c.gpuInstance.hours.toFixed(2)} h x $${c.gpuInstance.usdPerHour}/h ($${c.gpuInstance.usd.toFixed(2)}) + Cloud Build ${c.cloudBuild.minutes} min x $${c.cloudBuild.usdPerMinute}/min ($${c.cloudBuild.usd.toFixed(2)}); assumptions in the JSON report`);
    if (r.leftovers) {
        const { remaining, unchecked, checked, error } = r.leftovers;
        if (error !== undefined) lines.push(`left behind: unknown, the check failed: ${error}`);
        else if (remaining.length === 0 && unchecked.length === 0) lines.push(`left behind: nothing (${checked} lookups)`);
        for (const l of remaining) lines.push(`left behind: ${l.kind} ${l.name}${l.location ? ` (${l.location})` : ""}: ${l.removeCommand}`);
        for (const l of unchecked) lines.push(`could not check: ${l.kind} ${l.name}${l.location ? ` (${l.location})` : ""}: ${l.detail ?? "no answer"}`);
    }
    if (r.cleanup.commands.length > 0) lines.push("to finish the cleanup, from this repository's directory:", ...r.cleanup.commands.map((cmd) => `  ${cmd}`));
    lines.push(`${r.passed ? "PASSED" : "FAILED"}${r.failedPhase ? ` at ${r.failedPhase}` : ""}${r.interrupted ? ` (interrupted by ${r.interrupted.signal})` : ""}; report: ${reportPath}`);
    return lines;
}
