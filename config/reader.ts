import * as pulumi from "@pulumi/pulumi";
import { ConfigProblem } from "./errors";

/** A tiny typed reader over pulumi.Config that records problems instead of throwing one at a time. */
export class Reader {
    readonly problems: ConfigProblem[] = [];
    constructor(private readonly config: pulumi.Config) {}

    string(key: string, fallback: string): string {
        return this.config.get(key) ?? fallback;
    }

    number(key: string, fallback: number, opts: { integer?: boolean; min?: number; max?: number; minExclusive?: boolean; example: string }): number {
        const raw = this.config.get(key);
        if (raw === undefined) return fallback;
        const n = Number(raw);
        const { integer = true, min, max, minExclusive = false } = opts;
        const tooLow = min !== undefined && (minExclusive ? n <= min : n < min);
        const tooHigh = max !== undefined && n > max;
        if (raw.trim() === "" || !Number.isFinite(n) || (integer && !Number.isInteger(n)) || tooLow || tooHigh) {
            const range = `${min === undefined ? "" : minExclusive ? `> ${min}` : `>= ${min}`}${min !== undefined && max !== undefined ? " and " : ""}${max === undefined ? "" : `<= ${max}`}`;
            this.problem(key, raw, `must be ${integer ? "an integer" : "a number"}${range ? ` ${range}` : ""}`, opts.example);
            return fallback;
        }
        return n;
    }

    boolean(key: string, fallback: boolean): boolean {
        const raw = this.config.get(key);
        if (raw === undefined) return fallback;
        if (raw !== "true" && raw !== "false") {
            this.problem(key, raw, "must be true or false", String(fallback));
            return fallback;
        }
        return raw === "true";
    }

    stringList(key: string): string[] {
        const raw = this.config.get(key);
        if (raw === undefined) return [];
        try {
            const parsed: unknown = JSON.parse(raw);
            if (Array.isArray(parsed) && parsed.every((v) => typeof v === "string")) return parsed;
        } catch {
            // reported below
        }
        this.problems.push({ key, value: raw, allowed: "must be a list of strings", fix: `npx pulumi config set --path '${key}[0]' user:you@example.com` });
        return [];
    }

    problem(key: string, value: unknown, allowed: string, example: string): void {
        this.problems.push({ key, value, allowed, fix: `npx pulumi config set ${key} ${example}` });
    }
}
