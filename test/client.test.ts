import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { IdTokenClient } from "google-auth-library";
import OpenAI from "openai";
import { createClient, gcloudIdTokens, googleIdTokens, IdTokenSource, idTokenSourceKind } from "../client";
import { fakeIdToken, FakeVllm, startFakeVllm } from "./fixtures/fake-vllm";

const KEY = "sk-test-0123456789abcdef-KEY";

/**
 * google-auth-library's real IdTokenClient over a fake provider whose tokens expire 2 s after
 * the library's 5-minute early-refresh margin: the library must fetch a new one by itself.
 */
function shortLivedIds(audience: string) {
    const minted: string[] = [];
    const client = new IdTokenClient({
        targetAudience: audience,
        idTokenProvider: {
            fetchIdToken: (aud: string) => {
                const t = fakeIdToken(aud, 300 + 2);
                minted.push(t);
                return Promise.resolve(t);
            },
        },
    });
    return { ids: googleIdTokens(audience, client), minted };
}

const staticIds = (token: string): IdTokenSource => ({ token: () => Promise.resolve(token) });

describe("OpenAI client for a private service (IAM only)", () => {
    let server: FakeVllm;
    before(async () => {
        server = await startFakeVllm();
    });
    after(() => server.close());

    it("sends a Google identity token for the service URL as Authorization", async () => {
        const { ids, minted } = shortLivedIds(server.url);
        const client = createClient({ url: server.url, model: "google/gemma-3-1b-it" }, { ids });
        const r = await client.chat.completions.create({ model: "google/gemma-3-1b-it", messages: [{ role: "user", content: "hi" }], max_tokens: 4 });
        assert.equal(r.choices[0].message.content, "t0 t1 t2 t3 ");
        const last = server.seen.at(-1)!;
        assert.equal(last.status, 200);
        assert.equal(last.authorization, `Bearer ${minted[0]}`);
        assert.equal(last.serverlessAuthorization, undefined);
    });

    it("refreshes the token before it expires, without a failed request", async () => {
        const { ids, minted } = shortLivedIds(server.url);
        const client = createClient({ url: server.url, model: "google/gemma-3-1b-it" }, { ids, maxRetries: 0 });
        const before = server.seen.length;
        await client.models.list();
        await client.models.list();
        assert.equal(minted.length, 1, "cached while valid");
        await new Promise((r) => setTimeout(r, 2500));
        await client.models.list();
        assert.equal(minted.length, 2, "a new token after the first one neared expiry");
        const tokens = server.seen.slice(before).map((s) => s.idToken);
        assert.deepEqual(tokens, [minted[0], minted[0], minted[1]]);
        assert.ok(server.seen.slice(before).every((s) => s.status === 200));
    });

    it("is rejected like Cloud Run would with an expired token", async () => {
        const client = createClient({ url: server.url, model: "m" }, { ids: staticIds(fakeIdToken(server.url, -10)), maxRetries: 0 });
        await assert.rejects(client.models.list(), (e: unknown) => e instanceof OpenAI.APIError && e.status === 401);
    });

    it("streams responses", async () => {
        const { ids } = shortLivedIds(server.url);
        const client = createClient({ url: server.url, model: "google/gemma-3-1b-it" }, { ids });
        const stream = await client.chat.completions.create({ model: "google/gemma-3-1b-it", messages: [{ role: "user", content: "hi" }], max_tokens: 5, stream: true });
        let text = "";
        for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
        assert.equal(text, "t0 t1 t2 t3 t4 ");
    });
});

describe("OpenAI client with an API key", () => {
    let server: FakeVllm;
    before(async () => {
        server = await startFakeVllm({ apiKey: KEY });
    });
    after(() => server.close());

    it("puts the identity token in X-Serverless-Authorization and the key in Authorization", async () => {
        const { ids, minted } = shortLivedIds(server.url);
        const client = createClient({ url: server.url, model: "google/gemma-3-1b-it", apiKey: KEY }, { ids });
        const models = await client.models.list();
        assert.deepEqual(models.data.map((m) => m.id), ["google/gemma-3-1b-it"]);
        const last = server.seen.at(-1)!;
        assert.equal(last.serverlessAuthorization, `Bearer ${minted[0]}`);
        assert.equal(last.authorization, `Bearer ${KEY}`);
    });

    it("fails with 401 from vLLM on a wrong key", async () => {
        const { ids } = shortLivedIds(server.url);
        const client = createClient({ url: server.url, model: "google/gemma-3-1b-it", apiKey: "wrong-key-0123456789" }, { ids, maxRetries: 0 });
        await assert.rejects(client.models.list(), (e: unknown) => e instanceof OpenAI.APIError && e.status === 401);
    });
});

describe("gcloud identity tokens (VLLM_ID_TOKEN_SOURCE=gcloud)", () => {
    it("runs gcloud once and reuses the token while it is valid", async () => {
        let calls = 0;
        const ids = gcloudIdTokens(() => {
            calls++;
            return `${fakeIdToken("https://svc", 3600)}\n`;
        });
        const first = await ids.token();
        assert.equal(await ids.token(), first);
        assert.equal(calls, 1);
        assert.ok(!first.endsWith("\n"), "gcloud's newline is trimmed");
    });

    it("asks again once the token is within 5 minutes of expiry", async () => {
        let calls = 0;
        const ids = gcloudIdTokens(() => {
            calls++;
            return fakeIdToken("https://svc", 200);
        });
        await ids.token();
        await ids.token();
        assert.equal(calls, 2);
    });

    it("is chosen only by VLLM_ID_TOKEN_SOURCE=gcloud", () => {
        assert.equal(idTokenSourceKind({ VLLM_ID_TOKEN_SOURCE: "gcloud" }), "gcloud");
        assert.equal(idTokenSourceKind({}), "google-auth-library");
        assert.equal(idTokenSourceKind({ VLLM_ID_TOKEN_SOURCE: "other" }), "google-auth-library");
    });
});
