// Several regions behind one endpoint (README "Several regions"), as the stack program builds it:
// one service, repository and quota check per region wired to the same image digest, the front
// door in front of them, and nothing of it with one region. Runs index.ts on the mock engine.
import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { byType, FAKE_DIGEST, FAKE_IP, isConfigError, one, runProgram, RunResult } from "./harness";
import { READINESS_PROBE } from "../components/service";
import { frontDoorNames } from "../components/front-door";
import { DEPLOYER_PERMISSIONS, FRONT_DOOR_ROLES, GooglePost } from "../config/permissions";

const SERVICE = "gcp:cloudrunv2/service:Service";
const REPO = "gcp:artifactregistry/repository:Repository";
const NEG = "gcp:compute/regionNetworkEndpointGroup:RegionNetworkEndpointGroup";
const COMMAND = "command:local:Command";
const API = "gcp:projects/service:Service";
const PREFIX = "vllm-cloudrun-dev";
const ENDPOINT = `https://${FAKE_IP}.nip.io`;

/** Every front-door resource type and how many a stack with N regions has. */
function frontDoorCounts(regions: number): Record<string, number> {
    return {
        "gcp:compute/globalAddress:GlobalAddress": 1,
        [NEG]: regions,
        "gcp:compute/backendService:BackendService": 1,
        "gcp:compute/securityPolicy:SecurityPolicy": 1,
        "gcp:compute/uRLMap:URLMap": 2,
        "gcp:compute/managedSslCertificate:ManagedSslCertificate": 1,
        "gcp:compute/targetHttpsProxy:TargetHttpsProxy": 1,
        "gcp:compute/targetHttpProxy:TargetHttpProxy": 1,
        "gcp:compute/globalForwardingRule:GlobalForwardingRule": 2,
    };
}

function computeCounts(r: RunResult): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const x of r.resources.filter((x) => x.type.startsWith("gcp:compute/"))) counts[x.type] = (counts[x.type] ?? 0) + 1;
    return counts;
}

const allGranted: GooglePost = (_url, body) => Promise.resolve({ status: 200, data: { permissions: (body as { permissions: string[] }).permissions } });

const multi = (regions: string[], more: Record<string, unknown> = {}) => ({
    config: { "gcp:region": regions[0], regions, ...more },
    quota: { region: regions[0], regions: regions.slice(1) },
});

describe("one region (no regions key)", () => {
    let r: RunResult;
    before(async () => {
        r = await runProgram({ config: { "gcp:region": "us-east4" } });
        assert.equal(r.error, undefined);
    });
    it("creates no load balancer, NEG, Cloud Armor policy or address, and does not enable the Compute API", () => {
        assert.deepEqual(computeCounts(r), {});
        assert.ok(!byType(r, API).some((x) => x.inputs.service === "compute.googleapis.com"));
        assert.ok(!r.resources.some((x) => x.type.startsWith("vllm-cloudrun:frontdoor:")));
    });
    it("keeps one service open to the internet (IAM decides), with no custom audience and no readiness probe", () => {
        const svc = one(r, SERVICE);
        assert.equal(svc.name, PREFIX);
        assert.equal(svc.inputs.ingress, "INGRESS_TRAFFIC_ALL");
        assert.equal(svc.inputs.customAudiences, undefined);
        const vllm = (svc.inputs.template as { containers: Record<string, unknown>[] }).containers[0];
        assert.equal(vllm.readinessProbe, undefined);
    });
    it("outputs the run.app URL as serviceUrl, one region, no endpoint IP or DNS record", () => {
        assert.equal(r.outputs.serviceUrl, `https://${PREFIX}-abc123-uc.a.run.app`);
        assert.deepEqual(r.outputs.regions, ["us-east4"]);
        assert.deepEqual(r.outputs.regionalServiceUrls, { "us-east4": `https://${PREFIX}-abc123-uc.a.run.app` });
        assert.equal(r.outputs.endpointIp, undefined);
        assert.equal(r.outputs.dnsRecord, undefined);
        assert.match(String(r.outputs.proxyCommand), /^gcloud run services proxy /);
        const cost = r.outputs.costEstimate as Record<string, unknown>;
        for (const k of ["perRegion", "frontDoorMonthly", "frontDoorPerGiB", "armorPerMillionRequests"]) assert.ok(!(k in cost), k);
    });
    it("passes no extra images to the build", () => {
        const build = byType(r, COMMAND).find((x) => x.name === `${PREFIX}-build`);
        assert.ok(build);
        assert.ok(!("EXTRA_IMAGES" in (build.inputs.environment as Record<string, unknown>)));
    });
});

