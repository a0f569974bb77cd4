import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import { MAX_STARTUP_SECONDS } from "../config/startup";
import { loraServeArgs } from "./image-build";
import { GMP_SIDECAR_IMAGE, METRICS_CONTAINER, METRICS_RELAY_PORT, RUN_MONITORING_DIR, RUN_MONITORING_FILE, SIDECAR_LIVENESS } from "../config/metrics";

/** Port vLLM listens on; Cloud Run routes to it (PORT itself is reserved by Cloud Run). */
export const VLLM_PORT = 8000;

/** Where Cloud Run mounts the weights bucket with `weights: gcs`. */
export const WEIGHTS_MOUNT_PATH = "/weights";

/** The engine settings passed to `vllm serve` (the image's ENTRYPOINT). */
export interface VllmFlags {
    model: string;
    /** Load from this directory instead of the baked Hugging Face cache (weights: gcs). */
    modelPath?: string;
    modelRevision: string;
    servedModelName: string;
    maxModelLen: number;
    /** Also Cloud Run's per-instance concurrency: one request, one sequence slot. */
    maxNumSeqs: number;
    gpuMemoryUtilization: number;
    port?: number;
    /** Require the API key (VLLM_API_KEY) on every path but /health. Default: false. */
    requireApiKey?: boolean;
    /** `fast` adds --enforce-eager (no CUDA graph capture); `throughput` keeps vLLM's graphs. Default: throughput. */
    startupMode?: "fast" | "throughput";
    /** `fp8`: vLLM quantizes bf16 weights to FP8 at load. Default: none (pre-quantized checkpoints are detected by vLLM from their config.json). */
    quantization?: "none" | "fp8";
    /** KV cache precision. Default: auto. */
    kvCacheDtype?: "auto" | "fp8";
    /** Images per prompt, for models with a vision tower (0 turns image input off). Default: no flag (text-only models). */
    imagesPerPrompt?: number;
    /** LoRA adapters baked into the image, each served under its name. Default: none. */
    loraAdapters?: readonly { name: string }[];
    /** --max-lora-rank, the largest adapter rank rounded up to a value vLLM accepts. Default: 16. */
    maxLoraRank?: number;
}

/** ASGI middleware baked into the image (docker/vllm_cloudrun_auth.py). */
export const API_KEY_MIDDLEWARE = "vllm_cloudrun_auth.RequireApiKey";

/** Arguments Cloud Run appends to `vllm serve`; runtime-only, so changing them never rebuilds. */
export function vllmArgs(f: VllmFlags): string[] {
    return [
        ...(f.modelPath !== undefined
            ? [f.modelPath]
            : // The baked snapshot is addressed by commit, so offline loading needs the same revision.
              [f.model, "--revision", f.modelRevision, "--tokenizer-revision", f.modelRevision]),
        "--served-model-name", f.servedModelName,
        "--host", "0.0.0.0",
        "--port", String(f.port ?? VLLM_PORT),
        "--max-model-len", String(f.maxModelLen),
        "--max-num-seqs", String(f.maxNumSeqs),
        "--gpu-memory-utilization", String(f.gpuMemoryUtilization),
        // Eager mode skips CUDA graph capture (and torch.compile in vLLM's V1 engine): faster
        // start, slower decoding at small batch sizes. In throughput mode vLLM captures graphs
        // only up to the batch sizes --max-num-seqs allows.
        ...(f.startupMode === "fast" ? ["--enforce-eager"] : []),
        // vLLM's key covers /v1/* only; /invocations would serve completions without it.
        ...(f.requireApiKey ? ["--middleware", API_KEY_MIDDLEWARE] : []),
        // Pre-quantized checkpoints need no flag: vLLM reads their quantization_config.
        ...(f.quantization === "fp8" ? ["--quantization", "fp8"] : []),
        ...(f.kvCacheDtype === "fp8" ? ["--kv-cache-dtype", "fp8"] : []),
        // JSON, as vLLM 0.10 parses it (json.loads; the older image=N form fails). Unset, V1
        // allows 999 images and profiles the encoder for them.
        ...(f.imagesPerPrompt === undefined ? [] : ["--limit-mm-per-prompt", JSON.stringify({ image: f.imagesPerPrompt })]),
        // Every adapter resident at once, so a request for any of them never waits for a swap.
        ...(f.loraAdapters !== undefined && f.loraAdapters.length > 0
            ? [...loraServeArgs(f.loraAdapters), "--max-lora-rank", String(f.maxLoraRank ?? 16), "--max-loras", String(f.loraAdapters.length)]
            : []),
    ];
}

