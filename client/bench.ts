// `npm run bench`: measures a deployed stack through the same authenticated client as the
// smoke test: cold start (first request to first token), then a concurrency sweep with a fixed
// prompt and output length: time to first token (p50/p95), inter-token latency, output tokens
// per second in total and per stream, errors (429/503), and cost per million output tokens.
// Writes JSON and an SVG chart, prints a table, and stops by itself within bounded time and
// request count.
import * as fs from "fs";
import * as path from "path";
import { parseArgs } from "util";
import OpenAI from "openai";
import { Connection, connectionFromOutputs, createClient, credentialErrorOf, defaultIdTokens, describeError, IdTokenSource, stackOutputs } from "./index";

export interface BenchOptions {
    /** Concurrent streams per step. Default: 1, 4, 16, 64. */
    levels?: number[];
    /** Requests per level. Default: 2 x level, at least 8. */
    requestsPerLevel?: (level: number) => number;
    /** Output tokens per request (fixed: ignore_eos). Default: 128. */
    maxTokens?: number;
    /** Prompt sent with every request. */
    prompt?: string;
    /** Measure the first request as a cold start (run it after the service scaled to zero). */
    coldStart?: boolean;
    /** Hard limits: the run stops by itself when either is reached. Defaults: 600 s, 1000 requests. */
    maxSeconds?: number;
    maxRequests?: number;
    /** USD per instance-hour, for cost per million tokens (the stack's costEstimate output). */
    instanceHourUsd?: number;
    /** Single-stream physical ceiling in tokens/s, shown next to the measurement. */
    ceilingTokensPerSecond?: number;
    ids?: IdTokenSource;
    fetch?: typeof fetch;
    progress?: (line: string) => void;
}

export interface RequestSample {
    ok: boolean;
    status?: number;
    ttftMs?: number;
    /** Gaps between streamed chunks after the first, in ms. */
    itlMs: number[];
    outputTokens: number;
    startMs: number;
    endMs: number;
    /** What went wrong, for a failed request. */
    error?: string;
}

export interface LevelResult {
    concurrency: number;
    requests: number;
    ok: number;
    errors: Record<string, number>;
    /** The first failure's message, when there were errors. */
    firstError?: string;
    /** NaN (null in JSON) when no request succeeded. */
    ttftMs: { p50: number; p95: number };
    itlMs: { p50: number; p95: number };
    /** All streams together: output tokens / wall time of the level. */
    tokensPerSecond: number;
    /** Mean over requests of tokens after the first / decode time. */
    perStreamTokensPerSecond: number;
    /** At this throughput on one instance, if instanceHourUsd is known. */
    usdPerMillionOutputTokens?: number;
}

export interface BenchResult {
    url: string;
    model: string;
    startedAt: string;
    maxTokens: number;
    coldStartMs?: number;
    levels: LevelResult[];
    ceilingTokensPerSecond?: number;
    /** True when a time or request limit cut the run short. */
    truncated: boolean;
    elapsedSeconds: number;
}

export const DEFAULT_PROMPT = "Write a detailed, factual essay about the history of the bicycle, from the draisine to modern carbon frames.";

export function percentile(values: number[], p: number): number {
    if (values.length === 0) return NaN;
    const sorted = [...values].sort((a, b) => a - b);
    const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
    return sorted[rank];
}

const round = (n: number, d = 1) => (Number.isFinite(n) ? Math.round(n * 10 ** d) / 10 ** d : n);

