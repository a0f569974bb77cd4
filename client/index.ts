// OpenAI SDK clients for a deployed stack. The service is private: every request carries a
// Google identity token for the service URL, minted and refreshed by google-auth-library
// (user credentials from `gcloud auth application-default login`, a service account key,
// or the metadata server). With an API key configured, the identity token moves to
// X-Serverless-Authorization and the key goes in Authorization, where vLLM checks it.
import { execFileSync, spawnSync } from "child_process";
import OpenAI, { ClientOptions } from "openai";
import { GoogleAuth, IdTokenClient } from "google-auth-library";

/** Something that returns a currently valid identity token. */
export interface IdTokenSource {
    token(): Promise<string>;
}

/**
 * No identity token can be minted: credentials are missing, expired, or of a kind that cannot
 * mint one. Retrying does not help, so the tools stop at once and print the message (the cause
 * and the login command) instead of reporting network trouble.
 */
export class CredentialError extends Error {
    constructor(message: string, options?: { cause?: unknown }) {
        super(message, options);
        this.name = "CredentialError";
    }
}

const ADC_LOGIN = "gcloud auth application-default login";

/**
 * A CredentialError for what google-auth-library throws when it cannot mint an identity token
 * (messages as in google-auth-library 10: GoogleAuth.getApplicationDefault, getIdTokenClient,
 * the GOOGLE_APPLICATION_CREDENTIALS loader and the OAuth token endpoint), else undefined.
 */
export function googleCredentialError(e: unknown): CredentialError | undefined {
    if (!(e instanceof Error)) return undefined;
    const said = e.message.split("\n")[0];
    // GoogleAuthExceptionMessages.NO_ADC_FOUND (not exported by the package).
    if (e.message.startsWith("Could not load the default credentials")) {
        return new CredentialError(`No Google credentials to mint an identity token with (google-auth-library: "${said}"). Run \`${ADC_LOGIN}\` (or set GOOGLE_APPLICATION_CREDENTIALS to a service account key file), or use gcloud's own login with VLLM_ID_TOKEN_SOURCE=gcloud.`, { cause: e });
    }
    if (e.message.startsWith("Cannot fetch ID token in this environment")) {
        return new CredentialError(`Your Application Default Credentials cannot mint identity tokens (google-auth-library: "${said}"). Use user credentials from \`${ADC_LOGIN}\`, a service account key in GOOGLE_APPLICATION_CREDENTIALS, or gcloud's tokens with VLLM_ID_TOKEN_SOURCE=gcloud.`, { cause: e });
    }
    if (e.message.startsWith("Unable to read the credential file specified by the GOOGLE_APPLICATION_CREDENTIALS")) {
        return new CredentialError(`GOOGLE_APPLICATION_CREDENTIALS names a file that cannot be used (google-auth-library: "${said}"). Fix the path, or unset it and run \`${ADC_LOGIN}\`.`, { cause: e });
    }
    // The token endpoint refuses a refresh token that expired, was revoked or needs reauth.
    if (/\binvalid_(grant|rapt)\b/.test(e.message)) {
        return new CredentialError(`Google refused your Application Default Credentials ("${said}"): the login expired or was revoked. Run \`${ADC_LOGIN}\` again.`, { cause: e });
    }
    return undefined;
}

/** The CredentialError in `e` or its causes (the OpenAI SDK wraps fetch failures in APIConnectionError with a `cause`), if any. */
export function credentialErrorOf(e: unknown): CredentialError | undefined {
    for (let cur: unknown = e, depth = 0; cur instanceof Error && depth < 8; cur = cur.cause, depth++) {
        if (cur instanceof CredentialError) return cur;
        const google = googleCredentialError(cur);
        if (google) return google;
    }
    return undefined;
}

/** For people: the credential problem if there is one, else the message with its causes ("Connection error." alone says nothing). */
export function describeError(e: unknown): string {
    const credential = credentialErrorOf(e);
    if (credential) return credential.message;
    if (!(e instanceof Error)) return String(e);
    const parts = [e.message];
    for (let cur: unknown = e.cause, depth = 0; cur instanceof Error && depth < 4; cur = cur.cause, depth++) {
        if (!parts.includes(cur.message)) parts.push(cur.message);
    }
    return parts.map((p, i) => (i < parts.length - 1 ? p.replace(/\.$/, "") : p)).join(": ");
}

/**
 * Identity tokens for `audience` (the service URL). google-auth-library's IdTokenClient caches
 * the token and fetches a new one when it is within 5 minutes of expiring.
 */
