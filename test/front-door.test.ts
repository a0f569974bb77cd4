// The multi-region front door on its own: the components built in a small program against
// Pulumi's mock engine, recording what each resource registers, its parent and its dependencies
// (the requests the engine would get), plus the pure helpers they use.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import {
    certificateName,
    armorRules,
    COMPUTE_NAME,
    DEFAULT_RULE_PRIORITY,
    endpointHost,
    FrontDoor,
    FrontDoorAddress,
    FrontDoorCredentials,
    frontDoorNameProblems,
    frontDoorNames,
    frontDoorRegionProblems,
    OUTLIER_DETECTION,
    RETRY_POLICY,
    SERVERLESS_BACKEND_TIMEOUT_SECONDS,
} from "../components/front-door";

const IP = "203.0.113.7";
const PROJECT = "my-proj";
const SERVICE_NAME = "vllm-cloudrun-dev";
const PREFIX = "vllm-cloudrun-dev";

const T = {
    address: "gcp:compute/globalAddress:GlobalAddress",
    neg: "gcp:compute/regionNetworkEndpointGroup:RegionNetworkEndpointGroup",
    policy: "gcp:compute/securityPolicy:SecurityPolicy",
    backend: "gcp:compute/backendService:BackendService",
    urlMap: "gcp:compute/uRLMap:URLMap",
    cert: "gcp:compute/managedSslCertificate:ManagedSslCertificate",
    httpsProxy: "gcp:compute/targetHttpsProxy:TargetHttpsProxy",
    httpProxy: "gcp:compute/targetHttpProxy:TargetHttpProxy",
    rule: "gcp:compute/globalForwardingRule:GlobalForwardingRule",
    service: "gcp:cloudrunv2/service:Service",
    frontDoor: "vllm-cloudrun:frontdoor:FrontDoor",
    frontDoorAddress: "vllm-cloudrun:frontdoor:FrontDoorAddress",
};

interface Registration {
    type: string;
    name: string;
    custom: boolean;
    urn: string;
    /** URN of the parent ("" for none). */
    parent: string;
    /** Every URN the engine is told this resource depends on (explicit and through inputs). */
    dependencies: string[];
    /** Input property -> URNs it came from. */
    propertyDependencies: Record<string, string[]>;
    inputs: Record<string, any>;
}

interface Run {
    regs: Registration[];
    address: { ip: string; host: string; url: string };
    url: string;
}

interface ProgramOptions {
    regions: string[];
    domain?: string;
    credentials?: FrontDoorCredentials;
    rateLimitPerMinute?: number;
}

/** The bits of the mock monitor's request and response the recorder reads. */
interface RegisterRequest {
    getType(): string;
    getName(): string;
    getParent(): string;
    getCustom(): boolean;
    getDependenciesList(): string[];
    getPropertydependenciesMap(): { forEach(cb: (v: { getUrnsList(): string[] }, k: string) => void): void };
}
type Callback = (err: unknown, response?: { getUrn(): string }) => void;
interface Monitor {
    registerResource(req: RegisterRequest, cb: Callback): unknown;
}

const outputValue = <T>(o: pulumi.Output<T>): Promise<T> => new Promise((resolve) => void o.apply((v) => resolve(v)));

