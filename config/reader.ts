import * as pulumi from "@pulumi/pulumi";
import { CONTRACT, ContractKey, configKeyOf, KeyDef, LoraAdapterDef, setCommand } from "./contract";
import { ConfigProblem } from "./errors";

function def(key: ContractKey): KeyDef {
    return CONTRACT[key];
}

/** "an integer >= 1 and <= 8": what a numeric key accepts, from its contract entry. */
function numberRule(d: KeyDef): string {
    const { min, max } = d;
    const low = min === undefined ? "" : d.minExclusive ? `> ${min}` : `>= ${min}`;
    const high = max === undefined ? "" : `<= ${max}`;
    const range = [low, high].filter((x) => x !== "").join(" and ");
    return `must be ${d.type === "integer" ? "an integer" : "a number"}${range ? ` ${range}` : ""}`;
}

const ADAPTERS_RULE = "must be a list of objects, each with the strings name, repo and revision";

function adapterFix(key: ContractKey): string {
    const k = configKeyOf(key);
    return `npx pulumi config set --path '${k}[0].name' sql && npx pulumi config set --path '${k}[0].repo' ORG/ADAPTER && npx pulumi config set --path '${k}[0].revision' FULL_COMMIT_SHA`;
}

function listFix(key: ContractKey): string {
    return `npx pulumi config set --path '${configKeyOf(key)}[0]' ${def(key).example ?? "VALUE"}`;
}

/**
 * Reads contract keys from VllmCloudRun's args: applies each key's default and checks what the
 * contract says about it alone (type, range, allowed values), recording problems instead of
 * throwing one at a time. Cross-key rules are checked on the values it returns.
 */
export class ArgsReader {
    readonly problems: ConfigProblem[] = [];
    constructor(private readonly args: Readonly<Record<string, unknown>>) {}

    private raw(key: ContractKey): unknown {
        const v = this.args[key];
        return v === null ? undefined : v;
    }

    string(key: ContractKey): string {
        const d = def(key);
        const v = this.raw(key) ?? d.default;
        // A missing required key is the caller's message (it knows what the key is for).
        if (v === undefined) return "";
        if (typeof v !== "string") {
            this.problem(key, v, "must be a string");
            return typeof d.default === "string" ? d.default : "";
        }
        if (d.oneOf !== undefined && !d.oneOf.includes(v)) {
            this.problem(key, v, `must be one of ${d.oneOf.join(", ")}`);
        }
        return v;
    }

    number(key: ContractKey): number {
        const d = def(key);
        const v = this.raw(key) ?? d.default;
        const fallback = typeof d.default === "number" ? d.default : 0;
        const tooLow = (n: number) => d.min !== undefined && (d.minExclusive ? n <= d.min : n < d.min);
        const tooHigh = (n: number) => d.max !== undefined && n > d.max;
        if (typeof v !== "number" || !Number.isFinite(v) || (d.type === "integer" && !Number.isInteger(v)) || tooLow(v) || tooHigh(v)) {
            this.problem(key, v, numberRule(d));
            return fallback;
        }
        return v;
    }

    boolean(key: ContractKey): boolean {
        const d = def(key);
        const v = this.raw(key) ?? d.default;
        if (typeof v !== "boolean") {
            this.problem(key, v, "must be true or false");
            return d.default === true;
        }
        return v;
    }

    strings(key: ContractKey): string[] {
        const v = this.raw(key) ?? def(key).default ?? [];
        if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) {
            this.problems.push({ key: configKeyOf(key), value: v, allowed: "must be a list of strings", fix: listFix(key) });
            return [];
        }
        return [...v] as string[];
    }

    /** A list of {name, repo, revision} objects (each field checked by validateArgs). */
    adapters(key: ContractKey): LoraAdapterDef[] {
        const v = this.raw(key) ?? def(key).default ?? [];
        const isAdapter = (x: unknown) => typeof x === "object" && x !== null && ["name", "repo", "revision"].every((f) => typeof (x as Record<string, unknown>)[f] === "string");
        if (!Array.isArray(v) || !v.every(isAdapter)) {
            this.problems.push({ key: configKeyOf(key), value: v, allowed: ADAPTERS_RULE, fix: adapterFix(key) });
            return [];
        }
        return (v as LoraAdapterDef[]).map((a) => ({ name: a.name, repo: a.repo, revision: a.revision }));
    }

    /** A problem with `key`; the fix sets it to `example` (default: the key's example, else its default). */
    problem(key: ContractKey, value: unknown, allowed: string, example?: string): void {
        this.problems.push({ key: configKeyOf(key), value, allowed, fix: setCommand(key, example) });
    }
}

/** A list or object as Pulumi's config stores it (JSON text), or undefined when it is not JSON. */
function jsonOrUndefined(raw: string): unknown {
    try {
        return JSON.parse(raw);
    } catch {
        return undefined;
    }
}

/**
 * Reads the plain (non-secret) contract keys from a stack's config, converted to the types the
 * args take. A value that does not parse is a problem worded like ArgsReader's, and left out.
 */
export function readStackValues(keys: readonly ContractKey[], get: (configKey: string) => string | undefined): { values: Record<string, unknown>; problems: ConfigProblem[] } {
    const values: Record<string, unknown> = {};
    const problems: ConfigProblem[] = [];
    for (const key of keys) {
        const d = def(key);
        const raw = get(configKeyOf(key));
        if (raw === undefined) continue;
        const problem = (allowed: string, fix = setCommand(key)) => problems.push({ key: configKeyOf(key), value: raw, allowed, fix });
        switch (d.type) {
            case "string":
                values[key] = raw;
                break;
            case "integer":
            case "number": {
                const n = Number(raw);
                if (raw.trim() === "" || !Number.isFinite(n)) problem(numberRule(d));
                else values[key] = n;
                break;
            }
            case "boolean":
                if (raw === "true" || raw === "false") values[key] = raw === "true";
                else problem("must be true or false");
                break;
            case "string[]": {
                const parsed = jsonOrUndefined(raw);
                if (Array.isArray(parsed) && parsed.every((v) => typeof v === "string")) values[key] = parsed;
                else problem("must be a list of strings", listFix(key));
                break;
            }
            case "adapter[]": {
                const parsed = jsonOrUndefined(raw);
                // Shapes are checked by ArgsReader.adapters, with the same message for args and stacks.
                if (Array.isArray(parsed)) values[key] = parsed;
                else problem(ADAPTERS_RULE, adapterFix(key));
                break;
            }
        }
    }
    return { values, problems };
}

/** A project config key read the way pulumi.Config does (`<project>:<key>`), or a namespaced one as is. */
export function stackConfigGetter(): (configKey: string) => string | undefined {
    const project = new pulumi.Config();
    return (k) => {
        const i = k.indexOf(":");
        return i < 0 ? project.get(k) : new pulumi.Config(k.slice(0, i)).get(k.slice(i + 1));
    };
}
