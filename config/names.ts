import { ConfigProblem } from "./errors";

const ACCOUNT_ID = /^[a-z]([-a-z0-9]*[a-z0-9])$/;

/** Resource names, all derived from the Pulumi project and stack so stacks never collide. */
export interface ResourceNames {
    /** `<project>-<stack>`, lower-case. */
    prefix: string;
    service: string;
    repository: string;
    runtimeAccountId: string;
    buildAccountId: string;
    secretId: string;
    apiKeySecretId: string;
    stagingBucket: string;
    weightsBucket: string;
}

export function sanitize(s: string): string {
    return s.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/-+/g, "-").replace(/^-|-$/g, "");
}

/** Derives every resource name from the Pulumi project, stack and Google Cloud project. */
export function resourceNames(pulumiProject: string, stack: string, gcpProject: string): ResourceNames {
    const prefix = sanitize(`${pulumiProject}-${stack}`);
    return {
        prefix,
        service: prefix,
        repository: prefix,
        runtimeAccountId: `${prefix}-run`,
        buildAccountId: `${prefix}-build`,
        secretId: `${prefix}-hf-token`,
        apiKeySecretId: `${prefix}-api-key`,
        // Bucket names are global: the project id makes this one unique.
        stagingBucket: `${prefix}-src-${gcpProject}`,
        weightsBucket: `${prefix}-weights-${gcpProject}`,
    };
}

export function nameProblems(names: ResourceNames, stack: string, weights: string): ConfigProblem[] {
    const problems: ConfigProblem[] = [];
    const rename = "pulumi stack rename <shorter-name>   (every resource name derives from the stack name)";
    for (const [key, id] of [["runtime service account id", names.runtimeAccountId], ["build service account id", names.buildAccountId]] as const) {
        if (id.length < 6 || id.length > 30 || !ACCOUNT_ID.test(id)) {
            problems.push({ key: `stack name (${key})`, value: id, allowed: `service account ids are 6-30 characters [a-z0-9-] starting with a letter (stack "${stack}" gives ${id.length})`, fix: rename });
        }
    }
    // Cloud Run service names: < 50 characters, start with a letter.
    if (names.service.length > 49 || !/^[a-z]/.test(names.service)) {
        problems.push({ key: "stack name (Cloud Run service name)", value: names.service, allowed: "at most 49 characters, starting with a letter", fix: rename });
    }
    const buckets = [["staging bucket name", names.stagingBucket], ...(weights === "gcs" ? [["weights bucket name", names.weightsBucket]] : [])] as const;
    for (const [what, bucket] of buckets) {
        if (bucket.length > 63) problems.push({ key: `stack name (${what})`, value: bucket, allowed: "bucket names are at most 63 characters", fix: rename });
    }
    return problems;
}