/** Builds a FrontDoorAddress and a FrontDoor over one fake Cloud Run service per region. */
async function runFrontDoor(opts: ProgramOptions): Promise<Run> {
    const regs: Registration[] = [];
    const inputsByUrnlessKey = new Map<string, Record<string, any>>();
    await pulumi.runtime.setMocks(
        {
            newResource(a: pulumi.runtime.MockResourceArgs) {
                inputsByUrnlessKey.set(`${a.type}::${a.name}`, a.inputs);
                const state: Record<string, unknown> = { ...a.inputs };
                if (a.type === T.address) state.address = IP;
                if (a.type === T.policy) state.selfLink = `https://www.googleapis.com/compute/v1/projects/${PROJECT}/global/securityPolicies/${a.inputs.name}`;
                return { id: `${a.name}-id`, state };
            },
            call: (a: pulumi.runtime.MockCallArgs) => a.inputs,
        },
        "vllm-cloudrun",
        "dev",
        false,
    );
    // The mock engine's newResource sees neither parent nor dependencies: read them off the request.
    const monitor = pulumi.runtime.getMonitor() as unknown as Monitor;
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req, cb) =>
        register(req, (err, response) => {
            if (response !== undefined) {
                const propertyDependencies: Record<string, string[]> = {};
                req.getPropertydependenciesMap().forEach((v, k) => (propertyDependencies[k] = v.getUrnsList()));
                regs.push({
                    type: req.getType(),
                    name: req.getName(),
                    custom: req.getCustom(),
                    urn: response.getUrn(),
                    parent: req.getParent(),
                    dependencies: req.getDependenciesList(),
                    propertyDependencies,
                    inputs: {},
                });
            }
            cb(err, response);
        });

    let address!: FrontDoorAddress;
    let door!: FrontDoor;
    await pulumi.runtime.runInPulumiStack(() => {
        const labels = { app: "vllm-cloudrun" };
        address = new FrontDoorAddress("door-address", { project: PROJECT, addressName: frontDoorNames(PREFIX).address, domain: opts.domain, labels });
        const backends = opts.regions.map((region) => ({
            region,
            service: new gcp.cloudrunv2.Service(`svc-${region}`, {
                project: PROJECT,
                location: region,
                name: SERVICE_NAME,
                ingress: "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER",
                template: { containers: [{ image: "us-docker.pkg.dev/p/r/vllm@sha256:00" }] },
            }),
        }));
        door = new FrontDoor("door", {
            project: PROJECT,
            address,
            names: frontDoorNames(PREFIX),
            backends,
            credentials: opts.credentials ?? "api-key",
            rateLimitPerMinute: opts.rateLimitPerMinute ?? 300,
            labels,
        });
        return Promise.resolve({});
    });
    const result: Run = {
        regs,
        address: { ip: await outputValue(address.ip), host: await outputValue(address.host), url: await outputValue(address.url) },
        url: await outputValue(door.url),
    };
    // Wait until every registration (and its inputs) is in.
    let stable = 0;
    let last = -1;
    while (stable < 5) {
        await new Promise((r) => setTimeout(r, 20));
        stable = regs.length === last ? stable + 1 : 0;
        last = regs.length;
    }
    for (const r of regs) r.inputs = inputsByUrnlessKey.get(`${r.type}::${r.name}`) ?? {};
    return result;
}

const ofType = (run: Run, type: string): Registration[] => run.regs.filter((r) => r.type === type);
function only(run: Run, type: string, name?: string): Registration {
    const found = ofType(run, type).filter((r) => name === undefined || r.name === name);
    assert.equal(found.length, 1, `exactly one ${type}${name ? ` named ${name}` : ""}`);
    return found[0];
}

