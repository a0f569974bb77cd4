// After `npx pulumi destroy`: is anything of the stack still in the project? Every resource the
// stack creates is looked up by its exact name (config/names.ts), and the kinds that carry labels
// are listed for the stack's `app` and `stack` labels, which also finds resources whose names the
// lookup does not know. REST APIs with your Application Default Credentials; 404 means gone, any
// other answer "could not check" (never "gone").
import { GoogleAuth } from "google-auth-library";
import { resourceNames, sanitize } from "../config/names";

export interface GetResponse {
    status: number;
    data: unknown;
}
/** An authorized GET of a Google API URL; injectable for tests. */
export type GoogleGet = (url: string) => Promise<GetResponse>;

/** google-auth-library's Application Default Credentials, as the Google provider uses them. */
export function adcGet(auth = new GoogleAuth({ scopes: ["https://www.googleapis.com/auth/cloud-platform"] })): GoogleGet {
    return async (url) => {
        const r = await auth.request({ url, method: "GET", validateStatus: () => true });
        return { status: r.status, data: r.data };
    };
}

/** Which stack, where. The build region holds the Docker Hub cache (and the staging bucket). */
export interface StackIdentity {
    pulumiProject: string;
    stack: string;
    gcpProject: string;
    region: string;
    buildRegion: string;
}

export type ResourceKind = "Cloud Run service" | "Artifact Registry repository" | "Secret Manager secret" | "Cloud Storage bucket" | "service account";

export interface StackResource {
    kind: ResourceKind;
    name: string;
    /** Region, for the regional kinds. */
    location?: string;
    /** GET of exactly this resource. */
    url: string;
    /** Deletes it, for when `destroy` could not. */
    removeCommand: string;
}

export interface LeftoverCheck extends Omit<StackResource, "url"> {
    /** "name": looked up by its exact name; "label": found listing the stack's labels. */
    how: "name" | "label";
    state: "gone" | "exists" | "unknown";
    /** Why it could not be checked: the HTTP status and Google's reason. */
    detail?: string;
}

function removeCommand(kind: ResourceKind, name: string, project: string, location?: string): string {
    switch (kind) {
        case "Cloud Run service":
            return `gcloud run services delete ${name} --region ${location ?? ""} --project ${project} --quiet`;
        case "Artifact Registry repository":
            return `gcloud artifacts repositories delete ${name} --location ${location ?? ""} --project ${project} --quiet`;
        case "Secret Manager secret":
            return `gcloud secrets delete ${name} --project ${project} --quiet`;
        case "Cloud Storage bucket":
            return `gcloud storage rm --recursive gs://${name}`;
        case "service account":
            return `gcloud iam service-accounts delete ${name} --project ${project} --quiet`;
    }
}

/** Everything the stack can create, by name (optional ones too: the API key and Docker Hub secrets, the weights bucket). */
export function stackResources(id: StackIdentity): StackResource[] {
    const n = resourceNames(id.pulumiProject, id.stack, id.gcpProject);
    const p = id.gcpProject;
    const one = (kind: ResourceKind, name: string, url: string, location?: string): StackResource => ({ kind, name, ...(location ? { location } : {}), url, removeCommand: removeCommand(kind, name, p, location) });
    const run = `https://run.googleapis.com/v2/projects/${p}/locations`;
    const ar = `https://artifactregistry.googleapis.com/v1/projects/${p}/locations`;
    const email = (accountId: string) => `${accountId}@${p}.iam.gserviceaccount.com`;
    return [
        one("Cloud Run service", n.service, `${run}/${id.region}/services/${n.service}`, id.region),
        one("Artifact Registry repository", n.repository, `${ar}/${id.region}/repositories/${n.repository}`, id.region),
        one("Artifact Registry repository", n.dockerHubRemote, `${ar}/${id.buildRegion}/repositories/${n.dockerHubRemote}`, id.buildRegion),
        ...[n.secretId, n.apiKeySecretId, n.dockerHubSecretId].map((s) => one("Secret Manager secret", s, `https://secretmanager.googleapis.com/v1/projects/${p}/secrets/${s}`)),
        ...[n.stagingBucket, n.weightsBucket].map((b) => one("Cloud Storage bucket", b, `https://storage.googleapis.com/storage/v1/b/${b}`)),
        ...[n.runtimeAccountId, n.buildAccountId].map((a) => one("service account", email(a), `https://iam.googleapis.com/v1/projects/${p}/serviceAccounts/${email(a)}`)),
    ];
}

/** "HTTP 403 PERMISSION_DENIED (SERVICE_DISABLED): message", from a Google API error body. */
function httpDetail(r: GetResponse): string {
    const error = (r.data as { error?: { status?: unknown; message?: unknown; details?: { reason?: unknown }[]; errors?: { reason?: unknown }[] } } | undefined)?.error;
    const reasons = [...(error?.details ?? []), ...(error?.errors ?? [])].map((d) => d.reason).filter((x): x is string => typeof x === "string");
    const status = typeof error?.status === "string" ? ` ${error.status}` : "";
    const message = typeof error?.message === "string" ? `: ${error.message.split("\n")[0].slice(0, 200)}` : "";
    return `HTTP ${r.status}${status}${reasons.length ? ` (${[...new Set(reasons)].join(", ")})` : ""}${message}`;
}

