// What the person (or CI account) running `pulumi up` must be allowed to do, and a check of it
// before anything is created: Resource Manager's testIamPermissions on the project returns the
// subset of the listed permissions the caller holds.
// Roles and their permissions: https://cloud.google.com/iam/docs/roles-permissions (read 2026-11).
import { GoogleAuth } from "google-auth-library";

export interface DeployerRole {
    role: string;
    why: string;
    /** Permissions this stack uses that the role grants (a subset of the role). */
    permissions: string[];
}

/** The smallest set of predefined roles a non-Owner deployer needs, one per thing the stack does. */
export const DEPLOYER_ROLES: readonly DeployerRole[] = [
    { role: "roles/serviceusage.serviceUsageAdmin", why: "enable the APIs; bill API calls to the project", permissions: ["serviceusage.services.enable", "serviceusage.services.get", "serviceusage.services.list", "serviceusage.services.use"] },
    { role: "roles/iam.serviceAccountAdmin", why: "create the runtime and build service accounts", permissions: ["iam.serviceAccounts.create", "iam.serviceAccounts.get", "iam.serviceAccounts.update", "iam.serviceAccounts.delete"] },
    { role: "roles/iam.serviceAccountUser", why: "run the build and the service as those accounts (actAs)", permissions: ["iam.serviceAccounts.actAs"] },
    { role: "roles/resourcemanager.projectIamAdmin", why: "grant the build account roles/logging.logWriter (and, with metrics, the runtime account roles/monitoring.metricWriter) on the project", permissions: ["resourcemanager.projects.get", "resourcemanager.projects.getIamPolicy", "resourcemanager.projects.setIamPolicy"] },
    { role: "roles/secretmanager.admin", why: "store the token (and API key) and grant access to the one account that reads each", permissions: ["secretmanager.secrets.create", "secretmanager.secrets.get", "secretmanager.secrets.update", "secretmanager.secrets.delete", "secretmanager.secrets.getIamPolicy", "secretmanager.secrets.setIamPolicy", "secretmanager.versions.add", "secretmanager.versions.get", "secretmanager.versions.access", "secretmanager.versions.destroy"] },
    { role: "roles/artifactregistry.admin", why: "create the image and Docker Hub cache repositories and grant the build account on them", permissions: ["artifactregistry.repositories.create", "artifactregistry.repositories.get", "artifactregistry.repositories.update", "artifactregistry.repositories.delete", "artifactregistry.repositories.getIamPolicy", "artifactregistry.repositories.setIamPolicy", "artifactregistry.dockerimages.get", "artifactregistry.dockerimages.list"] },
    { role: "roles/storage.admin", why: "create the staging (and weights) buckets, grant on them, upload the build source", permissions: ["storage.buckets.create", "storage.buckets.get", "storage.buckets.update", "storage.buckets.delete", "storage.buckets.getIamPolicy", "storage.buckets.setIamPolicy", "storage.objects.create", "storage.objects.get", "storage.objects.list", "storage.objects.delete"] },
    { role: "roles/cloudbuild.builds.editor", why: "submit, follow and cancel the image build", permissions: ["cloudbuild.builds.create", "cloudbuild.builds.get", "cloudbuild.builds.list", "cloudbuild.builds.update"] },
    { role: "roles/logging.viewer", why: "read the build's log when it fails (builds log to Cloud Logging only)", permissions: ["logging.logEntries.list"] },
    { role: "roles/run.admin", why: "deploy the service and grant its invokers", permissions: ["run.services.create", "run.services.get", "run.services.update", "run.services.delete", "run.services.getIamPolicy", "run.services.setIamPolicy", "run.operations.get"] },
    {
        role: "roles/monitoring.editor",
        why: "create the dashboard, alert policies, notification channel and uptime check",
        permissions: [
            "monitoring.dashboards.create", "monitoring.dashboards.get", "monitoring.dashboards.update", "monitoring.dashboards.delete",
            "monitoring.alertPolicies.create", "monitoring.alertPolicies.get", "monitoring.alertPolicies.update", "monitoring.alertPolicies.delete",
            "monitoring.notificationChannels.create", "monitoring.notificationChannels.get", "monitoring.notificationChannels.update", "monitoring.notificationChannels.delete",
            "monitoring.uptimeCheckConfigs.create", "monitoring.uptimeCheckConfigs.get", "monitoring.uptimeCheckConfigs.update", "monitoring.uptimeCheckConfigs.delete",
        ],
    },
    { role: "roles/cloudquotas.viewer", why: "read the region's GPU, memory and CPU quota before the build", permissions: ["cloudquotas.quotas.get"] },
];

