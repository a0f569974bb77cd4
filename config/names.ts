import { ConfigProblem } from "./errors";
import { BUCKET_FORBIDDEN, BUCKET_NAME, CLOUD_RUN_SERVICE_NAME, REPOSITORY_ID, SECRET_ID, SERVICE_ACCOUNT_ID } from "./limits";

/** Resource names, all derived from the Pulumi project and stack so stacks never collide. */
export interface ResourceNames {
    /** `<project>-<stack>`, lower-case. */
    prefix: string;
    service: string;
    repository: string;
    /** Artifact Registry remote repository caching Docker Hub (the vLLM base image). */
    dockerHubRemote: string;
    runtimeAccountId: string;
    buildAccountId: string;
    secretId: string;
    apiKeySecretId: string;
    /** Secret holding the Docker Hub access token (only with dockerHubUsername). */
    dockerHubSecretId: string;
    /** Secret holding the metrics sidecar's RunMonitoring config (only with metrics). */
    metricsConfigSecretId: string;
    stagingBucket: string;
    weightsBucket: string;
    /** With several regions: the weights bucket of each region but the home one (bucket names are global). */
    regionWeightsBuckets: Readonly<Record<string, string>>;
}

const AREA: Record<string, string> = { us: "us", europe: "eu", asia: "as", northamerica: "na", southamerica: "sa", australia: "au", me: "me", africa: "af" };
const DIRECTION: Record<string, string> = { north: "n", south: "s", east: "e", west: "w", central: "c", northeast: "ne", northwest: "nw", southeast: "se", southwest: "sw" };

/** A short code for a region in global names: europe-west4 -> euw4, us-east4 -> use4, asia-southeast1 -> asse1. */
export function regionCode(region: string): string {
    const m = /^([a-z]+)-([a-z]+)([0-9]+)$/.exec(region);
    if (!m) return sanitize(region);
    return `${AREA[m[1]] ?? m[1].slice(0, 2)}${DIRECTION[m[2]] ?? m[2].slice(0, 2)}${m[3]}`;
}

export function sanitize(s: string): string {
    return s.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/-+/g, "-").replace(/^-|-$/g, "");
}

/** Derives every resource name from the Pulumi project, stack and Google Cloud project. */
export function resourceNames(pulumiProject: string, stack: string, gcpProject: string, otherRegions: readonly string[] = []): ResourceNames {
    const prefix = sanitize(`${pulumiProject}-${stack}`);
    return {
        prefix,
        service: prefix,
        repository: prefix,
        dockerHubRemote: `${prefix}-dockerhub`,
        runtimeAccountId: `${prefix}-run`,
        buildAccountId: `${prefix}-build`,
        secretId: `${prefix}-hf-token`,
        apiKeySecretId: `${prefix}-api-key`,
        dockerHubSecretId: `${prefix}-dockerhub-token`,
        metricsConfigSecretId: `${prefix}-metrics-config`,
        // Bucket names are global: the project id makes this one unique.
        stagingBucket: `${prefix}-src-${gcpProject}`,
        weightsBucket: `${prefix}-weights-${gcpProject}`,
        regionWeightsBuckets: Object.fromEntries(otherRegions.map((r) => [r, `${prefix}-weights-${regionCode(r)}-${gcpProject}`])),
    };
}

export function nameProblems(names: ResourceNames, stack: string, weights: string): ConfigProblem[] {
    const problems: ConfigProblem[] = [];
    const rename = "npx pulumi stack rename SHORTER_NAME   (every resource name derives from the stack name)";
    const check = (what: string, value: string, ok: boolean, rule: string) => {
        if (!ok) problems.push({ key: `stack name (${what})`, value, allowed: `${rule} (stack "${stack}" gives ${value.length} characters)`, fix: rename });
    };
    for (const [what, id] of [["runtime service account id", names.runtimeAccountId], ["build service account id", names.buildAccountId]] as const) {
        check(what, id, SERVICE_ACCOUNT_ID.test(id), "service account ids are 6-30 characters [a-z0-9-], starting with a letter");
    }
    check("Cloud Run service name", names.service, CLOUD_RUN_SERVICE_NAME.test(names.service), "Cloud Run service names are at most 49 characters [a-z0-9-], starting with a letter");
    for (const [what, id] of [["Artifact Registry repository id", names.repository], ["Docker Hub remote repository id", names.dockerHubRemote]] as const) {
        check(what, id, REPOSITORY_ID.test(id), "repository ids are at most 63 characters [a-z0-9-], starting with a letter");
    }
    for (const [what, id] of [["token secret id", names.secretId], ["API key secret id", names.apiKeySecretId], ["Docker Hub token secret id", names.dockerHubSecretId], ["metrics config secret id", names.metricsConfigSecretId]] as const) {
        check(what, id, SECRET_ID.test(id), "secret ids are at most 255 characters [A-Za-z0-9_-]");
    }
    const buckets = [
        ["staging bucket name", names.stagingBucket],
        ...(weights === "gcs" ? [["weights bucket name", names.weightsBucket], ...Object.entries(names.regionWeightsBuckets).map(([r, b]) => [`${r} weights bucket name`, b])] : []),
    ] as const;
    for (const [what, bucket] of buckets) {
        check(what, bucket, BUCKET_NAME.test(bucket), "bucket names are 3-63 characters [a-z0-9_.-]");
        if (BUCKET_FORBIDDEN.some((re) => re.test(bucket))) {
            problems.push({ key: `stack name (${what})`, value: bucket, allowed: "bucket names may not start with \"goog\" or contain \"google\" (Cloud Storage naming rules)", fix: rename });
        }
    }
    return problems;
}
