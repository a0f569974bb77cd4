// `npm run e2e` against a fake Automation API stack, fake model calls, a fake leftover check and
// a fake clock: the order of the phases, cleanup after a failure in each of them, interrupts,
// refusals before anything is touched, the report, and the token never shown. The leftover
// check itself runs against a fake Google HTTP.
import { after, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { ConfigValue, OpMap, OutputMap, PreviewOptions, UpOptions } from "@pulumi/pulumi/automation";
import { CliDeps, main, pipeSecretConfig, PulumiBackend } from "../client/e2e";
import { CLI_SIGNAL_GRACE_MS, E2eDeps, E2eStack, summarizeError } from "../client/e2e-run";
import type { E2eReport } from "../client/e2e-report";
import { adcGet, findLeftovers, GetResponse, LeftoverCheck, stackResources } from "../client/leftovers";
import type { BenchOptions, BenchResult, LevelResult } from "../client/bench";
import type { SmokeReport } from "../client/smoke";
import type { GoogleAuth } from "google-auth-library";

/** Recognizable fake token: it must appear nowhere the run writes. */
const TOKEN = "hf_FAKE-e2e-token-0123456789-XYZ";
const MODEL = "google/gemma-3-1b-it";
const STACK = "e2e-abc123";
const URL = "https://vllm-cloudrun-e2e-abc123-xyz-uk.a.run.app";
const MIN = 60_000;

const SMOKE: SmokeReport = { healthySeconds: 0.2, models: [MODEL], answer: "A serverless platform.", streamed: "1 2 3", timeToFirstTokenMs: 140, outputTokens: 40, tokensPerSecond: 58.34 };
const level = (concurrency: number, requests: number, tokensPerSecond: number, ok = requests): LevelResult => ({
    concurrency, requests, ok, errors: ok === requests ? {} : { "503": requests - ok }, ttftMs: { p50: ok > 0 ? 120 : NaN, p95: ok > 0 ? 150 : NaN }, itlMs: { p50: 15, p95: 20 }, tokensPerSecond, perStreamTokensPerSecond: ok > 0 ? 55 : 0,
    ...(ok === requests ? {} : { firstError: "POST /v1/completions: 503 Service Unavailable." }),
});
const BENCH: BenchResult = { url: URL, model: MODEL, startedAt: "2026-11-27T12:26:00.000Z", maxTokens: 64, coldStartMs: 850, levels: [level(1, 2, 60.5), level(4, 8, 210.2)], truncated: false, elapsedSeconds: 40 };
const OUTPUTS: OutputMap = {
    serviceUrl: { value: URL, secret: false },
    servedModelName: { value: MODEL, secret: false },
    costEstimate: { value: { perInstanceHour: 1.42 }, secret: false },
    gpuMemoryEstimate: { value: { singleStreamCeilingTokensPerSecond: 150 }, secret: false },
};
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), "e2e-test-"));
after(() => fs.rmSync(TMP, { recursive: true, force: true }));
let reports = 0;

/** A failed Pulumi command as the Automation API reports it (CommandError's message). */
const commandError = (stderr: string) => new Error(`code: 255\n stdout: Updating (${STACK}):\n lots of progress\n stderr: ${stderr}\n err?: `);

interface Script {
    /** Replaces the fake's own behaviour of one operation. */
    createStack?: () => Promise<void>;
    setAllConfig?: () => Promise<void>;
    up?: (o: UpOptions, signal: (s: string) => void) => Promise<{ outputs: OutputMap }>;
    waitReady?: () => Promise<number>;
    smoke?: (signal: (s: string) => void) => Promise<SmokeReport>;
    bench?: () => Promise<BenchResult>;
    preview?: (o: PreviewOptions) => Promise<{ changeSummary: OpMap }>;
    /** Per attempt (1, 2). */
    destroy?: (attempt: number, signal: (s: string) => void) => Promise<unknown>;
    removeStack?: () => Promise<void>;
    leftovers?: () => Promise<LeftoverCheck[]>;
    backendUrl?: string;
    env?: NodeJS.ProcessEnv;
}

