// The whole deployment as one component: a stack program and any other Pulumi program (in any
// language, through the package's generated SDK) get the same resources, checks and outputs.
import * as pulumi from "@pulumi/pulumi";
import { explainForArgs, pullsThroughDockerHubRemote, secretProblems, SecretKey, Settings, validateArgs, VllmCloudRunArgs } from "../config";
import { ConfigError, ConfigProblem } from "../config/errors";
import { CostEstimate, fitAndCost, MemoryEstimate, PreflightReport, runPreflight } from "../config/preflight";
import { MODEL_CATALOG } from "../config/model-catalog";
import { GPU_TYPES } from "../config/gpus";
import { compareVersions } from "../config/vllm-images";
import { StartupEstimate } from "../config/startup";
import { accessMode, Snippets, snippets } from "../client/snippets";
import { ProjectApis } from "./apis";
import { TokenSecret } from "./secret";
import { ServiceIdentities } from "./identities";
import { ImageRegistry } from "./registry";
import { BaseImage } from "./base-image";
import { GpuQuotaCheck, QuotaReport } from "./gpu-quota";
import { ImageBuild } from "./image-build";
import { LlmService, memoryQuantity, VLLM_PORT } from "./service";
import { METRICS_RELAY_PORT, runMonitoringConfig } from "../config/metrics";
import { ServiceMonitoring } from "./monitoring";
import { BUDGET_API, FRONT_DOOR_API, REQUIRED_APIS } from "./apis";
import { FrontDoor, FrontDoorAddress, frontDoorNames } from "./front-door";
import { SmokeTest } from "./smoke-test";

/** The package's type token: `<package>:index:<Component>`, as source-based component packages require. */
export const VLLM_CLOUDRUN_TYPE = "vllm-cloudrun:index:VllmCloudRun";

/** How long the smoke test waits for the endpoint with several regions: a new certificate may take an hour. */
export const FRONT_DOOR_SMOKE_WAIT_SECONDS = 3600;

/** Every output, in the order a stack exports them. */
export const VLLM_CLOUDRUN_OUTPUTS = [
    "serviceUrl", "serviceName", "image", "baseImage", "model", "servedModelName", "region", "runtimeServiceAccount", "buildServiceAccount",
    "proxyCommand", "curlCommand", "accessMode", "snippets", "startupMode", "startupEstimate", "gpuMemoryEstimate", "costEstimate", "gpuQuota",
    "imageInput", "loraModels", "dashboardUrl", "alertPolicies", "regions", "regionalServiceUrls", "endpointIp", "dnsRecord",
] as const;

/** What the children produce that the outputs are read from. */
interface Deployment {
    preflight: PreflightReport;
    /** The home region's service. */
    service: LlmService;
    /** Every region's service, home first. */
    services: { region: string; service: LlmService }[];
    /** The endpoint callers use: the front door's URL, or the one service's. */
    url: pulumi.Output<string>;
    address?: FrontDoorAddress;
    imageBuild: ImageBuild;
    baseImage: BaseImage;
    identities: ServiceIdentities;
    quota?: GpuQuotaCheck;
    monitoring: ServiceMonitoring;
    snippets: pulumi.Output<Snippets>;
}

// Kept off the instance: every property of the class is an output in the package schema.
const deployments = new WeakMap<VllmCloudRun, Promise<Deployment>>();

/**
 * A secret arg's value once known (undefined while unknown, during a preview), and whether it is
 * secret. `isKnown` and `promise()` are the SDK's own Output members (not in its public typings):
 * the public API cannot await a value without hanging on an unknown one.
 */
async function resolveSecretArg(v: pulumi.Input<string>): Promise<{ value?: string; secret: boolean }> {
    const out = pulumi.output(v) as unknown as { isKnown: Promise<boolean>; promise(withUnknowns?: boolean): Promise<string> };
    const [known, secret] = await Promise.all([out.isKnown, pulumi.isSecret(pulumi.output(v))]);
    return { value: known ? await out.promise() : undefined, secret };
}

