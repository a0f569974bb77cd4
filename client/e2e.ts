// `npm run e2e -- --project PROJECT_ID --yes`: deploys a throwaway stack of this program to your
// Google Cloud project, checks it end to end and removes it again (client/e2e-run.ts). It costs
// money, so it refuses to start without an explicit project and --yes. The Hugging Face token
// comes only from the HF_TOKEN environment variable: a flag would land in shell history and in
// every `ps` listing.
import { execFile } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { parseArgs } from "util";
import { DEFAULTS } from "../config";
import { DEFAULT_REGION } from "../config/gpus";
import { defaultBuildRegion, PROJECT_ID, REGION_NAME } from "../config/limits";
import { nameProblems, resourceNames } from "../config/names";
import { authorizedFetch, defaultIdTokens, describeError } from "./index";
import { bench } from "./bench";
import { smoke, waitForHealth } from "./smoke";
import { adcGet, findLeftovers } from "./leftovers";
import { E2E_BENCH, E2eDeps, E2eStack, RunSettings, runE2e, summarizeError } from "./e2e-run";
import { BUILD_MACHINE, TYPICAL_MINUTES, typicalRunCost } from "./e2e-report";

const ROOT = path.resolve(__dirname, "..");

export const E2E_USAGE = [
    "usage: npm run e2e -- --project PROJECT_ID --yes [--region us-east4] [--stack e2e-XXXXXX] [--report e2e-report.json]",
    "The Hugging Face token is read from HF_TOKEN only, e.g.: read -rs HF_TOKEN && export HF_TOKEN",
].join("\n");

export interface E2eArgs {
    project?: string;
    yes: boolean;
    region: string;
    stack?: string;
    report: string;
    help: boolean;
}

/** The command line, strictly: unknown flags and positionals throw. */
export function parseE2eArgs(argv: string[]): E2eArgs {
    const { values } = parseArgs({
        args: argv,
        options: {
            project: { type: "string" },
            yes: { type: "boolean" },
            region: { type: "string" },
            stack: { type: "string" },
            report: { type: "string" },
            help: { type: "boolean", short: "h" },
        },
        strict: true,
        allowPositionals: false,
    });
    return { project: values.project, yes: values.yes ?? false, region: values.region ?? DEFAULT_REGION, stack: values.stack, report: values.report ?? "e2e-report.json", help: values.help ?? false };
}

