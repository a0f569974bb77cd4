import * as pulumi from "@pulumi/pulumi";

/** One problem with one key: what was given, what is allowed, and the command that fixes it. */
export interface ConfigProblem {
    key: string;
    value: unknown;
    allowed: string;
    fix: string;
}

export class ConfigError extends pulumi.RunError {
    /** `note`: a last line for the reader, e.g. how the fixes translate for a program's args. */
    constructor(readonly problems: ConfigProblem[], readonly note?: string) {
        super(
            `Invalid configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}); nothing was created:\n` +
                problems
                    .map((p) => `  - ${p.key} = ${JSON.stringify(p.value)}: ${p.allowed}\n    fix: ${p.fix}`)
                    .join("\n") +
                (note === undefined ? "" : `\n  ${note}`),
        );
        this.name = "ConfigError";
    }
}
