// The GPUs this program can deploy on Cloud Run, in one place.
// Source: GPU_SOURCE (read 2026-11): one GPU per instance.
// - NVIDIA L4 (24 GB): at least 4 CPU and 16 GiB, driver 535 (CUDA 12.2). Cloud Run allows CPU
//   1, 2, 4, 6 or 8 and up to 32 GiB per instance. Regions: asia-southeast1, europe-west1,
//   europe-west4, us-east4 self-serve; us-central1 and asia-south1 "available by invitation only".
// - NVIDIA RTX PRO 6000 Blackwell (96 GB, Preview): "you must use a minimum of 20 CPU and 80 GiB
//   of memory", driver 580 (CUDA 13.0). Regions: asia-southeast1, europe-west4, us-central1;
//   asia-south2 by invitation only. The services page gives no maximum above the minimum, so
//   exactly 20 CPU and 80 GiB (the minimum, and what Google's codelab for it deploys) are accepted.

export const GPU_SOURCE = "https://cloud.google.com/run/docs/configuring/services/gpu";

/** Region the examples and fix hints suggest: self-serve for the L4, Tier 1 prices. */
export const DEFAULT_REGION = "us-east4";

export interface GpuType {
    /** Name in messages and the README. */
    displayName: string;
    /** GPU memory in GB, as marketed. */
    memoryGB: number;
    /** CUDA compute capability (FP8 W8A8 kernels need 8.9 or newer). */
    computeCapability: number;
    /** CUDA version of the driver Cloud Run installs. */
    driverCuda: string;
    /** Lowest CUDA version a vLLM image must be built with to have kernels for this GPU. */
    minImageCuda: string;
    /** First vllm/vllm-openai release with those kernels (see config/vllm-images.ts), if not every one. */
    minVllmRelease?: string;
    /** Launch stage on Cloud Run. */
    launchStage: "GA" | "Preview";
    /** CPU and memory when the stack sets none: the fewest the GPU allows at full memory. */
    defaultCpu: number;
    defaultMemory: string;
    /** GPU memory CUDA reports as total, in GiB: what vLLM's gpuMemoryUtilization is a fraction of. */
    usableGiB: number;
    /** Memory bandwidth in GB/s: decoding one token reads every weight once, so this bounds one stream's speed. */
    memoryBandwidthGBs: number;
    /** CPU counts Cloud Run accepts with this GPU. */
    cpus: number[];
    minMemoryGiB: number;
    maxMemoryGiB: number;
    /**
     * Most vCPU and memory one instance may have, all its containers together, where Cloud Run
     * documents one. A sidecar is carved out of these, never added above them.
     */
    instanceMax?: { cpu: number; memoryGiB: number };
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
    /** Quota units per GPU (1 unless Google counts this GPU's quota in milli-GPUs). */
    quotaUnitsPerGpu: number;
}

export const GPU_TYPES: Readonly<Record<string, GpuType>> = Object.freeze({
    "nvidia-l4": {
        displayName: "NVIDIA L4",
        memoryGB: 24,
        computeCapability: 8.9,
        driverCuda: "12.2",
        minImageCuda: "12.1",
        launchStage: "GA",
        defaultCpu: 8,
        defaultMemory: "32Gi",
        // nvidia-smi reports 23034 MiB total on an L4.
        usableGiB: 22.49,
        // NVIDIA L4 datasheet: 300 GB/s GDDR6.
        memoryBandwidthGBs: 300,
        cpus: [4, 6, 8],
        minMemoryGiB: 16,
        maxMemoryGiB: 32,
        // "The maximum amount of vCPU you can configure is 8 vCPU", "...memory... is 32 GiB"
        // (https://cloud.google.com/run/docs/configuring/services/cpu, .../memory-limits).
        instanceMax: { cpu: 8, memoryGiB: 32 },
        // asia-south1 is by invitation only and not offered here at all; us-central1 is allowed for
        // projects that have the invitation (the quota check tells the others).
        regions: ["asia-southeast1", "europe-west1", "europe-west4", "us-central1", "us-east4"],
        invitationOnlyRegions: ["us-central1"],
        quotaIds: { zonal: "NvidiaL4GpuAllocPerProjectRegion", nonZonal: "NvidiaL4GpuAllocNoZonalRedundancyPerProjectRegion" },
        quotaUnitsPerGpu: 1,
    },
    "nvidia-rtx-pro-6000": {
        displayName: "NVIDIA RTX PRO 6000 Blackwell",
        memoryGB: 96,
        // Blackwell GB202, sm_120: kernels need a CUDA 12.8+ build (NVIDIA CUDA 12.8 release notes).
        computeCapability: 12.0,
        driverCuda: "13.0",
        minImageCuda: "12.8",
        minVllmRelease: "0.9.2",
        launchStage: "Preview",
        defaultCpu: 20,
        defaultMemory: "80Gi",
        // 97887 MiB total as nvidia-smi reports the Server Edition's 96 GB of GDDR7.
        usableGiB: 95.59,
        // NVIDIA RTX PRO 6000 Blackwell Server Edition datasheet: 1597 GB/s GDDR7.
        memoryBandwidthGBs: 1597,
        cpus: [20],
        minMemoryGiB: 80,
        maxMemoryGiB: 80,
        // 20 vCPU and 80 GiB is documented as the minimum; no instance maximum is documented.
        regions: ["asia-south2", "asia-southeast1", "europe-west4", "us-central1"],
        invitationOnlyRegions: ["asia-south2"],
        // The L4 ids' pattern, as public code using the Cloud Quotas API with this GPU reads them (not
        // yet in Google's quota docs); that code divides the value by 1000 ("RTX 6000 milli-units").
        quotaIds: { zonal: "NvidiaRtxPro6000GpuAllocPerProjectRegion", nonZonal: "NvidiaRtxPro6000GpuAllocNoZonalRedundancyPerProjectRegion" },
        quotaUnitsPerGpu: 1000,
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

/** vCPU and memory of one container. */
export interface ContainerSize {
    cpu: number;
    memoryMiB: number;
}

/**
 * How an instance of `cpu` vCPU and `memoryGiB` splits between vLLM (which holds the GPU) and a
 * sidecar. Where the GPU has a documented instance maximum and the sidecar does not fit above the
 * configured size, vLLM gets the largest size Cloud Run allows (a CPU count the GPU takes, at most
 * the memory that CPU count allows) that leaves the sidecar room; undefined when that would fall
 * below the GPU's minimum. Without a documented maximum the sidecar is added on top.
 */
export function vllmContainerSize(gpu: GpuType, cpu: number, memoryGiB: number, sidecar: ContainerSize | undefined, maxMemoryForCpu: (cpu: number) => number): ContainerSize | undefined {
    const asConfigured = { cpu, memoryMiB: memoryGiB * 1024 };
    const max = gpu.instanceMax;
    if (sidecar === undefined || max === undefined) return asConfigured;
    if (cpu + sidecar.cpu <= max.cpu && memoryGiB * 1024 + sidecar.memoryMiB <= max.memoryGiB * 1024) return asConfigured;
    const fits = gpu.cpus.filter((c) => c <= cpu && c + sidecar.cpu <= max.cpu);
    if (fits.length === 0) return undefined;
    const vcpu = Math.max(...fits);
    const memoryMiB = Math.min(memoryGiB * 1024, max.memoryGiB * 1024 - sidecar.memoryMiB, maxMemoryForCpu(vcpu) * 1024);
    return memoryMiB < gpu.minMemoryGiB * 1024 ? undefined : { cpu: vcpu, memoryMiB };
}
