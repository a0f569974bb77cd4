// `npm run smoke`: waits for /health, lists /v1/models, sends one chat completion and one
// streamed completion through the real auth path, and reports time to first token and
// tokens per second. With image input on it also asks about a small shipped PNG (a data URL),
// and with LoRA adapters it checks that /v1/models lists each one and chats with each.
// With several regions behind a front door it also checks that each region's run.app URL
// refuses a direct request (ingress admits only the load balancer, so Cloud Armor can't be
// bypassed). Exits non-zero with an explanation when the deploy does not answer.
import * as fs from "fs";
import * as path from "path";
import { parseArgs } from "util";
import OpenAI from "openai";
import { Connection, connectionFromStack, createClient, credentialErrorOf, defaultIdTokens, describeError, idTokenAudience, IdTokenSource, idTokenSourceKind, readableBody, serviceFetch } from "./index";

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
    /** Each region's direct-request check, in the order given, when regional URLs were checked. */
    regions?: RegionalCheck[];
}

/** How a region's run.app URL answered a direct GET /health. */
export interface RegionalCheck {
    region: string;
    url: string;
    /** HTTP status; undefined when no answer came. */
    status?: number;
    /** refused: ingress turned it away (the expected outcome); open: it reached Cloud Run or vLLM; unexpected / unreachable: neither can be told. */
    verdict: "refused" | "open" | "unexpected" | "unreachable";
    ok: boolean;
    /** One line for people. */
    detail: string;
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
    /**
     * Region -> run.app URL of a multi-region stack: after the checks through the front door (`url`),
     * each must refuse a direct GET /health. Default: none (no regional checks).
     */
    regionalUrls?: Readonly<Record<string, string>>;
    /** Token source for a regional URL (audience: that URL's origin). Default: defaultIdTokens, or the endpoint's source with gcloud tokens (they have no audience). */
    idsFor?: (audience: string) => IdTokenSource;
    /** How long a regional request may take: an ingress refusal is immediate. Default: 30 s. */
    regionalTimeoutMs?: number;
    /** `url` is a multi-region front door (Cloud Armor in front): 403, 429 and 503 are explained as such. Default: true when regionalUrls are given. */
    /** With a domain behind a new front door: the DNS record to create, shown while TLS fails. Default: none. */
    dnsRecord?: string;
    frontDoor?: boolean;
}

/** What explainStatus knows of where the request went. */
export interface StatusContext {
    /** Through the multi-region front door (Cloud Armor's credential rule and per-IP rate limit). Default: false. */
    frontDoor?: boolean;
    /** The access mode has an API key (iam+key, public+key). Default: false. */
    apiKey?: boolean;
    /** The DNS record the endpoint's domain needs (SMOKE_DNS_RECORD), printed while TLS fails. Default: none. */
    dnsRecord?: string;
}

/** The image the smoke test sends: 64x64, a red square on white. It ships with the package. */
export const SMOKE_IMAGE = path.join(__dirname, "assets", "smoke-image.png");
export const SMOKE_IMAGE_PROMPT = "What is in this image? Answer in one sentence.";
export const SMOKE_ADAPTER_PROMPT = "Say hello in one short sentence.";

/** A PNG file as the data URL the OpenAI API takes in an image_url content part. */
export function pngDataUrl(file: string = SMOKE_IMAGE): string {
    return `data:image/png;base64,${fs.readFileSync(file).toString("base64")}`;
}

const NOT_INVOKER = "add it with `npx pulumi config set --path 'invokers[0]' user:you@example.com && npx pulumi up`, or use an account with roles/run.invoker";

/**
 * What a failed call most likely means on Cloud Run with vLLM, for people, not stack traces.
 * Through a multi-region front door, 403 and 429 are first of all Cloud Armor's: its rule 1000
 * denies (403) requests without the credentials header the access mode needs, and rule 2000
 * throttles each client IP to rateLimitPerMinute requests a minute (429).
 */
