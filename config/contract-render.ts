// Renders the contract (config/contract.ts) as the places that must agree with it: the args
// interface the component takes, Pulumi.yaml's `config:` block and the README's table.
// `npm run contract` writes them; test/contract.test.ts fails when a file differs.
import { CONTRACT, CONTRACT_KEYS, ContractKey, configKeyOf, CROSS_KEY_RULES, describe, KeyDef, PROJECT_CONFIG_KEYS, pulumiYamlDeclaration } from "./contract";

function def(key: ContractKey): KeyDef {
    return CONTRACT[key];
}

/** "integer, 1 to 8", "one of e2-medium, ...": what a key accepts, in words. */
export function allowedText(key: ContractKey): string {
    const d = def(key);
    const parts: string[] = [];
    if (d.oneOf !== undefined) parts.push(`one of ${d.oneOf.map((v) => `\`${v}\``).join(", ")}`);
    if (d.min !== undefined || d.max !== undefined) {
        const low = d.min === undefined ? undefined : d.minExclusive ? `more than ${d.min}` : `${d.min}`;
        parts.push(low !== undefined && d.max !== undefined ? `${low}${d.minExclusive ? " and at most " : " to "}${d.max}` : low !== undefined ? `at least ${low}` : `at most ${d.max}`);
    }
    return parts.join("; ");
}

function defaultText(key: ContractKey): string {
    const d = def(key);
    if (d.default === undefined) return "required";
    return `\`${JSON.stringify(d.default)}\``;
}

function tsType(key: ContractKey): string {
    const d = def(key);
    if (d.secret) return "pulumi.Input<string>";
    return d.type === "integer" || d.type === "number" ? "number" : d.type === "adapter[]" ? "LoraAdapter[]" : d.type;
}

/** config/args.ts: VllmCloudRun's args, one documented property per contract key. */
export function argsSource(): string {
    const lines = [
        "// Generated from config/contract.ts by `npm run contract`: edit the contract, not this file.",
        "import * as pulumi from \"@pulumi/pulumi\";",
        "",
        "/** One LoRA adapter baked into the image and served as a model of its own. */",
        "export interface LoraAdapter {",
        "    /** Model name clients send (vLLM --lora-modules NAME=path; listed by /v1/models). */",
        "    name: string;",
        "    /** Hugging Face repository of the adapter (adapter_config.json and adapter_model.safetensors). */",
        "    repo: string;",
        "    /** Commit of that repository (40 hex characters). */",
        "    revision: string;",
        "}",
        "",
        "/**",
        " * Arguments of VllmCloudRun: the configuration contract. Values that shape what is created",
        " * (names, which resources exist, the checks run before anything is created) are plain; secrets",
        " * are Inputs and must be secret (config.requireSecret, pulumi.secret).",
        " */",
        "export interface VllmCloudRunArgs {",
    ];
    for (const key of CONTRACT_KEYS) {
        const d = def(key);
        const facts = [
            d.default === undefined ? "Required." : `Default: ${defaultText(key)}.`,
            ...(allowedText(key) ? [`Allowed: ${allowedText(key)}.`] : []),
            ...(d.secret ? ["Secret."] : []),
            `Stack config: \`${configKeyOf(key)}\`.`,
        ];
        lines.push("    /**", `     * ${describe(key)}`, "     *", `     * ${facts.join(" ")}`, "     */", `    ${key}${d.default === undefined ? "" : "?"}: ${tsType(key)};`);
    }
    lines.push("}", "");
    return lines.join("\n");
}

const escapeCell = (s: string) => s.replace(/\|/g, "\\|");

/** The README's configuration table and the rules across keys, between its markers. */
export function readmeSection(): string {
    const rows = CONTRACT_KEYS.map((key) => {
        const d = def(key);
        const name = configKeyOf(key) === key ? `\`${key}\`` : `\`${configKeyOf(key)}\` (arg \`${key}\`)`;
        const flags = [d.default === undefined ? "required" : "", d.secret ? "secret" : ""].filter((x) => x !== "").join(", ");
        const allowed = allowedText(key);
        return `| ${name}${flags ? ` (${flags})` : ""} | ${d.type} | ${d.default === undefined ? "—" : defaultText(key)} | ${escapeCell(describe(key))}${allowed ? ` Allowed: ${escapeCell(allowed)}.` : ""} |`;
    });
    return [
        "<!-- contract:start (generated from config/contract.ts by `npm run contract`) -->",
        "| Key | Type | Default | What it does |",
        "| --- | --- | --- | --- |",
        ...rows,
        "",
        "Rules across keys (checked during preview, before anything is created):",
        "",
        ...CROSS_KEY_RULES.map((r) => `- ${r.keys.map((k) => `\`${k}\``).join(" + ")}: ${r.rule}`),
        "<!-- contract:end -->",
    ].join("\n");
}

/** Pulumi.yaml's `config:` block: every project key with its type, default and description. */
export function pulumiYamlConfig(): Record<string, Record<string, unknown>> {
    return Object.fromEntries(PROJECT_CONFIG_KEYS.map((k) => [k, pulumiYamlDeclaration(k)]));
}
