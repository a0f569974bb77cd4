// The run behind `npm run e2e`, with everything that touches the world injected: the stack
// (Pulumi's Automation API), the calls to the model, the leftover check, the clock, signals,
// output and the report file. Phases, in order: create stack + config, up, wait for ready,
// smoke, a short bench, a preview that must change nothing, destroy, stack rm, leftover check.
// Whatever fails or is interrupted once the stack exists, destroy is still attempted (and
// retried once); the stack is removed only after a successful destroy, because its state is
// what `npx pulumi destroy` needs to finish the job by hand.
import type { ConfigValue, DestroyOptions, EngineEvent, OpMap, OutputMap, PreviewOptions, StepEventMetadata, UpOptions } from "@pulumi/pulumi/automation";
import { Connection, pulumiHint } from "./index";
import type { SmokeReport } from "./smoke";
import { BenchOptions, BenchResult, everyRequestFailed } from "./bench";
import { LeftoverCheck, stackResources } from "./leftovers";
import { defaultInstanceHourUsd, E2eReport, PhaseName, PhaseRecord, PHASES, reportTable, runCost } from "./e2e-report";

/** The part of an Automation API Stack the run uses; a real `Stack` is one. */
export interface E2eStack {
    /**
     * Sets a secret config value by piping it to the CLI's `config set --secret KEY` on stdin: the
     * Automation API's setConfig would put the value on the CLI's command line, visible in `ps`.
     */
    setSecretConfig(key: string, value: string): Promise<void>;
    setAllConfig(config: Record<string, ConfigValue>): Promise<void>;
    up(opts?: UpOptions): Promise<{ outputs: OutputMap }>;
    preview(opts?: PreviewOptions): Promise<{ changeSummary: OpMap }>;
    destroy(opts?: DestroyOptions): Promise<unknown>;
    /** `npx pulumi cancel`, as the Automation API runs it: used only to clear an update an interrupted CLI left marked as running. */
    cancel(): Promise<void>;
    readonly workspace: { removeStack(stackName: string): Promise<void> };
}

export interface E2eDeps {
    /** Creates the stack (never selects an existing one). */
    createStack(stackName: string): Promise<E2eStack>;
    /** Polls /health until it answers 200 or the time is up; seconds waited. */
    waitReady(conn: Connection, timeoutSeconds: number): Promise<number>;
    smoke(conn: Connection): Promise<SmokeReport>;
    bench(conn: Connection, opts: BenchOptions): Promise<BenchResult>;
    leftovers(): Promise<LeftoverCheck[]>;
    now(): number;
    sleep(ms: number): Promise<void>;
    /** The run's own lines. */
    log(line: string): void;
    /** Pulumi's output, line by line as it streams. */
    out(line: string): void;
    /** Subscribes to SIGINT and SIGTERM; returns the unsubscribe function. */
    onSignal(handler: (signal: string) => void): () => void;
    writeReport(path: string, text: string): void;
    /** Ends the process at once (a second signal). */
    exit(code: number): void;
}

export interface RunSettings {
    pulumiProject: string;
    stack: string;
    project: string;
    region: string;
    buildRegion: string;
    hfToken: string;
    reportPath: string;
    /** Model the stack deploys (Pulumi.yaml's default), for the report until `up` says. */
    model: string;
    /** The backend keeps secrets with a passphrase (every backend but Pulumi Cloud): commands to finish by hand need it. */
    passphraseBackend: boolean;
    readyTimeoutSeconds?: number;
}

/** The benchmark: two small levels, a few short requests, bounded in time and count. */
export const E2E_BENCH: BenchOptions = { levels: [1, 4], requestsPerLevel: (c) => 2 * c, maxTokens: 64, coldStart: true, maxSeconds: 180, maxRequests: 20 };

