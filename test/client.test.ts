import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { IdTokenClient } from "google-auth-library";
import OpenAI from "openai";
import { createClient, CredentialError, credentialErrorOf, describeError, gcloudIdTokens, googleIdTokens, IdTokenSource, idTokenSourceKind, pulumiHint } from "../client";
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
