import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { GoogleAuth } from "google-auth-library";
import { DEFAULTS, Settings } from "../config";
import { runPreflight } from "../config/preflight";
import { adcPost, checkDeployerPermissions, DEPLOYER_PERMISSIONS, DEPLOYER_ROLES, GooglePost, grantCommands } from "../config/permissions";
import { isConfigError, ROOT, runProgram } from "./harness";
import { assertGcloudParses } from "./gcloud";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";

/** A Resource Manager that holds `held` for the caller and records what it was asked. */
function resourceManager(held: readonly string[], status = 200) {
    const calls: { url: string; body: unknown }[] = [];
    const post: GooglePost = (url, body) => {
        calls.push({ url, body });
        const asked = (body as { permissions: string[] }).permissions;
        return Promise.resolve({ status, data: status === 200 ? { permissions: asked.filter((p) => held.includes(p)) } : { error: { code: status } } });
    };
    return { post, calls };
}

const settings = {
    project: "my-proj", region: "us-east4", names: {} as Settings["names"], hfToken: pulumi.output("hf_x"), model: DEFAULTS.model, modelRevision: "dcc83ea841ab6100d6b47a070329e1ba4cf78752",
    servedModelName: DEFAULTS.model, vllmImage: DEFAULTS.vllmImage, baseImage: { registry: "docker.io", path: "vllm/vllm-openai", tag: "v0.10.2" }, gpuType: "nvidia-l4", cpu: 8, memory: "32Gi", memoryGiB: 32,
    minInstances: 0, maxInstances: 1, concurrency: 64, maxModelLen: 8192, gpuMemoryUtilization: 0.9, gpuZonalRedundancy: false, deletionProtection: false, invokers: [],
    build: { region: "us-central1", machineType: "e2-highcpu-8", diskSizeGb: 200, timeoutMinutes: 90 }, preflightChecks: true, public: false, smokeTest: false, startupMode: "fast", weights: "image", labels: {}, gcpAuth: {}, notices: [],
    quantization: "none", kvCacheDtype: "auto", imageInput: true, imagesPerPrompt: 1, loraAdapters: [], maxLoraRank: 0,
        metrics: false, containers: { vllm: { cpu: 8, memoryMiB: 32768 } }, uptimeCheck: false,
    regions: [{ region: "us-east4", home: true, minInstances: 0, maxInstances: 1 }],
} as Settings;
const hfOk = () => Promise.resolve({ status: 200, text: "{}" });

