import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { REQUIRED_APIS } from "../components/apis";
import { byType, runProgram, RunResult } from "./harness";

const APIS = "vllm-cloudrun:apis:ProjectApis::vllm-cloudrun-dev";

describe("ProjectApis", () => {
    let r: RunResult;
    before(async () => {
        r = await runProgram();
    });

    it("enables exactly the APIs the stack uses, and never disables them on destroy", () => {
        const services = byType(r, "gcp:projects/service:Service");
        assert.deepEqual(services.map((s) => s.inputs.service).sort(), [...REQUIRED_APIS].sort());
        for (const s of services) {
            assert.equal(s.inputs.disableOnDestroy, false, `${s.inputs.service} disableOnDestroy`);
            assert.equal(s.inputs.disableDependentServices, false, `${s.inputs.service} disableDependentServices`);
            assert.equal(s.inputs.project, "my-proj");
            assert.equal(s.parent, APIS);
        }
        assert.ok(!services.some((s) => s.inputs.service === "billingbudgets.googleapis.com"), "the budget API only with a monthlyBudget");
        for (const api of ["run", "cloudbuild", "artifactregistry", "secretmanager", "iam", "monitoring"]) {
            assert.ok(services.some((s) => s.inputs.service === `${api}.googleapis.com`), api);
        }
    });

    it("waits for enablement to propagate after every API is enabled", () => {
        const wait = r.resources.find((x) => x.name === "vllm-cloudrun-dev-propagation");
        assert.ok(wait);
        assert.equal(wait.type, "command:local:Command");
        assert.equal(wait.parent, APIS);
        assert.equal(wait.inputs.create, 'sleep "$WAIT_SECONDS"');
        assert.deepEqual(wait.inputs.environment, { WAIT_SECONDS: "60" });
        assert.equal(wait.inputs.delete, undefined);
        assert.deepEqual(
            wait.dependsOn.sort(),
            byType(r, "gcp:projects/service:Service").map((s) => `${s.type}::${s.name}`).sort(),
        );
    });

    it("every other component depends on the APIs, and every resource lives in a component", () => {
        const top = r.resources.filter((x) => x.type !== "pulumi:pulumi:Stack" && x.parent === undefined);
        assert.deepEqual(top.map((x) => `${x.type}::${x.name}`), ["vllm-cloudrun:index:VllmCloudRun::vllm-cloudrun"], "one component holds everything");
        const components = r.resources.filter((x) => !x.custom && x.type.startsWith("vllm-cloudrun:") && x.type !== "vllm-cloudrun:index:VllmCloudRun");
        assert.deepEqual(components.map((c) => c.type).sort(), [
            "vllm-cloudrun:apis:ProjectApis",
            "vllm-cloudrun:identities:ServiceIdentities",
            "vllm-cloudrun:image:BaseImage",
            "vllm-cloudrun:image:ImageBuild",
            "vllm-cloudrun:monitoring:ServiceMonitoring",
            "vllm-cloudrun:registry:ImageRegistry",
            "vllm-cloudrun:secret:TokenSecret",
            "vllm-cloudrun:secret:TokenSecret",
            "vllm-cloudrun:service:LlmService",
        ]);
        for (const c of components) {
            assert.equal(c.parent, "vllm-cloudrun:index:VllmCloudRun::vllm-cloudrun", `${c.type} is the component's child`);
            // BaseImage only asks Docker Hub for a digest: no Google API involved.
            if (c.type === "vllm-cloudrun:apis:ProjectApis" || c.type === "vllm-cloudrun:image:BaseImage") continue;
            assert.ok(c.dependsOn.includes(APIS), `${c.type} depends on the APIs`);
        }
        const componentKeys = new Set(components.map((c) => `${c.type}::${c.name}`));
        for (const res of r.resources.filter((x) => x.custom && x.type !== "pulumi:pulumi:Stack")) {
            assert.ok(res.parent && componentKeys.has(res.parent), `${res.type} ${res.name} has a component parent`);
            assert.ok(res.name.startsWith("vllm-cloudrun-dev"), `${res.name} derives from the component name`);
        }
    });
});
