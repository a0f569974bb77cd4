// Reads settings, wires the components, exports outputs. Nothing else happens here.
import * as pulumi from "@pulumi/pulumi";
import { loadSettings, pullsThroughDockerHubRemote } from "./config";
import { runPreflight } from "./config/preflight";
import { ProjectApis } from "./components/apis";
import { TokenSecret } from "./components/secret";
import { ServiceIdentities } from "./components/identities";
import { ImageRegistry } from "./components/registry";
import { BaseImage } from "./components/base-image";
import { GpuQuotaCheck } from "./components/gpu-quota";
import { ImageBuild } from "./components/image-build";
import { LlmService } from "./components/service";
import { SmokeTest } from "./components/smoke-test";
import { accessMode, snippets } from "./client/snippets";

// Pulumi awaits this function; everything it checks fails before any resource exists.
export = async () => {
    const s = loadSettings();
    const preflight = await runPreflight(s, { network: s.preflightChecks });

    const prefix = s.names.prefix;

    const apis = new ProjectApis(prefix, { project: s.project });
    const afterApis = { dependsOn: [apis] };

    const identities = new ServiceIdentities(prefix, {
        project: s.project,
        runtimeAccountId: s.names.runtimeAccountId,
        buildAccountId: s.names.buildAccountId,
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
    const baseImage = new BaseImage(`${prefix}-base`, { image: s.baseImage, dockerHubUrl: registry.dockerHubUrl });

    // Enough GPU quota for maxInstances, checked before the build starts.
    const quota = s.preflightChecks
        ? new GpuQuotaCheck(`${prefix}-quota`, {
              project: s.project,
              region: s.region,
              gpuType: s.gpuType,
              zonalRedundancy: s.gpuZonalRedundancy,
              maxInstances: s.maxInstances,
              memoryGiB: s.memoryGiB,
              cpu: s.cpu,
              auth: s.gcpAuth,
          }, afterApis)
        : undefined;

    const imageBuild = new ImageBuild(prefix, {
        project: s.project,
        region: s.region,
        buildRegion: s.build.region,
        repositoryId: registry.repositoryId,
        repositoryUrl: registry.url,
        stagingBucketName: s.names.stagingBucket,
        buildServiceAccountEmail: identities.build.email,
        tokenSecretVersion: token.versionName,
        grants: [identities, token, registry],
        checks: quota ? [quota.passed] : [],
        baseImage: s.vllmImage,
        baseImagePull: baseImage.pullRef,
        baseImageDigest: baseImage.digest,
        model: s.model,
        modelRevision: s.modelRevision,
        weightsBucket: s.weights === "gcs" ? { name: s.names.weightsBucket, readers: [identities.runtimeMember] } : undefined,
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

    const service = new LlmService(prefix, {
        project: s.project,
        region: s.region,
        serviceName: s.names.service,
        image: imageBuild.imageDigestRef,
        serviceAccountEmail: identities.runtime.email,
        model: s.model,
        modelRevision: s.modelRevision,
        servedModelName: s.servedModelName,
        maxModelLen: s.maxModelLen,
        gpuMemoryUtilization: s.gpuMemoryUtilization,
        startupMode: s.startupMode,
        startupSeconds: preflight.startup.windowSeconds,
        gpuType: s.gpuType,
        cpu: s.cpu,
        memory: s.memory,
        minInstances: s.minInstances,
        maxInstances: s.maxInstances,
        concurrency: s.concurrency,
        gpuZonalRedundancy: s.gpuZonalRedundancy,
        deletionProtection: s.deletionProtection,
        invokers: s.invokers,
        public: s.public,
        apiKeySecret: apiKey && { secretId: apiKey.secretId, version: apiKey.version },
        weightsBucket: imageBuild.weightsBucket?.name,
        labels: s.labels,
    }, { dependsOn: apiKey ? [apis, apiKey] : [apis] });

    if (s.smokeTest) {
        new SmokeTest(`${prefix}-smoke`, {
            url: service.url,
            servedModelName: s.servedModelName,
            apiKey: s.apiKey,
            revision: service.latestReadyRevision,
        }, { dependsOn: [service] });
    }

    const mode = accessMode(s.apiKey !== undefined, s.public);
    const ready = service.url.apply((url) => snippets(url, s.servedModelName, mode));

    return {
        serviceUrl: service.url,
        serviceName: service.serviceName,
        image: imageBuild.imageDigestRef,
        baseImage: baseImage.pullRef,
        model: s.model,
        servedModelName: s.servedModelName,
        region: s.region,
        runtimeServiceAccount: identities.runtime.email,
        buildServiceAccount: identities.build.email,
        proxyCommand: pulumi.interpolate`gcloud run services proxy ${service.serviceName} --project ${s.project} --region ${s.region} --port 8080`,
        curlCommand: ready.curlCompletions,
        accessMode: mode,
        snippets: ready,
        startupMode: s.startupMode,
        startupEstimate: preflight.startup,
        gpuMemoryEstimate: preflight.memory,
        costEstimate: preflight.cost,
        ...(quota ? { gpuQuota: quota.report } : {}),
    };
};
