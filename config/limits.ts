// Limits that Google Cloud, the gcloud CLI and Hugging Face enforce, in one place, each with
// its source, so a value they would reject after a 20-minute build is rejected during preview.

/**
 * Cloud Run: minimum vCPUs for a memory limit ("More than 4 GiB needs 2 CPUs, more than 8 GiB
 * 4, more than 16 GiB 6, more than 24 GiB 8"), the maximum of 32 GiB, and the CPU values a
 * GPU instance may use. Source: https://cloud.google.com/run/docs/configuring/services/memory-limits
 * and .../services/cpu (read 2026-11).
 */
export const CLOUD_RUN_MIN_CPU_FOR_MEMORY: readonly { moreThanGiB: number; minCpu: number }[] = [
    { moreThanGiB: 24, minCpu: 8 },
    { moreThanGiB: 16, minCpu: 6 },
    { moreThanGiB: 8, minCpu: 4 },
    { moreThanGiB: 4, minCpu: 2 },
];
export const CLOUD_RUN_MAX_MEMORY_GIB = 32;

/** The fewest vCPUs Cloud Run accepts with this much memory. */
export function minCpuForMemory(memGiB: number): number {
    return CLOUD_RUN_MIN_CPU_FOR_MEMORY.find((r) => memGiB > r.moreThanGiB)?.minCpu ?? 1;
}

/** Largest memory (GiB) Cloud Run accepts with this many vCPUs. */
export function maxMemoryForCpu(cpu: number): number {
    const row = [...CLOUD_RUN_MIN_CPU_FOR_MEMORY].reverse().find((r) => r.minCpu > cpu);
    return row === undefined ? CLOUD_RUN_MAX_MEMORY_GIB : row.moreThanGiB;
}

/**
 * `gcloud builds submit` flags, as gcloud 528 parses them before any request
 * (googlecloudsdk/command_lib/builds/flags.py): --machine-type is the BuildOptions enum,
 * --disk-size is a BinarySize between 100GB and 1TB (1024 GB; the API itself allows 4000),
 * and Cloud Build fails builds that run longer than 24 hours
 * (https://cloud.google.com/build/docs/build-config-file-schema#timeout).
 */
export const BUILD_MACHINE_TYPES = ["e2-medium", "e2-highcpu-8", "e2-highcpu-32", "n1-highcpu-8", "n1-highcpu-32"] as const;
export const BUILD_DISK_GB = { min: 100, max: 1024 } as const;
export const BUILD_TIMEOUT_MINUTES = { min: 10, max: 24 * 60 } as const;

/**
 * Google Cloud project ids: 6-30 characters, lower-case letters, digits and hyphens, starting
 * with a letter, not ending with a hyphen (https://cloud.google.com/resource-manager/docs/creating-managing-projects).
 * Domain-scoped ids (`example.com:proj`) are valid projects but cannot name buckets or
 * Artifact Registry hosts the way this program does, so they are refused with that reason.
 */
export const PROJECT_ID = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;

/**
 * Hugging Face repository ids, as huggingface_hub's validate_repo_id checks them
 * (src/huggingface_hub/utils/_validators.py): `namespace/name`, word characters, `-` and `.`,
 * a name of at most 96 characters, starting and ending with a word character, and no `--` or `..`.
 */
export const HF_REPO_ID = /^\b[\w.-]+\b\/\b[\w.-]{1,96}\b$/;

/**
 * LoRA adapter names: what vLLM's `--lora-modules NAME=PATH` and a path component under /opt/lora
 * both take as is (no `=`, `/` or spaces), and a model name clients send.
 */
export const LORA_ADAPTER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Secret Manager payloads are at most 64 KiB (https://cloud.google.com/secret-manager/quotas). */
export const SECRET_MAX_BYTES = 65536;

/**
 * Bucket names: 3-63 characters of a-z, 0-9, `-`, `_`, `.`, starting and ending with a letter
 * or digit, never starting with "goog" nor containing "google" (or close misspellings)
 * (https://cloud.google.com/storage/docs/buckets#naming).
 */
export const BUCKET_NAME = /^[a-z0-9][a-z0-9_.-]{1,61}[a-z0-9]$/;
export const BUCKET_FORBIDDEN = [/^goog/, /google/, /g00gle/];

/** Artifact Registry repository ids: lower-case letters, digits, hyphens; start with a letter; at most 63. */
export const REPOSITORY_ID = /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Cloud Run service names: at most 49 characters, a-z 0-9 -, start with a letter, not end with -. */
export const CLOUD_RUN_SERVICE_NAME = /^[a-z]([a-z0-9-]{0,47}[a-z0-9])?$/;

/** Service account ids: 6-30 characters, a-z 0-9 -, start with a letter, not end with -. */
export const SERVICE_ACCOUNT_ID = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;

/** Secret ids: at most 255 of [A-Za-z0-9_-]. */
export const SECRET_ID = /^[A-Za-z0-9_-]{1,255}$/;


/**
 * Cloud Build regions every project may use: "some projects might be restricted to only use Cloud
 * Build in" these (https://cloud.google.com/build/docs/locations, "Restricted regions for some
 * projects", read 2026-11); elsewhere such a project fails with FAILED_PRECONDITION. The build runs
 * in the nearest of them by default, and pushes to the service region's repository.
 */
export const CLOUD_BUILD_UNRESTRICTED_REGIONS = ["us-central1", "us-west2", "europe-west1", "asia-east1", "australia-southeast1", "southamerica-east1"] as const;
const NEAREST_UNRESTRICTED_BUILD_REGION: Readonly<Record<string, string>> = {
    "us-central1": "us-central1",
    "us-east4": "us-central1",
    "europe-west1": "europe-west1",
    "europe-west4": "europe-west1",
    "asia-southeast1": "asia-east1",
};

/** The build region for a service region: itself when every project may build there, else the nearest that is. */
export function defaultBuildRegion(serviceRegion: string): string {
    return NEAREST_UNRESTRICTED_BUILD_REGION[serviceRegion] ?? serviceRegion;
}

/** Google Cloud region names (e.g. us-east4, europe-west1). */
export const REGION_NAME = /^[a-z]+-[a-z]+[0-9]+$/;

const MEMORY = /^([1-9][0-9]*)(Gi|Mi)$/;

/** A Cloud Run memory quantity (`32Gi`, `16384Mi`) in GiB, or undefined when malformed. */
export function memoryGiB(memory: string): number | undefined {
    const m = MEMORY.exec(memory);
    if (!m) return undefined;
    return m[2] === "Gi" ? Number(m[1]) : Number(m[1]) / 1024;
}

/**
 * The metrics sidecar's size: 1 vCPU is the least Cloud Run allows outside request-based billing
 * (below 1 vCPU needs request-based billing, which GPU services cannot use), 512 MiB the least in
 * the second-generation environment (https://cloud.google.com/run/docs/configuring/services/cpu, .../memory-limits).
 */
export const SIDECAR_CPU = 1;
export const SIDECAR_MEMORY_MIB = 512;