/**
 * Startup probe for a window of `seconds`: checked every 10 s from the start, so an instance is
 * ready within 10 s of /health answering, however long the window. A GPU service's probe may
 * check for failureThreshold x periodSeconds up to 1800 s (config/startup.ts), so no initial
 * delay is needed to stretch the window (it would only hold back instances that are ready sooner).
 * Source: https://cloud.google.com/run/docs/configuring/healthchecks
 */
export function startupProbeFor(seconds: number): { initialDelaySeconds: number; periodSeconds: number; timeoutSeconds: number; failureThreshold: number } {
    const periodSeconds = 10;
    const window = Math.min(Math.max(seconds, periodSeconds), MAX_STARTUP_SECONDS);
    return { initialDelaySeconds: 0, periodSeconds, timeoutSeconds: 5, failureThreshold: Math.ceil(window / periodSeconds) };
}

/**
 * vLLM's /health as a readiness probe: an instance that stops answering for 3 checks 10 s apart
 * stops getting requests, and counts against its region's health; 2 passes bring it back
 * (Cloud Run's defaults but the timeout: /health answers in milliseconds, yet a busy engine may
 * take longer than the 1 s default). A service is healthy while 60% of its instances are ready
 * (https://cloud.google.com/run/docs/configuring/configure-service-health).
 */
export const READINESS_PROBE = { periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3, successThreshold: 2, httpGet: { path: "/health", port: VLLM_PORT } };

/** Name of vLLM's container, the one with the GPU and the port. */
export const VLLM_CONTAINER = "vllm";
const METRICS_CONFIG_VOLUME = "rungmp-config";

/** A Cloud Run memory quantity: whole GiB as Gi (32Gi, as before sidecars), else Mi. */
export function memoryQuantity(mib: number): string {
    return mib % 1024 === 0 ? `${mib / 1024}Gi` : `${mib}Mi`;
}

/** Where the metrics sidecar reads its RunMonitoring config: one Secret Manager version. */
export interface MetricsSidecarArgs {
    configSecretId: pulumi.Input<string>;
    /** The version number (never `latest`: a new config is a new revision). */
    configVersion: pulumi.Input<string>;
    /** vCPU and memory of the sidecar container. */
    cpu: number;
    memoryMiB: number;
}

/**
 * Google's Managed Prometheus sidecar: starts once vLLM's startup probe has passed (dependsOn),
 * holds no GPU, reads its config from a secret volume, and restarts on its own liveness endpoint
 * (run-gmp-sidecar's example service: /liveness on 13133, 30 s timeout because the handler waits 5 s).
 */
export function metricsSidecarContainer(m: MetricsSidecarArgs) {
    return {
        name: METRICS_CONTAINER,
        image: GMP_SIDECAR_IMAGE,
        dependsOns: [VLLM_CONTAINER],
        volumeMounts: [{ name: METRICS_CONFIG_VOLUME, mountPath: RUN_MONITORING_DIR }],
        // CPU settings match vLLM's: Cloud Run applies boost per revision (terraform-provider-google#20784).
        resources: { limits: { cpu: String(m.cpu), memory: memoryQuantity(m.memoryMiB) }, cpuIdle: false, startupCpuBoost: true },
        livenessProbe: { periodSeconds: 30, timeoutSeconds: 30, failureThreshold: 3, httpGet: { path: SIDECAR_LIVENESS.path, port: SIDECAR_LIVENESS.port } },
    };
}

/** The secret volume holding the sidecar's config, as RUN_MONITORING_DIR/RUN_MONITORING_FILE. */
export function metricsConfigVolume(m: MetricsSidecarArgs) {
    return { name: METRICS_CONFIG_VOLUME, secret: { secret: m.configSecretId, items: [{ version: m.configVersion, path: RUN_MONITORING_FILE }] } };
}

