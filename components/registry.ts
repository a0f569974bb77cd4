import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";

export interface ImageRegistryArgs {
    project: pulumi.Input<string>;
    /** Region of the repositories; the same as the Cloud Run service, so pulls stay in-region. */
    location: pulumi.Input<string>;
    repositoryId: pulumi.Input<string>;
    /** IAM members granted roles/artifactregistry.writer on this repository only. Default: none. */
    writers?: pulumi.Input<string>[];
    /** Image versions always kept, newest first. Default: 3. */
    keepVersions?: pulumi.Input<number>;
    /** Older versions are deleted after this many days. Default: 30. */
    deleteAfterDays?: number;
    /**
     * Create a remote repository that caches Docker Hub in this region, so builds pull the vLLM
     * base image from Artifact Registry instead of Docker Hub (no anonymous rate limit, in-region
     * bandwidth). Default: false.
     */
    dockerHubRemote?: boolean;
    /** Region of the Docker Hub remote repository: where the builds run. Default: `location`. */
    dockerHubLocation?: pulumi.Input<string>;
    /** Id of the Docker Hub remote repository. Default: `<repositoryId>-dockerhub`. */
    dockerHubRemoteId?: pulumi.Input<string>;
    /** IAM members granted roles/artifactregistry.reader on the Docker Hub remote repository. Default: none. */
    dockerHubReaders?: pulumi.Input<string>[];
    /**
     * Pull from Docker Hub as this account instead of anonymously (higher pull limits): the
     * username and the Secret Manager secret and version holding an access token. The Artifact
     * Registry service agent is granted read access on that secret only. Default: anonymous.
     */
    dockerHubCredentials?: { username: pulumi.Input<string>; secretId: pulumi.Input<string>; secretVersion: pulumi.Input<string> };
    labels?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** The first part of every Docker image path in a location's Artifact Registry. */
function hostOf(location: pulumi.Input<string>): pulumi.Output<string> {
    return pulumi.interpolate`${location}-docker.pkg.dev`;
}

/**
 * Artifact Registry Docker repository with a cleanup policy so old multi-GB images don't pile up,
 * and optionally a Docker Hub remote repository that caches the base image.
 */
export class ImageRegistry extends pulumi.ComponentResource {
    readonly repositoryId: pulumi.Output<string>;
    readonly location: pulumi.Output<string>;
    /** `<region>-docker.pkg.dev/<project>/<repo>`. */
    readonly url: pulumi.Output<string>;
    /** `<region>-docker.pkg.dev/<project>/<remote>`: prefix a Docker Hub path (`vllm/vllm-openai`) with it. */
    readonly dockerHubUrl?: pulumi.Output<string>;
    /** The reader grants on the remote repository; a build waits for them. */
    readonly dockerHubGrants: pulumi.Resource[] = [];

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

        if (args.dockerHubRemote) {
            // Artifact Registry reads upstream credentials as its service agent, which exists only
            // once something asks for it: create it, then let it read the one token secret.
            const credentials = args.dockerHubCredentials;
            let credentialGrant: pulumi.Resource | undefined;
            if (credentials !== undefined) {
                const agent = new gcp.projects.ServiceIdentity(`${name}-registry-agent`, { project: args.project, service: "artifactregistry.googleapis.com" }, { parent: this });
                credentialGrant = new gcp.secretmanager.SecretIamMember(
                    `${name}-dockerhub-token-reader`,
                    { project: args.project, secretId: credentials.secretId, role: "roles/secretmanager.secretAccessor", member: agent.member },
                    { parent: this },
                );
            }
            // A pull-through cache: the first build fills it, later builds (and every build of
            // another model on the same base) read it. Cached layers the cleanup policy removes
            // are fetched again on the next pull.
            const remote = new gcp.artifactregistry.Repository(
                `${name}-dockerhub`,
                {
                    project: args.project,
                    location: args.dockerHubLocation ?? args.location,
                    repositoryId: args.dockerHubRemoteId ?? pulumi.interpolate`${args.repositoryId}-dockerhub`,
                    format: "DOCKER",
                    mode: "REMOTE_REPOSITORY",
                    description: "Docker Hub cache for the vLLM base image",
                    remoteRepositoryConfig: {
                        description: "Docker Hub",
                        dockerRepository: { publicRepository: "DOCKER_HUB" },
                        ...(credentials === undefined
                            ? {}
                            : { upstreamCredentials: { usernamePasswordCredentials: { username: credentials.username, passwordSecretVersion: credentials.secretVersion } } }),
                    },
                    labels: args.labels,
                    cleanupPolicyDryRun: false,
                    cleanupPolicies: [{ id: "delete-unused", action: "DELETE", condition: { tagState: "ANY", olderThan: `${deleteAfterSeconds}s` } }],
                },
                { parent: this, dependsOn: credentialGrant === undefined ? [] : [credentialGrant] },
            );
            (args.dockerHubReaders ?? []).forEach((member, i) =>
                this.dockerHubGrants.push(
                    new gcp.artifactregistry.RepositoryIamMember(
                        `${name}-dockerhub-reader-${i}`,
                        { project: remote.project, location: remote.location, repository: remote.name, role: "roles/artifactregistry.reader", member },
                        { parent: this },
                    ),
                ),
            );
            this.dockerHubUrl = pulumi.interpolate`${hostOf(remote.location)}/${remote.project}/${remote.repositoryId}`;
        }

        this.repositoryId = repo.repositoryId;
        this.location = repo.location;
        this.url = pulumi.interpolate`${hostOf(repo.location)}/${repo.project}/${repo.repositoryId}`;
        this.registerOutputs({ repositoryId: this.repositoryId, url: this.url, dockerHubUrl: this.dockerHubUrl });
    }
}
