// The package's schema, inferred offline the way `pulumi package add` infers it: Pulumi's
// Node.js plugin host (@pulumi/pulumi cmd/run-plugin/run.js) requires package.json "main",
// takes the ComponentResource classes it exports, names the provider after package.json
// "name" and asks ComponentProvider.getSchema(), which runs the SDK's TypeScript analyzer over
// the sources. The same code runs here, without the CLI. Every other language's SDK (and what
// Pulumi YAML accepts) is generated from this schema, so it is checked against the contract.
//
// The schema is also committed as examples/schema.json (test/examples.test.ts checks the
// Python and YAML examples against it); `npm run contract` rewrites it (scripts/package-schema.ts).
import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { getPulumiComponents } from "@pulumi/pulumi/provider/experimental/provider";
import { inferPackageSchema, providerNameOf, SCHEMA_FILE } from "../scripts/package-schema";
import { CONTRACT, CONTRACT_KEYS, KeyDef, REQUIRED_KEYS, SECRET_KEYS } from "../config/contract";
import { VLLM_CLOUDRUN_OUTPUTS, VLLM_CLOUDRUN_TYPE, VllmCloudRun } from "../components/vllm-cloudrun";
import { ROOT } from "./harness";


interface PropertySpec {
    type?: string;
    $ref?: string;
    items?: PropertySpec;
    additionalProperties?: PropertySpec;
    plain?: boolean;
    optional?: boolean;
    secret?: boolean;
    description?: string;
}
interface PackageSchema {
    name: string;
    version: string;
    description?: string;
    namespace?: string;
    resources: Record<string, { type: string; isComponent: boolean; inputProperties: Record<string, PropertySpec>; requiredInputs: string[]; properties: Record<string, PropertySpec>; required: string[]; description?: string }>;
    types: Record<string, { type: string; properties: Record<string, PropertySpec>; required: string[] }>;
}

const packageJson = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { name: string; version: string; description: string; main: string };


/** The schema type each contract type becomes. */
function schemaTypeOf(def: KeyDef): PropertySpec {
    switch (def.type) {
        case "string":
            return { type: "string" };
        // The analyzer maps TypeScript's `number` to "number": it has no integer, so integer keys
        // (cpu, maxInstances, ...) are "number" in the schema (Python: float, Go: float64, C#: double).
        // The component still refuses a fractional value when it validates its args.
        case "integer":
        case "number":
            return { type: "number" };
        case "boolean":
            return { type: "boolean" };
        case "string[]":
            return { type: "array", items: { type: "string", plain: true } };
        case "adapter[]":
            return { type: "array", items: { $ref: "#/types/vllm-cloudrun:index:LoraAdapter", plain: true } };
    }
}

/** A property's spec without the listed fields. */
function without(spec: PropertySpec, ...fields: (keyof PropertySpec)[]): PropertySpec {
    const out: PropertySpec = { ...spec };
    for (const f of fields) delete out[f];
    return out;
}

const ref = (name: string): PropertySpec => ({ $ref: `#/types/vllm-cloudrun:index:${name}` });

/** The output object types, field by field as their TypeScript interfaces declare them (`?` = optional). */
const OBJECT_TYPES: Record<string, Record<string, string>> = {
    // config/args.ts (generated)
    LoraAdapter: { name: "string", repo: "string", revision: "string" },
    // client/snippets.ts
    Snippets: { curlCompletions: "string", curl: "string", typescript: "string", python: "string", "curlImage?": "string", "typescriptImage?": "string", "pythonImage?": "string" },
    // config/startup.ts
    StartupEstimate: { expectedSeconds: "number", windowSeconds: "number", exceedsCloudRunLimit: "boolean", safetyFactor: "number" },
    // config/memory.ts
    MemoryEstimate: {
        gpuType: "string",
        budgetGiB: "number",
        weightFormat: "string",
        weightsGiB: "number",
        overheadGiB: "number",
        loraGiB: "number",
        kvCacheGiB: "number",
        kvPerTokenKiB: "number",
        kvCacheTokens: "number",
        fullLengthSequences: "number",
        maxContextAtConcurrency: "number",
        cudaGraphGiB: "number",
        outsideBudgetGiB: "number",
        singleStreamCeilingTokensPerSecond: "number",
        verdict: "string",
        "limitedBy?": "string",
        source: "string",
    },
    CostEstimate: {
        currency: "string",
        region: "string",
        perInstanceHour: "number",
        gpuHour: "number",
        cpuHour: "number",
        memoryHour: "number",
        monthlyAtMinInstances: "number",
        metricsPerInstanceHour: "number",
        alertingMonthly: "number",
        // Several regions only (README "Several regions").
        "perRegion?": "RegionCost[]",
        "frontDoorMonthly?": "number",
        "frontDoorPerGiB?": "number",
        "armorPerMillionRequests?": "number",
        pricesAsOf: "string",
        source: "string",
        "note?": "string",
    },
    RegionCost: { region: "string", minInstances: "number", maxInstances: "number", monthlyAtMinInstances: "number" },
    // components/gpu-quota.ts
    QuotaReport: {
        problems: "string[]",
        gpuQuotaId: "string",
        gpuGranted: "number",
        gpuNeeded: "number",
        "memoryGrantedGiB?": "number",
        memoryNeededGiB: "number",
        "cpuGranted?": "number",
        cpuNeeded: "number",
    },
};

