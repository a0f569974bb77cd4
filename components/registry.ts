import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";

export interface ImageRegistryArgs {
    project: pulumi.Input<string>;
    /** Region of the repository; the same as the Cloud Run service, so pulls stay in-region. */
    location: pulumi.Input<string>;
    repositoryId: pulumi.Input<string>;
    /** IAM members granted roles/artifactregistry.writer on this repository only. Default: none. */
    writers?: pulumi.Input<string>[];
    /** Image versions always kept, newest first. Default: 3. */
    keepVersions?: pulumi.Input<number>;
    /** Older versions are deleted after this many days. Default: 30. */
    deleteAfterDays?: number;
    labels?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** Artifact Registry Docker repository with a cleanup policy so old multi-GB images don't pile up. */
export class ImageRegistry extends pulumi.ComponentResource {
    readonly repositoryId: pulumi.Output<string>;
    readonly location: pulumi.Output<string>;
    /** `<region>-docker.pkg.dev/<project>/<repo>`. */
    readonly url: pulumi.Output<string>;

    constructor(name: string, args: ImageRegistryArgs, opts?: pulumi.ComponentResourceOptions) {
        super("vllm-cloudrun:registry:ImageRegistry", name, {}, opts);
        const deleteAfterSeconds = (args.deleteAfterDays ?? 30) * 24 * 3600;

        const repo = new gcp.artifactregistry.Repository(
            name,
            {
                project: args.project,
                location: args.location,
                repositoryId: args.repositoryId,
                format: "DOCKER",
                description: "vLLM images with model weights baked in",
                labels: args.labels,
                cleanupPolicyDryRun: false,
                // KEEP wins over DELETE, so the newest images (the one serving included) survive.
                cleanupPolicies: [
                    { id: "keep-newest", action: "KEEP", mostRecentVersions: { keepCount: args.keepVersions ?? 3 } },
                    { id: "delete-old", action: "DELETE", condition: { tagState: "ANY", olderThan: `${deleteAfterSeconds}s` } },
                ],
            },
            { parent: this },
        );
        (args.writers ?? []).forEach(
            (member, i) =>
                new gcp.artifactregistry.RepositoryIamMember(
                    `${name}-writer-${i}`,
                    { project: repo.project, location: repo.location, repository: repo.name, role: "roles/artifactregistry.writer", member },
                    { parent: this },
                ),
        );

        this.repositoryId = repo.repositoryId;
        this.location = repo.location;
        this.url = pulumi.interpolate`${repo.location}-docker.pkg.dev/${repo.project}/${repo.repositoryId}`;
        this.registerOutputs({ repositoryId: this.repositoryId, url: this.url });
    }
}
