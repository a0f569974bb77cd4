// `npm run smoke`: waits for /health, lists /v1/models, sends one chat completion and one
// streamed completion through the real auth path, and reports time to first token and
// tokens per second. Exits non-zero with an explanation when the deploy does not answer.
import { parseArgs } from "util";
import OpenAI from "openai";
import { authorizedFetch, Connection, connectionFromStack, createClient, credentialErrorOf, defaultIdTokens, describeError, IdTokenSource } from "./index";

export interface SmokeReport {
    healthySeconds: number;
    models: string[];
    answer: string;
    streamed: string;
    timeToFirstTokenMs: number;
    outputTokens: number;
    tokensPerSecond: number;
}

export interface SmokeOptions {
    ids?: IdTokenSource;
    fetch?: typeof fetch;
    /** How long to wait for /health, covering a cold start. Default: 900 s. */
    waitSeconds?: number;
    pollMs?: number;
    log?: (line: string) => void;
}

/** What a failed call most likely means on Cloud Run with vLLM, for people, not stack traces. */
export function explainStatus(status: number, where: string): string {
    switch (status) {
        case 401:
            return `${where}: 401 Unauthorized. ${where.includes("/v1") ? "vLLM rejected the API key: check VLLM_API_KEY / `npx pulumi config get apiKey`." : "Cloud Run rejected the identity token: run `gcloud auth application-default login` (or set GOOGLE_APPLICATION_CREDENTIALS), or use gcloud's tokens with VLLM_ID_TOKEN_SOURCE=gcloud."}`;
        case 403:
            return `${where}: 403 Forbidden. Your account is not an invoker of the service: add it with \`npx pulumi config set --path 'invokers[0]' user:you@example.com && npx pulumi up\`, or use an account with roles/run.invoker.`;
        case 429:
            return `${where}: 429 Too Many Requests. Every instance (maxInstances) is busy at its concurrency, or the GPU quota is used up: raise maxInstances (and quota) or concurrency.`;
        case 503:
            return `${where}: 503 Service Unavailable. No instance is ready yet (cold start: image start plus model load) or the revision is failing its startup probe; see \`gcloud run services logs read\`.`;
        default:
            return `${where}: HTTP ${status}.`;
    }
}

export class SmokeError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "SmokeError";
    }
}

/** Polls /health until it answers 200 (seconds waited); 401/403 and missing credentials fail at once. */
export async function waitForHealth(conn: Connection, f: typeof fetch, waitSeconds: number, pollMs: number, log: (l: string) => void): Promise<number> {
    const start = Date.now();
    let last = "";
    for (;;) {
        let status = 0;
        try {
            status = (await f(`${conn.url}/health`, { signal: AbortSignal.timeout(60_000) })).status;
        } catch (e) {
            // Missing credentials are not a cold start: waiting cannot fix them.
            const credential = credentialErrorOf(e);
            if (credential) throw credential;
            last = `network error: ${describeError(e)}`;
        }
        if (status === 200) return (Date.now() - start) / 1000;
        if (status === 401 || status === 403) throw new SmokeError(explainStatus(status, "GET /health"));
        if (status !== 0) last = explainStatus(status, "GET /health");
        const waited = (Date.now() - start) / 1000;
        if (waited >= waitSeconds) throw new SmokeError(`Not healthy after ${Math.round(waited)} s. Last answer: ${last}`);
        log(`waiting for /health (${Math.round(waited)} s): ${last || "no answer yet"}`);
        await new Promise((r) => setTimeout(r, pollMs));
    }
}

function explainApiError(e: unknown, where: string): Error {
    const credential = credentialErrorOf(e);
    if (credential) return credential;
    if (e instanceof OpenAI.APIError && typeof e.status === "number") return new SmokeError(explainStatus(e.status, where));
    return e instanceof Error ? new SmokeError(`${where}: ${describeError(e)}`) : new Error(String(e));
}

