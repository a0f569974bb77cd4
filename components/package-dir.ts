// Where the local commands (the image build, the smoke test) find this package's scripts, its
// docker/ directory and its node_modules (ts-node): the package's own root.
import * as path from "path";

/** This package's root directory. */
export const PACKAGE_ROOT = path.resolve(__dirname, "..");

/**
 * The `dir` for local commands: none when Pulumi runs from the package itself (the stack
 * program: commands run there, and the inputs stay what they always were), else the package's
 * root — for a program that uses the component from elsewhere (a TypeScript import, or the SDK
 * `pulumi package add` generates, whose commands would otherwise run in that program's directory).
 */
export function commandDir(cwd: string = process.cwd()): string | undefined {
    return path.resolve(cwd) === PACKAGE_ROOT ? undefined : PACKAGE_ROOT;
}
