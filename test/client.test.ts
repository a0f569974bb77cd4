import { after, before, describe, it, TestContext } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { GoogleAuth, IdTokenClient } from "google-auth-library";
import OpenAI from "openai";
import { connectionFromOutputs, createClient, CredentialError, credentialErrorOf, describeError, gcloudIdTokens, googleIdTokens, idTokenAudience, IdTokenSource, idTokenSourceKind, pulumiHint, readableBody, regionalUrlsFromOutputs } from "../client";
import { fakeIdToken, FakeVllm, startFakeVllm } from "./fixtures/fake-vllm";
import { cloudRunPage, MultiRegion, startMultiRegion } from "./fixtures/fake-front-door";

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

/** Runs fn with these environment variables (undefined: unset), then restores them. */
async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
    const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
    const apply = (v: Record<string, string | undefined>) => {
        for (const [k, val] of Object.entries(v)) {
            if (val === undefined) delete process.env[k];
            else process.env[k] = val;
        }
    };
    apply(vars);
    try {
        return await fn();
    } finally {
        apply(saved);
    }
}

/** A machine without Application Default Credentials: empty HOME, no key file, not on Google Cloud. */
const NO_ADC = (home: string) => ({ HOME: home, GOOGLE_APPLICATION_CREDENTIALS: undefined, CLOUDSDK_CONFIG: undefined, METADATA_SERVER_DETECTION: "none" });

