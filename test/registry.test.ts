import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { one, runProgram, RunResult } from "./harness";

describe("ImageRegistry", () => {
    let r: RunResult;
    before(async () => {
        r = await runProgram();
    });

    it("is a Docker repository in the service's region, named after the stack", () => {
        const repo = one(r, "gcp:artifactregistry/repository:Repository");
        assert.equal(repo.inputs.format, "DOCKER");
        assert.equal(repo.inputs.location, "us-central1");
        assert.equal(repo.inputs.repositoryId, "vllm-cloudrun-dev");
        assert.equal(repo.inputs.project, "my-proj");
    });

    it("cleans up old images but keeps the newest three", () => {
        const repo = one(r, "gcp:artifactregistry/repository:Repository");
        assert.equal(repo.inputs.cleanupPolicyDryRun, false);
        assert.deepEqual(repo.inputs.cleanupPolicies, [
            { id: "keep-newest", action: "KEEP", mostRecentVersions: { keepCount: 3 } },
            { id: "delete-old", action: "DELETE", condition: { tagState: "ANY", olderThan: "2592000s" } },
        ]);
    });

    it("lets only the build account write, on this repository", () => {
        const writer = one(r, "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember");
        assert.equal(writer.inputs.role, "roles/artifactregistry.writer");
        assert.equal(writer.inputs.member, "serviceAccount:vllm-cloudrun-dev-build@my-proj.iam.gserviceaccount.com");
        assert.equal(writer.inputs.repository, "vllm-cloudrun-dev");
        assert.equal(writer.inputs.location, "us-central1");
    });
});
