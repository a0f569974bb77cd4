// docker/vllm_cloudrun_auth.py, run by the real Python interpreter the way Starlette calls an
// ASGI middleware: the key is required everywhere but /health, /invocations included.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { spawnSync } from "child_process";
import * as path from "path";
import { DOCKER_DIR } from "../components/image-build";
import { skipUnlessAvailable } from "./docker";

const python = spawnSync("python3", ["--version"], { encoding: "utf8" });
const unavailable = python.status === 0 ? undefined : "python3 is not installed";

describe("API-key middleware baked into the image", { skip: skipUnlessAvailable(unavailable) }, () => {
    it("guards every path but /health, including vLLM's unguarded /invocations", () => {
        if (unavailable) throw new Error(unavailable);
        const r = spawnSync("python3", [path.join(__dirname, "fixtures", "check_auth_middleware.py"), DOCKER_DIR], { encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
        const results = JSON.parse(r.stdout) as Record<string, unknown>[];
        assert.deepEqual(results, [
            { path: "/invocations", auth: null, status: 401, reachedApp: false },
            { path: "/invocations", auth: "Bearer wrong", status: 401, reachedApp: false },
            { path: "/invocations", auth: "Bearer sk-test-key-0123456789", status: 200, reachedApp: true },
            { path: "/v1/chat/completions", auth: null, status: 401, reachedApp: false },
            { path: "/v1/chat/completions", auth: "Bearer sk-test-key-0123456789", status: 200, reachedApp: true },
            { path: "/tokenize", auth: null, status: 401, reachedApp: false },
            { path: "/metrics", auth: null, status: 401, reachedApp: false },
            { path: "/health", auth: null, status: 200, reachedApp: true },
            { path: "/", auth: null, status: null, reachedApp: true },
            { emptyKey: "RequireApiKey needs VLLM_API_KEY" },
        ]);
    });
});