describe("frontDoorNames", () => {
    it("names every resource <prefix>-<suffix>, the NEG the same in every region", () => {
        assert.deepEqual(frontDoorNames("vllm-cloudrun-dev"), {
            address: "vllm-cloudrun-dev-ip",
            neg: "vllm-cloudrun-dev-neg",
            backend: "vllm-cloudrun-dev-backend",
            armorPolicy: "vllm-cloudrun-dev-armor",
            urlMap: "vllm-cloudrun-dev-urlmap",
            httpsProxy: "vllm-cloudrun-dev-https-proxy",
            httpsRule: "vllm-cloudrun-dev-https-rule",
            redirectUrlMap: "vllm-cloudrun-dev-redirect",
            httpProxy: "vllm-cloudrun-dev-http-proxy",
            httpRule: "vllm-cloudrun-dev-http-rule",
            certificate: "vllm-cloudrun-dev-cert",
        });
        assert.match(certificateName(frontDoorNames("vllm-cloudrun-dev"), "llm.example.com"), /^vllm-cloudrun-dev-cert-[0-9a-f]{8}$/);
        assert.notEqual(certificateName(frontDoorNames("p"), "a.example.com"), certificateName(frontDoorNames("p"), "b.example.com"), "a new host is a new certificate");
        const values = Object.values(frontDoorNames("p"));
        assert.equal(new Set(values).size, values.length, "no two resources share a name");
    });

    it("fits Compute's 63 characters with the longest prefix (a 49-character Cloud Run service name)", () => {
        const longest = "a" + "b".repeat(47) + "c";
        assert.equal(longest.length, 49);
        assert.deepEqual(frontDoorNameProblems(frontDoorNames(longest)), []);
        assert.ok(Math.max(...Object.values(frontDoorNames(longest)).map((n) => n.length)) <= 63);
        assert.deepEqual(frontDoorNameProblems(frontDoorNames("a")), []);
    });

    it("reports each name that breaks the rule, and only those", () => {
        // 51 + "-https-proxy" (12) = 63 is fine; 52 makes it 64, and the certificate (-cert-<8 hex>, 14) 66.
        const long = frontDoorNameProblems(frontDoorNames("a".repeat(52)));
        assert.deepEqual(long.map((p) => /^front door (\w+) name/.exec(p)?.[1]), ["httpsProxy", "certificate"]);
        assert.match(long[0], /"a{52}-https-proxy" \(64 characters\) must be 1-63 characters \[a-z0-9-\], start with a lower-case letter and not end with "-"/);
        assert.equal(frontDoorNameProblems(frontDoorNames("a".repeat(61))).length, 11, "every name is over 63 (the shortest, -ip, makes 64)");
        assert.equal(frontDoorNameProblems(frontDoorNames("Vllm")).length, 11, "upper case");
        assert.equal(frontDoorNameProblems(frontDoorNames("1vllm")).length, 11, "a digit first");
        assert.equal(frontDoorNameProblems(frontDoorNames("vllm_dev")).length, 11, "an underscore");
        const ok = frontDoorNames("vllm");
        assert.deepEqual(frontDoorNameProblems({ ...ok, backend: "vllm-", neg: "" }).sort(), [
            'front door backend name "vllm-" (5 characters) must be 1-63 characters [a-z0-9-], start with a lower-case letter and not end with "-"',
            'front door neg name "" (0 characters) must be 1-63 characters [a-z0-9-], start with a lower-case letter and not end with "-"',
        ]);
    });

    it("uses Compute's naming rule", () => {
        assert.equal(COMPUTE_NAME.source, "^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$");
    });
});

describe("endpointHost", () => {
    it("is the domain when given, else <ip>.nip.io", () => {
        assert.equal(endpointHost(IP, "llm.example.com"), "llm.example.com");
        assert.equal(endpointHost(IP), "203.0.113.7.nip.io");
        assert.equal(endpointHost(IP, ""), "203.0.113.7.nip.io", "the config default (empty) means none");
    });
});

describe("armorRules", () => {
    const API_KEY = "!has(request.headers['authorization']) || !request.headers['authorization'].matches('^Bearer [!-~]{16,}$')";
    const IAM = "!has(request.headers['authorization']) && !has(request.headers['x-serverless-authorization'])";
    const ALL = { versionedExpr: "SRC_IPS_V1", config: { srcIpRanges: ["*"] } };

    it("api-key: deny without a Bearer key first, then the per-IP throttle, then allow", () => {
        assert.deepEqual(armorRules("api-key", 300), [
            { priority: 1000, action: "deny(403)", description: "Deny requests without a bearer API key", match: { expr: { expression: API_KEY } } },
            {
                priority: 2000,
                action: "throttle",
                description: "At most 300 requests per minute per client IP",
                match: ALL,
                rateLimitOptions: { conformAction: "allow", exceedAction: "deny(429)", enforceOnKey: "IP", rateLimitThreshold: { count: 300, intervalSec: 60 } },
            },
            { priority: 2147483647, action: "allow", description: "Default: allow", match: ALL },
        ]);
    });

    it("iam: deny only when neither header Cloud Run reads an ID token from is present", () => {
        const rules = armorRules("iam", 60);
        assert.deepEqual(rules.map((r) => [r.priority, r.action]), [[1000, "deny(403)"], [2000, "throttle"], [DEFAULT_RULE_PRIORITY, "allow"]]);
        assert.deepEqual(rules[0].match, { expr: { expression: IAM } });
        assert.equal(rules[0].description, "Deny requests without a bearer ID token");
        assert.equal(rules[1].rateLimitOptions?.rateLimitThreshold.count, 60);
    });

    it("has no throttle at 0, and the credential rule still comes first", () => {
        for (const c of ["api-key", "iam"] as const) {
            const rules = armorRules(c, 0);
            assert.deepEqual(rules.map((r) => r.priority), [1000, 2147483647]);
            assert.ok(!rules.some((r) => r.action === "throttle" || r.rateLimitOptions !== undefined));
        }
    });

    it("keeps priorities strictly increasing and descriptions within 64 characters", () => {
        for (const c of ["api-key", "iam"] as const) {
            for (const n of [0, 1, 300, 1_000_000]) {
                const rules = armorRules(c, n);
                for (let i = 1; i < rules.length; i++) assert.ok(rules[i - 1].priority < rules[i].priority);
                for (const r of rules) assert.ok(r.description.length <= 64, `${r.description} is ${r.description.length} characters`);
            }
        }
    });

    it("refuses a negative or fractional rate", () => {
        for (const bad of [-1, 1.5, Number.NaN]) assert.throws(() => armorRules("api-key", bad), /rateLimitPerMinute must be a whole number >= 0/);
    });
});

