// VllmCloudRun used from a Pulumi program of its own. This example lives in the component's
// repository, so it imports the source directly; any other program runs
// `pulumi package add https://github.com/OWNER/vllm-cloudrun@v0.2.0` and imports the SDK that
// command generates instead (see the README, "Use it from your own program").
import * as pulumi from "@pulumi/pulumi";
import { VllmCloudRun } from "../../plugin";

const gcp = new pulumi.Config("gcp");
const config = new pulumi.Config();

const llm = new VllmCloudRun("llm", {
    project: gcp.require("project"),
    region: gcp.require("region"),
    // A secret Output: the component refuses a token passed as a plain string.
    hfToken: config.requireSecret("hfToken"),
    maxInstances: 1,
    // Every other arg has a default; this one can be turned off where Hugging Face or the
    // Google APIs are unreachable: pulumi config set preflightChecks false
    preflightChecks: config.getBoolean("preflightChecks"),
});

export const serviceUrl = llm.serviceUrl;
export const curlCommand = llm.curlCommand;
