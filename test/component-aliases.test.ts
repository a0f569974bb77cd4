// A stack deployed before the program became one VllmCloudRun component must see no change:
// every resource it has is found again (by URN or by alias, resolved the way the Pulumi engine
// resolves them) with the same inputs, and nothing is created but the component itself.
import { afterEach, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { imageTag } from "../components/image-build";
import { DEPLOYER_PERMISSIONS } from "../config/permissions";
import { PROJECT, Registered, runProgram, RunOptions } from "./harness";

interface OldResource {
    type: string;
    name: string;
    parent?: string;
    inputs: Record<string, unknown>;
}
const BEFORE = JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures", "before-component.json"), "utf8")) as { resources: Record<string, OldResource[]> };
const ROOT_STACK = "pulumi:pulumi:Stack";

/** The configurations the fixture was recorded with (test/fixtures/before-component.json "configurations"). */
const CONFIGURATIONS: Record<string, RunOptions> = {
    default: {},
    preflightChecks: { config: { preflightChecks: true, maxInstances: 2 }, googlePost: () => Promise.resolve({ status: 200, data: { permissions: DEPLOYER_PERMISSIONS } }) },
    everyOption: {
        stack: "prod",
        config: { "gcp:region": "europe-west4", public: true, smokeTest: true, weights: "gcs", dockerHubUsername: "someone1", minInstances: 1, maxInstances: 2, invokers: ["user:a@example.com"] },
        secretConfig: { apiKey: "k".repeat(32), dockerHubToken: "dckr_pat_FAKE" },
    },
};

/** resource.NewURN as the engine builds it: the root stack's type is never part of a child's type. */
function urn(stack: string, qualifiedType: string, name: string): string {
    return `urn:pulumi:${stack}::${PROJECT}::${qualifiedType}::${name}`;
}
const qualifiedTypeOf = (u: string) => u.split("::")[2];
const nameOf = (u: string) => u.split("::").slice(3).join("::");

/** URNs of the old resources, keyed by `type::name`. */
function oldUrns(stack: string, olds: OldResource[]): Map<string, string> {
    const byKey = new Map(olds.map((o) => [`${o.type}::${o.name}`, o]));
    const urns = new Map<string, string>();
    const qualified = (o: OldResource): string => {
        const parent = o.parent === undefined || o.parent.startsWith(`${ROOT_STACK}::`) ? undefined : byKey.get(o.parent);
        return parent === undefined ? o.type : `${qualified(parent)}$${o.type}`;
    };
    for (const o of olds) urns.set(`${o.type}::${o.name}`, urn(stack, qualified(o), o.name));
    return urns;
}

/**
 * Registers the new resources against the old state the way the engine's step generator does
 * (pkg/resource/deploy/step_generator.go: generateAliases, inheritedChildAlias, getOldResource):
 * each resource is looked up by its URN, then by its aliases, which include the one its parent
 * was matched by. Returns new URN -> the old URN it took over (or undefined: a create).
 */
function matchAgainstOld(stack: string, news: Registered[], olds: Set<string>): Map<string, string | undefined> {
    const urnOf = new Map<string, string>();
    const matchedAlias = new Map<string, string>();
    const result = new Map<string, string | undefined>();
    for (const r of news) {
        if (r.type === ROOT_STACK) continue;
        const parentUrn = r.parent === undefined || r.parent.startsWith(`${ROOT_STACK}::`) ? undefined : urnOf.get(r.parent);
        const self = urn(stack, parentUrn === undefined ? r.type : `${qualifiedTypeOf(parentUrn)}$${r.type}`, r.name);
        urnOf.set(`${r.type}::${r.name}`, self);
        // collapseAliasToUrn: an alias spec names what differs (parent, type, name) from the resource.
        const specs = (r.aliases ?? []).map((a) => {
            assert.ok(typeof a === "object" && a !== null, `${self}: URN aliases are not modelled here`);
            const spec = a as pulumi.Alias;
            let qualifiedParent = parentUrn === undefined ? undefined : qualifiedTypeOf(parentUrn);
            if ("parent" in spec) {
                const p = spec.parent as unknown as { __pulumiType?: string } | undefined;
                assert.ok(p === undefined || p.__pulumiType === ROOT_STACK, `${self}: aliased to a parent other than the stack`);
                qualifiedParent = undefined;
            }
            const type = (spec.type as string | undefined) ?? r.type;
            return urn(stack, qualifiedParent === undefined ? type : `${qualifiedParent}$${type}`, (spec.name as string | undefined) ?? r.name);
        });
        const aliases = [...specs];
        const parentAlias = parentUrn === undefined ? undefined : matchedAlias.get(parentUrn);
        if (parentUrn !== undefined && parentAlias !== undefined) {
            // inheritedChildAlias, for the resource itself and for each of its own aliases.
            const parentName = nameOf(parentUrn);
            const inherit = (type: string, name: string) => urn(stack, `${qualifiedTypeOf(parentAlias)}$${type}`, name.startsWith(parentName) ? nameOf(parentAlias) + name.slice(parentName.length) : name);
            aliases.push(inherit(r.type, r.name), ...specs.map((u) => inherit(qualifiedTypeOf(u).split("$").pop() as string, nameOf(u))));
        }
        const found = [self, ...aliases].find((u) => olds.has(u));
        if (found !== undefined && found !== self) matchedAlias.set(self, found);
        result.set(self, found);
    }
    return result;
}

/**
 * Inputs with what changed on purpose since the fixture replaced: the docker/ content hash and
 * the image tag it makes (a later change to docker/ rebuilds, as it should), and the startup
 * probe, which stopped using initialDelaySeconds when GPU services got an 1800 s probe window
 * (a new revision, asserted on its own below).
 */
function normalized(inputs: unknown, all: { type: string; name: string; inputs: Record<string, unknown> }[]): unknown {
    const build = all.find((x) => x.type === "command:local:Command" && x.name.endsWith("-build"));
    const [contentHash, baseDigest] = (build?.inputs.triggers ?? []) as string[];
    let text = JSON.stringify(inputs);
    if (contentHash !== undefined) text = text.split(contentHash).join("<content-hash>").split(imageTag(contentHash, baseDigest)).join("<image-tag>");
    return JSON.parse(text, (key, value: unknown) => {
        if (key === "startupProbe") return "<startup-probe>";
        // Monitoring (0.3.0): one more API in the propagation wait's triggers, and the runtime
        // account's description says it writes metrics (an in-place update).
        if (key === "triggers" && Array.isArray(value)) return value.filter((v) => v !== "monitoring.googleapis.com");
        if (key === "description" && typeof value === "string" && value.startsWith("Runs the vLLM service")) return "<runtime-account-description>";
        return value;
    });
}

/** What monitoring (0.3.0) adds to every stack, metrics on or off: the API, the dashboard and their component. */
const MONITORING_CREATED = (stack: string) => [
    urn(stack, "vllm-cloudrun:index:VllmCloudRun$vllm-cloudrun:apis:ProjectApis$gcp:projects/service:Service", `${PROJECT}-${stack}-monitoring`),
    urn(stack, "vllm-cloudrun:index:VllmCloudRun$vllm-cloudrun:monitoring:ServiceMonitoring", `${PROJECT}-${stack}`),
    urn(stack, "vllm-cloudrun:index:VllmCloudRun$vllm-cloudrun:monitoring:ServiceMonitoring$gcp:monitoring/dashboard:Dashboard", `${PROJECT}-${stack}-dashboard`),
];

/** With metrics on (the default since 0.3.0), also the sidecar's config secret and the runtime account's metric writer role. */
const METRICS_CREATED = (stack: string) => [
    urn(stack, "vllm-cloudrun:index:VllmCloudRun$vllm-cloudrun:identities:ServiceIdentities$gcp:projects/iAMMember:IAMMember", `${PROJECT}-${stack}-runtime-metric-writer`),
    urn(stack, "vllm-cloudrun:index:VllmCloudRun$vllm-cloudrun:secret:TokenSecret", `${PROJECT}-${stack}-metrics-config`),
    urn(stack, "vllm-cloudrun:index:VllmCloudRun$vllm-cloudrun:secret:TokenSecret$gcp:secretmanager/secret:Secret", `${PROJECT}-${stack}-metrics-config`),
    urn(stack, "vllm-cloudrun:index:VllmCloudRun$vllm-cloudrun:secret:TokenSecret$gcp:secretmanager/secretVersion:SecretVersion", `${PROJECT}-${stack}-metrics-config-version`),
    urn(stack, "vllm-cloudrun:index:VllmCloudRun$vllm-cloudrun:secret:TokenSecret$gcp:secretmanager/secretIamMember:SecretIamMember", `${PROJECT}-${stack}-metrics-config-accessor-0`),
    urn(stack, "vllm-cloudrun:index:VllmCloudRun$vllm-cloudrun:secret:TokenSecret$command:local:Command", `${PROJECT}-${stack}-metrics-config-grant-propagation`),
];

/** The same configuration with metrics off, so the restructure is compared on its own. */
const withoutMetrics = (opts: RunOptions): RunOptions => ({ ...opts, config: { ...opts.config, metrics: false } });

const realFetch = globalThis.fetch;

describe("existing stacks after the restructure into one component", () => {
    afterEach(() => {
        globalThis.fetch = realFetch;
    });

    for (const [configuration, opts] of Object.entries(CONFIGURATIONS)) {
        it(`${configuration}: every resource keeps its identity and inputs; only the component is new`, async () => {
            globalThis.fetch = () => Promise.resolve(new Response("{}", { status: 200 }));
            const r = await runProgram(withoutMetrics(opts));
            assert.equal(r.error, undefined, String(r.error));
            const stack = opts.stack ?? "dev";
            const olds = BEFORE.resources[configuration];
            assert.ok(olds.length > 30, "the fixture has this configuration");
            const oldByUrn = new Map([...oldUrns(stack, olds)].map(([key, u]) => [u, olds.find((o) => `${o.type}::${o.name}` === key) as OldResource]));
            const matches = matchAgainstOld(stack, r.resources, new Set(oldByUrn.keys()));

            const created = [...matches].filter(([, old]) => old === undefined).map(([u]) => u);
            assert.deepEqual(created.sort(), [urn(stack, "vllm-cloudrun:index:VllmCloudRun", `${PROJECT}`), ...MONITORING_CREATED(stack)].sort(), "only the component and the dashboard are created");
            const claimed = [...matches.values()].filter((u): u is string => u !== undefined);
            assert.equal(new Set(claimed).size, claimed.length, "no old resource is claimed twice");
            assert.deepEqual([...oldByUrn.keys()].filter((u) => !claimed.includes(u)), [], "no old resource is left to delete");

            const newByUrn = new Map([...matches.keys()].map((u, i) => [u, r.resources.filter((x) => x.type !== ROOT_STACK)[i]]));
            for (const [u, oldUrn] of matches) {
                if (oldUrn === undefined) continue;
                const now = newByUrn.get(u) as Registered;
                const before = oldByUrn.get(oldUrn) as OldResource;
                assert.deepEqual(normalized(now.inputs, r.resources), normalized(before.inputs, olds), `inputs of ${u}`);
            }
        });
    }

    it("with metrics on (the default), an existing stack also gets the sidecar's secret and role, and only the service's template and vLLM's share of the instance change", async () => {
        for (const [configuration, opts] of Object.entries(CONFIGURATIONS)) {
            globalThis.fetch = () => Promise.resolve(new Response("{}", { status: 200 }));
            const r = await runProgram(opts);
            assert.equal(r.error, undefined, String(r.error));
            const stack = opts.stack ?? "dev";
            const olds = BEFORE.resources[configuration];
            const oldByUrn = new Map([...oldUrns(stack, olds)].map(([key, u]) => [u, olds.find((o) => `${o.type}::${o.name}` === key) as OldResource]));
            const matches = matchAgainstOld(stack, r.resources, new Set(oldByUrn.keys()));
            const created = [...matches].filter(([, old]) => old === undefined).map(([u]) => u);
            assert.deepEqual(created.sort(), [urn(stack, "vllm-cloudrun:index:VllmCloudRun", `${PROJECT}`), ...MONITORING_CREATED(stack), ...METRICS_CREATED(stack)].sort(), configuration);
            const newByUrn = new Map([...matches.keys()].map((u, i) => [u, r.resources.filter((x) => x.type !== ROOT_STACK)[i]]));
            const changed = [...matches]
                .filter(([u, old]) => old !== undefined && !isDeepStrictEqual(normalized((newByUrn.get(u) as Registered).inputs, r.resources), normalized((oldByUrn.get(old) as OldResource).inputs, olds)))
                .map(([u]) => nameOf(u));
            assert.deepEqual(changed, [`${PROJECT}-${stack}`], `${configuration}: only the service changes`);
        }
    });

    it("the one intended change to existing services: the startup probe checks from the first second, over the same or a longer window", async () => {
        for (const [configuration, opts] of Object.entries(CONFIGURATIONS)) {
            const r = await runProgram(opts);
            const now = r.resources.find((x) => x.type === "gcp:cloudrunv2/service:Service");
            const before = BEFORE.resources[configuration].find((x) => x.type === "gcp:cloudrunv2/service:Service");
            const probe = (x: { inputs: Record<string, unknown> } | undefined) => (x?.inputs.template as { containers: { startupProbe: Record<string, number> }[] }).containers[0].startupProbe;
            const [p, old] = [probe(now), probe(before)];
            assert.equal(p.initialDelaySeconds, 0, configuration);
            assert.ok(p.failureThreshold * p.periodSeconds >= old.initialDelaySeconds + old.failureThreshold * old.periodSeconds, configuration);
        }
    });

    it("the component's direct children carry the alias to the stack, and nothing else does", async () => {
        const r = await runProgram();
        const aliased = r.resources.filter((x) => (x.aliases ?? []).some((a) => typeof a === "object" && "parent" in a)).map((x) => `${x.type}::${x.name}`);
        const children = r.resources.filter((x) => x.parent === `vllm-cloudrun:index:VllmCloudRun::${PROJECT}`).map((x) => `${x.type}::${x.name}`);
        const added = [`vllm-cloudrun:secret:TokenSecret::${PROJECT}-dev-metrics-config`, `vllm-cloudrun:monitoring:ServiceMonitoring::${PROJECT}-dev`];
        assert.deepEqual(aliased.sort(), children.filter((c) => !added.includes(c)).sort());
        assert.equal(children.length, 9);
        assert.deepEqual(children.filter((c) => added.includes(c)).sort(), [...added].sort(), "the children monitoring added, which never lived at the stack");
    });
});
