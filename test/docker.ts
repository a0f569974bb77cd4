// Helpers for tests that need a real Docker engine. CI (.ci/run) starts a private dockerd
// and sets DOCKER_HOST and DOCKER_CLI; elsewhere these tests skip with the reason.
import { spawnSync, SpawnSyncReturns } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import { it, TestContext } from "node:test";
import * as os from "os";
import * as path from "path";

/** A Docker CLI that can build with BuildKit without the buildx plugin (Docker <= 22 clients can). */
export const DOCKER = process.env.DOCKER_CLI ?? "docker";

/** Why Docker tests cannot run here, or undefined when they can. */
export function dockerUnavailable(): string | undefined {
    // Docker >= 23 clients hand `docker build` to the buildx plugin when DOCKER_BUILDKIT=1 and
    // fail without it (docker/cli cmd/docker/builder.go, buildxMissingError); `--help` shows
    // that without an engine or a build.
    const b = spawnSync(DOCKER, ["build", "--help"], { encoding: "utf8", env: { ...process.env, DOCKER_BUILDKIT: "1" } });
    if (b.error) return `no Docker CLI (${DOCKER}): ${b.error.message}`;
    if (b.status !== 0) {
        const why = `${b.stderr}${b.stdout}`.trim().split("\n")[0];
        return `${DOCKER} cannot build with BuildKit (${why}); set DOCKER_CLI=/usr/bin/docker (Debian's docker.io client builds with BuildKit without buildx) or install the buildx plugin`;
    }
    const v = spawnSync(DOCKER, ["version", "--format", "{{.Server.Version}}"], { encoding: "utf8" });
    if (v.status !== 0) return `no Docker engine reachable (DOCKER_HOST=${process.env.DOCKER_HOST ?? "unset"}): ${v.error?.message ?? v.stderr.trim()}`;
    if (busyboxPath() === undefined) return "no static busybox for the stand-in base image (apt-get install busybox-static)";
    return undefined;
}

/** In CI a missing tool fails the run; elsewhere the suite is skipped with the reason. */
export function skipUnlessAvailable(reason: string | undefined): string | false {
    return reason !== undefined && process.env.CI !== "true" ? reason : false;
}

/**
 * `it` for tests that need a tool: each one is skipped with the reason when the tool is missing
 * (outside CI, see skipUnlessAvailable). Skip the tests, not their describe(): node:test's summary
 * counts skipped tests only, so a skipped suite reports "skipped 0".
 */
export function itUnlessUnavailable(reason: string | undefined): (name: string, fn: (t: TestContext) => void | Promise<void>) => void {
    const skip = skipUnlessAvailable(reason);
    return (name, fn) => {
        it(name, { skip }, fn);
    };
}

export function busyboxPath(): string | undefined {
    return ["/bin/busybox", "/usr/bin/busybox"].find((p) => fs.existsSync(p));
}

export interface Run {
    status: number;
    stdout: string;
    stderr: string;
}