/** A fake world: every operation is recorded in `calls`, everything shown in `lines`. */
function world(script: Script = {}) {
    let t = Date.UTC(2026, 10, 27, 12, 0, 0);
    const advance = (ms: number) => { t += ms; };
    const calls: string[] = [];
    const lines: string[] = [];
    const stderr: string[] = [];
    const config: Record<string, ConfigValue> = {};
    const handlers = new Set<(signal: string) => void>();
    const exits: number[] = [];
    const signal = (s: string) => [...handlers].forEach((h) => h(s));
    const seen: { upOptions?: UpOptions; previewOptions?: PreviewOptions; benchOptions?: BenchOptions } = {};
    const reportPath = path.join(TMP, `report-${++reports}.json`);
    let destroys = 0;

    const stack: E2eStack = {
        async setAllConfig(c) {
            calls.push("setAllConfig");
            Object.assign(config, c);
            await script.setAllConfig?.();
        },
        setSecretConfig(key, value) {
            calls.push(`setSecretConfig ${key}`);
            config[key] = { value, secret: true };
            return Promise.resolve();
        },
        async up(o = {}) {
            calls.push("up");
            seen.upOptions = o;
            o.onOutput?.(`Updating (${STACK}):\n +  pulumi:pulumi:Stack vllm-cloudrun-${STACK} creating`);
            o.onOutput?.(" (0s)\nResources:\n    + 30 created\n");
            if (script.up) return script.up(o, signal);
            advance(25 * MIN);
            return { outputs: OUTPUTS };
        },
        async preview(o = {}) {
            calls.push("preview");
            seen.previewOptions = o;
            advance(MIN);
            if (script.preview) return script.preview(o);
            return { changeSummary: { same: 31 } };
        },
        async destroy(o = {}) {
            destroys++;
            calls.push("destroy");
            o.onOutput?.("Destroying (e2e-abc123):\n");
            advance(5 * MIN);
            if (script.destroy) return script.destroy(destroys, signal);
            return {};
        },
        cancel() {
            calls.push("cancel");
            return Promise.resolve();
        },
        workspace: {
            async removeStack(name) {
                calls.push(`removeStack ${name}`);
                await script.removeStack?.();
            },
        },
    };
    const backend: PulumiBackend = {
        url() {
            calls.push("whoami");
            return Promise.resolve(script.backendUrl ?? "https://api.pulumi.com");
        },
        async createStack(name) {
            calls.push(`createStack ${name}`);
            await script.createStack?.();
            return stack;
        },
    };
    const runDeps = (): Omit<E2eDeps, "createStack"> => ({
        async waitReady() {
            calls.push("waitReady");
            advance(3000);
            return script.waitReady ? script.waitReady() : 3;
        },
        async smoke() {
            calls.push("smoke");
            advance(10_000);
            return script.smoke ? script.smoke(signal) : SMOKE;
        },
        async bench(_conn, opts) {
            calls.push("bench");
            seen.benchOptions = opts;
            advance(40_000);
            return script.bench ? script.bench() : BENCH;
        },
        async leftovers() {
            calls.push("leftovers");
            if (script.leftovers) return script.leftovers();
            return stackResources({ pulumiProject: "vllm-cloudrun", stack: STACK, gcpProject: "my-proj", region: "us-east4", buildRegion: "us-central1" })
                .map((r): LeftoverCheck => ({ kind: r.kind, name: r.name, ...(r.location ? { location: r.location } : {}), removeCommand: r.removeCommand, how: "name", state: "gone" }));
        },
        now: () => t,
        sleep: (ms) => {
            advance(ms);
            return Promise.resolve();
        },
        log: (l) => lines.push(l),
        out: (l) => lines.push(l),
        onSignal: (h) => {
            handlers.add(h);
            return () => handlers.delete(h);
        },
        writeReport: (p, text) => fs.writeFileSync(p, text),
        exit: (code) => {
            calls.push(`exit ${code}`);
            exits.push(code);
        },
    });
    const inject: Partial<CliDeps> = {
        env: { HF_TOKEN: TOKEN, ...script.env },
        stdout: (l) => lines.push(l),
        stderr: (l) => {
            lines.push(l);
            stderr.push(l);
        },
        randomHex: () => "abc123",
        pulumi: () => {
            calls.push("pulumi");
            return Promise.resolve(backend);
        },
        runDeps,
    };
    return {
        inject, calls, lines, stderr, config, exits, seen, reportPath, handlers,
        signal,
        run: (extra: string[] = []) => main(["--project", "my-proj", "--yes", "--report", reportPath, ...extra], inject),
        report: () => JSON.parse(fs.readFileSync(reportPath, "utf8")) as E2eReport,
        reportText: () => fs.readFileSync(reportPath, "utf8"),
    };
}

const HAPPY = ["pulumi", "whoami", `createStack ${STACK}`, "setAllConfig", "setSecretConfig hfToken", "up", "waitReady", "smoke", "bench", "preview", "destroy", `removeStack ${STACK}`, "leftovers"];
const phase = (r: E2eReport, name: string) => r.phases.find((p) => p.name === name);
/** Waits until the fake world reaches a state (the run is in flight and not awaited). */
async function until(cond: () => boolean): Promise<void> {
    for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setImmediate(r));
    assert.ok(cond(), "the run never got there");
}

describe("npm run e2e: the happy path", () => {
    it("runs every phase in order, measures, estimates the cost and writes the report", async () => {
        const w = world();
        assert.equal(await w.run(), 0);
        assert.deepEqual(w.calls, HAPPY);
        assert.deepEqual(w.config, {
            "gcp:project": { value: "my-proj" },
            "gcp:region": { value: "us-east4" },
            minInstances: { value: "0" },
            maxInstances: { value: "1" },
            smokeTest: { value: "false" },
            deletionProtection: { value: "false" },
            hfToken: { value: TOKEN, secret: true },
        });
        // up streams its output and can be stopped; the preview is checked, not trusted.
        assert.equal(typeof w.seen.upOptions?.onOutput, "function");
        assert.ok(w.seen.upOptions?.signal instanceof AbortSignal);
        assert.equal(w.seen.upOptions?.signal?.aborted, false);
        assert.equal(typeof w.seen.previewOptions?.onEvent, "function");
        assert.deepEqual(w.seen.benchOptions?.levels, [1, 4]);
        assert.equal(w.seen.benchOptions?.instanceHourUsd, 1.42);
        assert.equal(w.seen.benchOptions?.ceilingTokensPerSecond, 150);
        assert.ok((w.seen.benchOptions?.maxSeconds ?? Infinity) <= 300 && (w.seen.benchOptions?.maxRequests ?? Infinity) <= 50, "the bench is short and bounded");
        // Streamed output arrives as whole lines.
        assert.ok(w.lines.includes(` +  pulumi:pulumi:Stack vllm-cloudrun-${STACK} creating (0s)`));
        assert.equal(w.handlers.size, 0, "signal handlers removed at the end");

        const r = w.report();
        assert.equal(r.passed, true);
        assert.equal(r.exitCode, 0);
        assert.equal(r.failedPhase, null);
        assert.equal(r.interrupted, null);
        assert.deepEqual([r.stack, r.project, r.region, r.buildRegion, r.model], [STACK, "my-proj", "us-east4", "us-central1", MODEL]);
        assert.deepEqual(r.phases.map((p) => [p.name, p.ok, p.skipped, p.seconds]), [
            ["create", true, false, 0], ["up", true, false, 1500], ["ready", true, false, 3], ["smoke", true, false, 10], ["bench", true, false, 40],
            ["preview", true, false, 60], ["destroy", true, false, 300], ["remove-stack", true, false, 0], ["leftovers", true, false, 0],
        ]);
        assert.equal(phase(r, "up")?.start, "2026-11-27T12:00:00.000Z");
        assert.equal(phase(r, "up")?.end, "2026-11-27T12:25:00.000Z");
        assert.deepEqual(r.coldStart.upEndToHealthySeconds, 3);
        assert.equal(r.coldStart.firstRequestToFirstTokenMs, 850);
        assert.deepEqual(r.smoke, { timeToFirstTokenMs: 140, tokensPerSecond: 58.3, models: [MODEL] });
        assert.equal(r.bench?.bestTokensPerSecond, 210.2);
        assert.deepEqual(r.bench?.levels.map((l) => [l.concurrency, l.tokensPerSecond, l.ok, l.requests]), [[1, 60.5, 2, 2], [4, 210.2, 8, 8]]);
        assert.deepEqual(r.preview, { changeSummary: { same: 31 }, changes: [] });
        // GPU: up start to destroy end, 1500+3+10+40+60+300 s = 0.531 h at $1.42; build: up's 25 min at $0.016.
        assert.equal(r.cost.gpuInstance.hours, 0.531);
        assert.equal(r.cost.gpuInstance.usdPerHour, 1.42);
        assert.equal(r.cost.gpuInstance.priceFrom, "stack output costEstimate.perInstanceHour");
        assert.equal(r.cost.gpuInstance.usd, 0.75);
        assert.deepEqual(r.cost.cloudBuild, { machineType: "e2-highcpu-8", usdPerMinute: 0.016, minutes: 25, usd: 0.4 });
        assert.equal(r.cost.estimateUsd, 1.15);
        assert.ok(r.cost.assumptions.some((a) => /upper bound/.test(a)));
        assert.ok(r.cost.sources.includes("https://cloud.google.com/build/pricing"));
        assert.deepEqual(r.leftovers, { checked: 10, remaining: [], unchecked: [] });
        assert.deepEqual(r.cleanup, { destroyed: true, stackRemoved: true, commands: [] });

        // The table for people says the same.
        const text = w.lines.join("\n");
        assert.match(text, /^up\s+1500\.0\s+ok$/m);
        assert.match(text, /cold start: 3\.0 s from the end of up to the first healthy answer; first request to first token 850 ms/);
        assert.match(text, /1 stream 60\.5 tokens\/s \(2\/2 ok\), 4 streams 210\.2 tokens\/s/);
        assert.match(text, /cost, estimated upper bound: \$1\.15 = GPU instance 0\.53 h x \$1\.42\/h \(\$0\.75\) \+ Cloud Build 25 min x \$0\.016\/min \(\$0\.40\)/);
        assert.match(text, /left behind: nothing \(10 lookups\)/);
        assert.match(text, /^PASSED; report: /m);
    });

    it("names the stack e2e-<6 hex> unless --stack is given", async () => {
        const w = world();
        assert.equal(await w.run(["--stack", "e2e-mine", "--region", "europe-west4"]), 0);
        assert.ok(w.calls.includes("createStack e2e-mine"));
        assert.deepEqual([w.report().region, w.report().buildRegion], ["europe-west4", "europe-west1"]);
        assert.equal(w.config["gcp:region"].value, "europe-west4");
    });
});