describe("the package entry point (what `pulumi package add` and `pulumi up` load)", () => {
    it("PulumiPlugin.yaml runs package.json main, plugin.ts, with Node.js", () => {
        assert.deepEqual(parseYaml(fs.readFileSync(path.join(ROOT, "PulumiPlugin.yaml"), "utf8")), { runtime: "nodejs" });
        assert.equal(packageJson.main, "plugin.ts");
    });

    it("plugin.ts exports exactly one component, VllmCloudRun, so the plugin host serves it", () => {
        const components = getPulumiComponents(require(path.join(ROOT, "plugin.ts")));
        assert.deepEqual(components, [VllmCloudRun]);
    });

    it("index.ts exports no component, so `pulumi up` runs it as the stack program", () => {
        assert.deepEqual(getPulumiComponents(require(path.join(ROOT, "index.ts"))), []);
    });

    it("the provider is named vllm-cloudrun, without a namespace, as the type token says", () => {
        assert.deepEqual(providerNameOf(packageJson.name), { name: "vllm-cloudrun", namespace: undefined });
        assert.equal(VLLM_CLOUDRUN_TYPE, "vllm-cloudrun:index:VllmCloudRun");
    });
});

describe("the inferred package schema", () => {
    let schema: PackageSchema;
    let schemaText: string;
    let component: PackageSchema["resources"][string];
    before(async () => {
        // What run.js does once it has found components (scripts/package-schema.ts). It
        // type-checks the whole program (tsconfig.json), ~25 s: once.
        schemaText = await inferPackageSchema();
        schema = JSON.parse(schemaText) as PackageSchema;
        component = schema.resources[VLLM_CLOUDRUN_TYPE];
    });

    it("is the vllm-cloudrun package at package.json's version, with one component", () => {
        assert.equal(schema.name, "vllm-cloudrun");
        assert.equal(schema.version, packageJson.version);
        assert.equal(schema.description, packageJson.description);
        // No namespace in the schema: installed from github.com/OWNER/..., the CLI makes the
        // lower-cased OWNER the namespace (Python module owner_vllm_cloudrun, npm @owner/vllm-cloudrun).
        assert.equal(schema.namespace, undefined);
        assert.deepEqual(Object.keys(schema.resources), [VLLM_CLOUDRUN_TYPE]);
        assert.equal(component.isComponent, true);
        assert.equal(component.type, "object");
        assert.match(component.description ?? "", /^An open LLM served by vLLM's OpenAI-compatible API on Cloud Run/);
    });

    it("has an input for every contract key and no other", () => {
        assert.deepEqual(Object.keys(component.inputProperties), CONTRACT_KEYS);
    });

    it("types every input as the contract does (integers are numbers: the analyzer has no integer)", () => {
        for (const key of CONTRACT_KEYS) {
            assert.deepEqual(without(component.inputProperties[key], "plain", "optional", "description"), schemaTypeOf(CONTRACT[key] as KeyDef), key);
        }
        assert.equal(component.inputProperties.cpu.type, "number");
    });

    it("takes non-secret inputs as plain values and secrets as Inputs", () => {
        // The args shape names, resources and checks before anything is created, so they are
        // plain (`plain: true`: no Output may be passed); secrets are pulumi.Input<string>.
        for (const key of CONTRACT_KEYS) {
            const secret = SECRET_KEYS.includes(key);
            assert.equal(component.inputProperties[key].plain, secret ? undefined : true, key);
        }
    });

    it("marks no input secret: the analyzer cannot, so the component refuses plain secrets itself", () => {
        // @pulumi/pulumi 3.265's analyzer has no notion of a secret input (the word does not occur
        // in it), so the schema cannot say that hfToken, apiKey or dockerHubToken must be secret,
        // and generated SDKs don't wrap them. The component enforces it at run time instead:
        // secretArgProblems (components/vllm-cloudrun.ts) refuses a non-secret hfToken, apiKey or
        // dockerHubToken with a ConfigError before creating anything, and validateArgs wraps
        // gcpCredentials and gcpAccessToken as secrets (config/index.ts).
        const analyzer = fs.readFileSync(require.resolve("@pulumi/pulumi/provider/experimental/analyzer.js"), "utf8");
        assert.doesNotMatch(analyzer, /secret/i);
        for (const key of CONTRACT_KEYS) assert.equal(component.inputProperties[key].secret, undefined, key);
        assert.deepEqual(SECRET_KEYS.filter((k) => k !== "gcpCredentials" && k !== "gcpAccessToken"), ["hfToken", "apiKey", "dockerHubToken"]);
    });

    it("requires exactly the keys without a default", () => {
        assert.deepEqual(component.requiredInputs, [...REQUIRED_KEYS].sort());
        for (const key of CONTRACT_KEYS) assert.equal(component.inputProperties[key].optional, "default" in CONTRACT[key] ? true : undefined, key);
    });

    it("describes every input with the contract's description", () => {
        for (const key of CONTRACT_KEYS) {
            const description = component.inputProperties[key].description ?? "";
            assert.ok(description.startsWith((CONTRACT[key] as KeyDef).description), `${key}: ${description}`);
        }
    });

    it("has exactly the component's outputs, typed", () => {
        assert.deepEqual(Object.keys(component.properties), [...VLLM_CLOUDRUN_OUTPUTS]);
        const objects: Record<string, PropertySpec> = {
            snippets: ref("Snippets"),
            startupEstimate: ref("StartupEstimate"),
            gpuMemoryEstimate: { ...ref("MemoryEstimate"), optional: true },
            costEstimate: ref("CostEstimate"),
            gpuQuota: { ...ref("QuotaReport"), optional: true },
            imageInput: { type: "boolean" },
            loraModels: { type: "array", items: { type: "string" } },
            alertPolicies: { type: "array", items: { type: "string" } },
            regions: { type: "array", items: { type: "string" } },
            regionalServiceUrls: { type: "object", additionalProperties: { type: "string" } },
            endpointIp: { type: "string", optional: true },
            dnsRecord: { type: "string", optional: true },
        };
        for (const name of VLLM_CLOUDRUN_OUTPUTS) {
            assert.deepEqual(without(component.properties[name], "description"), objects[name] ?? { type: "string" }, name);
            assert.ok((component.properties[name].description ?? "").length > 0, `${name} has a description`);
        }
        assert.deepEqual(component.required, VLLM_CLOUDRUN_OUTPUTS.filter((n) => !["gpuMemoryEstimate", "gpuQuota", "endpointIp", "dnsRecord"].includes(n)).sort());
    });

    it("has the output object types, field by field", () => {
        assert.deepEqual(Object.keys(schema.types), Object.keys(OBJECT_TYPES).map((n) => `vllm-cloudrun:index:${n}`));
        for (const [name, fields] of Object.entries(OBJECT_TYPES)) {
            const t = schema.types[`vllm-cloudrun:index:${name}`];
            assert.equal(t.type, "object");
            const names = Object.keys(fields).map((f) => f.replace(/\?$/, ""));
            assert.deepEqual(Object.keys(t.properties), names, name);
            assert.deepEqual(t.required, Object.keys(fields).filter((f) => !f.endsWith("?")).sort(), name);
            for (const [field, type] of Object.entries(fields)) {
                const shape = without(t.properties[field.replace(/\?$/, "")], "description", "optional");
                // An input type's fields are plain values in the args (no Input<T>); output types' are not marked.
                const plain = name === "LoraAdapter" ? { plain: true } : {};
                const expected = type === "string[]" ? { type: "array", items: { type: "string" } } : type.endsWith("[]") ? { type: "array", items: ref(type.slice(0, -2)) } : { type, ...plain };
                assert.deepEqual(shape, expected, `${name}.${field}`);
            }
        }
    });

    it("is what examples/schema.json holds (npm run contract rewrites it)", () => {
        assert.equal(fs.readFileSync(SCHEMA_FILE, "utf8"), schemaText, "examples/schema.json is stale: npm run contract");
    });
});