/** Never the error object itself: it may carry request headers. */
function failure(e: unknown): string {
    return e instanceof Error ? e.message.split("\n")[0] : String(e);
}

async function checkByName(r: StackResource, get: GoogleGet): Promise<LeftoverCheck> {
    const { url, ...rest } = r;
    try {
        const answer = await get(url);
        if (answer.status === 404) return { ...rest, how: "name", state: "gone" };
        if (answer.status === 200) return { ...rest, how: "name", state: "exists" };
        return { ...rest, how: "name", state: "unknown", detail: httpDetail(answer) };
    } catch (e) {
        return { ...rest, how: "name", state: "unknown", detail: failure(e) };
    }
}

interface LabelScan {
    kind: ResourceKind;
    location?: string;
    url: string;
    /** The list field of the answer. */
    items: string;
}

/** Pages at most this deep; a project with more is reported as not fully checked. */
const MAX_PAGES = 20;

/** The labelled resources of one list, or why it could not be listed. */
async function scan(s: LabelScan, labels: Record<string, string>, get: GoogleGet): Promise<{ names: string[] } | { detail: string }> {
    const names: string[] = [];
    let token: string | undefined;
    try {
        for (let page = 0; page < MAX_PAGES; page++) {
            const answer = await get(token === undefined ? s.url : `${s.url}&pageToken=${encodeURIComponent(token)}`);
            if (answer.status !== 200) return { detail: httpDetail(answer) };
            const data = (answer.data ?? {}) as Record<string, unknown> & { nextPageToken?: string };
            for (const item of (data[s.items] ?? []) as { name?: string; labels?: Record<string, string> }[]) {
                if (Object.entries(labels).every(([k, v]) => item.labels?.[k] === v) && item.name) names.push(item.name.split("/").pop() ?? item.name);
            }
            token = data.nextPageToken;
            if (!token) return { names };
        }
        return { detail: `more than ${MAX_PAGES} pages` };
    } catch (e) {
        return { detail: failure(e) };
    }
}

/** Lists of every labelled kind; their items are matched against the labels here, not by a server-side filter. */
function labelScans(id: StackIdentity): LabelScan[] {
    const p = id.gcpProject;
    const regions = [...new Set([id.region, id.buildRegion])];
    return [
        { kind: "Cloud Run service", location: id.region, url: `https://run.googleapis.com/v2/projects/${p}/locations/${id.region}/services?pageSize=100`, items: "services" },
        ...regions.map((r): LabelScan => ({ kind: "Artifact Registry repository", location: r, url: `https://artifactregistry.googleapis.com/v1/projects/${p}/locations/${r}/repositories?pageSize=1000`, items: "repositories" })),
        { kind: "Secret Manager secret", url: `https://secretmanager.googleapis.com/v1/projects/${p}/secrets?pageSize=250`, items: "secrets" },
        { kind: "Cloud Storage bucket", url: `https://storage.googleapis.com/storage/v1/b?project=${p}&maxResults=1000`, items: "items" },
    ];
}

/**
 * Every resource of the stack, by name and by label, and whether it still exists. A labelled
 * resource whose name is one of the stack's is decided by its own lookup, not by the list.
 */
export async function findLeftovers(id: StackIdentity, get: GoogleGet): Promise<LeftoverCheck[]> {
    const resources = stackResources(id);
    // The labels config/index.ts puts on every labelled resource.
    const labels = { app: sanitize(id.pulumiProject).slice(0, 63), stack: sanitize(id.stack).slice(0, 63) };
    const scans = labelScans(id);
    const [byName, byLabel] = await Promise.all([
        Promise.all(resources.map((r) => checkByName(r, get))),
        Promise.all(scans.map((s) => scan(s, labels, get))),
    ]);
    const known = new Set(resources.map((r) => `${r.kind}/${r.name}`));
    const found: LeftoverCheck[] = [];
    byLabel.forEach((result, i) => {
        const s = scans[i];
        const where = s.location ? { location: s.location } : {};
        if ("detail" in result) {
            const name = `(any labelled stack=${labels.stack}${s.location ? ` in ${s.location}` : ""})`;
            found.push({ kind: s.kind, name, ...where, how: "label", state: "unknown", detail: result.detail, removeCommand: "" });
            return;
        }
        for (const name of result.names.filter((n) => !known.has(`${s.kind}/${n}`))) {
            known.add(`${s.kind}/${name}`);
            found.push({ kind: s.kind, name, ...where, how: "label", state: "exists", removeCommand: removeCommand(s.kind, name, id.gcpProject, s.location) });
        }
    });
    return [...byName, ...found];
}

/** One line per resource that is left or could not be checked, with what to do about it. */
export function leftoverLines(checks: readonly LeftoverCheck[]): string[] {
    const where = (c: LeftoverCheck) => (c.location ? ` (${c.location})` : "");
    return [
        ...checks.filter((c) => c.state === "exists").map((c) => `left behind: ${c.kind} ${c.name}${where(c)}${c.how === "label" ? " [found by its stack label]" : ""}; remove it with: ${c.removeCommand}`),
        ...checks.filter((c) => c.state === "unknown").map((c) => `could not check: ${c.kind} ${c.name}${where(c)}: ${c.detail ?? "no answer"}`),
    ];
}
