import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import { ProviderAuth, projectBilledProvider } from "./billed-provider";
import { CPU_QUOTA_ID, GPU_TYPES, MEMORY_QUOTA_ID } from "../config/gpus";

const SERVICE = "run.googleapis.com";

export interface GpuQuotaCheckArgs extends QuotaNeeds {
    /** Credentials of the Google provider, for the provider this check creates. Default: ADC. */
    auth?: ProviderAuth;
}

/** What Cloud Quotas returns for one quota, reduced to what the check reads. */
export interface QuotaInfo {
    dimensionsInfos: { dimensions: Record<string, string>; applicableLocations: string[]; details: { value: string }[] }[];
}

/**
 * The value in force for `region`: the entry for that region, else the default entry (no
 * dimensions). -1 means unlimited; undefined when the quota lists nothing for the region.
 */
export function grantedIn(info: QuotaInfo, region: string): number | undefined {
    const infos = info.dimensionsInfos ?? [];
    const entry =
        infos.find((d) => d.dimensions?.region === region) ??
        infos.find((d) => Object.keys(d.dimensions ?? {}).length === 0 && (d.applicableLocations ?? []).includes(region)) ??
        infos.find((d) => Object.keys(d.dimensions ?? {}).length === 0);
    const value = entry?.details?.[0]?.value;
    return value === undefined || value === "" ? undefined : Number(value);
}

/**
 * Whole GPUs from a GPU quota value: divided by the GPU's quota units (milli-GPUs for the RTX PRO
 * 6000). A value below one unit that is not 0 or -1 is read as whole GPUs, so the check never
 * refuses a project for a unit it got wrong.
 */
export function gpusFromQuota(gpuType: string, value: number | undefined): number | undefined {
    const units = GPU_TYPES[gpuType].quotaUnitsPerGpu;
    if (value === undefined || value <= 0 || units === 1 || value < units) return value;
    return Math.floor(value / units);
}

export interface QuotaReport {
    /** Empty when the quota is enough; otherwise the lines of the error message. */
    problems: string[];
    gpuQuotaId: string;
    gpuGranted: number;
    gpuNeeded: number;
    memoryGrantedGiB?: number;
    memoryNeededGiB: number;
    cpuGranted?: number;
    cpuNeeded: number;
}

/** What the stack will ask Cloud Run for, in one region. */
export interface QuotaNeeds {
    /** Project id. */
    project: string;
    region: string;
    gpuType: string;
    /** Which GPU quota the service draws from: with or without zonal redundancy. */
    zonalRedundancy: boolean;
    /** GPUs the service may use at once. */
    maxInstances: number;
    /** Memory per instance, in GiB (checked against the region's Cloud Run memory quota). */
    memoryGiB: number;
    /** vCPUs per instance (checked against the region's Cloud Run CPU quota). */
    cpu: number;
}

/** The problems with the granted quota, as lines of one message (empty when it is enough). */
export function quotaProblems(needs: QuotaNeeds, gpuGranted: number | undefined, memoryBytes: number | undefined, cpuMilli?: number): string[] {
    const gpu = GPU_TYPES[needs.gpuType];
    const quotaId = needs.zonalRedundancy ? gpu.quotaIds.zonal : gpu.quotaIds.nonZonal;
    const problems: string[] = [];
    const granted = gpuGranted ?? 0;
    if (granted !== -1 && granted < needs.maxInstances) {
        const mode = needs.zonalRedundancy ? "with zonal redundancy" : "without zonal redundancy";
        problems.push(
            `GPU quota ${SERVICE}/${quotaId} (${needs.gpuType} ${mode}) in ${needs.region} is ${granted}; this stack needs ${needs.maxInstances} (maxInstances).`,
            // In the quota's own units (milli-GPUs for the RTX PRO 6000).
            `  request it: gcloud beta quotas preferences create --service=${SERVICE} --quota-id=${quotaId} --preferred-value=${needs.maxInstances * gpu.quotaUnitsPerGpu} --dimensions=region=${needs.region} --project=${needs.project} --email="$(gcloud config get-value account)"`,
            `  or in the console: https://console.cloud.google.com/iam-admin/quotas?project=${needs.project} (filter: ${quotaId}, region ${needs.region})`,
            ...(granted > 0 ? [`  or lower the need: npx pulumi config set maxInstances ${granted}`] : []),
            ...(needs.zonalRedundancy ? ["  or use the quota new projects get more easily: npx pulumi config set gpuZonalRedundancy false"] : []),
        );
    }
    if (memoryBytes !== undefined && memoryBytes !== -1) {
        const neededGiB = needs.memoryGiB * needs.maxInstances;
        const grantedGiB = memoryBytes / 1024 ** 3;
        if (grantedGiB < neededGiB) {
            problems.push(
                `Cloud Run memory quota ${SERVICE}/${MEMORY_QUOTA_ID} in ${needs.region} is ${grantedGiB} GiB; ${needs.maxInstances} instance(s) x ${needs.memoryGiB} GiB need ${neededGiB} GiB.`,
                `  request it: gcloud beta quotas preferences create --service=${SERVICE} --quota-id=${MEMORY_QUOTA_ID} --preferred-value=${neededGiB * 1024 ** 3} --dimensions=region=${needs.region} --project=${needs.project} --email="$(gcloud config get-value account)"`,
            );
        }
    }
    if (cpuMilli !== undefined && cpuMilli !== -1) {
        const needed = needs.cpu * needs.maxInstances;
        const granted = cpuMilli / 1000;
        if (granted < needed) {
            problems.push(
                `Cloud Run CPU quota ${SERVICE}/${CPU_QUOTA_ID} in ${needs.region} is ${granted} vCPU; ${needs.maxInstances} instance(s) x ${needs.cpu} vCPU need ${needed}.`,
                `  request it: gcloud beta quotas preferences create --service=${SERVICE} --quota-id=${CPU_QUOTA_ID} --preferred-value=${needed * 1000} --dimensions=region=${needs.region} --project=${needs.project} --email="$(gcloud config get-value account)"`,
                ...(Math.floor(granted / needs.cpu) > 0 ? [`  or lower the need: npx pulumi config set maxInstances ${Math.floor(granted / needs.cpu)}`] : []),
            );
        }
    }
    return problems;
}