async function oneRequest(client: OpenAI, model: string, prompt: string, maxTokens: number): Promise<RequestSample> {
    const startMs = performance.now();
    const sample: RequestSample = { ok: false, itlMs: [], outputTokens: 0, startMs, endMs: startMs };
    let last = 0;
    let chunks = 0;
    try {
        const stream = await client.completions.create({
            model,
            prompt,
            max_tokens: maxTokens,
            temperature: 0,
            stream: true,
            stream_options: { include_usage: true },
            // vLLM extension: generate exactly max_tokens, so every request is the same length.
            ...({ ignore_eos: true } as object),
        });
        for await (const chunk of stream) {
            const now = performance.now();
            if ((chunk.choices[0]?.text ?? "") !== "") {
                if (sample.ttftMs === undefined) sample.ttftMs = now - startMs;
                else sample.itlMs.push(now - last);
                last = now;
                chunks++;
            }
            if (chunk.usage) sample.outputTokens = chunk.usage.completion_tokens;
        }
        if (sample.outputTokens === 0) sample.outputTokens = chunks;
        sample.ok = sample.ttftMs !== undefined;
    } catch (e) {
        // Without credentials every further request fails the same way: stop the run.
        const credential = credentialErrorOf(e);
        if (credential) throw credential;
        sample.status = e instanceof OpenAI.APIError && typeof e.status === "number" ? e.status : undefined;
        sample.error = describeError(e);
    }
    sample.endMs = performance.now();
    return sample;
}

export function summarize(concurrency: number, samples: RequestSample[], wallMs: number, instanceHourUsd?: number): LevelResult {
    const ok = samples.filter((s) => s.ok);
    const errors: Record<string, number> = {};
    for (const s of samples.filter((x) => !x.ok)) {
        const key = s.status === undefined ? "network" : String(s.status);
        errors[key] = (errors[key] ?? 0) + 1;
    }
    const tokens = ok.reduce((n, s) => n + s.outputTokens, 0);
    const tokensPerSecond = wallMs > 0 ? tokens / (wallMs / 1000) : 0;
    const perStream = ok
        .map((s) => (s.outputTokens - 1) / ((s.endMs - s.startMs - (s.ttftMs ?? 0)) / 1000))
        .filter((v) => Number.isFinite(v) && v > 0);
    const firstError = samples.find((s) => !s.ok)?.error;
    return {
        concurrency,
        requests: samples.length,
        ok: ok.length,
        errors,
        ...(firstError === undefined ? {} : { firstError }),
        ttftMs: { p50: round(percentile(ok.map((s) => s.ttftMs ?? 0), 50)), p95: round(percentile(ok.map((s) => s.ttftMs ?? 0), 95)) },
        itlMs: { p50: round(percentile(ok.flatMap((s) => s.itlMs), 50), 2), p95: round(percentile(ok.flatMap((s) => s.itlMs), 95), 2) },
        tokensPerSecond: round(tokensPerSecond),
        perStreamTokensPerSecond: round(perStream.reduce((a, b) => a + b, 0) / Math.max(perStream.length, 1)),
        ...(instanceHourUsd !== undefined && tokensPerSecond > 0 ? { usdPerMillionOutputTokens: round((instanceHourUsd / (tokensPerSecond * 3600)) * 1e6, 3) } : {}),
    };
}

