import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";

/** The one shell line every wait runs; the duration comes through the environment. */
export const WAIT_COMMAND = 'sleep "$WAIT_SECONDS"';

/**
 * Waits `seconds` after `after` are created, for Google's eventually consistent changes
 * (API enablement, IAM grants) to reach every backend before dependents use them. Runs once
 * on create (and again when `triggers` change); nothing to undo on destroy.
 */
export function propagationWait(
    name: string,
    seconds: number,
    after: pulumi.Input<pulumi.Resource>[],
    parent: pulumi.Resource,
    triggers?: unknown[],
): command.local.Command {
    return new command.local.Command(
        name,
        { create: WAIT_COMMAND, environment: { WAIT_SECONDS: String(seconds) }, ...(triggers === undefined ? {} : { triggers }) },
        { parent, dependsOn: after },
    );
}
