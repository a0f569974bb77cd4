// What the engine and the Command provider do with a local.Command whose inputs changed, so tests
// can say which shell text a change would run. pulumi-command v1.2.1:
// provider/pkg/provider/common/inputs.go tags `triggers` replaceOnChanges (a change replaces the
// resource, which runs `create`); local/commandController.go's Update runs `update`, or `create`
// when there is no `update`. The engine also replaces on any path in the replaceOnChanges option.
import { isDeepStrictEqual } from "util";

export type CommandAction = { kind: "none" } | { kind: "replace"; runs: string } | { kind: "update"; runs: string };

export function commandAction(olds: Record<string, unknown>, news: Record<string, unknown>, replaceOnChanges: string[] = []): CommandAction {
    const changed = [...new Set([...Object.keys(olds), ...Object.keys(news)])].filter((k) => !isDeepStrictEqual(olds[k], news[k]));
    if (changed.length === 0) return { kind: "none" };
    if (changed.includes("triggers") || changed.some((k) => replaceOnChanges.includes(k))) return { kind: "replace", runs: String(news.create) };
    return { kind: "update", runs: String(news.update ?? news.create) };
}
