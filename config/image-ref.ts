// Docker image references, parsed the way Docker's reference grammar reads them
// (github.com/distribution/reference, reference.go): [registry/]path[:tag][@sha256:digest].

export interface ImageRef {
    /** Registry host; `docker.io` for Docker Hub (no host, or docker.io / index.docker.io / registry-1.docker.io). */
    registry: string;
    /** Repository path inside the registry; Docker Hub official images get `library/`. */
    path: string;
    tag?: string;
    /** `sha256:<64 hex>`. */
    digest?: string;
}

const COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const PATH = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const HOST = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?$/;
const DOCKER_HUB_HOSTS = ["docker.io", "index.docker.io", "registry-1.docker.io"];

/** Parses a reference, or returns undefined when it is not one Docker would accept. */
export function parseImageRef(ref: string): ImageRef | undefined {
    if (ref.length === 0 || ref.length > 255 + 71 + 129) return undefined;
    let rest = ref;
    let digest: string | undefined;
    const at = rest.indexOf("@");
    if (at >= 0) {
        digest = rest.slice(at + 1);
        rest = rest.slice(0, at);
        if (!DIGEST.test(digest)) return undefined;
    }
    let tag: string | undefined;
    const lastSlash = rest.lastIndexOf("/");
    const colon = rest.lastIndexOf(":");
    if (colon > lastSlash) {
        tag = rest.slice(colon + 1);
        rest = rest.slice(0, colon);
        if (!TAG.test(tag)) return undefined;
    }
    // The first component is a registry host when it has a dot, a port, or is localhost.
    const slash = rest.indexOf("/");
    let registry = "docker.io";
    let path = rest;
    if (slash > 0) {
        const first = rest.slice(0, slash);
        if (first.includes(".") || first.includes(":") || first === "localhost") {
            if (!HOST.test(first)) return undefined;
            registry = DOCKER_HUB_HOSTS.includes(first) ? "docker.io" : first;
            path = rest.slice(slash + 1);
        }
    }
    if (!PATH.test(path) || path.length > 255) return undefined;
    if (registry === "docker.io" && !path.includes("/")) path = `library/${path}`;
    return { registry, path, tag, digest };
}

/** True for images Docker Hub serves (and so an Artifact Registry Docker Hub remote repository can cache). */
export function isDockerHub(ref: ImageRef): boolean {
    return ref.registry === "docker.io";
}
