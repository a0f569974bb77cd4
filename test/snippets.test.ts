import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { accessMode, AccessMode, SNIPPET_IMAGE, snippets } from "../client/snippets";
import { SMOKE_IMAGE } from "../client/smoke";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as path from "path";

const URL = "https://svc-abc.a.run.app";
const MODEL = "google/gemma-3-1b-it";

describe("ready-to-paste snippets", () => {
    it("IAM only: the identity token in Authorization", () => {
        const s = snippets(URL, MODEL, "iam");
        assert.equal(s.curlCompletions, `curl -sS ${URL}/v1/completions -H "Authorization: Bearer $(gcloud auth print-identity-token)" -H "Content-Type: application/json" -d '{"model":"${MODEL}","prompt":"Cloud Run is","max_tokens":64}'`);
        assert.match(s.python, /api_key=token\)/);
        assert.doesNotMatch(s.typescript, /apiKey/);
    });

    it("IAM plus key: the token moves to X-Serverless-Authorization, the key comes from $VLLM_API_KEY", () => {
        const s = snippets(URL, MODEL, "iam+key");
        assert.match(s.curl, /-H "X-Serverless-Authorization: Bearer \$\(gcloud auth print-identity-token\)"/);
        assert.match(s.curl, /-H "Authorization: Bearer \$VLLM_API_KEY"/);
        assert.match(s.python, /default_headers=\{"X-Serverless-Authorization": f"Bearer \{token\}"\}/);
        assert.match(s.typescript, /apiKey: process\.env\.VLLM_API_KEY/);
    });

    it("public plus key: the key alone", () => {
        const s = snippets(URL, MODEL, "public+key");
        assert.doesNotMatch(s.curl, /gcloud/);
        assert.doesNotMatch(s.python, /gcloud/);
        assert.match(s.curl, /-H "Authorization: Bearer \$VLLM_API_KEY"/);
    });

    it("names the mode from the config", () => {
        assert.deepEqual([accessMode(false, false), accessMode(true, false), accessMode(true, true)], ["iam", "iam+key", "public+key"]);
    });
});

