import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { byType, runProgram, RunResult } from "./harness";

const BUILD = "serviceAccount:vllm-cloudrun-dev-build@my-proj.iam.gserviceaccount.com";
const RUNTIME = "serviceAccount:vllm-cloudrun-dev-run@my-proj.iam.gserviceaccount.com";

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

    it("grants at project level only log writing to the build account and, for the metrics sidecar, metric writing to the runtime account", async () => {
        const projectGrants = byType(r, "gcp:projects/iAMMember:IAMMember");
        assert.deepEqual(projectGrants.map((g) => [g.inputs.project, g.inputs.role, g.inputs.member]), [
            ["my-proj", "roles/logging.logWriter", BUILD],
            ["my-proj", "roles/monitoring.metricWriter", RUNTIME],
        ]);
        const off = await runProgram({ config: { metrics: false } });
        assert.deepEqual(byType(off, "gcp:projects/iAMMember:IAMMember").map((g) => [g.inputs.role, g.inputs.member]), [["roles/logging.logWriter", BUILD]]);
    });

    it("grants exactly seven roles, each on one resource but the two writers, never owner, editor or public access", () => {
        const grants = r.resources.filter((x) => typeof x.inputs.role === "string");
        assert.deepEqual(grants.map((g) => [g.type, g.inputs.role, g.inputs.member]).sort(), [
            ["gcp:artifactregistry/repositoryIamMember:RepositoryIamMember", "roles/artifactregistry.reader", BUILD],
            ["gcp:artifactregistry/repositoryIamMember:RepositoryIamMember", "roles/artifactregistry.writer", BUILD],
            ["gcp:projects/iAMMember:IAMMember", "roles/logging.logWriter", BUILD],
            ["gcp:projects/iAMMember:IAMMember", "roles/monitoring.metricWriter", RUNTIME],
            ["gcp:secretmanager/secretIamMember:SecretIamMember", "roles/secretmanager.secretAccessor", BUILD],
            // The runtime account reads the metrics sidecar's config, and nothing else.
            ["gcp:secretmanager/secretIamMember:SecretIamMember", "roles/secretmanager.secretAccessor", RUNTIME],
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