/**
 * With several regions, also the load balancer and its Cloud Armor policy (permission names as
 * the Compute API's IAM reference gives them: https://cloud.google.com/compute/docs/access/iam-permissions;
 * which role grants which: https://cloud.google.com/iam/docs/roles-permissions/compute).
 */
export const FRONT_DOOR_ROLES: readonly DeployerRole[] = [
    {
        role: "roles/compute.loadBalancerAdmin",
        why: "with regions: create the load balancer (address, NEGs, backend service and its Cloud Armor attachment, URL maps, certificate, proxies, forwarding rules)",
        permissions: [
            "compute.globalAddresses.create", "compute.globalAddresses.get", "compute.globalAddresses.delete", "compute.globalAddresses.use", "compute.globalAddresses.setLabels",
            "compute.regionNetworkEndpointGroups.create", "compute.regionNetworkEndpointGroups.get", "compute.regionNetworkEndpointGroups.delete", "compute.regionNetworkEndpointGroups.use",
            "compute.backendServices.create", "compute.backendServices.get", "compute.backendServices.update", "compute.backendServices.delete", "compute.backendServices.use", "compute.backendServices.setSecurityPolicy",
            "compute.urlMaps.create", "compute.urlMaps.get", "compute.urlMaps.update", "compute.urlMaps.delete", "compute.urlMaps.use",
            "compute.sslCertificates.create", "compute.sslCertificates.get", "compute.sslCertificates.delete",
            "compute.targetHttpsProxies.create", "compute.targetHttpsProxies.get", "compute.targetHttpsProxies.delete", "compute.targetHttpsProxies.use", "compute.targetHttpsProxies.setSslCertificates",
            "compute.targetHttpProxies.create", "compute.targetHttpProxies.get", "compute.targetHttpProxies.delete", "compute.targetHttpProxies.use",
            // The provider sets labels right after creating a forwarding rule (it cannot in the create).
            "compute.globalForwardingRules.create", "compute.globalForwardingRules.get", "compute.globalForwardingRules.delete", "compute.globalForwardingRules.setLabels",
        ],
    },
    {
        role: "roles/compute.securityAdmin",
        why: "with regions: create the Cloud Armor policy the backend service uses",
        permissions: ["compute.securityPolicies.create", "compute.securityPolicies.get", "compute.securityPolicies.update", "compute.securityPolicies.delete", "compute.securityPolicies.use", "compute.securityPolicies.setLabels"],
    },
];

/** Every permission the stack needs, in role order. */
export const DEPLOYER_PERMISSIONS: readonly string[] = DEPLOYER_ROLES.flatMap((r) => r.permissions);

export interface PostResponse {
    status: number;
    data: unknown;
}
/** An authorized POST to a Google API with the caller's credentials; injectable for tests. */
export type GooglePost = (url: string, body: unknown) => Promise<PostResponse>;

/** Thrown when no Google credentials could be found or used. */
export class CredentialsError extends Error {}

/** google-auth-library's Application Default Credentials (what the Google provider uses too). */
export function adcPost(auth = new GoogleAuth({ scopes: ["https://www.googleapis.com/auth/cloud-platform"] })): GooglePost {
    return async (url, body) => {
        let client;
        try {
            client = await auth.getClient();
        } catch (e) {
            throw new CredentialsError(e instanceof Error ? e.message.split("\n")[0] : "no credentials");
        }
        const r = await client.request({ url, method: "POST", data: body, validateStatus: () => true });
        return { status: r.status, data: r.data };
    };
}

