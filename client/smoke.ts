// `npm run smoke`: waits for /health, lists /v1/models, sends one chat completion and one
// streamed completion through the real auth path, and reports time to first token and
// tokens per second. With image input on it also asks about a small shipped PNG (a data URL),
// and with LoRA adapters it checks that /v1/models lists each one and chats with each.
// Exits non-zero with an explanation when the deploy does not answer.
import * as fs from "fs";
import * as path from "path";
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
    /** The answer about the shipped image (SMOKE_IMAGE), when image input was checked. */
    imageAnswer?: string;
    /** One short answer per LoRA adapter, in the order given, when adapters were checked. */
    adapters?: { name: string; answer: string }[];
}

export interface SmokeOptions {
    ids?: IdTokenSource;
    fetch?: typeof fetch;
    /** How long to wait for /health, covering a cold start. Default: 900 s. */
    waitSeconds?: number;
    pollMs?: number;
    log?: (line: string) => void;
    /** Also send one chat request with an image (SMOKE_IMAGE as a data URL). Default: false. */
    imageInput?: boolean;
    /** LoRA adapter names: each must be listed by /v1/models and answer one chat. Default: none. */
    loraModels?: readonly string[];
}

/** The image the smoke test sends: 64x64, a red square on white. It ships with the package. */
export const SMOKE_IMAGE = path.join(__dirname, "assets", "smoke-image.png");
export const SMOKE_IMAGE_PROMPT = "What is in this image? Answer in one sentence.";
export const SMOKE_ADAPTER_PROMPT = "Say hello in one short sentence.";

