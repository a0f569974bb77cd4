import { createHash } from "crypto";
import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";

// A global external Application Load Balancer (EXTERNAL_MANAGED) in front of the same Cloud Run
// service in several regions: one serverless NEG per region, one backend service with Cloud
// Armor, HTTPS with a Google-managed certificate, and an HTTP -> HTTPS redirect on port 80.

type Labels = pulumi.Input<Record<string, pulumi.Input<string>>>;

// ---------------------------------------------------------------------------------------------
// Names

/** GCP names of the front door's resources, all `<prefix>-<suffix>`. */
export interface FrontDoorNames {
    /** Global static IP address. */
    address: string;
    /** Serverless NEG: the same name in every region (NEGs are regional resources). */
    neg: string;
    backend: string;
    /** Cloud Armor security policy. */
    armorPolicy: string;
    urlMap: string;
    httpsProxy: string;
    /** Global forwarding rule on :443. */
    httpsRule: string;
    /** URL map of the :80 listener: redirects everything to HTTPS. */
    redirectUrlMap: string;
    httpProxy: string;
    /** Global forwarding rule on :80. */
    httpRule: string;
    /** Start of the managed certificate's name; certificateName adds the host's hash. */
    certificate: string;
}

/**
 * The front door's GCP names. Suffixes are at most 12 characters so the longest prefix (49, a
 * Cloud Run service name) still gives names within Compute's 63.
 */
export function frontDoorNames(prefix: string): FrontDoorNames {
    return {
        address: `${prefix}-ip`,
        neg: `${prefix}-neg`,
        backend: `${prefix}-backend`,
        armorPolicy: `${prefix}-armor`,
        urlMap: `${prefix}-urlmap`,
        httpsProxy: `${prefix}-https-proxy`,
        httpsRule: `${prefix}-https-rule`,
        redirectUrlMap: `${prefix}-redirect`,
        httpProxy: `${prefix}-http-proxy`,
        httpRule: `${prefix}-http-rule`,
        certificate: `${prefix}-cert`,
    };
}

/** The certificate's GCP name: `<prefix>-cert-` and 8 hex characters of the host's SHA-256. */
export function certificateName(names: FrontDoorNames, host: string): string {
    return `${names.certificate}-${createHash("sha256").update(host).digest("hex").slice(0, 8)}`;
}

/**
 * Compute Engine resource names: 1-63 characters, a lower-case letter first, then lower-case
 * letters, digits and hyphens, not ending with a hyphen (RFC 1035;
 * https://cloud.google.com/compute/docs/naming-resources).
 */
export const COMPUTE_NAME = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** One line per name that breaks Compute's naming rule (empty when all are valid). */
export function frontDoorNameProblems(names: FrontDoorNames): string[] {
    // The certificate's name is its prefix and a hash of the host: check the full length.
    return Object.entries<string>({ ...names, certificate: certificateName(names, "") })
        .filter(([, value]) => !COMPUTE_NAME.test(value))
        .map(
            ([key, value]) =>
                `front door ${key} name "${value}" (${value.length} characters) must be 1-63 characters [a-z0-9-], start with a lower-case letter and not end with "-"`,
        );
}

// ---------------------------------------------------------------------------------------------
// Address

/** The host clients call: the domain, or `<ip>.nip.io` (a public wildcard DNS; Google's samples use it for trials). */
export function endpointHost(ip: string, domain?: string): string {
    return domain !== undefined && domain !== "" ? domain : `${ip}.nip.io`;
}

export interface FrontDoorAddressArgs {
    project: pulumi.Input<string>;
    /** GCP name of the global address. */
    addressName: string;
    /** Host name for the certificate and the endpoint URL. Default: none, `<ip>.nip.io`. */
    domain?: string;
    /** Default: none. */
    labels?: Labels;
}

/**
 * The front door's global IP and the endpoint URL derived from it. Separate from FrontDoor because
 * the services need the URL (their custom audience) before the load balancer can point at them.
 */
export class FrontDoorAddress extends pulumi.ComponentResource {
    readonly address: gcp.compute.GlobalAddress;
    readonly ip: pulumi.Output<string>;
    /** The domain, or `<ip>.nip.io`. */
    readonly host: pulumi.Output<string>;
    /** `https://<host>`. */
    readonly url: pulumi.Output<string>;

