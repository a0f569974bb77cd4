import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { explainStatus, smoke, SmokeError } from "../client/smoke";
import { CredentialError, IdTokenSource } from "../client";
import { fakeIdToken, startFakeVllm } from "./fixtures/fake-vllm";

const MODEL = "google/gemma-3-1b-it";
const ids = (audience: string): IdTokenSource => ({ token: () => Promise.resolve(fakeIdToken(audience, 3600)) });
const quiet = () => undefined;

describe("npm run smoke", () => {
    it("waits for /health, lists models, chats, streams, and measures TTFT and tokens/s", async () => {
        const server = await startFakeVllm({ readyAfterMs: 300, ttftMs: 200, itlMs: 20, outputTokens: 21 });
        try {
            const lines: string[] = [];
            const r = await smoke({ url: server.url, model: MODEL }, { ids: ids(server.url), pollMs: 50, log: (l) => lines.push(l) });
            assert.ok(r.healthySeconds >= 0.25 && r.healthySeconds < 2, String(r.healthySeconds));
            assert.ok(lines.some((l) => l.startsWith("waiting for /health") && l.includes("503")), "reports the cold start");
            assert.deepEqual(r.models, [MODEL]);
            assert.equal(r.answer.split(" ").length - 1, 21);
            assert.equal(r.outputTokens, 21);
            // Injected: 200 ms to the first token, then 20 ms per token (50 tokens/s).
            assert.ok(r.timeToFirstTokenMs >= 190 && r.timeToFirstTokenMs < 400, `TTFT ${r.timeToFirstTokenMs}`);
            assert.ok(r.tokensPerSecond > 35 && r.tokensPerSecond <= 52, `tokens/s ${r.tokensPerSecond}`);
            const paths = server.seen.map((s) => `${s.method} ${s.path}`);
            assert.ok(paths.includes("GET /v1/models") && paths.filter((p) => p === "POST /v1/chat/completions").length === 2);
        } finally {
            await server.close();
        }
    });

    it("works with an API key, sending it only where vLLM checks it", async () => {
        const key = "sk-test-0123456789abcdef-KEY";
        const server = await startFakeVllm({ apiKey: key });
        try {
            await smoke({ url: server.url, model: MODEL, apiKey: key }, { ids: ids(server.url), pollMs: 10, log: quiet });
            const health = server.seen.find((s) => s.path === "/health")!;
            assert.equal(health.authorization, undefined, "no key needed on /health");
            assert.ok(server.seen.filter((s) => s.path.startsWith("/v1")).every((s) => s.authorization === `Bearer ${key}` && s.status === 200));
        } finally {
            await server.close();
        }
    });

    it("explains a 429 at max instances", async () => {
        const server = await startFakeVllm({ failFirst: { status: 429, count: 1 } });
        try {
            await assert.rejects(smoke({ url: server.url, model: MODEL }, { ids: ids(server.url), pollMs: 10, log: quiet }), (e: unknown) => {
                assert.ok(e instanceof SmokeError);
                assert.match(e.message, /^GET \/v1\/models: 429 Too Many Requests\. Every instance \(maxInstances\) is busy/);
                return true;
            });
        } finally {
            await server.close();
        }
    });

    it("gives up on a service that never gets healthy, saying what it last saw", async () => {
        const server = await startFakeVllm({ readyAfterMs: 60_000 });
        try {
            await assert.rejects(smoke({ url: server.url, model: MODEL }, { ids: ids(server.url), pollMs: 20, waitSeconds: 0.2, log: quiet }), /Not healthy after 0 s\. Last answer: GET \/health: 503 Service Unavailable/);
        } finally {
            await server.close();
        }
    });

    it("stops at once when Cloud Run rejects the caller", async () => {
        const server = await startFakeVllm();
        try {
            const expired: IdTokenSource = { token: () => Promise.resolve(fakeIdToken(server.url, -5)) };
            await assert.rejects(smoke({ url: server.url, model: MODEL }, { ids: expired, pollMs: 10, log: quiet }), /GET \/health: 401 Unauthorized\. Cloud Run rejected the identity token/);
        } finally {
            await server.close();
        }
    });

    it("notices a served model name that does not match", async () => {
        const server = await startFakeVllm({ model: "other" });
        try {
            await assert.rejects(smoke({ url: server.url, model: MODEL }, { ids: ids(server.url), pollMs: 10, log: quiet }), /lists other, not google\/gemma-3-1b-it/);
        } finally {
            await server.close();
        }
    });

    it("explains 403 and 503 in terms of the fix", () => {
        assert.match(explainStatus(403, "GET /health"), /not an invoker.*pulumi config set --path 'invokers\[0\]'/);
        assert.match(explainStatus(503, "GET /health"), /cold start/);
        assert.match(explainStatus(401, "POST /v1/chat/completions"), /vLLM rejected the API key: check VLLM_API_KEY \/ `npx pulumi config get apiKey`/);
    });

    // Default wait (900 s): without the fix this test runs into its own timeout.
    it("stops at once on missing credentials instead of waiting for /health", { timeout: 10_000 }, async () => {
        const server = await startFakeVllm();
        try {
            let calls = 0;
            const none: IdTokenSource = {
                token: () => {
                    calls++;
                    return Promise.reject(new CredentialError("`gcloud auth print-identity-token` failed: no account. Run `gcloud auth login`, then try again."));
                },
            };
            const lines: string[] = [];
            await assert.rejects(smoke({ url: server.url, model: MODEL }, { ids: none, pollMs: 10, log: (l) => lines.push(l) }), (e: unknown) => e instanceof CredentialError && /gcloud auth login/.test(e.message));
            assert.equal(calls, 1);
            assert.deepEqual(lines, [], "no waiting");
            assert.equal(server.seen.length, 0);
        } finally {
            await server.close();
        }
    });

    it("recognizes google-auth-library's own missing-credentials error from any token source", { timeout: 10_000 }, async () => {
        const server = await startFakeVllm();
        try {
            const raw: IdTokenSource = { token: () => Promise.reject(new Error("Could not load the default credentials. Browse to https://cloud.google.com/docs/authentication/getting-started for more information.")) };
            await assert.rejects(smoke({ url: server.url, model: MODEL }, { ids: raw, pollMs: 10, log: quiet }), /Run `gcloud auth application-default login`/);
        } finally {
            await server.close();
        }
    });
});
