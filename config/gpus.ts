// The GPUs this program can deploy on Cloud Run, in one place.
// Source: GPU_SOURCE (read 2026-11): one L4 (24 GB) per instance, at least 4 CPU and 16 GiB
// memory, driver 535 (CUDA 12.2). Cloud Run allows CPU 1, 2, 4, 6 or 8 and up to 32 GiB of
// memory per instance. L4 regions: asia-southeast1, europe-west1, europe-west4, us-east4
// self-serve; us-central1 and asia-south1 "available by invitation only".

export const GPU_SOURCE = "https://cloud.google.com/run/docs/configuring/services/gpu";

/** Region the examples and fix hints suggest: self-serve for the L4, Tier 1 prices. */
export const DEFAULT_REGION = "us-east4";

export interface GpuType {
    /** GPU memory in GB, as marketed. */
    memoryGB: number;
    /** GPU memory CUDA reports as total, in GiB: what vLLM's gpuMemoryUtilization is a fraction of. */
    usableGiB: number;
    /** Memory bandwidth in GB/s: decoding one token reads every weight once, so this bounds one stream's speed. */
    memoryBandwidthGBs: number;
    /** CPU counts Cloud Run accepts with this GPU. */
    cpus: number[];
    minMemoryGiB: number;
    maxMemoryGiB: number;
    /** Regions where Cloud Run offers this GPU. */
    regions: string[];
    /** Of those, the ones Google opens by invitation only (a project gets no quota there otherwise). */
    invitationOnlyRegions: string[];
    /**
     * Cloud Quotas ids (service run.googleapis.com, dimension region) of the GPU allocation, with
     * and without zonal redundancy (quota names in the console: "Total Nvidia L4 GPU allocation
     * [without zonal redundancy], per project per region").
     */
    quotaIds: { zonal: string; nonZonal: string };
}

export const GPU_TYPES: Readonly<Record<string, GpuType>> = Object.freeze({
    "nvidia-l4": {
        memoryGB: 24,
        // nvidia-smi reports 23034 MiB total on an L4.
        usableGiB: 22.49,
        // NVIDIA L4 datasheet: 300 GB/s GDDR6.
        memoryBandwidthGBs: 300,
        cpus: [4, 6, 8],
        minMemoryGiB: 16,
        maxMemoryGiB: 32,
        // asia-south1 is by invitation only and not offered here at all; us-central1 is allowed for
        // projects that have the invitation (the quota check tells the others).
        regions: ["asia-southeast1", "europe-west1", "europe-west4", "us-central1", "us-east4"],
        invitationOnlyRegions: ["us-central1"],
        quotaIds: { zonal: "NvidiaL4GpuAllocPerProjectRegion", nonZonal: "NvidiaL4GpuAllocNoZonalRedundancyPerProjectRegion" },
    },
});

/** Cloud Run instance memory allocated per project and region, in bytes (service run.googleapis.com). */
export const MEMORY_QUOTA_ID = "MemAllocPerProjectRegion";
/**
 * Cloud Run CPU allocated per project and region, in milli-vCPU; max instances x CPU must fit it
 * (https://cloud.google.com/run/docs/configuring/max-instances-limits; units: run/quotas).
 */
export const CPU_QUOTA_ID = "CpuAllocPerProjectRegion";

export function gpuRegionsFor(gpuType: string): string[] {
    return GPU_TYPES[gpuType]?.regions ?? [];
}
