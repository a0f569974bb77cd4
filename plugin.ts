// The package's entry point (package.json "main"): what `pulumi package add` loads, through
// PulumiPlugin.yaml, to find the component and infer its schema, and what a TypeScript program
// imports to use it as a library. The stack program is index.ts (Pulumi.yaml "main").
export { VllmCloudRun } from "./components/vllm-cloudrun";
export type { VllmCloudRunArgs } from "./config/args";
