// Generated from config/contract.ts by `npm run contract`: edit the contract, not this file.
import * as pulumi from "@pulumi/pulumi";

/** One LoRA adapter baked into the image and served as a model of its own. */
export interface LoraAdapter {
    /** Model name clients send (vLLM --lora-modules NAME=path; listed by /v1/models). */
    name: string;
    /** Hugging Face repository of the adapter (adapter_config.json and adapter_model.safetensors). */
    repo: string;
    /** Commit of that repository (40 hex characters). */
    revision: string;
}

/**
 * Arguments of VllmCloudRun: the configuration contract. Values that shape what is created
 * (names, which resources exist, the checks run before anything is created) are plain; secrets
 * are Inputs and must be secret (config.requireSecret, pulumi.secret).
 */
export interface VllmCloudRunArgs {
    /**
     * Google Cloud project to deploy into. A stack reads gcp:project (or GOOGLE_PROJECT, GOOGLE_CLOUD_PROJECT, GCLOUD_PROJECT, CLOUDSDK_CORE_PROJECT, like the Google provider).
     *
     * Required. Stack config: `gcp:project`.
     */
    project: string;
    /**
     * Region of the Cloud Run service and its image repository; it must offer the GPU (nvidia-l4: us-east4, europe-west1, europe-west4, asia-southeast1, us-central1 by invitation; nvidia-rtx-pro-6000: us-central1, europe-west4, asia-southeast1, asia-south2 by invitation). A stack reads gcp:region (or GOOGLE_REGION, GCLOUD_REGION, CLOUDSDK_COMPUTE_REGION).
     *
     * Required. Stack config: `gcp:region`.
     */
    region: string;
    /**
     * Hugging Face token with access to the (gated) model. Used only by Cloud Build, through Secret Manager. Set it with: npx pulumi config set --secret hfToken   (it prompts for the value, so it stays out of your shell history).
     *
     * Required. Secret. Stack config: `hfToken`.
     */
    hfToken: pulumi.Input<string>;
    /**
     * Hugging Face model id baked into the image. Catalogued models (README "Choosing a model") are checked offline and need no modelRevision; any other model is read from its config.json on the Hub during preview.
     *
     * Default: `"google/gemma-3-1b-it"`. Stack config: `model`.
     */
    model?: string;
    /**
     * Commit of the model to bake (40 hex characters, never a branch). Empty means the commit the model catalog pins (every catalogued model has one; the default model's is dcc83ea841ab6100d6b47a070329e1ba4cf78752); any other model needs one.
     *
     * Default: `""`. Stack config: `modelRevision`.
     */
    modelRevision?: string;
    /**
     * Model name clients send in requests (vLLM --served-model-name). Empty means the same as `model`.
     *
     * Default: `""`. Stack config: `servedModelName`.
     */
    servedModelName?: string;
    /**
     * Base vLLM image, pinned to an exact tag or digest (never latest). Resolved to its digest at preview; Docker Hub images are pulled through a stack-owned Artifact Registry remote repository.
     *
     * Default: `"vllm/vllm-openai:v0.10.2"`. Stack config: `vllmImage`.
     */
    vllmImage?: string;
    /**
     * Cloud Run GPU type (node selector accelerator): nvidia-l4 (24 GB, GA) or nvidia-rtx-pro-6000 (96 GB Blackwell, Preview; 20 vCPU and 80Gi per instance; us-central1, europe-west4, asia-southeast1).
     *
     * Default: `"nvidia-l4"`. Allowed: one of `nvidia-l4`, `nvidia-rtx-pro-6000`. Stack config: `gpuType`.
     */
    gpuType?: string;
    /**
     * vCPUs per instance; 0 means the GPU's default (nvidia-l4: 8, nvidia-rtx-pro-6000: 20). An L4 takes 4, 6 or 8 (Cloud Run needs 6 for more than 16Gi of memory and 8 for more than 24Gi); an RTX PRO 6000 takes 20.
     *
     * Default: `0`. Allowed: 0 to 20. Stack config: `cpu`.
     */
    cpu?: number;
    /**
     * Memory per instance, like 32Gi or 16384Mi; empty means the GPU's default (nvidia-l4: 32Gi, nvidia-rtx-pro-6000: 80Gi). An L4 takes 16Gi to 32Gi, an RTX PRO 6000 80Gi.
     *
     * Default: `""`. Stack config: `memory`.
     */
    memory?: string;
    /**
     * Instances kept warm. Each one is billed around the clock, GPU included.
     *
     * Default: `0`. Allowed: 0 to 1000. Stack config: `minInstances`.
     */
    minInstances?: number;
    /**
     * Upper bound on instances. The region's GPU quota must be at least this (checked before the build).
     *
     * Default: `1`. Allowed: 1 to 1000. Stack config: `maxInstances`.
     */
    maxInstances?: number;
    /**
     * Requests per instance; drives both Cloud Run's concurrency and vLLM's --max-num-seqs.
     *
     * Default: `64`. Allowed: 1 to 1000. Stack config: `concurrency`.
     */
    concurrency?: number;
    /**
     * Context length in tokens (vLLM --max-model-len).
     *
     * Default: `8192`. Allowed: at least 16. Stack config: `maxModelLen`.
     */
    maxModelLen?: number;
    /**
     * Fraction of GPU memory vLLM may use, in (0, 1] (vLLM --gpu-memory-utilization).
     *
     * Default: `0.9`. Allowed: more than 0 and at most 1. Stack config: `gpuMemoryUtilization`.
     */
    gpuMemoryUtilization?: number;
    /**
     * none: serve the weights as stored (bf16, or a pre-quantized AWQ/GPTQ/compressed-tensors/FP8 checkpoint, detected from its config.json's quantization_config and served in its own format). fp8: vLLM quantizes bf16 weights to FP8 (W8A8) at load, halving their memory; needs compute capability 8.9+ (both GPUs) and a checkpoint that is not quantized already.
     *
     * Default: `"none"`. Allowed: one of `none`, `fp8`. Stack config: `quantization`.
     */
    quantization?: string;
    /**
     * KV cache precision (vLLM --kv-cache-dtype): auto (the model's dtype) or fp8 (half the memory per token). fp8 is refused with vLLM images before 0.11 (the default v0.10.2 falls back to its V0 engine with uncalibrated scales on both Cloud Run GPUs) and for Gemma 3 (vllm#29531).
     *
     * Default: `"auto"`. Allowed: one of `auto`, `fp8`. Stack config: `kvCacheDtype`.
     */
    kvCacheDtype?: string;
    /**
     * For models with a vision tower (Gemma 3 4B and up, Mistral Small 3.1): accept images in chat requests. false passes --limit-mm-per-prompt '{"image":0}', so vLLM does not profile the vision encoder and the KV cache gets that memory. Ignored for text-only models.
     *
     * Default: `true`. Stack config: `imageInput`.
     */
    imageInput?: boolean;
    /**
     * Most images one request may carry when imageInput is on (--limit-mm-per-prompt '{"image":N}'; vLLM's own default of 999 reserves encoder memory for far more). Each image costs encoder memory and 256 tokens of context (Gemma 3).
     *
     * Default: `1`. Allowed: 1 to 16. Stack config: `imagesPerPrompt`.
     */
    imagesPerPrompt?: number;
    /**
     * LoRA adapters to bake next to the base weights, each {name, repo, revision}: served with --enable-lora --lora-modules NAME=PATH, each one a model name clients can call (listed by /v1/models). Set with: npx pulumi config set --path 'loraAdapters[0].name' NAME (and .repo, .revision).
     *
     * Default: `[]`. Stack config: `loraAdapters`.
     */
    loraAdapters?: LoraAdapter[];
    /**
     * vLLM --max-lora-rank: 0 reads the largest r from the adapters' adapter_config.json during preview (needs preflightChecks; 16, vLLM's default, when the Hub cannot be asked). Otherwise one of 8, 16, 32, 64, 128, 256, 320, 512, at least every adapter's rank.
     *
     * Default: `0`. Allowed: 0 to 512. Stack config: `maxLoraRank`.
     */
    maxLoraRank?: number;
    /**
     * Reserve capacity for zonal failover. Off is cheaper and fits the GPU quota a new project gets.
     *
     * Default: `false`. Stack config: `gpuZonalRedundancy`.
     */
    gpuZonalRedundancy?: boolean;
    /**
     * Protect the Cloud Run service from deletion (pulumi destroy then fails until it is turned off).
     *
     * Default: `false`. Stack config: `deletionProtection`.
     */
    deletionProtection?: boolean;
    /**
     * IAM members allowed to call the service (roles/run.invoker), e.g. user:you@example.com.
     *
     * Default: `[]`. Stack config: `invokers`.
     */
    invokers?: string[];
    /**
     * Region Cloud Build runs in (with the Docker Hub cache and the staging bucket). Empty: the service region if every project may build there, else the nearest region that all may (us-east4 -> us-central1, europe-west4 -> europe-west1, asia-southeast1 -> asia-east1; some projects may build only in us-central1, us-west2, europe-west1, asia-east1, australia-southeast1, southamerica-east1). The image is pushed to the service region either way.
     *
     * Default: `""`. Stack config: `buildRegion`.
     */
    buildRegion?: string;
    /**
     * Cloud Build machine type for the image build (what gcloud builds submit --machine-type accepts).
     *
     * Default: `"e2-highcpu-8"`. Allowed: one of `e2-medium`, `e2-highcpu-8`, `e2-highcpu-32`, `n1-highcpu-8`, `n1-highcpu-32`. Stack config: `buildMachineType`.
     */
    buildMachineType?: string;
    /**
     * Cloud Build disk in GB, 100 to 1024 (gcloud's --disk-size bounds); the vLLM base image unpacks to tens of GB before the weights are added.
     *
     * Default: `200`. Allowed: 100 to 1024. Stack config: `buildDiskSizeGb`.
     */
    buildDiskSizeGb?: number;
    /**
     * Cloud Build timeout in minutes, 10 to 1440 (Cloud Build's own default of 10 is far too short). Changing it (or the machine type or disk) does not rebuild the image; it applies to the next build.
     *
     * Default: `90`. Allowed: 10 to 1440. Stack config: `buildTimeoutMinutes`.
     */
    buildTimeoutMinutes?: number;
    /**
     * Look outside before building. During preview, ask Hugging Face whether the token may download the model at the pinned revision (and the architecture of models not in the catalog) and Resource Manager whether your account has the permissions a deploy needs; during up, read the region's GPU, memory and CPU quota before the build starts. Turn off only where those APIs are unreachable.
     *
     * Default: `true`. Stack config: `preflightChecks`.
     */
    preflightChecks?: boolean;
    /**
     * Optional API key required on every path but /health (callers send it as `Authorization` and the Google identity token as `X-Serverless-Authorization`): 16 to 4096 printable characters. In a stack it must be set as a secret; a plain-text value is refused (it is not declared `secret: true` because Pulumi rejects secret keys that have a default, pulumi/pulumi#21865). Set it with: npx pulumi config set --secret apiKey "$(openssl rand -hex 32)".
     *
     * Default: `""`. Secret. Stack config: `apiKey`.
     */
    apiKey?: pulumi.Input<string>;
    /**
     * Grant allUsers roles/run.invoker. Only allowed together with an apiKey.
     *
     * Default: `false`. Stack config: `public`.
     */
    public?: boolean;
    /**
     * Run `npm run smoke` against the new revision as the last step of `npx pulumi up`, so a deploy that doesn't answer fails the `up`. Needs your gcloud login to mint identity tokens.
     *
     * Default: `false`. Stack config: `smokeTest`.
     */
    smokeTest?: boolean;
    /**
     * Collect vLLM's Prometheus metrics (time to first token, inter-token latency, tokens per second, running and waiting requests, KV-cache usage, preemptions) into Cloud Monitoring with Google's Managed Prometheus sidecar (1 vCPU, 512 MiB beside vLLM; see README "Monitoring" for what it costs per instance-hour), and chart them on the stack's dashboard. false: no sidecar; the dashboard keeps Cloud Run's own metrics.
     *
     * Default: `true`. Stack config: `metrics`.
     */
    metrics?: boolean;
    /**
     * Email address for the stack's alert policies (5xx ratio, requests queued in vLLM, instances at maxInstances, a revision that fails to become ready, the /health uptime check) and budget alerts. Creates a Cloud Monitoring email channel. Empty, with no notificationChannels: no alert policies.
     *
     * Default: `""`. Stack config: `alertEmail`.
     */
    alertEmail?: string;
    /**
     * Existing Cloud Monitoring notification channels (projects/PROJECT/notificationChannels/ID: Slack, PagerDuty, email...) that the alert policies notify, in addition to alertEmail. `gcloud beta monitoring channels list` shows them.
     *
     * Default: `[]`. Stack config: `notificationChannels`.
     */
    notificationChannels?: string[];
    /**
     * The 5xx alert fires when more than this percentage of requests answer 5xx for 5 minutes (with at least one request a minute).
     *
     * Default: `5`. Allowed: 1 to 100. Stack config: `alertErrorPercent`.
     */
    alertErrorPercent?: number;
    /**
     * The saturation alert fires when requests have waited in vLLM's queue (vllm:num_requests_waiting above 0) for this many minutes in a row. Needs metrics.
     *
     * Default: `5`. Allowed: 1 to 60. Stack config: `alertQueueMinutes`.
     */
    alertQueueMinutes?: number;
    /**
     * A Cloud Monitoring uptime check of GET /health every 5 minutes from 3 US locations, with an alert when it fails (it authenticates with an OIDC token, so it works for IAM-only services too). Every check is a request, and a request wakes a scaled-to-zero GPU: auto turns it on only with minInstances >= 1 and alerts on; on with minInstances 0 is refused (it would keep a GPU instance running around the clock).
     *
     * Default: `"auto"`. Allowed: one of `auto`, `on`, `off`. Stack config: `uptimeCheck`.
     */
    uptimeCheck?: string;
    /**
     * A monthly Cloud Billing budget for this project's Cloud Run spend, in the billing account's currency, with emails at 50%, 90% and 100% of actual spend and at 100% of forecast spend (to alertEmail, and to the billing account's admins). 0: no budget. A budget alerts; it does not stop spending. Needs billingAccount.
     *
     * Default: `0`. Allowed: 0 to 10000000. Stack config: `monthlyBudget`.
     */
    monthlyBudget?: number;
    /**
     * Billing account id (XXXXXX-XXXXXX-XXXXXX, upper-case hex: `gcloud billing projects describe PROJECT_ID` shows it) that holds the monthlyBudget. You need Billing Account Costs Manager (roles/billing.costsManager) or Administrator on it.
     *
     * Default: `""`. Stack config: `billingAccount`.
     */
    billingAccount?: string;
    /**
     * Serve from several regions behind one global HTTPS endpoint (README "Several regions"): a list of two or more GPU regions that includes gcp:region (the home region, where the image is built and whose service keeps its name). Each region gets its own Cloud Run service, image repository and quota check, all behind a global external Application Load Balancer with Cloud Armor; the services then accept only load-balancer traffic. The load balancer and Cloud Armor cost about $26.25 a month before traffic (README "Several regions"); any change to the list reruns the image build. Empty: one region, no load balancer.
     *
     * Default: `[]`. Stack config: `regions`.
     */
    regions?: string[];
    /**
     * Per-region maxInstances, as REGION=N (e.g. us-east4=3), for regions whose GPU quota differs; other regions use maxInstances. Only with regions.
     *
     * Default: `[]`. Stack config: `regionMaxInstances`.
     */
    regionMaxInstances?: string[];
    /**
     * Per-region minInstances, as REGION=N; other regions use minInstances. A region fails over automatically (Cloud Run service health) only with at least 1, an always-on GPU there. Only with regions.
     *
     * Default: `[]`. Stack config: `regionMinInstances`.
     */
    regionMinInstances?: string[];
    /**
     * Host name of the multi-region endpoint (e.g. llm.example.com), for a Google-managed certificate; create the A record the dnsRecord output prints. Empty: <ip>.nip.io, a public wildcard DNS name that resolves to the endpoint's IP (for trials; it depends on nip.io). Only with regions.
     *
     * Default: `""`. Stack config: `domain`.
     */
    domain?: string;
    /**
     * Cloud Armor's limit on requests per minute from one client IP at the multi-region endpoint; more get 429 at the load balancer and never reach a GPU. 0: no limit. Only with regions.
     *
     * Default: `600`. Allowed: 0 to 1000000. Stack config: `rateLimitPerMinute`.
     */
    rateLimitPerMinute?: number;
    /**
     * fast (vLLM eager mode: quickest cold start, slower decoding at low concurrency), throughput (CUDA graphs and torch.compile: slower start, faster tokens), or auto (fast when minInstances is 0, else throughput). Changing it only rolls out a new revision.
     *
     * Default: `"auto"`. Allowed: one of `auto`, `fast`, `throughput`. Stack config: `startupMode`.
     */
    startupMode?: string;
    /**
     * image (weights baked into the container image) or gcs (weights uploaded once by the build into a stack-owned bucket and mounted read-only with Cloud Storage FUSE; for models too big to bake comfortably).
     *
     * Default: `"image"`. Allowed: one of `image`, `gcs`. Stack config: `weights`.
     */
    weights?: string;
    /**
     * Optional Docker ID (4-30 lower-case letters and digits) for pulling the base image from Docker Hub through the stack's cache as your account instead of anonymously (higher pull limits). Needs dockerHubToken.
     *
     * Default: `""`. Stack config: `dockerHubUsername`.
     */
    dockerHubUsername?: string;
    /**
     * Docker Hub access token for dockerHubUsername, stored in its own Secret Manager secret that only the Artifact Registry service agent can read. In a stack it must be set as a secret (not declared `secret: true` for the same reason as apiKey). Set it with: npx pulumi config set --secret dockerHubToken   (a Docker Hub access token; it prompts).
     *
     * Default: `""`. Secret. Stack config: `dockerHubToken`.
     */
    dockerHubToken?: pulumi.Input<string>;
    /**
     * Only for the GPU quota read, whose provider must bill calls to the project: the same credentials your Google provider uses, when that is not Application Default Credentials. A stack passes gcp:credentials on.
     *
     * Default: `""`. Secret. Stack config: `gcp:credentials`.
     */
    gcpCredentials?: pulumi.Input<string>;
    /**
     * Like gcpCredentials, for an OAuth access token (gcp:accessToken).
     *
     * Default: `""`. Secret. Stack config: `gcp:accessToken`.
     */
    gcpAccessToken?: pulumi.Input<string>;
    /**
     * Like gcpCredentials, for service account impersonation (gcp:impersonateServiceAccount).
     *
     * Default: `""`. Stack config: `gcp:impersonateServiceAccount`.
     */
    gcpImpersonateServiceAccount?: string;
}