/** Asserts what every failure must leave: destroy tried, stack removed only after it worked, leftovers checked, non-zero exit. */
function assertCleanedUp(w: ReturnType<typeof world>, code: number, failedPhase: string, opts: { destroyOk?: boolean } = {}) {
    assert.notEqual(code, 0);
    const destroyAt = w.calls.lastIndexOf("destroy");
    assert.ok(destroyAt > w.calls.indexOf(`createStack ${STACK}`), `destroy attempted: ${w.calls.join(", ")}`);
    const removeAt = w.calls.indexOf(`removeStack ${STACK}`);
    if (opts.destroyOk === false) assert.equal(removeAt, -1, "no stack rm after a failed destroy");
    else assert.ok(removeAt > destroyAt, "stack rm after destroy");
    assert.equal(w.calls.at(-1), "leftovers");
    const r = w.report();
    assert.equal(r.passed, false);
    assert.equal(r.exitCode, code);
    assert.equal(r.failedPhase, failedPhase);
    assert.equal(phase(r, failedPhase)?.ok, false);
    assert.ok((phase(r, failedPhase)?.error ?? "") !== "", "the failed phase says why");
    assert.notEqual(r.leftovers, null, "the report says what was left");
    assert.match(w.lines.join("\n"), new RegExp(`^FAILED at ${failedPhase}; report: `, "m"));
    return r;
}

