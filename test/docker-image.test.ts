// The real docker/Dockerfile, built by the exact Cloud Build step in docker/cloudbuild.yaml,
// on a real Docker engine, on top of a stand-in for vllm/vllm-openai; and docker/download_weights.py
// on the host's python3 against stubs of huggingface_hub 0.x and 1.x.
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { spawn, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { DOCKER_DIR, LORA_DIR, loraServeArgs } from "../components/image-build";
import { LoraAdapter, renderDockerfile, renderedSource } from "../deploy/lora-adapters";
import { vllmArgs } from "../components/service";
import { DEFAULTS } from "../config";
import { DEFAULT_REVISION, FAKE_TOKEN } from "./harness";
import { buildStandInBase, buildSteps, docker, dockerOk, dockerUnavailable, itUnlessUnavailable, layerContents, skipUnlessAvailable, tokenLeaks } from "./docker";

const unavailable = dockerUnavailable();
const test = itUnlessUnavailable(unavailable);
const id = `${process.pid}`;
const BASE = `vllm-standin:${id}`;
const IMAGE = `vllm-cloudrun-test:${id}`;
/** A revision BuildKit has never seen, so its cache cannot answer for it. */
const freshRevision = () => crypto.randomBytes(20).toString("hex");
const SNAPSHOT = `model-cache/hub/models--google--gemma-3-1b-it/snapshots/${DEFAULT_REVISION}`;

interface Step {
    id: string;
    name: string;
    entrypoint: string;
    env?: string[];
    secretEnv?: string[];
    args: string[];
}

/** What Cloud Build does to a step's strings: user substitutions, then $$ to $. */
function substitute(text: string, subs: Record<string, string>): string {
    return text.replace(/\$\{(_[A-Z_]+)\}/g, (_, k: string) => {
        assert.ok(k in subs, `substitution ${k} provided`);
        return subs[k];
    }).replace(/\$\$/g, "$");
}

function steps(file: string): Step[] {
    return (YAML.parse(fs.readFileSync(path.join(DOCKER_DIR, file), "utf8")) as { steps: Step[] }).steps;
}

/** The Cloud Build step's docker arguments with substitutions applied and the tag made local. */
function cloudBuildDockerArgs(subs: Record<string, string>, file = "cloudbuild.yaml"): { args: string[]; env: Record<string, string> } {
    const step = steps(file)[0];
    assert.equal(step.entrypoint, "docker");
    const args = step.args.map((a) => substitute(a, subs));
    const env = Object.fromEntries((step.env ?? []).map((e) => e.split("=", 2) as [string, string]));
    // Offline engine: no network for RUN steps; plain progress to see cache hits.
    return { args: [args[0], "--network", "none", "--progress=plain", ...args.slice(1)], env };
}

function buildBaked(opts: { token?: string; revision?: string; tag?: string; withoutArg?: string } = {}) {
    const built = cloudBuildDockerArgs({
        _BASE_IMAGE: BASE,
        _MODEL: DEFAULTS.model,
        _MODEL_REVISION: opts.revision ?? DEFAULT_REVISION,
        _IMAGE: opts.tag ?? IMAGE,
    });
    const { env } = built;
    const args = built.args.filter((a) => opts.withoutArg === undefined || !a.startsWith(`--build-arg=${opts.withoutArg}=`));
    assert.equal(args.length, built.args.length - (opts.withoutArg === undefined ? 0 : 1));
    // Cloud Build's secretEnv: the token is in the step's environment, nowhere else.
    const secretEnv: Record<string, string> = opts.token === undefined ? {} : { HF_TOKEN: opts.token };
    return docker(args, { cwd: DOCKER_DIR, env: { ...env, ...secretEnv } });
}

/** `docker run` of an image with its entrypoint replaced, offline. */
function runIn(image: string, entrypoint: string, args: string[], env: Record<string, string> = {}) {
    const envFlags = Object.entries(env).flatMap(([k, v]) => ["--env", `${k}=${v}`]);
    return docker(["run", "--rm", "--network", "none", ...envFlags, "--entrypoint", entrypoint, image, ...args]);
}

function configEnv(image: string): string[] {
    return (JSON.parse(dockerOk(["inspect", image]).stdout)[0].Config as { Env: string[] }).Env;
}

describe("docker/Dockerfile on a real Docker engine", () => {
    let first: ReturnType<typeof buildBaked>;

    before(() => {
        if (skipUnlessAvailable(unavailable)) return;
        if (unavailable) throw new Error(`Docker tests cannot run: ${unavailable}`);
        buildStandInBase(BASE);
        first = buildBaked({ token: FAKE_TOKEN });
    });

    after(() => {
        if (unavailable) return;
        docker(["rmi", "-f", IMAGE, `${IMAGE}-rev`, `${IMAGE}-leaky`, `${IMAGE}-notoken`, `${IMAGE}-nomodel`, `${IMAGE}-mw`, `${IMAGE}-gcs`, BASE]);
    });

    test("builds with the token supplied only as Cloud Build's secretEnv", () => {
        assert.equal(first.status, 0, first.stderr);
    });

    test("bakes the weights under HF_HOME, in a layer of their own, without original/* and *.gguf", () => {
        const layers = layerContents(IMAGE);
        const withWeights = layers.filter((l) => l.files.some((f) => f.startsWith("model-cache/")));
        assert.equal(withWeights.length, 1, "exactly one layer holds model files");
        const files = withWeights[0].files.filter((f) => !f.endsWith("/"));
        // The stand-in repo also has original/* and a .gguf: download_weights.py excludes them.
        assert.deepEqual(files.sort(), [`${SNAPSHOT}/config.json`, `${SNAPSHOT}/model.safetensors`]);
        // Besides the snapshot, only empty mount-point directories (etc/, run/secrets/) appear.
        const others = withWeights[0].files.filter((f) => !f.startsWith("model-cache/"));
        assert.ok(others.every((f) => f.endsWith("/")), `no other files in the weights layer: ${others.join(", ")}`);
        assert.ok(configEnv(IMAGE).includes("HF_HOME=/model-cache"));
    });

    test("leaves download_weights.py out of the image (it is bind-mounted for the download only)", () => {
        for (const [i, l] of layerContents(IMAGE).entries()) {
            assert.deepEqual(l.files.filter((f) => f.endsWith("download_weights.py")), [], `layer ${i}`);
        }
    });

    test("runs offline: HF_HUB_OFFLINE=1 and TRANSFORMERS_OFFLINE=1 are in the image config", () => {
        const env = configEnv(IMAGE);
        assert.ok(env.includes("HF_HUB_OFFLINE=1"), env.join(" "));
        assert.ok(env.includes("TRANSFORMERS_OFFLINE=1"), env.join(" "));
        assert.ok(env.includes("VLLM_ENABLE_CUDA_COMPATIBILITY=1"));
    });

    test("leaves the token nowhere: history, inspect, any layer, $HF_HOME/token", () => {
        assert.deepEqual(tokenLeaks(IMAGE, FAKE_TOKEN), []);
    });

    test("starts `vllm serve` with exactly the flags the Cloud Run service passes", () => {
        const args = vllmArgs({ model: DEFAULTS.model, modelRevision: DEFAULT_REVISION, servedModelName: DEFAULTS.model, maxModelLen: DEFAULTS.maxModelLen, maxNumSeqs: DEFAULTS.concurrency, gpuMemoryUtilization: DEFAULTS.gpuMemoryUtilization });
        const out = dockerOk(["run", "--rm", "--network", "none", IMAGE, ...args]).stdout.split("\n");
        const recorded = out.slice(out.indexOf("vllm-args-begin") + 1, out.indexOf("vllm-args-end"));
        assert.deepEqual(recorded, ["serve", ...args]);
        assert.ok(out.includes("HF_HUB_OFFLINE=1"));
    });

    test("reuses the weights layer from cache on a rebuild with the same image inputs", (t) => {
        // Runtime settings never reach the build (they are Cloud Run args), so a second
        // deploy builds with identical inputs: nothing may be rebuilt.
        const again = buildBaked({ token: FAKE_TOKEN });
        assert.equal(again.status, 0, again.stderr);
        const steps = buildSteps(again.stderr);
        const rebuilt = steps.filter((s) => !s.cached);
        t.diagnostic(`second build: ${steps.length} RUN/COPY steps, ${rebuilt.length} rebuilt`);
        assert.ok(steps.some((s) => s.name.includes("download")), "the weights step is reported");
        assert.deepEqual(rebuilt, []);
    });

    test("re-downloads when the model revision changes", (t) => {
        const changed = buildBaked({ token: FAKE_TOKEN, revision: freshRevision(), tag: `${IMAGE}-rev` });
        assert.equal(changed.status, 0, changed.stderr);
        const rebuilt = buildSteps(changed.stderr).filter((s) => !s.cached);
        t.diagnostic(`new revision: ${rebuilt.length} step(s) rebuilt`);
        assert.deepEqual(rebuilt.map((s) => (/download/.test(s.name) ? "weights" : /COPY vllm_cloudrun_auth/.test(s.name) ? "middleware" : s.name)), ["weights", "middleware"]);
    });

    test("keeps the weights cached when only the middleware changes", (t) => {
        const ctx = fs.mkdtempSync(path.join(os.tmpdir(), "ctx-"));
        try {
            for (const f of fs.readdirSync(DOCKER_DIR)) fs.copyFileSync(path.join(DOCKER_DIR, f), path.join(ctx, f));
            fs.appendFileSync(path.join(ctx, "vllm_cloudrun_auth.py"), `\n# ${freshRevision()}\n`);
            const { args, env } = cloudBuildDockerArgs({ _BASE_IMAGE: BASE, _MODEL: DEFAULTS.model, _MODEL_REVISION: DEFAULT_REVISION, _IMAGE: `${IMAGE}-mw` });
            const r = docker(args, { cwd: ctx, env: { ...env, HF_TOKEN: FAKE_TOKEN } });
            assert.equal(r.status, 0, r.stderr);
            const rebuilt = buildSteps(r.stderr).filter((s) => !s.cached);
            t.diagnostic(`middleware change: ${rebuilt.length} step(s) rebuilt`);
            assert.deepEqual(rebuilt.map((s) => /COPY vllm_cloudrun_auth/.test(s.name)), [true]);
        } finally {
            fs.rmSync(ctx, { recursive: true, force: true });
        }
    });

    test("carries the API-key middleware on the Python path", () => {
        assert.ok(configEnv(IMAGE).includes("PYTHONPATH=/opt/vllm-cloudrun"), configEnv(IMAGE).join(" "));
        const out = dockerOk(["run", "--rm", "--network", "none", "--entrypoint", "cat", IMAGE, "/opt/vllm-cloudrun/vllm_cloudrun_auth.py"]).stdout;
        assert.equal(out, fs.readFileSync(path.join(DOCKER_DIR, "vllm_cloudrun_auth.py"), "utf8"));
    });

    test("fails clearly when the build has no token", () => {
        const r = buildBaked({ token: undefined, revision: freshRevision(), tag: `${IMAGE}-notoken` });
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /the hf_token build secret is missing/);
    });

    test("fails with its own message when the MODEL build arg is missing (not `set -u`'s)", () => {
        const r = buildBaked({ token: FAKE_TOKEN, revision: freshRevision(), tag: `${IMAGE}-nomodel`, withoutArg: "MODEL" });
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /MODEL and MODEL_REVISION build args are required/);
        assert.doesNotMatch(r.stderr, /parameter not set/);
    });

    test("weights: gcs builds an image without weights or offline flags, and its download step fills /workspace only", () => {
        const subs = { _BASE_IMAGE: BASE, _MODEL: DEFAULTS.model, _MODEL_REVISION: DEFAULT_REVISION, _IMAGE: `${IMAGE}-gcs` };
        const { args, env } = cloudBuildDockerArgs(subs, "cloudbuild-gcs.yaml");
        const built = docker(args, { cwd: DOCKER_DIR, env });
        assert.equal(built.status, 0, built.stderr);
        // vLLM may refuse a local model path with HF_HUB_OFFLINE=1 (vllm#23684); /weights needs no hub.
        const imageEnv = configEnv(`${IMAGE}-gcs`);
        assert.deepEqual(imageEnv.filter((e) => /OFFLINE/.test(e)), [], imageEnv.join(" "));
        const served = dockerOk(["run", "--rm", "--network", "none", `${IMAGE}-gcs`, "/weights"]).stdout.split("\n");
        assert.ok(served.includes("HF_HUB_OFFLINE="), served.join("\n"));
        assert.deepEqual(buildSteps(built.stderr).filter((s) => /download/.test(s.name)), [], "the download step is not part of the build");
        assert.ok(layerContents(`${IMAGE}-gcs`).every((l) => !l.files.some((f) => f.startsWith("model-cache/hub/"))), "no weights in the image");

        // Replay the download step as Cloud Build runs it: the built image as the step, the
        // token in the step environment only, the uploaded source (docker/) as /workspace.
        const step = steps("cloudbuild-gcs.yaml").find((x) => x.id === "download-weights")!;
        assert.equal(substitute(step.name, subs), `${IMAGE}-gcs`);
        const workspace = fs.mkdtempSync(path.join(os.tmpdir(), "workspace-"));
        try {
            for (const f of fs.readdirSync(DOCKER_DIR)) fs.copyFileSync(path.join(DOCKER_DIR, f), path.join(workspace, f));
            const envFlags = (step.env ?? []).flatMap((e) => ["--env", substitute(e, subs)]);
            const secretFlags = (step.secretEnv ?? []).flatMap((k) => ["--env", k]);
            const run = docker(
                ["run", "--rm", "--network", "none", ...envFlags, ...secretFlags, "--volume", `${workspace}:/workspace`, "--entrypoint", step.entrypoint, `${IMAGE}-gcs`, ...step.args.map((a) => substitute(a, subs))],
                { env: { HF_TOKEN: FAKE_TOKEN } },
            );
            assert.equal(run.status, 0, run.stderr);
            const files = fs.readdirSync(path.join(workspace, "weights"), { recursive: true }).map(String).sort();
            assert.deepEqual(files, ["config.json", "model.safetensors"], "weights, without original/*, *.gguf or huggingface_hub's .cache");
            for (const f of files) assert.ok(!fs.readFileSync(path.join(workspace, "weights", f)).includes(Buffer.from(FAKE_TOKEN)), f);
            assert.deepEqual(tokenLeaks(`${IMAGE}-gcs`, FAKE_TOKEN), []);
        } finally {
            fs.rmSync(workspace, { recursive: true, force: true });
        }
    });

    test("catches a leak: the seed's ARG HF_TOKEN + login pattern is flagged", () => {
        const leaky = dockerOk(
            ["build", "--network", "none", "--progress=plain", "-f", path.join(__dirname, "fixtures", "leaky.Dockerfile"),
                "--build-arg", `BASE_IMAGE=${BASE}`, "--build-arg", `HF_TOKEN=${FAKE_TOKEN}`, "--build-arg", `MODEL=${DEFAULTS.model}`,
                "--build-arg", `MODEL_REVISION=${DEFAULT_REVISION}`, "-t", `${IMAGE}-leaky`, path.join(__dirname, "fixtures")],
        );
        assert.ok(leaky.stderr.length > 0);
        const leaks = tokenLeaks(`${IMAGE}-leaky`, FAKE_TOKEN);
        for (const where of ["docker history", "docker save (layers or config)", "$HF_HOME/token"]) {
            assert.ok(leaks.includes(where), `leak in ${where} detected: ${leaks.join(", ")}`);
        }
    });

    // The stand-ins must fail where the real image would, or the tests above prove little.
    test("stand-in hf parses like huggingface_hub 1.x: the 0.x `--exclude A B` form fetches a file B and 404s", () => {
        const token = { HF_TOKEN: FAKE_TOKEN, HF_HOME: "/tmp/hf" };
        const old = runIn(BASE, "hf", ["download", DEFAULTS.model, "--revision", DEFAULT_REVISION, "--exclude", "original/*", "*.gguf"], token);
        assert.notEqual(old.status, 0);
        assert.match(old.stderr, /404 .*Entry Not Found .*\/\*\.gguf/);
        const ok = runIn(BASE, "sh", ["-c", 'hf download "$0" --revision "$1" --exclude "original/*" --exclude "*.gguf" >/dev/null && find /tmp/hf -type f | sort', DEFAULTS.model, DEFAULT_REVISION], token);
        assert.equal(ok.status, 0, ok.stderr);
        assert.deepEqual(ok.stdout.trim().split("\n").map((f) => path.basename(f)), ["config.json", "model.safetensors"]);
        const unknown = runIn(BASE, "hf", ["download", DEFAULTS.model, "--local-dir-use-symlinks", "False"], token);
        assert.equal(unknown.status, 2);
        assert.match(unknown.stderr, /No such option: --local-dir-use-symlinks/);
    });

    test("stand-in python3 runs only download_weights.py, invoked as the Dockerfile and cloudbuild-gcs.yaml do", () => {
        for (const args of [["-c", "print(1)"], ["-m", "huggingface_hub"], ["/tmp/download_weights.py", "--local-dir", "/tmp/w"], ["/bin/sh", "--local-dir", "/tmp/w"]]) {
            const r = runIn(BASE, "python3", args, { HF_TOKEN: FAKE_TOKEN, MODEL: DEFAULTS.model, MODEL_REVISION: DEFAULT_REVISION });
            assert.equal(r.status, 2, `python3 ${args.join(" ")}: ${r.stderr}`);
        }
    });
});