    constructor(name: string, args: FrontDoorAddressArgs, opts?: pulumi.ComponentResourceOptions) {
        super("vllm-cloudrun:frontdoor:FrontDoorAddress", name, {}, opts);
        this.address = new gcp.compute.GlobalAddress(
            `${name}-ip`,
            { project: args.project, name: args.addressName, addressType: "EXTERNAL", ipVersion: "IPV4", labels: args.labels },
            { parent: this },
        );
        this.ip = this.address.address;
        const domain = args.domain;
        // With a domain the host is known before the address exists (previews show the real audience).
        this.host = domain !== undefined && domain !== "" ? pulumi.output(domain) : this.ip.apply((ip) => endpointHost(ip));
        this.url = pulumi.interpolate`https://${this.host}`;
        this.registerOutputs({ ip: this.ip, host: this.host, url: this.url });
    }
}

// ---------------------------------------------------------------------------------------------
// Cloud Armor

/** Which credential the credential rule requires: an API key, or a Google ID token (IAM invoker). */
export type FrontDoorCredentials = "api-key" | "iam";

/** A Cloud Armor rule with plain values (a `gcp.types.input.compute.SecurityPolicyRule`). */
export interface ArmorRule {
    priority: number;
    action: string;
    /** At most 64 characters (SecurityPolicyRule typings). */
    description: string;
    match: { expr?: { expression: string }; versionedExpr?: string; config?: { srcIpRanges: string[] } };
    rateLimitOptions?: {
        conformAction: string;
        exceedAction: string;
        enforceOnKey: string;
        rateLimitThreshold: { count: number; intervalSec: number };
    };
}

export const CREDENTIAL_RULE_PRIORITY = 1000;
export const THROTTLE_RULE_PRIORITY = 2000;
/** Every policy has a default rule at the lowest priority (SecurityPolicy typings: "rule with priority 2147483647 and match \"*\""). */
export const DEFAULT_RULE_PRIORITY = 2147483647;

/**
 * Request headers in Armor's CEL are lower-case keys
 * (https://cloud.google.com/armor/docs/rules-language-reference). An API key must come as
 * `Bearer <16+ printable ASCII>`; an ID token in either header Cloud Run reads (Authorization or
 * X-Serverless-Authorization); Cloud Run itself still verifies the token or key.
 */
export const CREDENTIAL_EXPRESSIONS: Readonly<Record<FrontDoorCredentials, string>> = {
    "api-key": "!has(request.headers['authorization']) || !request.headers['authorization'].matches('^Bearer [!-~]{16,}$')",
    iam: "!has(request.headers['authorization']) && !has(request.headers['x-serverless-authorization'])",
};

const ALL_IPS = { versionedExpr: "SRC_IPS_V1", config: { srcIpRanges: ["*"] } };

/**
 * The security policy's rules, in priority order (first match wins). The credential rule comes
 * first: a throttle's conform action `allow` ends evaluation, so a later deny would never run.
 * Deny uses 403 (deny() allows 403, 404 and 502 only, no 401) and the throttle 429 (SecurityPolicyRule
 * typings). `rateLimitPerMinute` 0 leaves the throttle out.
 */
export function armorRules(credentials: FrontDoorCredentials, rateLimitPerMinute: number): ArmorRule[] {
    if (!Number.isInteger(rateLimitPerMinute) || rateLimitPerMinute < 0) {
        throw new RangeError(`rateLimitPerMinute must be a whole number >= 0 (0 = no throttle), got ${rateLimitPerMinute}`);
    }
    const rules: ArmorRule[] = [
        {
            priority: CREDENTIAL_RULE_PRIORITY,
            action: "deny(403)",
            description: credentials === "iam" ? "Deny requests without a bearer ID token" : "Deny requests without a bearer API key",
            match: { expr: { expression: CREDENTIAL_EXPRESSIONS[credentials] } },
        },
    ];
    if (rateLimitPerMinute > 0) {
        rules.push({
            priority: THROTTLE_RULE_PRIORITY,
            action: "throttle",
            description: `At most ${rateLimitPerMinute} requests per minute per client IP`,
            match: { ...ALL_IPS, config: { srcIpRanges: [...ALL_IPS.config.srcIpRanges] } },
            rateLimitOptions: {
                conformAction: "allow",
                exceedAction: "deny(429)",
                enforceOnKey: "IP",
                rateLimitThreshold: { count: rateLimitPerMinute, intervalSec: 60 },
            },
        });
    }
    rules.push({
        priority: DEFAULT_RULE_PRIORITY,
        action: "allow",
        description: "Default: allow",
        match: { ...ALL_IPS, config: { srcIpRanges: [...ALL_IPS.config.srcIpRanges] } },
    });
    return rules;
}

// ---------------------------------------------------------------------------------------------
// Failover and routing