/** A PNG file as the data URL the OpenAI API takes in an image_url content part. */
export function pngDataUrl(file: string = SMOKE_IMAGE): string {
    return `data:image/png;base64,${fs.readFileSync(file).toString("base64")}`;
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

/** The message in a vLLM error body: {"error": {"message"}} (newer) or {"message"} (older), else the text. */
export function errorBodyMessage(body: string): string {
    try {
        const j = JSON.parse(body) as { error?: { message?: unknown } | string; message?: unknown };
        const m = typeof j.error === "object" && j.error !== null ? j.error.message : typeof j.error === "string" ? j.error : j.message;
        if (typeof m === "string" && m.trim() !== "") return m.trim();
    } catch {
        // not JSON: the text itself
    }
    return body.trim().slice(0, 500);
}

/** A fetch that remembers the body of the last answer that was not 2xx (the SDK keeps only {"error": ...}). */
function rememberingErrors(base: typeof fetch = fetch): { fetch: typeof fetch; last: () => string } {
    let last = "";
    return {
        fetch: async (input, init) => {
            const r = await base(input, init);
            if (!r.ok) last = await r.clone().text().catch(() => "");
            return r;
        },
        last: () => errorBodyMessage(last),
    };
}

function explainApiError(e: unknown, where: string, serverSaid = ""): Error {
    const credential = credentialErrorOf(e);
    if (credential) return credential;
    if (e instanceof OpenAI.APIError && typeof e.status === "number") {
        const explained = explainStatus(e.status, where);
        // Only the statuses explainStatus has no story for: there vLLM's own words are the story.
        return new SmokeError(explained.endsWith(`HTTP ${e.status}.`) && serverSaid !== "" ? `${explained} vLLM says: ${serverSaid}` : explained);
    }
    return e instanceof Error ? new SmokeError(`${where}: ${describeError(e)}`) : new Error(String(e));
}

/** What a 400 on the image request means: vLLM takes no images for this model. */
export function explainImageRejected(where: string, serverSaid: string): string {
    return `${where}: 400 Bad Request${serverSaid === "" ? "" : ` (vLLM says: ${serverSaid})`}. The service does not take images: ` +
        "its model has no vision (serve a vision model, e.g. google/gemma-3-4b-it) or image input is off (`npx pulumi config set imageInput true && npx pulumi up`). " +
        "Without image input, run the smoke test without --image / SMOKE_IMAGE_INPUT.";
}

export async function smoke(conn: Connection, opts: SmokeOptions = {}): Promise<SmokeReport> {
    const log = opts.log ?? ((l: string) => console.log(l));
    const ids = opts.ids ?? defaultIdTokens(conn.url);
    const f = authorizedFetch(ids, conn.apiKey !== undefined, opts.fetch);
    const errors = rememberingErrors(opts.fetch);
    const client = createClient(conn, { ids, fetch: errors.fetch, maxRetries: 0 });
    const adapterNames = [...new Set(opts.loraModels ?? [])];

    const healthySeconds = await waitForHealth(conn, f, opts.waitSeconds ?? 900, opts.pollMs ?? 5000, log);
    log(`healthy after ${healthySeconds.toFixed(1)} s`);

    let models: string[];
    try {
        models = (await client.models.list()).data.map((m) => m.id);
    } catch (e) {
        throw explainApiError(e, "GET /v1/models");
    }
    if (!models.includes(conn.model)) throw new SmokeError(`GET /v1/models lists ${models.join(", ")}, not ${conn.model}: servedModelName and the client disagree.`);
    const missing = adapterNames.filter((n) => !models.includes(n));
    if (missing.length > 0) {
        throw new SmokeError(
            `GET /v1/models lists ${models.join(", ")}, but not the LoRA adapter${missing.length > 1 ? "s" : ""} ${missing.join(", ")}: ` +
            `vLLM did not load ${missing.length > 1 ? "them" : "it"} (vLLM serves an adapter only when started with --enable-lora and --lora-modules NAME=PATH). ` +
            "Check the stack's adapters (`npx pulumi config get loraAdapters`, then `npx pulumi up`) and the service logs (`gcloud run services logs read`), or drop the name from --lora / SMOKE_LORA_MODELS.",
        );
    }
    log(`models: ${models.join(", ")}`);

    let answer: string;
    try {
        const chat = await client.chat.completions.create({ model: conn.model, messages: [{ role: "user", content: "In one sentence, what is Cloud Run?" }], max_tokens: 64, temperature: 0 });
        answer = chat.choices[0]?.message?.content ?? "";
    } catch (e) {
        throw explainApiError(e, "POST /v1/chat/completions", errors.last());
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
        throw explainApiError(e, "POST /v1/chat/completions (stream)", errors.last());
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

    if (opts.imageInput) {
        const where = "POST /v1/chat/completions (image)";
        let imageAnswer: string;
        try {
            const chat = await client.chat.completions.create({
                model: conn.model,
                messages: [{ role: "user", content: [{ type: "text", text: SMOKE_IMAGE_PROMPT }, { type: "image_url", image_url: { url: pngDataUrl() } }] }],
                max_tokens: 64,
                temperature: 0,
            });
            imageAnswer = chat.choices[0]?.message?.content ?? "";
        } catch (e) {
            if (e instanceof OpenAI.APIError && e.status === 400) throw new SmokeError(explainImageRejected(where, errors.last()));
            throw explainApiError(e, where, errors.last());
        }
        if (imageAnswer.trim() === "") throw new SmokeError(`${where}: the answer about the image is empty.`);
        report.imageAnswer = imageAnswer;
        log(`image: ${imageAnswer}`);
    }

    if (adapterNames.length > 0) {
        report.adapters = [];
        for (const name of adapterNames) {
            const where = `POST /v1/chat/completions (LoRA adapter ${name})`;
            let adapterAnswer: string;
            try {
                const chat = await client.chat.completions.create({ model: name, messages: [{ role: "user", content: SMOKE_ADAPTER_PROMPT }], max_tokens: 32, temperature: 0 });
                adapterAnswer = chat.choices[0]?.message?.content ?? "";
            } catch (e) {
                throw explainApiError(e, where, errors.last());
            }
            if (adapterAnswer.trim() === "") throw new SmokeError(`${where}: the answer is empty.`);
            report.adapters.push({ name, answer: adapterAnswer });
            log(`adapter ${name}: ${adapterAnswer}`);
        }
    }
    return report;
}

export const SMOKE_USAGE = [
    "usage: npm run smoke [-- [--stack NAME] [--image] [--lora NAME]...]   (or set SERVICE_URL, SERVED_MODEL_NAME and VLLM_API_KEY)",
    "  --image       also ask about a small PNG sent as a data URL (the model must take images); env SMOKE_IMAGE_INPUT=1",
    "  --lora NAME   also check the LoRA adapter NAME: listed by /v1/models, answers a chat; repeat it for each adapter",
    "                (--lora a --lora b, or --lora a,b); env SMOKE_LORA_MODELS=a,b",
].join("\n");

export interface SmokeArgs {
    stack?: string;
    help: boolean;
    imageInput: boolean;
    loraModels: string[];
}

/** Comma-separated adapter names (an environment value, or one --lora); an empty name is an error. */
export function parseLoraList(text: string, where: string): string[] {
    const names = text.split(",").map((n) => n.trim());
    if (names.some((n) => n === "")) throw new Error(`${where} has an empty LoRA adapter name: "${text}" (names are separated by single commas)`);
    return names;
}

/**
 * The command line and the environment (as the SmokeTest step sets it) together: --image or
 * SMOKE_IMAGE_INPUT=1 (or true); every --lora (repeatable, or comma-separated) plus
 * SMOKE_LORA_MODELS. Unknown flags and positionals are errors.
 */
export function parseSmokeArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): SmokeArgs {
    const { values } = parseArgs({
        args: argv,
        options: { stack: { type: "string" }, image: { type: "boolean" }, lora: { type: "string", multiple: true }, help: { type: "boolean", short: "h" } },
        strict: true,
        allowPositionals: false,
    });
    const imageEnv = (env.SMOKE_IMAGE_INPUT ?? "").trim().toLowerCase();
    if (!["", "0", "1", "false", "true"].includes(imageEnv)) throw new Error(`SMOKE_IMAGE_INPUT must be 1 or 0 (true or false), not "${env.SMOKE_IMAGE_INPUT}"`);
    const fromEnv = (env.SMOKE_LORA_MODELS ?? "").trim() === "" ? [] : parseLoraList(env.SMOKE_LORA_MODELS as string, "SMOKE_LORA_MODELS");
    const fromFlags = (values.lora ?? []).flatMap((v) => parseLoraList(v, "--lora"));
    return {
        stack: values.stack,
        help: values.help ?? false,
        imageInput: (values.image ?? false) || imageEnv === "1" || imageEnv === "true",
        loraModels: [...new Set([...fromEnv, ...fromFlags])],
    };
}

/** What the smoke test checked beyond health, models, chat and stream, for the last line. */
export function checkedExtras(report: SmokeReport): string {
    const parts = [
        ...(report.imageAnswer === undefined ? [] : ["image input"]),
        ...(report.adapters === undefined ? [] : [`LoRA adapter${report.adapters.length > 1 ? "s" : ""} ${report.adapters.map((a) => a.name).join(", ")}`]),
    ];
    return parts.length === 0 ? "" : ` (also checked: ${parts.join("; ")})`;
}

/** `npm run smoke [-- --stack NAME --image --lora NAME]`, or with SERVICE_URL / SERVED_MODEL_NAME / VLLM_API_KEY (and SMOKE_*) set, as `npx pulumi up` does. */
export async function main(argv: string[]): Promise<number> {
    let args: SmokeArgs;
    try {
        args = parseSmokeArgs(argv);
    } catch (e) {
        console.error(`${e instanceof Error ? e.message : String(e)}\n${SMOKE_USAGE}`);
        return 2;
    }
    if (args.help) {
        console.log(SMOKE_USAGE);
        return 0;
    }
    try {
        const key = process.env.VLLM_API_KEY;
        const conn: Connection = process.env.SERVICE_URL
            ? { url: process.env.SERVICE_URL, model: process.env.SERVED_MODEL_NAME ?? "", apiKey: key === undefined || key === "" ? undefined : key }
            : connectionFromStack(args.stack);
        const wait = Number(process.env.SMOKE_WAIT_SECONDS ?? "900");
        // A deployed stack says what it serves: its image input and adapters are checked too.
        const imageInput = args.imageInput || conn.imageInput === true;
        const loraModels = [...new Set([...args.loraModels, ...(conn.loraModels ?? [])])];
        const report = await smoke(conn, { waitSeconds: Number.isFinite(wait) ? wait : 900, imageInput, loraModels });
        console.log(`smoke test passed${checkedExtras(report)}`);
        return 0;
    } catch (e) {
        console.error(`smoke test failed: ${describeError(e)}`);
        return 1;
    }
}

if (require.main === module) {
    void main(process.argv.slice(2)).then((code) => process.exit(code));
}