/** How long the CLI gets to say it saw the terminal's Ctrl-C itself before it is sent one. */
export const CLI_SIGNAL_GRACE_MS = 5000;
/** Before destroy's one retry: lets deletions that just finished settle (IAM, service agents). */
export const DESTROY_RETRY_DELAY_MS = 30_000;
const READY_TIMEOUT_SECONDS = 900;

const MAIN_PHASES: readonly PhaseName[] = ["create", "up", "ready", "smoke", "bench", "preview"];
/** What the Pulumi CLI prints when it starts cancelling on a signal (pkg/cmd/pulumi cancellation scope). */
const CLI_CANCELLING = /(\^C|SIGINT|SIGTERM) received; cancelling/;
/** A lock or an update still marked as running, left by an interrupted CLI: `npx pulumi cancel` clears it. */
const STALE_UPDATE = /Another update is currently in progress|is currently locked|\[409\] Conflict/;

export interface E2eOutcome {
    code: number;
    report: E2eReport;
}

class Interrupted extends Error {
    constructor(readonly signal: string) {
        super(`interrupted by ${signal}`);
    }
}

/** Replaces every occurrence of the secret. */
export function redactor(secret: string): (text: string) => string {
    return (text) => (secret === "" ? text : text.split(secret).join("[hidden]"));
}

/**
 * The gist of an error for the report: for a Pulumi CLI failure (whose message holds the whole
 * stdout and stderr) its `error:` lines, else its last lines; and the fix, when one is known.
 */
export function summarizeError(e: unknown): string {
    if (e instanceof Interrupted) return e.message;
    const text = e instanceof Error ? e.message : String(e);
    const stderr = /\n stderr: ([\s\S]*?)\n err\?: /.exec(text)?.[1]?.trim();
    const body = stderr !== undefined && stderr !== "" ? stderr : text;
    const lines = body.split("\n").map((l) => l.trim()).filter((l) => l !== "");
    const errors = lines.filter((l) => /\berror\b/i.test(l));
    const gist = (errors.length > 0 ? errors : lines.slice(-5)).join(" | ");
    const hint = pulumiHint(body);
    const short = gist.length > 1500 ? `${gist.slice(0, 1500)}…` : gist;
    return hint ? `${short} (${hint})` : short;
}

/** Writes whole lines, redacted, and keeps the rest of a chunk until its line ends. */
function lineWriter(write: (line: string) => void, redact: (s: string) => string) {
    let pending = "";
    return {
        write(chunk: string) {
            const parts = (pending + chunk).split("\n");
            pending = parts.pop() ?? "";
            for (const line of parts) write(redact(line));
        },
        flush() {
            if (pending !== "") write(redact(pending));
            pending = "";
        },
    };
}

const plainOutputs = (o: OutputMap): Record<string, unknown> => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v.value]));

/** The deployed model's address from the stack outputs (the e2e stack has no API key). */
export function connectionOf(outputs: Record<string, unknown>): Connection {
    const url = outputs.serviceUrl;
    const model = outputs.servedModelName;
    if (typeof url !== "string" || typeof model !== "string") throw new Error("`up` finished without serviceUrl and servedModelName outputs");
    return { url, model };
}

/** `update vllm-cloudrun-e2e-abc123 (gcp:cloudrunv2/service:Service) [template]` */
function describeStep(m: StepEventMetadata): string {
    return `${m.op} ${m.urn.split("::").pop() ?? m.urn} (${m.type})${m.diffs && m.diffs.length > 0 ? ` [${m.diffs.join(", ")}]` : ""}`;
}

/** Config of the e2e stack: only what differs from Pulumi.yaml's defaults or must not depend on them. */
export function stackConfig(s: RunSettings): Record<string, ConfigValue> {
    return {
        "gcp:project": { value: s.project },
        "gcp:region": { value: s.region },
        minInstances: { value: "0" },
        maxInstances: { value: "1" },
        // The run calls the model itself, with timings.
        smokeTest: { value: "false" },
        deletionProtection: { value: "false" },
    };
}