/** TypeScript diagnostics of `code` as a file in this project (its "./client" import resolved from the root). */
function typeCheck(code: string): string[] {
    const ts = require("typescript") as typeof import("typescript");
    const root = path.resolve(__dirname, "..");
    const dir = fs.mkdtempSync(path.join(root, "test", ".snippet-"));
    try {
        const file = path.join(dir, "snippet.ts");
        // The snippet imports "./client" from the repository root; this file sits two levels down.
        fs.writeFileSync(file, code.replace('from "./client"', 'from "../../client"'));
        const { config } = ts.readConfigFile(path.join(root, "tsconfig.json"), (f) => ts.sys.readFile(f));
        const options = ts.parseJsonConfigFileContent(config, ts.sys, root).options;
        const program = ts.createProgram([file], { ...options, noEmit: true });
        const diagnostics = ts.getPreEmitDiagnostics(program).filter((d) => d.file?.fileName === file);
        return diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

describe("the TypeScript snippet", () => {
    it("compiles in this CommonJS project with its tsconfig (no top-level await)", () => {
        assert.deepEqual(typeCheck(snippets("https://svc-abc-uc.a.run.app", "google/gemma-3-1b-it", "iam+key").typescript), []);
    });

    it("compiles with the image request and the adapter note too", () => {
        const s = snippets("https://svc-abc-uc.a.run.app", "google/gemma-3-4b-it", "iam+key", { imageInput: true, loraModels: ["sql-lora"] });
        assert.deepEqual(typeCheck(s.typescriptImage ?? ""), []);
        assert.deepEqual(typeCheck(s.typescript), []);
    });
});

const MODES: AccessMode[] = ["iam", "iam+key", "public+key"];
const VISION = "google/gemma-3-4b-it";

describe("snippets for image input and LoRA adapters", () => {
    it("without either (options absent, off or empty) every snippet is what it always was", () => {
        // Recorded before the options existed: the 3-argument output, byte for byte.
        const before = {
            curlCompletions: `curl -sS ${URL}/v1/completions -H "X-Serverless-Authorization: Bearer $(gcloud auth print-identity-token)" -H "Authorization: Bearer $VLLM_API_KEY" -H "Content-Type: application/json" -d '{"model":"${MODEL}","prompt":"Cloud Run is","max_tokens":64}'`,
            curl: [
                `curl -sS ${URL}/v1/chat/completions \\`,
                `  -H "X-Serverless-Authorization: Bearer $(gcloud auth print-identity-token)" \\`,
                `  -H "Authorization: Bearer $VLLM_API_KEY" \\`,
                `  -H "Content-Type: application/json" \\`,
                `  -d '{"model":"${MODEL}","messages":[{"role":"user","content":"Hello!"}],"max_tokens":64}'`,
            ].join("\n"),
            typescript: [
                `// In this repository: tokens are minted and refreshed for you (npm run chat / smoke use the same).`,
                `import { createClient } from "./client";`,
                `const client = createClient({ url: "${URL}", model: "${MODEL}", apiKey: process.env.VLLM_API_KEY });`,
                `async function main(): Promise<void> {`,
                `    const r = await client.chat.completions.create({ model: "${MODEL}", messages: [{ role: "user", content: "Hello!" }] });`,
                `    console.log(r.choices[0].message.content);`,
                `}`,
                `main().catch((e: unknown) => { console.error(e); process.exitCode = 1; });`,
            ].join("\n"),
            python: [
                `import os, subprocess`,
                `from openai import OpenAI`,
                `token = subprocess.check_output(["gcloud", "auth", "print-identity-token"], text=True).strip()  # valid for 1 hour`,
                `client = OpenAI(base_url="${URL}/v1", api_key=os.environ["VLLM_API_KEY"], default_headers={"X-Serverless-Authorization": f"Bearer {token}"})`,
                `r = client.chat.completions.create(model="${MODEL}", messages=[{"role": "user", "content": "Hello!"}])`,
                `print(r.choices[0].message.content)`,
            ].join("\n"),
        };
        assert.deepEqual(snippets(URL, MODEL, "iam+key"), before);
        for (const mode of MODES) {
            const plain = snippets(URL, MODEL, mode);
            assert.deepEqual(Object.keys(plain), ["curlCompletions", "curl", "typescript", "python"]);
            for (const options of [{}, { imageInput: false }, { loraModels: [] }, { imageInput: false, loraModels: [] as string[] }]) {
                assert.deepEqual(snippets(URL, MODEL, mode, options), plain, `${mode} ${JSON.stringify(options)}`);
            }
        }
    });

    it("image input adds curl, TypeScript and Python image requests in the access mode's style; the rest stays", () => {
        for (const mode of MODES) {
            const plain = snippets(URL, VISION, mode);
            const s = snippets(URL, VISION, mode, { imageInput: true });
            assert.deepEqual(Object.keys(s), ["curlCompletions", "curl", "typescript", "python", "curlImage", "typescriptImage", "pythonImage"]);
            assert.deepEqual({ curlCompletions: s.curlCompletions, curl: s.curl, typescript: s.typescript, python: s.python }, plain);
            for (const text of [s.curlImage, s.typescriptImage, s.pythonImage]) {
                assert.ok(text?.includes("data:image/png;base64,"), text);
                assert.ok(text?.includes(SNIPPET_IMAGE), text);
                assert.ok(text?.includes(VISION));
            }
            // The same authentication lines as the mode's plain snippets.
            const authLines = (t: string) => t.split("\n").filter((l) => /-H "(Authorization|X-Serverless)/.test(l)).map((l) => l.trim());
            assert.deepEqual(authLines(s.curlImage ?? ""), authLines(plain.curl));
            const pyAuth = (t: string) => t.split("\n").filter((l) => /^(token|client) = /.test(l));
            assert.deepEqual(pyAuth(s.pythonImage ?? ""), pyAuth(plain.python));
            assert.equal(s.typescriptImage?.split("\n").find((l) => l.startsWith("const client")), plain.typescript.split("\n").find((l) => l.startsWith("const client")));
            assert.match(s.pythonImage ?? "", /\[\{"type": "text", "text": "What is in this image\?"\}, \{"type": "image_url", "image_url": \{"url": image\}\}\]/);
        }
    });

    it("the image snippets send the PNG the smoke test sends, from the repository root", () => {
        assert.equal(path.resolve(__dirname, "..", SNIPPET_IMAGE), SMOKE_IMAGE);
    });

    it("adapters: each snippet says how to call one, by its name as the model", () => {
        for (const mode of MODES) {
            const plain = snippets(URL, MODEL, mode);
            const s = snippets(URL, MODEL, mode, { loraModels: ["sql-lora", "chat-lora"] });
            assert.deepEqual(Object.keys(s), ["curlCompletions", "curl", "typescript", "python"]);
            assert.equal(s.curlCompletions, plain.curlCompletions, "the codelab test (curlCommand) stays as it is");
            for (const k of ["curl", "typescript", "python"] as const) {
                assert.ok(s[k].startsWith(`${plain[k]}\n`), `${mode} ${k} keeps the call to the model`);
                assert.match(s[k].slice(plain[k].length), /LoRA adapters: sql-lora, chat-lora\. Each is a model name: to call one, send its name as the model/);
            }
            assert.match(s.curl, /\n# .* e\.g\. -d '\{"model":"sql-lora","messages":\[\{"role":"user","content":"Hello!"\}\],"max_tokens":64\}'$/);
            assert.match(s.typescript, /\n\/\/ .*\{ model: "sql-lora", messages: \[\.\.\.\] \}$/);
            assert.match(s.python, /\n# .*client\.chat\.completions\.create\(model="sql-lora", messages=\[\.\.\.\]\)$/);
        }
    });

    it("the Python snippets are valid Python", { skip: spawnSync("python3", ["--version"]).status !== 0 && "no python3" }, () => {
        for (const mode of MODES) {
            const s = snippets(URL, VISION, mode, { imageInput: true, loraModels: ["sql-lora"] });
            for (const code of [s.python, s.pythonImage ?? ""]) {
                const r = spawnSync("python3", ["-c", "import ast, sys; ast.parse(sys.stdin.read())"], { input: code, encoding: "utf8" });
                assert.equal(r.status, 0, `${mode}: ${r.stderr}\n${code}`);
            }
        }
    });

    it("the curl image snippet, run by bash from the repository root, sends the PNG as a data URL with the key", { skip: ["bash", "curl", "base64"].some((c) => spawnSync("sh", ["-c", `command -v ${c}`]).status !== 0) && "needs bash, curl and base64" }, async () => {
        const key = "sk-test-0123456789abcdef-KEY";
        const seen: { path?: string; authorization?: string; contentType?: string; body: string }[] = [];
        const server = http.createServer((req, res) => {
            let body = "";
            req.on("data", (c: Buffer) => (body += c.toString()));
            req.on("end", () => {
                seen.push({ path: req.url, authorization: req.headers.authorization, contentType: req.headers["content-type"], body });
                res.writeHead(200, { "content-type": "application/json" });
                res.end(JSON.stringify({ choices: [{ message: { content: "A red square." } }] }));
            });
        });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        try {
            const code = snippets(url, VISION, "public+key", { imageInput: true }).curlImage ?? "";
            const r = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
                const child = require("child_process").spawn("bash", ["-c", code], { cwd: path.resolve(__dirname, ".."), env: { PATH: process.env.PATH, VLLM_API_KEY: key } }) as import("child_process").ChildProcess;
                let stdout = "";
                let stderr = "";
                child.stdout?.on("data", (c: Buffer) => (stdout += c.toString()));
                child.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
                child.on("close", (status) => resolve({ status, stdout, stderr }));
            });
            assert.equal(r.status, 0, r.stderr);
            assert.match(r.stdout, /A red square/);
            assert.equal(seen.length, 1);
            assert.equal(seen[0].path, "/v1/chat/completions");
            assert.equal(seen[0].authorization, `Bearer ${key}`);
            assert.equal(seen[0].contentType, "application/json");
            const body = JSON.parse(seen[0].body) as { model: string; messages: { role: string; content: { type: string; text?: string; image_url?: { url: string } }[] }[] };
            assert.equal(body.model, VISION);
            const parts = body.messages[0].content;
            assert.deepEqual(parts.map((p) => p.type), ["text", "image_url"]);
            assert.ok(Buffer.from((parts[1].image_url?.url ?? "").replace(/^data:image\/png;base64,/, ""), "base64").equals(fs.readFileSync(SMOKE_IMAGE)));
        } finally {
            server.closeAllConnections();
            await new Promise((resolve) => server.close(resolve));
        }
    });
});
