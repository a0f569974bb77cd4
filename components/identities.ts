import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";

export interface ServiceIdentitiesArgs {
    project: pulumi.Input<string>;
    /** Account id of the Cloud Run runtime service account. */
    runtimeAccountId: pulumi.Input<string>;
    /** Account id of the Cloud Build service account. */
    buildAccountId: pulumi.Input<string>;
    /** Let the runtime account write metrics (the Managed Prometheus sidecar). Default: false. */
    runtimeMetricWriter?: boolean;
}

/**
 * Dedicated service accounts: one the Cloud Run service runs as, one Cloud Build runs as
 * (new projects would otherwise build as the Compute default account, which lacks the roles).
 * The only project-level grants are log writing for builds and, with metrics, metric writing for
 * the runtime (Cloud Monitoring has no narrower scope for writes); everything else is granted on
 * the resource itself by the component that owns it.
 */
export class ServiceIdentities extends pulumi.ComponentResource {
    readonly runtime: gcp.serviceaccount.Account;
    readonly build: gcp.serviceaccount.Account;
    /** `serviceAccount:<email>` of the runtime account. */
    readonly runtimeMember: pulumi.Output<string>;
    /** `serviceAccount:<email>` of the build account. */
    readonly buildMember: pulumi.Output<string>;

    constructor(name: string, args: ServiceIdentitiesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("vllm-cloudrun:identities:ServiceIdentities", name, {}, opts);

        this.runtime = new gcp.serviceaccount.Account(
            `${name}-runtime`,
            { project: args.project, accountId: args.runtimeAccountId, displayName: "vLLM Cloud Run runtime", description: "Runs the vLLM service (and its metrics sidecar). Reads only its own secrets; writes metrics when metrics are on." },
            { parent: this },
        );
        this.build = new gcp.serviceaccount.Account(
            `${name}-build`,
            { project: args.project, accountId: args.buildAccountId, displayName: "vLLM image build", description: "Runs Cloud Build for the vLLM image: reads the HF token secret, pushes to the stack's repository." },
            { parent: this },
        );
        this.runtimeMember = pulumi.interpolate`serviceAccount:${this.runtime.email}`;
        this.buildMember = pulumi.interpolate`serviceAccount:${this.build.email}`;

        // Builds that run as a user-specified account must log somewhere it can write.
        new gcp.projects.IAMMember(
            `${name}-build-log-writer`,
            { project: args.project, role: "roles/logging.logWriter", member: this.buildMember },
            { parent: this },
        );

        // The Managed Prometheus sidecar writes vLLM's samples as the runtime account.
        if (args.runtimeMetricWriter === true) {
            new gcp.projects.IAMMember(
                `${name}-runtime-metric-writer`,
                { project: args.project, role: "roles/monitoring.metricWriter", member: this.runtimeMember },
                { parent: this },
            );
        }

        this.registerOutputs({ runtimeMember: this.runtimeMember, buildMember: this.buildMember });
    }
}