describe("failover constants", () => {
    it("are the designed values", () => {
        assert.deepEqual(OUTLIER_DETECTION, {
            consecutiveErrors: 5,
            consecutiveGatewayFailure: 3,
            enforcingConsecutiveErrors: 100,
            enforcingConsecutiveGatewayFailure: 100,
            interval: { seconds: 10 },
            baseEjectionTime: { seconds: 180 },
            maxEjectionPercent: 50,
        });
        assert.deepEqual(RETRY_POLICY, { numRetries: 1, retryConditions: ["connect-failure", "refused-stream", "gateway-error"] });
        assert.equal(SERVERLESS_BACKEND_TIMEOUT_SECONDS, 3600, "the services' request timeout is the load balancer's fixed one");
    });
});

describe("FrontDoor with two regions", () => {
    const REGIONS = ["us-central1", "europe-west4"];
    let run: Run;
    const names = frontDoorNames(PREFIX);

    it("builds", async () => {
        run = await runFrontDoor({ regions: REGIONS });
        assert.ok(run.regs.length > 0);
    });

    it("registers exactly the load balancer's resources, and no health check", () => {
        const counts: Record<string, number> = {};
        for (const r of run.regs) counts[r.type] = (counts[r.type] ?? 0) + 1;
        delete counts["pulumi:pulumi:Stack"];
        assert.deepEqual(counts, {
            [T.frontDoorAddress]: 1,
            [T.address]: 1,
            [T.service]: 2,
            [T.frontDoor]: 1,
            [T.neg]: 2,
            [T.policy]: 1,
            [T.backend]: 1,
            [T.urlMap]: 2,
            [T.cert]: 1,
            [T.httpsProxy]: 1,
            [T.httpProxy]: 1,
            [T.rule]: 2,
        });
        assert.ok(!run.regs.some((r) => /health/i.test(r.type)), "serverless NEGs take no health check");
    });

    it("parents every child to its component", () => {
        const door = only(run, T.frontDoor);
        const addr = only(run, T.frontDoorAddress);
        assert.equal(only(run, T.address).parent, addr.urn);
        const children = run.regs.filter((r) => r.type.startsWith("gcp:compute/") && r.type !== T.address);
        assert.equal(children.length, 11);
        for (const c of children) assert.equal(c.parent, door.urn, `${c.type} ${c.name}`);
        assert.deepEqual(children.map((c) => c.name).sort(), [
            "door-armor", "door-backend", "door-cert", "door-http", "door-http-proxy", "door-https", "door-https-proxy",
            "door-neg-europe-west4", "door-neg-us-central1", "door-redirect", "door-urlmap",
        ]);
    });

    it("reserves a global external IPv4 address under its given name", () => {
        assert.deepEqual(only(run, T.address, "door-address-ip").inputs, {
            project: PROJECT,
            name: names.address,
            addressType: "EXTERNAL",
            ipVersion: "IPV4",
            labels: { app: "vllm-cloudrun" },
        });
        assert.deepEqual(run.address, { ip: IP, host: `${IP}.nip.io`, url: `https://${IP}.nip.io` });
        assert.equal(run.url, `https://${IP}.nip.io`);
    });

    it("has one serverless NEG per region on that region's service, created after it and deleted before it", () => {
        for (const region of REGIONS) {
            const neg = only(run, T.neg, `door-neg-${region}`);
            assert.deepEqual(neg.inputs, { project: PROJECT, region, name: names.neg, networkEndpointType: "SERVERLESS", cloudRun: { service: SERVICE_NAME } });
            const service = only(run, T.service, `svc-${region}`);
            assert.deepEqual(neg.propertyDependencies.cloudRun, [service.urn], "cloudRun.service comes from the service");
            assert.ok(neg.dependencies.includes(service.urn));
            const other = REGIONS.find((r) => r !== region) as string;
            assert.ok(!neg.dependencies.includes(only(run, T.service, `svc-${other}`).urn), "and not on the other region's");
        }
    });

    it("has one EXTERNAL_MANAGED backend service with one backend per NEG and nothing serverless NEGs reject", () => {
        const backend = only(run, T.backend);
        assert.deepEqual(backend.inputs, {
            project: PROJECT,
            name: names.backend,
            loadBalancingScheme: "EXTERNAL_MANAGED",
            backends: [{ group: "door-neg-us-central1-id" }, { group: "door-neg-europe-west4-id" }],
            outlierDetection: OUTLIER_DETECTION,
            logConfig: { enable: true, sampleRate: 1 },
            securityPolicy: `https://www.googleapis.com/compute/v1/projects/${PROJECT}/global/securityPolicies/${names.armorPolicy}`,
        });
        for (const k of ["healthChecks", "timeoutSec", "portName", "protocol"]) assert.ok(!(k in backend.inputs), `no ${k}`);
        assert.deepEqual(backend.propertyDependencies.backends.sort(), REGIONS.map((r) => only(run, T.neg, `door-neg-${r}`).urn).sort());
    });

    it("puts the Cloud Armor rules on a CLOUD_ARMOR policy", () => {
        assert.deepEqual(only(run, T.policy).inputs, {
            project: PROJECT,
            name: names.armorPolicy,
            type: "CLOUD_ARMOR",
            rules: armorRules("api-key", 300),
            labels: { app: "vllm-cloudrun" },
        });
    });

    it("routes everything to the backend with one careful retry and no route timeout (serverless backends have a fixed 60 minutes)", () => {
        assert.deepEqual(only(run, T.urlMap, "door-urlmap").inputs, {
            project: PROJECT,
            name: names.urlMap,
            defaultService: "door-backend-id",
            defaultRouteAction: { retryPolicy: { numRetries: 1, retryConditions: ["connect-failure", "refused-stream", "gateway-error"] } },
        });
    });

    it("serves HTTPS on :443 with a managed certificate for <ip>.nip.io, named by its host", () => {
        const cert = only(run, T.cert);
        // A new host is a new name, so a new domain's certificate is created before the old one goes.
        assert.deepEqual(cert.inputs, { project: PROJECT, name: certificateName(names, `${IP}.nip.io`), managed: { domains: [`${IP}.nip.io`] } });
        assert.deepEqual(only(run, T.httpsProxy).inputs, { project: PROJECT, name: names.httpsProxy, urlMap: "door-urlmap-id", sslCertificates: ["door-cert-id"] });
        assert.deepEqual(only(run, T.rule, "door-https").inputs, {
            project: PROJECT,
            name: names.httpsRule,
            loadBalancingScheme: "EXTERNAL_MANAGED",
            ipProtocol: "TCP",
            portRange: "443",
            ipAddress: "door-address-ip-id",
            target: "door-https-proxy-id",
            labels: { app: "vllm-cloudrun" },
        });
    });

    it("redirects :80 to HTTPS with a 308 that keeps the query, on the same address and scheme", () => {
        assert.deepEqual(only(run, T.urlMap, "door-redirect").inputs, {
            project: PROJECT,
            name: names.redirectUrlMap,
            defaultUrlRedirect: { httpsRedirect: true, redirectResponseCode: "PERMANENT_REDIRECT", stripQuery: false },
        });
        assert.deepEqual(only(run, T.httpProxy).inputs, { project: PROJECT, name: names.httpProxy, urlMap: "door-redirect-id" });
        const rules = ofType(run, T.rule).map((r) => r.inputs);
        assert.deepEqual(rules.map((r) => [r.name, r.portRange, r.loadBalancingScheme, r.ipAddress, r.target]).sort(), [
            [names.httpRule, "80", "EXTERNAL_MANAGED", "door-address-ip-id", "door-http-proxy-id"],
            [names.httpsRule, "443", "EXTERNAL_MANAGED", "door-address-ip-id", "door-https-proxy-id"],
        ]);
    });
});

