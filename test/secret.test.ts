import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { byType, FAKE_TOKEN, isSecretValue, one, runProgram, RunResult } from "./harness";

describe("TokenSecret", () => {
    let r: RunResult;
    before(async () => {
        r = await runProgram();
    });

    it("stores the token in one automatically replicated secret named after the stack", () => {
        const secret = one(r, "gcp:secretmanager/secret:Secret", "vllm-cloudrun-dev-hf-token");
        assert.equal(secret.inputs.secretId, "vllm-cloudrun-dev-hf-token");
        assert.equal(secret.inputs.project, "my-proj");
        assert.deepEqual(secret.inputs.replication, { auto: {} });
        assert.equal(secret.parent, "vllm-cloudrun:secret:TokenSecret::vllm-cloudrun-dev-hf-token");
    });

    it("writes the version from hfToken as a secret value", () => {
        const version = one(r, "gcp:secretmanager/secretVersion:SecretVersion", "vllm-cloudrun-dev-hf-token-version");
        assert.ok(isSecretValue(version.inputs.secretData), "secretData is marked secret");
        assert.equal((version.inputs.secretData).value, FAKE_TOKEN);
        assert.equal(version.inputs.secret, "vllm-cloudrun-dev-hf-token-id");
    });

    it("grants secret access to the build account only, on the secret itself", () => {
        const grant = one(r, "gcp:secretmanager/secretIamMember:SecretIamMember", "vllm-cloudrun-dev-hf-token-accessor-0");
        assert.equal(grant.inputs.role, "roles/secretmanager.secretAccessor");
        assert.equal(grant.inputs.member, "serviceAccount:vllm-cloudrun-dev-build@my-proj.iam.gserviceaccount.com");
        assert.equal(grant.inputs.secretId, "vllm-cloudrun-dev-hf-token");
        const projectGrants = byType(r, "gcp:projects/iAMMember:IAMMember");
        assert.ok(projectGrants.every((g) => g.inputs.role !== "roles/secretmanager.secretAccessor"), "no project-wide secret access");
    });

    it("gives the runtime account nothing but its metrics config and metric writing (none of it with metrics off)", async () => {
        const runtime = "serviceAccount:vllm-cloudrun-dev-run@my-proj.iam.gserviceaccount.com";
        const grantsOf = (x: RunResult) => x.resources.filter((g) => "member" in g.inputs && g.inputs.member === runtime).map((g) => [g.type, g.inputs.role, g.inputs.secretId]);
        assert.deepEqual(grantsOf(r), [
            ["gcp:projects/iAMMember:IAMMember", "roles/monitoring.metricWriter", undefined],
            ["gcp:secretmanager/secretIamMember:SecretIamMember", "roles/secretmanager.secretAccessor", "vllm-cloudrun-dev-metrics-config"],
        ]);
        assert.deepEqual(grantsOf(await runProgram({ config: { metrics: false } })), []);
    });
});