/**
 * Serverless NEGs take no health check (typings: "A health check must be specified unless the
 * backend service uses an internet or serverless NEG"); outlier detection is how the load balancer
 * stops sending to a failing region (allowed on global EXTERNAL_MANAGED backend services,
 * BackendService typings; https://cloud.google.com/load-balancing/docs/negs/serverless-neg-concepts).
 * Gateway failures (502/503/504, connection errors) eject after 3 in a row, any 5xx after 5;
 * ejection lasts 180 s times the ejection count (Google's recommendation for serverless NEGs: "setting
 * baseEjectionTime to 180 seconds ... results in less than 5% observed error rates"); at most half the
 * pool is ejected at once (so one region of two always stays in). Each load-balancer proxy judges on
 * its own, so at low request rates a failing region keeps getting some requests. Field meanings and
 * defaults: BackendServiceOutlierDetection typings.
 */
export const OUTLIER_DETECTION = {
    consecutiveErrors: 5,
    consecutiveGatewayFailure: 3,
    enforcingConsecutiveErrors: 100,
    // The API's default is 0 (detect, never eject).
    enforcingConsecutiveGatewayFailure: 100,
    interval: { seconds: 10 },
    baseEjectionTime: { seconds: 180 },
    maxEjectionPercent: 50,
} as const;

/**
 * One retry, only where the request likely never reached vLLM or the gateway failed: retrying a
 * long generation that did run would duplicate GPU work. Condition names from the URLMap typings
 * (URLMapDefaultRouteActionRetryPolicy.retryConditions).
 */
export const RETRY_POLICY: { readonly numRetries: number; readonly retryConditions: readonly string[] } = {
    numRetries: 1,
    retryConditions: ["connect-failure", "refused-stream", "gateway-error"],
};

/**
 * The load balancer's timeout for serverless backends: fixed at 60 minutes, not configurable ("For
 * backend services with serverless NEG backends, the default timeout is 60 minutes. This timeout is
 * not configurable": https://cloud.google.com/load-balancing/docs/negs/serverless-neg-concepts), the
 * same as Cloud Run's longest request timeout, which the services use. So nothing sets it: the
 * backend service refuses timeoutSec, and a route timeout would only repeat it.
 */
export const SERVERLESS_BACKEND_TIMEOUT_SECONDS = 3600;

// ---------------------------------------------------------------------------------------------
// Load balancer

/** What is wrong with the front door's region list (empty when fine): at least two, each once. */
export function frontDoorRegionProblems(regions: readonly string[]): string[] {
    const problems: string[] = [];
    if (regions.length < 2) problems.push(`FrontDoor needs at least two regions, got ${regions.length}`);
    const twice = [...new Set(regions.filter((r, i) => regions.indexOf(r) !== i))];
    if (twice.length > 0) problems.push(`FrontDoor regions must be distinct: ${twice.join(", ")} given more than once`);
    return problems;
}

export interface FrontDoorBackend {
    region: string;
    /** The region's Cloud Run service; its NEG depends on it, so a destroy deletes the NEG first. */
    service: gcp.cloudrunv2.Service;
}

export interface FrontDoorArgs {
    project: pulumi.Input<string>;
    /** The global IP and endpoint host (created first: the services' custom audience is its URL). */
    address: FrontDoorAddress;
    /** GCP names, from frontDoorNames(). */
    names: FrontDoorNames;
    /** One entry per region, at least two, regions distinct. */
    backends: FrontDoorBackend[];
    /** Which credential Cloud Armor requires before a request reaches Cloud Run. */
    credentials: FrontDoorCredentials;
    /** Cloud Armor throttle per client IP, requests per minute; 0 = no throttle rule. */
    rateLimitPerMinute: number;
    /** Labels on the resources that take them (address, forwarding rules, security policy). Default: none. */
    labels?: Labels;
}

/**
 * The global external Application Load Balancer in front of the regional services: Google routes
 * each client to the nearest healthy region.
 */
export class FrontDoor extends pulumi.ComponentResource {
    /** Region -> serverless NEG. */
    readonly negs: Record<string, gcp.compute.RegionNetworkEndpointGroup>;
    readonly backendService: gcp.compute.BackendService;
    readonly securityPolicy: gcp.compute.SecurityPolicy;
    readonly urlMap: gcp.compute.URLMap;
    readonly certificate: gcp.compute.ManagedSslCertificate;
    /** `https://<host>`: the endpoint clients call. */
    readonly url: pulumi.Output<string>;

