import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";

/** The Google provider's credentials settings, passed on to providers this program creates. */
export interface ProviderAuth {
    credentials?: pulumi.Input<string>;
    accessToken?: pulumi.Input<string>;
    impersonateServiceAccount?: string;
}

/**
 * A Google provider that bills API calls to `project` (X-Goog-User-Project). APIs such as Cloud
 * Quotas and Billing Budgets need a quota project, which user credentials (gcloud auth
 * application-default login) do not carry; the stack's own provider settings are not inherited
 * by an explicit provider, so its credentials are passed on.
 */
export function projectBilledProvider(name: string, project: pulumi.Input<string>, auth: ProviderAuth | undefined, parent: pulumi.Resource): gcp.Provider {
    return new gcp.Provider(
        name,
        {
            project,
            userProjectOverride: true,
            billingProject: project,
            credentials: auth?.credentials,
            accessToken: auth?.accessToken,
            impersonateServiceAccount: auth?.impersonateServiceAccount,
        },
        { parent },
    );
}