export function explainStatus(status: number, where: string, ctx: StatusContext = {}): string {
    const front = ctx.frontDoor === true;
    switch (status) {
        case 401:
            return `${where}: 401 Unauthorized. ${where.includes("/v1") ? "vLLM rejected the API key: check VLLM_API_KEY / `npx pulumi config get apiKey`." : `Cloud Run rejected the identity token${front ? " (its audience must be the endpoint URL, the services' custom audience)" : ""}: run \`gcloud auth application-default login\` (or set GOOGLE_APPLICATION_CREDENTIALS), or use gcloud's tokens with VLLM_ID_TOKEN_SOURCE=gcloud.`}`;
        case 403:
            if (front) {
                const needs = ctx.apiKey === true
                    ? "with an API key (access mode iam+key or public+key) every request needs `Authorization: Bearer <API key>`, a key of at least 16 printable characters without spaces (VLLM_API_KEY / `npx pulumi config get apiKey`)"
                    : "with IAM only (access mode iam) every request needs `Authorization: Bearer <Google identity token>` (or X-Serverless-Authorization)";
                return `${where}: 403 Forbidden. Cloud Armor at the load balancer refuses requests without credentials: ${needs}. If that header was sent, Cloud Run itself refused the identity token's account, which is not an invoker of the services: ${NOT_INVOKER}.`;
            }
            return `${where}: 403 Forbidden. Your account is not an invoker of the service: ${NOT_INVOKER}.`;
        case 429:
            if (front) {
                return `${where}: 429 Too Many Requests. Cloud Armor's per-IP rate limit at the load balancer: more than rateLimitPerMinute requests (default 600) came from your IP address within a minute. Wait a minute, or raise it with \`npx pulumi config set rateLimitPerMinute 1200 && npx pulumi up\` (0 turns it off). If the limit is far off, the nearest region's instances are all busy (maxInstances at its concurrency).`;
            }
            return `${where}: 429 Too Many Requests. Every instance (maxInstances) is busy at its concurrency, or the GPU quota is used up: raise maxInstances (and quota) or concurrency.`;
        case 503:
            if (front) {
                return `${where}: 503 Service Unavailable. No region had an instance ready, even after the load balancer's one retry, which normally goes to the same, nearest region (cold start: image start plus model load, or a revision failing its startup probe); see \`gcloud run services logs read SERVICE --region REGION\` for each region.`;
            }
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

/** `url` + `/path`, without a doubled slash when the URL ends in one. */
export function joinUrl(url: string, path: string): string {
    return `${url.replace(/\/+$/, "")}${path}`;
}

/** Polls /health until it answers 200 (seconds waited); 401/403 and missing credentials fail at once. */
/** Why the front door may fail TLS for up to an hour after it is created. */
export const CERTIFICATE_HINT = " (a new load balancer's managed certificate takes minutes to an hour to provision, and HTTPS fails until then: `gcloud compute ssl-certificates list` shows PROVISIONING, then ACTIVE; with a domain, its A record must point at endpointIp first)";