export async function smoke(conn: Connection, opts: SmokeOptions = {}): Promise<SmokeReport> {
    const log = opts.log ?? ((l: string) => console.log(l));
    const ids = opts.ids ?? defaultIdTokens(conn.url);
    const f = authorizedFetch(ids, conn.apiKey !== undefined, opts.fetch);
    const client = createClient(conn, { ids, fetch: opts.fetch, maxRetries: 0 });

    const healthySeconds = await waitForHealth(conn, f, opts.waitSeconds ?? 900, opts.pollMs ?? 5000, log);
    log(`healthy after ${healthySeconds.toFixed(1)} s`);

    let models: string[];
    try {
        models = (await client.models.list()).data.map((m) => m.id);
    } catch (e) {
        throw explainApiError(e, "GET /v1/models");
    }
    if (!models.includes(conn.model)) throw new SmokeError(`GET /v1/models lists ${models.join(", ")}, not ${conn.model}: servedModelName and the client disagree.`);
    log(`models: ${models.join(", ")}`);

    let answer: string;
    try {
        const chat = await client.chat.completions.create({ model: conn.model, messages: [{ role: "user", content: "In one sentence, what is Cloud Run?" }], max_tokens: 64, temperature: 0 });
        answer = chat.choices[0]?.message?.content ?? "";
    } catch (e) {
        throw explainApiError(e, "POST /v1/chat/completions");
    }
    log(`chat: ${answer}`);

    const started = Date.now();
    let firstTokenAt = 0;
    let streamed = "";
    let outputTokens = 0;
    let chunks = 0;
    try {
        const stream = await client.chat.completions.create({
            model: conn.model,
            messages: [{ role: "user", content: "Count from 1 to 20, separated by spaces." }],
            max_tokens: 64,
            temperature: 0,
            stream: true,
            stream_options: { include_usage: true },
        });
        for await (const chunk of stream) {
            const text = chunk.choices[0]?.delta?.content ?? "";
            if (text !== "") {
                if (firstTokenAt === 0) firstTokenAt = Date.now();
                streamed += text;
                chunks++;
            }
            if (chunk.usage) outputTokens = chunk.usage.completion_tokens;
        }
    } catch (e) {
        throw explainApiError(e, "POST /v1/chat/completions (stream)");
    }
    if (firstTokenAt === 0) throw new SmokeError("The streamed completion returned no tokens.");
    const ended = Date.now();
    if (outputTokens === 0) outputTokens = chunks;
    const decodeSeconds = Math.max((ended - firstTokenAt) / 1000, 1e-3);
    const report: SmokeReport = {
        healthySeconds,
        models,
        answer,
        streamed,
        timeToFirstTokenMs: firstTokenAt - started,
        outputTokens,
        tokensPerSecond: outputTokens > 1 ? (outputTokens - 1) / decodeSeconds : 0,
    };
    log(`stream: ${streamed}`);
    log(`time to first token: ${report.timeToFirstTokenMs} ms; ${outputTokens} tokens at ${report.tokensPerSecond.toFixed(1)} tokens/s`);
    return report;
}

export const SMOKE_USAGE = "usage: npm run smoke [-- --stack NAME]   (or set SERVICE_URL, SERVED_MODEL_NAME and VLLM_API_KEY)";

/** `npm run smoke [-- --stack NAME]`, or with SERVICE_URL / SERVED_MODEL_NAME / VLLM_API_KEY set (as `npx pulumi up` does). */
export async function main(argv: string[]): Promise<number> {
    let stack: string | undefined;
    try {
        const { values } = parseArgs({ args: argv, options: { stack: { type: "string" }, help: { type: "boolean", short: "h" } }, strict: true, allowPositionals: false });
        if (values.help) {
            console.log(SMOKE_USAGE);
            return 0;
        }
        stack = values.stack;
    } catch (e) {
        console.error(`${e instanceof Error ? e.message : String(e)}\n${SMOKE_USAGE}`);
        return 2;
    }
    try {
        const key = process.env.VLLM_API_KEY;
        const conn: Connection = process.env.SERVICE_URL
            ? { url: process.env.SERVICE_URL, model: process.env.SERVED_MODEL_NAME ?? "", apiKey: key === undefined || key === "" ? undefined : key }
            : connectionFromStack(stack);
        const wait = Number(process.env.SMOKE_WAIT_SECONDS ?? "900");
        await smoke(conn, { waitSeconds: Number.isFinite(wait) ? wait : 900 });
        console.log("smoke test passed");
        return 0;
    } catch (e) {
        console.error(`smoke test failed: ${describeError(e)}`);
        return 1;
    }
}

if (require.main === module) {
    void main(process.argv.slice(2)).then((code) => process.exit(code));
}