/** Problems with the secret args' values and their secret-ness (a program's args arrive unchecked; a stack's were also checked as read). */
async function secretArgProblems(args: VllmCloudRunArgs): Promise<{ problems: ConfigProblem[]; notices: string[] }> {
    const problems: ConfigProblem[] = [];
    const notices: string[] = [];
    for (const key of ["hfToken", "apiKey", "dockerHubToken"] as SecretKey[]) {
        const input = args[key];
        if (input === undefined || input === null || input === "") continue;
        const { value, secret } = await resolveSecretArg(input);
        if (!secret) {
            problems.push({ key, value: "(hidden)", allowed: "is not a secret, so it would be stored in plain text in the state: pass it as one (config.requireSecret, pulumi.secret)", fix: `${key}: pulumi.secret(...)   (in a stack: npx pulumi config set --secret ${key})` });
            continue;
        }
        if (value === undefined) continue;
        const checked = secretProblems(key, value);
        problems.push(...checked.problems);
        notices.push(...checked.notices);
    }
    return { problems, notices };
}

/**
 * An open LLM served by vLLM's OpenAI-compatible API on Cloud Run with a GPU: APIs, service
 * accounts, the Hugging Face token in Secret Manager, an Artifact Registry repository, the
 * image built by Cloud Build with the weights baked in, and the GPU service. Invalid args fail
 * before anything is created, with one message naming every problem and its fix.
 */
export class VllmCloudRun extends pulumi.ComponentResource {
    /** HTTPS URL callers use: the Cloud Run service's, or with several regions the load balancer's (private unless `public`). */
    public readonly serviceUrl: pulumi.Output<string>;
    /** Name of the Cloud Run service. */
    public readonly serviceName: pulumi.Output<string>;
    /** The built image, by digest. */
    public readonly image: pulumi.Output<string>;
    /** The vLLM base image the build pulled, by digest. */
    public readonly baseImage: pulumi.Output<string>;
    /** Hugging Face model id baked into the image. */
    public readonly model: pulumi.Output<string>;
    /** Model name clients send in requests. */
    public readonly servedModelName: pulumi.Output<string>;
    /** Region of the service. */
    public readonly region: pulumi.Output<string>;
    /** Email of the service account the service runs as. */
    public readonly runtimeServiceAccount: pulumi.Output<string>;
    /** Email of the service account Cloud Build runs as. */
    public readonly buildServiceAccount: pulumi.Output<string>;
    /** `gcloud run services proxy` command: the service on localhost with your own credentials. */
    public readonly proxyCommand: pulumi.Output<string>;
    /** The codelab's curl test, ready to paste (identity token from gcloud; the API key from $VLLM_API_KEY). */
    public readonly curlCommand: pulumi.Output<string>;
    /** How callers get in: iam, iam+key or public+key. */
    public readonly accessMode: pulumi.Output<string>;
    /** curl, TypeScript and Python (OpenAI SDK) snippets for this access mode. */
    public readonly snippets: pulumi.Output<Snippets>;
    /** fast or throughput, as resolved from startupMode. */
    public readonly startupMode: pulumi.Output<string>;
    /** Expected cold start and the startup probe's window. */
    public readonly startupEstimate: pulumi.Output<StartupEstimate>;
    /** GPU memory: weights, runtime and KV cache against what vLLM may use (absent for models whose architecture is unknown). */
    public readonly gpuMemoryEstimate: pulumi.Output<MemoryEstimate | undefined>;
    /** Price per instance-hour and per month at minInstances. */
    public readonly costEstimate: pulumi.Output<CostEstimate>;
    /** The region's GPU, memory and CPU quota against what maxInstances needs (absent with preflightChecks off). */
    public readonly gpuQuota: pulumi.Output<QuotaReport | undefined>;
    /** Whether the service takes images in chat requests (a vision model with imageInput on). */
    public readonly imageInput: pulumi.Output<boolean>;
    /** Model names of the LoRA adapters, each callable like the base model. */
    public readonly loraModels: pulumi.Output<string[]>;
    /** The stack's Cloud Monitoring dashboard in the console. */
    public readonly dashboardUrl: pulumi.Output<string>;
    /** Display names of the alert policies (empty without alertEmail or notificationChannels). */
    public readonly alertPolicies: pulumi.Output<string[]>;
    /** Every region served, home first. */
    public readonly regions: pulumi.Output<string[]>;
    /** Each region's run.app URL (with several regions these accept only load-balancer traffic). */
    public readonly regionalServiceUrls: pulumi.Output<Record<string, string>>;
    /** The front door's IP address (absent with one region). */
    public readonly endpointIp: pulumi.Output<string | undefined>;
    /** The DNS record to create for `domain` (absent without regions or domain). */
    public readonly dnsRecord: pulumi.Output<string | undefined>;