export function googleIdTokens(audience: string, client?: IdTokenClient): IdTokenSource {
    let pending: Promise<IdTokenClient> | undefined = client ? Promise.resolve(client) : undefined;
    return {
        async token() {
            // Forget a failed lookup, so a login made while a program runs is picked up.
            pending ??= new GoogleAuth().getIdTokenClient(audience).catch((e: unknown) => {
                pending = undefined;
                throw e;
            });
            try {
                const headers = await (await pending).getRequestHeaders();
                const value = headers.get("authorization") ?? "";
                return value.replace(/^Bearer /i, "");
            } catch (e) {
                throw googleCredentialError(e) ?? e;
            }
        },
    };
}

/** Seconds left in a JWT, from its exp claim (0 when unreadable). */
function secondsLeft(jwt: string): number {
    try {
        const exp = (JSON.parse(Buffer.from(jwt.split(".")[1] ?? "", "base64url").toString()) as { exp?: number }).exp ?? 0;
        return exp - Date.now() / 1000;
    } catch {
        return 0;
    }
}

/** Runs `gcloud auth print-identity-token` without a terminal, so gcloud cannot prompt. */
function printIdentityToken(): string {
    return execFileSync("gcloud", ["auth", "print-identity-token"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** What gcloud said when it failed: its stderr, else the error message. */
function gcloudFailure(e: unknown): string {
    const stderr = (e as { stderr?: unknown }).stderr;
    return (typeof stderr === "string" && stderr.trim() !== "" ? stderr : e instanceof Error ? e.message : String(e)).trim();
}

/**
 * Identity tokens from `gcloud auth print-identity-token`, the codelab's own way, cached until
 * 5 minutes before they expire. For user accounts whose Application Default Credentials
 * tokens Cloud Run does not accept; select it with VLLM_ID_TOKEN_SOURCE=gcloud.
 */
export function gcloudIdTokens(run: () => string = printIdentityToken): IdTokenSource {
    let cached = "";
    return {
        token() {
            if (cached === "" || secondsLeft(cached) < 300) {
                let out: string;
                try {
                    out = run().trim();
                } catch (e) {
                    if ((e as { code?: unknown }).code === "ENOENT") {
                        return Promise.reject(new CredentialError("VLLM_ID_TOKEN_SOURCE=gcloud, but `gcloud` is not on PATH: install the Google Cloud CLI, or unset VLLM_ID_TOKEN_SOURCE to use Application Default Credentials.", { cause: e }));
                    }
                    return Promise.reject(new CredentialError(`\`gcloud auth print-identity-token\` failed (VLLM_ID_TOKEN_SOURCE=gcloud):\n${gcloudFailure(e)}\nRun \`gcloud auth login\`, then try again.`, { cause: e }));
                }
                if (out === "") return Promise.reject(new CredentialError("`gcloud auth print-identity-token` printed no token (VLLM_ID_TOKEN_SOURCE=gcloud). Run `gcloud auth login`, then try again."));
                cached = out;
            }
            return Promise.resolve(cached);
        },
    };
}

/** Which token source the tools use: google-auth-library, or gcloud when VLLM_ID_TOKEN_SOURCE=gcloud. */
export function idTokenSourceKind(env: NodeJS.ProcessEnv = process.env): "gcloud" | "google-auth-library" {
    return env.VLLM_ID_TOKEN_SOURCE === "gcloud" ? "gcloud" : "google-auth-library";
}

/**
 * The audience to mint identity tokens for when calling `url`: its origin, `https://host` (no
 * path, no trailing slash, no default port). Cloud Run accepts a token whose audience is the
 * service's run.app URL or one of its custom audiences, each "the full URL" of the service
 * (https://cloud.google.com/run/docs/configuring/custom-audiences); a multi-region stack's
 * services carry the endpoint `https://<host>` as their custom audience, so a URL typed with a
 * trailing slash or a path must still mint for exactly that.
 */
export function idTokenAudience(url: string): string {
    let parsed: URL;
    try {
        parsed = new URL(url);
    } catch {
        throw new Error(`Not an absolute URL: "${url}" (expected e.g. https://vllm-….a.run.app or the endpoint https://<host>)`);
    }
    if (parsed.protocol !== "https:" && parsed.protocol !== "http:") throw new Error(`Not an http(s) URL: "${url}"`);
    return parsed.origin;
}

/** Identity tokens for calling `url` (audience: its origin), from google-auth-library, or gcloud with VLLM_ID_TOKEN_SOURCE=gcloud. */
export function defaultIdTokens(url: string): IdTokenSource {
    return idTokenSourceKind() === "gcloud" ? gcloudIdTokens() : googleIdTokens(idTokenAudience(url));
}

export interface Connection {
    /** Service URL, e.g. https://vllm-cloudrun-dev-….a.run.app */
    url: string;
    /** Model name to send (servedModelName). */
    model: string;
    /** vLLM API key, when the stack has one. */
    apiKey?: string;
    /** The service takes images (from the stack's imageInput output). */
    imageInput?: boolean;
    /** LoRA adapters' model names (from the stack's loraModels output). */
    loraModels?: string[];
    /**
     * Each region's run.app URL when `url` is a multi-region front door (from the stack's
     * regionalServiceUrls output). They accept only load-balancer traffic: for checks, not calls.
     */
    regionalUrls?: Record<string, string>;
}

/** A fetch that adds the identity token (and leaves the API key header to the SDK). */
export function authorizedFetch(ids: IdTokenSource, withApiKey: boolean, base: typeof fetch = fetch): typeof fetch {
    return async (input, init) => {
        const headers = new Headers(init?.headers);
        const bearer = `Bearer ${await ids.token()}`;
        if (withApiKey) headers.set("X-Serverless-Authorization", bearer);
        else headers.set("Authorization", bearer);
        return base(input, { ...init, headers });
    };
}

/**
 * A fetch for requests made outside the SDK (GET /health): the identity token as authorizedFetch
 * adds it, and the API key in Authorization when there is one. vLLM leaves /health open, but a
 * multi-region front door's Cloud Armor refuses any request without `Authorization: Bearer <key>`
 * in the API-key access modes, /health included.
 */
export function serviceFetch(ids: IdTokenSource, apiKey: string | undefined, base: typeof fetch = fetch): typeof fetch {
    const keyed: typeof fetch = apiKey === undefined ? base : (input, init) => {
        const headers = new Headers(init?.headers);
        if (!headers.has("Authorization")) headers.set("Authorization", `Bearer ${apiKey}`);
        return base(input, { ...init, headers });
    };
    return authorizedFetch(ids, apiKey !== undefined, keyed);
}

function decodeEntities(s: string): string {
    const named: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: " " };
    return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e: string) => {
        if (e[0] === "#") return String.fromCodePoint(e[1] === "x" || e[1] === "X" ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
        return named[e.toLowerCase()] ?? m;
    });
}

/**
 * An error body for people: Google's front ends answer errors with an HTML page (Cloud Run's
 * "Error: Page not found", "Error: Forbidden", "Error: Server Error" pages), which the SDK would
 * put whole into its message. From HTML this keeps the headings and paragraphs as one line
 * ("Error: Page not found. The requested URL was not found on this server."); other text is
 * returned trimmed. At most `max` characters.
 */
export function readableBody(text: string, max = 300): string {
    const t = text.trim();
    if (!/^<(!doctype|html|head|body|meta|title)\b/i.test(t) && !/<\/(html|body|h1|title)>/i.test(t)) return t.slice(0, max);
    const clean = (s: string) => decodeEntities(s.replace(/<[^>]*>/g, " ")).replace(/\s+/g, " ").trim();
    // Each heading or paragraph up to the next one (Google's pages leave <p> unclosed), else the title.
    const blocks = (re: RegExp) => [...t.matchAll(re)].map((m) => clean(m[2])).filter((x) => x !== "");
    let parts = blocks(/<(h1|h2|h3|p)\b[^>]*>([\s\S]*?)(?=<(?:h1|h2|h3|p)\b|<\/body>|$)/gi);
    if (parts.length === 0) parts = blocks(/<(title)\b[^>]*>([\s\S]*?)<\/title>/gi);
    const out = parts.length > 0
        ? `${parts.map((x) => x.replace(/[.!]+$/, "")).join(". ")}.`
        : clean(t.replace(/<(script|style)\b[\s\S]*?<\/\1>/gi, ""));
    return out.slice(0, max);
}

type FinalRequestOptions = Awaited<Parameters<OpenAI["request"]>[0]>;

interface IdentityTokenOptions extends ClientOptions {
    idTokens: IdTokenSource;
    /** Authorization, or X-Serverless-Authorization when vLLM wants the API key in Authorization. */
    idTokenHeader: string;
}

/**
 * The SDK client with the identity token added in prepareRequest, the SDK's hook for per-request
 * headers, rather than in fetch: the SDK retries whatever fetch throws and reports it as
 * "Connection error.", while an error from prepareRequest (no credentials) reaches the caller
 * once and as it is. A new token is asked for on every attempt, so retries of 429/503 renew it.
 * The token source lives in the options so that withOptions() keeps it.
 */
class IdentityTokenOpenAI extends OpenAI {
    constructor(private readonly idOptions: IdentityTokenOptions) {
        super(idOptions);
    }

    protected override async prepareRequest(request: RequestInit, context: { url: string; options: FinalRequestOptions }): Promise<void> {
        await super.prepareRequest(request, context);
        const headers = new Headers(request.headers);
        headers.set(this.idOptions.idTokenHeader, `Bearer ${await this.idOptions.idTokens.token()}`);
        request.headers = headers;
    }

    /** Google's HTML error pages (Cloud Run, the load balancer) as one readable line in the error's message. */
    protected override makeStatusError(status: number, error: object, message: string | undefined, headers: Headers): InstanceType<typeof OpenAI.APIError> {
        return super.makeStatusError(status, error, message === undefined ? undefined : readableBody(message), headers);
    }
}

/**
 * An OpenAI SDK client for the deployed model. Identity tokens are minted for the origin of
 * `conn.url` (idTokenAudience), a new one asked for on every attempt; the SDK retries 408, 409,
 * 429 and 5xx answers and connection failures up to maxRetries times, waiting what Retry-After
 * (or retry-after-ms) says, else 0.5 s doubling per retry up to 8 s, less up to 25 % jitter
 * (openai 6.x client.js shouldRetry / retryRequest).
 */
export function createClient(conn: Connection, opts: { ids?: IdTokenSource; fetch?: typeof fetch; maxRetries?: number; timeoutMs?: number } = {}): OpenAI {
    return new IdentityTokenOpenAI({
        baseURL: `${conn.url.replace(/\/$/, "")}/v1`,
        // Without a key the SDK still wants one; the identity token replaces the header.
        apiKey: conn.apiKey ?? "iam-only",
        fetch: opts.fetch,
        maxRetries: opts.maxRetries ?? 2,
        timeout: opts.timeoutMs ?? 600_000,
        idTokens: opts.ids ?? defaultIdTokens(conn.url),
        idTokenHeader: conn.apiKey !== undefined ? "X-Serverless-Authorization" : "Authorization",
    });
}

/** The stack outputs the tools use. */
export interface StackOutputs {
    serviceUrl?: string;
    servedModelName?: string;
    accessMode?: string;
    costEstimate?: { perInstanceHour?: number };
    gpuMemoryEstimate?: { singleStreamCeilingTokensPerSecond?: number };
    imageInput?: boolean;
    loraModels?: string[];
    /** Each region's run.app URL (with one region: the service's own, the same as serviceUrl). */
    regionalServiceUrls?: Record<string, string>;
    /** Every region served, home first. */
    regions?: string[];
}

/**
 * The regional URLs of a multi-region stack, from its outputs: regionalServiceUrls without any
 * entry that is serviceUrl itself (a single-region stack lists its one service there, and that is
 * the service to call, not a region behind a front door). Undefined when none is left.
 */
export function regionalUrlsFromOutputs(outputs: StackOutputs): Record<string, string> | undefined {
    if (outputs.serviceUrl === undefined || outputs.regionalServiceUrls === undefined) return undefined;
    const endpoint = idTokenAudience(outputs.serviceUrl);
    const behind = Object.entries(outputs.regionalServiceUrls).filter(([, u]) => typeof u === "string" && idTokenAudience(u) !== endpoint);
    return behind.length === 0 ? undefined : Object.fromEntries(behind);
}

/** A `pulumi` command that failed; the message holds its stderr and, when known, the fix. */
export class PulumiError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "PulumiError";
    }
}