/**
 * Reads the region's Cloud Run GPU, memory and CPU quota through the Cloud Quotas API after the
 * APIs are enabled. `passed` fails the update with the quota id, what is granted, what is needed
 * and the request command when the quota is too small: the image build waits for it, so a short
 * quota costs seconds, not a 20-minute build.
 */
export class GpuQuotaCheck extends pulumi.ComponentResource {
    /** What was read and needed (never fails; safe to export). */
    readonly report: pulumi.Output<QuotaReport>;
    /** Resolves when the quota is enough; otherwise rejects with the whole message. Gate on it. */
    readonly passed: pulumi.Output<true>;

    constructor(name: string, args: GpuQuotaCheckArgs, opts?: pulumi.ComponentResourceOptions) {
        super("vllm-cloudrun:quota:GpuQuotaCheck", name, {}, opts);
        const gpu = GPU_TYPES[args.gpuType];
        const gpuQuotaId = args.zonalRedundancy ? gpu.quotaIds.zonal : gpu.quotaIds.nonZonal;

        // The Cloud Quotas API needs a quota project: bill the calls to the stack's project.
        const provider = projectBilledProvider(`${name}-provider`, args.project, args.auth, this);
        const invokeOpts = { parent: this, provider, dependsOn: opts?.dependsOn };
        const parent = `projects/${args.project}`;
        const gpuInfo = gcp.cloudquota.getSQuotaInfoOutput({ parent, service: SERVICE, quotaId: gpuQuotaId }, invokeOpts);
        const memInfo = gcp.cloudquota.getSQuotaInfoOutput({ parent, service: SERVICE, quotaId: MEMORY_QUOTA_ID }, invokeOpts);
        const cpuInfo = gcp.cloudquota.getSQuotaInfoOutput({ parent, service: SERVICE, quotaId: CPU_QUOTA_ID }, invokeOpts);

        this.report = pulumi.all([gpuInfo, memInfo, cpuInfo]).apply(([g, m, c]) => {
            const gpuGranted = gpusFromQuota(args.gpuType, grantedIn(g, args.region));
            const memBytes = grantedIn(m, args.region);
            const cpuMilli = grantedIn(c, args.region);
            return {
                problems: quotaProblems(args, gpuGranted, memBytes, cpuMilli),
                gpuQuotaId,
                gpuGranted: gpuGranted ?? 0,
                gpuNeeded: args.maxInstances,
                memoryGrantedGiB: memBytes === undefined ? undefined : memBytes / 1024 ** 3,
                memoryNeededGiB: args.memoryGiB * args.maxInstances,
                cpuGranted: cpuMilli === undefined ? undefined : cpuMilli / 1000,
                cpuNeeded: args.cpu * args.maxInstances,
            };
        });
        this.passed = this.report.apply((r) => {
            if (r.problems.length > 0) throw new pulumi.RunError(`Not enough quota for this stack; nothing was built:\n${r.problems.join("\n")}`);
            return true as const;
        });
        this.registerOutputs({ report: this.report });
    }
}