export async function waitForHealth(conn: Connection, f: typeof fetch, waitSeconds: number, pollMs: number, log: (l: string) => void, ctx: StatusContext = {}): Promise<number> {
    const start = Date.now();
    let last = "";
    for (;;) {
        let status = 0;
        try {
            status = (await f(joinUrl(conn.url, "/health"), { signal: AbortSignal.timeout(60_000) })).status;
        } catch (e) {
            // Missing credentials are not a cold start: waiting cannot fix them.
            const credential = credentialErrorOf(e);
            if (credential) throw credential;
            last = `network error: ${describeError(e)}${ctx.frontDoor ? CERTIFICATE_HINT : ""}${ctx.dnsRecord ? `; the record: ${ctx.dnsRecord}` : ""}`;
        }
        if (status === 200) return (Date.now() - start) / 1000;
        if (status === 401 || status === 403) throw new SmokeError(explainStatus(status, "GET /health", ctx));
        if (status !== 0) last = explainStatus(status, "GET /health", ctx);
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
        // not JSON: the text itself (an HTML error page as its headings)
    }
    return readableBody(body, 500);
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

function explainApiError(e: unknown, where: string, serverSaid = "", ctx: StatusContext = {}): Error {
    const credential = credentialErrorOf(e);
    if (credential) return credential;
    if (e instanceof OpenAI.APIError && typeof e.status === "number") {
        const explained = explainStatus(e.status, where, ctx);
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

const BYPASS = "so the front door's Cloud Armor (its credential rule and per-IP rate limit) can be bypassed";
const REPAIR = "Each region's ingress must be \"internal and Cloud Load Balancing\" (INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER, which `npx pulumi up` sets with several regions): if it was changed outside Pulumi, `npx pulumi refresh` then `npx pulumi up` puts it back.";

/** Whether a body is JSON (what vLLM, unlike Google's front ends, answers with). */
function isJson(body: string, contentType: string): boolean {
    if (/\bjson\b/i.test(contentType)) return true;
    try {
        JSON.parse(body);
        return body.trim() !== "";
    } catch {
        return false;
    }
}

/**
 * The verdict on a direct GET <run.app URL>/health of a region behind the front door. With ingress
 * "internal and Cloud Load Balancing", Google's front end turns a request from the internet away
 * before Cloud Run's IAM check and before the container: 404 with an HTML "Error: Page not found"
 * page (or 403). A 200, vLLM's JSON, or a 401 (Cloud Run checked the token, so ingress let it in)
 * mean ingress is open. Anything else is unexpected: not proof of either, so it fails too.
 */
export function regionalVerdict(region: string, url: string, status: number, body: string, contentType = ""): RegionalCheck {
    const said = readableBody(body, 200);
    const where = `${region}: GET ${joinUrl(url, "/health")}`;
    const base = { region, url, status };
    if (status === 404 && !isJson(body, contentType)) return { ...base, verdict: "refused", ok: true, detail: `${region}: refused by ingress (404${said === "" ? "" : `: ${said}`})` };
    if (status === 403) return { ...base, verdict: "refused", ok: true, detail: `${region}: refused (403${said === "" ? "" : `: ${said}`})` };
    if (status >= 200 && status < 300) return { ...base, verdict: "open", ok: false, detail: `${where} answered ${status} directly: ingress is open, ${BYPASS}. ${REPAIR}` };
    if (status === 404) return { ...base, verdict: "open", ok: false, detail: `${where} answered 404 with JSON (${said}), as vLLM does, not Google's front end: the request reached the container, so ingress is open, ${BYPASS}. ${REPAIR}` };
    if (status === 401) return { ...base, verdict: "open", ok: false, detail: `${where} answered 401: Cloud Run checked the identity token instead of refusing the request at ingress, so ingress is open and a valid token gets through, ${BYPASS}. ${REPAIR}` };
    return { ...base, verdict: "unexpected", ok: false, detail: `${where} answered HTTP ${status}${said === "" ? "" : ` (${said})`}, not the refusal expected of ingress "internal and Cloud Load Balancing" (404 Page not found, or 403). ${REPAIR}` };
}

/** Sends one direct GET /health to a region's run.app URL (with the caller's credentials) and judges the answer. */
export async function checkRegion(region: string, url: string, f: typeof fetch, timeoutMs = 30_000): Promise<RegionalCheck> {
    try {
        const r = await f(joinUrl(url, "/health"), { signal: AbortSignal.timeout(timeoutMs), redirect: "manual" });
        return regionalVerdict(region, url, r.status, await r.text().catch(() => ""), r.headers.get("content-type") ?? "");
    } catch (e) {
        const credential = credentialErrorOf(e);
        if (credential) throw credential;
        return { region, url, verdict: "unreachable", ok: false, detail: `${region}: GET ${joinUrl(url, "/health")} got no answer (${describeError(e)}); an ingress refusal comes at once, so this proves nothing either way. Check the URL (\`npx pulumi stack output regionalServiceUrls\`) and your network, then run the smoke test again.` };
    }
}

/** Region -> URL, checked: region names as Google spells them, absolute http(s) URLs. */
export function checkRegionalUrls(urls: Readonly<Record<string, string>>, where: string): Record<string, string> {
    for (const [region, url] of Object.entries(urls)) {
        if (!/^[a-z]+(-[a-z]+)+\d+$/.test(region)) throw new Error(`${where}: "${region}" is not a region name (like us-central1 or europe-west4)`);
        if (typeof url !== "string") throw new Error(`${where}: the URL of ${region} must be a string`);
        try {
            idTokenAudience(url);
        } catch (e) {
            throw new Error(`${where}: the URL of ${region}: ${e instanceof Error ? e.message : String(e)}`);
        }
    }
    return { ...urls };
}

export async function smoke(conn: Connection, opts: SmokeOptions = {}): Promise<SmokeReport> {
    const log = opts.log ?? ((l: string) => console.log(l));
    const ids = opts.ids ?? defaultIdTokens(conn.url);
    const f = serviceFetch(ids, conn.apiKey, opts.fetch);
    const errors = rememberingErrors(opts.fetch);
    const client = createClient(conn, { ids, fetch: errors.fetch, maxRetries: 0 });
    const adapterNames = [...new Set(opts.loraModels ?? [])];
    const regional = Object.entries(checkRegionalUrls(opts.regionalUrls ?? {}, "regional URLs"));
    const endpoint = idTokenAudience(conn.url);
    const itself = regional.find(([, u]) => idTokenAudience(u) === endpoint);
    // Before any request: the URL called is a region's own, so it can't be checked for refusing.
    if (itself) throw new SmokeError(`The regional URL of ${itself[0]} is the service URL itself (${conn.url}): regional checks are for the run.app URLs behind a multi-region front door.`);
    const ctx: StatusContext = { frontDoor: opts.frontDoor ?? regional.length > 0, apiKey: conn.apiKey !== undefined, ...(opts.dnsRecord ? { dnsRecord: opts.dnsRecord } : {}) };

    const healthySeconds = await waitForHealth(conn, f, opts.waitSeconds ?? 900, opts.pollMs ?? 5000, log, ctx);
    log(`healthy after ${healthySeconds.toFixed(1)} s`);

    let models: string[];
    try {
        models = (await client.models.list()).data.map((m) => m.id);
    } catch (e) {
        throw explainApiError(e, "GET /v1/models", "", ctx);
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
        throw explainApiError(e, "POST /v1/chat/completions", errors.last(), ctx);
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
        throw explainApiError(e, "POST /v1/chat/completions (stream)", errors.last(), ctx);
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
            throw explainApiError(e, where, errors.last(), ctx);
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
                throw explainApiError(e, where, errors.last(), ctx);
            }
            if (adapterAnswer.trim() === "") throw new SmokeError(`${where}: the answer is empty.`);
            report.adapters.push({ name, answer: adapterAnswer });
            log(`adapter ${name}: ${adapterAnswer}`);
        }
    }

    if (regional.length > 0) {
        // gcloud's tokens carry no audience of our choosing: the endpoint's source serves every region.
        const idsFor = opts.idsFor ?? ((audience: string) => (idTokenSourceKind() === "gcloud" ? ids : defaultIdTokens(audience)));
        report.regions = [];
        for (const [region, url] of regional) {
            const check = await checkRegion(region, url, serviceFetch(idsFor(idTokenAudience(url)), conn.apiKey, opts.fetch), opts.regionalTimeoutMs ?? 30_000);
            report.regions.push(check);
            log(`region ${check.detail}`);
        }
        const failed = report.regions.filter((c) => !c.ok);
        if (failed.length > 0) {
            throw new SmokeError(`${failed.length} of ${report.regions.length} regional URLs did not refuse a direct request:\n${failed.map((c) => `  ${c.detail}`).join("\n")}`);
        }
    }
    return report;
}

export const SMOKE_USAGE = [
    "usage: npm run smoke [-- [--stack NAME] [--image] [--lora NAME]...]   (or set SERVICE_URL, SERVED_MODEL_NAME and VLLM_API_KEY)",
    "  --image       also ask about a small PNG sent as a data URL (the model must take images); env SMOKE_IMAGE_INPUT=1",
    "  --lora NAME   also check the LoRA adapter NAME: listed by /v1/models, answers a chat; repeat it for each adapter",
    "                (--lora a --lora b, or --lora a,b); env SMOKE_LORA_MODELS=a,b",
    "  --regional-url REGION=URL",
    "                also check that REGION's run.app URL, behind a multi-region front door, refuses a direct request",
    "                (ingress admits only the load balancer, so Cloud Armor can't be bypassed); repeat it for each region;",
    "                env SMOKE_REGIONAL_URLS='{\"REGION\":\"URL\"}'. A deployed multi-region stack's regions are checked anyway.",
].join("\n");

export interface SmokeArgs {
    stack?: string;
    help: boolean;
    imageInput: boolean;
    loraModels: string[];
    /** Region -> run.app URL from SMOKE_REGIONAL_URLS, then every --regional-url (a flag wins for its region). */
    regionalUrls: Record<string, string>;
}

/** One --regional-url value, REGION=URL. */
export function parseRegionalUrl(text: string): [string, string] {
    const at = text.indexOf("=");
    if (at <= 0 || at === text.length - 1) throw new Error(`--regional-url takes REGION=URL (like us-central1=https://vllm-….a.run.app), not "${text}"`);
    const [region, url] = [text.slice(0, at).trim(), text.slice(at + 1).trim()];
    checkRegionalUrls({ [region]: url }, "--regional-url");
    return [region, url];
}

/** SMOKE_REGIONAL_URLS: a JSON object of region -> URL ("" or unset: none). */
export function parseRegionalUrlsEnv(text: string | undefined): Record<string, string> {
    if (text === undefined || text.trim() === "") return {};
    let parsed: unknown;
    try {
        parsed = JSON.parse(text);
    } catch {
        throw new Error(`SMOKE_REGIONAL_URLS must be a JSON object of region to URL, like {"us-central1":"https://vllm-….a.run.app"}, not ${JSON.stringify(text.slice(0, 200))}`);
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed) || Object.values(parsed).some((v) => typeof v !== "string")) {
        throw new Error(`SMOKE_REGIONAL_URLS must be a JSON object of region to URL (strings), not ${text.slice(0, 200)}`);
    }
    return checkRegionalUrls(parsed as Record<string, string>, "SMOKE_REGIONAL_URLS");
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
        options: { stack: { type: "string" }, image: { type: "boolean" }, lora: { type: "string", multiple: true }, "regional-url": { type: "string", multiple: true }, help: { type: "boolean", short: "h" } },
        strict: true,
        allowPositionals: false,
    });
    const imageEnv = (env.SMOKE_IMAGE_INPUT ?? "").trim().toLowerCase();
    if (!["", "0", "1", "false", "true"].includes(imageEnv)) throw new Error(`SMOKE_IMAGE_INPUT must be 1 or 0 (true or false), not "${env.SMOKE_IMAGE_INPUT}"`);
    const fromEnv = (env.SMOKE_LORA_MODELS ?? "").trim() === "" ? [] : parseLoraList(env.SMOKE_LORA_MODELS as string, "SMOKE_LORA_MODELS");
    const fromFlags = (values.lora ?? []).flatMap((v) => parseLoraList(v, "--lora"));
    const regionalUrls = parseRegionalUrlsEnv(env.SMOKE_REGIONAL_URLS);
    const flagged = new Map<string, string>();
    for (const [region, url] of (values["regional-url"] ?? []).map(parseRegionalUrl)) {
        if (flagged.has(region) && flagged.get(region) !== url) throw new Error(`--regional-url gives ${region} twice: ${flagged.get(region)} and ${url}`);
        flagged.set(region, url);
    }
    return {
        stack: values.stack,
        help: values.help ?? false,
        imageInput: (values.image ?? false) || imageEnv === "1" || imageEnv === "true",
        loraModels: [...new Set([...fromEnv, ...fromFlags])],
        regionalUrls: { ...regionalUrls, ...Object.fromEntries(flagged) },
    };
}