describe("npm run e2e: a failure in any phase still cleans up", () => {
    it("up fails: destroy, stack rm, leftover check; nothing after up runs", async () => {
        const w = world({ up: () => Promise.reject(commandError("error: gcp:cloudrunv2:Service creation failed: quota exceeded")) });
        const r = assertCleanedUp(w, await w.run(), "up");
        assert.deepEqual(w.calls, [...HAPPY.slice(0, 6), "destroy", `removeStack ${STACK}`, "leftovers"]);
        assert.equal(phase(r, "up")?.error, "error: gcp:cloudrunv2:Service creation failed: quota exceeded");
        assert.deepEqual(["ready", "smoke", "bench", "preview"].map((p) => phase(r, p)?.skipped), [true, true, true, true]);
        assert.deepEqual(r.cleanup, { destroyed: true, stackRemoved: true, commands: [] });
        // No outputs: the cost uses the price table.
        assert.match(r.cost.gpuInstance.priceFrom, /price table/);
    });

    it("wait for ready fails (or up gave no service URL)", async () => {
        const w = world({ waitReady: () => Promise.reject(new Error("Not healthy after 900 s. Last answer: GET /health: 503 Service Unavailable.")) });
        const r = assertCleanedUp(w, await w.run(), "ready");
        assert.match(phase(r, "ready")?.error ?? "", /Not healthy after 900 s/);
        assert.ok(!w.calls.includes("smoke"));

        const noUrl = world({ up: () => Promise.resolve({ outputs: {} }) });
        assertCleanedUp(noUrl, await noUrl.run(), "ready");
        assert.match(phase(noUrl.report(), "ready")?.error ?? "", /without serviceUrl/);
    });

    it("smoke fails", async () => {
        const w = world({ smoke: () => Promise.reject(new Error("GET /v1/models: 403 Forbidden.")) });
        assertCleanedUp(w, await w.run(), "smoke");
        assert.ok(!w.calls.includes("bench"));
    });

    it("bench fails, or every benchmark request fails", async () => {
        const w = world({ bench: () => Promise.reject(new Error("No Google credentials to mint an identity token with")) });
        assertCleanedUp(w, await w.run(), "bench");
        assert.ok(!w.calls.includes("preview"));

        const allFailed = world({ bench: () => Promise.resolve({ ...BENCH, coldStartMs: undefined, levels: [level(1, 2, 0, 0), level(4, 8, 0, 0)] }) });
        const r = assertCleanedUp(allFailed, await allFailed.run(), "bench");
        assert.match(phase(r, "bench")?.error ?? "", /every benchmark request failed; first error: POST \/v1\/completions: 503/);
    });

    it("the second preview proposes changes: fails, naming them", async () => {
        const w = world({
            preview: (o) => {
                o.onEvent?.({ sequence: 1, timestamp: 0, resourcePreEvent: { metadata: { op: "same", urn: "urn:pulumi:e2e::vllm-cloudrun::pulumi:pulumi:Stack::x", type: "pulumi:pulumi:Stack", provider: "" } } });
                o.onEvent?.({ sequence: 2, timestamp: 0, resourcePreEvent: { metadata: { op: "update", urn: `urn:pulumi:${STACK}::vllm-cloudrun::gcp:cloudrunv2/service:Service::vllm-cloudrun-${STACK}`, type: "gcp:cloudrunv2/service:Service", diffs: ["template"], provider: "" } } });
                return Promise.resolve({ changeSummary: { same: 30, update: 1 } });
            },
        });
        const r = assertCleanedUp(w, await w.run(), "preview");
        assert.equal(phase(r, "preview")?.error, `the second preview proposes changes (update: 1): update vllm-cloudrun-${STACK} (gcp:cloudrunv2/service:Service) [template]`);
        assert.deepEqual(r.preview, { changeSummary: { same: 30, update: 1 }, changes: [`update vllm-cloudrun-${STACK} (gcp:cloudrunv2/service:Service) [template]`] });
    });

    it("preview itself fails", async () => {
        const w = world({ preview: () => Promise.reject(commandError("error: preview failed")) });
        assertCleanedUp(w, await w.run(), "preview");
    });

    it("destroy fails twice: retried once, the stack is kept, the commands to finish and what is left are reported", async () => {
        const leftover: LeftoverCheck = { kind: "Cloud Run service", name: `vllm-cloudrun-${STACK}`, location: "us-east4", how: "name", state: "exists", removeCommand: `gcloud run services delete vllm-cloudrun-${STACK} --region us-east4 --project my-proj --quiet` };
        const w = world({ destroy: () => Promise.reject(commandError("error: deleting service: googleapi: Error 400: failed precondition")), leftovers: () => Promise.resolve([leftover]) });
        const r = assertCleanedUp(w, await w.run(), "destroy", { destroyOk: false });
        assert.deepEqual(w.calls.slice(-3), ["destroy", "destroy", "leftovers"]);
        assert.equal(phase(r, "destroy")?.attempts, 2);
        assert.equal(phase(r, "remove-stack")?.skipped, true);
        assert.deepEqual(r.leftovers?.remaining, [leftover]);
        assert.equal(r.cleanup.destroyed, false);
        assert.equal(r.cleanup.commands[0], `npx pulumi destroy --stack ${STACK} --yes`);
        assert.equal(r.cleanup.commands[1], `npx pulumi stack rm ${STACK} --yes`);
        assert.ok(r.cleanup.commands.some((c) => c.includes(`gcloud iam service-accounts delete vllm-cloudrun-${STACK}-build@my-proj.iam.gserviceaccount.com`)));
        const text = w.lines.join("\n");
        assert.match(text, new RegExp(`left behind: Cloud Run service vllm-cloudrun-${STACK} \\(us-east4\\): gcloud run services delete`));
        assert.match(text, new RegExp(`^  npx pulumi destroy --stack ${STACK} --yes$`, "m"));
        // The whole run is paid for until the end when destroy did not finish.
        assert.ok(r.cost.assumptions.some((a) => /destroy did not finish/.test(a)));

        // With a passphrase backend, the commands say it is needed first.
        const local = world({ backendUrl: "file://~", env: { PULUMI_CONFIG_PASSPHRASE: "pass" }, destroy: () => Promise.reject(commandError("error: boom")) });
        await local.run();
        assert.deepEqual(local.report().cleanup.commands.slice(0, 2), ["# first: export PULUMI_CONFIG_PASSPHRASE=... (the passphrase this run used)", `npx pulumi destroy --stack ${STACK} --yes`]);
        assert.ok(!local.reportText().includes("\"pass\""), "the passphrase is not written");
    });

    it("a destroy that fails on a lock the interrupted CLI left is retried after pulumi cancel, then the stack is removed", async () => {
        const w = world({ destroy: (n) => (n === 1 ? Promise.reject(commandError("error: [409] Conflict: Another update is currently in progress.")) : Promise.resolve({})) });
        assert.equal(await w.run(), 0);
        assert.deepEqual(w.calls.slice(-5), ["destroy", "cancel", "destroy", `removeStack ${STACK}`, "leftovers"]);
        assert.equal(phase(w.report(), "destroy")?.attempts, 2);
        assert.equal(phase(w.report(), "destroy")?.ok, true);
    });

    it("stack rm fails: the leftover check still runs and the report gives the command", async () => {
        const w = world({ removeStack: () => Promise.reject(commandError("error: stack still has resources")) });
        const r = assertCleanedUp(w, await w.run(), "remove-stack");
        assert.deepEqual(r.cleanup, { destroyed: true, stackRemoved: false, commands: [`npx pulumi stack rm ${STACK} --yes`] });
    });

    it("the leftover check finds something, or cannot check: fails and lists it", async () => {
        const checks: LeftoverCheck[] = [
            { kind: "Cloud Storage bucket", name: `vllm-cloudrun-${STACK}-src-my-proj`, how: "name", state: "exists", removeCommand: `gcloud storage rm --recursive gs://vllm-cloudrun-${STACK}-src-my-proj` },
            { kind: "service account", name: `vllm-cloudrun-${STACK}-run@my-proj.iam.gserviceaccount.com`, how: "name", state: "unknown", detail: "HTTP 403 PERMISSION_DENIED", removeCommand: "" },
            { kind: "Secret Manager secret", name: `vllm-cloudrun-${STACK}-hf-token`, how: "name", state: "gone", removeCommand: "" },
        ];
        const w = world({ leftovers: () => Promise.resolve(checks) });
        const r = assertCleanedUp(w, await w.run(), "leftovers");
        assert.deepEqual(r.leftovers, { checked: 3, remaining: [checks[0]], unchecked: [checks[1]] });
        assert.equal(phase(r, "leftovers")?.error, "1 left behind, 1 could not be checked");
        assert.match(w.lines.join("\n"), /could not check: service account vllm-cloudrun-e2e-abc123-run@my-proj\.iam\.gserviceaccount\.com: HTTP 403 PERMISSION_DENIED/);

        const broken = world({ leftovers: () => Promise.reject(new Error("network down")) });
        assertCleanedUp(broken, await broken.run(), "leftovers");
        assert.deepEqual(broken.report().leftovers, { checked: 0, remaining: [], unchecked: [], error: "network down" });
        assert.match(broken.lines.join("\n"), /left behind: unknown, the check failed: network down/);
    });

    it("setting the config fails after the stack exists: the empty stack is still destroyed and removed", async () => {
        const w = world({ setAllConfig: () => Promise.reject(commandError("error: invalid config")) });
        assertCleanedUp(w, await w.run(), "create");
        assert.ok(!w.calls.includes("up"));
    });

    it("the stack cannot be created (it already exists): nothing of it is touched", async () => {
        const w = world({ createStack: () => Promise.reject(commandError("error: stack 'e2e-abc123' already exists")) });
        assert.equal(await w.run(), 1);
        assert.deepEqual(w.calls, ["pulumi", "whoami", `createStack ${STACK}`]);
        const r = w.report();
        assert.equal(r.failedPhase, "create");
        assert.deepEqual(r.phases.filter((p) => !p.skipped).map((p) => p.name), ["create"]);
        assert.deepEqual(r.cleanup, { destroyed: false, stackRemoved: false, commands: [] });
        assert.equal(r.cost.estimateUsd, 0);
    });
});

