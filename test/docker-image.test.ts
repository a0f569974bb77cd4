// The real docker/Dockerfile, built by the exact Cloud Build step in docker/cloudbuild.yaml,
// on a real Docker engine, on top of a stand-in for vllm/vllm-openai.
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { DOCKER_DIR } from "../components/image-build";
import { vllmArgs } from "../components/service";
import { DEFAULTS } from "../config";
import { FAKE_TOKEN } from "./harness";
import { buildStandInBase, buildSteps, docker, dockerOk, dockerUnavailable, layerContents, skipUnlessAvailable, tokenLeaks } from "./docker";

const unavailable = dockerUnavailable();
const id = `${process.pid}`;
const BASE = `vllm-standin:${id}`;
const IMAGE = `vllm-cloudrun-test:${id}`;
/** A revision BuildKit has never seen, so its cache cannot answer for it. */
const freshRevision = () => crypto.randomBytes(20).toString("hex");
const SNAPSHOT = `model-cache/hub/models--google--gemma-3-1b-it/snapshots/${DEFAULTS.modelRevision}`;

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

function buildBaked(opts: { token?: string; revision?: string; tag?: string } = {}) {
    const { args, env } = cloudBuildDockerArgs({
        _BASE_IMAGE: BASE,
        _MODEL: DEFAULTS.model,
        _MODEL_REVISION: opts.revision ?? DEFAULTS.modelRevision,
        _IMAGE: opts.tag ?? IMAGE,
    });
    // Cloud Build's secretEnv: the token is in the step's environment, nowhere else.
    const secretEnv: Record<string, string> = opts.token === undefined ? {} : { HF_TOKEN: opts.token };
    return docker(args, { cwd: DOCKER_DIR, env: { ...env, ...secretEnv } });
}

