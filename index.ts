// The stack program: reads the stack's config, constructs the one component, exports its
// outputs. Everything else lives in components/vllm-cloudrun.ts.
import * as pulumi from "@pulumi/pulumi";
import { readStackConfig } from "./config";
import { VllmCloudRun, VLLM_CLOUDRUN_OUTPUTS } from "./components/vllm-cloudrun";

// Pulumi awaits this function; every check fails before any cloud resource is created.
export = async () => {
    // Named after the Pulumi project, so every resource keeps the name and URN it had before
    // the component existed (`<project>-<stack>` ...).
    const llm = new VllmCloudRun(pulumi.getProject(), readStackConfig());
    await llm.ready();
    return Object.fromEntries(VLLM_CLOUDRUN_OUTPUTS.map((k) => [k, llm[k]]));
};