describe("npm run e2e: interrupts", () => {
    /** An `up` that a signal arrives during; it ends as the Automation API does once the CLI has cancelled. */
    const CANCELLING = "^C received; cancelling. If you would like to terminate immediately, press ^C again.\n";
    const interruptedUp = (cliSays: "nothing" | "output" | "event") => (o: UpOptions, signal: (s: string) => void) => {
        signal("SIGINT");
        const cliSawIt = cliSays !== "nothing";
        if (cliSays === "output") o.onOutput?.(CANCELLING);
        if (cliSays === "event") o.onEvent?.({ sequence: 7, timestamp: 0, stdoutEvent: { message: CANCELLING, color: "always" } });
        return new Promise<{ outputs: OutputMap }>((_, reject) => {
            const cancelled = () => reject(commandError("error: update canceled"));
            if (cliSawIt) setImmediate(cancelled);
            else o.signal?.addEventListener("abort", cancelled);
        });
    };

    it("a signal during up the CLI did not get (kill -INT): the CLI is sent one SIGINT, then destroy, stack rm, leftover check", async () => {
        const w = world({ up: interruptedUp("nothing") });
        const code = await w.run();
        assert.equal(code, 130);
        assert.equal(w.seen.upOptions?.signal?.aborted, true, "the running up was cancelled");
        assert.deepEqual(w.calls, [...HAPPY.slice(0, 6), "destroy", `removeStack ${STACK}`, "leftovers"]);
        const r = w.report();
        assert.deepEqual(r.interrupted, { signal: "SIGINT", exitedEarly: false });
        assert.equal(r.failedPhase, "up");
        assert.match(phase(r, "up")?.error ?? "", /^interrupted by SIGINT: error: update canceled/);
        assert.deepEqual(r.cleanup, { destroyed: true, stackRemoved: true, commands: [] });
        assert.match(w.lines.join("\n"), /SIGINT: stopping up, then destroying the stack\. Press Ctrl-C again to exit at once/);
        assert.match(w.lines.join("\n"), /sending the Pulumi CLI one SIGINT/);
    });

    it("Ctrl-C in a terminal during up (the CLI got it too): no second SIGINT, which would make Pulumi terminate at once", async () => {
        for (const says of ["output", "event"] as const) {
            const w = world({ up: interruptedUp(says) });
            assert.equal(await w.run(), 130);
            assert.equal(w.seen.upOptions?.signal?.aborted, false, `the CLI said so in its ${says}`);
            assert.deepEqual(w.calls.slice(-3), ["destroy", `removeStack ${STACK}`, "leftovers"]);
        }
        assert.ok(CLI_SIGNAL_GRACE_MS >= 1000);
    });

    it("a signal during the smoke test stops waiting for it and cleans up", async () => {
        const w = world({ smoke: (signal) => { signal("SIGTERM"); return new Promise<SmokeReport>(() => undefined); } });
        assert.equal(await w.run(), 143);
        assert.deepEqual(w.calls, [...HAPPY.slice(0, 8), "destroy", `removeStack ${STACK}`, "leftovers"]);
        assert.equal(phase(w.report(), "smoke")?.error, "interrupted by SIGTERM");
    });

    it("a second signal exits at once, without waiting for the running operation, with what is left and how to remove it", async () => {
        const w = world({
            up: (_o, signal) => {
                signal("SIGINT");
                signal("SIGINT");
                return new Promise(() => undefined); // a CLI that does not stop
            },
        });
        void w.run();
        await until(() => w.exits.length > 0);
        assert.deepEqual(w.exits, [130]);
        assert.deepEqual(w.calls, [...HAPPY.slice(0, 6), "exit 130"], "exited without waiting for up or destroying");
        const r = w.report();
        assert.deepEqual(r.interrupted, { signal: "SIGINT", exitedEarly: true });
        assert.equal(r.cleanup.destroyed, false);
        assert.equal(r.cleanup.commands[0], `npx pulumi destroy --stack ${STACK} --yes`);
        const text = w.lines.join("\n");
        assert.match(text, /SIGINT again: exiting now, without waiting for up\./);
        assert.match(text, new RegExp(`The stack ${STACK} may still own what \`up\` created: vllm-cloudrun-${STACK}, `));
        assert.match(text, new RegExp(`^  npx pulumi destroy --stack ${STACK} --yes$`, "m"));
        assert.match(text, new RegExp(`^  npx pulumi stack rm ${STACK} --yes$`, "m"));
        assert.match(text, /gcloud run services delete vllm-cloudrun-e2e-abc123 --region us-east4 --project my-proj --quiet/);
    });

    it("a signal during destroy lets the cleanup go on; a second one exits at once", async () => {
        const exitsAfterFirst: number[] = [];
        const w = world({
            destroy: (_attempt, signal) => {
                signal("SIGINT");
                exitsAfterFirst.push(...w.exits);
                signal("SIGINT");
                return new Promise(() => undefined);
            },
        });
        void w.run();
        await until(() => w.exits.length > 0);
        assert.deepEqual(exitsAfterFirst, [], "the first signal does not stop the cleanup");
        assert.deepEqual(w.exits, [130]);
        assert.ok(!w.calls.includes(`removeStack ${STACK}`));
        assert.match(w.lines.join("\n"), /SIGINT: cleanup continues \(destroy\)/);
        assert.equal(w.report().cleanup.commands[0], `npx pulumi destroy --stack ${STACK} --yes`);
    });
});

