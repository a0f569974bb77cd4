import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { startupEstimate } from "../config/startup";
import { runProgram } from "./harness";

describe("startup window", () => {
    it("grows with the mode, the weights and where they load from", () => {
        assert.deepEqual(startupEstimate("fast", 1.86, "image"), { expectedSeconds: 79, windowSeconds: 240, exceedsCloudRunLimit: false, safetyFactor: 2 });
        assert.deepEqual(startupEstimate("throughput", 1.86, "image"), { expectedSeconds: 139, windowSeconds: 278, exceedsCloudRunLimit: false, safetyFactor: 2 });
        assert.deepEqual(startupEstimate("throughput", 14.2, "gcs"), { expectedSeconds: 404, windowSeconds: 808, exceedsCloudRunLimit: false, safetyFactor: 2 });
        // 51 GiB of bf16 Gemma 3 27B through Cloud Storage FUSE: the window stops at the 1800 s a GPU service allows.
        assert.deepEqual(startupEstimate("throughput", 51.09, "gcs"), { expectedSeconds: 1142, windowSeconds: 1800, exceedsCloudRunLimit: true, safetyFactor: 2 });
    });

    it("auto picks fast for scale-to-zero and throughput for warm instances", async () => {
        const cold = await runProgram();
        const warm = await runProgram({ config: { minInstances: 1 } });
        assert.equal(cold.outputs.startupMode, "fast");
        assert.equal(warm.outputs.startupMode, "throughput");
    });
});
