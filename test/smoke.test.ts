import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as zlib from "zlib";
import * as pulumi from "@pulumi/pulumi";
import { checkedExtras, errorBodyMessage, explainStatus, parseLoraList, parseSmokeArgs, pngDataUrl, smoke, SMOKE_IMAGE, SMOKE_USAGE, SmokeError } from "../client/smoke";
import { CredentialError, IdTokenSource } from "../client";
import { SMOKE_COMMAND, smokeFeatureEnv, SmokeTest } from "../components/smoke-test";
import { fakeIdToken, startFakeVllm } from "./fixtures/fake-vllm";
import { DATA_URL_PREFIX, IMAGE_ANSWER, PNG_SIGNATURE, startFeatureVllm } from "./fixtures/fake-vllm-features";

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
        assert.deepEqual(parseSmokeArgs([], {}), { stack: undefined, help: false, imageInput: false, loraModels: [] });
        assert.deepEqual(parseSmokeArgs(["--image", "--lora", "a", "--lora", "b", "--stack", "prod"], {}), { stack: "prod", help: false, imageInput: true, loraModels: ["a", "b"] });
        assert.deepEqual(parseSmokeArgs(["--lora", "a,b", "--lora=c"], {}).loraModels, ["a", "b", "c"]);
        assert.deepEqual(parseSmokeArgs([], { SMOKE_IMAGE_INPUT: "1", SMOKE_LORA_MODELS: "a,b" }), { stack: undefined, help: false, imageInput: true, loraModels: ["a", "b"] });
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
        assert.deepEqual(parseSmokeArgs([], smokeFeatureEnv(true, ["a", "b"])), { stack: undefined, help: false, imageInput: true, loraModels: ["a", "b"] });
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
        const envOf = async (name: string, extra: { imageInput?: boolean; loraModels?: readonly string[] }) => {
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
    });
});
