// The examples under examples/: the TypeScript one type-checks and runs against the mock engine
// like the stack program; the Python and YAML ones (whose SDK or engine can't run here) are read
// and checked against the package schema the SDK infers (examples/schema.json, which
// test/package-schema.test.ts keeps equal to a fresh inference).
import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as ts from "typescript";
import { parse as parseYaml } from "yaml";
import { snippets } from "../client/snippets";
import { DEFAULTS } from "../config";
import { SECRET_KEYS } from "../config/contract";
import { VLLM_CLOUDRUN_TYPE } from "../components/vllm-cloudrun";
import { FAKE_TOKEN, GCP_PROJECT, isConfigError, one, plainStrings, PROJECT, ROOT, runProgram, RunResult } from "./harness";

const EXAMPLES = path.join(ROOT, "examples");
const TS_PROGRAM = "examples/typescript/index.ts";

interface PropertySpec {
    type?: string;
    $ref?: string;
    plain?: boolean;
}
interface ComponentSpec {
    inputProperties: Record<string, PropertySpec>;
    requiredInputs: string[];
    properties: Record<string, PropertySpec>;
}
const schema = JSON.parse(fs.readFileSync(path.join(EXAMPLES, "schema.json"), "utf8")) as { name: string; resources: Record<string, ComponentSpec> };
const component = schema.resources[VLLM_CLOUDRUN_TYPE];
const INPUTS = Object.keys(component.inputProperties);
const OUTPUTS = Object.keys(component.properties);

const read = (...p: string[]): string => fs.readFileSync(path.join(EXAMPLES, ...p), "utf8");
const readYaml = (...p: string[]): Record<string, any> => parseYaml(read(...p)) as Record<string, any>;

// Pulumi's Python codegen (pkg/codegen/python/python.go): PyName turns camelCase into
// snake_case (acronyms kept together, a digit or "s" after an acronym joins it), then avoids
// keywords; InitParamName also avoids the constructor's own resource_name and opts.
const PY_KEYWORDS = new Set(
    "False None True and as assert async await break class continue def del elif else except exec finally for from global if import in is lambda nonlocal not or pass print raise return try while with yield".split(" "),
);
function pyName(name: string): string {
    const upper = (c: string) => c >= "A" && c <= "Z";
    const digit = (c: string) => c >= "0" && c <= "9";
    let result = "";
    let current = "";
    let state: "first" | "upper" | "acronym" | "lower" = "first";
    const flush = (s: string) => {
        result += (result === "" ? "" : "_") + s;
    };
    for (let c of name) {
        if (!/[A-Za-z0-9_]/.test(c)) c = "_";
        if (state === "first") {
            if (!/[A-Za-z_]/.test(c)) current += "_";
            state = upper(c) ? "upper" : "lower";
            current += c.toLowerCase();
        } else if (state === "upper") {
            state = upper(c) ? "acronym" : "lower";
            current += c.toLowerCase();
        } else if (state === "acronym") {
            if (upper(c)) current += c.toLowerCase();
            else if (digit(c) || c === "s") {
                state = "lower";
                current += c;
            } else {
                flush(current.slice(0, -1));
                current = current.slice(-1) + c;
                state = "lower";
            }
        } else if (upper(c)) {
            flush(current);
            current = c.toLowerCase();
            state = "upper";
        } else {
            current += c;
        }
    }
    if (current !== "") flush(current);
    return PY_KEYWORDS.has(result) ? `${result}_` : result;
}
const initParamName = (name: string): string => (["resource_name", "opts"].includes(pyName(name)) ? `${pyName(name)}_` : pyName(name));

// pkg/codegen/python PyPack: the module is <namespace>_<name>, namespace "pulumi" when there is
// none. The CLI gives a package from github.com/OWNER/... the namespace OWNER, lower-cased
// (pkg/cmd/pulumi/packages setSpecNamespace); a local path gives none.
function pythonModuleFor(source: string, name: string): string {
    const owner = /^(?:https:\/\/)?github\.com\/([^/]+)\//.exec(source)?.[1];
    return `${owner === undefined ? "pulumi" : owner.toLowerCase().replace(/-/g, "_")}_${name.replace(/-/g, "_")}`;
}