/**
 * The fix for a Pulumi CLI error, from its message (texts as in pulumi/pulumi's CLI: the
 * passphrase secrets manager, stack selection, and backend login in non-interactive mode).
 */
export function pulumiHint(stderr: string, stack?: string): string | undefined {
    if (/passphrase must be set with PULUMI_CONFIG_PASSPHRASE/.test(stderr)) {
        return "This stack's secrets are encrypted with a passphrase (`npx pulumi login --local` stacks are), and these tools run Pulumi non-interactively, so they cannot ask for it: `export PULUMI_CONFIG_PASSPHRASE=...` (or `export PULUMI_CONFIG_PASSPHRASE_FILE=/path/to/file`) in this shell, then run this again.";
    }
    if (/incorrect passphrase/i.test(stderr)) {
        return "PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) does not match the passphrase this stack was created with.";
    }
    if (/no stack selected/.test(stderr)) {
        return "No stack is selected: `npx pulumi stack select dev` (or pass --stack NAME). If you have not deployed yet: `npx pulumi stack init dev`, then `npx pulumi up`.";
    }
    const missing = /no stack named '([^']+)' found/.exec(stderr);
    if (missing) {
        return `There is no stack ${missing[1]} on this backend: \`npx pulumi stack ls\` lists the stacks; to deploy it, \`npx pulumi stack init ${missing[1]}\`, then \`npx pulumi up --stack ${missing[1]}\`.`;
    }
    if (/PULUMI_ACCESS_TOKEN must be set for login/.test(stderr)) {
        return "Pulumi is not logged in to a backend: `npx pulumi login --local` (or `npx pulumi login` for Pulumi Cloud), then select the stack you deployed with `npx pulumi stack select" + (stack ? ` ${stack}` : "") + "`.";
    }
    return undefined;
}

