// The real Google Cloud CLI as a parser: with an empty config it checks every flag and value of
// a command first and only then stops at "no active account". In CI a missing gcloud fails.
import * as assert from "node:assert/strict";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export const NO_ACCOUNT = "You do not currently have an active account selected";

/** Why gcloud cannot be used here, or undefined when it can. */
export function gcloudUnavailable(): string | undefined {
    const r = spawnSync("gcloud", ["version"], { encoding: "utf8" });
    return r.error || r.status !== 0 ? "the Google Cloud CLI is not installed (from Google's apt repository: https://cloud.google.com/sdk/docs/install#deb)" : undefined;
}

export interface GcloudRun {
    status: number;
    stdout: string;
    stderr: string;
}

/** Runs the real gcloud with an empty config and HOME (no account), in `cwd`, without a shell. */
export function runRealGcloud(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): GcloudRun {
    const config = fs.mkdtempSync(path.join(os.tmpdir(), "gcloud-config-"));
    try {
        const r = spawnSync("gcloud", args, {
            cwd: opts.cwd,
            encoding: "utf8",
            timeout: 120_000,
            env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: config, CLOUDSDK_CONFIG: config, CLOUDSDK_CORE_DISABLE_PROMPTS: "1", ...opts.env },
        });
        return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
    } finally {
        fs.rmSync(config, { recursive: true, force: true });
    }
}

/** Runs a command line as a user would paste it (sh -c) and asserts gcloud got as far as auth. */
export function assertGcloudParses(commandLine: string): void {
    if (gcloudUnavailable() !== undefined && process.env.CI !== "true") return;
    const config = fs.mkdtempSync(path.join(os.tmpdir(), "gcloud-config-"));
    try {
        const r = spawnSync("/bin/sh", ["-c", commandLine], {
            encoding: "utf8",
            timeout: 120_000,
            env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: config, CLOUDSDK_CONFIG: config, CLOUDSDK_CORE_DISABLE_PROMPTS: "1" },
        });
        assert.ok(`${r.stdout}${r.stderr}`.includes(NO_ACCOUNT), `gcloud rejected: ${commandLine}\n${r.stderr}`);
    } finally {
        fs.rmSync(config, { recursive: true, force: true });
    }
}
