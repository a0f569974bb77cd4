// The command-line tools run as a user runs them: `npm run chat -- …`, `npm run smoke`,
// `npm run bench -- …` from the project directory, with a fake Pulumi CLI where the project's
// `npx --no-install pulumi` finds it (see fake-cli.ts), identity tokens from a fake gcloud
// (VLLM_ID_TOKEN_SOURCE=gcloud) or from google-auth-library with no credentials at all, and the
// fake vLLM server standing in for Cloud Run.
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { parseChatArgs } from "../client/chat";
import { parseBenchArgs } from "../client/bench";
import { installFakeGcloud, installFakePulumi } from "./fixtures/fake-cli";
import type { FakePulumiState } from "./fixtures/fake-pulumi";
import { FakeVllm, startFakeVllm } from "./fixtures/fake-vllm";
import { FeatureVllm, IMAGE_ANSWER, startFeatureVllm } from "./fixtures/fake-vllm-features";
import { SMOKE_COMMAND, smokeFeatureEnv } from "../components/smoke-test";

const ROOT = path.resolve(__dirname, "..");
const MODEL = "google/gemma-3-1b-it";
const KEY = "sk-test-0123456789abcdef-KEY";
/** "At once", with room for a loaded machine: without the fix the smoke test waits out its 900 s window. */
const FAST_MS = 60_000;

interface Run {
    code: number | null;
    stdout: string;
    stderr: string;
    ms: number;
}

interface Sandbox {
    env: NodeJS.ProcessEnv;
    dir: string;
    pulumiCalls(): string[][];
    gcloudCalls(): string[][];
    cleanup(): void;
}

/**
 * A user's environment: an empty HOME (no Application Default Credentials), the fake Pulumi CLI
 * with `state`, and a fake gcloud first on PATH (logged in unless told otherwise).
 */
