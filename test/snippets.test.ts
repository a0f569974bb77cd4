import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { accessMode, snippets } from "../client/snippets";
import * as fs from "fs";
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

describe("the TypeScript snippet", () => {
    it("compiles in this CommonJS project with its tsconfig (no top-level await)", () => {
        const ts = require("typescript") as typeof import("typescript");
        const root = path.resolve(__dirname, "..");
        const dir = fs.mkdtempSync(path.join(root, "test", ".snippet-"));
        try {
            const file = path.join(dir, "snippet.ts");
            const code = snippets("https://svc-abc-uc.a.run.app", "google/gemma-3-1b-it", "iam+key").typescript;
            // The snippet imports "./client" from the repository root; this file sits two levels down.
            fs.writeFileSync(file, code.replace('from "./client"', 'from "../../client"'));
            const { config } = ts.readConfigFile(path.join(root, "tsconfig.json"), (f) => ts.sys.readFile(f));
            const options = ts.parseJsonConfigFileContent(config, ts.sys, root).options;
            const program = ts.createProgram([file], { ...options, noEmit: true });
            const diagnostics = ts.getPreEmitDiagnostics(program).filter((d) => d.file?.fileName === file);
            assert.deepEqual(diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n")), []);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
