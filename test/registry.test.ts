import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { byType, one, plainStrings, runProgram, RunResult } from "./harness";

describe("ImageRegistry", () => {
    let r: RunResult;
    before(async () => {
        r = await runProgram();
    });

    it("is a Docker repository in the service's region, named after the stack", () => {
        const repo = one(r, "gcp:artifactregistry/repository:Repository", "vllm-cloudrun-dev");
        assert.equal(repo.inputs.format, "DOCKER");
        assert.equal(repo.inputs.mode, undefined, "a standard repository");
        assert.equal(repo.inputs.location, "us-central1");
        assert.equal(repo.inputs.repositoryId, "vllm-cloudrun-dev");
        assert.equal(repo.inputs.project, "my-proj");
    });

    it("cleans up old images but keeps the newest three", () => {
        const repo = one(r, "gcp:artifactregistry/repository:Repository", "vllm-cloudrun-dev");
        assert.equal(repo.inputs.cleanupPolicyDryRun, false);
        assert.deepEqual(repo.inputs.cleanupPolicies, [
            { id: "keep-newest", action: "KEEP", mostRecentVersions: { keepCount: 3 } },
            { id: "delete-old", action: "DELETE", condition: { tagState: "ANY", olderThan: "2592000s" } },
        ]);
    });

    it("lets only the build account write, on this repository", () => {
        const writer = one(r, "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember", "vllm-cloudrun-dev-writer-0");
        assert.equal(writer.inputs.role, "roles/artifactregistry.writer");
        assert.equal(writer.inputs.member, "serviceAccount:vllm-cloudrun-dev-build@my-proj.iam.gserviceaccount.com");
        assert.equal(writer.inputs.repository, "vllm-cloudrun-dev");
        assert.equal(writer.inputs.location, "us-central1");
    });

    it("caches Docker Hub in the same region, for the base image, and lets only the build account read it", () => {
        const remote = one(r, "gcp:artifactregistry/repository:Repository", "vllm-cloudrun-dev-dockerhub");
        assert.deepEqual(
            [remote.inputs.repositoryId, remote.inputs.location, remote.inputs.format, remote.inputs.mode, remote.inputs.remoteRepositoryConfig],
            ["vllm-cloudrun-dev-dockerhub", "us-central1", "DOCKER", "REMOTE_REPOSITORY", { description: "Docker Hub", dockerRepository: { publicRepository: "DOCKER_HUB" } }],
        );
        assert.deepEqual(remote.inputs.cleanupPolicies, [{ id: "delete-unused", action: "DELETE", condition: { tagState: "ANY", olderThan: "2592000s" } }]);
        const grants = r.resources.filter((x) => x.type === "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember");
        assert.deepEqual(grants.map((g) => [g.inputs.repository, g.inputs.role, g.inputs.member]).sort(), [
            ["vllm-cloudrun-dev", "roles/artifactregistry.writer", "serviceAccount:vllm-cloudrun-dev-build@my-proj.iam.gserviceaccount.com"],
            ["vllm-cloudrun-dev-dockerhub", "roles/artifactregistry.reader", "serviceAccount:vllm-cloudrun-dev-build@my-proj.iam.gserviceaccount.com"],
        ]);
        const wait = one(r, "command:local:Command", "vllm-cloudrun-dev-iam-propagation");
        assert.ok(wait.dependsOn.includes("vllm-cloudrun:registry:ImageRegistry::vllm-cloudrun-dev"), "the build waits for the reader grant");
    });

    it("has no Docker Hub cache when the base image comes from another registry", async () => {
        const other = await runProgram({ config: { vllmImage: "us-docker.pkg.dev/other/images/vllm:v1" } });
        assert.equal(other.error, undefined);
        assert.deepEqual(other.resources.filter((x) => x.type === "gcp:artifactregistry/repository:Repository").map((x) => x.name), ["vllm-cloudrun-dev"]);
        assert.equal(other.outputs.baseImage, `us-docker.pkg.dev/other/images/vllm@sha256:${"cd".repeat(32)}`);
    });

    it("pulls Docker Hub as your account when given a Docker ID and token: its own secret, readable by Artifact Registry's agent only", async () => {
        const token = "dckr_pat_FAKE-docker-hub-token-0123456789";
        const withLogin = await runProgram({ config: { dockerHubUsername: "alice42" }, secretConfig: { dockerHubToken: token } });
        assert.equal(withLogin.error, undefined, String(withLogin.error));
        const secret = one(withLogin, "gcp:secretmanager/secret:Secret", "vllm-cloudrun-dev-dockerhub-token");
        assert.equal(secret.inputs.secretId, "vllm-cloudrun-dev-dockerhub-token");
        const agent = one(withLogin, "gcp:projects/serviceIdentity:ServiceIdentity");
        assert.deepEqual([agent.inputs.project, agent.inputs.service], ["my-proj", "artifactregistry.googleapis.com"]);
        const readers = withLogin.resources.filter((x) => x.type === "gcp:secretmanager/secretIamMember:SecretIamMember" && x.inputs.secretId === "vllm-cloudrun-dev-dockerhub-token");
        assert.deepEqual(readers.map((x) => [x.inputs.role, x.inputs.member]), [["roles/secretmanager.secretAccessor", "serviceAccount:service-123456789@gcp-sa-artifactregistry.iam.gserviceaccount.com"]]);
        const remote = one(withLogin, "gcp:artifactregistry/repository:Repository", "vllm-cloudrun-dev-dockerhub");
        const upstream = (remote.inputs.remoteRepositoryConfig as { upstreamCredentials: { usernamePasswordCredentials: Record<string, string> } }).upstreamCredentials.usernamePasswordCredentials;
        assert.equal(upstream.username, "alice42");
        assert.match(upstream.passwordSecretVersion, /^projects\/123456789\/secrets\/vllm-cloudrun-dev-dockerhub-token\/versions\/[1-9][0-9]*$/);
        assert.ok(one(withLogin, "gcp:artifactregistry/repository:Repository", "vllm-cloudrun-dev-dockerhub").dependsOn.includes("gcp:secretmanager/secretIamMember:SecretIamMember::vllm-cloudrun-dev-dockerhub-token-reader"), "the repository is created after the agent may read the token");
        for (const res of withLogin.resources) for (const s of plainStrings(res.inputs)) assert.ok(!s.includes(token), `${res.type} ${res.name} holds the Docker Hub token in plain text`);
        // Without a login: anonymous, and none of this exists.
        assert.equal(byType(r, "gcp:projects/serviceIdentity:ServiceIdentity").length, 0);
        assert.equal((one(r, "gcp:artifactregistry/repository:Repository", "vllm-cloudrun-dev-dockerhub").inputs.remoteRepositoryConfig as Record<string, unknown>).upstreamCredentials, undefined);
    });
});