describe("npm run e2e: refusals, before anything is touched", () => {
    const cases: [string, string[], Script, RegExp][] = [
        ["no --project", ["--yes"], {}, /^--project PROJECT_ID is required/],
        ["a project name instead of an id", ["--project", "My Project", "--yes"], {}, /^--project "My Project" is not a Google Cloud project id/],
        ["no --yes", ["--project", "my-proj"], {}, /^Not started: add --yes to create these billable resources in my-proj\.$/],
        ["no HF_TOKEN", ["--project", "my-proj", "--yes"], { env: { HF_TOKEN: undefined } }, /^HF_TOKEN is not set: export a Hugging Face token/],
        ["an empty HF_TOKEN", ["--project", "my-proj", "--yes"], { env: { HF_TOKEN: "" } }, /^HF_TOKEN is not set/],
        ["a token flag", ["--project", "my-proj", "--yes", "--hf-token", "x"], {}, /Unknown option '--hf-token'/],
        ["an unknown flag", ["--project", "my-proj", "--yes", "--keep-on-failure"], {}, /Unknown option '--keep-on-failure'.*\(usage: npm run e2e -- --help\)$/],
        ["a positional argument", ["--project", "my-proj", "--yes", "now"], {}, /Unexpected argument 'now'/],
        ["a stack name too long for the service account ids", ["--project", "my-proj", "--yes", "--stack", "e2e-much-too-long"], {}, /^--stack "e2e-much-too-long" gives the runtime service account id "vllm-cloudrun-e2e-much-too-long-run", but service account ids are 6-30 characters .*: use a stack name of at most 10 characters$/],
        ["a stack name Pulumi refuses", ["--project", "my-proj", "--yes", "--stack", "e2e/x"], {}, /^--stack "e2e\/x": Pulumi stack names are/],
    ];
    for (const [what, argv, script, message] of cases) {
        it(`${what}: one clear line, non-zero exit, no Pulumi or cloud call`, async () => {
            const w = world(script);
            const code = await main(argv, w.inject);
            assert.notEqual(code, 0);
            assert.equal(w.stderr.length, 1, w.stderr.join("\n"));
            assert.ok(!w.stderr[0].includes("\n"), "one line");
            assert.match(w.stderr[0], message);
            assert.deepEqual(w.calls, []);
            assert.equal(fs.existsSync(w.reportPath), false);
        });
    }

    it("without --yes it first says what it would create and what a run costs", async () => {
        const w = world();
        assert.equal(await main(["--project", "my-proj"], w.inject), 2);
        const text = w.lines.join("\n");
        assert.match(text, /create the Pulumi stack e2e-abc123/);
        assert.match(text, /the Cloud Run service vllm-cloudrun-e2e-abc123 with one nvidia-l4 \(us-east4\)/);
        assert.match(text, /vllm-cloudrun-e2e-abc123-dockerhub \(us-central1\)/);
        assert.match(text, /One run costs roughly \$1\.55 at most: a GPU instance for at most 45 min at \$1\.42\/h \(\$1\.07\) \+ Cloud Build for at most 30 min at \$0\.016\/min \(\$0\.48\)/);
    });

    it("a passphrase backend without PULUMI_CONFIG_PASSPHRASE: refused after whoami, before any stack exists", async () => {
        const w = world({ backendUrl: "file://~", env: { PULUMI_CONFIG_PASSPHRASE: undefined, PULUMI_CONFIG_PASSPHRASE_FILE: undefined } });
        assert.equal(await w.run(), 2);
        assert.deepEqual(w.calls, ["pulumi", "whoami"]);
        assert.equal(w.stderr.length, 1);
        assert.match(w.stderr[0], /^Your Pulumi backend \(file:\/\/~\) encrypts stack secrets with a passphrase .* export PULUMI_CONFIG_PASSPHRASE/);

        const ok = world({ backendUrl: "gs://my-state", env: { PULUMI_CONFIG_PASSPHRASE: "" } });
        assert.equal(await ok.run(), 0, "an empty passphrase is still a passphrase");
    });

    it("--help prints the usage and exits 0 without touching anything", async () => {
        const w = world();
        assert.equal(await main(["--help"], w.inject), 0);
        assert.match(w.lines.join("\n"), /^usage: npm run e2e -- --project PROJECT_ID --yes/);
        assert.match(w.lines.join("\n"), /HF_TOKEN only/);
        assert.deepEqual(w.calls, []);
    });
});

