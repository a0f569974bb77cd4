// Which vllm/vllm-openai releases carry kernels for which GPU, for the compatibility rule.
// Blackwell (the RTX PRO 6000, compute capability 12.0) needs kernels built with CUDA 12.8+ for
// sm_120: vLLM's release images moved from CUDA 12.4 to 12.8 with v0.9.0, and sm_120 joined the
// image's torch_cuda_arch_list on 2025-06-18 (vllm-project/vllm docker/Dockerfile), so v0.9.2
// (2025-07) is the first release image with them. The L4 (sm_89) runs every release: Cloud
// Run's 535 driver (CUDA 12.2) runs the 12.8 builds through the CUDA forward-compatibility
// libraries the images ship (docker/Dockerfile sets VLLM_ENABLE_CUDA_COMPATIBILITY=1).
import { parseImageRef } from "./image-ref";

/** -1, 0 or 1 for dotted version strings ("12.8" < "12.10"). */
export function compareVersions(a: string, b: string): number {
    const pa = a.split(".").map(Number);
    const pb = b.split(".").map(Number);
    for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
        const d = (pa[i] ?? 0) - (pb[i] ?? 0);
        if (d !== 0) return Math.sign(d);
    }
    return 0;
}

/**
 * The vLLM release of a vllm/vllm-openai image tag (`v0.10.2`, `v0.8.5.post1` -> `0.8.5`), or
 * undefined for other images, bare digests and tags this cannot place (those pass unchecked).
 */
export function vllmRelease(image: string): string | undefined {
    const ref = parseImageRef(image);
    if (ref === undefined || ref.tag === undefined || ref.registry !== "docker.io" || ref.path !== "vllm/vllm-openai") return undefined;
    return /^v?(\d+\.\d+\.\d+)(?:\.post\d+)?$/.exec(ref.tag)?.[1];
}