    constructor(name: string, args: VllmCloudRunArgs, opts?: pulumi.ComponentResourceOptions) {
        // Before registering anything: invalid args create nothing, not even this component.
        // (A catalogued model's fit is known offline; the Hugging Face, permission and secret
        // checks need the network or secret values and run once registered, before any child.)
        let s: Readonly<Settings>;
        try {
            s = validateArgs(name, args);
            // Adapter ranks are read from the Hub later; 16 (vLLM's default) until then.
            fitAndCost(s, MODEL_CATALOG[s.model], [], [], s.maxLoraRank === 0 ? 16 : s.maxLoraRank);
        } catch (e) {
            throw explainForArgs(e, args);
        }
        super(VLLM_CLOUDRUN_TYPE, name, {}, opts);

        const deployment = this.deploy(s, args).catch((e: unknown) => {
            throw explainForArgs(e, args) as Error;
        });
        deployments.set(this, deployment);
        const out = <T>(pick: (d: Deployment) => pulumi.Input<T>): pulumi.Output<T> => pulumi.output(deployment.then(pick)) as pulumi.Output<T>;
        this.serviceUrl = out((d) => d.url);
        this.serviceName = out((d) => d.service.serviceName);
        this.image = out((d) => d.imageBuild.imageDigestRef);
        this.baseImage = out((d) => d.baseImage.pullRef);
        this.model = out(() => s.model);
        this.servedModelName = out(() => s.servedModelName);
        this.region = out(() => s.region);
        this.runtimeServiceAccount = out((d) => d.identities.runtime.email);
        this.buildServiceAccount = out((d) => d.identities.build.email);
        // Ingress that admits only the load balancer refuses the proxy too (GoogleCloudPlatform/cloud-run-proxy#24).
        this.proxyCommand = out((d) =>
            s.frontDoor === undefined
                ? pulumi.interpolate`gcloud run services proxy ${d.service.serviceName} --project ${s.project} --region ${s.region} --port 8080`
                : pulumi.interpolate`# none with several regions: the services accept only load-balancer traffic; call ${d.url}`,
        );
        this.curlCommand = out((d) => d.snippets.curlCompletions);
        this.accessMode = out(() => accessMode(s.apiKey !== undefined, s.public));
        this.snippets = out((d) => d.snippets);
        this.startupMode = out(() => s.startupMode);
        this.startupEstimate = out((d) => d.preflight.startup);
        this.gpuMemoryEstimate = out((d) => d.preflight.memory);
        this.costEstimate = out((d) => d.preflight.cost);
        this.gpuQuota = out((d) => d.quota?.report);
        this.imageInput = out((d) => d.preflight.plan.vision && s.imageInput);
        this.loraModels = out(() => s.loraAdapters.map((a) => a.name));
        this.dashboardUrl = out((d) => d.monitoring.dashboardUrl);
        this.alertPolicies = out((d) => d.monitoring.alertPolicies);
        this.regions = out(() => s.regions.map((r) => r.region));
        this.regionalServiceUrls = out((d) => pulumi.all(Object.fromEntries(d.services.map((x) => [x.region, x.service.url]))));
        this.endpointIp = out((d) => d.address?.ip);
        this.dnsRecord = out((d) => (d.address && s.frontDoor?.domain !== undefined ? pulumi.interpolate`${s.frontDoor.domain}. 300 IN A ${d.address.ip}` : undefined));
    }

    /** Resolves once every check has passed and every child is declared; rejects with the ConfigError otherwise. */
    ready(): Promise<void> {
        return (deployments.get(this) as Promise<Deployment>).then(() => undefined);
    }