describe("docker/Dockerfile on a real Docker engine", { skip: skipUnlessAvailable(unavailable) }, () => {
    let first: ReturnType<typeof buildBaked>;

    before(() => {
        if (unavailable) throw new Error(`Docker tests cannot run: ${unavailable}`);
        buildStandInBase(BASE);
        first = buildBaked({ token: FAKE_TOKEN });
    });

    after(() => {
        if (unavailable) return;
        docker(["rmi", "-f", IMAGE, `${IMAGE}-rev`, `${IMAGE}-leaky`, `${IMAGE}-notoken`, `${IMAGE}-mw`, `${IMAGE}-gcs`, BASE]);
    });

    it("builds with the token supplied only as Cloud Build's secretEnv", () => {
        assert.equal(first.status, 0, first.stderr);
    });

    it("bakes the weights under HF_HOME, in a layer of their own", () => {
        const layers = layerContents(IMAGE);
        const withWeights = layers.filter((l) => l.files.some((f) => f.startsWith("model-cache/")));
        assert.equal(withWeights.length, 1, "exactly one layer holds model files");
        const files = withWeights[0].files.filter((f) => !f.endsWith("/"));
        assert.deepEqual(files.sort(), [`${SNAPSHOT}/config.json`, `${SNAPSHOT}/model.safetensors`]);
        // Besides the snapshot, only empty mount-point directories (etc/, run/secrets/) appear.
        const others = withWeights[0].files.filter((f) => !f.startsWith("model-cache/"));
        assert.ok(others.every((f) => f.endsWith("/")), `no other files in the weights layer: ${others.join(", ")}`);
        const config = JSON.parse(dockerOk(["inspect", IMAGE]).stdout)[0].Config as { Env: string[]; Entrypoint: string[] };
        assert.ok(config.Env.includes("HF_HOME=/model-cache"));
    });

    it("runs offline: HF_HUB_OFFLINE=1 is in the image config", () => {
        const config = JSON.parse(dockerOk(["inspect", IMAGE]).stdout)[0].Config as { Env: string[] };
        assert.ok(config.Env.includes("HF_HUB_OFFLINE=1"), config.Env.join(" "));
        assert.ok(config.Env.includes("VLLM_ENABLE_CUDA_COMPATIBILITY=1"));
    });

    it("leaves the token nowhere: history, inspect, any layer, $HF_HOME/token", () => {
        assert.deepEqual(tokenLeaks(IMAGE, FAKE_TOKEN), []);
    });

    it("starts `vllm serve` with exactly the flags the Cloud Run service passes", () => {
        const args = vllmArgs({ model: DEFAULTS.model, modelRevision: DEFAULTS.modelRevision, servedModelName: DEFAULTS.model, maxModelLen: DEFAULTS.maxModelLen, maxNumSeqs: DEFAULTS.concurrency, gpuMemoryUtilization: DEFAULTS.gpuMemoryUtilization });
        const out = dockerOk(["run", "--rm", "--network", "none", IMAGE, ...args]).stdout.split("\n");
        const recorded = out.slice(out.indexOf("vllm-args-begin") + 1, out.indexOf("vllm-args-end"));
        assert.deepEqual(recorded, ["serve", ...args]);
        assert.ok(out.includes("HF_HUB_OFFLINE=1"));
    });

    it("reuses the weights layer from cache on a rebuild with the same image inputs", (t) => {
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

    it("re-downloads when the model revision changes", (t) => {
        const changed = buildBaked({ token: FAKE_TOKEN, revision: freshRevision(), tag: `${IMAGE}-rev` });
        assert.equal(changed.status, 0, changed.stderr);
        const rebuilt = buildSteps(changed.stderr).filter((s) => !s.cached);
        t.diagnostic(`new revision: ${rebuilt.length} step(s) rebuilt`);
        assert.deepEqual(rebuilt.map((s) => (/download/.test(s.name) ? "weights" : /COPY vllm_cloudrun_auth/.test(s.name) ? "middleware" : s.name)), ["weights", "middleware"]);
    });

    it("keeps the weights cached when only the middleware changes", (t) => {
        const ctx = fs.mkdtempSync(path.join(os.tmpdir(), "ctx-"));
        try {
            for (const f of fs.readdirSync(DOCKER_DIR)) fs.copyFileSync(path.join(DOCKER_DIR, f), path.join(ctx, f));
            fs.appendFileSync(path.join(ctx, "vllm_cloudrun_auth.py"), `\n# ${freshRevision()}\n`);
            const { args, env } = cloudBuildDockerArgs({ _BASE_IMAGE: BASE, _MODEL: DEFAULTS.model, _MODEL_REVISION: DEFAULTS.modelRevision, _IMAGE: `${IMAGE}-mw` });
            const r = docker(args, { cwd: ctx, env: { ...env, HF_TOKEN: FAKE_TOKEN } });
            assert.equal(r.status, 0, r.stderr);
            const rebuilt = buildSteps(r.stderr).filter((s) => !s.cached);
            t.diagnostic(`middleware change: ${rebuilt.length} step(s) rebuilt`);
            assert.deepEqual(rebuilt.map((s) => /COPY vllm_cloudrun_auth/.test(s.name)), [true]);
        } finally {
            fs.rmSync(ctx, { recursive: true, force: true });
        }
    });

    it("carries the API-key middleware on the Python path", () => {
        const config = JSON.parse(dockerOk(["inspect", IMAGE]).stdout)[0].Config as { Env: string[] };
        assert.ok(config.Env.includes("PYTHONPATH=/opt/vllm-cloudrun"), config.Env.join(" "));
        const out = dockerOk(["run", "--rm", "--network", "none", "--entrypoint", "cat", IMAGE, "/opt/vllm-cloudrun/vllm_cloudrun_auth.py"]).stdout;
        assert.equal(out, fs.readFileSync(path.join(DOCKER_DIR, "vllm_cloudrun_auth.py"), "utf8"));
    });

    it("fails clearly when the build has no token", () => {
        const r = buildBaked({ token: undefined, revision: freshRevision(), tag: `${IMAGE}-notoken` });
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /the hf_token build secret is missing/);
    });

    it("weights: gcs builds an image without weights, and its download step fills /workspace only", () => {
        const subs = { _BASE_IMAGE: BASE, _MODEL: DEFAULTS.model, _MODEL_REVISION: DEFAULTS.modelRevision, _IMAGE: `${IMAGE}-gcs` };
        const { args, env } = cloudBuildDockerArgs(subs, "cloudbuild-gcs.yaml");
        const built = docker(args, { cwd: DOCKER_DIR, env });
        assert.equal(built.status, 0, built.stderr);
        assert.match(built.stderr, /weights are not baked \(BAKE_WEIGHTS=false\)/);
        assert.ok(layerContents(`${IMAGE}-gcs`).every((l) => !l.files.some((f) => f.startsWith("model-cache/hub/"))), "no weights in the image");

        // Replay the download step as Cloud Build runs it: the built image as the step, the
        // token in the step environment only, /workspace mounted.
        const step = steps("cloudbuild-gcs.yaml").find((x) => x.id === "download-weights")!;
        assert.equal(substitute(step.name, subs), `${IMAGE}-gcs`);
        const workspace = fs.mkdtempSync(path.join(os.tmpdir(), "workspace-"));
        try {
            const envFlags = (step.env ?? []).flatMap((e) => ["--env", substitute(e, subs)]);
            const secretFlags = (step.secretEnv ?? []).flatMap((k) => ["--env", k]);
            const run = docker(
                ["run", "--rm", "--network", "none", ...envFlags, ...secretFlags, "--volume", `${workspace}:/workspace`, "--entrypoint", step.entrypoint, `${IMAGE}-gcs`, ...step.args.map((a) => substitute(a, subs))],
                { env: { HF_TOKEN: FAKE_TOKEN } },
            );
            assert.equal(run.status, 0, run.stderr);
            const files = fs.readdirSync(path.join(workspace, "weights"), { recursive: true }).map(String).sort();
            assert.deepEqual(files, ["config.json", "model.safetensors"], "weights, without the CLI's .cache");
            for (const f of files) assert.ok(!fs.readFileSync(path.join(workspace, "weights", f)).includes(Buffer.from(FAKE_TOKEN)), f);
            assert.deepEqual(tokenLeaks(`${IMAGE}-gcs`, FAKE_TOKEN), []);
        } finally {
            fs.rmSync(workspace, { recursive: true, force: true });
        }
    });

    it("catches a leak: the seed's ARG HF_TOKEN + login pattern is flagged", () => {
        const leaky = dockerOk(
            ["build", "--network", "none", "--progress=plain", "-f", path.join(__dirname, "fixtures", "leaky.Dockerfile"),
                "--build-arg", `BASE_IMAGE=${BASE}`, "--build-arg", `HF_TOKEN=${FAKE_TOKEN}`, "--build-arg", `MODEL=${DEFAULTS.model}`,
                "--build-arg", `MODEL_REVISION=${DEFAULTS.modelRevision}`, "-t", `${IMAGE}-leaky`, path.join(__dirname, "fixtures")],
        );
        assert.ok(leaky.stderr.length > 0);
        const leaks = tokenLeaks(`${IMAGE}-leaky`, FAKE_TOKEN);
        for (const where of ["docker history", "docker save (layers or config)", "$HF_HOME/token"]) {
            assert.ok(leaks.includes(where), `leak in ${where} detected: ${leaks.join(", ")}`);
        }
    });
});
