import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import { propagationWait } from "./propagation-wait";

export interface TokenSecretArgs {
    project: pulumi.Input<string>;
    /** Secret Manager secret id. */
    secretId: pulumi.Input<string>;
    /** The secret value; kept secret in Pulumi state. */
    value: pulumi.Input<string>;
    /** IAM members granted roles/secretmanager.secretAccessor on this secret only. Default: none. */
    accessors?: pulumi.Input<string>[];
    /**
     * Seconds to wait after the accessor grants before dependents use them (IAM is eventually
     * consistent). Default: 0, no wait.
     */
    grantPropagationSeconds?: number;
    /** Labels for the secret. Default: none. */
    labels?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** A Secret Manager secret (automatic replication) with one version holding the value. */
export class TokenSecret extends pulumi.ComponentResource {
    readonly secretId: pulumi.Output<string>;
    /** Full resource name of the version this deploy wrote: projects/…/secrets/…/versions/N. */
    readonly versionName: pulumi.Output<string>;
    /** The version number alone, e.g. `1`, for references such as Cloud Run's secretKeyRef. */
    readonly version: pulumi.Output<string>;

    constructor(name: string, args: TokenSecretArgs, opts?: pulumi.ComponentResourceOptions) {
        super("vllm-cloudrun:secret:TokenSecret", name, {}, opts);

        const secret = new gcp.secretmanager.Secret(
            name,
            { project: args.project, secretId: args.secretId, replication: { auto: {} }, labels: args.labels },
            { parent: this },
        );
        const version = new gcp.secretmanager.SecretVersion(
            `${name}-version`,
            { secret: secret.id, secretData: pulumi.secret(args.value) },
            { parent: this },
        );
        const grants = (args.accessors ?? []).map(
            (member, i) =>
                new gcp.secretmanager.SecretIamMember(
                    `${name}-accessor-${i}`,
                    { project: args.project, secretId: secret.secretId, role: "roles/secretmanager.secretAccessor", member },
                    { parent: this },
                ),
        );
        if ((args.grantPropagationSeconds ?? 0) > 0) propagationWait(`${name}-grant-propagation`, args.grantPropagationSeconds ?? 0, grants, this);

        this.secretId = secret.secretId;
        this.versionName = version.name;
        this.version = version.version;
        this.registerOutputs({ secretId: this.secretId, versionName: this.versionName });
    }
}
