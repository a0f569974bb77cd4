// The benchmark against a local OpenAI-compatible streaming server with known, injected
// delays: the tool must report those delays and rates within tolerance, and stop by itself.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { bench, chart, everyRequestFailed, percentile, table, writeResults } from "../client/bench";
import { CredentialError, IdTokenSource } from "../client";
import { fakeIdToken, startFakeVllm } from "./fixtures/fake-vllm";

const MODEL = "google/gemma-3-1b-it";
const ids = (audience: string): IdTokenSource => ({ token: () => Promise.resolve(fakeIdToken(audience, 3600)) });
const quiet = () => undefined;
const within = (actual: number, expected: number, tolerance: number, what: string) =>
    assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual}, expected ${expected} ± ${tolerance}`);

describe("npm run bench", () => {
    it("reports the injected time to first token, inter-token latency and token rates", async () => {
        // 150 ms to the first token, then 10 ms per token: 100 tokens/s per stream, no contention.
        const server = await startFakeVllm({ ttftMs: 150, itlMs: 10, outputTokens: 1000 });
        try {
            const r = await bench({ url: server.url, model: MODEL }, {
                ids: ids(server.url), levels: [1, 4], requestsPerLevel: (c) => 2 * c, maxTokens: 40, instanceHourUsd: 1.42, ceilingTokensPerSecond: 150, progress: quiet,
            });
            assert.equal(r.truncated, false);
            assert.deepEqual(r.levels.map((l) => [l.concurrency, l.requests, l.ok]), [[1, 2, 2], [4, 8, 8]]);
            for (const l of r.levels) {
                within(l.ttftMs.p50, 150, 40, `TTFT p50 at ${l.concurrency}`);
                within(l.itlMs.p50, 10, 4, `ITL p50 at ${l.concurrency}`);
                within(l.perStreamTokensPerSecond, 100, 25, `tokens/s per stream at ${l.concurrency}`);
                assert.deepEqual(l.errors, {});
            }
            // 40 tokens in ~0.54 s per request: ~74 tokens/s for one stream, ~4x with four.
            within(r.levels[0].tokensPerSecond, 74, 15, "total tokens/s at 1");
            within(r.levels[1].tokensPerSecond / r.levels[0].tokensPerSecond, 4, 0.8, "scaling from 1 to 4 streams");
            const usd = r.levels[0].usdPerMillionOutputTokens ?? NaN;
            within(usd, (1.42 / (r.levels[0].tokensPerSecond * 3600)) * 1e6, 0.01, "$ per million tokens");
            const text = table(r);
            assert.match(text, /tok\/s total/);
            assert.match(text, /physical ceiling/);
        } finally {
            await server.close();
        }
    });

    it("measures a cold start as first request to first token", async () => {
        const server = await startFakeVllm({ ttftMs: 300, itlMs: 1, outputTokens: 16 });
        try {
            const r = await bench({ url: server.url, model: MODEL }, { ids: ids(server.url), levels: [1], requestsPerLevel: () => 1, maxTokens: 8, coldStart: true, progress: quiet });
            within(r.coldStartMs ?? NaN, 300, 80, "cold start");
        } finally {
            await server.close();
        }
    });

    it("counts 429 and 503 answers as errors instead of retrying them", async () => {
        const server = await startFakeVllm({ failFirst: { status: 429, count: 3 }, outputTokens: 4 });
        try {
            const r = await bench({ url: server.url, model: MODEL }, { ids: ids(server.url), levels: [2], requestsPerLevel: () => 6, maxTokens: 4, progress: quiet });
            assert.deepEqual(r.levels[0].errors, { "429": 3 });
            assert.equal(r.levels[0].ok, 3);
        } finally {
            await server.close();
        }
    });

    it("stops by itself at the time limit and says so", async () => {
        const server = await startFakeVllm({ ttftMs: 100, itlMs: 5, outputTokens: 20 });
        try {
            const started = Date.now();
            const r = await bench({ url: server.url, model: MODEL }, { ids: ids(server.url), levels: [1, 2, 4, 8], requestsPerLevel: () => 100, maxTokens: 20, maxSeconds: 1, progress: quiet });
            assert.ok(Date.now() - started < 3000, "bounded in time");
            assert.equal(r.truncated, true);
            assert.match(table(r), /stopped early/);
            const sent = r.levels.reduce((n, l) => n + l.requests, 0);
            assert.ok(sent < 20, `bounded in requests: ${sent}`);
        } finally {
            await server.close();
        }
    });

    it("stops at the request limit", async () => {
        const server = await startFakeVllm({ outputTokens: 2 });
        try {
            const r = await bench({ url: server.url, model: MODEL }, { ids: ids(server.url), levels: [1, 4], requestsPerLevel: () => 10, maxTokens: 2, maxRequests: 12, progress: quiet });
            assert.equal(r.levels.reduce((n, l) => n + l.requests, 0), 12);
            assert.equal(r.truncated, true);
        } finally {
            await server.close();
        }
    });

    it("shows live progress", async () => {
        const server = await startFakeVllm({ outputTokens: 2 });
        try {
            const lines: string[] = [];
            await bench({ url: server.url, model: MODEL }, { ids: ids(server.url), levels: [2], requestsPerLevel: () => 4, maxTokens: 2, progress: (l) => lines.push(l) });
            assert.ok(lines.some((l) => l.startsWith("concurrency 2: 4/4 requests, 0 errors")), lines.join("|"));
        } finally {
            await server.close();
        }
    });

    it("writes the JSON result and an SVG chart", async () => {
        const server = await startFakeVllm({ outputTokens: 4 });
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-"));
        try {
            const r = await bench({ url: server.url, model: MODEL }, { ids: ids(server.url), levels: [1, 2], requestsPerLevel: () => 2, maxTokens: 4, progress: quiet });
            const files = writeResults(r, dir);
            assert.deepEqual(JSON.parse(fs.readFileSync(files.json, "utf8")), JSON.parse(JSON.stringify(r)));
            const svg = fs.readFileSync(files.svg, "utf8");
            assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
            assert.equal((svg.match(/<polyline/g) ?? []).length, 3);
            assert.equal(chart(r).trim(), svg.trim());
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
            await server.close();
        }
    });

    it("says so, without NaN, when every request fails", async () => {
        const server = await startFakeVllm({ failFirst: { status: 503, count: 100 } });
        try {
            const r = await bench({ url: server.url, model: MODEL }, { ids: ids(server.url), levels: [1, 2], requestsPerLevel: () => 2, maxTokens: 2, progress: quiet });
            assert.equal(everyRequestFailed(r), true);
            const text = table(r);
            assert.doesNotMatch(text, /NaN/);
            assert.match(text, /concurrency 1: no successful requests, so no latency or throughput \(503:2; first error: 503/);
            assert.doesNotMatch(chart(r), /NaN/);
        } finally {
            await server.close();
        }
    });

    it("does not call a run with some successes a failure", async () => {
        const server = await startFakeVllm({ failFirst: { status: 429, count: 1 }, outputTokens: 2 });
        try {
            const r = await bench({ url: server.url, model: MODEL }, { ids: ids(server.url), levels: [1], requestsPerLevel: () => 2, maxTokens: 2, progress: quiet });
            assert.equal(everyRequestFailed(r), false);
            assert.doesNotMatch(table(r), /no successful requests/);
        } finally {
            await server.close();
        }
    });

    it("stops before the first request without credentials", async () => {
        const server = await startFakeVllm();
        try {
            let calls = 0;
            const none: IdTokenSource = {
                token: () => {
                    calls++;
                    return Promise.reject(new CredentialError("no credentials"));
                },
            };
            await assert.rejects(bench({ url: server.url, model: MODEL }, { ids: none, levels: [4], requestsPerLevel: () => 8, maxTokens: 2, progress: quiet }), (e: unknown) => e instanceof CredentialError);
            assert.equal(calls, 1);
            assert.equal(server.seen.length, 0);
        } finally {
            await server.close();
        }
    });

    it("stops the whole run when credentials fail mid-run", async () => {
        const server = await startFakeVllm({ outputTokens: 2 });
        try {
            let calls = 0;
            const token = fakeIdToken(server.url, 3600);
            // Good for the first three tokens, then the login is gone.
            const flaky: IdTokenSource = { token: () => (++calls <= 3 ? Promise.resolve(token) : Promise.reject(new CredentialError("login expired"))) };
            await assert.rejects(bench({ url: server.url, model: MODEL }, { ids: flaky, levels: [1, 4], requestsPerLevel: () => 50, maxTokens: 2, progress: quiet }), /login expired/);
            await new Promise((r) => setTimeout(r, 100));
            assert.ok(calls <= 3 + 4, `no new requests after the failure: ${calls} token calls`);
            assert.ok(server.seen.length <= 3, `${server.seen.length} requests`);
        } finally {
            await server.close();
        }
    });

    it("computes percentiles by rank", () => {
        assert.equal(percentile([5, 1, 3, 2, 4], 50), 3);
        assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95), 10);
        assert.ok(Number.isNaN(percentile([], 50)));
    });
});