// ---------------------------------------------------------------------------------------------
// LoRA adapters: the Dockerfile deploy/cloud-build.ts renders (renderedSource, the same function),
// built by the same Cloud Build step, on the same stand-in base.

describe("LoRA adapters baked by the rendered Dockerfile on a real Docker engine", () => {
    const LORA_BASE = `vllm-standin-lora:${id}`;
    const LORA_IMAGE = `vllm-cloudrun-lora-test:${id}`;
    /** Any pinned commit: the stand-in hub serves every revision. */
    const MODEL_REVISION = "dcc83ea841ab6100d6b47a070329e1ba4cf78752";
    const adapters: LoraAdapter[] = [
        { name: "a", repo: "org/adapter-a", revision: freshRevision() },
        { name: "b", repo: "org/adapter-b", revision: freshRevision() },
    ];
    const builds: { tag: string; log: string }[] = [];

    /** The Cloud Build step (cloudbuild.yaml or -gcs) on the uploaded source with these adapters. */
    function buildWith(list: readonly LoraAdapter[], tag: string, opts: { file?: string; token?: string } = {}) {
        const source = renderedSource(DOCKER_DIR, list);
        try {
            const { args, env } = cloudBuildDockerArgs({ _BASE_IMAGE: LORA_BASE, _MODEL: DEFAULTS.model, _MODEL_REVISION: MODEL_REVISION, _IMAGE: tag }, opts.file);
            const token: Record<string, string> = opts.token === undefined ? {} : { HF_TOKEN: opts.token };
            const r = docker(args, { cwd: source, env: { ...env, ...token } });
            builds.push({ tag, log: `${r.stdout}${r.stderr}` });
            return r;
        } finally {
            fs.rmSync(source, { recursive: true, force: true });
        }
    }
    const layers = (image: string) => JSON.parse(dockerOk(["image", "inspect", "--format", "{{json .RootFS.Layers}}", image]).stdout) as string[];
    /** What a step name in the plain progress log is: the weights download, adapter i's download, or other. */
    const kind = (name: string) => (/\[weights-true /.test(name) ? "weights" : /\[lora-(\d+) /.exec(name)?.[0].slice(1, -1) ?? name);

    before(() => {
        if (skipUnlessAvailable(unavailable)) return;
        if (unavailable) throw new Error(`Docker tests cannot run: ${unavailable}`);
        buildStandInBase(LORA_BASE);
        for (const [list, tag] of [[[], `${LORA_IMAGE}-none`], [adapters, LORA_IMAGE]] as const) {
            const r = buildWith(list, tag, { token: FAKE_TOKEN });
            assert.equal(r.status, 0, r.stderr);
        }
    });

    after(() => {
        if (unavailable) return;
        docker(["rmi", "-f", LORA_IMAGE, `${LORA_IMAGE}-none`, `${LORA_IMAGE}-b2`, `${LORA_IMAGE}-a2`, `${LORA_IMAGE}-gcs`, LORA_BASE]);
    });

    test("without adapters the rendered Dockerfile is docker/Dockerfile, byte for byte", () => {
        const dockerfile = fs.readFileSync(path.join(DOCKER_DIR, "Dockerfile"), "utf8");
        assert.equal(renderDockerfile(dockerfile, []), dockerfile);
        const source = renderedSource(DOCKER_DIR, []);
        try {
            assert.deepEqual(fs.readdirSync(source).sort(), fs.readdirSync(DOCKER_DIR).sort());
            for (const f of fs.readdirSync(DOCKER_DIR)) assert.ok(fs.readFileSync(path.join(source, f)).equals(fs.readFileSync(path.join(DOCKER_DIR, f))), f);
        } finally {
            fs.rmSync(source, { recursive: true, force: true });
        }
    });

    test("puts each adapter's plain files at /opt/lora/<name>", () => {
        const files = dockerOk(["run", "--rm", "--network", "none", "--entrypoint", "find", LORA_IMAGE, LORA_DIR, "-type", "f"]).stdout.trim().split("\n").sort();
        assert.deepEqual(files, ["a", "b"].flatMap((n) => ["adapter_config.json", "adapter_model.safetensors", "tokenizer_config.json"].map((f) => `${LORA_DIR}/${n}/${f}`)));
        for (const a of adapters) {
            const config = dockerOk(["run", "--rm", "--network", "none", "--entrypoint", "cat", LORA_IMAGE, `${LORA_DIR}/${a.name}/adapter_config.json`]).stdout;
            assert.deepEqual([JSON.parse(config).repo, JSON.parse(config).revision], [a.repo, a.revision]);
        }
    });

    test("gives each adapter a layer of its own, on top of the image without adapters", () => {
        const none = layers(`${LORA_IMAGE}-none`);
        const withAdapters = layers(LORA_IMAGE);
        assert.equal(withAdapters.length, none.length + adapters.length, "base + weights + middleware, then one layer per adapter");
        assert.deepEqual(withAdapters.slice(0, none.length), none, "the layers below are those of the image without adapters");
        const contents = layerContents(LORA_IMAGE).slice(none.length);
        adapters.forEach((a, i) => {
            const files = contents[i].files.filter((f) => !f.endsWith("/"));
            assert.deepEqual(files.sort(), ["adapter_config.json", "adapter_model.safetensors", "tokenizer_config.json"].map((f) => `opt/lora/${a.name}/${f}`), `layer of adapter ${a.name}`);
        });
    });

    test("changing adapter 2's revision re-downloads only adapter 2: the weights and adapter 1 layers are unchanged", (t) => {
        const changed = [adapters[0], { ...adapters[1], revision: freshRevision() }];
        const r = buildWith(changed, `${LORA_IMAGE}-b2`, { token: FAKE_TOKEN });
        assert.equal(r.status, 0, r.stderr);
        const steps = buildSteps(r.stderr);
        t.diagnostic(steps.map((x) => `${kind(x.name)}: ${x.cached ? "CACHED" : "ran"}`).join(", "));
        const downloads = Object.fromEntries(steps.filter((x) => /^(weights|lora-\d+)$/.test(kind(x.name))).map((x) => [kind(x.name), x.cached]));
        assert.deepEqual(downloads, { weights: true, "lora-0": true, "lora-1": false }, "true = CACHED");
        const before = layers(LORA_IMAGE);
        const after = layers(`${LORA_IMAGE}-b2`);
        assert.equal(after.length, before.length);
        assert.deepEqual(after.slice(0, -1), before.slice(0, -1), "base, weights, middleware and adapter 1 layer digests");
        assert.notEqual(after[after.length - 1], before[before.length - 1], "adapter 2's layer");
    });

    // Without COPY --link (see deploy/lora-adapters.ts) adapter 2's COPY runs again after adapter 1's
    // changed: no download, the same files, but a new layer digest (the tar records /opt/lora's new mtime).
    test("changing adapter 1 re-downloads only adapter 1; adapter 2 is re-copied from cache with the same files", () => {
        const changed = [{ ...adapters[0], revision: freshRevision() }, adapters[1]];
        const r = buildWith(changed, `${LORA_IMAGE}-a2`, { token: FAKE_TOKEN });
        assert.equal(r.status, 0, r.stderr);
        const downloads = Object.fromEntries(buildSteps(r.stderr).filter((x) => /^(weights|lora-\d+)$/.test(kind(x.name))).map((x) => [kind(x.name), x.cached]));
        assert.deepEqual(downloads, { weights: true, "lora-0": false, "lora-1": true }, "true = CACHED");
        assert.deepEqual(layers(`${LORA_IMAGE}-a2`).slice(0, -2), layers(LORA_IMAGE).slice(0, -2), "base, weights and middleware layers");
        const sums = (image: string) => dockerOk(["run", "--rm", "--network", "none", "--entrypoint", "sh", image, "-c", `cd ${LORA_DIR}/b && sha256sum *`]).stdout;
        assert.equal(sums(`${LORA_IMAGE}-a2`), sums(LORA_IMAGE));
    });

    test("leaves the token nowhere: history, inspect, any layer, $HF_HOME/token, the build logs", () => {
        assert.deepEqual(tokenLeaks(LORA_IMAGE, FAKE_TOKEN), []);
        assert.ok(builds.length >= 2);
        for (const b of builds) assert.ok(!b.log.includes(FAKE_TOKEN), `build log of ${b.tag}`);
    });

    test("starts `vllm serve` with exactly loraServeArgs, and every path it names exists", () => {
        const args = loraServeArgs(adapters);
        assert.deepEqual(args, ["--enable-lora", "--lora-modules", "a=/opt/lora/a", "b=/opt/lora/b"]);
        const out = dockerOk(["run", "--rm", "--network", "none", LORA_IMAGE, DEFAULTS.model, ...args]).stdout.split("\n");
        assert.deepEqual(out.slice(out.indexOf("vllm-args-begin") + 1, out.indexOf("vllm-args-end")), ["serve", DEFAULTS.model, ...args]);
        for (const module of args.slice(2)) {
            const dir = module.split("=")[1];
            const r = runIn(LORA_IMAGE, "sh", ["-c", 'test -f "$0/adapter_config.json" && test -f "$0/adapter_model.safetensors"', dir]);
            assert.equal(r.status, 0, `${dir}: ${r.stderr}`);
        }
        assert.deepEqual(loraServeArgs([]), []);
    });

    test("weights: gcs bakes the adapters too (the build step now gets the token as a BuildKit secret)", () => {
        const r = buildWith(adapters, `${LORA_IMAGE}-gcs`, { file: "cloudbuild-gcs.yaml", token: FAKE_TOKEN });
        assert.equal(r.status, 0, r.stderr);
        const contents = layerContents(`${LORA_IMAGE}-gcs`);
        assert.ok(contents.every((l) => !l.files.some((f) => f.startsWith("model-cache/hub/"))), "no model weights");
        assert.deepEqual(contents.slice(-2).map((l) => l.files.filter((f) => f.endsWith("/adapter_config.json"))), [["opt/lora/a/adapter_config.json"], ["opt/lora/b/adapter_config.json"]]);
        assert.deepEqual(tokenLeaks(`${LORA_IMAGE}-gcs`, FAKE_TOKEN), []);
    });

    test("fails clearly when an adapter build has no token", () => {
        const r = buildWith([{ name: "c", repo: "org/adapter-c", revision: freshRevision() }], `${LORA_IMAGE}-gcs`, { file: "cloudbuild-gcs.yaml" });
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /the token file \/run\/secrets\/hf_token is missing or empty/);
    });
});

// ---------------------------------------------------------------------------------------------
// docker/download_weights.py itself, with the host's python3 and a stub huggingface_hub whose
// snapshot_download has the real signature of each major version (test/fixtures/huggingface_hub_stubs).

const STUBS = path.join(__dirname, "fixtures", "huggingface_hub_stubs");
const HUB_VERSIONS = ["0.35.3", "1.28.0"];
const SCRIPT = path.join(DOCKER_DIR, "download_weights.py");

function pythonUnavailable(): string | undefined {
    const r = spawnSync("python3", ["-c", "import sys; assert sys.version_info >= (3, 8)"], { encoding: "utf8" });
    return r.status === 0 ? undefined : `no python3 >= 3.8 on the host: ${r.error?.message ?? r.stderr.trim()}`;
}
const noPython = pythonUnavailable();
const pyTest = itUnlessUnavailable(noPython);

interface StubCall {
    version: string;
    args: Record<string, unknown>;
}

/** Runs python3 with only the given stub huggingface_hub importable; returns its recorded calls. */
function python(hubVersion: string, args: string[], env: Record<string, string>, dir: string) {
    const calls = path.join(dir, "calls.jsonl");
    fs.rmSync(calls, { force: true });
    const r = spawnSync("python3", args, {
        encoding: "utf8",
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, PYTHONDONTWRITEBYTECODE: "1", PYTHONPATH: [path.join(STUBS, hubVersion), STUBS].join(path.delimiter), HF_HUB_STUB_CALLS: calls, ...env },
    });
    const recorded = fs.existsSync(calls) ? fs.readFileSync(calls, "utf8").trim().split("\n").map((l) => JSON.parse(l) as StubCall) : [];
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, calls: recorded };
}