/** What the smoke test checked beyond health, models, chat and stream, for the last line. */
export function checkedExtras(report: SmokeReport): string {
    const parts = [
        ...(report.imageAnswer === undefined ? [] : ["image input"]),
        ...(report.adapters === undefined ? [] : [`LoRA adapter${report.adapters.length > 1 ? "s" : ""} ${report.adapters.map((a) => a.name).join(", ")}`]),
        ...(report.regions === undefined ? [] : [`direct requests refused in ${report.regions.map((r) => r.region).join(", ")}`]),
    ];
    return parts.length === 0 ? "" : ` (also checked: ${parts.join("; ")})`;
}

/** `npm run smoke [-- --stack NAME --image --lora NAME --regional-url REGION=URL]`, or with SERVICE_URL / SERVED_MODEL_NAME / VLLM_API_KEY (and SMOKE_*) set, as `npx pulumi up` does. */
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
        // And a multi-region stack's regions (its regionalServiceUrls output); a flag wins for its region.
        const regionalUrls = { ...(conn.regionalUrls ?? {}), ...args.regionalUrls };
        const dnsRecord = process.env.SMOKE_DNS_RECORD || undefined;
        const report = await smoke(conn, { waitSeconds: Number.isFinite(wait) ? wait : 900, imageInput, loraModels, regionalUrls, dnsRecord });
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