/** The Pulumi project name, from Pulumi.yaml. */
export function pulumiProjectName(root = ROOT): string {
    const name = /^name:\s*(\S+)\s*$/m.exec(fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8"))?.[1];
    if (name === undefined) throw new Error(`no name: in ${path.join(root, "Pulumi.yaml")}`);
    return name;
}

/** Pulumi's own rule for stack names. */
const PULUMI_STACK_NAME = /^[A-Za-z0-9_.-]{1,100}$/;

/** Why this stack name cannot be used, in one line, or undefined. */
export function stackNameProblem(pulumiProject: string, stack: string, project: string): string | undefined {
    if (!PULUMI_STACK_NAME.test(stack)) return `--stack "${stack}": Pulumi stack names are 1-100 letters, digits, "-", "_" or "."`;
    const problems = nameProblems(resourceNames(pulumiProject, stack, project), stack, DEFAULTS.weights);
    if (problems.length === 0) return undefined;
    let longest = 0;
    while (longest < 100 && nameProblems(resourceNames(pulumiProject, "e".repeat(longest + 1), project), "e".repeat(longest + 1), DEFAULTS.weights).length === 0) longest++;
    const p = problems[0];
    return `--stack "${stack}" gives the ${p.key.replace(/^stack name \((.*)\)$/, "$1")} ${JSON.stringify(p.value)}, but ${p.allowed}: use a stack name of at most ${longest} characters`;
}

/** What the run creates and what it costs, for people deciding whether to add --yes. */
export function planLines(pulumiProject: string, stack: string, project: string, region: string): string[] {
    const n = resourceNames(pulumiProject, stack, project);
    const buildRegion = defaultBuildRegion(region);
    const cost = typicalRunCost(region);
    const { gpuInstance: gpu, cloudBuild: build } = cost;
    return [
        `npm run e2e would, with the Pulumi backend you are logged in to and your Google credentials, in project ${project}:`,
        `  1. create the Pulumi stack ${stack} (gcp:region ${region}, minInstances 0, maxInstances 1, hfToken from HF_TOKEN as a secret)`,
        `  2. npx pulumi up: a 20-30 minute Cloud Build (${BUILD_MACHINE}, ${buildRegion}) and the Cloud Run service ${n.service} with one ${DEFAULTS.gpuType} (${region}),`,
        `     Artifact Registry repositories ${n.repository} (${region}) and ${n.dockerHubRemote} (${buildRegion}), the secret ${n.secretId},`,
        `     the bucket ${n.stagingBucket}, the service accounts ${n.runtimeAccountId} and ${n.buildAccountId}`,
        `  3. wait for /health, run the smoke test and a short benchmark (${(E2E_BENCH.levels ?? []).join(" and ")} streams, at most ${E2E_BENCH.maxRequests} requests and ${E2E_BENCH.maxSeconds} s)`,
        "  4. npx pulumi preview, which must propose no changes",
        "  5. npx pulumi destroy and stack rm, then check that nothing named or labelled after the stack is left",
        `One run costs roughly $${cost.estimateUsd.toFixed(2)} at most: a GPU instance for at most ${TYPICAL_MINUTES.up + TYPICAL_MINUTES.rest} min at $${gpu.usdPerHour}/h ($${gpu.usd.toFixed(2)})` +
            ` + Cloud Build for at most ${TYPICAL_MINUTES.up} min at $${build.usdPerMinute}/min ($${build.usd.toFixed(2)}); the report gives the estimate for the real timings.`,
    ];
}

/** The Pulumi side: the CLI this project pins and the backend you are logged in to. */
export interface PulumiBackend {
    /** `pulumi whoami`'s backend URL: https://… for Pulumi Cloud, file://, gs://, s3:// or azblob:// for the others. */
    url(): Promise<string | undefined>;
    createStack(stackName: string): Promise<E2eStack>;
}

export interface CliDeps {
    env: NodeJS.ProcessEnv;
    stdout(line: string): void;
    stderr(line: string): void;
    randomHex(): string;
    /** Reached only after every refusal check has passed. */
    pulumi(): Promise<PulumiBackend>;
    /** What the run uses besides the stack. */
    runDeps(s: RunSettings): Omit<E2eDeps, "createStack">;
}

/**
 * The CLI's `config set --secret KEY` with the value on stdin, which it reads when stdin is not
 * a terminal (pkg/cmd/pulumi/config/config.go, configSetCmd.Run): the value never appears in a
 * command line. The environment (PULUMI_CONFIG_PASSPHRASE, the backend) is this process's.
 */
export function pipeSecretConfig(bin: string, stack: string, key: string, value: string, cwd = ROOT): Promise<void> {
    return new Promise((resolve, reject) => {
        const child = execFile(bin, ["config", "set", "--secret", key, "--stack", stack, "--non-interactive"], { cwd }, (e, _stdout, stderr) =>
            e ? reject(new Error(`npx pulumi config set --secret ${key} failed: ${stderr.trim() || e.message}`)) : resolve(),
        );
        // A CLI that fails before reading stdin closes it (EPIPE): its exit status reports that.
        child.stdin?.on("error", () => undefined);
        child.stdin?.end(value);
    });
}

/**
 * The Automation API with the CLI `npx pulumi` runs: the `pulumi` npm package (pinned in
 * package.json) keeps it in ~/.pulumi/versions/<version>/bin and downloads it there once; its
 * resolver is the same code its run.js uses, and that directory is the installation root
 * PulumiCommand.get expects.
 */
async function realPulumi(): Promise<PulumiBackend> {
    const auto = await import("@pulumi/pulumi/automation");
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { resolve } = require("pulumi/lib/resolve") as { resolve: () => Promise<string> };
    let bin: string;
    try {
        bin = await resolve();
    } catch (e) {
        throw new Error(`the Pulumi CLI this project pins (npm package pulumi) is not in ~/.pulumi/versions and could not be downloaded: ${describeError(e)}. Run \`npx pulumi version\` once with internet access.`);
    }
    const pulumiCommand = await auto.PulumiCommand.get({ root: path.dirname(path.dirname(bin)) });
    return {
        url: async () => (await (await auto.LocalWorkspace.create({ workDir: ROOT, pulumiCommand })).whoAmI()).url,
        createStack: async (stackName) => {
            const stack = await auto.LocalWorkspace.createStack({ stackName, workDir: ROOT }, { pulumiCommand });
            return Object.assign(stack, { setSecretConfig: (key: string, value: string) => pipeSecretConfig(bin, stackName, key, value) });
        },
    };
}

function realRunDeps(s: RunSettings): Omit<E2eDeps, "createStack"> {
    const log = (line: string) => console.log(line);
    return {
        waitReady: (conn, timeoutSeconds) => waitForHealth(conn, authorizedFetch(defaultIdTokens(conn.url), conn.apiKey !== undefined), timeoutSeconds, 5000, log),
        smoke: (conn) => smoke(conn, { waitSeconds: 120, log }),
        // Only the finished lines: the in-place progress would garble the streamed log.
        bench: (conn, opts) => bench(conn, { ...opts, progress: (l) => (l.endsWith("\n") ? log(l.trimEnd()) : undefined) }),
        leftovers: () => findLeftovers({ pulumiProject: s.pulumiProject, stack: s.stack, gcpProject: s.project, region: s.region, buildRegion: s.buildRegion }, adcGet()),
        now: () => Date.now(),
        sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
        log,
        out: log,
        onSignal: (handler) => {
            const on = (signal: NodeJS.Signals) => handler(signal);
            process.on("SIGINT", on);
            process.on("SIGTERM", on);
            return () => {
                process.off("SIGINT", on);
                process.off("SIGTERM", on);
            };
        },
        writeReport: (file, text) => fs.writeFileSync(file, text),
        exit: (code) => process.exit(code),
    };
}

const REAL: CliDeps = {
    env: process.env,
    stdout: (line) => console.log(line),
    stderr: (line) => console.error(line),
    randomHex: () => randomBytes(3).toString("hex"),
    pulumi: realPulumi,
    runDeps: realRunDeps,
};

/** `npm run e2e -- --project PROJECT_ID --yes [...]`; the exit code. */
export async function main(argv: string[], inject: Partial<CliDeps> = {}): Promise<number> {
    const d: CliDeps = { ...REAL, ...inject };
    const refuse = (message: string) => {
        d.stderr(message);
        return 2;
    };
    let args: E2eArgs;
    try {
        args = parseE2eArgs(argv);
    } catch (e) {
        return refuse(`${e instanceof Error ? e.message : String(e)} (usage: npm run e2e -- --help)`);
    }
    if (args.help) {
        d.stdout(E2E_USAGE);
        return 0;
    }
    const project = args.project;
    if (project === undefined || project === "") return refuse("--project PROJECT_ID is required: the Google Cloud project to deploy the test stack to (there is no default, on purpose: a run costs money).");
    if (!PROJECT_ID.test(project)) return refuse(`--project "${project}" is not a Google Cloud project id (6-30 lower-case letters, digits and hyphens, starting with a letter): use the id, not the display name or number.`);
    if (!REGION_NAME.test(args.region)) return refuse(`--region "${args.region}" is not a region name like ${DEFAULT_REGION}.`);
    const pulumiProject = pulumiProjectName();
    const stack = args.stack ?? `e2e-${d.randomHex()}`;
    const nameProblem = stackNameProblem(pulumiProject, stack, project);
    if (nameProblem !== undefined) return refuse(nameProblem);
    if (!args.yes) {
        for (const line of planLines(pulumiProject, stack, project, args.region)) d.stdout(line);
        return refuse(`Not started: add --yes to create these billable resources in ${project}.`);
    }
    const token = d.env.HF_TOKEN;
    if (token === undefined || token === "") {
        return refuse(`HF_TOKEN is not set: export a Hugging Face token that may read ${DEFAULTS.model} (read -rs HF_TOKEN && export HF_TOKEN); it is read only from the environment, never from a flag.`);
    }
    if (!/^\S+$/.test(token)) return refuse("HF_TOKEN must be one token, without spaces or line breaks.");

    let backend: PulumiBackend;
    let url: string | undefined;
    try {
        backend = await d.pulumi();
        url = await backend.url();
    } catch (e) {
        d.stderr(`e2e: could not reach the Pulumi CLI or backend, nothing was created: ${summarizeError(e)}`);
        return 1;
    }
    // Every backend but Pulumi Cloud encrypts stack secrets with a passphrase by default.
    const passphraseBackend = url !== undefined && !/^https?:\/\//.test(url);
    if (passphraseBackend && d.env.PULUMI_CONFIG_PASSPHRASE === undefined && d.env.PULUMI_CONFIG_PASSPHRASE_FILE === undefined) {
        return refuse(`Your Pulumi backend (${url}) encrypts stack secrets with a passphrase and this run cannot prompt: export PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) first, and keep it: destroying the stack by hand needs it.`);
    }
    const settings: RunSettings = {
        pulumiProject,
        stack,
        project,
        region: args.region,
        buildRegion: defaultBuildRegion(args.region),
        hfToken: token,
        reportPath: args.report,
        model: DEFAULTS.model,
        passphraseBackend,
    };
    const { code } = await runE2e(settings, { ...d.runDeps(settings), createStack: (name) => backend.createStack(name) });
    return code;
}

if (require.main === module) {
    void main(process.argv.slice(2)).then((code) => process.exit(code));
}