describe("npm run e2e: the token", () => {
    it("is set only as a secret and appears in nothing shown or written, even when a tool echoes it", async () => {
        const leak = `error: Hugging Face answered 401 for token ${TOKEN}`;
        for (const script of [
            {},
            { up: (o: UpOptions) => { o.onOutput?.(`debug: token=${TOKEN.slice(0, 10)}`); o.onOutput?.(`${TOKEN.slice(10)} end\n`); return Promise.reject(commandError(leak)); } },
            { smoke: () => Promise.reject(new Error(leak)) },
            { destroy: () => Promise.reject(new Error(leak)) },
        ] satisfies Script[]) {
            const w = world(script);
            await w.run();
            assert.deepEqual(w.config.hfToken, { value: TOKEN, secret: true });
            assert.ok(!w.reportText().includes(TOKEN), "not in the report");
            assert.ok(!w.lines.join("\n").includes(TOKEN), "not in anything shown");
            assert.ok(!w.reportText().includes(TOKEN.slice(3, 20)), "not even in part");
        }
        const echoed = world({ up: (o) => { o.onOutput?.(`token=${TOKEN}\n`); return Promise.reject(commandError(leak)); } });
        await echoed.run();
        assert.ok(echoed.lines.includes("token=[hidden]"));
        assert.match(phase(echoed.report(), "up")?.error ?? "", /for token \[hidden\]/);
    });
});