describe("FrontDoor with three regions, a domain, IAM and no throttle", () => {
    const REGIONS = ["us-central1", "europe-west4", "asia-southeast1"];
    let run: Run;

    it("builds", async () => {
        run = await runFrontDoor({ regions: REGIONS, domain: "llm.example.com", credentials: "iam", rateLimitPerMinute: 0 });
        assert.ok(run.regs.length > 0);
    });

    it("has one NEG per region and one backend per NEG, and otherwise the same resources", () => {
        assert.deepEqual(ofType(run, T.neg).map((n) => [n.name, n.inputs.region, n.inputs.name]), REGIONS.map((r) => [`door-neg-${r}`, r, "vllm-cloudrun-dev-neg"]));
        assert.deepEqual(only(run, T.backend).inputs.backends, REGIONS.map((r) => ({ group: `door-neg-${r}-id` })));
        for (const [type, n] of [[T.backend, 1], [T.policy, 1], [T.urlMap, 2], [T.cert, 1], [T.httpsProxy, 1], [T.httpProxy, 1], [T.rule, 2], [T.address, 1]] as const) {
            assert.equal(ofType(run, type).length, n, type);
        }
        assert.ok(!run.regs.some((r) => /health/i.test(r.type)));
        const door = only(run, T.frontDoor);
        for (const c of run.regs.filter((r) => r.type.startsWith("gcp:compute/") && r.type !== T.address)) assert.equal(c.parent, door.urn);
    });

    it("certifies the domain, and the URL is https://<domain>", () => {
        assert.deepEqual(only(run, T.cert).inputs.managed, { domains: ["llm.example.com"] });
        assert.deepEqual(run.address, { ip: IP, host: "llm.example.com", url: "https://llm.example.com" });
        assert.equal(run.url, "https://llm.example.com");
    });

    it("asks Cloud Armor for an ID token and throttles nothing", () => {
        const rules = only(run, T.policy).inputs.rules as any[];
        assert.deepEqual(rules, armorRules("iam", 0));
        assert.deepEqual(rules.map((r) => r.priority), [1000, 2147483647]);
        assert.equal(rules[0].match.expr?.expression, "!has(request.headers['authorization']) && !has(request.headers['x-serverless-authorization'])");
    });
});

