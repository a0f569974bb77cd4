// `npm run contract`: writes what derives from config/contract.ts (the args interface,
// Pulumi.yaml's config block, the README's table) and the package schema inferred from the
// component (examples/schema.json). `npm run contract -- --check` only compares.
import * as fs from "fs";
import * as path from "path";
import { parseDocument } from "yaml";
import { argsSource, pulumiYamlConfig, readmeSection } from "../config/contract-render";
import { modelTableSection } from "../config/model-table";
import { inferPackageSchema, SCHEMA_FILE } from "./package-schema";

const ROOT = path.resolve(__dirname, "..");
const MARKERS = /<!-- contract:start[^]*?<!-- contract:end -->/;
const MODEL_MARKERS = /<!-- models:start[^]*?<!-- models:end -->/;

/**
 * Pulumi.yaml with the contract's `config:` block. Namespaced entries that are not the contract's
 * (`pulumi:tags`, which `pulumi new` adds) are kept, and a file whose config already means the
 * same is left as it is: `pulumi new` rewrites Pulumi.yaml in its own layout.
 */
export function pulumiYamlText(current: string): string {
    const doc = parseDocument(current);
    const config = (doc.toJS() as { config?: Record<string, unknown> }).config ?? {};
    const wanted = pulumiYamlConfig();
    const others = Object.fromEntries(Object.entries(config).filter(([k]) => k.includes(":")));
    const same = JSON.stringify(Object.fromEntries(Object.entries(config).filter(([k]) => !k.includes(":")))) === JSON.stringify(wanted);
    if (same) return current;
    doc.set("config", { ...wanted, ...others });
    return doc.toString({ lineWidth: 0 });
}

/** Every generated file with the text it should have. */
export function expectedFiles(): Record<string, string> {
    const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
    if (!MARKERS.test(readme)) throw new Error("README.md has no <!-- contract:start --> ... <!-- contract:end --> markers");
    if (!MODEL_MARKERS.test(readme)) throw new Error("README.md has no <!-- models:start --> ... <!-- models:end --> markers");
    return {
        "config/args.ts": argsSource(),
        // Function replacers: the generated text is inserted as is ($ in it is not a pattern).
        "README.md": readme.replace(MARKERS, () => readmeSection()).replace(MODEL_MARKERS, () => modelTableSection()),
        "Pulumi.yaml": pulumiYamlText(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")),
    };
}

async function main(argv: string[]): Promise<number> {
    const check = argv.includes("--check");
    let stale = 0;
    const write = (full: string, text: string) => {
        const current = fs.existsSync(full) ? fs.readFileSync(full, "utf8") : "";
        if (current === text) return;
        stale++;
        const file = path.relative(ROOT, full);
        if (check) console.error(`${file} is out of date with config/contract.ts or config/models.json: run npm run contract`);
        else {
            fs.writeFileSync(full, text);
            console.log(`wrote ${file}`);
        }
    };
    for (const [file, text] of Object.entries(expectedFiles())) write(path.join(ROOT, file), text);
    // The schema reads the args interface just written, so it comes last.
    write(SCHEMA_FILE, await inferPackageSchema());
    return check && stale > 0 ? 1 : 0;
}

if (require.main === module) {
    main(process.argv.slice(2)).then(
        (code) => (process.exitCode = code),
        (e: unknown) => {
            console.error(e);
            process.exitCode = 1;
        },
    );
}
