import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { snippets } from "../client/snippets";
import { FAKE_BASE_DIGEST, FAKE_DIGEST, FAKE_TOKEN, plainStrings, runProgram, RunResult } from "./harness";

describe("the program", () => {
    let r: RunResult;
    before(async () => {
        r = await runProgram();
    });

    it("registers exactly these resources", () => {
        const counts: Record<string, number> = {};
        for (const res of r.resources) counts[res.type] = (counts[res.type] ?? 0) + 1;
        assert.deepEqual(counts, {
            "pulumi:pulumi:Stack": 1,
            "vllm-cloudrun:index:VllmCloudRun": 1,
            "vllm-cloudrun:apis:ProjectApis": 1,
            "gcp:projects/service:Service": 10,
            // API propagation, build IAM propagation, build, metrics config grant propagation.
            "command:local:Command": 4,
            "vllm-cloudrun:identities:ServiceIdentities": 1,
            "gcp:serviceaccount/account:Account": 2,
            // Build log writer; runtime metric writer (metrics on).
            "gcp:projects/iAMMember:IAMMember": 2,
            // hfToken; the metrics sidecar's config.
            "vllm-cloudrun:secret:TokenSecret": 2,
            "gcp:secretmanager/secret:Secret": 2,
            "gcp:secretmanager/secretVersion:SecretVersion": 2,
            "gcp:secretmanager/secretIamMember:SecretIamMember": 2,
            "vllm-cloudrun:registry:ImageRegistry": 1,
            "gcp:artifactregistry/repository:Repository": 2,
            "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember": 2,
            "vllm-cloudrun:image:BaseImage": 1,
            "pulumi:providers:docker": 1,
            "vllm-cloudrun:image:ImageBuild": 1,
            "gcp:storage/bucket:Bucket": 1,
            "gcp:storage/bucketIAMMember:BucketIAMMember": 1,
            "vllm-cloudrun:service:LlmService": 1,
            "gcp:cloudrunv2/service:Service": 1,
            // The dashboard only: no alert, channel, uptime check or budget without their config.
            "vllm-cloudrun:monitoring:ServiceMonitoring": 1,
            "gcp:monitoring/dashboard:Dashboard": 1,
        });
    });

    it("exports the URL, digest image, model, region, ready-to-paste commands and the estimates", () => {
        assert.deepEqual(r.outputs, {
            serviceUrl: "https://vllm-cloudrun-dev-abc123-uc.a.run.app",
            serviceName: "vllm-cloudrun-dev",
            image: `us-central1-docker.pkg.dev/my-proj/vllm-cloudrun-dev/vllm@${FAKE_DIGEST}`,
            baseImage: `us-central1-docker.pkg.dev/my-proj/vllm-cloudrun-dev-dockerhub/vllm/vllm-openai@${FAKE_BASE_DIGEST}`,
            model: "google/gemma-3-1b-it",
            servedModelName: "google/gemma-3-1b-it",
            region: "us-central1",
            runtimeServiceAccount: "vllm-cloudrun-dev-run@my-proj.iam.gserviceaccount.com",
            buildServiceAccount: "vllm-cloudrun-dev-build@my-proj.iam.gserviceaccount.com",
            proxyCommand: "gcloud run services proxy vllm-cloudrun-dev --project my-proj --region us-central1 --port 8080",
            curlCommand:
                `curl -sS https://vllm-cloudrun-dev-abc123-uc.a.run.app/v1/completions -H "Authorization: Bearer $(gcloud auth print-identity-token)" -H "Content-Type: application/json" ` +
                `-d '{"model":"google/gemma-3-1b-it","prompt":"Cloud Run is","max_tokens":64}'`,
            accessMode: "iam",
            snippets: snippets("https://vllm-cloudrun-dev-abc123-uc.a.run.app", "google/gemma-3-1b-it", "iam"),
            startupMode: "fast",
            startupEstimate: { expectedSeconds: 79, windowSeconds: 240, exceedsCloudRunLimit: false, safetyFactor: 2 },
            gpuMemoryEstimate: {
                gpuType: "nvidia-l4",
                budgetGiB: 20.24,
                weightFormat: "bf16",
                weightsGiB: 1.86,
                overheadGiB: 1.01,
                loraGiB: 0,
                kvCacheGiB: 17.36,
                kvPerTokenKiB: 5.38,
                kvCacheTokens: 700314,
                fullLengthSequences: 413,
                maxContextAtConcurrency: 32768,
                cudaGraphGiB: 0,
                outsideBudgetGiB: 2,
                singleStreamCeilingTokensPerSecond: 150,
                verdict: "fits",
                source: "https://huggingface.co/google/gemma-3-1b-it/blob/dcc83ea841ab6100d6b47a070329e1ba4cf78752/config.json",
            },
            costEstimate: {
                currency: "USD",
                region: "us-central1",
                // vLLM (6 vCPU, 24 GiB) and the metrics sidecar (1 vCPU, 512 MiB) share the L4 instance.
                perInstanceHour: 1.3,
                gpuHour: 0.67,
                cpuHour: 0.45,
                memoryHour: 0.18,
                monthlyAtMinInstances: 0,
                metricsPerInstanceHour: 0.0693,
                alertingMonthly: 0,
                pricesAsOf: "2026-08",
                source: "https://cloud.google.com/run/pricing",
            },
            // gemma-3-1b has no vision tower; no adapters by default.
            imageInput: false,
            loraModels: [],
            dashboardUrl: "https://console.cloud.google.com/monitoring/dashboards/builder/vllm-cloudrun-dev-dashboard-id?project=my-proj",
            alertPolicies: [],
            // One region: no front door.
            regions: ["us-central1"],
            regionalServiceUrls: { "us-central1": "https://vllm-cloudrun-dev-abc123-uc.a.run.app" },
        });
        assert.deepEqual([...r.secretOutputs], [], "outputs hold nothing secret, so none is marked secret");
    });

    it("keeps the token out of every plain input and output", () => {
        let secretHolders = 0;
        for (const res of r.resources) {
            for (const s of plainStrings(res.inputs)) assert.ok(!s.includes(FAKE_TOKEN), `${res.type} ${res.name} has the token in plain text`);
            if (JSON.stringify(res.inputs).includes(FAKE_TOKEN)) secretHolders++;
        }
        assert.equal(secretHolders, 1, "only the secret version holds the token, wrapped as secret");
        assert.ok(!JSON.stringify(r.outputs).includes(FAKE_TOKEN));
    });

    it("labels what it creates with the app and stack", () => {
        const labelled = r.resources.filter((x) => x.inputs.labels !== undefined);
        assert.deepEqual(labelled.map((x) => x.type).sort(), [
            "gcp:artifactregistry/repository:Repository",
            "gcp:artifactregistry/repository:Repository",
            "gcp:cloudrunv2/service:Service",
            "gcp:secretmanager/secret:Secret",
            "gcp:secretmanager/secret:Secret",
            "gcp:storage/bucket:Bucket",
        ]);
        for (const x of labelled) assert.deepEqual(x.inputs.labels, { app: "vllm-cloudrun", stack: "dev", "managed-by": "pulumi" });
    });
});