export async function bench(conn: Connection, opts: BenchOptions = {}): Promise<BenchResult> {
    const levels = opts.levels ?? [1, 4, 16, 64];
    const perLevel = opts.requestsPerLevel ?? ((c: number) => Math.max(2 * c, 8));
    const maxTokens = opts.maxTokens ?? 128;
    const prompt = opts.prompt ?? DEFAULT_PROMPT;
    const maxMs = (opts.maxSeconds ?? 600) * 1000;
    const maxRequests = opts.maxRequests ?? 1000;
    const progress = opts.progress ?? ((l: string) => process.stderr.write(`\r${l}\x1b[K`));
    // One token up front: without credentials the run stops here, before any request is sent.
    const ids = opts.ids ?? defaultIdTokens(conn.url);
    await ids.token();
    // No retries: a 429 or 503 is a measurement, not something to hide.
    const client = createClient(conn, { ids, fetch: opts.fetch, maxRetries: 0 });
    const t0 = performance.now();
    const out: BenchResult = { url: conn.url, model: conn.model, startedAt: new Date().toISOString(), maxTokens, levels: [], ceilingTokensPerSecond: opts.ceilingTokensPerSecond, truncated: false, elapsedSeconds: 0 };
    let sent = 0;
    let stopped = false;
    const budgetLeft = () => !stopped && performance.now() - t0 < maxMs && sent < maxRequests;

    if (opts.coldStart) {
        progress("cold start: first request, waiting for the first token…");
        const first = await oneRequest(client, conn.model, prompt, 16);
        sent++;
        if (first.ok) out.coldStartMs = round(first.ttftMs ?? 0, 0);
        progress(`cold start: ${first.ok ? `${out.coldStartMs} ms to first token` : `failed (${first.status ?? "network"})`}\n`);
    }

    for (const concurrency of levels) {
        if (!budgetLeft()) {
            out.truncated = true;
            break;
        }
        const target = perLevel(concurrency);
        const samples: RequestSample[] = [];
        let next = 0;
        const levelStart = performance.now();
        const worker = async () => {
            while (next < target && budgetLeft()) {
                next++;
                sent++;
                try {
                    samples.push(await oneRequest(client, conn.model, prompt, maxTokens));
                } catch (e) {
                    // A credential error: the other workers stop too.
                    stopped = true;
                    throw e;
                }
                const errs = samples.filter((s) => !s.ok).length;
                progress(`concurrency ${concurrency}: ${samples.length}/${target} requests, ${errs} errors, ${Math.round((performance.now() - t0) / 1000)} s elapsed`);
            }
        };
        await Promise.all(Array.from({ length: concurrency }, worker));
        if (samples.length < target) out.truncated = true;
        const level = summarize(concurrency, samples, performance.now() - levelStart, opts.instanceHourUsd);
        out.levels.push(level);
        progress(level.ok > 0
            ? `concurrency ${concurrency}: ${level.tokensPerSecond} tokens/s, TTFT p50 ${level.ttftMs.p50} ms\n`
            : `concurrency ${concurrency}: no successful requests (${errorSummary(level.errors)})\n`);
    }
    out.elapsedSeconds = round((performance.now() - t0) / 1000);
    return out;
}

const errorSummary = (errors: Record<string, number>) => Object.entries(errors).map(([k, v]) => `${k}:${v}`).join(" ");

/** True when requests were sent and none of them succeeded. */
export function everyRequestFailed(r: BenchResult): boolean {
    const sent = r.levels.reduce((n, l) => n + l.requests, 0);
    return sent > 0 && r.levels.every((l) => l.ok === 0) && r.coldStartMs === undefined;
}

/** A number for the table: "-" where there is nothing to show (no successful request). */
const cell = (n: number) => (Number.isFinite(n) ? String(n) : "-");

/** A plain-text table of the results. */
export function table(r: BenchResult): string {
    const head = ["streams", "ok/sent", "errors", "TTFT p50 ms", "TTFT p95 ms", "ITL p50 ms", "ITL p95 ms", "tok/s total", "tok/s/stream", "$/M tokens"];
    const rows = r.levels.map((l) => [
        String(l.concurrency), `${l.ok}/${l.requests}`, errorSummary(l.errors) || "-",
        cell(l.ttftMs.p50), cell(l.ttftMs.p95), cell(l.itlMs.p50), cell(l.itlMs.p95), String(l.tokensPerSecond), String(l.perStreamTokensPerSecond),
        l.usdPerMillionOutputTokens === undefined ? "-" : l.usdPerMillionOutputTokens.toFixed(3),
    ]);
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
    const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join("  ");
    const lines = [line(head), ...rows.map(line)];
    if (r.coldStartMs !== undefined) lines.unshift(`cold start: ${r.coldStartMs} ms from first request to first token`);
    if (r.ceilingTokensPerSecond !== undefined && r.levels[0]?.concurrency === 1) {
        lines.push(`single stream: ${r.levels[0].perStreamTokensPerSecond} tok/s measured vs ~${r.ceilingTokensPerSecond} tok/s physical ceiling (GPU memory bandwidth / weight bytes)`);
    }
    for (const l of r.levels.filter((x) => x.ok === 0 && x.requests > 0)) {
        lines.push(`concurrency ${l.concurrency}: no successful requests, so no latency or throughput (${errorSummary(l.errors)}${l.firstError ? `; first error: ${l.firstError}` : ""})`);
    }
    if (r.truncated) lines.push("stopped early at the time or request limit");
    return lines.join("\n");
}