/** Top-level comma-separated parts of an argument list (parentheses, brackets and strings respected). */
function splitArgs(s: string): string[] {
    const parts: string[] = [];
    let depth = 0;
    let quote: string | undefined;
    let current = "";
    for (const c of s) {
        if (quote !== undefined) {
            if (c === quote) quote = undefined;
        } else if (c === '"' || c === "'") quote = c;
        else if ("([{".includes(c)) depth++;
        else if (")]}".includes(c)) depth--;
        if (c === "," && depth === 0 && quote === undefined) {
            parts.push(current.trim());
            current = "";
        } else current += c;
    }
    if (current.trim() !== "") parts.push(current.trim());
    return parts;
}

/** The argument list of the first call to `callee(`, without its comments. */
function callArgs(source: string, callee: string): string {
    const code = source.replace(/#.*$/gm, "");
    const start = code.indexOf(`${callee}(`);
    assert.ok(start >= 0, `no call to ${callee}`);
    let depth = 0;
    for (let i = start + callee.length; i < code.length; i++) {
        if (code[i] === "(") depth++;
        if (code[i] === ")" && --depth === 0) return code.slice(start + callee.length + 1, i);
    }
    throw new Error(`unbalanced call to ${callee}`);
}

describe("examples/typescript", () => {
    it("type-checks with its tsconfig.json (the repository's settings)", () => {
        const configPath = path.join(EXAMPLES, "typescript", "tsconfig.json");
        const config = ts.readConfigFile(configPath, (p) => ts.sys.readFile(p));
        const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, path.dirname(configPath));
        assert.deepEqual(parsed.fileNames, [path.join(ROOT, TS_PROGRAM)]);
        assert.equal(parsed.options.strict, true);
        const program = ts.createProgram({ rootNames: parsed.fileNames, options: { ...parsed.options, noEmit: true } });
        const problems = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
        assert.deepEqual(problems, []);
    });

    it("is a nodejs project of its own and reads the token as a secret", () => {
        const project = readYaml("typescript", "Pulumi.yaml");
        assert.equal(project.name, "vllm-cloudrun-example");
        assert.equal(project.runtime, "nodejs");
        assert.deepEqual([project.config.hfToken.type, project.config.hfToken.secret], ["string", true]);
        assert.match(read("typescript", "index.ts"), /hfToken: config\.requireSecret\("hfToken"\)/);
    });

    describe("under the mock engine", () => {
        // The example reads `<project>:hfToken` and `<project>:preflightChecks` (new pulumi.Config());
        // the mock engine runs it as project vllm-cloudrun, whose hfToken the harness sets as a
        // secret and whose preflightChecks it sets to false (the tests never reach the network).
        let r: RunResult;
        before(async () => {
            r = await runProgram({ program: TS_PROGRAM });
        });

        it("runs without error and creates one VllmCloudRun named llm, at the top of the stack", () => {
            assert.equal(r.error, undefined);
            const llm = one(r, VLLM_CLOUDRUN_TYPE);
            assert.equal(llm.name, "llm");
            assert.equal(llm.parent, undefined, "no parent given: a child of the stack");
        });

        it("creates everything else inside the component", () => {
            const byKey = new Map(r.resources.map((x) => [`${x.type}::${x.name}`, x]));
            for (const x of r.resources.filter((x) => x.type !== "pulumi:pulumi:Stack" && x.type !== VLLM_CLOUDRUN_TYPE)) {
                let p = x.parent;
                while (p !== undefined && p !== `${VLLM_CLOUDRUN_TYPE}::llm`) p = byKey.get(p)?.parent;
                assert.equal(p, `${VLLM_CLOUDRUN_TYPE}::llm`, `${x.type} ${x.name}`);
            }
        });

        it("names the Cloud Run service after the component and the stack, with the args given", () => {
            const service = one(r, "gcp:cloudrunv2/service:Service");
            assert.equal(service.inputs.name, "llm-dev");
            assert.equal(service.inputs.project, GCP_PROJECT);
            assert.equal(service.inputs.location, "us-central1");
            assert.equal((service.inputs.template as { scaling: { maxInstanceCount: number } }).scaling.maxInstanceCount, 1);
        });

        it("exports the URL and the curl command, outputs of the schema", () => {
            const url = "https://llm-dev-abc123-uc.a.run.app";
            assert.deepEqual(r.outputs, { serviceUrl: url, curlCommand: snippets(url, DEFAULTS.model, "iam").curlCompletions });
            for (const name of Object.keys(r.outputs)) assert.ok(OUTPUTS.includes(name), name);
        });

        it("keeps the token out of every plain input and output", () => {
            for (const res of r.resources) {
                for (const s of plainStrings(res.inputs)) assert.ok(!s.includes(FAKE_TOKEN), `${res.type} ${res.name} has the token in plain text`);
            }
            const holders = r.resources.filter((x) => JSON.stringify(x.inputs).includes(FAKE_TOKEN));
            assert.deepEqual(holders.map((x) => x.type), ["gcp:secretmanager/secretVersion:SecretVersion"]);
            assert.ok(!JSON.stringify(r.outputs).includes(FAKE_TOKEN));
        });

        it("in another stack, names the service after that stack", async () => {
            const prod = await runProgram({ program: TS_PROGRAM, stack: "prod" });
            assert.equal(prod.error, undefined);
            assert.equal(one(prod, "gcp:cloudrunv2/service:Service").inputs.name, "llm-prod");
        });
    });

    it("run from its own directory, as `pulumi up` there runs it, the build and the smoke test run in the package's directory", async () => {
        const saved = process.cwd();
        process.chdir(path.join(ROOT, "examples", "typescript"));
        try {
            const r = await runProgram({ program: TS_PROGRAM, config: { smokeTest: true } });
            assert.equal(r.error, undefined, String(r.error));
            const build = one(r, "command:local:Command", "llm-dev-build");
            assert.equal(build.inputs.dir, ROOT);
            assert.equal((build.inputs.environment as Record<string, string>).SOURCE_DIR, "docker");
            assert.equal((build.inputs.environment as Record<string, string>).BUILD_SCRIPT, "deploy/cloud-build.ts");
            assert.ok(fs.existsSync(path.join(ROOT, "deploy", "cloud-build.ts")));
            // The smoke test the same way (the example leaves smokeTest off: the stack program turns it on).
            const withSmoke = await runProgram({ config: { smokeTest: true } });
            assert.equal(one(withSmoke, "command:local:Command", `${PROJECT}-dev-smoke`).inputs.dir, ROOT);
        } finally {
            process.chdir(saved);
        }
        // From the package's own directory (the stack program), no dir: the inputs stay as they were.
        const here = await runProgram({ program: TS_PROGRAM });
        assert.equal(one(here, "command:local:Command", "llm-dev-build").inputs.dir, undefined);
    });

    it("with the token passed as a plain string, is refused before anything is created", async () => {
        // The example with config.require instead of config.requireSecret, and the token stored in
        // plain text: the component refuses a non-secret hfToken (secretArgProblems).
        const source = read("typescript", "index.ts");
        // Under test/.tmp (git-ignored), so it resolves @pulumi/pulumi and ../../plugin as the example does.
        fs.mkdirSync(path.join(ROOT, "test", ".tmp"), { recursive: true });
        const tmp = fs.mkdtempSync(path.join(ROOT, "test", ".tmp", "plain-token-"));
        try {
            const program = path.join(tmp, "index.ts");
            const plugin = path.relative(tmp, path.join(ROOT, "plugin")).split(path.sep).join("/");
            const rewritten = source.replace('config.requireSecret("hfToken")', 'config.require("hfToken")').replace('from "../../plugin"', `from "${plugin}"`);
            assert.equal(rewritten.match(/config\.require\("hfToken"\)/g)?.length, 1);
            assert.ok(rewritten.includes(`import { VllmCloudRun } from "${plugin}";`));
            fs.writeFileSync(program, rewritten);
            const r = await runProgram({ program: path.relative(ROOT, program), plainToken: true });
            assert.ok(isConfigError(r.error), String(r.error));
            assert.deepEqual(r.error.problems.map((p) => p.key), ["hfToken"]);
            assert.match(r.error.problems[0].allowed, /is not a secret/);
            // A program's args, not a stack's config: the message says how the fixes translate.
            assert.match(r.error.message, /These values are VllmCloudRun's args: set the arg of the same name in your program/);
            assert.ok(!r.error.message.includes(FAKE_TOKEN));
            assert.deepEqual(r.resources.map((x) => `${x.type}::${x.name}`).sort(), [`pulumi:pulumi:Stack::${PROJECT}-dev`, `${VLLM_CLOUDRUN_TYPE}::llm`]);
        } finally {
            fs.rmSync(tmp, { recursive: true, force: true });
            if (fs.readdirSync(path.join(ROOT, "test", ".tmp")).length === 0) fs.rmdirSync(path.join(ROOT, "test", ".tmp"));
        }
    });
});

describe("examples/python", () => {
    const project = readYaml("python", "Pulumi.yaml");
    const main = read("python", "__main__.py");
    const pyInputs = new Map(INPUTS.map((n) => [initParamName(n), n]));
    const pyOutputs = new Map(OUTPUTS.map((n) => [pyName(n), n]));

    it("Python names are the schema's in snake_case, one for one", () => {
        assert.equal(pyInputs.size, INPUTS.length);
        assert.equal(pyOutputs.size, OUTPUTS.length);
        assert.deepEqual(
            ["hfToken", "maxInstances", "buildDiskSizeGb", "gpuMemoryUtilization", "public", "serviceUrl", "budgetGiB"].map(pyName),
            ["hf_token", "max_instances", "build_disk_size_gb", "gpu_memory_utilization", "public", "service_url", "budget_gi_b"],
        );
    });

    it("is a python project that adds the package and declares hfToken secret", () => {
        assert.equal(project.runtime.name, "python");
        assert.deepEqual(Object.keys(project.packages), [schema.name]);
        assert.deepEqual([project.config.hfToken.type, project.config.hfToken.secret], ["string", true]);
        assert.deepEqual(read("python", "requirements.txt").trim().split("\n"), ["pulumi>=3.265,<4"]);
    });

    it("imports the module the CLI generates for the package's source", () => {
        const imported = /^import (\w+) as vllm$/m.exec(main)?.[1];
        assert.equal(imported, pythonModuleFor(project.packages[schema.name], schema.name));
        assert.equal(imported, "pulumi_vllm_cloudrun");
        assert.equal(pythonModuleFor("https://github.com/OWNER/vllm-cloudrun@v0.2.0", schema.name), "owner_vllm_cloudrun");
    });

    it("gives VllmCloudRun schema inputs only, every required one, secrets from secret config", () => {
        const [name, ...kwargs] = splitArgs(callArgs(main, "vllm.VllmCloudRun"));
        assert.equal(name, '"llm"');
        const given = new Map(
            kwargs.map((kw) => {
                const m = /^(\w+)\s*=\s*([\s\S]+)$/.exec(kw);
                assert.ok(m, `not a keyword argument: ${kw}`);
                return [m[1], m[2].trim()] as const;
            }),
        );
        for (const kw of given.keys()) assert.ok(pyInputs.has(kw), `${kw} is no input of ${VLLM_CLOUDRUN_TYPE}`);
        for (const required of component.requiredInputs) assert.ok(given.has(initParamName(required)), `required ${required} is missing`);
        assert.match(main, /^config = pulumi\.Config\(\)$/m);
        for (const [kw, value] of given) {
            if (SECRET_KEYS.includes(pyInputs.get(kw) as (typeof SECRET_KEYS)[number])) assert.match(value, /^config\.require_secret\("\w+"\)$/, kw);
        }
        assert.equal(given.get("hf_token"), 'config.require_secret("hfToken")');
    });

    it("exports outputs of the schema", () => {
        const variable = /^(\w+) = vllm\.VllmCloudRun\(/m.exec(main)?.[1];
        assert.equal(variable, "llm");
        const reads = [...main.matchAll(/\bllm\.(\w+)/g)].map((m) => m[1]);
        assert.deepEqual(reads, ["service_url", "curl_command"]);
        for (const attr of reads) assert.ok(pyOutputs.has(attr), `${attr} is no output of ${VLLM_CLOUDRUN_TYPE}`);
        assert.match(main, /^pulumi\.export\("service_url", llm\.service_url\)$/m);
    });

    it("its README gives the package add command and the secret config", () => {
        const readme = read("python", "README.md");
        assert.ok(readme.includes("pulumi package add https://github.com/OWNER/vllm-cloudrun@v0.2.0"));
        assert.ok(readme.includes("owner_vllm_cloudrun") && readme.includes("pulumi_vllm_cloudrun"));
        assert.ok(readme.includes("pulumi config set --secret hfToken"));
    });
});

describe("examples/yaml", () => {
    const program = readYaml("yaml", "Pulumi.yaml");
    const resources = Object.entries(program.resources as Record<string, { type: string; properties: Record<string, unknown> }>);
    /** The roots of the `${...}` references in a value. */
    const refs = (v: unknown): string[] => [...JSON.stringify(v).matchAll(/\$\{([^}.[]+)[^}]*\}/g)].map((m) => m[1]);

    it("is a yaml project that adds the package from its git tag", () => {
        assert.equal(program.runtime, "yaml");
        assert.deepEqual(program.packages, { [schema.name]: "https://github.com/OWNER/vllm-cloudrun@v0.2.0" });
    });

    it("declares one VllmCloudRun by its schema token", () => {
        assert.deepEqual(resources.map(([name, r]) => [name, r.type]), [["llm", VLLM_CLOUDRUN_TYPE]]);
    });

    it("gives schema inputs only, every required one; plain inputs from config, secrets from secret config", () => {
        const [, llm] = resources[0];
        const config = program.config as Record<string, { type: string; secret?: boolean }>;
        for (const name of Object.keys(llm.properties)) assert.ok(INPUTS.includes(name), `${name} is no input of ${VLLM_CLOUDRUN_TYPE}`);
        for (const required of component.requiredInputs) assert.ok(required in llm.properties, `required ${required} is missing`);
        for (const [name, value] of Object.entries(llm.properties)) {
            // A plain input must be known before anything is created: literals or stack config
            // (`gcp:project` is the Google provider's, declared nowhere here), never a resource output.
            for (const root of refs(value)) assert.ok(root in config || root.includes(":"), `${name} reads ${root}, which is no config`);
            if (SECRET_KEYS.includes(name as (typeof SECRET_KEYS)[number])) {
                assert.match(String(value), /^\$\{\w+\}$/, name);
                assert.deepEqual(config[refs(value)[0]], { type: "string", secret: true }, name);
            }
        }
        assert.deepEqual(llm.properties, { project: "${gcp:project}", region: "${gcp:region}", hfToken: "${hfToken}", maxInstances: 1 });
    });

    it("exports outputs of the schema", () => {
        const outputs = program.outputs as Record<string, string>;
        assert.deepEqual(outputs, { serviceUrl: "${llm.serviceUrl}", curlCommand: "${llm.curlCommand}" });
        for (const value of Object.values(outputs)) {
            const m = /^\$\{llm\.(\w+)\}$/.exec(value);
            assert.ok(m && OUTPUTS.includes(m[1]), value);
        }
    });
});
