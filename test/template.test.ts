// `pulumi new <this repository>` reads Pulumi.yaml's `template:` section: it must parse the way
// the CLI reads it (apitype.ProjectTemplate) and prompt only for keys the contract defines,
// with the contract's defaults, so the stack it creates is ready for `npx pulumi up`.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { CONTRACT, CONTRACT_KEYS, configKeyOf, DEFAULTS, KeyDef, REQUIRED_KEYS } from "../config/contract";
import { DEFAULT_REGION, GPU_TYPES } from "../config/gpus";
import { ROOT } from "./harness";

/** The fields of the CLI's ProjectTemplate and ProjectTemplateConfigValue (sdk/go/common/apitype/templates.go). */
const TEMPLATE_FIELDS = ["displayName", "description", "quickstart", "config", "important", "metadata"];
const PROMPT_FIELDS = ["description", "default", "secret"];

const project = YAML.parse(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8"));
// `pulumi new` drops the template section from the project it creates and tags the stack config
// with the template's URL instead (pkg/cmd/pulumi/project/newcmd/new.go): a project created
// that way checks that, not the section it no longer has.
const createdFromTemplate = project.template === undefined;
const template = project.template as { displayName: string; description: string; quickstart: string; config: Record<string, { description?: string; default?: unknown; secret?: boolean }> };

/** The contract key a template prompt sets: bare keys belong to the project (ParseConfigKeyForProject). */
function contractKeyFor(prompt: string) {
    return CONTRACT_KEYS.find((k) => configKeyOf(k) === prompt);
}

if (createdFromTemplate) describe("a project created by pulumi new from this template", () => {
    it("records the template it came from, as the CLI does", () => {
        assert.match(String(project.config?.["pulumi:tags"]?.value?.["pulumi:template"] ?? ""), /vllm-cloudrun/);
    });
});

else describe("the pulumi new template", () => {
    it("has only the fields the CLI reads, a name and a description", () => {
        assert.deepEqual(Object.keys(template).filter((k) => !TEMPLATE_FIELDS.includes(k)), []);
        assert.ok(template.displayName.length > 5);
        assert.ok(template.description.length > 20);
    });

    it("prompts for project, region, token and model, each a contract key", () => {
        assert.deepEqual(Object.keys(template.config), ["gcp:project", "gcp:region", "hfToken", "model"]);
        for (const [prompt, value] of Object.entries(template.config)) {
            assert.ok(contractKeyFor(prompt), `${prompt} is in config/contract.ts`);
            assert.deepEqual(Object.keys(value).filter((k) => !PROMPT_FIELDS.includes(k)), [], `${prompt} has only ${PROMPT_FIELDS.join(", ")}`);
            assert.ok((value.description ?? "").length > 10, `${prompt} explains itself`);
            // The CLI reads defaults as strings.
            if (value.default !== undefined) assert.equal(typeof value.default, "string", `${prompt} default is a string`);
        }
    });

    it("every key a deploy cannot guess is prompted, so the new stack is ready", () => {
        for (const key of REQUIRED_KEYS) assert.ok(configKeyOf(key) in template.config, `${configKeyOf(key)} is prompted`);
    });

    it("defaults agree with the contract; the region default offers the GPU; secrets prompt as secrets", () => {
        assert.equal(template.config.model.default, DEFAULTS.model);
        assert.equal(template.config["gcp:region"].default, DEFAULT_REGION);
        assert.ok(GPU_TYPES[DEFAULTS.gpuType].regions.includes(DEFAULT_REGION));
        assert.equal(template.config["gcp:project"].default, undefined, "no guessed project");
        for (const [prompt, value] of Object.entries(template.config)) {
            const key = contractKeyFor(prompt);
            assert.equal(value.secret === true, key !== undefined && "secret" in (CONTRACT[key] as KeyDef), `${prompt} secret-ness`);
        }
    });

    it("the quickstart's commands exist", () => {
        const scripts = Object.keys(JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).scripts);
        for (const m of template.quickstart.matchAll(/npm run (\w+)/g)) assert.ok(scripts.includes(m[1]), `npm run ${m[1]}`);
        assert.match(template.quickstart, /npx pulumi up/);
        assert.match(template.quickstart, /npx pulumi destroy/);
    });
});