describe("FrontDoor's checks", () => {
    it("lists what is wrong with the regions", () => {
        assert.deepEqual(frontDoorRegionProblems(["us-central1", "europe-west4"]), []);
        assert.deepEqual(frontDoorRegionProblems([]), ["FrontDoor needs at least two regions, got 0"]);
        assert.deepEqual(frontDoorRegionProblems(["us-central1"]), ["FrontDoor needs at least two regions, got 1"]);
        assert.deepEqual(frontDoorRegionProblems(["us-central1", "europe-west4", "us-central1", "us-central1"]), [
            "FrontDoor regions must be distinct: us-central1 given more than once",
        ]);
    });

    it("refuses them before registering anything", () => {
        // Nothing is read but the regions: the check runs before the component registers.
        const args = (regions: string[]) => ({
            project: PROJECT,
            address: undefined as unknown as FrontDoorAddress,
            names: frontDoorNames(PREFIX),
            backends: regions.map((region) => ({ region, service: undefined as unknown as gcp.cloudrunv2.Service })),
            credentials: "iam" as const,
            rateLimitPerMinute: 0,
        });
        assert.throws(() => new FrontDoor("one", args(["us-central1"])), /^Error: FrontDoor needs at least two regions, got 1$/);
        assert.throws(() => new FrontDoor("twice", args(["us-central1", "us-central1"])), /^Error: FrontDoor regions must be distinct: us-central1 given more than once$/);
    });
});
