import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { byType, runProgram, RunResult } from "./harness";

const BUILD = "serviceAccount:vllm-cloudrun-dev-build@my-proj.iam.gserviceaccount.com";

describe("ServiceIdentities", () => {
    let r: RunResult;
    before(async () => {
        r = await runProgram();
    });

    it("creates a runtime and a build service account with derived ids", () => {
        const accounts = byType(r, "gcp:serviceaccount/account:Account");
        assert.deepEqual(accounts.map((a) => a.inputs.accountId).sort(), ["vllm-cloudrun-dev-build", "vllm-cloudrun-dev-run"]);
        for (const a of accounts) assert.equal(a.inputs.project, "my-proj");
    });

    it("grants only log writing at project level, to the build account", () => {
        const projectGrants = byType(r, "gcp:projects/iAMMember:IAMMember");
        assert.equal(projectGrants.length, 1);
        assert.equal(projectGrants[0].inputs.role, "roles/logging.logWriter");
        assert.equal(projectGrants[0].inputs.member, BUILD);
        assert.equal(projectGrants[0].inputs.project, "my-proj");
    });

    it("grants exactly five roles, all to the build account and each on one resource but the log writer, never owner, editor or public access", () => {
        const grants = r.resources.filter((x) => typeof x.inputs.role === "string");
        assert.deepEqual(grants.map((g) => [g.type, g.inputs.role, g.inputs.member]).sort(), [
            ["gcp:artifactregistry/repositoryIamMember:RepositoryIamMember", "roles/artifactregistry.reader", BUILD],
            ["gcp:artifactregistry/repositoryIamMember:RepositoryIamMember", "roles/artifactregistry.writer", BUILD],
            ["gcp:projects/iAMMember:IAMMember", "roles/logging.logWriter", BUILD],
            ["gcp:secretmanager/secretIamMember:SecretIamMember", "roles/secretmanager.secretAccessor", BUILD],
            ["gcp:storage/bucketIAMMember:BucketIAMMember", "roles/storage.objectViewer", BUILD],
        ]);
        for (const g of grants) {
            assert.ok(!["roles/owner", "roles/editor", "roles/iam.serviceAccountUser", "roles/iam.serviceAccountTokenCreator"].includes(g.inputs.role as string), `${g.name}: ${g.inputs.role}`);
            assert.ok(!["allUsers", "allAuthenticatedUsers"].includes(g.inputs.member as string), `${g.name}: ${g.inputs.member}`);
        }
        assert.deepEqual(byType(r, "gcp:projects/iAMBinding:IAMBinding"), []);
        assert.deepEqual(byType(r, "gcp:projects/iAMPolicy:IAMPolicy"), []);
    });
});