describe("npm run e2e: the token reaches the Pulumi CLI on stdin, not on its command line", () => {
    it("runs exactly `pulumi config set --secret hfToken --stack NAME --non-interactive` and writes the token to its stdin", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "e2e-pipe-"));
        try {
            // A strict stand-in for the CLI: any other argv fails, as the real one would with a value on it.
            const bin = path.join(dir, "pulumi");
            fs.writeFileSync(bin, `#!/bin/sh\n[ "$*" = "config set --secret hfToken --stack e2e-abc123 --non-interactive" ] || { echo "unexpected argv: $*" >&2; exit 2; }\ncat > "${dir}/stdin"\necho "$*" > "${dir}/argv"\n`, { mode: 0o755 });
            await pipeSecretConfig(bin, "e2e-abc123", "hfToken", "hf_FAKE-piped-token", dir);
            assert.equal(fs.readFileSync(path.join(dir, "stdin"), "utf8"), "hf_FAKE-piped-token");
            assert.ok(!fs.readFileSync(path.join(dir, "argv"), "utf8").includes("hf_FAKE"));
            // A CLI that exits before reading stdin (EPIPE on the write) is reported by its status, not a crash.
            for (let i = 0; i < 20; i++) {
                await assert.rejects(pipeSecretConfig(bin, "other", "hfToken", "x".repeat(1 << 16), dir), /npx pulumi config set --secret hfToken failed: unexpected argv/);
            }
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe("summarizeError", () => {
    it("keeps a Pulumi failure's error lines, not its whole output, and adds the known fix", () => {
        assert.equal(summarizeError(commandError("warning: x\nerror: boom\n")), "error: boom");
        assert.match(summarizeError(commandError("error: getting secrets manager: passphrase must be set with PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE environment variables")), /export PULUMI_CONFIG_PASSPHRASE/);
        assert.equal(summarizeError(new Error("plain")), "plain");
    });
});

describe("leftovers: what is still there after destroy", () => {
    const id = { pulumiProject: "vllm-cloudrun", stack: STACK, gcpProject: "my-proj", region: "us-east4", buildRegion: "us-central1" };
    const SERVICE = `https://run.googleapis.com/v2/projects/my-proj/locations/us-east4/services/vllm-cloudrun-${STACK}`;
    /** Google's REST APIs: given answers for exact GETs, 404 for the other names, empty lists unless given. */
    function google(answers: Record<string, GetResponse> = {}, lists: Record<string, unknown[]> = {}) {
        const asked: string[] = [];
        const get = (url: string): Promise<GetResponse> => {
            asked.push(url);
            const list = Object.keys(lists).find((prefix) => url.startsWith(prefix) && url.includes("?"));
            if (list !== undefined) return Promise.resolve({ status: 200, data: { services: lists[list], repositories: lists[list], secrets: lists[list], items: lists[list] } });
            if (url.includes("?")) return Promise.resolve(answers[url.split("?")[0] + "?"] ?? { status: 200, data: {} });
            return Promise.resolve(answers[url] ?? { status: 404, data: { error: { code: 404, status: "NOT_FOUND" } } });
        };
        return { get, asked };
    }

    it("looks up every resource of the stack by its exact name, in the right API and location", async () => {
        const g = google();
        const checks = await findLeftovers(id, g.get);
        assert.deepEqual(checks.map((c) => [c.kind, c.name, c.location ?? "", c.state]), [
            ["Cloud Run service", `vllm-cloudrun-${STACK}`, "us-east4", "gone"],
            ["Artifact Registry repository", `vllm-cloudrun-${STACK}`, "us-east4", "gone"],
            ["Artifact Registry repository", `vllm-cloudrun-${STACK}-dockerhub`, "us-central1", "gone"],
            ["Secret Manager secret", `vllm-cloudrun-${STACK}-hf-token`, "", "gone"],
            ["Secret Manager secret", `vllm-cloudrun-${STACK}-api-key`, "", "gone"],
            ["Secret Manager secret", `vllm-cloudrun-${STACK}-dockerhub-token`, "", "gone"],
            ["Cloud Storage bucket", `vllm-cloudrun-${STACK}-src-my-proj`, "", "gone"],
            ["Cloud Storage bucket", `vllm-cloudrun-${STACK}-weights-my-proj`, "", "gone"],
            ["service account", `vllm-cloudrun-${STACK}-run@my-proj.iam.gserviceaccount.com`, "", "gone"],
            ["service account", `vllm-cloudrun-${STACK}-build@my-proj.iam.gserviceaccount.com`, "", "gone"],
        ]);
        for (const url of [
            SERVICE,
            `https://artifactregistry.googleapis.com/v1/projects/my-proj/locations/us-central1/repositories/vllm-cloudrun-${STACK}-dockerhub`,
            `https://secretmanager.googleapis.com/v1/projects/my-proj/secrets/vllm-cloudrun-${STACK}-hf-token`,
            `https://storage.googleapis.com/storage/v1/b/vllm-cloudrun-${STACK}-src-my-proj`,
            `https://iam.googleapis.com/v1/projects/my-proj/serviceAccounts/vllm-cloudrun-${STACK}-build@my-proj.iam.gserviceaccount.com`,
        ]) assert.ok(g.asked.includes(url), url);
        // And the labelled kinds are listed in both regions.
        assert.ok(g.asked.includes("https://artifactregistry.googleapis.com/v1/projects/my-proj/locations/us-central1/repositories?pageSize=1000"));
        assert.ok(g.asked.includes("https://storage.googleapis.com/storage/v1/b?project=my-proj&maxResults=1000"));
    });

    it("200 for one resource and 404 for the rest: exactly that one is reported, with the command that removes it", async () => {
        const checks = await findLeftovers(id, google({ [SERVICE]: { status: 200, data: { name: "x" } } }).get);
        const left = checks.filter((c) => c.state !== "gone");
        assert.deepEqual(left, [{ kind: "Cloud Run service", name: `vllm-cloudrun-${STACK}`, location: "us-east4", how: "name", state: "exists", removeCommand: `gcloud run services delete vllm-cloudrun-${STACK} --region us-east4 --project my-proj --quiet` }]);
    });

    it("403 (or a network error) is 'could not check', with Google's reason, never 'gone'", async () => {
        const forbidden = { status: 403, data: { error: { code: 403, status: "PERMISSION_DENIED", message: "Permission 'iam.serviceAccounts.get' denied", details: [{ reason: "IAM_PERMISSION_DENIED" }] } } };
        const sa = `https://iam.googleapis.com/v1/projects/my-proj/serviceAccounts/vllm-cloudrun-${STACK}-run@my-proj.iam.gserviceaccount.com`;
        const checks = await findLeftovers(id, google({ [sa]: forbidden }).get);
        const unknown = checks.filter((c) => c.state === "unknown");
        assert.equal(unknown.length, 1);
        assert.equal(unknown[0].name, `vllm-cloudrun-${STACK}-run@my-proj.iam.gserviceaccount.com`);
        assert.equal(unknown[0].detail, "HTTP 403 PERMISSION_DENIED (IAM_PERMISSION_DENIED): Permission 'iam.serviceAccounts.get' denied");
        assert.equal(checks.filter((c) => c.state === "exists").length, 0);

        const offline = await findLeftovers(id, () => Promise.reject(new Error("getaddrinfo ENOTFOUND run.googleapis.com\nmore")));
        assert.ok(offline.every((c) => c.state === "unknown" && c.detail === "getaddrinfo ENOTFOUND run.googleapis.com"));
    });

    it("finds a resource by the stack's labels that the name lookup does not know; other stacks' resources are not reported", async () => {
        const ours = { app: "vllm-cloudrun", stack: STACK, "managed-by": "pulumi" };
        const g = google({}, {
            "https://storage.googleapis.com/storage/v1/b?": [
                { name: "renamed-bucket-of-this-stack", labels: ours },
                { name: "someone-elses", labels: { app: "vllm-cloudrun", stack: "dev" } },
                // A bucket the name lookup covers is decided by that lookup (here: 404, gone).
                { name: `vllm-cloudrun-${STACK}-src-my-proj`, labels: ours },
            ],
            "https://secretmanager.googleapis.com/v1/projects/my-proj/secrets?": [{ name: "projects/123456/secrets/old-token", labels: ours }],
        });
        const checks = await findLeftovers(id, g.get);
        assert.deepEqual(checks.filter((c) => c.state !== "gone").map((c) => [c.kind, c.name, c.how, c.removeCommand]), [
            ["Secret Manager secret", "old-token", "label", "gcloud secrets delete old-token --project my-proj --quiet"],
            ["Cloud Storage bucket", "renamed-bucket-of-this-stack", "label", "gcloud storage rm --recursive gs://renamed-bucket-of-this-stack"],
        ]);
    });

    it("a list that fails is reported as not checked", async () => {
        const g = google({ "https://run.googleapis.com/v2/projects/my-proj/locations/us-east4/services?": { status: 403, data: { error: { status: "PERMISSION_DENIED" } } } });
        const unknown = (await findLeftovers(id, g.get)).filter((c) => c.state === "unknown");
        assert.deepEqual(unknown.map((c) => [c.kind, c.name, c.detail]), [["Cloud Run service", `(any labelled stack=${STACK} in us-east4)`, "HTTP 403 PERMISSION_DENIED"]]);
    });

    it("follows page tokens", async () => {
        const asked: string[] = [];
        const get = (url: string): Promise<GetResponse> => {
            asked.push(url);
            if (url.startsWith("https://storage.googleapis.com/storage/v1/b?")) {
                return Promise.resolve(url.includes("pageToken=p%2F2")
                    ? { status: 200, data: { items: [{ name: "page-two", labels: { app: "vllm-cloudrun", stack: STACK } }] } }
                    : { status: 200, data: { items: [], nextPageToken: "p/2" } });
            }
            return Promise.resolve(url.includes("?") ? { status: 200, data: {} } : { status: 404, data: {} });
        };
        const found = (await findLeftovers(id, get)).filter((c) => c.state === "exists");
        assert.deepEqual(found.map((c) => c.name), ["page-two"]);
    });

    it("adcGet asks google-auth-library for any status, so a 404 is an answer rather than an exception", async () => {
        const seen: unknown[] = [];
        const auth = { request: (opts: { url: string; method: string; validateStatus: (s: number) => boolean }) => { seen.push(opts); return Promise.resolve({ status: 404, data: { error: {} } }); } };
        const r = await adcGet(auth as unknown as GoogleAuth)(SERVICE);
        assert.deepEqual(r, { status: 404, data: { error: {} } });
        const opts = seen[0] as { url: string; method: string; validateStatus: (s: number) => boolean };
        assert.equal(opts.url, SERVICE);
        assert.equal(opts.method, "GET");
        assert.equal(opts.validateStatus(403), true);
    });
});

describe("the run's price from the table", () => {
    it("prices the default stack's instance with the GPU's default CPU and memory (cpu 0 and memory \"\" mean those)", async () => {
        const { defaultInstanceHourUsd, typicalRunCost } = await import("../client/e2e-report");
        assert.equal(defaultInstanceHourUsd("us-east4"), 1.42);
        // 45 minutes of one instance plus the build: what the README quotes as "at most about $1.55".
        assert.ok(typicalRunCost("us-east4").estimateUsd <= 1.55, String(typicalRunCost("us-east4").estimateUsd));
    });
});