describe("deployer permissions", () => {
    it("asks Resource Manager about every permission the stack uses, once, on the project", async () => {
        const rm = resourceManager(DEPLOYER_PERMISSIONS);
        assert.deepEqual(await checkDeployerPermissions("my-proj", rm.post), { kind: "ok" });
        assert.deepEqual(rm.calls, [{ url: "https://cloudresourcemanager.googleapis.com/v1/projects/my-proj:testIamPermissions", body: { permissions: DEPLOYER_PERMISSIONS } }]);
        assert.equal(new Set(DEPLOYER_PERMISSIONS).size, DEPLOYER_PERMISSIONS.length, "no permission listed twice");
        // testIamPermissions takes at most 100 permissions per call.
        assert.ok(DEPLOYER_PERMISSIONS.length <= 100);
    });

    it("covers what a build, a service and their IAM grants need, and nothing Owner-only", () => {
        for (const p of ["iam.serviceAccounts.actAs", "run.services.setIamPolicy", "storage.buckets.setIamPolicy", "artifactregistry.repositories.setIamPolicy", "secretmanager.secrets.setIamPolicy", "resourcemanager.projects.setIamPolicy", "cloudbuild.builds.create", "cloudquotas.quotas.get", "logging.logEntries.list"]) {
            assert.ok(DEPLOYER_PERMISSIONS.includes(p), p);
        }
        assert.deepEqual(DEPLOYER_ROLES.map((r) => r.role).filter((r) => ["roles/owner", "roles/editor"].includes(r)), []);
    });

    it("names the missing permissions, the roles that grant them and one grant command per role, before any resource", async () => {
        const held = DEPLOYER_PERMISSIONS.filter((p) => !p.startsWith("run.services.") && p !== "iam.serviceAccounts.actAs");
        const err = await runPreflight(settings, { network: true, http: hfOk, googlePost: resourceManager(held).post }).catch((e: unknown) => e);
        assert.ok(isConfigError(err));
        const p = err.problems.find((x) => x.key === "permissions");
        assert.ok(p);
        assert.deepEqual(p.value, ["iam.serviceAccounts.actAs", "run.services.create", "run.services.get", "run.services.update", "run.services.delete", "run.services.getIamPolicy", "run.services.setIamPolicy"]);
        assert.match(p.allowed, /roles\/iam\.serviceAccountUser .*roles\/run\.admin/);
        assert.deepEqual(p.fix.split("\n").map((l) => l.trim()), [
            'gcloud projects add-iam-policy-binding my-proj --member="user:$(gcloud config get-value account)" --role=roles/iam.serviceAccountUser --condition=None',
            'gcloud projects add-iam-policy-binding my-proj --member="user:$(gcloud config get-value account)" --role=roles/run.admin --condition=None',
        ]);
        // Pasted into a shell, the real gcloud accepts each line (it stops only at "no active account").
        for (const line of p.fix.split("\n")) assertGcloudParses(line.trim());
    });

    it("says plainly when the project is not visible, and only warns when the check itself cannot run", async () => {
        const hidden = await runPreflight(settings, { network: true, http: hfOk, googlePost: resourceManager([], 403).post }).catch((e: unknown) => e);
        assert.ok(isConfigError(hidden));
        assert.deepEqual(hidden.problems.map((p) => p.key), ["gcp:project"]);
        const report = await runPreflight(settings, { network: true, http: hfOk, googlePost: resourceManager([], 500).post });
        assert.ok(report.warnings.some((w) => w.startsWith("Could not check your permissions on my-proj (HTTP 500)")));
    });

    it("tells a 403 about the quota project of your credentials from one about this project", async () => {
        const answer = (reason: string): GooglePost => () => Promise.resolve({ status: 403, data: { error: { code: 403, status: "PERMISSION_DENIED", details: [{ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason }] } } });
        assert.deepEqual(await checkDeployerPermissions("my-proj", answer("SERVICE_DISABLED")), { kind: "api-disabled-in-quota-project", reason: "SERVICE_DISABLED" });
        assert.deepEqual(await checkDeployerPermissions("my-proj", answer("USER_PROJECT_DENIED")), { kind: "quota-project-denied", reason: "USER_PROJECT_DENIED" });
        assert.deepEqual(await checkDeployerPermissions("my-proj", answer("IAM_PERMISSION_DENIED")), { kind: "no-project-access", status: 403 });
        const err = await runPreflight(settings, { network: true, http: hfOk, googlePost: answer("SERVICE_DISABLED") }).catch((e: unknown) => e);
        assert.ok(isConfigError(err));
        assert.equal(err.problems[0].key, "Google credentials");
        assert.match(err.problems[0].fix, /^gcloud auth application-default set-quota-project my-proj/);
    });

    it("in the program: missing permissions stop the preview before any resource, with the grants", async () => {
        const realFetch = globalThis.fetch;
        globalThis.fetch = () => Promise.resolve(new Response("{}", { status: 200 }));
        try {
            const held = DEPLOYER_PERMISSIONS.filter((p) => p !== "cloudquotas.quotas.get");
            const r = await runProgram({ config: { preflightChecks: true }, googlePost: resourceManager(held).post });
            assert.ok(isConfigError(r.error));
            assert.deepEqual(r.error.problems.map((p) => [p.key, p.value]), [["permissions", ["cloudquotas.quotas.get"]]]);
            assert.match(r.error.problems[0].fix, /--role=roles\/cloudquotas\.viewer --condition=None$/);
            // Checks that need the network run once the component is registered, before any child.
            assert.deepEqual(r.resources.filter((x) => x.type !== "pulumi:pulumi:Stack").map((x) => x.type), ["vllm-cloudrun:index:VllmCloudRun"], "nothing but the component");
        } finally {
            globalThis.fetch = realFetch;
        }
    });

    it("is skipped with preflightChecks off", async () => {
        const rm = resourceManager([]);
        await runPreflight(settings, { network: false, googlePost: rm.post });
        assert.deepEqual(rm.calls, []);
    });

    it("turns google-auth-library's missing credentials into the login command", async () => {
        const post = adcPost(new GoogleAuth({ keyFilename: "/nonexistent/key.json", scopes: ["https://www.googleapis.com/auth/cloud-platform"] }));
        const check = await checkDeployerPermissions("my-proj", post);
        assert.equal(check.kind, "no-credentials");
        const err = await runPreflight(settings, { network: true, http: hfOk, googlePost: post }).catch((e: unknown) => e);
        assert.ok(isConfigError(err));
        assert.equal(err.problems[0].key, "Google credentials");
        assert.match(err.problems[0].fix, /^gcloud auth application-default login/);
    });

    it("posts with the caller's credentials through google-auth-library's client", async () => {
        const requests: unknown[] = [];
        const fakeAuth = { getClient: () => Promise.resolve({ request: (opts: unknown) => { requests.push(opts); return Promise.resolve({ status: 200, data: { permissions: [] } }); } }) };
        const r = await adcPost(fakeAuth as unknown as GoogleAuth)("https://example.test/x", { permissions: ["a.b.c"] });
        assert.deepEqual(r, { status: 200, data: { permissions: [] } });
        assert.equal((requests[0] as { method: string }).method, "POST");
        assert.deepEqual((requests[0] as { data: unknown }).data, { permissions: ["a.b.c"] });
    });

    it("grant commands take the member when known", () => {
        assert.deepEqual(grantCommands("p", [DEPLOYER_ROLES[0]], "serviceAccount:ci@p.iam.gserviceaccount.com"), [
            "gcloud projects add-iam-policy-binding p --member=serviceAccount:ci@p.iam.gserviceaccount.com --role=roles/serviceusage.serviceUsageAdmin --condition=None",
        ]);
    });

    it("README lists exactly these roles, in the table and in the grant loop", () => {
        const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
        const section = readme.slice(readme.indexOf("## Permissions"), readme.indexOf("## GPU quota and regions"));
        const tableRoles = [...section.matchAll(/^\| `(roles\/[^`]+)` \|/gm)].map((m) => m[1]);
        assert.deepEqual(tableRoles, DEPLOYER_ROLES.map((r) => r.role));
        const loop = /for role in ([^;]+); do/.exec(section.replace(/\\\n\s*/g, " "));
        assert.ok(loop, "the grant loop");
        assert.deepEqual(loop[1].trim().split(/\s+/).map((r) => `roles/${r}`), DEPLOYER_ROLES.map((r) => r.role));
        for (const r of DEPLOYER_ROLES) assert.ok(section.includes(`| \`${r.role}\` | ${r.why} |`), `${r.role}: the README says why, as the code does`);
    });
});