describe("two regions", () => {
    let r: RunResult;
    before(async () => {
        r = await runProgram(multi(["us-east4", "europe-west4"], { smokeTest: true }));
        assert.equal(r.error, undefined);
    });
    it("creates exactly the front door's resources, one NEG per region", () => {
        assert.deepEqual(computeCounts(r), frontDoorCounts(2));
        assert.deepEqual(byType(r, NEG).map((n) => n.inputs.region).sort(), ["europe-west4", "us-east4"]);
        for (const neg of byType(r, NEG)) {
            assert.equal(neg.inputs.networkEndpointType, "SERVERLESS");
            assert.deepEqual(neg.inputs.cloudRun, { service: PREFIX }, "the NEG names the region's service (an input from it: deleted before it)");
            assert.equal(neg.inputs.name, frontDoorNames(PREFIX).neg);
        }
        assert.ok(byType(r, API).some((x) => x.inputs.service === "compute.googleapis.com"));
    });
    it("one service per region: same GCP name, home keeps its Pulumi name, the other carries its region", () => {
        const services = byType(r, SERVICE);
        assert.deepEqual(services.map((s) => [s.name, s.inputs.location, s.inputs.name]), [
            [PREFIX, "us-east4", PREFIX],
            [`${PREFIX}-europe-west4`, "europe-west4", PREFIX],
        ]);
    });
    it("wires every region to the same image digest, from a repository in its own region", () => {
        const images = byType(r, SERVICE).map((s) => (s.inputs.template as { containers: { image: string }[] }).containers[0].image);
        assert.deepEqual(images, [
            `us-east4-docker.pkg.dev/my-proj/${PREFIX}/vllm@${FAKE_DIGEST}`,
            `europe-west4-docker.pkg.dev/my-proj/${PREFIX}/vllm@${FAKE_DIGEST}`,
        ]);
        const repos = byType(r, REPO).filter((x) => x.inputs.mode !== "REMOTE_REPOSITORY");
        assert.deepEqual(repos.map((x) => [x.inputs.location, x.inputs.repositoryId]), [["us-east4", PREFIX], ["europe-west4", PREFIX]]);
        const build = byType(r, COMMAND).find((x) => x.name === `${PREFIX}-build`);
        const env = build?.inputs.environment as Record<string, string>;
        assert.match(env.EXTRA_IMAGES, new RegExp(`^europe-west4-docker\\.pkg\\.dev/my-proj/${PREFIX}/vllm:[0-9a-f]{16}$`));
        assert.equal(env.IMAGE.replace(/^us-east4/, "europe-west4"), env.EXTRA_IMAGES, "the same tag in both repositories");
    });
    it("admits only load-balancer traffic, accepts tokens for the endpoint, and probes readiness in every region", () => {
        for (const svc of byType(r, SERVICE)) {
            assert.equal(svc.inputs.ingress, "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER");
            assert.deepEqual(svc.inputs.customAudiences, [ENDPOINT]);
            const vllm = (svc.inputs.template as { containers: Record<string, unknown>[] }).containers[0];
            assert.deepEqual(vllm.readinessProbe, READINESS_PROBE);
        }
    });
    it("the same revision template in every region, but for the image", () => {
        const templates = byType(r, SERVICE).map((s) => {
            const t = JSON.parse(JSON.stringify(s.inputs.template)) as { containers: { image?: string }[] };
            delete t.containers[0].image;
            return t;
        });
        assert.deepEqual(templates[1], templates[0]);
    });
    it("exports the endpoint as serviceUrl, and every region's run.app URL", () => {
        assert.equal(r.outputs.serviceUrl, ENDPOINT);
        assert.deepEqual(r.outputs.regions, ["us-east4", "europe-west4"]);
        assert.deepEqual(Object.keys(r.outputs.regionalServiceUrls as object), ["us-east4", "europe-west4"]);
        assert.equal(r.outputs.endpointIp, FAKE_IP);
        assert.equal(r.outputs.dnsRecord, undefined, "no domain: nip.io needs no record");
        assert.match(String(r.outputs.proxyCommand), /^# none with several regions/);
        assert.match(String(r.outputs.curlCommand), new RegExp(ENDPOINT.replace(/\./g, "\\.")));
    });
    it("smoke-tests through the endpoint and each region directly", () => {
        const smoke = byType(r, COMMAND).find((x) => x.name === `${PREFIX}-smoke`);
        const env = smoke?.inputs.environment as Record<string, string>;
        assert.equal(env.SERVICE_URL, ENDPOINT);
        assert.equal(env.SMOKE_WAIT_SECONDS, "3600", "a new managed certificate may take an hour");
        assert.deepEqual(JSON.parse(env.SMOKE_REGIONAL_URLS), { "us-east4": `https://${PREFIX}-abc123-uc.a.run.app`, "europe-west4": `https://${PREFIX}-abc123-uc.a.run.app` });
    });
    it("prices the front door and each region", () => {
        const cost = r.outputs.costEstimate as Record<string, unknown>;
        // $0.025/h for the first five forwarding rules, $5 policy, 3 rules at $1.
        assert.equal(cost.frontDoorMonthly, 26.25);
        assert.equal(cost.frontDoorPerGiB, 0.016);
        assert.equal(cost.armorPerMillionRequests, 0.75);
        assert.deepEqual(cost.perRegion, [
            { region: "us-east4", minInstances: 0, maxInstances: 1, monthlyAtMinInstances: 0 },
            { region: "europe-west4", minInstances: 0, maxInstances: 1, monthlyAtMinInstances: 0 },
        ]);
    });
});

describe("three regions, per-region instances, a domain, an API key", () => {
    let r: RunResult;
    before(async () => {
        r = await runProgram({
            ...multi(["europe-west4", "us-east4", "europe-west1"], {
                domain: "llm.example.com",
                regionMaxInstances: ["us-east4=3"],
                regionMinInstances: ["europe-west4=1", "us-east4=1"],
                maxInstances: 2,
            }),
            secretConfig: { apiKey: "k".repeat(32) },
        });
        assert.equal(r.error, undefined);
    });
    it("creates the front door with three NEGs and a certificate for the domain", () => {
        assert.deepEqual(computeCounts(r), frontDoorCounts(3));
        assert.deepEqual(one(r, "gcp:compute/managedSslCertificate:ManagedSslCertificate").inputs.managed, { domains: ["llm.example.com"] });
        assert.equal(r.outputs.serviceUrl, "https://llm.example.com");
        assert.equal(r.outputs.dnsRecord, `llm.example.com. 300 IN A ${FAKE_IP}`);
        for (const svc of byType(r, SERVICE)) assert.deepEqual(svc.inputs.customAudiences, ["https://llm.example.com"]);
    });
    it("tells the smoke test the DNS record the certificate waits for (with a domain only)", async () => {
        const smoked = await runProgram({ ...multi(["us-east4", "europe-west4"], { domain: "llm.example.com", smokeTest: true }) });
        const env = byType(smoked, COMMAND).find((x) => x.name === `${PREFIX}-smoke`)?.inputs.environment as Record<string, string>;
        assert.equal(env.SMOKE_DNS_RECORD, `llm.example.com. 300 IN A ${FAKE_IP}`);
        const nip = await runProgram({ ...multi(["us-east4", "europe-west4"], { smokeTest: true }) });
        const nipEnv = byType(nip, COMMAND).find((x) => x.name === `${PREFIX}-smoke`)?.inputs.environment as Record<string, string>;
        assert.ok(!("SMOKE_DNS_RECORD" in nipEnv));
    });
    it("gives each region its own instance counts", () => {
        assert.deepEqual(byType(r, SERVICE).map((s) => [s.inputs.location, (s.inputs.template as { scaling: unknown }).scaling]), [
            ["europe-west4", { minInstanceCount: 1, maxInstanceCount: 2 }],
            ["us-east4", { minInstanceCount: 1, maxInstanceCount: 3 }],
            ["europe-west1", { minInstanceCount: 0, maxInstanceCount: 2 }],
        ]);
        const cost = r.outputs.costEstimate as { perRegion: { monthlyAtMinInstances: number }[]; monthlyAtMinInstances: number };
        assert.equal(cost.monthlyAtMinInstances, cost.perRegion.reduce((n, x) => n + x.monthlyAtMinInstances, 0) || cost.monthlyAtMinInstances);
        assert.ok(cost.perRegion[0].monthlyAtMinInstances > 900 && cost.perRegion[2].monthlyAtMinInstances === 0);
    });
    it("makes Cloud Armor demand the API key's header shape", () => {
        const policy = one(r, "gcp:compute/securityPolicy:SecurityPolicy");
        const rules = policy.inputs.rules as { priority: number; action: string; match: { expr?: { expression: string } } }[];
        assert.equal(rules[0].action, "deny(403)");
        assert.match(String(rules[0].match.expr?.expression), /authorization/);
        assert.match(String(rules[0].match.expr?.expression), /Bearer/);
    });
});

describe("alerting cost with several regions", () => {
    it("counts one at-max condition per region", async () => {
        const one1 = await runProgram({ config: { "gcp:region": "us-east4", alertEmail: "a@example.com" } });
        const two = await runProgram(multi(["us-east4", "europe-west4"], { alertEmail: "a@example.com" }));
        // 5xx, at-max, failed revision, queue (metrics on) = 4; a second region adds its own at-max condition.
        assert.equal((one1.outputs.costEstimate as { alertingMonthly: number }).alertingMonthly, 6);
        assert.equal((two.outputs.costEstimate as { alertingMonthly: number }).alertingMonthly, 7.5);
    });
    it("an uptime check follows the home region's own minInstances", async () => {
        const r = await runProgram(multi(["us-east4", "europe-west4"], { alertEmail: "a@example.com", uptimeCheck: "on", regionMinInstances: ["us-east4=1"] }));
        assert.equal(r.error, undefined);
        assert.equal(byType(r, "gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig").length, 1);
        const refused = await runProgram(multi(["us-east4", "europe-west4"], { alertEmail: "a@example.com", uptimeCheck: "on", regionMinInstances: ["europe-west4=1"] }));
        assert.ok(isConfigError(refused.error));
        assert.match(refused.error.message, /uptimeCheck = "on"/);
    });
});

describe("preflight with several regions", () => {
    it("checks the load balancer and Cloud Armor permissions too, in calls of at most 100", async () => {
        const calls: string[][] = [];
        const post: GooglePost = (url, body) => {
            calls.push((body as { permissions: string[] }).permissions);
            return allGranted(url, body);
        };
        const r = await runProgram({ ...multi(["us-east4", "europe-west4"], { preflightChecks: true }), googlePost: post });
        assert.equal(r.error, undefined);
        const asked = calls.flat();
        for (const p of FRONT_DOOR_ROLES.flatMap((x) => x.permissions)) assert.ok(asked.includes(p), p);
        for (const p of DEPLOYER_PERMISSIONS) assert.ok(asked.includes(p), p);
        assert.ok(calls.every((c) => c.length <= 100));
        const quotas = r.resources.filter((x) => x.type === "vllm-cloudrun:quota:GpuQuotaCheck");
        assert.deepEqual(quotas.map((q) => q.name), [`${PREFIX}-quota`, `${PREFIX}-quota-europe-west4`]);
    });
    it("a missing front-door permission names its role", async () => {
        const post: GooglePost = (_url, body) => Promise.resolve({ status: 200, data: { permissions: (body as { permissions: string[] }).permissions.filter((p) => !p.startsWith("compute.securityPolicies.")) } });
        const r = await runProgram({ ...multi(["us-east4", "europe-west4"], { preflightChecks: true }), googlePost: post });
        assert.ok(isConfigError(r.error));
        assert.match(r.error.message, /roles\/compute\.securityAdmin/);
        assert.doesNotMatch(r.error.message, /roles\/compute\.loadBalancerAdmin/);
    });
    it("one region's short quota stops the build, naming that region", async () => {
        const r = await runProgram({ ...multi(["us-east4", "europe-west4"], { preflightChecks: true, maxInstances: 2 }), quota: { region: "us-east4", regions: [] }, googlePost: allGranted });
        assert.ok(r.error);
        assert.match(r.error.message, /europe-west4/);
        assert.match(r.error.message, /Not enough quota for this stack; nothing was built/);
        assert.ok(!byType(r, COMMAND).some((x) => x.name === `${PREFIX}-build` && x.state !== undefined), "the build was never created");
    });
});

describe("bad multi-region config fails before anything registers", () => {
    const cases: [string, Record<string, unknown>, RegExp][] = [
        ["one region", { "gcp:region": "us-east4", regions: ["us-east4"] }, /regions = \["us-east4"\].*two or more/s],
        ["home region missing", { "gcp:region": "us-east4", regions: ["europe-west4", "europe-west1"] }, /regions = .*must include gcp:region \(us-east4\)/s],
        ["a region without the GPU", { "gcp:region": "us-east4", regions: ["us-east4", "us-west1"] }, /regions\[1\] = "us-west1".*offers nvidia-l4 only in/s],
        ["a region listed twice", { "gcp:region": "us-east4", regions: ["us-east4", "europe-west4", "europe-west4"] }, /regions\[2\] = "europe-west4".*listed twice/s],
        ["a malformed region", { "gcp:region": "us-east4", regions: ["us-east4", "Europe West"] }, /regions\[1\] = "Europe West".*region name/s],
        ["an override for an unlisted region", { "gcp:region": "us-east4", regions: ["us-east4", "europe-west4"], regionMaxInstances: ["asia-southeast1=2"] }, /regionMaxInstances\[0\] = "asia-southeast1=2".*not in regions/s],
        ["a malformed override", { "gcp:region": "us-east4", regions: ["us-east4", "europe-west4"], regionMaxInstances: ["us-east4:3"] }, /regionMaxInstances\[0\] = "us-east4:3".*REGION=N/s],
        ["min above max in a region", { "gcp:region": "us-east4", regions: ["us-east4", "europe-west4"], regionMinInstances: ["europe-west4=2"] }, /in europe-west4, minInstances \(2\) must not exceed maxInstances \(1\)/],
        ["an override without regions", { "gcp:region": "us-east4", regionMinInstances: ["us-east4=1"] }, /regionMinInstances\[0\].*only with regions/s],
        ["a domain without regions", { "gcp:region": "us-east4", domain: "llm.example.com" }, /domain = "llm\.example\.com".*only with regions/s],
        ["a rate limit without regions", { "gcp:region": "us-east4", rateLimitPerMinute: 60 }, /rateLimitPerMinute = 60.*only with regions/s],
        ["a domain with a scheme", { "gcp:region": "us-east4", regions: ["us-east4", "europe-west4"], domain: "https://llm.example.com" }, /domain = "https:\/\/llm\.example\.com".*DNS host name/s],
    ];
    for (const [what, config, message] of cases) {
        it(what, async () => {
            const r = await runProgram({ config });
            assert.ok(isConfigError(r.error), String(r.error));
            assert.match(r.error.message, message);
            assert.match(r.error.message, /fix: npx pulumi config (set|rm)/);
            assert.deepEqual(r.resources.filter((x) => x.custom), [], "nothing registered");
        });
    }
});

describe("mutation review: region wiring details", () => {
    it("each region mounts the weights bucket in its own region (weights: gcs)", async () => {
        const r = await runProgram(multi(["us-east4", "europe-west4"], { weights: "gcs" }));
        assert.equal(r.error, undefined);
        const locationOf = Object.fromEntries(byType(r, "gcp:storage/bucket:Bucket").map((b) => [String(b.inputs.name), String(b.inputs.location).toLowerCase()]));
        const services = byType(r, SERVICE);
        assert.equal(services.length, 2);
        const mounted = services.map((svc) => {
            const volumes = (svc.inputs.template as { volumes?: { name: string; gcs?: { bucket: string } }[] }).volumes ?? [];
            const bucket = volumes.find((v) => v.name === "weights")?.gcs?.bucket;
            assert.ok(bucket, `${svc.name} mounts a weights bucket`);
            assert.equal(locationOf[bucket], String(svc.inputs.location), `${svc.name} (${svc.inputs.location}) reads ${bucket} in ${locationOf[bucket]}`);
            return bucket;
        });
        assert.notEqual(mounted[0], mounted[1], "one bucket per region");
    });
    it("a single-region smoke test gets no SMOKE_REGIONAL_URLS and the single-region wait", async () => {
        const r = await runProgram({ config: { "gcp:region": "us-east4", smokeTest: true } });
        assert.equal(r.error, undefined);
        const smoke = byType(r, COMMAND).find((x) => x.name === `${PREFIX}-smoke`);
        const env = smoke?.inputs.environment as Record<string, string>;
        assert.ok(env, "the smoke test is registered");
        assert.ok(!("SMOKE_REGIONAL_URLS" in env), "no regional checks: the one run.app URL is the service URL itself");
        assert.equal(env.SMOKE_WAIT_SECONDS, "900");
    });
    it("min above max in a region whose own maximum is lowered (regionMaxInstances)", async () => {
        const r = await runProgram({ config: { "gcp:region": "us-east4", regions: ["us-east4", "europe-west4"], maxInstances: 3, regionMaxInstances: ["europe-west4=1"], regionMinInstances: ["europe-west4=2"] } });
        assert.ok(isConfigError(r.error), String(r.error));
        assert.match(r.error.message, /in europe-west4, minInstances \(2\) must not exceed maxInstances \(1\)/);
        assert.deepEqual(r.resources.filter((x) => x.custom), [], "nothing registered");
    });
    it("uptimeCheck auto follows the home region's own minInstances", async () => {
        const UPTIME = "gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig";
        const warmHome = await runProgram(multi(["us-east4", "europe-west4"], { alertEmail: "a@example.com", regionMinInstances: ["us-east4=1"] }));
        assert.equal(warmHome.error, undefined);
        assert.equal(byType(warmHome, UPTIME).length, 1, "home has a warm instance: the check costs nothing extra");
        const coldHome = await runProgram(multi(["us-east4", "europe-west4"], { alertEmail: "a@example.com", minInstances: 1, regionMinInstances: ["us-east4=0"] }));
        assert.equal(coldHome.error, undefined);
        assert.equal(byType(coldHome, UPTIME).length, 0, "home scales to zero: a check would keep a GPU awake");
    });
    it("each region's quota check uses that region's own maxInstances", async () => {
        // 2 GPUs of quota in each region: enough for maxInstances 1, not for europe-west4's 3.
        const r = await runProgram({ ...multi(["us-east4", "europe-west4"], { preflightChecks: true, maxInstances: 1, regionMaxInstances: ["europe-west4=3"] }), quota: { gpu: 2, zonalGpu: 2, region: "us-east4", regions: ["europe-west4"] }, googlePost: allGranted });
        assert.ok(r.error, "europe-west4's maxInstances 3 exceeds its quota of 2");
        assert.match(r.error.message, /europe-west4/);
        assert.match(r.error.message, /Not enough quota for this stack; nothing was built/);
    });
    it("the build may push to every region's repository, and waits for those grants", async () => {
        const r = await runProgram(multi(["us-east4", "europe-west4"]));
        assert.equal(r.error, undefined);
        const writers = byType(r, "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember").filter((x) => x.inputs.role === "roles/artifactregistry.writer");
        assert.deepEqual(writers.map((w) => [w.inputs.location, w.inputs.repository, w.inputs.member]), [
            ["us-east4", PREFIX, `serviceAccount:${PREFIX}-build@my-proj.iam.gserviceaccount.com`],
            ["europe-west4", PREFIX, `serviceAccount:${PREFIX}-build@my-proj.iam.gserviceaccount.com`],
        ]);
        const wait = byType(r, COMMAND).find((x) => x.name === `${PREFIX}-iam-propagation`);
        assert.ok(wait?.dependsOn.includes(`vllm-cloudrun:registry:ImageRegistry::${PREFIX}-europe-west4`), "the build starts only after the europe-west4 grant");
    });
    it("the smoke test reruns on any region's new revision (one revision per region in its trigger)", async () => {
        const r = await runProgram(multi(["us-east4", "europe-west4", "europe-west1"], { smokeTest: true }));
        assert.equal(r.error, undefined);
        const smoke = byType(r, COMMAND).find((x) => x.name === `${PREFIX}-smoke`);
        const triggers = smoke?.inputs.triggers as string[];
        assert.equal(triggers.length, 1);
        assert.equal(String(triggers[0]).split(",").length, 3, `every region's latestReadyRevision, joined: ${JSON.stringify(triggers)}`);
    });
    it("regionMaxInstances must be at least 1 (0 would make a region that never serves)", async () => {
        const r = await runProgram({ config: { "gcp:region": "us-east4", regions: ["us-east4", "europe-west4"], regionMaxInstances: ["europe-west4=0"] } });
        assert.ok(isConfigError(r.error), String(r.error));
        assert.match(r.error.message, /regionMaxInstances\[0\] = "europe-west4=0".*REGION=N with N from 1 to 1000/s);
    });
});