/** An SVG chart: output tokens/s (total) and TTFT p50/p95 against concurrency. */
export function chart(r: BenchResult): string {
    const W = 720, H = 320, m = { l: 60, r: 60, t: 30, b: 40 };
    const xs = r.levels.map((l) => l.concurrency);
    const xPos = (i: number) => m.l + (xs.length <= 1 ? (W - m.l - m.r) / 2 : (i * (W - m.l - m.r)) / (xs.length - 1));
    const maxTok = Math.max(1, ...r.levels.map((l) => l.tokensPerSecond));
    const maxTtft = Math.max(1, ...r.levels.map((l) => l.ttftMs.p95).filter(Number.isFinite));
    const yTok = (v: number) => H - m.b - (v / maxTok) * (H - m.t - m.b);
    const yTtft = (v: number) => H - m.b - (v / maxTtft) * (H - m.t - m.b);
    // Levels without a successful request have no TTFT: leave their points out.
    const poly = (all: [number, number][], color: string, dash = "", pts = all.filter(([, y]) => Number.isFinite(y))) =>
        `<polyline fill="none" stroke="${color}" stroke-width="2" ${dash ? `stroke-dasharray="${dash}"` : ""} points="${pts.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" ")}"/>` +
        pts.map(([x, y]) => `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="3" fill="${color}"/>`).join("");
    const tok = r.levels.map((l, i) => [xPos(i), yTok(l.tokensPerSecond)] as [number, number]);
    const p50 = r.levels.map((l, i) => [xPos(i), yTtft(l.ttftMs.p50)] as [number, number]);
    const p95 = r.levels.map((l, i) => [xPos(i), yTtft(l.ttftMs.p95)] as [number, number]);
    const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");
    return [
        `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
        `<rect width="${W}" height="${H}" fill="white"/>`,
        `<text x="${W / 2}" y="18" text-anchor="middle" font-size="14">${esc(r.model)}: throughput and time to first token by concurrency</text>`,
        `<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="black"/>`,
        `<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="#1f77b4"/>`,
        `<line x1="${W - m.r}" y1="${m.t}" x2="${W - m.r}" y2="${H - m.b}" stroke="#d62728"/>`,
        ...xs.map((x, i) => `<text x="${xPos(i).toFixed(1)}" y="${H - m.b + 16}" text-anchor="middle">${x}</text>`),
        `<text x="${W / 2}" y="${H - 6}" text-anchor="middle">concurrent streams</text>`,
        `<text x="${m.l - 6}" y="${m.t + 4}" text-anchor="end" fill="#1f77b4">${Math.round(maxTok)}</text>`,
        `<text x="${m.l - 6}" y="${H - m.b}" text-anchor="end" fill="#1f77b4">0</text>`,
        `<text x="14" y="${H / 2}" fill="#1f77b4" transform="rotate(-90 14 ${H / 2})" text-anchor="middle">output tokens/s (total)</text>`,
        `<text x="${W - m.r + 6}" y="${m.t + 4}" fill="#d62728">${Math.round(maxTtft)} ms</text>`,
        `<text x="${W - m.r + 6}" y="${H - m.b}" fill="#d62728">0 ms</text>`,
        `<text x="${W - 12}" y="${H / 2}" fill="#d62728" transform="rotate(90 ${W - 12} ${H / 2})" text-anchor="middle">TTFT p50 (solid) / p95 (dashed)</text>`,
        poly(tok, "#1f77b4"),
        poly(p50, "#d62728"),
        poly(p95, "#d62728", "4 3"),
        `</svg>`,
    ].join("\n");
}

/** Writes `<dir>/bench-<time>.json` and `.svg`; returns their paths. */
export function writeResults(r: BenchResult, dir: string): { json: string; svg: string } {
    fs.mkdirSync(dir, { recursive: true });
    const base = path.join(dir, `bench-${r.startedAt.replace(/[:.]/g, "-")}`);
    fs.writeFileSync(`${base}.json`, JSON.stringify(r, null, 2) + "\n");
    fs.writeFileSync(`${base}.svg`, chart(r) + "\n");
    return { json: `${base}.json`, svg: `${base}.svg` };
}

export const BENCH_USAGE = "usage: npm run bench -- [--stack NAME] [--levels 1,4,16,64] [--max-tokens 128] [--cold-start] [--max-seconds 600] [--max-requests 1000] [--out bench-results]";

/** The run's options from the command line; throws (for the usage) on unknown flags and bad numbers. */
export function parseBenchArgs(argv: string[]): { stack?: string; help: boolean; out: string; options: BenchOptions } {
    const { values } = parseArgs({
        args: argv,
        options: {
            stack: { type: "string" },
            levels: { type: "string" },
            "max-tokens": { type: "string" },
            "max-seconds": { type: "string" },
            "max-requests": { type: "string" },
            "cold-start": { type: "boolean" },
            out: { type: "string" },
            help: { type: "boolean", short: "h" },
        },
        strict: true,
        allowPositionals: false,
    });
    const positive = (name: string, text: string | undefined, fallback: number, integer = true): number => {
        if (text === undefined) return fallback;
        const n = Number(text);
        if (!(n > 0) || !Number.isFinite(n) || (integer && !Number.isInteger(n))) throw new TypeError(`--${name} must be a positive ${integer ? "integer" : "number"}, not "${text}"`);
        return n;
    };
    const levels = values.levels?.split(",").map((part) => positive("levels", part.trim(), 0));
    return {
        stack: values.stack,
        help: values.help ?? false,
        out: values.out ?? "bench-results",
        options: {
            levels,
            maxTokens: positive("max-tokens", values["max-tokens"], 128),
            maxSeconds: positive("max-seconds", values["max-seconds"], 600, false),
            maxRequests: positive("max-requests", values["max-requests"], 1000),
            coldStart: values["cold-start"] ?? false,
        },
    };
}

/** `npm run bench -- [--stack NAME] [--levels 1,4,16,64] [--max-tokens 128] [--cold-start] [--max-seconds 600] [--max-requests 1000] [--out bench-results]` */
export async function main(argv: string[]): Promise<number> {
    let args: ReturnType<typeof parseBenchArgs>;
    try {
        args = parseBenchArgs(argv);
    } catch (e) {
        console.error(`${e instanceof Error ? e.message : String(e)}\n${BENCH_USAGE}`);
        return 2;
    }
    if (args.help) {
        console.log(BENCH_USAGE);
        return 0;
    }
    try {
        const outputs = stackOutputs(args.stack);
        const conn = connectionFromOutputs(outputs, args.stack);
        const result = await bench(conn, {
            ...args.options,
            instanceHourUsd: outputs.costEstimate?.perInstanceHour,
            ceilingTokensPerSecond: outputs.gpuMemoryEstimate?.singleStreamCeilingTokensPerSecond,
        });
        console.log(table(result));
        if (everyRequestFailed(result)) {
            // Nothing was measured: no result files, and a failing exit status for scripts.
            console.error("bench failed: every request failed, so there is nothing to report (no files written).");
            return 1;
        }
        const files = writeResults(result, args.out);
        console.log(`wrote ${files.json} and ${files.svg}`);
        return 0;
    } catch (e) {
        console.error(`bench failed: ${describeError(e)}`);
        return 1;
    }
}

if (require.main === module) {
    void main(process.argv.slice(2)).then((code) => process.exit(code));
}
