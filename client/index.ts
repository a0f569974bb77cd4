// OpenAI SDK clients for a deployed stack. The service is private: every request carries a
// Google identity token for the service URL, minted and refreshed by google-auth-library
// (user credentials from `gcloud auth application-default login`, a service account key,
// or the metadata server). With an API key configured, the identity token moves to
// X-Serverless-Authorization and the key goes in Authorization, where vLLM checks it.
import { execFileSync } from "child_process";
import OpenAI from "openai";
import { GoogleAuth, IdTokenClient } from "google-auth-library";

/** Something that returns a currently valid identity token. */
export interface IdTokenSource {
    token(): Promise<string>;
}

/**
 * Identity tokens for `audience` (the service URL). google-auth-library's IdTokenClient caches
 * the token and fetches a new one when it is within 5 minutes of expiring.
 */
export function googleIdTokens(audience: string, client?: IdTokenClient): IdTokenSource {
    let pending: Promise<IdTokenClient> | undefined = client ? Promise.resolve(client) : undefined;
    return {
        async token() {
            pending ??= new GoogleAuth().getIdTokenClient(audience);
            const headers = await (await pending).getRequestHeaders();
            const value = headers.get("authorization") ?? "";
            return value.replace(/^Bearer /i, "");
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

/**
 * Identity tokens from `gcloud auth print-identity-token`, the codelab's own way, cached until
 * 5 minutes before they expire. For user accounts whose Application Default Credentials
 * tokens Cloud Run does not accept; select it with VLLM_ID_TOKEN_SOURCE=gcloud.
 */
export function gcloudIdTokens(run: () => string = () => execFileSync("gcloud", ["auth", "print-identity-token"], { encoding: "utf8" })): IdTokenSource {
    let cached = "";
    return {
        token() {
            if (cached === "" || secondsLeft(cached) < 300) cached = run().trim();
            return Promise.resolve(cached);
        },
    };
}

/** Which token source the tools use: google-auth-library, or gcloud when VLLM_ID_TOKEN_SOURCE=gcloud. */
export function idTokenSourceKind(env: NodeJS.ProcessEnv = process.env): "gcloud" | "google-auth-library" {
    return env.VLLM_ID_TOKEN_SOURCE === "gcloud" ? "gcloud" : "google-auth-library";
}

export function defaultIdTokens(audience: string): IdTokenSource {
    return idTokenSourceKind() === "gcloud" ? gcloudIdTokens() : googleIdTokens(audience);
}

export interface Connection {
    /** Service URL, e.g. https://vllm-cloudrun-dev-….a.run.app */
    url: string;
    /** Model name to send (servedModelName). */
    model: string;
    /** vLLM API key, when the stack has one. */
    apiKey?: string;
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

/** An OpenAI SDK client for the deployed model. */
export function createClient(conn: Connection, opts: { ids?: IdTokenSource; fetch?: typeof fetch; maxRetries?: number; timeoutMs?: number } = {}): OpenAI {
    const ids = opts.ids ?? defaultIdTokens(conn.url);
    return new OpenAI({
        baseURL: `${conn.url.replace(/\/$/, "")}/v1`,
        // Without a key the SDK still wants one; authorizedFetch replaces the header.
        apiKey: conn.apiKey ?? "iam-only",
        fetch: authorizedFetch(ids, conn.apiKey !== undefined, opts.fetch),
        maxRetries: opts.maxRetries ?? 2,
        timeout: opts.timeoutMs ?? 600_000,
    });
}

/** The stack outputs the tools use. */
export interface StackOutputs {
    serviceUrl?: string;
    servedModelName?: string;
    accessMode?: string;
    costEstimate?: { perInstanceHour?: number };
    gpuMemoryEstimate?: { singleStreamCeilingTokensPerSecond?: number };
}

const PULUMI = ["npx", "--no-install", "pulumi"];

function pulumi(args: string[], stack?: string): string {
    return execFileSync(PULUMI[0], [...PULUMI.slice(1), ...args, ...(stack ? ["--stack", stack] : [])], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
}

/** `pulumi stack output --json` of the current (or named) stack. */
export function stackOutputs(stack?: string): StackOutputs {
    return JSON.parse(pulumi(["stack", "output", "--json"], stack)) as StackOutputs;
}

/**
 * Connection details of a deployed stack, from `pulumi stack output` (and, when the stack has
 * an API key, `pulumi config get apiKey`, unless VLLM_API_KEY is set).
 */
export function connectionFromStack(stack?: string): Connection {
    const outputs = stackOutputs(stack);
    if (!outputs.serviceUrl || !outputs.servedModelName) throw new Error("The stack has no serviceUrl/servedModelName outputs: run `npx pulumi up` first.");
    let apiKey = process.env.VLLM_API_KEY;
    if (apiKey === undefined && outputs.accessMode !== undefined && outputs.accessMode !== "iam") apiKey = pulumi(["config", "get", "apiKey"], stack).trim();
    return { url: outputs.serviceUrl, model: outputs.servedModelName, apiKey };
}