/** What every Pulumi operation gets: streamed output, engine events and, when it may be stopped, the abort signal. */
interface OpOptions {
    onOutput(text: string): void;
    onError(text: string): void;
    onEvent(ev: EngineEvent): void;
    signal?: AbortSignal;
}

interface RunningOp {
    controller: AbortController;
    /** The CLI said it is cancelling: it got the signal itself (Ctrl-C reaches its process group too). */
    cliCancelling: boolean;
    done: boolean;
}

export async function runE2e(s: RunSettings, deps: E2eDeps): Promise<E2eOutcome> {
    const identity = { pulumiProject: s.pulumiProject, stack: s.stack, gcpProject: s.project, region: s.region, buildRegion: s.buildRegion };
    const redact = redactor(s.hfToken);
    const log = (line: string) => deps.log(redact(line));
    const startedMs = deps.now();
    const records: PhaseRecord[] = PHASES.map((name) => ({ name, start: null, end: null, seconds: null, ok: false, skipped: true }));
    const times = new Map<PhaseName, { startMs: number; endMs?: number }>();
    const record = (name: PhaseName) => records.find((r) => r.name === name) as PhaseRecord;
    let current: PhaseName | undefined;
    let failedPhase: PhaseName | undefined;

    let stack: E2eStack | undefined;
    let outputs: Record<string, unknown> = {};
    let readySeconds: number | undefined;
    let smokeReport: SmokeReport | undefined;
    let benchResult: BenchResult | undefined;
    let preview: E2eReport["preview"] = null;
    let leftovers: LeftoverCheck[] | undefined;
    let destroyed = false;
    let removed = false;
    let finished = false;

    let signalName: string | undefined;
    let signals = 0;
    let op: RunningOp | undefined;
    let wake: (e: Error) => void = () => undefined;
    const interrupted = new Promise<never>((_, reject) => {
        wake = reject;
    });
    interrupted.catch(() => undefined);
    /** A wait that a signal ends at once (the request in flight is abandoned; the process exits at the end). */
    const interruptible = <T>(p: Promise<T>): Promise<T> => Promise.race([p, interrupted]);

    async function phase<T>(name: PhaseName, fn: () => Promise<T>): Promise<T> {
        if (signalName !== undefined && MAIN_PHASES.includes(name)) throw new Interrupted(signalName);
        const rec = record(name);
        const startMs = deps.now();
        times.set(name, { startMs });
        Object.assign(rec, { start: new Date(startMs).toISOString(), skipped: false });
        current = name;
        log(`== ${name}`);
        try {
            const value = await fn();
            rec.ok = true;
            return value;
        } catch (e) {
            const byInterrupt = signalName !== undefined && MAIN_PHASES.includes(name) && !(e instanceof Interrupted);
            rec.error = redact(byInterrupt ? `interrupted by ${signalName}: ${summarizeError(e)}` : summarizeError(e));
            failedPhase ??= name;
            log(`${name} failed: ${rec.error}`);
            throw e;
        } finally {
            const endMs = deps.now();
            times.set(name, { startMs, endMs });
            Object.assign(rec, { end: new Date(endMs).toISOString(), seconds: Math.round((endMs - startMs) / 100) / 10 });
            current = undefined;
        }
    }
    const attempt = (name: PhaseName, fn: () => Promise<unknown>): Promise<boolean> => phase(name, fn).then(() => true, () => false);

    /** A Pulumi operation with its output streamed; `abortable` ones stop on the first signal. */
    async function pulumiOp<T>(start: (o: OpOptions) => Promise<T>, abortable: boolean, onEvent?: (ev: EngineEvent) => void): Promise<T> {
        const running: RunningOp = { controller: new AbortController(), cliCancelling: false, done: false };
        const watch = (text: string) => {
            if (CLI_CANCELLING.test(text)) running.cliCancelling = true;
        };
        const show = (line: string) => {
            watch(line);
            deps.out(line);
        };
        const stdout = lineWriter(show, redact);
        const stderr = lineWriter(show, redact);
        if (abortable) op = running;
        try {
            return await start({
                onOutput: (t) => stdout.write(t),
                onError: (t) => stderr.write(t),
                // The engine's own events carry the CLI's messages too, whatever its display prints when.
                onEvent: (ev) => {
                    if (ev.stdoutEvent) watch(ev.stdoutEvent.message);
                    onEvent?.(ev);
                },
                ...(abortable ? { signal: running.controller.signal } : {}),
            });
        } finally {
            running.done = true;
            if (op === running) op = undefined;
            stdout.flush();
            stderr.flush();
        }
    }

    /**
     * Stops a running Pulumi operation the way Ctrl-C on `npx pulumi up` does: one SIGINT, after which
     * Pulumi finishes the resource operations in flight and saves the state. A terminal's Ctrl-C
     * reaches the CLI too (same process group), and a second SIGINT would make it terminate at
     * once, leaving pending operations: so it is sent only when the CLI has not said it got one.
     */
    async function stopOperation(running: RunningOp): Promise<void> {
        for (let waited = 0; waited < CLI_SIGNAL_GRACE_MS && !running.cliCancelling && !running.done; waited += 250) await deps.sleep(250);
        if (!running.cliCancelling && !running.done) {
            log("sending the Pulumi CLI one SIGINT: it cancels gracefully");
            running.controller.abort();
        }
    }

    const onSignal = (signal: string) => {
        if (finished) return;
        signals++;
        if (signals > 1) {
            exitNow(signal);
            return;
        }
        signalName = signal;
        if (current !== undefined && !MAIN_PHASES.includes(current)) {
            log(`${signal}: cleanup continues (${current}) so that nothing is left. ${signal === "SIGINT" ? "Press Ctrl-C" : "Send it"} again to exit at once and leave what exists.`);
            return;
        }
        log(`${signal}: stopping ${current ?? "the run"}, then destroying the stack. ${signal === "SIGINT" ? "Press Ctrl-C" : "Send it"} again to exit at once and leave what exists.`);
        wake(new Interrupted(signal));
        if (op) void stopOperation(op);
    };

    /** Commands that finish what the run could not. */
    function finishCommands(): string[] {
        if (stack === undefined) return [];
        if (!destroyed) {
            return [
                ...(s.passphraseBackend ? ["# first: export PULUMI_CONFIG_PASSPHRASE=... (the passphrase this run used)"] : []),
                `npx pulumi destroy --stack ${s.stack} --yes`,
                `npx pulumi stack rm ${s.stack} --yes`,
                `# if destroy says the stack is locked or an update is in progress: npx pulumi cancel --stack ${s.stack} --yes`,
                `# if it reports pending operations: npx pulumi refresh --stack ${s.stack} --clear-pending-creates --yes`,
            ];
        }
        return removed ? [] : [`npx pulumi stack rm ${s.stack} --yes`];
    }

    function buildReport(code: number, exitedEarly: boolean): E2eReport {
        const endMs = deps.now();
        const up = times.get("up");
        const destroy = times.get("destroy");
        const perHour = (outputs.costEstimate as { perInstanceHour?: unknown } | undefined)?.perInstanceHour;
        const fromOutputs = typeof perHour === "number";
        const levels = benchResult?.levels ?? [];
        const remaining = (leftovers ?? []).filter((l) => l.state === "exists");
        const unchecked = (leftovers ?? []).filter((l) => l.state === "unknown");
        const commands = finishCommands();
        if (!destroyed && stack !== undefined) commands.push(...stackResources(identity).map((r) => `# if Pulumi no longer tracks it: ${r.removeCommand}`));
        return {
            stack: s.stack,
            project: s.project,
            region: s.region,
            buildRegion: s.buildRegion,
            model: typeof outputs.servedModelName === "string" ? outputs.servedModelName : s.model,
            startedAt: new Date(startedMs).toISOString(),
            endedAt: new Date(endMs).toISOString(),
            passed: code === 0,
            exitCode: code,
            failedPhase: failedPhase ?? null,
            interrupted: signalName === undefined ? null : { signal: signalName, exitedEarly },
            phases: records.map((r) => ({ ...r })),
            coldStart: {
                upEndToHealthySeconds: readySeconds ?? null,
                firstRequestToFirstTokenMs: benchResult?.coldStartMs ?? null,
                note: "upEndToHealthySeconds: from the end of `up` (Cloud Run has started the revision) to the first 200 from /health. firstRequestToFirstTokenMs: the benchmark's first request; a true cold start only if Cloud Run had scaled the service to zero by then, which at minInstances 0 takes minutes of idleness.",
            },
            smoke: smokeReport ? { timeToFirstTokenMs: smokeReport.timeToFirstTokenMs, tokensPerSecond: Math.round(smokeReport.tokensPerSecond * 10) / 10, models: smokeReport.models } : null,
            bench: benchResult
                ? {
                      maxTokens: benchResult.maxTokens,
                      levels: levels.map((l) => ({ concurrency: l.concurrency, requests: l.requests, ok: l.ok, tokensPerSecond: l.tokensPerSecond, perStreamTokensPerSecond: l.perStreamTokensPerSecond, ttftP50Ms: Number.isFinite(l.ttftMs.p50) ? l.ttftMs.p50 : null })),
                      bestTokensPerSecond: levels.length > 0 ? Math.max(...levels.map((l) => l.tokensPerSecond)) : null,
                      truncated: benchResult.truncated,
                  }
                : null,
            preview,
            cost: runCost(
                { upStartMs: up?.startMs, upEndMs: up?.endMs, endMs: destroyed && destroy?.endMs !== undefined ? destroy.endMs : endMs, destroyed },
                fromOutputs ? perHour : defaultInstanceHourUsd(s.region),
                fromOutputs ? "stack output costEstimate.perInstanceHour" : "price table (config/pricing.ts): the stack has no outputs",
            ),
            leftovers: leftovers
                ? { checked: leftovers.length, remaining, unchecked }
                : record("leftovers").skipped ? null : { checked: 0, remaining: [], unchecked: [], error: record("leftovers").error ?? "no answer" },
            cleanup: { destroyed, stackRemoved: removed, commands },
        };
    }

    function writeReport(report: E2eReport): void {
        try {
            deps.writeReport(s.reportPath, redact(JSON.stringify(report, null, 2)) + "\n");
        } catch (e) {
            log(`could not write the report to ${s.reportPath}: ${summarizeError(e)}`);
        }
    }

    const signalCode = (signal: string) => (signal === "SIGTERM" ? 143 : 130);

    function exitNow(signal: string): void {
        finished = true;
        log(`${signal} again: exiting now${current ? `, without waiting for ${current}` : ""}.`);
        const report = buildReport(signalCode(signalName ?? signal), true);
        writeReport(report);
        if (stack !== undefined && !destroyed) {
            log(`The stack ${s.stack} may still own what \`up\` created: ${stackResources(identity).map((r) => r.name).join(", ")} (whichever exist).`);
        }
        if (stack === undefined) log(`If \`npx pulumi stack ls\` lists ${s.stack}: npx pulumi stack rm ${s.stack} --yes`);
        if (report.cleanup.commands.length > 0) log("to finish the cleanup, from this repository's directory:");
        for (const command of report.cleanup.commands) log(`  ${command}`);
        log(`report: ${s.reportPath}`);
        deps.exit(report.exitCode);
    }

    const unsubscribe = deps.onSignal(onSignal);
    log(`e2e: stack ${s.stack} in project ${s.project} (${s.region}); report: ${s.reportPath}. Ctrl-C once stops and cleans up, twice exits at once.`);
    try {
        try {
            await phase("create", async () => {
                stack = await deps.createStack(s.stack);
                await stack.setAllConfig(stackConfig(s));
                // Only from the environment, stored encrypted as the program requires.
                await stack.setSecretConfig("hfToken", s.hfToken);
            });
            const created = stack as E2eStack;
            const up = await phase("up", () => pulumiOp((o) => created.up(o), true));
            outputs = plainOutputs(up.outputs);
            const upEnd = deps.now();
            const conn = await phase("ready", async () => {
                const c = connectionOf(outputs);
                await interruptible(deps.waitReady(c, s.readyTimeoutSeconds ?? READY_TIMEOUT_SECONDS));
                readySeconds = Math.round((deps.now() - upEnd) / 100) / 10;
                return c;
            });
            smokeReport = await phase("smoke", () => interruptible(deps.smoke(conn)));
            const perHour = (outputs.costEstimate as { perInstanceHour?: number } | undefined)?.perInstanceHour;
            const ceiling = (outputs.gpuMemoryEstimate as { singleStreamCeilingTokensPerSecond?: number } | undefined)?.singleStreamCeilingTokensPerSecond;
            benchResult = await phase("bench", async () => {
                const r = await interruptible(deps.bench(conn, { ...E2E_BENCH, instanceHourUsd: perHour, ceilingTokensPerSecond: ceiling }));
                if (everyRequestFailed(r)) throw new Error(`every benchmark request failed${r.levels[0]?.firstError ? `; first error: ${r.levels[0].firstError}` : ""}`);
                return r;
            });
            await phase("preview", async () => {
                const changes: string[] = [];
                const onEvent = (ev: EngineEvent) => {
                    const m = ev.resourcePreEvent?.metadata;
                    if (m && m.op !== "same") changes.push(describeStep(m));
                };
                const r = await pulumiOp((o) => created.preview(o), true, onEvent);
                preview = { changeSummary: r.changeSummary, changes };
                const changed = Object.entries(r.changeSummary).filter(([kind, n]) => kind !== "same" && (n ?? 0) > 0);
                if (changed.length > 0) {
                    throw new Error(`the second preview proposes changes (${changed.map(([kind, n]) => `${kind}: ${n}`).join(", ")})${changes.length > 0 ? `: ${changes.slice(0, 10).join("; ")}` : ""}`);
                }
            });
        } catch {
            // Recorded by the phase; cleanup follows.
        }

        // Cleanup: only a stack this run created (never one that already existed).
        const created = stack;
        if (created !== undefined) {
            destroyed = await attempt("destroy", async () => {
                const destroy = () => pulumiOp((o) => created.destroy(o), false);
                try {
                    await destroy();
                } catch (first) {
                    record("destroy").attempts = 2;
                    log(`destroy failed (${summarizeError(first)}); retrying once in ${DESTROY_RETRY_DELAY_MS / 1000} s`);
                    await deps.sleep(DESTROY_RETRY_DELAY_MS);
                    if (STALE_UPDATE.test(first instanceof Error ? first.message : String(first))) {
                        log("the stack is still marked as being updated by the interrupted CLI: clearing that with `npx pulumi cancel`");
                        await created.cancel().catch((e: unknown) => log(`npx pulumi cancel failed: ${summarizeError(e)}`));
                    }
                    await destroy();
                }
            });
            if (destroyed) removed = await attempt("remove-stack", () => created.workspace.removeStack(s.stack));
            await attempt("leftovers", async () => {
                leftovers = await deps.leftovers();
                const left = leftovers.filter((l) => l.state === "exists").length;
                const unknown = leftovers.filter((l) => l.state === "unknown").length;
                if (left + unknown > 0) throw new Error(`${left} left behind, ${unknown} could not be checked`);
            });
        }
    } finally {
        unsubscribe();
    }
    finished = true;
    const passed = records.every((r) => r.ok) && signalName === undefined;
    const code = signalName !== undefined ? signalCode(signalName) : passed ? 0 : 1;
    const report = buildReport(code, false);
    writeReport(report);
    for (const line of reportTable(report, s.reportPath)) log(line);
    return { code, report };
}
