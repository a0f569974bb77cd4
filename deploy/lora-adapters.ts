// LoRA adapters baked into the image: checked before gcloud runs, then rendered into the
// Dockerfile the build uploads. A static Dockerfile cannot loop over a list, so each adapter
// gets a stage of its own that downloads only that adapter, and the final image one COPY of it:
// changing adapter i re-runs only stage i and the COPYs from i on (copies of cached stages, no
// download), never the base weights or another adapter's download.
// Why not `COPY --link` (which would keep the later COPY layers too): it needs Dockerfile
// syntax 1.4, which the built-in frontend of Docker 20.10 engines lacks, and `# syntax=` stays
// out (no Docker Hub at build time). The later layers are small: re-copying them is cheap.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { HF_REPO_ID, LORA_ADAPTER_NAME } from "../config/limits";

/** Where each adapter's plain files are: `${LORA_DIR}/<name>/adapter_config.json`, … */
export const LORA_DIR = "/opt/lora";

export interface LoraAdapter {
    name: string;
    repo: string;
    revision: string;
}

/** The same names the config accepts (config/limits.ts). */
export const LORA_NAME = LORA_ADAPTER_NAME;
const COMMIT = /^[0-9a-f]{40}$/;
const KEYS = ["name", "repo", "revision"];

/** What is wrong with a list of adapters (empty when nothing is). */
export function loraAdapterProblems(value: unknown): string[] {
    if (!Array.isArray(value)) return ["must be a list of { name, repo, revision }"];
    const problems: string[] = [];
    const seen = new Set<string>();
    value.forEach((a: unknown, i) => {
        const at = `adapter ${i}`;
        if (a === null || typeof a !== "object" || Array.isArray(a)) {
            problems.push(`${at} must be an object { name, repo, revision }`);
            return;
        }
        const o = a as Record<string, unknown>;
        const extra = Object.keys(o).filter((k) => !KEYS.includes(k));
        if (extra.length > 0) problems.push(`${at} has unknown key(s): ${extra.join(", ")}`);
        const { name, repo, revision } = o;
        if (typeof name !== "string" || !LORA_NAME.test(name)) {
            problems.push(`${at}: name ${JSON.stringify(name)} must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`);
        } else if (seen.has(name)) {
            problems.push(`${at}: name "${name}" is used twice`);
        } else {
            seen.add(name);
        }
        if (typeof repo !== "string" || !HF_REPO_ID.test(repo) || repo.includes("--") || repo.includes("..") || repo.endsWith(".git")) {
            problems.push(`${at}: repo ${JSON.stringify(repo)} must be a Hugging Face repo id <org>/<name>`);
        }
        if (typeof revision !== "string" || !COMMIT.test(revision)) {
            problems.push(`${at}: revision ${JSON.stringify(revision)} must be a 40-character lower-case commit hash`);
        }
    });
    return problems;
}

/** The adapters in LORA_ADAPTERS (JSON), or the problems with it. Unset or empty: none. */
export function parseLoraAdapters(text: string | undefined): { adapters: LoraAdapter[]; problems: string[] } {
    if (text === undefined || text.trim() === "") return { adapters: [], problems: [] };
    let value: unknown;
    try {
        value = JSON.parse(text);
    } catch {
        return { adapters: [], problems: ["is not JSON"] };
    }
    const problems = loraAdapterProblems(value);
    if (problems.length > 0) return { adapters: [], problems };
    return { adapters: (value as LoraAdapter[]).map(({ name, repo, revision }) => ({ name, repo, revision })), problems: [] };
}

/** `/opt/lora/<name>`. */
export function loraPath(name: string): string {
    return `${LORA_DIR}/${name}`;
}

/**
 * docker/Dockerfile plus one stage per adapter and their COPYs on top of its `final` stage.
 * Without adapters: docker/Dockerfile unchanged. Values are validated (see loraAdapterProblems)
 * and written as JSON strings in exec form, so no shell ever sees them.
 */
export function renderDockerfile(dockerfile: string, adapters: readonly LoraAdapter[]): string {
    if (adapters.length === 0) return dockerfile;
    const problems = loraAdapterProblems(adapters);
    if (problems.length > 0) throw new Error(`LoRA adapters: ${problems.join("; ")}`);
    const lines = [
        "",
        "# ---- Rendered by deploy/lora-adapters.ts: one stage per LoRA adapter, downloading only it",
        "# (same token handling as the weights: a BuildKit secret mounted for that RUN only).",
    ];
    adapters.forEach((a, i) => {
        const argv = ["python3", "/run/vllm-cloudrun/download_weights.py", "--token-file", "/run/secrets/hf_token", "--repo", a.repo, "--revision", a.revision, "--local-dir", loraPath(a.name)];
        lines.push(
            `FROM base AS lora-${i}`,
            "RUN --mount=type=secret,id=hf_token \\",
            "    --mount=type=bind,source=download_weights.py,target=/run/vllm-cloudrun/download_weights.py \\",
            `    ${JSON.stringify(argv)}`,
        );
    });
    lines.push("", "FROM final");
    adapters.forEach((a, i) => lines.push(`COPY --from=lora-${i} ${loraPath(a.name)} ${loraPath(a.name)}`));
    return `${dockerfile.replace(/\n*$/, "\n")}${lines.join("\n")}\n`;
}

/**
 * A private copy of the Docker context whose Dockerfile is the rendered one, for gcloud to
 * upload (writing into docker/ would change the content hash of the next run). The build
 * configs need no change: they build `.` with its Dockerfile. Remove it with fs.rmSync.
 */
export function renderedSource(sourceDir: string, adapters: readonly LoraAdapter[]): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vllm-lora-source-"));
    try {
        fs.cpSync(sourceDir, dir, { recursive: true });
        const dockerfile = path.join(dir, "Dockerfile");
        fs.writeFileSync(dockerfile, renderDockerfile(fs.readFileSync(dockerfile, "utf8"), adapters));
        return dir;
    } catch (e) {
        fs.rmSync(dir, { recursive: true, force: true });
        throw e;
    }
}
