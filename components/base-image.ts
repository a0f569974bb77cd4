import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { ImageRef } from "../config/image-ref";

export interface BaseImageArgs {
    /** The configured base image (vllmImage), parsed. */
    image: ImageRef;
    /**
     * `<region>-docker.pkg.dev/<project>/<remote>` of a Docker Hub remote repository: Docker Hub
     * images are pulled through it. Default: pull from the image's own registry.
     */
    dockerHubUrl?: pulumi.Input<string>;
}

/** What a reference with a digest looks like when pulled through a Docker Hub remote repository. */
export function pullReference(image: ImageRef, digest: string, dockerHubUrl?: string): string {
    const host = image.registry === "docker.io" ? (dockerHubUrl ?? "docker.io") : image.registry;
    return `${host}/${image.path}@${digest}`;
}

/**
 * Settings for a Docker provider that only asks registries, never a Docker daemon. The lookup
 * itself is plain HTTP to the registry (kreuzwerker's data_source_docker_registry_image.go), but
 * pulumi-docker's own half pings a daemon when it is configured, unless the host is an SSH URL,
 * which it leaves for later (provider/image.go configureDockerClient; the failure is
 * pulumi/pulumi-docker#1106). So: an SSH host this provider never dials, and no daemon check for
 * the bridged half. Nothing but registry lookups may use this provider.
 */
export const REGISTRY_ONLY_PROVIDER = { host: "ssh://registry-lookups-only@127.0.0.1", disableDockerDaemonCheck: true } as const;

/**
 * Resolves the base image's tag to the digest the registry serves now (a registry lookup by
 * @pulumi/docker, no Docker daemon needed), so the build pulls exactly that, the stack exports it,
 * and a tag that moves upstream rebuilds the image. An image configured by digest is used as is.
 */
export class BaseImage extends pulumi.ComponentResource {
    /** `sha256:…` of the base image. */
    readonly digest: pulumi.Output<string>;
    /** What the build pulls: through the remote repository for Docker Hub images, by digest. */
    readonly pullRef: pulumi.Output<string>;

    constructor(name: string, args: BaseImageArgs, opts?: pulumi.ComponentResourceOptions) {
        super("vllm-cloudrun:image:BaseImage", name, {}, opts);
        const { image } = args;
        const registryPrefix = image.registry === "docker.io" ? "" : `${image.registry}/`;
        if (image.digest !== undefined) {
            this.digest = pulumi.output(image.digest);
        } else {
            const provider = new docker.Provider(`${name}-registry`, REGISTRY_ONLY_PROVIDER, { parent: this });
            this.digest = docker.getRegistryImageOutput({ name: `${registryPrefix}${image.path}:${image.tag ?? "latest"}` }, { parent: this, provider }).sha256Digest;
        }
        this.pullRef = pulumi.all([this.digest, args.dockerHubUrl]).apply(([digest, url]) => pullReference(image, digest, url));
        this.registerOutputs({ digest: this.digest, pullRef: this.pullRef });
    }
}
