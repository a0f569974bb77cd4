import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as zlib from "zlib";
import * as pulumi from "@pulumi/pulumi";
import { CERTIFICATE_HINT, checkedExtras, checkRegion, errorBodyMessage, explainStatus, parseLoraList, parseRegionalUrl, parseRegionalUrlsEnv, parseSmokeArgs, pngDataUrl, regionalVerdict, smoke, SMOKE_IMAGE, SMOKE_USAGE, SmokeError, waitForHealth } from "../client/smoke";
import { CredentialError, IdTokenSource } from "../client";
import { SMOKE_COMMAND, smokeTimeoutMinutes, smokeFeatureEnv, smokeRegionalEnv, SmokeTest } from "../components/smoke-test";
import { fakeIdToken, FakeVllm, startFakeVllm } from "./fixtures/fake-vllm";
import { DATA_URL_PREFIX, IMAGE_ANSWER, PNG_SIGNATURE, startFeatureVllm } from "./fixtures/fake-vllm-features";
import { installFakeGcloud, installFakePulumi } from "./fixtures/fake-cli";
import type { FakePulumiState } from "./fixtures/fake-pulumi";
import { cloudRunPage, MultiRegion, startMultiRegion } from "./fixtures/fake-front-door";

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

    it("works with an API key, sending it on every request, /health too (a front door's Cloud Armor checks it there)", async () => {
        const key = "sk-test-0123456789abcdef-KEY";
        const server = await startFakeVllm({ apiKey: key });
        try {
            await smoke({ url: server.url, model: MODEL, apiKey: key }, { ids: ids(server.url), pollMs: 10, log: quiet });
            const health = server.seen.find((s) => s.path === "/health")!;
            assert.equal(health.authorization, `Bearer ${key}`);
            assert.equal(health.serverlessAuthorization?.startsWith("Bearer "), true, "the identity token beside it");
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

/** PNG chunks (type, data), each CRC checked: throws on a broken file. */
function pngChunks(png: Buffer): { type: string; data: Buffer }[] {
    const table = Array.from({ length: 256 }, (_, n) => {
        let c = n;
        for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
        return c >>> 0;
    });
    const crc32 = (b: Buffer) => {
        let c = 0xffffffff;
        for (const x of b) c = table[(c ^ x) & 0xff] ^ (c >>> 8);
        return (c ^ 0xffffffff) >>> 0;
    };
    assert.ok(png.subarray(0, 8).equals(PNG_SIGNATURE), "PNG signature");
    const chunks: { type: string; data: Buffer }[] = [];
    for (let i = 8; i < png.length;) {
        const length = png.readUInt32BE(i);
        const typed = png.subarray(i + 4, i + 8 + length);
        assert.equal(png.readUInt32BE(i + 8 + length), crc32(typed), `CRC of chunk ${chunks.length}`);
        chunks.push({ type: typed.subarray(0, 4).toString("ascii"), data: typed.subarray(4) });
        i += 12 + length;
    }
    return chunks;
}

describe("the smoke test's image", () => {
    it("is a small, valid 64x64 PNG that ships with the client: a red square on white", () => {
        assert.match(SMOKE_IMAGE, /client[\\/]assets[\\/]smoke-image\.png$/);
        const png = fs.readFileSync(SMOKE_IMAGE);
        assert.ok(png.length < 2048, `${png.length} bytes`);
        const chunks = pngChunks(png);
        assert.deepEqual(chunks.map((c) => c.type), ["IHDR", "IDAT", "IEND"]);
        const ihdr = chunks[0].data;
        // 64x64, 8-bit truecolour (RGB), deflate, no filter method, not interlaced.
        assert.deepEqual([ihdr.readUInt32BE(0), ihdr.readUInt32BE(4), ihdr[8], ihdr[9], ihdr[10], ihdr[11], ihdr[12]], [64, 64, 8, 2, 0, 0, 0]);
        const raw = zlib.inflateSync(chunks[1].data);
        assert.equal(raw.length, 64 * (1 + 64 * 3));
        const pixel = (x: number, y: number) => {
            assert.equal(raw[y * 193], 0, "filter type None");
            return [...raw.subarray(y * 193 + 1 + x * 3, y * 193 + 4 + x * 3)];
        };
        assert.deepEqual(pixel(0, 0), [255, 255, 255]);
        assert.deepEqual(pixel(32, 32), [255, 0, 0]);
        assert.deepEqual(pixel(63, 63), [255, 255, 255]);
    });

    it("goes as a PNG data URL", () => {
        const url = pngDataUrl();
        assert.ok(url.startsWith(DATA_URL_PREFIX));
        assert.ok(Buffer.from(url.slice(DATA_URL_PREFIX.length), "base64").equals(fs.readFileSync(SMOKE_IMAGE)));
    });
});

describe("npm run smoke: image input and LoRA adapters", () => {
    it("sends the image as OpenAI content parts and chats with every adapter", async () => {
        const server = await startFeatureVllm({ model: MODEL, adapters: ["sql-lora", "chat-lora"], images: "ok" });
        try {
            const lines: string[] = [];
            const r = await smoke({ url: server.url, model: MODEL }, { ids: ids(server.url), pollMs: 10, log: (l) => lines.push(l), imageInput: true, loraModels: ["sql-lora", "chat-lora"] });
            assert.deepEqual(server.problems, []);
            assert.deepEqual(r.models, [MODEL, "sql-lora", "chat-lora"]);
            assert.equal(r.imageAnswer, IMAGE_ANSWER);
            assert.deepEqual(r.adapters, [{ name: "sql-lora", answer: "Hello from sql-lora." }, { name: "chat-lora", answer: "Hello from chat-lora." }]);
            assert.equal(checkedExtras(r), " (also checked: image input; LoRA adapters sql-lora, chat-lora)");
            assert.ok(lines.includes(`image: ${IMAGE_ANSWER}`) && lines.includes("adapter sql-lora: Hello from sql-lora."), lines.join("\n"));

            const chats = server.chats();
            // Chat, stream, image, then one chat per adapter; the adapters by their own names.
            assert.deepEqual(chats.map((c) => c.model), [MODEL, MODEL, MODEL, "sql-lora", "chat-lora"]);
            const image = chats[2];
            assert.equal(image.stream, undefined);
            assert.equal(image.messages.length, 1);
            assert.equal(image.messages[0].role, "user");
            const parts = image.messages[0].content as { type: string; text?: string; image_url?: { url: string } }[];
            assert.deepEqual(parts.map((p) => Object.keys(p).sort()), [["text", "type"], ["image_url", "type"]]);
            assert.equal(parts[0].type, "text");
            assert.match(parts[0].text ?? "", /What is in this image\?/);
            assert.equal(parts[1].type, "image_url");
            assert.deepEqual(Object.keys(parts[1].image_url ?? {}), ["url"]);
            const url = parts[1].image_url?.url ?? "";
            assert.ok(url.startsWith("data:image/png;base64,"), url.slice(0, 40));
            const bytes = Buffer.from(url.slice("data:image/png;base64,".length), "base64");
            assert.ok(bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), "PNG signature");
            assert.ok(bytes.equals(fs.readFileSync(SMOKE_IMAGE)), "the shipped file, byte for byte");
            for (const c of chats.slice(3)) assert.equal(typeof c.messages[0].content, "string");
        } finally {
            await server.close();
        }
    });

    it("sends neither without the options (the requests of before)", async () => {
        const server = await startFeatureVllm({ model: MODEL, adapters: ["sql-lora"], images: "ok" });
        try {
            const r = await smoke({ url: server.url, model: MODEL }, { ids: ids(server.url), pollMs: 10, log: quiet });
            assert.deepEqual(server.problems, []);
            assert.deepEqual(server.chats().map((c) => [c.model, typeof c.messages[0].content]), [[MODEL, "string"], [MODEL, "string"]]);
            assert.equal(r.imageAnswer, undefined);
            assert.equal(r.adapters, undefined);
            assert.equal(checkedExtras(r), "");
        } finally {
            await server.close();
        }
    });

    it("works with an API key too (the key where vLLM checks it, the token beside it)", async () => {
        const key = "sk-test-0123456789abcdef-KEY";
        const server = await startFeatureVllm({ model: MODEL, adapters: ["a"], images: "ok", apiKey: key });
        try {
            const r = await smoke({ url: server.url, model: MODEL, apiKey: key }, { ids: ids(server.url), pollMs: 10, log: quiet, imageInput: true, loraModels: ["a"] });
            assert.deepEqual(server.problems, []);
            assert.ok(server.requests.every((q) => q.status === 200), JSON.stringify(server.requests.map((q) => [q.path, q.status])));
            assert.deepEqual(r.adapters?.map((a) => a.name), ["a"]);
        } finally {
            await server.close();
        }
    });

    it("fails, naming the adapter, when /v1/models does not list it, before any chat", async () => {
        const server = await startFeatureVllm({ model: MODEL, adapters: ["sql-lora"] });
        try {
            await assert.rejects(smoke({ url: server.url, model: MODEL }, { ids: ids(server.url), pollMs: 10, log: quiet, loraModels: ["sql-lora", "chat-lora"] }), (e: unknown) => {
                assert.ok(e instanceof SmokeError);
                assert.match(e.message, /^GET \/v1\/models lists google\/gemma-3-1b-it, sql-lora, but not the LoRA adapter chat-lora: vLLM did not load it \(vLLM serves an adapter only when started with --enable-lora and --lora-modules NAME=PATH\)/);
                assert.match(e.message, /`npx pulumi config get loraAdapters`/);
                assert.match(e.message, /drop the name from --lora \/ SMOKE_LORA_MODELS/);
                return true;
            });
            assert.deepEqual(server.chats(), []);
        } finally {
            await server.close();
        }
    });

    it("names every missing adapter", async () => {
        const server = await startFeatureVllm({ model: MODEL });
        try {
            await assert.rejects(smoke({ url: server.url, model: MODEL }, { ids: ids(server.url), pollMs: 10, log: quiet, loraModels: ["a", "b"] }), /but not the LoRA adapters a, b: vLLM did not load them/);
        } finally {
            await server.close();
        }
    });

    it("fails, naming the adapter and with vLLM's words, when a listed adapter does not answer", async () => {
        const server = await startFeatureVllm({ model: MODEL, adapters: ["good"], brokenAdapters: ["gone"] });
        try {
            await assert.rejects(smoke({ url: server.url, model: MODEL }, { ids: ids(server.url), pollMs: 10, log: quiet, loraModels: ["good", "gone"] }), (e: unknown) => {
                assert.ok(e instanceof SmokeError);
                assert.equal(e.message, "POST /v1/chat/completions (LoRA adapter gone): HTTP 404. vLLM says: The model `gone` does not exist.");
                return true;
            });
            assert.deepEqual(server.chats().map((c) => c.model).slice(-2), ["good", "gone"]);
        } finally {
            await server.close();
        }
    });

    for (const images of ["reject", "reject-flat"] as const) {
        it(`explains a 400 on the image request (no vision, or images off) with the fix (${images === "reject" ? "vLLM's error body" : "older vLLM's flat error body"})`, async () => {
            const server = await startFeatureVllm({ model: MODEL, images });
            try {
                await assert.rejects(smoke({ url: server.url, model: MODEL }, { ids: ids(server.url), pollMs: 10, log: quiet, imageInput: true }), (e: unknown) => {
                    assert.ok(e instanceof SmokeError);
                    assert.match(e.message, /^POST \/v1\/chat\/completions \(image\): 400 Bad Request \(vLLM says: google\/gemma-3-1b-it is not a multimodal model None\)\. The service does not take images/);
                    assert.match(e.message, /serve a vision model/);
                    assert.match(e.message, /`npx pulumi config set imageInput true && npx pulumi up`/);
                    assert.match(e.message, /without --image \/ SMOKE_IMAGE_INPUT/);
                    return true;
                });
                assert.deepEqual(server.problems, [], "the request itself was well formed");
            } finally {
                await server.close();
            }
        });
    }

    it("finds vLLM's message in either error body", () => {
        assert.equal(errorBodyMessage('{"error":{"message":"m1","type":"BadRequestError","param":null,"code":400}}'), "m1");
        assert.equal(errorBodyMessage('{"object":"error","message":"m2","type":"BadRequestError","param":null,"code":400}'), "m2");
        assert.equal(errorBodyMessage('{"detail":"Not Found"}'), '{"detail":"Not Found"}');
        assert.equal(errorBodyMessage("upstream connect error"), "upstream connect error");
        assert.equal(errorBodyMessage(""), "");
    });
});

describe("smoke test options from the command line and the environment", () => {
    it("--image and SMOKE_IMAGE_INPUT; --lora repeated or comma-separated, plus SMOKE_LORA_MODELS", () => {
        assert.deepEqual(parseSmokeArgs([], {}), { stack: undefined, help: false, imageInput: false, loraModels: [], regionalUrls: {} });
        assert.deepEqual(parseSmokeArgs(["--image", "--lora", "a", "--lora", "b", "--stack", "prod"], {}), { stack: "prod", help: false, imageInput: true, loraModels: ["a", "b"], regionalUrls: {} });
        assert.deepEqual(parseSmokeArgs(["--lora", "a,b", "--lora=c"], {}).loraModels, ["a", "b", "c"]);
        assert.deepEqual(parseSmokeArgs([], { SMOKE_IMAGE_INPUT: "1", SMOKE_LORA_MODELS: "a,b" }), { stack: undefined, help: false, imageInput: true, loraModels: ["a", "b"], regionalUrls: {} });
        assert.deepEqual(parseSmokeArgs(["--lora", "b", "--lora", "c"], { SMOKE_LORA_MODELS: "a,b" }).loraModels, ["a", "b", "c"]);
        assert.equal(parseSmokeArgs([], { SMOKE_IMAGE_INPUT: "true" }).imageInput, true);
        assert.equal(parseSmokeArgs([], { SMOKE_IMAGE_INPUT: "0" }).imageInput, false);
        assert.equal(parseSmokeArgs([], { SMOKE_IMAGE_INPUT: "" }).imageInput, false);
        assert.deepEqual(parseSmokeArgs([], { SMOKE_LORA_MODELS: "" }).loraModels, []);
    });

    it("refuses unknown flags, positionals, empty adapter names and unclear SMOKE_IMAGE_INPUT", () => {
        assert.throws(() => parseSmokeArgs(["--images"], {}), /Unknown option '--images'/);
        assert.throws(() => parseSmokeArgs(["--lora"], {}), /--lora/);
        assert.throws(() => parseSmokeArgs(["--image=yes"], {}), /image/);
        assert.throws(() => parseSmokeArgs(["a"], {}), /Unexpected argument 'a'/);
        assert.throws(() => parseSmokeArgs(["--lora", "a,,b"], {}), /--lora has an empty LoRA adapter name: "a,,b"/);
        assert.throws(() => parseSmokeArgs(["--lora", ""], {}), /--lora has an empty LoRA adapter name/);
        assert.throws(() => parseSmokeArgs([], { SMOKE_LORA_MODELS: "a," }), /SMOKE_LORA_MODELS has an empty LoRA adapter name/);
        assert.throws(() => parseSmokeArgs([], { SMOKE_IMAGE_INPUT: "yes" }), /SMOKE_IMAGE_INPUT must be 1 or 0/);
        assert.deepEqual(parseLoraList(" a , b ", "x"), ["a", "b"]);
    });

    it("documents --image and --lora in the usage", () => {
        assert.match(SMOKE_USAGE, /^usage: npm run smoke \[-- \[--stack NAME\] \[--image\] \[--lora NAME\]\.\.\.\]/);
        assert.match(SMOKE_USAGE, /SMOKE_IMAGE_INPUT=1/);
        assert.match(SMOKE_USAGE, /repeat it for each adapter/);
        assert.match(SMOKE_USAGE, /SMOKE_LORA_MODELS=a,b/);
    });
});

describe("the SmokeTest step's environment", () => {
    it("adds SMOKE_IMAGE_INPUT only when on and SMOKE_LORA_MODELS only when there are adapters", () => {
        assert.deepEqual(smokeFeatureEnv(), {});
        assert.deepEqual(smokeFeatureEnv(false, []), {});
        assert.deepEqual(smokeFeatureEnv(true), { SMOKE_IMAGE_INPUT: "1" });
        assert.deepEqual(smokeFeatureEnv(false, ["a", "b"]), { SMOKE_LORA_MODELS: "a,b" });
        // What the step sets is what the script reads.
        assert.deepEqual(parseSmokeArgs([], smokeFeatureEnv(true, ["a", "b"])), { stack: undefined, help: false, imageInput: true, loraModels: ["a", "b"], regionalUrls: {} });
    });

    it("refuses an adapter name the comma-separated list cannot carry", () => {
        for (const bad of ["", "a,b", " a"]) assert.throws(() => smokeFeatureEnv(false, [bad]), /LoRA adapter name .* must be non-empty, without commas or surrounding spaces/);
    });

    it("passes them to the Command, and nothing new when both are off", async () => {
        const registered: { type: string; name: string; inputs: Record<string, unknown> }[] = [];
        await pulumi.runtime.setMocks(
            {
                newResource: (a) => {
                    registered.push({ type: a.type, name: a.name, inputs: a.inputs as Record<string, unknown> });
                    return { id: `${a.name}-id`, state: a.inputs };
                },
                call: (a) => a.inputs,
            },
            "vllm-cloudrun",
            "dev",
            false,
        );
        const envOf = async (name: string, extra: { imageInput?: boolean; loraModels?: readonly string[]; regionalUrls?: pulumi.Input<Record<string, pulumi.Input<string>>> }) => {
            new SmokeTest(name, { url: "https://svc.a.run.app", servedModelName: MODEL, revision: "rev-1", ...extra });
            // Mocks register asynchronously; wait until the Command is in.
            for (let i = 0; i < 100 && !registered.some((r) => r.type === "command:local:Command" && r.name === name); i++) await new Promise((r) => setTimeout(r, 10));
            const cmd = registered.find((r) => r.type === "command:local:Command" && r.name === name);
            assert.ok(cmd, `${name} registered`);
            assert.equal(cmd.inputs.create, SMOKE_COMMAND);
            return cmd.inputs.environment as Record<string, string>;
        };
        const off = await envOf("off", {});
        assert.deepEqual(Object.keys(off).sort(), ["SERVED_MODEL_NAME", "SERVICE_URL", "SMOKE_SCRIPT", "SMOKE_WAIT_SECONDS", "TS_NODE_TRANSPILE_ONLY", "VLLM_ID_TOKEN_SOURCE"]);
        assert.deepEqual(await envOf("explicit-off", { imageInput: false, loraModels: [] }), off);
        const on = await envOf("on", { imageInput: true, loraModels: ["sql-lora", "chat-lora"] });
        assert.deepEqual(on, { ...off, SMOKE_IMAGE_INPUT: "1", SMOKE_LORA_MODELS: "sql-lora,chat-lora" });

        // Single region: no regionalUrls, no SMOKE_REGIONAL_URLS (the Command's inputs are unchanged).
        assert.equal("SMOKE_REGIONAL_URLS" in off, false);
        assert.deepEqual(smokeRegionalEnv(), {});
        assert.deepEqual(smokeRegionalEnv(undefined), {});
        // Several regions: the URLs as JSON, Outputs resolved, keys sorted; the script reads it back.
        const regional = await envOf("regional", { regionalUrls: pulumi.output({ "us-central1": pulumi.output("https://vllm-uc.a.run.app"), "europe-west4": "https://vllm-ew.a.run.app" }) });
        assert.deepEqual(Object.keys(regional).sort(), [...Object.keys(off), "SMOKE_REGIONAL_URLS"].sort());
        assert.equal(regional.SMOKE_REGIONAL_URLS, '{"europe-west4":"https://vllm-ew.a.run.app","us-central1":"https://vllm-uc.a.run.app"}');
        assert.deepEqual(parseSmokeArgs([], { SMOKE_REGIONAL_URLS: regional.SMOKE_REGIONAL_URLS }).regionalUrls, { "europe-west4": "https://vllm-ew.a.run.app", "us-central1": "https://vllm-uc.a.run.app" });
    });
});

describe("regional checks: --regional-url and SMOKE_REGIONAL_URLS", () => {
    const EW = "https://vllm-cloudrun-dev-abc-ew.a.run.app";
    const UC = "https://vllm-cloudrun-dev-abc-uc.a.run.app";

    it("repeatable REGION=URL flags, plus the JSON environment value (a flag wins for its region)", () => {
        assert.deepEqual(parseSmokeArgs(["--regional-url", `europe-west4=${EW}`, "--regional-url", `us-central1=${UC}`], {}).regionalUrls, { "europe-west4": EW, "us-central1": UC });
        assert.deepEqual(parseSmokeArgs([`--regional-url=europe-west4=${EW}`], {}).regionalUrls, { "europe-west4": EW });
        assert.deepEqual(parseSmokeArgs([], { SMOKE_REGIONAL_URLS: JSON.stringify({ "europe-west4": EW, "us-central1": UC }) }).regionalUrls, { "europe-west4": EW, "us-central1": UC });
        assert.deepEqual(parseSmokeArgs(["--regional-url", `us-central1=${EW}`], { SMOKE_REGIONAL_URLS: JSON.stringify({ "us-central1": UC }) }).regionalUrls, { "us-central1": EW });
        assert.deepEqual(parseSmokeArgs([], { SMOKE_REGIONAL_URLS: "" }).regionalUrls, {});
        assert.deepEqual(parseSmokeArgs([], { SMOKE_REGIONAL_URLS: "{}" }).regionalUrls, {});
        assert.deepEqual(parseRegionalUrl(`northamerica-northeast1=${UC}/`), ["northamerica-northeast1", `${UC}/`]);
    });

    it("refuses what is not REGION=URL, a region given twice, and SMOKE_REGIONAL_URLS that is not an object of strings", () => {
        assert.throws(() => parseSmokeArgs(["--regional-url", EW], {}), /--regional-url takes REGION=URL/);
        assert.throws(() => parseSmokeArgs(["--regional-url", "us-central1="], {}), /--regional-url takes REGION=URL/);
        assert.throws(() => parseSmokeArgs(["--regional-url", `US Central=${UC}`], {}), /--regional-url: "US Central" is not a region name/);
        assert.throws(() => parseSmokeArgs(["--regional-url", "us-central1=vllm.a.run.app"], {}), /--regional-url: the URL of us-central1: Not an absolute URL/);
        assert.throws(() => parseSmokeArgs(["--regional-url", `us-central1=${UC}`, "--regional-url", `us-central1=${EW}`], {}), /--regional-url gives us-central1 twice/);
        assert.throws(() => parseSmokeArgs(["--regional-url"], {}), /--regional-url/);
        assert.throws(() => parseRegionalUrlsEnv("us-central1=x"), /SMOKE_REGIONAL_URLS must be a JSON object of region to URL/);
        assert.throws(() => parseRegionalUrlsEnv(`["${UC}"]`), /SMOKE_REGIONAL_URLS must be a JSON object/);
        assert.throws(() => parseRegionalUrlsEnv('{"us-central1": 1}'), /SMOKE_REGIONAL_URLS must be a JSON object of region to URL \(strings\)/);
        assert.throws(() => parseRegionalUrlsEnv('{"us-central1": "ftp://x"}'), /SMOKE_REGIONAL_URLS: the URL of us-central1: Not an http\(s\) URL/);
    });

    it("documents --regional-url and SMOKE_REGIONAL_URLS in the usage, keeping its first line", () => {
        assert.match(SMOKE_USAGE, /^usage: npm run smoke \[-- \[--stack NAME\] \[--image\] \[--lora NAME\]\.\.\.\]/);
        assert.match(SMOKE_USAGE, /--regional-url REGION=URL\n +also check that REGION's run\.app URL, behind a multi-region front door, refuses a direct request/);
        assert.match(SMOKE_USAGE, /SMOKE_REGIONAL_URLS='\{"REGION":"URL"\}'/);
    });
});

describe("a region's verdict on a direct request", () => {
    const URL_ = "https://vllm-uc.a.run.app";
    it("refused: Cloud Run's 404 page, or 403", () => {
        const r = regionalVerdict("us-central1", URL_, 404, cloudRunPage(404), "text/html; charset=UTF-8");
        assert.deepEqual(r, { region: "us-central1", url: URL_, status: 404, verdict: "refused", ok: true, detail: "us-central1: refused by ingress (404: Error: Page not found. The requested URL was not found on this server.)" });
        assert.equal(regionalVerdict("us-central1", URL_, 403, cloudRunPage(403, "/health")).verdict, "refused");
        assert.equal(regionalVerdict("us-central1", URL_, 404, "").ok, true);
    });

    it("open: 200 says ingress is open and Cloud Armor can be bypassed", () => {
        const r = regionalVerdict("us-central1", `${URL_}/`, 200, "");
        assert.equal(r.verdict, "open");
        assert.equal(r.ok, false);
        assert.match(r.detail, /^us-central1: GET https:\/\/vllm-uc\.a\.run\.app\/health answered 200 directly: ingress is open, so the front door's Cloud Armor \(its credential rule and per-IP rate limit\) can be bypassed\./);
        assert.match(r.detail, /INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER/);
        assert.match(r.detail, /`npx pulumi refresh` then `npx pulumi up`/);
    });

    it("open: vLLM's JSON 404 (the container answered) and a 401 (Cloud Run checked the token)", () => {
        const json = regionalVerdict("us-central1", URL_, 404, '{"detail":"Not Found"}', "application/json");
        assert.equal(json.verdict, "open");
        assert.match(json.detail, /answered 404 with JSON \(\{"detail":"Not Found"\}\), as vLLM does.*reached the container, so ingress is open/);
        assert.equal(regionalVerdict("us-central1", URL_, 404, '{"detail":"Not Found"}').verdict, "open", "JSON even without its content type");
        const unauth = regionalVerdict("us-central1", URL_, 401, "<html><h1>Error: Unauthorized</h1></html>");
        assert.equal(unauth.verdict, "open");
        assert.match(unauth.detail, /answered 401: Cloud Run checked the identity token instead of refusing the request at ingress/);
    });

    it("unexpected: anything else fails, saying what was expected", () => {
        const r = regionalVerdict("us-central1", URL_, 503, cloudRunPage(503));
        assert.deepEqual([r.verdict, r.ok], ["unexpected", false]);
        assert.match(r.detail, /answered HTTP 503 \(Error: Server Error\. The service you requested is not available yet\. Please try again in 30 seconds\.\), not the refusal expected of ingress "internal and Cloud Load Balancing" \(404 Page not found, or 403\)/);
    });

    it("unreachable: no answer fails too, and says it proves nothing", async () => {
        const gone = await startFakeVllm();
        const url = gone.url;
        await gone.close();
        const r = await checkRegion("us-central1", url, fetch, 2000);
        assert.deepEqual([r.verdict, r.ok, r.status], ["unreachable", false, undefined]);
        assert.match(r.detail, /got no answer \(fetch failed: connect ECONNREFUSED/);
        assert.match(r.detail, /proves nothing either way/);
    });
});

describe("explainStatus through a multi-region front door (Cloud Armor)", () => {
    it("403: the credentials header the access mode needs, then the invoker", () => {
        const iam = explainStatus(403, "GET /health", { frontDoor: true });
        assert.match(iam, /^GET \/health: 403 Forbidden\. Cloud Armor at the load balancer refuses requests without credentials: with IAM only \(access mode iam\) every request needs `Authorization: Bearer <Google identity token>` \(or X-Serverless-Authorization\)\./);
        assert.match(iam, /not an invoker of the services: add it with `npx pulumi config set --path 'invokers\[0\]'/);
        const keyed = explainStatus(403, "GET /health", { frontDoor: true, apiKey: true });
        assert.match(keyed, /with an API key \(access mode iam\+key or public\+key\) every request needs `Authorization: Bearer <API key>`, a key of at least 16 printable characters/);
    });

    it("429: the per-IP rate limit, rateLimitPerMinute", () => {
        const m = explainStatus(429, "POST /v1/chat/completions", { frontDoor: true });
        assert.match(m, /^POST \/v1\/chat\/completions: 429 Too Many Requests\. Cloud Armor's per-IP rate limit at the load balancer: more than rateLimitPerMinute requests \(default 600\) came from your IP address within a minute\./);
        assert.match(m, /`npx pulumi config set rateLimitPerMinute 1200 && npx pulumi up` \(0 turns it off\)/);
    });

    it("503: no region ready, after the load balancer's retry", () => {
        assert.match(explainStatus(503, "GET /health", { frontDoor: true }), /No region had an instance ready, even after the load balancer's one retry, which normally goes to the same, nearest region/);
    });

    it("without a front door the explanations are as before", () => {
        assert.equal(explainStatus(403, "GET /health"), explainStatus(403, "GET /health", { frontDoor: false, apiKey: true }));
        assert.match(explainStatus(403, "GET /health"), /^GET \/health: 403 Forbidden\. Your account is not an invoker of the service: add it with/);
        assert.match(explainStatus(429, "GET /v1/models"), /Every instance \(maxInstances\) is busy/);
        assert.doesNotMatch(explainStatus(429, "GET /v1/models"), /Cloud Armor/);
    });
});

describe("npm run smoke through a multi-region front door (local stand-ins)", () => {
    const KEY = "sk-test-0123456789abcdef-KEY";
    const A = "europe-west4";
    const B = "us-central1";
    let vllmA: FakeVllm;
    let vllmB: FakeVllm;
    let keyedA: FakeVllm;
    const open: MultiRegion[] = [];
    before(async () => {
        vllmA = await startFakeVllm({ requireIdToken: false, outputTokens: 8 });
        vllmB = await startFakeVllm({ requireIdToken: false, outputTokens: 8 });
        keyedA = await startFakeVllm({ requireIdToken: false, apiKey: KEY, outputTokens: 8 });
    });
    after(async () => {
        await Promise.all(open.map((m) => m.close()));
        await Promise.all([vllmA.close(), vllmB.close(), keyedA.close()]);
    });
    const deploy = async (...args: Parameters<typeof startMultiRegion>) => {
        const m = await startMultiRegion(...args);
        open.push(m);
        return m;
    };
    const urlsOf = (m: MultiRegion) => Object.fromEntries(m.regions.map((r) => [r.region, r.url]));

    it("passes when every region refuses a direct request; each region's token is for its own run.app URL", async () => {
        const m = await deploy([{ region: A, vllm: vllmA.url }, { region: B, vllm: vllmB.url }], { armor: { accessMode: "iam", rateLimitPerMinute: 300 } });
        const audiences: string[] = [];
        const lines: string[] = [];
        const r = await smoke({ url: m.front.url, model: MODEL }, {
            ids: ids(m.front.url),
            idsFor: (aud) => {
                audiences.push(aud);
                return ids(aud);
            },
            pollMs: 10,
            log: (l) => lines.push(l),
            regionalUrls: { [A]: `${m.region(A).url}/`, [B]: m.region(B).url },
        });
        assert.deepEqual(r.regions?.map((c) => [c.region, c.verdict, c.status, c.ok]), [[A, "refused", 404, true], [B, "refused", 404, true]]);
        assert.deepEqual(audiences, [m.region(A).url, m.region(B).url]);
        assert.ok(lines.includes(`region ${A}: refused by ingress (404: Error: Page not found. The requested URL was not found on this server.)`), lines.join("\n"));
        assert.equal(checkedExtras(r), ` (also checked: direct requests refused in ${A}, ${B})`);
        // The endpoint checks went through the front door (nearest region), the regional ones did not.
        assert.ok(m.front.requests.every((q) => q.status === 200 && q.tried[0] === A), JSON.stringify(m.front.requests));
        const direct = m.regions.flatMap((reg) => reg.requests.filter((q) => !q.viaLb).map((q) => [reg.region, q.path, q.status]));
        assert.deepEqual(direct, [[A, "/health", 404], [B, "/health", 404]]);
    });

    it("fails when a region answers directly: ingress is open, Cloud Armor can be bypassed (other regions still listed)", async () => {
        const m = await deploy([{ region: A, vllm: vllmA.url }, { region: B, vllm: vllmB.url, ingress: "all" }]);
        const lines: string[] = [];
        await assert.rejects(smoke({ url: m.front.url, model: MODEL }, { ids: ids(m.front.url), idsFor: ids, pollMs: 10, log: (l) => lines.push(l), regionalUrls: urlsOf(m) }), (e: unknown) => {
            assert.ok(e instanceof SmokeError);
            assert.match(e.message, /^1 of 2 regional URLs did not refuse a direct request:\n {2}us-central1: GET http:\/\/127\.0\.0\.1:\d+\/health answered 200 directly: ingress is open, so the front door's Cloud Armor \(its credential rule and per-IP rate limit\) can be bypassed\./);
            assert.doesNotMatch(e.message, /europe-west4/);
            return true;
        });
        assert.ok(lines.some((l) => l.startsWith(`region ${A}: refused by ingress (404`)), lines.join("\n"));
        assert.ok(lines.some((l) => l.startsWith(`region ${B}: GET `) && l.includes("answered 200 directly")), lines.join("\n"));
    });

    it("with an API key, through Cloud Armor's key rule: the key goes on /health too", async () => {
        const m = await deploy([{ region: A, vllm: keyedA.url }, { region: B, vllm: vllmB.url }], { armor: { accessMode: "iam+key" } });
        const r = await smoke({ url: m.front.url, model: MODEL, apiKey: KEY }, { ids: ids(m.front.url), idsFor: ids, pollMs: 10, log: quiet, regionalUrls: urlsOf(m) });
        assert.equal(r.regions?.every((c) => c.ok), true);
        assert.ok(m.front.requests.every((q) => q.status === 200), JSON.stringify(m.front.requests));
        const health = m.region(A).requests.find((q) => q.viaLb && q.path === "/health");
        assert.equal(health?.authorization, `Bearer ${KEY}`);
        assert.equal(health?.idHeader, "x-serverless-authorization");
        assert.equal(health?.audience, m.front.url);
    });

    it("a key Cloud Armor's rule refuses (403 at /health) is explained as Cloud Armor's, at once", async () => {
        const m = await deploy([{ region: A, vllm: keyedA.url }, { region: B, vllm: vllmB.url }], { armor: { accessMode: "iam+key" } });
        await assert.rejects(smoke({ url: m.front.url, model: MODEL, apiKey: "short" }, { ids: ids(m.front.url), idsFor: ids, pollMs: 10, log: quiet, regionalUrls: urlsOf(m) }), (e: unknown) => {
            assert.ok(e instanceof SmokeError);
            assert.match(e.message, /^GET \/health: 403 Forbidden\. Cloud Armor at the load balancer refuses requests without credentials: with an API key/);
            return true;
        });
        assert.deepEqual(m.front.requests.map((q) => [q.path, q.status, q.tried]), [["/health", 403, []]]);
    });

    it("Cloud Armor's per-IP rate limit (429) is explained with rateLimitPerMinute", async () => {
        const m = await deploy([{ region: A, vllm: vllmA.url }, { region: B, vllm: vllmB.url }], { armor: { accessMode: "iam", rateLimitPerMinute: 2 } });
        await assert.rejects(smoke({ url: m.front.url, model: MODEL }, { ids: ids(m.front.url), idsFor: ids, pollMs: 10, log: quiet, regionalUrls: urlsOf(m) }), (e: unknown) => {
            assert.ok(e instanceof SmokeError);
            assert.match(e.message, /^POST \/v1\/chat\/completions: 429 Too Many Requests\. Cloud Armor's per-IP rate limit at the load balancer/);
            return true;
        });
        assert.deepEqual(m.front.requests.map((q) => [q.path, q.status]), [["/health", 200], ["/v1/models", 200], ["/v1/chat/completions", 429]]);
    });

    it("refuses, before any request, a regional URL that is the service URL itself", async () => {
        const m = await deploy([{ region: A, vllm: vllmA.url }, { region: B, vllm: vllmB.url }]);
        await assert.rejects(smoke({ url: m.front.url, model: MODEL }, { ids: ids(m.front.url), pollMs: 10, log: quiet, regionalUrls: { [A]: `${m.front.url}/` } }), /The regional URL of europe-west4 is the service URL itself/);
        assert.equal(m.front.requests.length, 0);
    });
});

/** `npm run smoke -- …` (or SMOKE_COMMAND, as the SmokeTest step runs it) from the project directory, with gcloud's tokens from the fake gcloud. */
function runSmoke(how: { npmArgs: string[] } | { stepEnv: Record<string, string> }, env: Record<string, string>, pulumiState?: FakePulumiState): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const root = path.resolve(__dirname, "..");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "smoke-cli-"));
    const bin = path.join(dir, "bin");
    fs.mkdirSync(path.join(dir, "home"));
    installFakeGcloud(bin);
    if (pulumiState !== undefined) {
        // The fake Pulumi CLI where the project's `npx --no-install pulumi` finds it (see fake-cli.ts).
        installFakePulumi(path.join(dir, "pulumi-home"));
        fs.writeFileSync(path.join(dir, "state.json"), JSON.stringify(pulumiState));
        Object.assign(env, { PULUMI_HOME: path.join(dir, "pulumi-home"), FAKE_PULUMI_STATE: path.join(dir, "state.json"), FAKE_PULUMI_LOG: path.join(dir, "pulumi.log") });
    }
    const base: NodeJS.ProcessEnv = {};
    // Nothing from the developer's own setup leaks in (as in test/cli.test.ts).
    for (const [k, v] of Object.entries(process.env)) {
        if (!/^(npm_|GOOGLE_|GCE_|CLOUDSDK_|PULUMI_|VLLM_|TS_NODE_|SERVICE_URL$|SERVED_MODEL_NAME$|SMOKE_|METADATA_SERVER_DETECTION$|NODE_OPTIONS$|NODE_TEST_CONTEXT$)/.test(k)) base[k] = v;
    }
    const full: NodeJS.ProcessEnv = {
        ...base,
        HOME: path.join(dir, "home"),
        PATH: `${bin}${path.delimiter}${process.env.PATH ?? ""}`,
        TS_NODE_TRANSPILE_ONLY: "true",
        npm_config_update_notifier: "false",
        METADATA_SERVER_DETECTION: "none",
        VLLM_ID_TOKEN_SOURCE: "gcloud",
        FAKE_GCLOUD_ACCOUNT: "you@example.com",
        ...env,
        ...("stepEnv" in how ? how.stepEnv : {}),
    };
    return new Promise((resolve, reject) => {
        const child = "npmArgs" in how
            ? spawn("npm", how.npmArgs, { cwd: root, env: full, stdio: ["ignore", "pipe", "pipe"], detached: true })
            : spawn("sh", ["-c", SMOKE_COMMAND], { cwd: root, env: full, stdio: ["ignore", "pipe", "pipe"], detached: true });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
        child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
        const timer = setTimeout(() => {
            if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
        }, 90_000);
        child.on("error", reject);
        child.on("close", (code) => {
            clearTimeout(timer);
            fs.rmSync(dir, { recursive: true, force: true });
            resolve({ code, stdout, stderr });
        });
    });
}

describe("npm run smoke -- --regional-url REGION=URL, as typed", () => {
    const A = "europe-west4";
    const B = "us-central1";
    let vllm: FakeVllm;
    const open: MultiRegion[] = [];
    before(async () => {
        vllm = await startFakeVllm({ requireIdToken: false, outputTokens: 8 });
    });
    after(async () => {
        await Promise.all(open.map((m) => m.close()));
        await vllm.close();
    });

    it("`npm run smoke -- --regional-url europe-west4=URL --regional-url us-central1=URL` checks the endpoint, then each region", async () => {
        const m = await startMultiRegion([{ region: A, vllm: vllm.url }, { region: B, vllm: vllm.url }], { armor: { accessMode: "iam" } });
        open.push(m);
        const r = await runSmoke({ npmArgs: ["run", "smoke", "--", "--regional-url", `${A}=${m.region(A).url}`, "--regional-url", `${B}=${m.region(B).url}/`] }, {
            SERVICE_URL: m.front.url,
            SERVED_MODEL_NAME: MODEL,
            SMOKE_WAIT_SECONDS: "30",
            FAKE_GCLOUD_AUDIENCE: m.front.url,
        });
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /^region europe-west4: refused by ingress \(404: Error: Page not found\. The requested URL was not found on this server\.\)$/m);
        assert.match(r.stdout, /^region us-central1: refused by ingress \(404/m);
        assert.match(r.stdout, /^smoke test passed \(also checked: direct requests refused in europe-west4, us-central1\)$/m);
        const direct = m.regions.flatMap((reg) => reg.requests.filter((q) => !q.viaLb).map((q) => [reg.region, q.path, q.status]));
        assert.deepEqual(direct, [[A, "/health", 404], [B, "/health", 404]]);
    });

    it("`npm run smoke` on a deployed multi-region stack checks the regions its outputs list, through serviceUrl", async () => {
        const m = await startMultiRegion([{ region: A, vllm: vllm.url }, { region: B, vllm: vllm.url }], { armor: { accessMode: "iam" } });
        open.push(m);
        const outputs = { serviceUrl: m.front.url, servedModelName: MODEL, accessMode: "iam", regions: [A, B], regionalServiceUrls: { [A]: m.region(A).url, [B]: m.region(B).url } };
        const r = await runSmoke({ npmArgs: ["run", "smoke"] }, { SMOKE_WAIT_SECONDS: "30", FAKE_GCLOUD_AUDIENCE: m.front.url }, { selected: "dev", stacks: { dev: { outputs } } });
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /^smoke test passed \(also checked: direct requests refused in europe-west4, us-central1\)$/m);
        assert.ok(m.front.requests.length >= 4 && m.front.requests.every((q) => q.status === 200), JSON.stringify(m.front.requests));
    });

    it("`npm run smoke` on a single-region stack checks no region (its one regional URL is serviceUrl)", async () => {
        const outputs = { serviceUrl: vllm.url, servedModelName: MODEL, accessMode: "iam", regions: [A], regionalServiceUrls: { [A]: vllm.url } };
        const r = await runSmoke({ npmArgs: ["run", "smoke"] }, { SMOKE_WAIT_SECONDS: "30", FAKE_GCLOUD_AUDIENCE: vllm.url }, { selected: "dev", stacks: { dev: { outputs } } });
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /^smoke test passed$/m);
        assert.doesNotMatch(r.stdout, /^region /m);
    });

    it("as the SmokeTest step runs it (SMOKE_REGIONAL_URLS): a region whose ingress is open fails the step", async () => {
        const m = await startMultiRegion([{ region: A, vllm: vllm.url }, { region: B, vllm: vllm.url, ingress: "all" }]);
        open.push(m);
        const r = await runSmoke({ stepEnv: { SMOKE_SCRIPT: "client/smoke.ts" } }, {
            SERVICE_URL: m.front.url,
            SERVED_MODEL_NAME: MODEL,
            SMOKE_WAIT_SECONDS: "30",
            SMOKE_REGIONAL_URLS: JSON.stringify({ [A]: m.region(A).url, [B]: m.region(B).url }),
            FAKE_GCLOUD_AUDIENCE: m.front.url,
        });
        assert.equal(r.code, 1, r.stdout);
        assert.match(r.stderr, /smoke test failed: 1 of 2 regional URLs did not refuse a direct request:\n {2}us-central1: GET http:\/\/127\.0\.0\.1:\d+\/health answered 200 directly: ingress is open, so the front door's Cloud Armor \(its credential rule and per-IP rate limit\) can be bypassed/);
    });

    it("a malformed --regional-url stops with the usage (exit 2), before any request", async () => {
        const r = await runSmoke({ npmArgs: ["run", "smoke", "--", "--regional-url", "https://vllm.a.run.app"] }, { SERVICE_URL: "http://127.0.0.1:9", SERVED_MODEL_NAME: MODEL });
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, /--regional-url takes REGION=URL/);
        assert.match(r.stderr, /usage: npm run smoke/);
    });
});

describe("waiting for a new front door", () => {
    it("says a TLS failure may be the managed certificate still provisioning, only behind a front door", async () => {
        const tlsFails = (() => Promise.reject(new TypeError("fetch failed", { cause: new Error("SSL routines::tlsv1 alert internal error") }))) as unknown as typeof fetch;
        const conn = { url: "https://203.0.113.10.nip.io", model: "m" };
        await assert.rejects(waitForHealth(conn, tlsFails, 0, 1, () => undefined, { frontDoor: true }), (e: Error) => e.message.includes(CERTIFICATE_HINT) && /network error/.test(e.message));
        await assert.rejects(waitForHealth(conn, tlsFails, 0, 1, () => undefined, {}), (e: Error) => !e.message.includes("managed certificate"));
        await assert.rejects(waitForHealth(conn, tlsFails, 0, 1, () => undefined, { frontDoor: true, dnsRecord: "llm.example.com. 300 IN A 203.0.113.10" }), (e: Error) => e.message.endsWith("; the record: llm.example.com. 300 IN A 203.0.113.10"));
    });
    it("gives the smoke test an hour to wait behind a front door, and Pulumi 15 minutes more", () => {
        assert.equal(smokeTimeoutMinutes(), 30, "the default wait keeps today's 30 minutes");
        assert.equal(smokeTimeoutMinutes(3600), 75);
    });
});
