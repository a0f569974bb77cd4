import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import { propagationWait } from "./propagation-wait";

/** APIs the stack uses: Cloud Run, Cloud Build (and its logs and staging bucket), Artifact Registry, Secret Manager, IAM, Cloud Quotas (the GPU quota check), Cloud Monitoring (dashboard, metrics, alerts). */
export const REQUIRED_APIS = [
    "run.googleapis.com",
    "cloudbuild.googleapis.com",
    "artifactregistry.googleapis.com",
    "secretmanager.googleapis.com",
    "iam.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "storage.googleapis.com",
    "logging.googleapis.com",
    "cloudquotas.googleapis.com",
    "monitoring.googleapis.com",
] as const;

/** Only with a monthlyBudget: the Cloud Billing Budget API. */
export const BUDGET_API = "billingbudgets.googleapis.com";

/** With several regions: the load balancer, its NEGs and Cloud Armor are Compute Engine resources. */
export const FRONT_DOOR_API = "compute.googleapis.com";

export interface ProjectApisArgs {
    project: pulumi.Input<string>;
    /** APIs to enable. Default: {@link REQUIRED_APIS}. */
    apis?: readonly string[];
    /**
     * Seconds to wait after enabling, before anything uses the APIs: enablement is
     * eventually consistent and a fresh project otherwise fails its first `up`. Default: 60.
     */
    propagationSeconds?: number;
}

/**
 * Enables the Google APIs the stack needs. Destroying the stack never disables them:
 * other workloads in the project may rely on them. Depend on this component to wait for
 * enablement and its propagation.
 */
export class ProjectApis extends pulumi.ComponentResource {
    readonly services: gcp.projects.Service[];

    constructor(name: string, args: ProjectApisArgs, opts?: pulumi.ComponentResourceOptions) {
        super("vllm-cloudrun:apis:ProjectApis", name, {}, opts);
        const apis = args.apis ?? REQUIRED_APIS;

        this.services = apis.map(
            (api) =>
                new gcp.projects.Service(
                    `${name}-${api.split(".")[0]}`,
                    { project: args.project, service: api, disableOnDestroy: false, disableDependentServices: false },
                    { parent: this },
                ),
        );

        // Again whenever the set of APIs changes.
        propagationWait(`${name}-propagation`, args.propagationSeconds ?? 60, this.services, this, [...apis]);

        this.registerOutputs({});
    }
}
