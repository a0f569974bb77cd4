import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { startupEstimate } from "../config/startup";
import { runProgram } from "./harness";

describe("startup window", () => {
    it("grows with the mode, the weights and where they load from", () => {
        assert.deepEqual(startupEstimate("fast", 1.86, "image"), { expectedSeconds: 79, windowSeconds: 240, exceedsCloudRunLimit: false });
        assert.deepEqual(startupEstimate("throughput", 1.86, "image"), { expectedSeconds: 139, windowSeconds: 278, exceedsCloudRunLimit: false });
        assert.deepEqual(startupEstimate("throughput", 14.2, "gcs"), { expectedSeconds: 404, windowSeconds: 480, exceedsCloudRunLimit: true });
    });

    it("auto picks fast for scale-to-zero and throughput for warm instances", async () => {
        const cold = await runProgram();
        const warm = await runProgram({ config: { minInstances: 1 } });
        assert.equal(cold.outputs.startupMode, "fast");
        assert.equal(warm.outputs.startupMode, "throughput");
    });
});