export interface LlmServiceArgs extends Omit<VllmFlags, "maxNumSeqs" | "port" | "requireApiKey" | "startupMode" | "modelPath"> {
    /**
     * With `weights: gcs`: the bucket holding `<model>/<revision>/`, mounted read-only with
     * Cloud Storage FUSE and loaded from there. Default: none, weights are in the image.
     */
    weightsBucket?: pulumi.Input<string>;
    /** vLLM startup mode. Default: throughput. */
    startupMode?: "fast" | "throughput";
    project: pulumi.Input<string>;
    region: pulumi.Input<string>;
    serviceName: pulumi.Input<string>;
    /** Image by digest (`…@sha256:…`). */
    image: pulumi.Input<string>;
    /** Email of the service account instances run as. */
    serviceAccountEmail: pulumi.Input<string>;
    /** Cloud Run accelerator, e.g. `nvidia-l4`. */
    gpuType: pulumi.Input<string>;
    /** vCPUs of vLLM's container. */
    cpu: pulumi.Input<number>;
    /** Memory of vLLM's container, e.g. `32Gi`. */
    memory: pulumi.Input<string>;
    /**
     * Run Managed Prometheus's sidecar beside vLLM, scraping /metrics (through the image's
     * loopback relay when an API key guards it). Default: none.
     */
    metrics?: MetricsSidecarArgs;
    minInstances: pulumi.Input<number>;
    maxInstances: pulumi.Input<number>;
    /** Requests per instance; also vLLM's --max-num-seqs. */
    concurrency: number;
    /** Keep capacity for zonal failover (costs more, needs more quota). */
    gpuZonalRedundancy: boolean;
    deletionProtection: pulumi.Input<boolean>;
    /** IAM members granted roles/run.invoker on this service. Default: none. */
    invokers?: readonly string[];
    /** Grant allUsers the invoker role; callers then need the API key. Default: false. */
    public?: boolean;
    /**
     * Secret Manager secret and version holding the API key (required on every path but /health), passed as a
     * secret environment reference (never a plain value). Default: none, IAM-only access.
     */
    apiKeySecret?: { secretId: pulumi.Input<string>; version: pulumi.Input<string> };
    /**
     * Who may reach the service at all: `all` (the internet, then IAM decides) or `load-balancer`
     * (only Cloud Load Balancing and internal traffic: the multi-region front door, so Cloud Armor
     * cannot be bypassed through the run.app URL). Default: all.
     */
    ingress?: "all" | "load-balancer";
    /**
     * Extra audiences Cloud Run accepts in identity tokens, besides the run.app URL: the front
     * door's URL, so callers mint one token for the endpoint whichever region answers
     * (https://cloud.google.com/run/docs/configuring/custom-audiences). Default: none.
     */
    customAudiences?: pulumi.Input<pulumi.Input<string>[]>;
    /**
     * Readiness probe on vLLM's /health: Cloud Run aggregates it into the service's health, which
     * the front door uses to move traffic off a region (only where an instance runs: minInstances
     * >= 1; https://cloud.google.com/run/docs/configuring/configure-service-health). Default: false.
     */
    readinessProbe?: boolean;
    /** Seconds a request may run, for long generations. Default: 3600 (Cloud Run's maximum). */
    requestTimeoutSeconds?: number;
    /**
     * Seconds an instance gets to load the model before it is replaced (see config/startup.ts).
     * Default: 360 (gemma-3-1b was reported ready after ~2.7 min on an L4).
     */
    startupSeconds?: number;
    labels?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /**
     * Whether the GPU's driver needs the CUDA forward-compatibility libraries the vLLM image ships
     * (the L4's 535 driver is CUDA 12.2, the image 12.8). false turns them off in images that honor
     * VLLM_ENABLE_CUDA_COMPATIBILITY: a newer driver (the RTX PRO 6000's 580) must not load an older
     * user-mode driver (CUDA error 803). Default: true (the image's own setting, no env).
     */
    cudaForwardCompat?: boolean;
}

/** Cloud Run service running vLLM on one GPU, private to its invokers. */
export class LlmService extends pulumi.ComponentResource {
    readonly service: gcp.cloudrunv2.Service;
    readonly url: pulumi.Output<string>;
    readonly serviceName: pulumi.Output<string>;
    /** Changes with every rollout that becomes ready. */
    readonly latestReadyRevision: pulumi.Output<string>;