export function docker(args: string[], opts: { env?: Record<string, string>; cwd?: string; input?: string } = {}): Run {
    const r: SpawnSyncReturns<string> = spawnSync(DOCKER, args, {
        encoding: "utf8",
        cwd: opts.cwd,
        input: opts.input,
        maxBuffer: 256 * 1024 * 1024,
        env: { ...process.env, DOCKER_BUILDKIT: "1", ...opts.env },
    });
    if (r.error) throw r.error;
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function dockerOk(args: string[], opts: Parameters<typeof docker>[1] = {}): Run {
    const r = docker(args, opts);
    if (r.status !== 0) throw new Error(`docker ${args.join(" ")} failed (${r.status}):\n${r.stderr}\n${r.stdout}`);
    return r;
}

/** Builds the stand-in for vllm/vllm-openai from test/fixtures/standin and the host's busybox. */
export function buildStandInBase(tag: string): void {
    const ctx = fs.mkdtempSync(path.join(os.tmpdir(), "standin-"));
    try {
        const fixtures = path.join(__dirname, "fixtures", "standin");
        for (const f of fs.readdirSync(fixtures)) fs.copyFileSync(path.join(fixtures, f), path.join(ctx, f));
        fs.copyFileSync(busyboxPath() as string, path.join(ctx, "busybox"));
        // The one script the stand-in's python3 agrees to run.
        const script = fs.readFileSync(path.join(__dirname, "..", "docker", "download_weights.py"));
        fs.writeFileSync(path.join(ctx, "download_weights.sha256"), crypto.createHash("sha256").update(script).digest("hex"));
        // LoRA adapter downloads: test/fixtures/standin-lora/python3 in front of the model's stand-in.
        fs.copyFileSync(path.join(__dirname, "fixtures", "standin-lora", "python3"), path.join(ctx, "python3-lora"));
        fs.chmodSync(path.join(ctx, "python3-lora"), 0o755);
        fs.appendFileSync(path.join(ctx, "Dockerfile"), [
            "COPY python3-lora /usr/local/lib/standin/",
            'RUN ["/bin/busybox", "sh", "-c", "mv /usr/local/bin/python3 /usr/local/lib/standin/python3-model && mv /usr/local/lib/standin/python3-lora /usr/local/bin/python3"]',
            "",
        ].join("\n"));
        dockerOk(["build", "--network", "none", "--progress=plain", "-t", tag, ctx]);
    } finally {
        fs.rmSync(ctx, { recursive: true, force: true });
    }
}

/** An image as `docker save` writes it: the whole archive, and each layer's files and bytes in order. */
export function saveImage(image: string): { archive: Buffer; layers: { files: string[]; bytes: Buffer }[] } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "save-"));
    try {
        const tarPath = path.join(dir, "image.tar");
        dockerOk(["save", "-o", tarPath, image]);
        const out = path.join(dir, "x");
        fs.mkdirSync(out);
        untar(tarPath, out);
        const manifest = JSON.parse(fs.readFileSync(path.join(out, "manifest.json"), "utf8")) as { Layers: string[] }[];
        const layers = manifest[0].Layers.map((layer) => {
            const layerPath = path.join(out, layer);
            const listing = spawnSync("tar", ["-tf", layerPath], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
            return { files: listing.stdout.split("\n").filter((l) => l !== ""), bytes: fs.readFileSync(layerPath) };
        });
        return { archive: fs.readFileSync(tarPath), layers };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** Paths of every file in each layer of an image, in layer order. */
export function layerContents(image: string): { files: string[]; bytes: Buffer }[] {
    return saveImage(image).layers;
}

function untar(tarPath: string, dest: string): void {
    const r = spawnSync("tar", ["-xf", tarPath, "-C", dest], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`tar failed: ${r.stderr}`);
}

/**
 * Every place a token shows up in an image: its history, its config, any layer's bytes,
 * and $HF_HOME/token in its filesystem. An empty list means no leak.
 */
export function tokenLeaks(image: string, token: string): string[] {
    const found: string[] = [];
    if (dockerOk(["history", "--no-trunc", image]).stdout.includes(token)) found.push("docker history");
    if (dockerOk(["inspect", image]).stdout.includes(token)) found.push("docker inspect");
    const saved = saveImage(image);
    if (saved.archive.includes(Buffer.from(token))) found.push("docker save (layers or config)");
    saved.layers.forEach((l, i) => {
        if (l.bytes.includes(Buffer.from(token))) found.push(`layer ${i}`);
    });
    const tokenFile = docker(["run", "--rm", "--network", "none", "--entrypoint", "sh", image, "-c", 'cat "${HF_HOME:-/root/.cache/huggingface}/token"']);
    if (tokenFile.status === 0) found.push("$HF_HOME/token");
    return found;
}

/** Steps of a `--progress=plain` build that ran rather than came from cache. */
export function buildSteps(progress: string): { name: string; cached: boolean }[] {
    const names = new Map<string, string>();
    const cached = new Set<string>();
    for (const line of progress.split("\n")) {
        const m = /^#(\d+) (\[.*)$/.exec(line);
        if (m && !names.has(m[1])) names.set(m[1], m[2]);
        const c = /^#(\d+) CACHED$/.exec(line);
        if (c) cached.add(c[1]);
    }
    return [...names.entries()]
        .filter(([, name]) => /\] (RUN|COPY|ADD) /.test(name))
        .map(([id, name]) => ({ name, cached: cached.has(id) }));
}