describe("credential failures", () => {
    let server: FakeVllm;
    let home: string;
    before(async () => {
        server = await startFakeVllm();
        home = fs.mkdtempSync(path.join(os.tmpdir(), "no-adc-"));
    });
    after(async () => {
        await server.close();
        fs.rmSync(home, { recursive: true, force: true });
    });

    it("no Application Default Credentials: google-auth-library's cause and the login command", async () => {
        await withEnv(NO_ADC(home), async () => {
            await assert.rejects(googleIdTokens(server.url).token(), (e: unknown) => {
                assert.ok(e instanceof CredentialError);
                assert.match(e.message, /Could not load the default credentials/);
                assert.match(e.message, /Run `gcloud auth application-default login`/);
                return true;
            });
        });
    });

    it("credentials that cannot mint identity tokens (workload identity federation) are named as such", async () => {
        const file = path.join(home, "external.json");
        fs.writeFileSync(file, JSON.stringify({
            type: "external_account",
            audience: "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q",
            subject_token_type: "urn:ietf:params:oauth:token-type:jwt",
            token_url: "https://sts.googleapis.com/v1/token",
            credential_source: { file: path.join(home, "missing-token") },
        }));
        await withEnv({ ...NO_ADC(home), GOOGLE_APPLICATION_CREDENTIALS: file, GOOGLE_CLOUD_PROJECT: "p" }, async () => {
            await assert.rejects(googleIdTokens(server.url).token(), (e: unknown) => {
                assert.ok(e instanceof CredentialError);
                assert.match(e.message, /cannot mint identity tokens \(google-auth-library: "Cannot fetch ID token in this environment/);
                assert.match(e.message, /VLLM_ID_TOKEN_SOURCE=gcloud/);
                return true;
            });
        });
    });

    it("an expired or revoked login (invalid_grant) asks for a new login", async () => {
        const client = new IdTokenClient({ targetAudience: server.url, idTokenProvider: { fetchIdToken: () => Promise.reject(new Error("invalid_grant")) } });
        await assert.rejects(googleIdTokens(server.url, client).token(), /expired or was revoked\. Run `gcloud auth application-default login` again/);
    });

    it("reach the caller once and as they are, not as a retried \"Connection error.\"", async () => {
        let calls = 0;
        const ids: IdTokenSource = {
            token: () => {
                calls++;
                return Promise.reject(new CredentialError("no credentials: run `gcloud auth application-default login`"));
            },
        };
        const before = server.seen.length;
        // The default maxRetries (2), as in npm run chat.
        const client = createClient({ url: server.url, model: "google/gemma-3-1b-it" }, { ids });
        await assert.rejects(client.chat.completions.create({ model: "google/gemma-3-1b-it", messages: [{ role: "user", content: "hi" }] }), (e: unknown) => e instanceof CredentialError);
        assert.equal(calls, 1, "not retried");
        assert.equal(server.seen.length, before, "nothing sent");
    });

    it("gcloud failing: its own message and `gcloud auth login`", async () => {
        const failure = Object.assign(new Error("Command failed: gcloud auth print-identity-token"), {
            status: 1,
            // gcloud's own text (googlecloudsdk/core/credentials/exceptions.py NoActiveAccountException).
            stderr: "ERROR: (gcloud.auth.print-identity-token) You do not currently have an active account selected.\nPlease run:\n\n  $ gcloud auth login\n\nto obtain new credentials.\n",
        });
        await assert.rejects(gcloudIdTokens(() => { throw failure; }).token(), (e: unknown) => {
            assert.ok(e instanceof CredentialError);
            assert.match(e.message, /failed \(VLLM_ID_TOKEN_SOURCE=gcloud\):\nERROR: \(gcloud\.auth\.print-identity-token\) You do not currently have an active account selected\.\nPlease run:/);
            assert.match(e.message, /Run `gcloud auth login`, then try again\.$/);
            return true;
        });
        const missing = Object.assign(new Error("spawnSync gcloud ENOENT"), { code: "ENOENT" });
        await assert.rejects(gcloudIdTokens(() => { throw missing; }).token(), /`gcloud` is not on PATH/);
        await assert.rejects(gcloudIdTokens(() => "\n").token(), /printed no token/);
    });

    it("are found inside the SDK's APIConnectionError, whose message alone says nothing", () => {
        const credential = new CredentialError("no credentials");
        assert.equal(credentialErrorOf(new OpenAI.APIConnectionError({ cause: credential })), credential);
        const wrappedGoogle = new OpenAI.APIConnectionError({ cause: new Error("Could not load the default credentials. Browse to https://cloud.google.com/docs/authentication/getting-started for more information.") });
        assert.match(describeError(wrappedGoogle), /^No Google credentials .*`gcloud auth application-default login`/);
        const network = new OpenAI.APIConnectionError({ cause: new TypeError("fetch failed", { cause: new Error("connect ECONNREFUSED 127.0.0.1:9") }) });
        assert.equal(credentialErrorOf(network), undefined);
        assert.equal(describeError(network), "Connection error: fetch failed: connect ECONNREFUSED 127.0.0.1:9");
    });
});

describe("Pulumi CLI failures", () => {
    it("explains the messages of a non-interactive Pulumi", () => {
        assert.match(pulumiHint("error: passphrase must be set with PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE environment variables") ?? "", /`export PULUMI_CONFIG_PASSPHRASE=\.\.\.` \(or `export PULUMI_CONFIG_PASSPHRASE_FILE=/);
        assert.match(pulumiHint("error: incorrect passphrase") ?? "", /does not match/);
        assert.match(pulumiHint("error: no stack selected; please use `pulumi stack select` to choose one") ?? "", /`npx pulumi stack select dev`.*`npx pulumi up`/);
        assert.match(pulumiHint("error: no stack named 'prod' found") ?? "", /`npx pulumi stack init prod`, then `npx pulumi up --stack prod`/);
        assert.match(pulumiHint("error: PULUMI_ACCESS_TOKEN must be set for login during non-interactive CLI sessions", "dev") ?? "", /`npx pulumi login --local`.*`npx pulumi stack select dev`/);
        assert.equal(pulumiHint("error: something else"), undefined);
    });

    it("every Pulumi command the tools tell people to run is `npx pulumi …` (the pinned CLI)", () => {
        const dir = path.join(__dirname, "..", "client");
        for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".ts"))) {
            const text = fs.readFileSync(path.join(dir, file), "utf8");
            const bare = [...text.matchAll(/(?<!npx )(?<![\w@/-])pulumi (up|config|stack|login|destroy|preview|refresh|cancel)\b/g)].map((m) => m[0]);
            assert.deepEqual(bare, [], `${file}: ${bare.join(", ")}`);
        }
    });
});

/**
 * google-auth-library's own path (GoogleAuth.getIdTokenClient(audience), as googleIdTokens calls it
 * when no token source is given) with a fake provider: records every audience asked for and mints
 * tokens for it. Restored after the test.
 */
function recordGoogleAudiences(t: TestContext): { asked: string[]; minted: string[] } {
    const asked: string[] = [];
    const minted: string[] = [];
    t.mock.method(GoogleAuth.prototype, "getIdTokenClient", (audience: string) => {
        asked.push(audience);
        return Promise.resolve(new IdTokenClient({
            targetAudience: audience,
            idTokenProvider: {
                fetchIdToken: (aud: string) => {
                    minted.push(aud);
                    return Promise.resolve(fakeIdToken(aud, 3600));
                },
            },
        }));
    });
    return { asked, minted };
}

const audienceOf = (token: string | undefined) => (JSON.parse(Buffer.from((token ?? "").split(".")[1] ?? "", "base64url").toString()) as { aud?: string }).aud;

describe("identity token audience", () => {
    it("is the URL's origin: no trailing slash, path, query or default port", () => {
        assert.equal(idTokenAudience("https://203.0.113.7.nip.io"), "https://203.0.113.7.nip.io");
        assert.equal(idTokenAudience("https://203.0.113.7.nip.io/"), "https://203.0.113.7.nip.io");
        assert.equal(idTokenAudience("https://llm.example.com/v1/chat/completions?x=1#y"), "https://llm.example.com");
        assert.equal(idTokenAudience("https://llm.example.com:443/"), "https://llm.example.com");
        assert.equal(idTokenAudience("https://vllm-cloudrun-dev-abc123-ew.a.run.app/"), "https://vllm-cloudrun-dev-abc123-ew.a.run.app");
        assert.equal(idTokenAudience("http://127.0.0.1:8080/x/"), "http://127.0.0.1:8080");
        assert.throws(() => idTokenAudience("llm.example.com"), /Not an absolute URL: "llm\.example\.com"/);
        assert.throws(() => idTokenAudience("ftp://llm.example.com"), /Not an http\(s\) URL/);
    });

    let server: FakeVllm;
    before(async () => {
        server = await startFakeVllm();
    });
    after(() => server.close());

    for (const suffix of ["", "/"]) {
        it(`createClient without a token source asks google-auth-library for exactly the origin (URL ${suffix === "" ? "without" : "with"} a trailing slash)`, async (t) => {
            await withEnv({ VLLM_ID_TOKEN_SOURCE: undefined }, async () => {
                const { asked, minted } = recordGoogleAudiences(t);
                const client = createClient({ url: `${server.url}${suffix}`, model: "google/gemma-3-1b-it" }, { maxRetries: 0 });
                const models = await client.models.list();
                assert.deepEqual(models.data.map((m) => m.id), ["google/gemma-3-1b-it"]);
                assert.deepEqual(asked, [server.url]);
                assert.deepEqual(minted, [server.url]);
                // The fake server, like Cloud Run, accepts only a token for exactly its URL.
                assert.equal(audienceOf(server.seen.at(-1)?.idToken), server.url);
                assert.equal(server.seen.at(-1)?.status, 200);
            });
        });
    }

    it("a URL with a path still mints for the origin (the request then goes under that path)", async (t) => {
        await withEnv({ VLLM_ID_TOKEN_SOURCE: undefined }, async () => {
            const { asked } = recordGoogleAudiences(t);
            const client = createClient({ url: `${server.url}/some/prefix/`, model: "m" }, { maxRetries: 0 });
            // Past the token check (not 401), then vLLM has no /some/prefix/v1/models (404).
            await assert.rejects(client.models.list(), (e: unknown) => e instanceof OpenAI.APIError && e.status === 404);
            assert.deepEqual(asked, [server.url]);
            assert.equal(server.seen.at(-1)?.path, "/some/prefix/v1/models");
            assert.equal(audienceOf(server.seen.at(-1)?.idToken), server.url);
        });
    });
});

describe("stack outputs of a multi-region stack", () => {
    const EP = "https://203.0.113.7.nip.io";
    const EW = "https://vllm-cloudrun-dev-abc-ew.a.run.app";
    const UC = "https://vllm-cloudrun-dev-abc-uc.a.run.app";

    it("the tools call serviceUrl (the endpoint); the regions' run.app URLs are only for checks", () => {
        const conn = connectionFromOutputs({ serviceUrl: EP, servedModelName: "m", accessMode: "iam", regions: ["europe-west4", "us-central1"], regionalServiceUrls: { "europe-west4": EW, "us-central1": UC } });
        assert.equal(conn.url, EP);
        assert.equal(idTokenAudience(conn.url), EP);
        assert.deepEqual(conn.regionalUrls, { "europe-west4": EW, "us-central1": UC });
    });

    it("a single-region stack's regionalServiceUrls (its one service, serviceUrl itself) are no regions to check", () => {
        const single = { serviceUrl: EW, servedModelName: "m", accessMode: "iam", regions: ["europe-west4"], regionalServiceUrls: { "europe-west4": EW } };
        assert.equal(regionalUrlsFromOutputs(single), undefined);
        assert.equal("regionalUrls" in connectionFromOutputs(single), false);
        // Older stacks have no such output at all.
        assert.equal(regionalUrlsFromOutputs({ serviceUrl: EW }), undefined);
        assert.equal(regionalUrlsFromOutputs({ serviceUrl: `${EW}/`, regionalServiceUrls: { "europe-west4": EW } }), undefined);
    });
});

describe("Google's HTML error pages in messages", () => {
    it("become one readable line", () => {
        assert.equal(readableBody(cloudRunPage(404)), "Error: Page not found. The requested URL was not found on this server.");
        assert.equal(readableBody(cloudRunPage(403, "/health")), "Error: Forbidden. Your client does not have permission to get URL /health from this server.");
        assert.equal(readableBody("<!DOCTYPE html><html lang=en><title>Error 404 (Not Found)!!1</title><p><b>404.</b> <ins>That&#8217;s an error.</ins><p>The requested URL <code>/x</code> was not found on this server.  <ins>That’s all we know.</ins>"), "404. That’s an error. The requested URL /x was not found on this server. That’s all we know.");
        assert.equal(readableBody("<html><head><title>502 Bad Gateway</title></head><body></body></html>"), "502 Bad Gateway.");
        assert.equal(readableBody("Rate exceeded."), "Rate exceeded.");
        assert.equal(readableBody('{"error":{"message":"x"}}'), '{"error":{"message":"x"}}');
        assert.equal(readableBody("x".repeat(400)).length, 300);
    });
});

describe("through a multi-region front door (local stand-ins: region A nearest, region B behind it)", () => {
    const MODEL = "google/gemma-3-1b-it";
    const A = "europe-west4";
    const B = "us-central1";
    let vllmA: FakeVllm;
    let vllmB: FakeVllm;
    const open: MultiRegion[] = [];
    before(async () => {
        vllmA = await startFakeVllm({ requireIdToken: false });
        vllmB = await startFakeVllm({ requireIdToken: false });
    });
    after(async () => {
        await Promise.all(open.map((m) => m.close()));
        await vllmA.close();
        await vllmB.close();
    });
    const deploy = async (...args: Parameters<typeof startMultiRegion>) => {
        const m = await startMultiRegion(...args);
        open.push(m);
        return m;
    };
    const chat = (client: OpenAI) => client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "hi" }], max_tokens: 4 });
    /** Every request a region admitted carried an identity token for exactly the endpoint (its custom audience). */
    const everyTokenForEndpoint = (m: MultiRegion, header: "authorization" | "x-serverless-authorization" = "authorization") => {
        for (const r of m.regions) {
            for (const q of r.requests) {
                assert.equal(q.viaLb, true, `${r.region}: through the front door`);
                assert.equal(q.idHeader, header, `${r.region} ${q.path}`);
                assert.equal(q.audience, m.front.url, `${r.region} ${q.path}: audience`);
            }
        }
    };

    it("A answers 503 (no instance): the front door retries once in B and the chat completes in one SDK attempt", async (t) => {
        await withEnv({ VLLM_ID_TOKEN_SOURCE: undefined }, async () => {
            const m = await deploy([{ region: A, failing: { status: 503, count: Infinity } }, { region: B, vllm: vllmB.url }]);
            const { asked } = recordGoogleAudiences(t);
            const r = await chat(createClient({ url: `${m.front.url}/`, model: MODEL }));
            assert.equal(r.choices[0].message.content, "t0 t1 t2 t3 ");
            assert.deepEqual(m.front.requests.map((q) => [q.path, q.tried, q.status]), [["/v1/chat/completions", [A, B], 200]]);
            assert.deepEqual(m.region(A).requests.map((q) => q.status), [503]);
            assert.deepEqual(m.region(B).requests.map((q) => q.status), [200]);
            assert.deepEqual(asked, [m.front.url]);
            everyTokenForEndpoint(m);
        });
    });

    it("A answers 429 once (at maxInstances): no failover on 429, the SDK backs off and its retry completes the chat", async (t) => {
        await withEnv({ VLLM_ID_TOKEN_SOURCE: undefined }, async () => {
            const m = await deploy([{ region: A, vllm: vllmA.url, failing: { status: 429, count: 1 } }, { region: B, vllm: vllmB.url }]);
            const { asked } = recordGoogleAudiences(t);
            const r = await chat(createClient({ url: m.front.url, model: MODEL }));
            assert.equal(r.choices[0].message.content, "t0 t1 t2 t3 ");
            // 429 is no gateway error: the front door passes it on, and the SDK's retry goes to A again.
            assert.deepEqual(m.front.requests.map((q) => [q.tried, q.status]), [[[A], 429], [[A], 200]]);
            assert.deepEqual(m.region(A).requests.map((q) => q.status), [429, 200]);
            assert.equal(m.region(B).requests.length, 0);
            // No Retry-After: openai's default backoff, 0.5 s less up to 25 % jitter.
            const gap = m.region(A).requests[1].at - m.region(A).requests[0].at;
            assert.ok(gap >= 370 && gap < 3000, `${gap} ms between attempts`);
            assert.deepEqual(asked, [m.front.url]);
            everyTokenForEndpoint(m);
        });
    });

    it("a 429 with Retry-After: the SDK waits what it says instead of its own backoff (at most 0.5 s)", async (t) => {
        await withEnv({ VLLM_ID_TOKEN_SOURCE: undefined }, async () => {
            const m = await deploy([{ region: A, vllm: vllmA.url, failing: { status: 429, count: 1, headers: { "retry-after": "1.2" } } }, { region: B, vllm: vllmB.url }]);
            recordGoogleAudiences(t);
            await chat(createClient({ url: m.front.url, model: MODEL }));
            const gap = m.region(A).requests[1].at - m.region(A).requests[0].at;
            assert.ok(gap >= 1150 && gap < 5000, `${gap} ms between attempts`);
            everyTokenForEndpoint(m);
        });
    });

    it("A keeps answering 429: every SDK attempt goes to A again, and the caller gets Cloud Run's 429 as a readable error", async (t) => {
        await withEnv({ VLLM_ID_TOKEN_SOURCE: undefined }, async () => {
            const m = await deploy([{ region: A, vllm: vllmA.url, failing: { status: 429, count: Infinity } }, { region: B, vllm: vllmB.url }]);
            recordGoogleAudiences(t);
            await assert.rejects(chat(createClient({ url: m.front.url, model: MODEL })), (e: unknown) => {
                assert.ok(e instanceof OpenAI.RateLimitError);
                assert.equal(e.message, "429 Error: Too Many Requests. Rate exceeded.");
                assert.equal(describeError(e), "429 Error: Too Many Requests. Rate exceeded.");
                return true;
            });
            // 1 + maxRetries (2) attempts, none of them in B: the front door does not fail over on 429.
            assert.deepEqual(m.front.requests.map((q) => q.tried), [[A], [A], [A]]);
            assert.equal(m.region(B).requests.length, 0);
            everyTokenForEndpoint(m);
        });
    });

    it("with an API key: the key in Authorization (Cloud Armor's rule), the token in X-Serverless-Authorization on every attempt", async (t) => {
        const key = "sk-test-0123456789abcdef-KEY";
        const keyed = await startFakeVllm({ requireIdToken: false, apiKey: key });
        try {
            await withEnv({ VLLM_ID_TOKEN_SOURCE: undefined }, async () => {
                const m = await deploy([{ region: A, failing: { status: 503, count: Infinity } }, { region: B, vllm: keyed.url }], { armor: { accessMode: "iam+key" } });
                recordGoogleAudiences(t);
                const r = await chat(createClient({ url: m.front.url, model: MODEL, apiKey: key }));
                assert.equal(r.choices[0].message.content, "t0 t1 t2 t3 ");
                assert.deepEqual(m.front.requests.map((q) => [q.tried, q.status]), [[[A, B], 200]]);
                for (const reg of m.regions) for (const q of reg.requests) assert.equal(q.authorization, `Bearer ${key}`);
                everyTokenForEndpoint(m, "x-serverless-authorization");
                assert.equal(keyed.seen.at(-1)?.status, 200);
            });
        } finally {
            await keyed.close();
        }
    });

    it("after 3 gateway failures in a row A is ejected: the next request goes straight to B", async (t) => {
        await withEnv({ VLLM_ID_TOKEN_SOURCE: undefined }, async () => {
            const m = await deploy([{ region: A, failing: { status: 503, count: Infinity } }, { region: B, vllm: vllmB.url }]);
            recordGoogleAudiences(t);
            const client = createClient({ url: m.front.url, model: MODEL }, { maxRetries: 0 });
            for (let i = 0; i < 4; i++) await chat(client);
            assert.deepEqual(m.front.requests.map((q) => q.tried), [[A, B], [A, B], [A, B], [B]]);
            assert.deepEqual(m.front.ejected(), [A]);
            assert.equal(m.region(A).requests.length, 3);
            everyTokenForEndpoint(m);
        });
    });

    it("both regions down: the caller gets a clear 503 after the SDK's retries, each also retried by the front door", async (t) => {
        await withEnv({ VLLM_ID_TOKEN_SOURCE: undefined }, async () => {
            const m = await deploy([{ region: A, failing: { status: 503, count: Infinity } }, { region: B, failing: { status: 503, count: Infinity } }]);
            recordGoogleAudiences(t);
            const started = Date.now();
            await assert.rejects(chat(createClient({ url: m.front.url, model: MODEL })), (e: unknown) => {
                assert.ok(e instanceof OpenAI.InternalServerError);
                assert.equal(e.status, 503);
                assert.equal(describeError(e), "503 Error: Server Error. The service you requested is not available yet. Please try again in 30 seconds.");
                return true;
            });
            assert.ok(Date.now() - started < 10_000, "no hang");
            assert.deepEqual(m.front.requests.map((q) => [q.tried, q.status]), [[[A, B], 503], [[A, B], 503], [[A, B], 503]]);
            // maxEjectionPercent 50: of two regions at most one is ejected.
            assert.deepEqual(m.front.ejected(), [A]);
            assert.equal(m.region(A).requests.length, 3);
            assert.equal(m.region(B).requests.length, 3);
            everyTokenForEndpoint(m);
        });
    });
});