function sandbox(state: FakePulumiState, opts: { tokens?: "gcloud" | "google-auth-library"; gcloudAccount?: string; audience?: string; env?: NodeJS.ProcessEnv } = {}): Sandbox {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cli-test-"));
    const home = path.join(dir, "home");
    const bin = path.join(dir, "bin");
    fs.mkdirSync(home);
    installFakePulumi(path.join(dir, "pulumi-home"));
    installFakeGcloud(bin);
    fs.writeFileSync(path.join(dir, "state.json"), JSON.stringify(state));
    const env: NodeJS.ProcessEnv = {};
    // Nothing from the developer's own setup leaks in: credentials, Pulumi, npm and tool settings.
    for (const [k, v] of Object.entries(process.env)) {
        if (!/^(npm_|GOOGLE_|GCE_|CLOUDSDK_|PULUMI_|VLLM_|TS_NODE_|SERVICE_URL$|SERVED_MODEL_NAME$|SMOKE_|METADATA_SERVER_DETECTION$|NODE_OPTIONS$|NODE_TEST_CONTEXT$)/.test(k)) env[k] = v;
    }
    Object.assign(env, {
        HOME: home,
        PATH: `${bin}${path.delimiter}${process.env.PATH ?? ""}`,
        PULUMI_HOME: path.join(dir, "pulumi-home"),
        FAKE_PULUMI_STATE: path.join(dir, "state.json"),
        FAKE_PULUMI_LOG: path.join(dir, "pulumi.log"),
        FAKE_GCLOUD_LOG: path.join(dir, "gcloud.log"),
        FAKE_GCLOUD_AUDIENCE: opts.audience ?? "",
        // As the project's own SmokeTest step runs client/smoke.ts: type errors are `npm run build`'s
        // job, and type-checking on every start would add seconds to each run.
        TS_NODE_TRANSPILE_ONLY: "true",
        npm_config_update_notifier: "false",
        // google-auth-library looks for a metadata server when there are no credentials; off Google
        // Cloud that probe only adds a network-dependent delay.
        METADATA_SERVER_DETECTION: "none",
        ...(opts.gcloudAccount === undefined ? {} : { FAKE_GCLOUD_ACCOUNT: opts.gcloudAccount }),
        ...((opts.tokens ?? "gcloud") === "gcloud" ? { VLLM_ID_TOKEN_SOURCE: "gcloud" } : {}),
        ...opts.env,
    });
    const calls = (file: string) => () => {
        const p = path.join(dir, file);
        return fs.existsSync(p) ? fs.readFileSync(p, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as string[]) : [];
    };
    return { env, dir, pulumiCalls: calls("pulumi.log"), gcloudCalls: calls("gcloud.log"), cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** `npm <args>` in the project directory, as typed; killed (its whole process group) after timeoutMs. */
function npm(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 90_000): Promise<Run> {
    const started = Date.now();
    return new Promise((resolve, reject) => {
        const child = spawn("npm", args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
        child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
        const timer = setTimeout(() => {
            if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
        }, timeoutMs);
        child.on("error", reject);
        child.on("close", (code) => {
            clearTimeout(timer);
            resolve({ code, stdout, stderr, ms: Date.now() - started });
        });
    });
}

/** The stack outputs of a deployed stack serving MODEL at `url`. */
const deployed = (url: string, accessMode = "iam") => ({ serviceUrl: url, servedModelName: MODEL, accessMode, costEstimate: { perInstanceHour: 0.71 } });

/** A pass-through to `target` that keeps the JSON bodies it forwards (the fake server does not). */
async function recordingProxy(target: string): Promise<{ url: string; bodies: unknown[]; close(): Promise<void> }> {
    const bodies: unknown[] = [];
    const server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
            const body = Buffer.concat(chunks);
            if (body.length > 0) bodies.push(JSON.parse(body.toString()));
            const upstream = http.request(`${target}${req.url ?? "/"}`, { method: req.method, headers: req.headers }, (up) => {
                res.writeHead(up.statusCode ?? 502, up.headers);
                up.pipe(res);
            });
            upstream.end(body);
        });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return {
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        bodies,
        close: () => new Promise((resolve) => {
            server.closeAllConnections();
            server.close(() => resolve());
        }),
    };
}

const STACK_OUTPUT = (stack?: string) => ["stack", "output", "--json", ...(stack ? ["--stack", stack] : []), "--non-interactive"];

describe("npm run chat", () => {
    let server: FakeVllm;
    let keyed: FakeVllm;
    before(async () => {
        server = await startFakeVllm({ outputTokens: 5 });
        keyed = await startFakeVllm({ apiKey: KEY, outputTokens: 3 });
    });
    after(async () => {
        await server.close();
        await keyed.close();
    });

    it("sends an unquoted prompt whole and prints the model's reply", async () => {
        const proxy = await recordingProxy(server.url);
        const box = sandbox({ selected: "dev", stacks: { dev: { outputs: deployed(proxy.url) } } }, { gcloudAccount: "you@example.com", audience: server.url });
        try {
            const r = await npm(["run", "chat", "--", "Write", "a", "haiku", "about", "GPUs"], box.env);
            assert.equal(r.code, 0, r.stderr);
            assert.match(r.stdout, /^t0 t1 t2 t3 t4 $/m);
            assert.deepEqual((proxy.bodies[0] as { messages: unknown }).messages, [{ role: "user", content: "Write a haiku about GPUs" }]);
            assert.deepEqual(box.pulumiCalls(), [STACK_OUTPUT()]);
        } finally {
            box.cleanup();
            await proxy.close();
        }
    });

    it("takes the README's quoted prompt", async () => {
        const proxy = await recordingProxy(server.url);
        const box = sandbox({ selected: "dev", stacks: { dev: { outputs: deployed(proxy.url) } } }, { gcloudAccount: "you@example.com", audience: server.url });
        try {
            const r = await npm(["run", "chat", "--", "Write a haiku about GPUs"], box.env);
            assert.equal(r.code, 0, r.stderr);
            assert.match(r.stdout, /^t0 t1 t2 t3 t4 $/m);
            assert.equal((proxy.bodies[0] as { messages: { content: string }[] }).messages[0].content, "Write a haiku about GPUs");
        } finally {
            box.cleanup();
            await proxy.close();
        }
    });

    it("uses --stack, and the stack's API key from `pulumi config get apiKey`", async () => {
        const box = sandbox({ stacks: { prod: { outputs: deployed(keyed.url, "iam+key"), config: { apiKey: KEY } } } }, { gcloudAccount: "you@example.com", audience: keyed.url });
        try {
            const r = await npm(["run", "chat", "--", "--stack", "prod", "Hi"], box.env);
            assert.equal(r.code, 0, r.stderr);
            assert.match(r.stdout, /^t0 t1 t2 $/m);
            assert.deepEqual(box.pulumiCalls(), [STACK_OUTPUT("prod"), ["config", "get", "apiKey", "--stack", "prod", "--non-interactive"]]);
            assert.equal(keyed.seen.at(-1)?.authorization, `Bearer ${KEY}`);
        } finally {
            box.cleanup();
        }
    });

    it("prints the usage and fails without a prompt or with an unknown flag, before asking Pulumi", async () => {
        const box = sandbox({ selected: "dev", stacks: { dev: { outputs: deployed(server.url) } } }, { gcloudAccount: "you@example.com", audience: server.url });
        try {
            for (const args of [[], ["--stack", "prod"], ["--bogus", "Hi"]]) {
                const r = await npm(["run", "chat", "--", ...args], box.env);
                assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
                assert.match(r.stderr, /usage: npm run chat -- \[--stack NAME\] "your prompt"/);
            }
            assert.deepEqual(box.pulumiCalls(), []);
        } finally {
            box.cleanup();
        }
    });

    it("stops at once without gcloud credentials, with the cause and `gcloud auth login`", async () => {
        const box = sandbox({ selected: "dev", stacks: { dev: { outputs: deployed(server.url) } } }, { audience: server.url });
        const before = server.seen.length;
        try {
            const r = await npm(["run", "chat", "--", "Hi"], box.env);
            assert.equal(r.code, 1);
            assert.match(r.stderr, /You do not currently have an active account selected/);
            assert.match(r.stderr, /Run `gcloud auth login`/);
            assert.doesNotMatch(r.stderr, /Connection error/);
            assert.equal(box.gcloudCalls().length, 1, "no retries");
            assert.equal(server.seen.length, before, "nothing sent");
            assert.ok(r.ms < FAST_MS, `${r.ms} ms`);
        } finally {
            box.cleanup();
        }
    });

    it("stops at once without Application Default Credentials, with `gcloud auth application-default login`", async () => {
        const box = sandbox({ selected: "dev", stacks: { dev: { outputs: deployed(server.url) } } }, { tokens: "google-auth-library" });
        try {
            const r = await npm(["run", "chat", "--", "Hi"], box.env);
            assert.equal(r.code, 1);
            assert.match(r.stderr, /Could not load the default credentials/);
            assert.match(r.stderr, /Run `gcloud auth application-default login`/);
            assert.doesNotMatch(r.stderr, /Connection error/);
            assert.ok(r.ms < FAST_MS, `${r.ms} ms`);
        } finally {
            box.cleanup();
        }
    });

    it("says a stack without outputs is not deployed yet: `npx pulumi up`", async () => {
        const box = sandbox({ selected: "dev", stacks: { dev: { outputs: {} } } }, { gcloudAccount: "you@example.com" });
        try {
            const r = await npm(["run", "chat", "--", "Hi"], box.env);
            assert.equal(r.code, 1);
            assert.match(r.stderr, /not deployed yet\. Run `npx pulumi up` first/);
        } finally {
            box.cleanup();
        }
    });

    it("shows Pulumi's error and the fix when no stack is selected", async () => {
        const box = sandbox({ stacks: { dev: { outputs: deployed(server.url) } } }, { gcloudAccount: "you@example.com" });
        try {
            const r = await npm(["run", "chat", "--", "Hi"], box.env);
            assert.equal(r.code, 1);
            assert.match(r.stderr, /error: no stack selected; please use `pulumi stack select`/);
            assert.match(r.stderr, /`npx pulumi stack select dev` \(or pass --stack NAME\)/);
        } finally {
            box.cleanup();
        }
    });

    it("explains a passphrase stack: export PULUMI_CONFIG_PASSPHRASE, which then works", async () => {
        const state: FakePulumiState = { selected: "dev", stacks: { dev: { outputs: deployed(server.url), passphrase: "correct horse" } } };
        const box = sandbox(state, { gcloudAccount: "you@example.com", audience: server.url });
        try {
            const r = await npm(["run", "chat", "--", "Hi"], box.env);
            assert.equal(r.code, 1);
            assert.match(r.stderr, /error: passphrase must be set with PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE environment variables/);
            assert.match(r.stderr, /`export PULUMI_CONFIG_PASSPHRASE=\.\.\.` \(or `export PULUMI_CONFIG_PASSPHRASE_FILE=/);
            const ok = await npm(["run", "chat", "--", "Hi"], { ...box.env, PULUMI_CONFIG_PASSPHRASE: "correct horse" });
            assert.equal(ok.code, 0, ok.stderr);
            assert.match(ok.stdout, /^t0 t1 t2 t3 t4 $/m);
        } finally {
            box.cleanup();
        }
    });
});

describe("npm run smoke", () => {
    let server: FakeVllm;
    before(async () => {
        server = await startFakeVllm({ outputTokens: 21 });
    });
    after(() => server.close());

    it("passes against a healthy deploy", async () => {
        const box = sandbox({ selected: "dev", stacks: { dev: { outputs: deployed(server.url) } } }, { gcloudAccount: "you@example.com", audience: server.url });
        try {
            const r = await npm(["run", "smoke"], box.env);
            assert.equal(r.code, 0, r.stderr);
            assert.match(r.stdout, /time to first token: \d+ ms; 21 tokens/);
            assert.match(r.stdout, /smoke test passed/);
            assert.deepEqual(box.pulumiCalls(), [STACK_OUTPUT()]);
        } finally {
            box.cleanup();
        }
    });

    it("fails at once on a credential error instead of waiting out the cold-start window", async () => {
        const box = sandbox({ selected: "dev", stacks: { dev: { outputs: deployed(server.url) } } }, { audience: server.url });
        try {
            const r = await npm(["run", "smoke", "--", "--stack", "dev"], box.env, FAST_MS * 2);
            assert.equal(r.code, 1);
            assert.match(r.stderr, /smoke test failed: `gcloud auth print-identity-token` failed \(VLLM_ID_TOKEN_SOURCE=gcloud\):\nERROR: \(gcloud\.auth\.print-identity-token\) You do not currently have an active account selected\.[\s\S]*\nRun `gcloud auth login`, then try again\./);
            assert.equal(box.gcloudCalls().length, 1);
            assert.ok(r.ms < FAST_MS, `${r.ms} ms`);
        } finally {
            box.cleanup();
        }
    });

    it("rejects an unknown flag with the usage", async () => {
        const box = sandbox({ selected: "dev", stacks: {} });
        try {
            const r = await npm(["run", "smoke", "--", "--stak", "dev"], box.env);
            assert.equal(r.code, 2);
            assert.match(r.stderr, /usage: npm run smoke/);
            assert.deepEqual(box.pulumiCalls(), []);
        } finally {
            box.cleanup();
        }
    });
});

describe("npm run smoke with image input and LoRA adapters", () => {
    const ADAPTERS = ["sql-lora", "chat-lora"];
    let vision: FeatureVllm;
    before(async () => {
        vision = await startFeatureVllm({ model: MODEL, adapters: ADAPTERS, images: "ok" });
    });
    after(() => vision.close());

    it("`npm run smoke -- --image --lora sql-lora --lora chat-lora` checks the image and each adapter", async () => {
        const box = sandbox({ selected: "dev", stacks: { dev: { outputs: deployed(vision.url) } } }, { gcloudAccount: "you@example.com", audience: vision.url });
        const from = vision.requests.length;
        try {
            const r = await npm(["run", "smoke", "--", "--image", "--lora", "sql-lora", "--lora", "chat-lora"], box.env);
            assert.equal(r.code, 0, r.stderr);
            assert.match(r.stdout, new RegExp(`^image: ${IMAGE_ANSWER}$`, "m"));
            assert.match(r.stdout, /^adapter sql-lora: Hello from sql-lora\.$/m);
            assert.match(r.stdout, /^adapter chat-lora: Hello from chat-lora\.$/m);
            assert.match(r.stdout, /^smoke test passed \(also checked: image input; LoRA adapters sql-lora, chat-lora\)$/m);
            assert.deepEqual(vision.problems, []);
            const models = vision.requests.slice(from).filter((q) => q.path === "/v1/chat/completions").map((q) => (q.body as { model: string }).model);
            assert.deepEqual(models, [MODEL, MODEL, MODEL, "sql-lora", "chat-lora"]);
            assert.deepEqual(box.pulumiCalls(), [STACK_OUTPUT()]);
        } finally {
            box.cleanup();
        }
    });

    it("`npm run smoke` on a deployed stack checks what its outputs say it serves: image input and every adapter", async () => {
        const outputs = { ...deployed(vision.url), imageInput: true, loraModels: ["sql-lora", "chat-lora"] };
        const box = sandbox({ selected: "dev", stacks: { dev: { outputs } } }, { gcloudAccount: "you@example.com", audience: vision.url });
        const from = vision.requests.length;
        try {
            const r = await npm(["run", "smoke"], box.env);
            assert.equal(r.code, 0, r.stderr);
            assert.match(r.stdout, /^smoke test passed \(also checked: image input; LoRA adapters sql-lora, chat-lora\)$/m);
            const models = vision.requests.slice(from).filter((q) => q.path === "/v1/chat/completions").map((q) => (q.body as { model: string }).model);
            assert.deepEqual(models, [MODEL, MODEL, MODEL, "sql-lora", "chat-lora"]);
        } finally {
            box.cleanup();
        }
    });

    it("takes the adapters comma-separated too: --lora sql-lora,chat-lora", async () => {
        const box = sandbox({ selected: "dev", stacks: { dev: { outputs: deployed(vision.url) } } }, { gcloudAccount: "you@example.com", audience: vision.url });
        try {
            const r = await npm(["run", "smoke", "--", "--lora", "sql-lora,chat-lora"], box.env);
            assert.equal(r.code, 0, r.stderr);
            assert.match(r.stdout, /^smoke test passed \(also checked: LoRA adapters sql-lora, chat-lora\)$/m);
        } finally {
            box.cleanup();
        }
    });

    it("runs as the SmokeTest step of `pulumi up` runs it: its command and environment, no Pulumi", async () => {
        const box = sandbox({ stacks: {} }, { gcloudAccount: "you@example.com", audience: vision.url });
        const from = vision.requests.length;
        try {
            const env = {
                ...box.env,
                SMOKE_SCRIPT: "client/smoke.ts",
                SERVICE_URL: vision.url,
                SERVED_MODEL_NAME: MODEL,
                SMOKE_WAIT_SECONDS: "60",
                VLLM_ID_TOKEN_SOURCE: "gcloud",
                ...smokeFeatureEnv(true, ADAPTERS),
            };
            const r = await new Promise<Run>((resolve, reject) => {
                const started = Date.now();
                const child = spawn("sh", ["-c", SMOKE_COMMAND], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
                let stdout = "";
                let stderr = "";
                child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
                child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
                child.on("error", reject);
                child.on("close", (code) => resolve({ code, stdout, stderr, ms: Date.now() - started }));
            });
            assert.equal(r.code, 0, r.stderr);
            assert.match(r.stdout, /smoke test passed \(also checked: image input; LoRA adapters sql-lora, chat-lora\)/);
            assert.deepEqual(vision.problems, []);
            assert.equal(vision.requests.slice(from).filter((q) => q.path === "/v1/chat/completions").length, 5);
            assert.deepEqual(box.pulumiCalls(), []);
        } finally {
            box.cleanup();
        }
    });

    it("fails, naming the adapter, when /v1/models does not list it", async () => {
        const box = sandbox({ selected: "dev", stacks: { dev: { outputs: deployed(vision.url) } } }, { gcloudAccount: "you@example.com", audience: vision.url });
        try {
            const r = await npm(["run", "smoke", "--", "--lora", "sql-lora", "--lora", "typo-lora"], box.env);
            assert.equal(r.code, 1);
            assert.match(r.stderr, /smoke test failed: GET \/v1\/models lists google\/gemma-3-1b-it, sql-lora, chat-lora, but not the LoRA adapter typo-lora: vLLM did not load it/);
        } finally {
            box.cleanup();
        }
    });

    it("fails with the fix when the model takes no images (400)", async () => {
        const text = await startFeatureVllm({ model: MODEL, images: "reject" });
        const box = sandbox({ selected: "dev", stacks: { dev: { outputs: deployed(text.url) } } }, { gcloudAccount: "you@example.com", audience: text.url });
        try {
            const r = await npm(["run", "smoke", "--", "--image"], box.env);
            assert.equal(r.code, 1);
            assert.match(r.stderr, /smoke test failed: POST \/v1\/chat\/completions \(image\): 400 Bad Request \(vLLM says: google\/gemma-3-1b-it is not a multimodal model None\)\. The service does not take images/);
            assert.match(r.stderr, /`npx pulumi config set imageInput true && npx pulumi up`/);
            assert.deepEqual(text.problems, []);
        } finally {
            box.cleanup();
            await text.close();
        }
    });

    it("refuses unknown flags, a --lora without a name and an empty name, with the usage, before asking Pulumi", async () => {
        const box = sandbox({ selected: "dev", stacks: { dev: { outputs: deployed(vision.url) } } }, { gcloudAccount: "you@example.com", audience: vision.url });
        try {
            for (const [args, why] of [[["--images"], /Unknown option '--images'/], [["--lora-models", "a"], /Unknown option '--lora-models'/], [["--lora"], /--lora/], [["--lora", "a,,b"], /--lora has an empty LoRA adapter name/], [["--image=yes"], /--image/], [["sql-lora"], /Unexpected argument 'sql-lora'/]] as const) {
                const r = await npm(["run", "smoke", "--", ...args], box.env);
                assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
                assert.match(r.stderr, why, args.join(" "));
                assert.match(r.stderr, /usage: npm run smoke \[-- \[--stack NAME\] \[--image\] \[--lora NAME\]\.\.\.\]/);
            }
            assert.deepEqual(box.pulumiCalls(), []);
        } finally {
            box.cleanup();
        }
    });

    it("--help shows --image and --lora", async () => {
        const box = sandbox({ selected: "dev", stacks: {} });
        try {
            const r = await npm(["run", "smoke", "--", "--help"], box.env);
            assert.equal(r.code, 0, r.stderr);
            assert.match(r.stdout, /--image +also ask about a small PNG/);
            assert.match(r.stdout, /--lora NAME +also check the LoRA adapter NAME/);
            assert.deepEqual(box.pulumiCalls(), []);
        } finally {
            box.cleanup();
        }
    });
});

describe("npm run bench", () => {
    it("runs a tiny sweep, asks Pulumi once, and writes its results", async () => {
        const server = await startFakeVllm({ outputTokens: 4 });
        const box = sandbox({ selected: "dev", stacks: { dev: { outputs: deployed(server.url) } } }, { gcloudAccount: "you@example.com", audience: server.url });
        const out = path.join(box.dir, "results");
        try {
            const r = await npm(["run", "bench", "--", "--levels", "1,2", "--max-tokens", "4", "--max-requests", "4", "--out", out], box.env);
            assert.equal(r.code, 0, r.stderr);
            assert.match(r.stdout, /tok\/s total/);
            assert.doesNotMatch(r.stdout + r.stderr, /NaN/);
            assert.equal(fs.readdirSync(out).length, 2);
            assert.deepEqual(box.pulumiCalls(), [STACK_OUTPUT()]);
        } finally {
            box.cleanup();
            await server.close();
        }
    });

    it("exits non-zero, without NaN, when every request fails", async () => {
        const server = await startFakeVllm({ failFirst: { status: 429, count: 1000 } });
        const box = sandbox({ selected: "dev", stacks: { dev: { outputs: deployed(server.url) } } }, { gcloudAccount: "you@example.com", audience: server.url });
        const out = path.join(box.dir, "results");
        try {
            const r = await npm(["run", "bench", "--", "--levels", "1", "--max-tokens", "2", "--max-requests", "3", "--out", out], box.env);
            assert.equal(r.code, 1, r.stdout + r.stderr);
            assert.doesNotMatch(r.stdout + r.stderr, /NaN/);
            assert.match(r.stdout, /concurrency 1: no successful requests, so no latency or throughput \(429:3; first error: 429/);
            assert.match(r.stderr, /bench failed: every request failed/);
            assert.equal(fs.existsSync(out), false);
        } finally {
            box.cleanup();
            await server.close();
        }
    });

    it("stops at once without credentials, before sending a request", async () => {
        const server = await startFakeVllm();
        const box = sandbox({ selected: "dev", stacks: { dev: { outputs: deployed(server.url) } } }, { audience: server.url });
        try {
            const r = await npm(["run", "bench", "--", "--levels", "4", "--max-tokens", "2", "--max-requests", "8"], box.env);
            assert.equal(r.code, 1);
            assert.match(r.stderr, /bench failed: `gcloud auth print-identity-token` failed \(VLLM_ID_TOKEN_SOURCE=gcloud\):\nERROR: \(gcloud\.auth\.print-identity-token\) You do not currently have an active account selected\.[\s\S]*\nRun `gcloud auth login`, then try again\./);
            assert.doesNotMatch(r.stdout + r.stderr, /NaN/);
            assert.equal(server.seen.length, 0);
            assert.equal(box.gcloudCalls().length, 1);
            assert.ok(r.ms < FAST_MS, `${r.ms} ms`);
        } finally {
            box.cleanup();
            await server.close();
        }
    });

    it("rejects a bad number with the usage", async () => {
        const box = sandbox({ selected: "dev", stacks: {} });
        try {
            const r = await npm(["run", "bench", "--", "--levels", "1,x"], box.env);
            assert.equal(r.code, 2);
            assert.match(r.stderr, /--levels must be a positive integer, not "x"/);
            assert.match(r.stderr, /usage: npm run bench/);
        } finally {
            box.cleanup();
        }
    });
});

describe("the fake Pulumi CLI", () => {
    it("is what `npx --no-install pulumi` runs in the project, and accepts only what the tools run", async () => {
        const box = sandbox({ selected: "dev", stacks: { dev: { outputs: { serviceUrl: "u" } } } });
        try {
            const run = (args: string[]) => new Promise<Run>((resolve) => {
                const child = spawn("npx", ["--no-install", "pulumi", ...args], { cwd: ROOT, env: box.env, stdio: ["ignore", "pipe", "pipe"] });
                let stdout = "";
                let stderr = "";
                child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
                child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
                child.on("close", (code) => resolve({ code, stdout, stderr, ms: 0 }));
            });
            const ok = await run(STACK_OUTPUT());
            assert.equal(ok.code, 0, ok.stderr);
            assert.deepEqual(JSON.parse(ok.stdout), { serviceUrl: "u" });
            for (const bad of [["up"], ["stack", "output", "--json"], ["stack", "output", "--non-interactive"], ["stack", "output", "--json", "--show-secrets", "--non-interactive"], ["config", "get", "hfToken", "--non-interactive"]]) {
                const r = await run(bad);
                assert.notEqual(r.code, 0, bad.join(" "));
                assert.match(r.stderr, /fake pulumi: /, bad.join(" "));
            }
        } finally {
            box.cleanup();
        }
    });
});

describe("argument parsing (util.parseArgs)", () => {
    it("chat: every word is the prompt; --stack anywhere; unknown flags are errors", () => {
        assert.deepEqual(parseChatArgs(["Write", "a", "haiku"]), { prompt: "Write a haiku", stack: undefined, help: false });
        assert.deepEqual(parseChatArgs(["Write a haiku"]), { prompt: "Write a haiku", stack: undefined, help: false });
        assert.deepEqual(parseChatArgs(["--stack", "prod", "Hi"]), { prompt: "Hi", stack: "prod", help: false });
        assert.deepEqual(parseChatArgs(["Hi", "--stack=prod"]), { prompt: "Hi", stack: "prod", help: false });
        assert.deepEqual(parseChatArgs(["--", "-1", "or", "1?"]), { prompt: "-1 or 1?", stack: undefined, help: false });
        assert.equal(parseChatArgs([]).prompt, undefined);
        assert.equal(parseChatArgs(["--stack", "prod"]).prompt, undefined);
        assert.throws(() => parseChatArgs(["--bogus", "Hi"]), /Unknown option '--bogus'/);
        assert.throws(() => parseChatArgs(["Hi", "--stack"]), /--stack/);
    });

    it("bench: numbers are checked, defaults kept", () => {
        const d = parseBenchArgs([]);
        assert.deepEqual(d, { stack: undefined, help: false, out: "bench-results", options: { levels: undefined, maxTokens: 128, maxSeconds: 600, maxRequests: 1000, coldStart: false } });
        const a = parseBenchArgs(["--levels", "1,8,32", "--max-tokens", "256", "--max-seconds", "300", "--stack", "prod", "--cold-start"]);
        assert.deepEqual(a.options.levels, [1, 8, 32]);
        assert.equal(a.options.maxTokens, 256);
        assert.equal(a.options.maxSeconds, 300);
        assert.equal(a.options.coldStart, true);
        assert.equal(a.stack, "prod");
        assert.throws(() => parseBenchArgs(["--max-tokens", "0"]), /--max-tokens must be a positive integer/);
        assert.throws(() => parseBenchArgs(["--max-requests", "abc"]), /--max-requests must be a positive integer/);
        assert.throws(() => parseBenchArgs(["--cold-start=yes"]), /cold-start/);
        assert.throws(() => parseBenchArgs(["extra"]), /Unexpected argument 'extra'/);
    });
});