    constructor(name: string, args: LlmServiceArgs, opts?: pulumi.ComponentResourceOptions) {
        super("vllm-cloudrun:service:LlmService", name, {}, opts);

        this.service = new gcp.cloudrunv2.Service(
            name,
            {
                project: args.project,
                location: args.region,
                name: args.serviceName,
                deletionProtection: args.deletionProtection,
                ingress: args.ingress === "load-balancer" ? "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER" : "INGRESS_TRAFFIC_ALL",
                ...(args.customAudiences === undefined ? {} : { customAudiences: args.customAudiences }),
                labels: args.labels,
                template: {
                    serviceAccount: args.serviceAccountEmail,
                    timeout: `${args.requestTimeoutSeconds ?? 3600}s`,
                    maxInstanceRequestConcurrency: args.concurrency,
                    scaling: { minInstanceCount: args.minInstances, maxInstanceCount: args.maxInstances },
                    nodeSelector: { accelerator: args.gpuType },
                    gpuZonalRedundancyDisabled: !args.gpuZonalRedundancy,
                    labels: args.labels,
                    // Cloud Storage volumes need the second-generation execution environment, and
                    // the sidecar's examples run in it (Linux: its scrape of 0.0.0.0 reaches loopback).
                    ...(args.weightsBucket === undefined && args.metrics === undefined ? {} : { executionEnvironment: "EXECUTION_ENVIRONMENT_GEN2" }),
                    ...(args.weightsBucket === undefined && args.metrics === undefined
                        ? {}
                        : {
                              volumes: [
                                  ...(args.weightsBucket === undefined
                                      ? []
                                      : [{ name: "weights", gcs: { bucket: args.weightsBucket, readOnly: true, mountOptions: [`only-dir=${args.model}/${args.modelRevision}`, "implicit-dirs"] } }]),
                                  ...(args.metrics === undefined ? [] : [metricsConfigVolume(args.metrics)]),
                              ],
                          }),
                    containers: [
                        {
                            name: VLLM_CONTAINER,
                            image: args.image,
                            args: vllmArgs({
                                ...args,
                                maxNumSeqs: args.concurrency,
                                requireApiKey: args.apiKeySecret !== undefined,
                                modelPath: args.weightsBucket === undefined ? undefined : WEIGHTS_MOUNT_PATH,
                            }),
                            ...(args.weightsBucket === undefined ? {} : { volumeMounts: [{ name: "weights", mountPath: WEIGHTS_MOUNT_PATH }] }),
                            ports: { name: "http1", containerPort: VLLM_PORT },
                            envs: [
                                // Baked weights only: a local path (weights: gcs) needs no hub, and vLLM may refuse
                                // one when HF_HUB_OFFLINE=1 (https://github.com/vllm-project/vllm/issues/23684).
                                ...(args.weightsBucket === undefined ? [{ name: "HF_HUB_OFFLINE", value: "1" }] : []),
                                ...(args.cudaForwardCompat === false ? [{ name: "VLLM_ENABLE_CUDA_COMPATIBILITY", value: "0" }] : []),
                                // The key guards /metrics on vLLM's port; the middleware relays it on loopback for the sidecar.
                                ...(args.metrics !== undefined && args.apiKeySecret !== undefined
                                    ? [{ name: "VLLM_CLOUDRUN_METRICS_PORT", value: String(METRICS_RELAY_PORT) }, { name: "VLLM_CLOUDRUN_UPSTREAM_PORT", value: String(VLLM_PORT) }]
                                    : []),
                                // vLLM reads VLLM_API_KEY like --api-key, without putting it on a command line.
                                ...(args.apiKeySecret === undefined
                                    ? []
                                    : [{ name: "VLLM_API_KEY", valueSource: { secretKeyRef: { secret: args.apiKeySecret.secretId, version: args.apiKeySecret.version } } }]),
                            ],
                            resources: {
                                limits: { cpu: pulumi.interpolate`${args.cpu}`, memory: args.memory, "nvidia.com/gpu": "1" },
                                // GPUs need instance-based billing: CPU stays allocated.
                                cpuIdle: false,
                                startupCpuBoost: true,
                            },
                            startupProbe: { ...startupProbeFor(args.startupSeconds ?? 360), httpGet: { path: "/health", port: VLLM_PORT } },
                            livenessProbe: { periodSeconds: 30, timeoutSeconds: 10, failureThreshold: 3, httpGet: { path: "/health", port: VLLM_PORT } },
                            ...(args.readinessProbe ? { readinessProbe: READINESS_PROBE } : {}),
                        },
                        ...(args.metrics === undefined ? [] : [metricsSidecarContainer(args.metrics)]),
                    ],
                },
            },
            // A GPU revision pulls a multi-GB image and loads the model before it is ready.
            { parent: this, customTimeouts: { create: "30m", update: "30m", delete: "10m" } },
        );

        const members = [...(args.invokers ?? []), ...(args.public ? ["allUsers"] : [])];
        for (const member of members) {
            new gcp.cloudrunv2.ServiceIamMember(
                `${name}-invoker-${member.replace(/[^A-Za-z0-9]+/g, "-")}`,
                { project: this.service.project, location: this.service.location, name: this.service.name, role: "roles/run.invoker", member },
                { parent: this },
            );
        }

        this.url = this.service.uri;
        this.serviceName = this.service.name;
        this.latestReadyRevision = this.service.latestReadyRevision;
        this.registerOutputs({ url: this.url, serviceName: this.serviceName, latestReadyRevision: this.latestReadyRevision });
    }
}
