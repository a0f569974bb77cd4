// The package schema as `pulumi package add` infers it, without the CLI: what Pulumi's Node.js
// plugin host (@pulumi/pulumi cmd/run-plugin/run.js) does once it finds components in
// package.json "main" — name the provider after package.json "name", then
// ComponentProvider.getSchema(), which runs the SDK's TypeScript analyzer over the sources.
import * as fs from "fs";
import * as path from "path";
import { ComponentProvider, getPulumiComponents } from "@pulumi/pulumi/provider/experimental/provider";

export const ROOT = path.resolve(__dirname, "..");
/** Committed copy, for reading the schema without running the analyzer (examples, users). */
export const SCHEMA_FILE = path.join(ROOT, "examples", "schema.json");

/** How run.js names the provider (and its namespace) from package.json "name". */
export function providerNameOf(name: string): { name: string; namespace?: string } {
    const m = /(@.*?\/)?(.+)/.exec(name) as RegExpExecArray;
    return { name: m[2].replace(/[^-a-zA-Z0-9_]/g, "-"), namespace: m[1] ? m[1].substring(1, m[1].length - 1) : undefined };
}

/** The inferred schema, formatted as examples/schema.json holds it. Type-checks the whole program: ~25 s. */
export async function inferPackageSchema(): Promise<string> {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { name: string; main: string };
    const { name, namespace } = providerNameOf(pkg.name);
    // The plugin host loads the package the same way: a CommonJS require of "main".
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const components = getPulumiComponents(require(path.join(ROOT, pkg.main)));
    const provider = new ComponentProvider({ name, namespace, dirname: ROOT, components });
    return JSON.stringify(JSON.parse(await provider.getSchema()), null, 2) + "\n";
}
