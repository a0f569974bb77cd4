import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { commandDir } from "./package-dir";

/** Runs client/smoke.ts (the same code as `npm run smoke`) from the package directory. */
export const SMOKE_COMMAND = 'node --require ts-node/register "$SMOKE_SCRIPT"';

export interface SmokeTestArgs {
    url: pulumi.Input<string>;
    servedModelName: pulumi.Input<string>;
    /** The API key, when the service requires one; kept secret in state. */
    apiKey?: pulumi.Input<string>;
    /** Changes whenever a new revision is rolled out, so every rollout is tested once. */
    revision: pulumi.Input<string>;
    /** Seconds to wait for /health (a cold start included). Default: 900. */
    waitSeconds?: number;
    /** With a domain behind the front door: the DNS record its certificate waits for, shown while TLS fails. Default: none. */
    dnsRecord?: pulumi.Input<string>;
    /** Also send one chat request with an image (the model must take images). Default: false. */
    imageInput?: boolean;
    /** LoRA adapter names: each must be listed by /v1/models and answer one chat. Default: none. */
    loraModels?: readonly string[];
    /**
     * Region -> run.app URL of a multi-region stack (`url` is then its front door): each must refuse
     * a direct request, as ingress "internal and Cloud Load Balancing" does, so Cloud Armor can't be
     * bypassed. Passed as SMOKE_REGIONAL_URLS (JSON). Default: none (no regional checks, and the
     * Command's environment is exactly what it was without this argument).
     */
    regionalUrls?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/**
 * The smoke test's environment for image input and LoRA adapters: nothing when both are off, so
 * the Command's inputs (and existing stacks) stay as they were.
 */
export function smokeFeatureEnv(imageInput = false, loraModels: readonly string[] = []): Record<string, string> {
    for (const name of loraModels) {
        // SMOKE_LORA_MODELS is comma-separated.
        if (name.trim() === "" || name.includes(",") || name !== name.trim()) throw new Error(`SmokeTest: LoRA adapter name ${JSON.stringify(name)} must be non-empty, without commas or surrounding spaces.`);
    }
    return {
        ...(imageInput ? { SMOKE_IMAGE_INPUT: "1" } : {}),
        ...(loraModels.length > 0 ? { SMOKE_LORA_MODELS: loraModels.join(",") } : {}),
    };
}

/**
 * The smoke test's environment for regional checks: SMOKE_REGIONAL_URLS, the regions' URLs as a
 * JSON object (keys sorted, so a reordering changes nothing), only when regionalUrls is given, so
 * single-region stacks see no new input.
 */
export function smokeRegionalEnv(regionalUrls?: pulumi.Input<Record<string, pulumi.Input<string>>>): Record<string, pulumi.Output<string>> {
    if (regionalUrls === undefined) return {};
    const json = pulumi.output(regionalUrls).apply((urls) => JSON.stringify(Object.fromEntries(Object.entries(urls).sort(([a], [b]) => a.localeCompare(b)))));
    return { SMOKE_REGIONAL_URLS: json };
}

/** How long Pulumi lets the smoke test run: its wait for /health plus 15 minutes. */
export function smokeTimeoutMinutes(waitSeconds = 900): number {
    return Math.ceil(waitSeconds / 60) + 15;
}

/**
 * Calls the deployed model as the last step of `pulumi up`: /health, /v1/models, one chat
 * completion and one streamed completion (plus one image request with imageInput, and one chat
 * per LoRA adapter in loraModels), with your Google credentials; with regionalUrls, also checks
 * that each region's run.app URL refuses a direct request. A deploy that does not answer (or a
 * region that does) fails the `up`.
 */
export class SmokeTest extends pulumi.ComponentResource {
    constructor(name: string, args: SmokeTestArgs, opts?: pulumi.ComponentResourceOptions) {
        super("vllm-cloudrun:smoke:SmokeTest", name, {}, opts);
        const features = smokeFeatureEnv(args.imageInput, args.loraModels);
        new command.local.Command(
            name,
            {
                create: SMOKE_COMMAND,
                environment: {
                    SMOKE_SCRIPT: "client/smoke.ts",
                    TS_NODE_TRANSPILE_ONLY: "true",
                    SERVICE_URL: args.url,
                    SERVED_MODEL_NAME: args.servedModelName,
                    SMOKE_WAIT_SECONDS: String(args.waitSeconds ?? 900),
                    ...(args.dnsRecord === undefined ? {} : { SMOKE_DNS_RECORD: args.dnsRecord }),
                    // The same gcloud login the image build already needs mints the tokens.
                    VLLM_ID_TOKEN_SOURCE: "gcloud",
                    ...features,
                    ...smokeRegionalEnv(args.regionalUrls),
                    ...(args.apiKey === undefined ? {} : { VLLM_API_KEY: pulumi.secret(args.apiKey) }),
                },
                triggers: [args.revision],
                addPreviousOutputInEnv: false,
                ...(commandDir() === undefined ? {} : { dir: commandDir() }),
            },
            // The wait plus 15 minutes for the calls themselves (30 minutes with the default wait).
            { parent: this, customTimeouts: { create: `${smokeTimeoutMinutes(args.waitSeconds)}m`, update: `${smokeTimeoutMinutes(args.waitSeconds)}m` } },
        );
        this.registerOutputs({});
    }
}
