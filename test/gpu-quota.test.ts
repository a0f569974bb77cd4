import { afterEach, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { grantedIn, QuotaInfo, quotaProblems } from "../components/gpu-quota";
import { DEPLOYER_PERMISSIONS, GooglePost } from "../config/permissions";
import { byType, one, runProgram, RunOptions, RunResult } from "./harness";
import { assertGcloudParses } from "./gcloud";

const BUILD = "command:local:Command::vllm-cloudrun-dev-build";

/** Resources the (mock) engine was asked to create: constructed and with every input resolved. */
function created(r: RunResult, key: string) {
    return r.resources.filter((x) => `${x.type}::${x.name}` === key && x.state !== undefined);
}
const allGranted: GooglePost = () => Promise.resolve({ status: 200, data: { permissions: DEPLOYER_PERMISSIONS } });
const realFetch = globalThis.fetch;

/** The program with every outside check on: Hugging Face says yes, the caller has every permission. */
function withChecks(opts: RunOptions = {}) {
    globalThis.fetch = () => Promise.resolve(new Response("{}", { status: 200 }));
    return runProgram({ ...opts, config: { preflightChecks: true, ...opts.config }, googlePost: allGranted });
}

describe("GPU quota check", () => {
    afterEach(() => {
        globalThis.fetch = realFetch;
    });

    it("reads the region's L4 quota without zonal redundancy and the memory quota, billed to the project", async () => {
        const r = await withChecks({ config: { maxInstances: 2 } });
        assert.equal(r.error, undefined, String(r.error));
        const provider = one(r, "pulumi:providers:gcp", "vllm-cloudrun-dev-quota-provider");
        assert.deepEqual([provider.inputs.project, provider.inputs.userProjectOverride, provider.inputs.billingProject], ["my-proj", "true", "my-proj"]);
        const reads = r.invokes.filter((i) => i.token === "gcp:cloudquota/getSQuotaInfo:getSQuotaInfo").map((i) => i.inputs);
        assert.deepEqual(reads.sort((a, b) => String(a.quotaId).localeCompare(String(b.quotaId))), [
            { parent: "projects/my-proj", service: "run.googleapis.com", quotaId: "CpuAllocPerProjectRegion" },
            { parent: "projects/my-proj", service: "run.googleapis.com", quotaId: "MemAllocPerProjectRegion" },
            { parent: "projects/my-proj", service: "run.googleapis.com", quotaId: "NvidiaL4GpuAllocNoZonalRedundancyPerProjectRegion" },
        ]);
        assert.deepEqual(r.outputs.gpuQuota, { problems: [], gpuQuotaId: "NvidiaL4GpuAllocNoZonalRedundancyPerProjectRegion", gpuGranted: 3, gpuNeeded: 2, memoryGrantedGiB: 1024, memoryNeededGiB: 49, cpuGranted: 200, cpuNeeded: 14 });
        // An instance is vLLM's container (6 vCPU, 24 GiB beside the sidecar) and the metrics sidecar's (1 vCPU, 512 MiB).
        const check = one(r, "vllm-cloudrun:quota:GpuQuotaCheck", "vllm-cloudrun-dev-quota");
        assert.deepEqual(check.dependsOn, ["vllm-cloudrun:apis:ProjectApis::vllm-cloudrun-dev"], "after the Cloud Quotas API is enabled");
        // The build starts only once the check has passed (its dependsOn is the check's outcome).
        assert.deepEqual(one(r, "command:local:Command", "vllm-cloudrun-dev-build").dependsOn, ["command:local:Command::vllm-cloudrun-dev-iam-propagation"]);
    });

    it("with zonal redundancy reads the zonal quota", async () => {
        const r = await withChecks({ config: { gpuZonalRedundancy: true } });
        assert.equal(r.error, undefined, String(r.error));
        assert.ok(r.invokes.some((i) => i.inputs.quotaId === "NvidiaL4GpuAllocPerProjectRegion"));
        assert.ok(!r.invokes.some((i) => i.inputs.quotaId === "NvidiaL4GpuAllocNoZonalRedundancyPerProjectRegion"));
    });

    it("too little GPU quota fails the update before the build exists, with the quota, the numbers and the request command", async () => {
        const r = await withChecks({ config: { maxInstances: 3 }, quota: { gpu: 1 } });
        assert.ok(r.error, "the update fails");
        assert.match(r.error.message, /Not enough quota for this stack; nothing was built:\n/);
        assert.match(r.error.message, /GPU quota run\.googleapis\.com\/NvidiaL4GpuAllocNoZonalRedundancyPerProjectRegion \(nvidia-l4 without zonal redundancy\) in us-central1 is 1; this stack needs 3 \(maxInstances\)\./);
        const request = 'gcloud beta quotas preferences create --service=run.googleapis.com --quota-id=NvidiaL4GpuAllocNoZonalRedundancyPerProjectRegion --preferred-value=3 --dimensions=region=us-central1 --project=my-proj --email="$(gcloud config get-value account)"';
        assert.ok(r.error.message.includes(`  request it: ${request}\n`), r.error.message);
        // Pasted into a shell, the real gcloud accepts it (it stops only at "no active account").
        assertGcloudParses(request);
        assert.match(r.error.message, /npx pulumi config set maxInstances 1/);
        assert.equal(created(r, BUILD).length, 0, "the build was never registered");
        assert.equal(byType(r, "gcp:cloudrunv2/service:Service").filter((x) => x.state !== undefined).length, 0, "nor the service");
        // Everything before the gate exists, so the next `up` after the quota is granted goes straight to the build.
        assert.equal(created(r, "gcp:artifactregistry/repository:Repository::vllm-cloudrun-dev").length, 1);
    });

    it("a region without quota (invitation-only, new project) says 0 and offers no smaller maxInstances", async () => {
        const r = await withChecks({ quota: { gpu: 0 } });
        assert.ok(r.error);
        assert.match(r.error.message, /in us-central1 is 0; this stack needs 1/);
        assert.doesNotMatch(r.error.message, /config set maxInstances/);
        assert.equal(created(r, BUILD).length, 0);
    });

    it("too little memory quota fails the same way", async () => {
        const r = await withChecks({ config: { maxInstances: 2, metrics: false }, quota: { memoryGiB: 40 } });
        assert.ok(r.error);
        assert.match(r.error.message, /memory quota run\.googleapis\.com\/MemAllocPerProjectRegion in us-central1 is 40 GiB; 2 instance\(s\) x 32 GiB need 64 GiB/);
        const sidecar = await withChecks({ config: { maxInstances: 2 }, quota: { memoryGiB: 40 } });
        assert.match(String(sidecar.error?.message), /is 40 GiB; 2 instance\(s\) x 24\.5 GiB need 49 GiB/);
        assert.equal(created(r, BUILD).length, 0);
    });

    it("too little CPU quota for maxInstances x cpu fails the same way (Cloud Run's default is often 20 vCPU)", async () => {
        const r = await withChecks({ config: { maxInstances: 3, metrics: false }, quota: { vcpu: 20 } });
        assert.ok(r.error);
        assert.match(r.error.message, /CPU quota run\.googleapis\.com\/CpuAllocPerProjectRegion in us-central1 is 20 vCPU; 3 instance\(s\) x 8 vCPU need 24\./);
        assert.ok(r.error.message.includes("--quota-id=CpuAllocPerProjectRegion --preferred-value=24000 "), "milli-vCPU, as the quota counts");
        assert.match(r.error.message, /or lower the need: npx pulumi config set maxInstances 2/);
        assert.equal(created(r, BUILD).length, 0);
    });

    it("is not created with preflightChecks off", async () => {
        const r = await runProgram();
        assert.equal(byType(r, "vllm-cloudrun:quota:GpuQuotaCheck").length, 0);
        assert.equal(r.invokes.filter((i) => i.token === "gcp:cloudquota/getSQuotaInfo:getSQuotaInfo").length, 0);
    });
});

describe("reading a QuotaInfo", () => {
    const info: QuotaInfo = {
        dimensionsInfos: [
            { dimensions: { region: "us-east4" }, applicableLocations: ["us-east4"], details: [{ value: "3" }] },
            { dimensions: {}, applicableLocations: ["europe-west1", "europe-west4"], details: [{ value: "1" }] },
        ],
    };
    it("takes the region's own entry, else the default entry", () => {
        assert.equal(grantedIn(info, "us-east4"), 3);
        assert.equal(grantedIn(info, "europe-west4"), 1);
        assert.equal(grantedIn({ dimensionsInfos: [] }, "us-east4"), undefined);
    });
    it("treats -1 as unlimited", () => {
        assert.deepEqual(quotaProblems({ project: "p", region: "r", gpuType: "nvidia-l4", zonalRedundancy: false, maxInstances: 100, memoryGiB: 32, cpu: 8 }, -1, -1, -1), []);
    });
    it("suggests turning zonal redundancy off when that quota is short", () => {
        const lines = quotaProblems({ project: "p", region: "r", gpuType: "nvidia-l4", zonalRedundancy: true, maxInstances: 3, memoryGiB: 32, cpu: 8 }, 0, undefined);
        assert.ok(lines.includes("  or use the quota new projects get more easily: npx pulumi config set gpuZonalRedundancy false"));
    });
});

describe("RTX PRO 6000 quota units", () => {
    it("reads milli-GPUs as GPUs (1000 = 1), and small values as whole GPUs", async () => {
        const { gpusFromQuota } = await import("../components/gpu-quota");
        assert.deepEqual([3000, 1000, 2500, 3, 0, -1, undefined].map((v) => gpusFromQuota("nvidia-rtx-pro-6000", v)), [3, 1, 2, 3, 0, -1, undefined]);
        assert.deepEqual([3000, 3].map((v) => gpusFromQuota("nvidia-l4", v)), [3000, 3]);
        const { quotaProblems } = await import("../components/gpu-quota");
        const lines = quotaProblems({ project: "p", region: "us-central1", gpuType: "nvidia-rtx-pro-6000", zonalRedundancy: false, maxInstances: 2, memoryGiB: 80, cpu: 20 }, 1, undefined);
        assert.match(lines.join("\n"), /--quota-id=NvidiaRtxPro6000GpuAllocNoZonalRedundancyPerProjectRegion --preferred-value=2000 /);
    });
});