const PULUMI = ["npx", "--no-install", "pulumi"];

/**
 * Runs the project's pinned Pulumi CLI and returns its stdout. Never interactive: stdin is not a
 * terminal and --non-interactive (a global flag of every pulumi command) is passed, so a stack
 * that needs a passphrase or a login fails with Pulumi's message instead of waiting for input.
 */
function pulumi(args: string[], stack?: string): string {
    const full = [...args, ...(stack ? ["--stack", stack] : []), "--non-interactive"];
    const shown = `npx pulumi ${full.join(" ")}`;
    const r = spawnSync(PULUMI[0], [...PULUMI.slice(1), ...full], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    if (r.error) throw new PulumiError(`\`${shown}\` could not run: ${r.error.message}`);
    if (r.status !== 0) {
        const stderr = r.stderr.trim();
        const hint = pulumiHint(stderr, stack);
        throw new PulumiError(`\`${shown}\` failed${r.status === null ? ` (${r.signal})` : ` (exit ${r.status})`}${stderr ? `:\n${stderr}` : "."}${hint ? `\n${hint}` : ""}`);
    }
    return r.stdout;
}

/** `npx pulumi stack output --json` of the current (or named) stack. */
export function stackOutputs(stack?: string): StackOutputs {
    const out = pulumi(["stack", "output", "--json"], stack);
    try {
        return JSON.parse(out) as StackOutputs;
    } catch {
        throw new PulumiError(`\`npx pulumi stack output --json\` printed something other than JSON: ${out.slice(0, 200)}`);
    }
}

/**
 * Connection details from stack outputs already read (the API key from VLLM_API_KEY or `npx pulumi
 * config get apiKey`). The URL is serviceUrl: with several regions, the front door's endpoint.
 */
export function connectionFromOutputs(outputs: StackOutputs, stack?: string): Connection {
    if (!outputs.serviceUrl || !outputs.servedModelName) {
        throw new PulumiError(`The stack${stack ? ` ${stack}` : ""} has no serviceUrl/servedModelName outputs: it is not deployed yet. Run \`npx pulumi up${stack ? ` --stack ${stack}` : ""}\` first.`);
    }
    const regional = regionalUrlsFromOutputs(outputs);
    let apiKey = process.env.VLLM_API_KEY;
    if (apiKey === undefined && outputs.accessMode !== undefined && outputs.accessMode !== "iam") apiKey = pulumi(["config", "get", "apiKey"], stack).trim();
    return {
        url: outputs.serviceUrl,
        model: outputs.servedModelName,
        apiKey,
        ...(outputs.imageInput === true ? { imageInput: true } : {}),
        ...(outputs.loraModels !== undefined && outputs.loraModels.length > 0 ? { loraModels: outputs.loraModels } : {}),
        ...(regional === undefined ? {} : { regionalUrls: regional }),
    };
}

/**
 * Connection details of a deployed stack, from `npx pulumi stack output` (and, when the stack has
 * an API key, `npx pulumi config get apiKey`, unless VLLM_API_KEY is set).
 */
export function connectionFromStack(stack?: string): Connection {
    return connectionFromOutputs(stackOutputs(stack), stack);
}