    /** The checks that need secret values or the network, then every child, in dependency order. */
    private async deploy(s: Readonly<Settings>, args: VllmCloudRunArgs): Promise<Deployment> {
        const secrets = await secretArgProblems(args);
        if (secrets.problems.length > 0) throw new ConfigError(secrets.problems);
        for (const n of secrets.notices) void pulumi.log.warn(n, this);
        const preflight = await runPreflight(s, { network: s.preflightChecks });

        const prefix = s.names.prefix;
        // Before this component existed, these children were the stack's own: the alias keeps
        // their URNs (and their children's) so existing stacks see no replacement.
        const child = (more: pulumi.ComponentResourceOptions = {}): pulumi.ComponentResourceOptions => ({ parent: this, aliases: [{ parent: pulumi.rootStackResource }], ...more });
        // Children added after that (monitoring, 0.3.0) never lived anywhere else.
        const fresh = (more: pulumi.ComponentResourceOptions = {}): pulumi.ComponentResourceOptions => ({ parent: this, ...more });

        const apis = new ProjectApis(prefix, { project: s.project, apis: [...REQUIRED_APIS, ...(s.budget ? [BUDGET_API] : []), ...(s.frontDoor ? [FRONT_DOOR_API] : [])] }, child());
        const afterApis = child({ dependsOn: [apis] });

        const identities = new ServiceIdentities(prefix, {
            project: s.project,
            runtimeAccountId: s.names.runtimeAccountId,
            buildAccountId: s.names.buildAccountId,
            runtimeMetricWriter: s.metrics,
        }, afterApis);

        // Only the build account may read the token; the runtime account never sees it.
        const token = new TokenSecret(`${prefix}-hf-token`, {
            project: s.project,
            secretId: s.names.secretId,
            value: s.hfToken,
            accessors: [identities.buildMember],
            labels: s.labels,
        }, afterApis);

        const dockerHubRemote = pullsThroughDockerHubRemote(s);
        // Optional Docker Hub login for the cache: its own secret, read only by Artifact Registry.
        const dockerHubToken = dockerHubRemote && s.dockerHub !== undefined
            ? new TokenSecret(`${prefix}-dockerhub-token`, {
                  project: s.project,
                  secretId: s.names.dockerHubSecretId,
                  value: s.dockerHub.token,
                  labels: s.labels,
              }, afterApis)
            : undefined;
        const registry = new ImageRegistry(prefix, {
            project: s.project,
            location: s.region,
            repositoryId: s.names.repository,
            writers: [identities.buildMember],
            dockerHubRemote,
            // The cache serves only the build: keep it where the build runs.
            dockerHubLocation: s.build.region,
            dockerHubRemoteId: s.names.dockerHubRemote,
            dockerHubReaders: [identities.buildMember],
            dockerHubCredentials: dockerHubToken && s.dockerHub && { username: s.dockerHub.username, secretId: dockerHubToken.secretId, secretVersion: dockerHubToken.versionName },
            labels: s.labels,
        }, afterApis);

        // The vLLM base image by digest, pulled through the stack's Docker Hub cache.
        const baseImage = new BaseImage(`${prefix}-base`, { image: s.baseImage, dockerHubUrl: registry.dockerHubUrl }, child());

        const { vllm, sidecar } = s.containers;
        const instanceCpu = vllm.cpu + (sidecar?.cpu ?? 0);
        const instanceMemoryGiB = (vllm.memoryMiB + (sidecar?.memoryMiB ?? 0)) / 1024;
        const home = s.regions[0];
        const others = s.regions.slice(1);
        // Children of the home region keep the names (and URNs) they had before regions existed;
        // another region's carry its name.
        const inRegion = (base: string, region: string) => (region === home.region ? base : `${base}-${region}`);

        // Enough GPU quota for each region's maxInstances, checked before the build starts.
        const quotas = s.preflightChecks
            ? s.regions.map((r) => new GpuQuotaCheck(inRegion(`${prefix}-quota`, r.region), {
                  project: s.project,
                  region: r.region,
                  gpuType: s.gpuType,
                  zonalRedundancy: s.gpuZonalRedundancy,
                  maxInstances: r.maxInstances,
                  // The instance: vLLM's container and the metrics sidecar's.
                  memoryGiB: instanceMemoryGiB,
                  cpu: instanceCpu,
                  auth: s.gcpAuth,
              }, r.home ? afterApis : fresh({ dependsOn: [apis] })))
            : [];
        const quota = quotas[0];

        // One build, every region: the same image pushed to a repository in each.
        const regionRegistries = others.map((r) => ({
            region: r.region,
            registry: new ImageRegistry(inRegion(prefix, r.region), {
                project: s.project,
                location: r.region,
                repositoryId: s.names.repository,
                writers: [identities.buildMember],
                labels: s.labels,
            }, fresh({ dependsOn: [apis] })),
        }));

        const imageBuild = new ImageBuild(prefix, {
            project: s.project,
            region: s.region,
            buildRegion: s.build.region,
            repositoryId: registry.repositoryId,
            repositoryUrl: registry.url,
            stagingBucketName: s.names.stagingBucket,
            buildServiceAccountEmail: identities.build.email,
            tokenSecretVersion: token.versionName,
            grants: [identities, token, registry, ...regionRegistries.map((x) => x.registry)],
            checks: quotas.map((q) => q.passed),
            baseImage: s.vllmImage,
            baseImagePull: baseImage.pullRef,
            baseImageDigest: baseImage.digest,
            model: s.model,
            modelRevision: s.modelRevision,
            loraAdapters: s.loraAdapters,
            weightsBucket: s.weights === "gcs" ? { name: s.names.weightsBucket, readers: [identities.runtimeMember] } : undefined,
            ...(others.length === 0
                ? {}
                : {
                      regionCopies: regionRegistries.map((x) => ({
                          region: x.region,
                          repositoryId: x.registry.repositoryId,
                          repositoryUrl: x.registry.url,
                          ...(s.weights === "gcs" ? { weightsBucketName: s.names.regionWeightsBuckets[x.region] } : {}),
                      })),
                  }),
            machineType: s.build.machineType,
            diskSizeGb: s.build.diskSizeGb,
            timeoutMinutes: s.build.timeoutMinutes,
            labels: s.labels,
        }, afterApis);

        // Optional API key: its own secret, readable by the runtime account only.
        const apiKey = s.apiKey === undefined ? undefined : new TokenSecret(`${prefix}-api-key`, {
            project: s.project,
            secretId: s.names.apiKeySecretId,
            value: s.apiKey,
            accessors: [identities.runtimeMember],
            grantPropagationSeconds: 60,
            labels: s.labels,
        }, afterApis);

        // The sidecar's RunMonitoring config: vLLM's port, or the loopback relay when a key guards /metrics.
        const metricsConfig = sidecar === undefined ? undefined : new TokenSecret(`${prefix}-metrics-config`, {
            project: s.project,
            secretId: s.names.metricsConfigSecretId,
            value: runMonitoringConfig(s.apiKey === undefined ? VLLM_PORT : METRICS_RELAY_PORT),
            accessors: [identities.runtimeMember],
            grantPropagationSeconds: 60,
            labels: s.labels,
        }, fresh({ dependsOn: [apis] }));

        // With several regions: the endpoint's address first, since every service names its URL as an audience.
        const fdNames = frontDoorNames(prefix);
        const address = s.frontDoor === undefined ? undefined : new FrontDoorAddress(`${prefix}-endpoint`, {
            project: s.project,
            addressName: fdNames.address,
            domain: s.frontDoor.domain,
            labels: s.labels,
        }, fresh({ dependsOn: [apis] }));

        // The same revision template in every region; only the region, its image copy, its weights and its instance counts differ.
        const services = s.regions.map((r) => ({
            region: r.region,
            service: new LlmService(inRegion(prefix, r.region), {
                project: s.project,
                region: r.region,
                serviceName: s.names.service,
                image: r.home ? imageBuild.imageDigestRef : imageBuild.imageDigestRefs[r.region],
                serviceAccountEmail: identities.runtime.email,
                model: s.model,
                modelRevision: s.modelRevision,
                servedModelName: s.servedModelName,
                maxModelLen: s.maxModelLen,
                gpuMemoryUtilization: s.gpuMemoryUtilization,
                startupMode: s.startupMode,
                startupSeconds: preflight.startup.windowSeconds,
                quantization: s.quantization,
                kvCacheDtype: s.kvCacheDtype,
                // Vision models only: N images per prompt, or 0 to keep the encoder out of the profile.
                imagesPerPrompt: preflight.plan.vision ? (s.imageInput ? s.imagesPerPrompt : 0) : undefined,
                loraAdapters: s.loraAdapters,
                maxLoraRank: preflight.plan.maxLoraRank,
                // Forward compatibility only for drivers older than the image's CUDA 12.8.
                cudaForwardCompat: compareVersions(GPU_TYPES[s.gpuType].driverCuda, "12.8") < 0,
                gpuType: s.gpuType,
                cpu: vllm.cpu,
                memory: memoryQuantity(vllm.memoryMiB),
                metrics: metricsConfig && sidecar && { configSecretId: metricsConfig.secretId, configVersion: metricsConfig.version, cpu: sidecar.cpu, memoryMiB: sidecar.memoryMiB },
                minInstances: r.minInstances,
                maxInstances: r.maxInstances,
                concurrency: s.concurrency,
                gpuZonalRedundancy: s.gpuZonalRedundancy,
                deletionProtection: s.deletionProtection,
                invokers: s.invokers,
                public: s.public,
                apiKeySecret: apiKey && { secretId: apiKey.secretId, version: apiKey.version },
                weightsBucket: r.home ? imageBuild.weightsBucket?.name : imageBuild.weightsBuckets?.[r.region]?.name,
                // Behind the front door: only its traffic, tokens minted for its URL, and readiness for service health.
                ...(address === undefined ? {} : { ingress: "load-balancer" as const, customAudiences: [address.url], readinessProbe: true }),
                labels: s.labels,
            }, (r.home ? child : fresh)({ dependsOn: [apis, ...(apiKey ? [apiKey] : []), ...(metricsConfig ? [metricsConfig, identities] : [])] })),
        }));
        const service = services[0].service;

        const frontDoor = address === undefined || s.frontDoor === undefined ? undefined : new FrontDoor(`${prefix}-front-door`, {
            project: s.project,
            address,
            names: fdNames,
            backends: services.map((x) => ({ region: x.region, service: x.service.service })),
            // Cloud Armor turns away requests without the credential the access mode needs, before any GPU wakes.
            credentials: s.apiKey === undefined ? "iam" : "api-key",
            rateLimitPerMinute: s.frontDoor.rateLimitPerMinute,
            labels: s.labels,
        }, fresh({ dependsOn: [apis] }));
        const url = frontDoor?.url ?? service.url;

        const monitoring = new ServiceMonitoring(prefix, {
            project: s.project,
            region: s.region,
            serviceName: s.names.service,
            serviceUrl: service.url,
            deployedService: service.service,
            maxInstances: s.maxInstances,
            concurrency: s.concurrency,
            metrics: s.metrics,
            ...(others.length === 0 ? {} : { regions: s.regions.map((r) => r.region), maxInstancesByRegion: Object.fromEntries(s.regions.map((r) => [r.region, r.maxInstances])) }),
            title: prefix,
            alerts: s.alerts,
            uptimeCheck: s.uptimeCheck,
            publicService: s.public,
            budget: s.budget,
            auth: s.gcpAuth,
            labels: s.labels,
        }, fresh({ dependsOn: [apis] }));

        if (s.smokeTest) {
            new SmokeTest(`${prefix}-smoke`, {
                url,
                servedModelName: s.servedModelName,
                apiKey: s.apiKey,
                // Every region's rollout is tested once.
                revision: others.length === 0 ? service.latestReadyRevision : pulumi.all(services.map((x) => x.service.latestReadyRevision)).apply((r) => r.join(",")),
                // Through the front door, and each region's run.app URL must refuse outside traffic. A new
                // managed certificate takes minutes to an hour (TLS fails until then): wait up to an hour.
                ...(others.length === 0 ? {} : { regionalUrls: pulumi.all(Object.fromEntries(services.map((x) => [x.region, x.service.url]))), waitSeconds: FRONT_DOOR_SMOKE_WAIT_SECONDS }),
                ...(address && s.frontDoor?.domain !== undefined ? { dnsRecord: pulumi.interpolate`${s.frontDoor.domain}. 300 IN A ${address.ip}` } : {}),
                imageInput: preflight.plan.vision && s.imageInput,
                loraModels: s.loraAdapters.map((a) => a.name),
            }, child({ dependsOn: [...services.map((x) => x.service), ...(frontDoor ? [frontDoor] : [])] }));
        }

        const features = { imageInput: preflight.plan.vision && s.imageInput, loraModels: s.loraAdapters.map((a) => a.name) };
        const ready = url.apply((u) => snippets(u, s.servedModelName, accessMode(s.apiKey !== undefined, s.public), features));
        // The constructor has returned by now (this method awaited above), so every output exists.
        this.registerOutputs(Object.fromEntries(VLLM_CLOUDRUN_OUTPUTS.map((k) => [k, this[k]])));
        return { preflight, service, services, url, address, imageBuild, baseImage, identities, quota, monitoring, snippets: ready };
    }
}