export type PermissionCheck =
    | { kind: "ok" }
    | { kind: "missing"; permissions: string[]; roles: DeployerRole[] }
    | { kind: "no-credentials"; reason: string }
    | { kind: "no-project-access"; status: number }
    /** The API is off in the project your credentials bill calls to (their quota project). */
    | { kind: "api-disabled-in-quota-project"; reason: string }
    /** Your credentials name a quota project you may not bill to. */
    | { kind: "quota-project-denied"; reason: string }
    | { kind: "unchecked"; reason: string };

/** Which of the stack's permissions the caller lacks on the project, and the roles that grant them. */
export async function checkDeployerPermissions(project: string, post: GooglePost, roles: readonly DeployerRole[] = DEPLOYER_ROLES): Promise<PermissionCheck> {
    const wanted = [...new Set(roles.flatMap((x) => x.permissions))];
    const held = new Set<string>();
    // testIamPermissions takes at most 100 permissions a call (https://cloud.google.com/resource-manager/reference/rest/v1/projects/testIamPermissions).
    for (let i = 0; i < wanted.length; i += TEST_IAM_PERMISSIONS_MAX) {
        const r = await testPermissions(project, post, wanted.slice(i, i + TEST_IAM_PERMISSIONS_MAX));
        if ("kind" in r) return r;
        for (const p of r.held) held.add(p);
    }
    const missing = wanted.filter((p) => !held.has(p));
    if (missing.length === 0) return { kind: "ok" };
    return { kind: "missing", permissions: missing, roles: roles.filter((role) => role.permissions.some((p) => missing.includes(p))) };
}

/** Most permissions one testIamPermissions call may ask about. */
export const TEST_IAM_PERMISSIONS_MAX = 100;

/** One testIamPermissions call: the permissions held, or why there is no answer. */
async function testPermissions(project: string, post: GooglePost, permissions: string[]): Promise<{ held: string[] } | Exclude<PermissionCheck, { kind: "ok" | "missing" }>> {
    let r: PostResponse;
    try {
        r = await post(`https://cloudresourcemanager.googleapis.com/v1/projects/${project}:testIamPermissions`, { permissions });
    } catch (e) {
        if (e instanceof CredentialsError) return { kind: "no-credentials", reason: e.message };
        // Never echo the error object: it may carry request headers.
        return { kind: "unchecked", reason: "network error" };
    }
    // A 403 can be about the quota project of your credentials rather than this project
    // (google-auth-library sends x-goog-user-project from the ADC file's quota_project_id).
    const reasons = errorReasons(r.data);
    if (r.status === 403 && reasons.includes("SERVICE_DISABLED")) return { kind: "api-disabled-in-quota-project", reason: "SERVICE_DISABLED" };
    if (r.status === 403 && reasons.includes("USER_PROJECT_DENIED")) return { kind: "quota-project-denied", reason: "USER_PROJECT_DENIED" };
    if (r.status === 403 || r.status === 404) return { kind: "no-project-access", status: r.status };
    if (r.status !== 200) return { kind: "unchecked", reason: `HTTP ${r.status}` };
    return { held: (r.data as { permissions?: string[] } | undefined)?.permissions ?? [] };
}

/** The `reason`s of a Google API error body (error.details[].reason, google.rpc.ErrorInfo). */
function errorReasons(data: unknown): string[] {
    const details = (data as { error?: { details?: { reason?: unknown }[] } } | undefined)?.error?.details ?? [];
    return details.map((d) => d.reason).filter((x): x is string => typeof x === "string");
}

/** One `gcloud projects add-iam-policy-binding` line per role; pasted, the shell fills in your gcloud account. */
export function grantCommands(project: string, roles: readonly DeployerRole[], member = `"user:$(gcloud config get-value account)"`): string[] {
    return roles.map((r) => `gcloud projects add-iam-policy-binding ${project} --member=${member} --role=${r.role} --condition=None`);
}