/** Every file under dir, relative, sorted. */
function filesUnder(dir: string): string[] {
    return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name))).sort();
}

/** The script invocation in the Dockerfile, with its paths made host paths. */
function dockerfileInvocation(script: string, tokenFile: string): string[] {
    const m = /^\s*python3 (\/\S+\/download_weights\.py) --token-file (\/run\/secrets\/hf_token);/m.exec(fs.readFileSync(path.join(DOCKER_DIR, "Dockerfile"), "utf8"));
    assert.ok(m, "the Dockerfile runs download_weights.py with the secret as --token-file");
    assert.match(fs.readFileSync(path.join(DOCKER_DIR, "Dockerfile"), "utf8"), new RegExp(`--mount=type=bind,source=download_weights.py,target=${m[1]} `));
    return [script, "--token-file", tokenFile];
}

const EXCLUDES = ["original/*", "*.gguf"];

for (const hub of HUB_VERSIONS) {
    describe(`docker/download_weights.py with huggingface_hub ${hub} (stub with the real signature)`, () => {
        let dir: string;
        before(() => {
            dir = fs.mkdtempSync(path.join(os.tmpdir(), "download-weights-"));
        });
        after(() => {
            if (dir) fs.rmSync(dir, { recursive: true, force: true });
        });

        pyTest("bakes: the cache layout vLLM reads MODEL --revision REV from offline, token from the secret file", () => {
            const home = path.join(dir, "model-cache");
            const secret = path.join(dir, "hf_token");
            fs.writeFileSync(secret, `${FAKE_TOKEN}\n`);
            // The Dockerfile's RUN has the build args, not the token, in its environment.
            const r = python(hub, dockerfileInvocation(SCRIPT, secret), { HF_HOME: home, MODEL: DEFAULTS.model, MODEL_REVISION: DEFAULT_REVISION }, dir);
            assert.equal(r.status, 0, r.stderr);
            assert.equal(r.calls.length, 1);
            const { version, args } = r.calls[0];
            assert.equal(version, hub, "the stub, not an installed huggingface_hub, answered");
            assert.deepEqual(
                { repo_id: args.repo_id, revision: args.revision, token: args.token, ignore_patterns: args.ignore_patterns, local_dir: args.local_dir, cache_dir: args.cache_dir },
                { repo_id: DEFAULTS.model, revision: DEFAULT_REVISION, token: FAKE_TOKEN, ignore_patterns: EXCLUDES, local_dir: null, cache_dir: null },
            );
            assert.deepEqual(filesUnder(home), [`${SNAPSHOT}/config.json`, `${SNAPSHOT}/model.safetensors`].map((f) => f.replace(/^model-cache\//, "")));
            assert.ok(filesUnder(home).every((f) => !fs.readFileSync(path.join(home, f)).includes(Buffer.from(FAKE_TOKEN))));
            assert.ok(!r.stdout.includes(FAKE_TOKEN) && !r.stderr.includes(FAKE_TOKEN));
        });

        pyTest("weights: gcs: cloudbuild-gcs.yaml's download step, replayed, leaves plain files only", () => {
            const step = steps("cloudbuild-gcs.yaml").find((x) => x.id === "download-weights")!;
            assert.equal(step.entrypoint, "python3");
            const workspace = path.join(dir, "workspace");
            fs.mkdirSync(workspace);
            fs.copyFileSync(SCRIPT, path.join(workspace, "download_weights.py"));
            const subs = { _MODEL: DEFAULTS.model, _MODEL_REVISION: DEFAULT_REVISION };
            const stepEnv = Object.fromEntries((step.env ?? []).map((e) => substitute(e, subs).split("=", 2) as [string, string]));
            const secretEnv = Object.fromEntries((step.secretEnv ?? []).map((k) => [k, k === "HF_TOKEN" ? FAKE_TOKEN : ""]));
            // In case the base image sets offline flags: the step's HF_HUB_OFFLINE=0 must win.
            const args = step.args.map((a) => substitute(a, subs).replace(/^\/workspace(?=\/|$)/, workspace));
            const r = python(hub, args, { HF_HOME: path.join(dir, "home"), HF_HUB_OFFLINE: "1", TRANSFORMERS_OFFLINE: "1", ...stepEnv, ...secretEnv }, dir);
            assert.equal(r.status, 0, r.stderr);
            assert.equal(r.calls.length, 1);
            assert.deepEqual(
                { token: r.calls[0].args.token, ignore_patterns: r.calls[0].args.ignore_patterns, local_dir: r.calls[0].args.local_dir },
                { token: FAKE_TOKEN, ignore_patterns: EXCLUDES, local_dir: path.join(workspace, "weights") },
            );
            assert.deepEqual(filesUnder(path.join(workspace, "weights")), ["config.json", "model.safetensors"]);
            assert.ok(!fs.existsSync(path.join(dir, "home", "token")));
        });

        pyTest("LoRA adapter: the rendered Dockerfile's RUN, replayed, leaves plain files in /opt/lora/<name>", () => {
            const adapter = { name: "a", repo: "org/adapter-a", revision: "1".repeat(40) };
            const rendered = renderDockerfile(fs.readFileSync(path.join(DOCKER_DIR, "Dockerfile"), "utf8"), [adapter]);
            const run = /^\s*(\["python3",.*\])$/m.exec(rendered);
            assert.ok(run, rendered);
            const argv = JSON.parse(run[1]) as string[];
            const secret = path.join(dir, "lora_token");
            fs.writeFileSync(secret, `${FAKE_TOKEN}\n`);
            const target = path.join(dir, "opt", "lora", "a");
            const hostArgs = argv.slice(1).map((a) => (a.endsWith("/download_weights.py") ? SCRIPT : a === "/run/secrets/hf_token" ? secret : a === `${LORA_DIR}/a` ? target : a));
            assert.deepEqual(hostArgs, [SCRIPT, "--token-file", secret, "--repo", adapter.repo, "--revision", adapter.revision, "--local-dir", target]);
            // The adapter stage has no MODEL build args: the flags alone name what to download.
            const r = python(hub, hostArgs, { HF_HOME: path.join(dir, "lora-home") }, dir);
            assert.equal(r.status, 0, r.stderr);
            assert.equal(r.calls.length, 1);
            const { args } = r.calls[0];
            assert.deepEqual(
                { repo_id: args.repo_id, revision: args.revision, token: args.token, ignore_patterns: args.ignore_patterns, local_dir: args.local_dir },
                { repo_id: adapter.repo, revision: adapter.revision, token: FAKE_TOKEN, ignore_patterns: EXCLUDES, local_dir: target },
            );
            assert.deepEqual(filesUnder(target), ["config.json", "model.safetensors"], "the stub repo's files, plain, without huggingface_hub's .cache");
            assert.ok(!fs.existsSync(path.join(dir, "lora-home", "token")));
        });
    });
}

describe("docker/download_weights.py: what it refuses, and how strict the stubs are", () => {
    let dir: string;
    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "download-weights-"));
    });
    after(() => {
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    pyTest("fails clearly, without calling the hub, when MODEL, MODEL_REVISION or the token is missing", () => {
        const base = { HF_HOME: path.join(dir, "home"), MODEL: DEFAULTS.model, MODEL_REVISION: DEFAULT_REVISION, HF_TOKEN: FAKE_TOKEN };
        const cases: [string[], Record<string, string>, RegExp][] = [
            [[SCRIPT], { ...base, MODEL: "" }, /MODEL and MODEL_REVISION must be set/],
            [[SCRIPT], { ...base, MODEL_REVISION: "" }, /MODEL and MODEL_REVISION must be set/],
            [[SCRIPT], { ...base, HF_TOKEN: "" }, /HF_TOKEN is not set/],
            [[SCRIPT, "--token-file", path.join(dir, "missing")], base, /token file .*missing is missing or empty/],
            [[SCRIPT, "--exclude", "*.gguf"], base, /unrecognized arguments: --exclude/],
            [[SCRIPT, "--repo", "org/adapter"], base, /--repo and --revision go together/],
            [[SCRIPT, "--revision", "1".repeat(40)], base, /--repo and --revision go together/],
            [[SCRIPT, "--repo", "", "--revision", "1".repeat(40)], base, /--repo and --revision must not be empty/],
        ];
        for (const [args, env, message] of cases) {
            const r = python("1.28.0", args, env, dir);
            assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
            assert.match(r.stderr, message);
            assert.deepEqual(r.calls, []);
        }
    });

    pyTest("each stub rejects, with TypeError, a keyword only the other version has", () => {
        const call = (kw: string) => `from huggingface_hub import snapshot_download as s; s("org/m", revision="r", token="t", ${kw}=False)`;
        for (const [hub, invalid] of [["0.35.3", "dry_run"], ["1.28.0", "local_dir_use_symlinks"]]) {
            const r = python(hub, ["-c", call(invalid)], { HF_HOME: path.join(dir, "home") }, dir);
            assert.notEqual(r.status, 0);
            assert.match(r.stderr, new RegExp(`TypeError: .*unexpected keyword argument '${invalid}'`));
        }
        const positional = python("1.28.0", ["-c", 'from huggingface_hub import snapshot_download as s; s("org/m", "main")'], {}, dir);
        assert.match(positional.stderr, /TypeError: .*positional argument/);
    });
});

// ---------------------------------------------------------------------------------------------
// test/docker.ts: how the Docker suite above reports that it cannot run. It runs this file in a
// child node:test (the child leaves this part out) with a missing or buildx-less Docker client.

if (process.env.DOCKER_SUITE_PROBE !== "1") {
    // The children mostly load modules: run them side by side.
    describe("the Docker suite, when Docker cannot build here", { concurrency: true }, () => {
        async function child(dockerCli: string, ci: boolean) {
            const env: Record<string, string | undefined> = { ...process.env, DOCKER_CLI: dockerCli, DOCKER_SUITE_PROBE: "1", TS_NODE_TRANSPILE_ONLY: "true" };
            delete env.CI;
            // Set by node:test for the files it runs; a child that inherits it refuses to run tests.
            delete env.NODE_TEST_CONTEXT;
            if (ci) env.CI = "true";
            const r = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
                const p = spawn(process.execPath, ["--require", "ts-node/register", "--test", "--test-reporter=tap", __filename], { env, timeout: 180_000 });
                let stdout = "";
                let stderr = "";
                p.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
                p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
                p.on("error", reject);
                p.on("close", (status) => resolve({ status, stdout, stderr }));
            });
            const count = (name: string) => Number(new RegExp(`^# ${name} (\\d+)$`, "m").exec(r.stdout)?.[1] ?? NaN);
            return { status: r.status, output: `${r.stdout}\n${r.stderr}`, skipped: count("skipped"), failedOrCancelled: count("fail") + count("cancelled") };
        }
        /** The Docker suite's tests, each reported skipped with this reason. */
        function skippedDockerTests(output: string, reason: RegExp): string[] {
            return output.split("\n").filter((l) => /^ {4}ok \d+ - .* # SKIP /.test(l) && reason.test(l));
        }
        const noCli = path.join(os.tmpdir(), `no-docker-cli-${process.pid}`);

        it("is skipped test by test, and the summary counts them with the reason (no Docker CLI)", async () => {
            const r = await child(noCli, false);
            assert.equal(r.status, 0, r.output);
            const skipped = skippedDockerTests(r.output, /no Docker CLI/);
            assert.ok(skipped.length >= 10, r.output);
            assert.ok(r.skipped >= skipped.length, `summary: skipped ${r.skipped}`);
        });

        it("names DOCKER_CLI=/usr/bin/docker when the client cannot build without buildx", async () => {
            const r = await child(path.join(__dirname, "fixtures", "docker-without-buildx"), false);
            assert.equal(r.status, 0, r.output);
            const skipped = skippedDockerTests(r.output, /buildx component is missing.*DOCKER_CLI=\/usr\/bin\/docker/);
            assert.ok(skipped.length >= 10, r.output);
            assert.ok(r.skipped >= skipped.length, `summary: skipped ${r.skipped}`);
        });

        it("fails in CI (CI=true) instead of skipping", async () => {
            const r = await child(noCli, true);
            assert.notEqual(r.status, 0, r.output);
            // A failing before() hook cancels the suite's tests: node:test counts them as cancelled.
            assert.ok(r.failedOrCancelled >= 10, r.output);
            assert.match(r.output, /Docker tests cannot run: no Docker CLI/);
        });
    });
}
