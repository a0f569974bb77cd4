import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { byType, FAKE_TOKEN, isSecretValue, one, runProgram, RunResult } from "./harness";

describe("TokenSecret", () => {
    let r: RunResult;
    before(async () => {
        r = await runProgram();
    });

    it("stores the token in one automatically replicated secret named after the stack", () => {
        const secret = one(r, "gcp:secretmanager/secret:Secret");
        assert.equal(secret.inputs.secretId, "vllm-cloudrun-dev-hf-token");
        assert.equal(secret.inputs.project, "my-proj");
        assert.deepEqual(secret.inputs.replication, { auto: {} });
        assert.equal(secret.parent, "vllm-cloudrun:secret:TokenSecret::vllm-cloudrun-dev-hf-token");
    });

    it("writes the version from hfToken as a secret value", () => {
        const version = one(r, "gcp:secretmanager/secretVersion:SecretVersion");
        assert.ok(isSecretValue(version.inputs.secretData), "secretData is marked secret");
        assert.equal((version.inputs.secretData).value, FAKE_TOKEN);
        assert.equal(version.inputs.secret, "vllm-cloudrun-dev-hf-token-id");
    });

    it("grants secret access to the build account only, on the secret itself", () => {
        const grant = one(r, "gcp:secretmanager/secretIamMember:SecretIamMember");
        assert.equal(grant.inputs.role, "roles/secretmanager.secretAccessor");
        assert.equal(grant.inputs.member, "serviceAccount:vllm-cloudrun-dev-build@my-proj.iam.gserviceaccount.com");
        assert.equal(grant.inputs.secretId, "vllm-cloudrun-dev-hf-token");
        const projectGrants = byType(r, "gcp:projects/iAMMember:IAMMember");
        assert.ok(projectGrants.every((g) => g.inputs.role !== "roles/secretmanager.secretAccessor"), "no project-wide secret access");
    });

    it("gives the runtime account no access to anything", () => {
        const runtime = "serviceAccount:vllm-cloudrun-dev-run@my-proj.iam.gserviceaccount.com";
        const grants = r.resources.filter((x) => "member" in x.inputs && x.inputs.member === runtime);
        assert.deepEqual(grants, []);
    });
});