    constructor(name: string, args: FrontDoorArgs, opts?: pulumi.ComponentResourceOptions) {
        // Checked before anything registers, so a bad call leaves nothing half-built.
        const regions = args.backends.map((b) => b.region);
        const problems = frontDoorRegionProblems(regions);
        if (problems.length > 0) throw new Error(problems.join("\n"));
        super("vllm-cloudrun:frontdoor:FrontDoor", name, {}, opts);
        const { project, names, labels } = args;

        // Service health (readiness probes) forbids a URL mask or tag on the NEG
        // (https://cloud.google.com/run/docs/configuring/configure-service-health).
        this.negs = Object.fromEntries(
            args.backends.map(({ region, service }) => [
                region,
                new gcp.compute.RegionNetworkEndpointGroup(
                    `${name}-neg-${region}`,
                    { project, region, name: names.neg, networkEndpointType: "SERVERLESS", cloudRun: { service: service.name } },
                    { parent: this },
                ),
            ]),
        );

        this.securityPolicy = new gcp.compute.SecurityPolicy(
            `${name}-armor`,
            { project, name: names.armorPolicy, type: "CLOUD_ARMOR", rules: armorRules(args.credentials, args.rateLimitPerMinute), labels },
            { parent: this },
        );

        // No healthChecks, timeoutSec, portName or protocol: serverless NEGs reject the first two
        // and need neither of the others (Google's multi-region sample sets none of them).
        this.backendService = new gcp.compute.BackendService(
            `${name}-backend`,
            {
                project,
                name: names.backend,
                loadBalancingScheme: "EXTERNAL_MANAGED",
                backends: regions.map((r) => ({ group: this.negs[r].id })),
                outlierDetection: OUTLIER_DETECTION,
                logConfig: { enable: true, sampleRate: 1 },
                securityPolicy: this.securityPolicy.selfLink,
            },
            { parent: this },
        );

        this.urlMap = new gcp.compute.URLMap(
            `${name}-urlmap`,
            {
                project,
                name: names.urlMap,
                defaultService: this.backendService.id,
                // No timeout: serverless backends have a fixed 60 minutes (SERVERLESS_BACKEND_TIMEOUT_SECONDS).
                defaultRouteAction: {
                    retryPolicy: { numRetries: RETRY_POLICY.numRetries, retryConditions: [...RETRY_POLICY.retryConditions] },
                },
            },
            { parent: this },
        );

        // Named by the host it is for: a new domain is a new certificate, created before the old one
        // is deleted (the proxy holds the old one until then), and the name stays within 63 characters.
        this.certificate = new gcp.compute.ManagedSslCertificate(
            `${name}-cert`,
            { project, name: args.address.host.apply((h) => certificateName(names, h)), managed: { domains: [args.address.host] } },
            { parent: this },
        );
        const httpsProxy = new gcp.compute.TargetHttpsProxy(
            `${name}-https-proxy`,
            { project, name: names.httpsProxy, urlMap: this.urlMap.id, sslCertificates: [this.certificate.id] },
            { parent: this },
        );
        new gcp.compute.GlobalForwardingRule(
            `${name}-https`,
            {
                project,
                name: names.httpsRule,
                loadBalancingScheme: "EXTERNAL_MANAGED",
                ipProtocol: "TCP",
                portRange: "443",
                ipAddress: args.address.address.id,
                target: httpsProxy.id,
                labels,
            },
            { parent: this },
        );

        // :80 only redirects. 308 keeps the method and body (a POST stays a POST), unlike 301.
        const redirectMap = new gcp.compute.URLMap(
            `${name}-redirect`,
            { project, name: names.redirectUrlMap, defaultUrlRedirect: { httpsRedirect: true, redirectResponseCode: "PERMANENT_REDIRECT", stripQuery: false } },
            { parent: this },
        );
        const httpProxy = new gcp.compute.TargetHttpProxy(`${name}-http-proxy`, { project, name: names.httpProxy, urlMap: redirectMap.id }, { parent: this });
        // The same scheme as the :443 rule: forwarding rules default to EXTERNAL (classic).
        new gcp.compute.GlobalForwardingRule(
            `${name}-http`,
            {
                project,
                name: names.httpRule,
                loadBalancingScheme: "EXTERNAL_MANAGED",
                ipProtocol: "TCP",
                portRange: "80",
                ipAddress: args.address.address.id,
                target: httpProxy.id,
                labels,
            },
            { parent: this },
        );

        this.url = args.address.url;
        this.registerOutputs({ url: this.url, backendService: this.backendService.id, securityPolicy: this.securityPolicy.selfLink });
    }
}
