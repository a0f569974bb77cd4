// docker/vllm_cloudrun_auth.py, run by the real Python interpreter: first as bare ASGI calls
// (test/fixtures/check_auth_middleware.py builds scopes the way uvicorn does), then in front
// of a real Starlette app on a real uvicorn, over raw sockets (test/fixtures/auth_middleware_e2e.py).
// Rules: lifespan passes; http needs the key except exactly GET /health; websocket always needs
// it (refused before accept, HTTP 403); any other scope type raises. With VLLM_CLOUDRUN_METRICS_PORT
// it also runs a loopback-only relay for GET /metrics that adds the key itself
// (test/fixtures/metrics-relay_e2e.py, one scenario per Python process).
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { spawnSync } from "child_process";
import * as path from "path";
import { DOCKER_DIR } from "../components/image-build";
import { skipUnlessAvailable } from "./docker";

const KEY = "sk-test-key-0123456789";
type Header = [string, string];
const auth = (value: string): Header => ["authorization", value];
const BEARER = auth(`Bearer ${KEY}`);

const python = spawnSync("python3", ["--version"], { encoding: "utf8" });
const unavailable = python.status === 0 ? undefined : "python3 is not installed";

interface Case {
    type: string;
    /** The request-target as a client sends it: percent-encoding and query string included. */
    target?: string;
    method?: string;
    rootPath?: string;
    headers?: Header[];
}
interface Result {
    outcome: string;
    reachedApp: boolean;
    events: string[];
    headers?: Record<string, string>;
    body?: string;
}

function runCases(cases: Case[]): { emptyKey: string; results: Result[] } {
    if (unavailable) throw new Error(unavailable);
    const r = spawnSync("python3", [path.join(__dirname, "fixtures", "check_auth_middleware.py"), DOCKER_DIR], {
        encoding: "utf8",
        input: JSON.stringify({ cases }),
        timeout: 60_000,
    });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout);
}

/** Runs the cases and checks each outcome (and that the app ran exactly when the request passed). */
function expectOutcomes(table: [Case, string][]): Result[] {
    const { results } = runCases(table.map(([c]) => c));
    const passed = new Set(["200", "accept", "lifespan.startup.complete"]);
    assert.deepEqual(
        results.map((r, i) => ({ case: table[i][0], outcome: r.outcome, reachedApp: r.reachedApp })),
        table.map(([c, outcome]) => ({ case: c, outcome, reachedApp: passed.has(outcome) })),
    );
    return results;
}

describe("API-key middleware baked into the image", { skip: skipUnlessAvailable(unavailable) }, () => {
    it("passes lifespan, guards http and websocket, raises on any other scope type", () => {
        const results = expectOutcomes([
            [{ type: "lifespan" }, "lifespan.startup.complete"],
            [{ type: "http", target: "/v1/models" }, "401"],
            [{ type: "http", target: "/v1/models", headers: [BEARER] }, "200"],
            [{ type: "websocket", target: "/v1/realtime" }, "close 1008 before accept"],
            [{ type: "websocket", target: "/v1/realtime", headers: [BEARER] }, "accept"],
            // The ASGI spec asks apps to reject protocols they do not understand with an exception.
            [{ type: "webtransport", target: "/v1/models", headers: [BEARER] }, "raised RuntimeError"],
            [{ type: "", target: "/health" }, "raised RuntimeError"],
        ]);
        // Refused handshake: the connect is answered with a close, nothing else, the app never runs.
        assert.deepEqual(results[3].events, ["receive websocket.connect", "send websocket.close"]);
        assert.deepEqual(results[1].headers, { "content-type": "application/json", "content-length": "25", "www-authenticate": "Bearer" });
        assert.equal(results[1].body, '{"error": "Unauthorized"}');
    });

    it("guards every path but GET /health, including vLLM's unguarded /invocations", () => {
        const paths = ["/invocations", "/v1/chat/completions", "/v1/models", "/tokenize", "/metrics", "/", "/docs"];
        expectOutcomes([
            ...paths.map((target): [Case, string] => [{ type: "http", method: "POST", target }, "401"]),
            ...paths.map((target): [Case, string] => [{ type: "http", method: "POST", target, headers: [BEARER] }, "200"]),
            [{ type: "http", target: "/health" }, "200"],
            // vLLM's route is GET only; FastAPI answers HEAD/POST there with 405, so they need the key.
            [{ type: "http", method: "HEAD", target: "/health" }, "401"],
            [{ type: "http", method: "POST", target: "/health" }, "401"],
            [{ type: "http", method: "OPTIONS", target: "/health" }, "401"],
            [{ type: "http", method: "HEAD", target: "/health", headers: [BEARER] }, "200"],
        ]);
    });

    it("opens only the decoded path /health, the one Starlette's router matches", () => {
        // [request-target, open without the key]. The router matches the percent-decoded path,
        // so /%68ealth is /health to both; everything else is not /health and needs the key.
        const forms: [string, boolean][] = [
            ["/health", true],
            ["/health?x=1", true],
            ["/health?", true],
            ["/%68ealth", true],
            ["/%68%65%61%6C%74%68", true],
            ["/health/", false],
            ["/health/?x=1", false],
            ["//health", false],
            ["/%2Fhealth", false],
            ["/health%2F", false],
            ["/HEALTH", false],
            ["/Health", false],
            ["/%48ealth", false],
            ["/health%00", false],
            ["/health%0A", false],
            ["/health%20", false],
            ["/health.", false],
            ["/./health", false],
            ["/v1/../health", false],
            ["/health;x", false],
            ["health", false],
            ["", false],
            ["http://127.0.0.1/health", false],
        ];
        expectOutcomes([
            ...forms.map(([target, open]): [Case, string] => [{ type: "http", target }, open ? "200" : "401"]),
            ...forms.map(([target]): [Case, string] => [{ type: "http", target, headers: [BEARER] }, "200"]),
            // Websockets are never open: vLLM serves none at /health.
            ...forms.map(([target]): [Case, string] => [{ type: "websocket", target }, "close 1008 before accept"]),
            ...forms.map(([target]): [Case, string] => [{ type: "websocket", target, headers: [BEARER] }, "accept"]),
        ]);
    });

    it("opens /health under a root_path only where the router sees /health too", () => {
        // vLLM --root-path sets scope["root_path"] (FastAPI); Starlette >= 0.35 routes path minus root_path.
        expectOutcomes([
            [{ type: "http", rootPath: "/api", target: "/health" }, "200"],
            // The router serves /health here, but the middleware does not look past root_path: stricter, never larger.
            [{ type: "http", rootPath: "/api", target: "/api/health" }, "401"],
            // Route path "" (not /health): not open.
            [{ type: "http", rootPath: "/health", target: "/health" }, "401"],
            [{ type: "http", rootPath: "/h", target: "/health" }, "200"],
            [{ type: "http", rootPath: "/api", target: "/api/health", headers: [BEARER] }, "200"],
        ]);
    });

    it("takes the key only from one Authorization: Bearer header", () => {
        const forms: [Header[], boolean][] = [
            [[], false],
            [[auth("Bearer wrong")], false],
            [[auth(`Bearer ${KEY}`)], true],
            // RFC 9110 §11.1: the scheme is case-insensitive (vLLM's own check agrees).
            [[auth(`bearer ${KEY}`)], true],
            [[auth(`BEARER ${KEY}`)], true],
            // Header names are case-insensitive; servers lowercase them, but do not rely on it.
            [[["Authorization", `Bearer ${KEY}`]], true],
            [[auth(`Basic ${KEY}`)], false],
            [[auth(KEY)], false],
            [[auth("Bearer")], false],
            [[auth("Bearer ")], false],
            [[auth(`Bearer  ${KEY}`)], false],
            [[auth(`Bearer ${KEY} `)], false],
            [[auth(`Bearer ${KEY}x`)], false],
            [[auth(`Bearer ${KEY.slice(0, -1)}`)], false],
            [[auth(`Bearer ${KEY.toUpperCase()}`)], false],
            [[auth(`Bearer ${KEY}, Bearer ${KEY}`)], false],
            // Several Authorization headers: refused whatever their values, so no reader can pick another one.
            [[BEARER, BEARER], false],
            [[auth("Bearer wrong"), BEARER], false],
            [[BEARER, auth("Bearer wrong")], false],
            [[BEARER, ["Authorization", `Bearer ${KEY}`]], false],
            // Only the Authorization header: not x-api-key, not the browsers' subprotocol, not the query string.
            [[["x-api-key", KEY]], false],
            [[["sec-websocket-protocol", `realtime, openai-insecure-api-key.${KEY}`]], false],
        ];
        expectOutcomes([
            ...forms.map(([headers, ok]): [Case, string] => [{ type: "http", target: "/invocations", method: "POST", headers }, ok ? "200" : "401"]),
            ...forms.map(([headers, ok]): [Case, string] => [{ type: "websocket", target: "/v1/realtime", headers }, ok ? "accept" : "close 1008 before accept"]),
            [{ type: "http", target: `/v1/models?api_key=${KEY}` }, "401"],
            [{ type: "websocket", target: `/v1/realtime?api_key=${KEY}` }, "close 1008 before accept"],
        ]);
    });

    it("guards /metrics on vLLM's port like any other path (the relay, not the sidecar, sends the key)", () => {
        const results = expectOutcomes([
            [{ type: "http", target: "/metrics" }, "401"],
            [{ type: "http", target: "/metrics", headers: [BEARER] }, "200"],
            [{ type: "http", target: "/metrics?x=1" }, "401"],
            [{ type: "http", method: "HEAD", target: "/metrics" }, "401"],
            [{ type: "http", method: "HEAD", target: "/metrics", headers: [BEARER] }, "200"],
            [{ type: "http", target: "/metrics/" }, "401"],
            [{ type: "http", target: "/metrics", headers: [auth("Bearer client-supplied")] }, "401"],
        ]);
        assert.deepEqual(results[0].headers, { "content-type": "application/json", "content-length": "25", "www-authenticate": "Bearer" });
        assert.equal(results[0].body, '{"error": "Unauthorized"}');
    });

    it("refuses to start without VLLM_API_KEY", () => {
        assert.equal(runCases([]).emptyKey, "RequireApiKey needs VLLM_API_KEY");
    });
});

// A real uvicorn and Starlette: Debian's python3-uvicorn python3-starlette python3-websockets.
// The host python3 may not be Debian's (pyenv), so try it and then /usr/bin/python3.
const E2E_MODULES = "import uvicorn, starlette, websockets, wsproto";
const e2ePython = ["python3", "/usr/bin/python3"].find((p) => spawnSync(p, ["-c", E2E_MODULES]).status === 0);
const e2eUnavailable = e2ePython
    ? undefined
    : "no python3 with uvicorn, starlette, websockets and wsproto (apt-get install python3-uvicorn python3-starlette python3-websockets)";

interface Request {
    kind: "http" | "websocket";
    target: string;
    method?: string;
    headers?: Header[];
}

function serve(ws: string, requests: Request[]): { status: number; body: string }[] {
    if (e2eUnavailable) throw new Error(e2eUnavailable);
    const r = spawnSync(e2ePython as string, [path.join(__dirname, "fixtures", "auth_middleware_e2e.py"), DOCKER_DIR, ws], {
        encoding: "utf8",
        input: JSON.stringify({ requests }),
        timeout: 60_000,
    });
    assert.equal(r.status, 0, `${r.stderr}${r.error ? String(r.error) : ""}`);
    return JSON.parse(r.stdout).results;
}

describe("API-key middleware on a real uvicorn", { skip: skipUnlessAvailable(e2eUnavailable) }, () => {
    const healthForms = ["/health", "/health?x=1", "/%68ealth", "/health/", "//health", "/HEALTH", "/health%00", "/health%0A", "/%2Fhealth"];
    const table: [Request, number, string?][] = [
        // "healthy" also proves the lifespan scope went through the middleware (uvicorn --lifespan on).
        [{ kind: "http", target: "/health" }, 200, "healthy"],
        [{ kind: "http", target: "/health?x=1" }, 200, "healthy"],
        [{ kind: "http", target: "/%68ealth" }, 200, "healthy"],
        [{ kind: "http", target: "/health/" }, 401],
        [{ kind: "http", target: "//health" }, 401],
        [{ kind: "http", target: "/HEALTH" }, 401],
        [{ kind: "http", target: "/health%00" }, 401],
        [{ kind: "http", target: "/health%0A" }, 401],
        [{ kind: "http", target: "/%2Fhealth" }, 401],
        [{ kind: "http", target: "/health", method: "HEAD" }, 401],
        [{ kind: "http", target: "/health", method: "POST" }, 401],
        [{ kind: "http", target: "/v1/models" }, 401, '{"error": "Unauthorized"}'],
        [{ kind: "http", target: "/nowhere" }, 401],
        [{ kind: "http", target: "/v1/models", headers: [auth("Bearer wrong")] }, 401],
        [{ kind: "http", target: "/v1/models", headers: [BEARER, BEARER] }, 401],
        [{ kind: "http", target: "/v1/models", headers: [BEARER] }, 200, "models"],
        [{ kind: "http", target: "/v1/models", headers: [auth(`bearer ${KEY}`)] }, 200, "models"],
        // What the router itself does with the key: /health/ is a redirect, not the endpoint;
        // /health%0A *is* the endpoint (Starlette's route regex ends in "$", which matches
        // before a final newline) yet stays closed without the key: the open set is smaller.
        [{ kind: "http", target: "/health/", headers: [BEARER] }, 307],
        [{ kind: "http", target: "//health", headers: [BEARER] }, 404],
        [{ kind: "http", target: "/HEALTH", headers: [BEARER] }, 404],
        [{ kind: "http", target: "/health%00", headers: [BEARER] }, 404],
        [{ kind: "http", target: "/health%0A", headers: [BEARER] }, 200, "healthy"],
        // Websocket handshakes: refused with 403 before accept, 101 with the key.
        [{ kind: "websocket", target: "/v1/realtime" }, 403],
        [{ kind: "websocket", target: "/v1/realtime", headers: [auth("Bearer wrong")] }, 403],
        [{ kind: "websocket", target: "/v1/realtime", headers: [BEARER, auth("Bearer wrong")] }, 403],
        [{ kind: "websocket", target: "/v1/realtime", headers: [["sec-websocket-protocol", `openai-insecure-api-key.${KEY}`]] }, 403],
        [{ kind: "websocket", target: `/v1/realtime?api_key=${KEY}` }, 403],
        [{ kind: "websocket", target: "/health" }, 403],
        [{ kind: "websocket", target: "/v1/realtime", headers: [BEARER] }, 101, "session.created"],
    ];

    for (const ws of ["websockets", "wsproto"]) {
        it(`answers with the real status codes (uvicorn --ws ${ws})`, () => {
            const results = serve(ws, table.map(([req]) => req));
            assert.deepEqual(
                results.map((r, i) => ({ req: table[i][0], status: r.status, ...(table[i][2] === undefined ? {} : { body: r.body }) })),
                table.map(([req, status, body]) => ({ req, status, ...(body === undefined ? {} : { body }) })),
            );
        });
    }

    it("never opens a path the router does not serve as /health", () => {
        // Without the key 200 only where, with the key, the router's answer is the health endpoint's.
        const reqs = healthForms.flatMap((target): Request[] => [{ kind: "http", target }, { kind: "http", target, headers: [BEARER] }]);
        const results = serve("websockets", reqs);
        for (let i = 0; i < healthForms.length; i++) {
            const [open, keyed] = [results[2 * i], results[2 * i + 1]];
            if (open.status !== 401) assert.deepEqual([healthForms[i], open, keyed], [healthForms[i], { status: 200, body: "healthy" }, { status: 200, body: "healthy" }]);
        }
    });
});

// The metrics relay, over real sockets. One fixture process per scenario: the relay starts at
// most once per process. The e2e Python (uvicorn and Starlette) serves the stand-in vLLM.
interface RelayResponse {
    status: number;
    contentType: string | null;
    allow: string | null;
    body: string;
    headerNames: string[];
    echoesKey: boolean;
    seconds?: number;
}

function relayScenario(scenario: string): { out: any; stderr: string } {
    if (e2eUnavailable) throw new Error(e2eUnavailable);
    const r = spawnSync(e2ePython as string, [path.join(__dirname, "fixtures", "metrics-relay_e2e.py"), DOCKER_DIR, scenario], {
        encoding: "utf8",
        timeout: 60_000,
    });
    assert.equal(r.status, 0, `${r.stderr}${r.error ? String(r.error) : ""}`);
    // Nothing the process logged carries the key.
    assert.ok(!r.stderr.includes(KEY), r.stderr);
    return { out: JSON.parse(r.stdout), stderr: r.stderr };
}

const METRICS_BODY = "# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running 0.0\n";
const METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8";
const RELAY_THREAD = "vllm-cloudrun-metrics-relay";
const PLAIN = "text/plain; charset=utf-8";
const NOT_FOUND = { status: 404, contentType: PLAIN, allow: null, body: "not found\n" };
const NOT_ALLOWED = { status: 405, contentType: PLAIN, allow: "GET", body: "method not allowed\n" };
const UNAVAILABLE = { status: 503, contentType: PLAIN, allow: null, body: "metrics upstream unavailable\n" };
const RELAYED = { status: 200, contentType: METRICS_TYPE, allow: null, body: METRICS_BODY };

describe("metrics relay of the API-key middleware, on real sockets", { skip: skipUnlessAvailable(e2eUnavailable) }, () => {
    it("relays GET /metrics from 127.0.0.1 with the key, answers nothing else, and logs nothing", () => {
        const { out, stderr } = relayScenario("relay");
        const responses = out.responses as Record<string, RelayResponse>;
        const expected: Record<string, object> = {
            // vLLM's own port keeps /metrics behind the key.
            "app /metrics": { status: 401, contentType: "application/json", allow: null, body: '{"error": "Unauthorized"}' },
            "app /metrics with key": RELAYED,
            "app HEAD /metrics": { status: 401, contentType: "application/json", allow: null, body: "" },
            "relay /metrics": RELAYED,
            // The sidecar's target is 0.0.0.0:<port> (run-gmp-sidecar confgenerator/config.go); on
            // Linux a connect to 0.0.0.0 goes to the loopback address, so it reaches the relay.
            "relay 0.0.0.0 /metrics": RELAYED,
            "relay /metrics?x=1": RELAYED,
            "relay /metrics with client headers": RELAYED,
            "relay /v1/models": NOT_FOUND,
            "relay POST /v1/models": NOT_FOUND,
            "relay /metrics/": NOT_FOUND,
            "relay /Metrics": NOT_FOUND,
            "relay /%6Detrics": NOT_FOUND,
            "relay //metrics": NOT_FOUND,
            "relay /health": NOT_FOUND,
            "relay absolute-form": NOT_FOUND,
            "relay POST /metrics": NOT_ALLOWED,
            "relay HEAD /metrics": { ...NOT_ALLOWED, body: "" },
            "relay PUT /metrics": NOT_ALLOWED,
            "relay DELETE /metrics": NOT_ALLOWED,
            "relay BREW /metrics": NOT_ALLOWED,
            // The upstream's status and body pass through; a redirect is not followed (nor its Location relayed).
            "relay /metrics, upstream error": { status: 500, contentType: PLAIN, allow: null, body: "engine dead" },
            "relay /metrics, upstream redirect": { status: 307, contentType: null, allow: null, body: "" },
        };
        assert.deepEqual(
            Object.fromEntries(Object.entries(responses).map(([k, r]) => [k, { status: r.status, contentType: r.contentType, allow: r.allow, body: r.body }])),
            expected,
        );
        // The relay answers with its own few headers only, and never with the key.
        for (const [label, r] of Object.entries(responses)) {
            assert.equal(r.echoesKey, false, label);
            if (label.startsWith("relay ")) {
                const names = ["content-length", "date", "server", ...(r.contentType === null ? [] : ["content-type"]), ...(r.allow === null ? [] : ["allow"])];
                assert.deepEqual(r.headerNames, names.sort(), label);
            }
        }
        // The app saw exactly the relay's key on each of the 7 /metrics calls that passed (1 direct
        // with the key, 6 relayed), never the client's header; the relay's request carries only
        // urllib's own headers. /v1/models through the relay, and the redirect's target, never ran.
        assert.deepEqual(out.seen.metrics, Array(7).fill([`Bearer ${KEY}`]));
        // HTTP_PROXY pointed at a recording proxy: the relay goes straight to loopback, so the key never reaches it.
        assert.deepEqual(out.proxySeen, []);
        const relayHeaders = ["accept-encoding", "authorization", "connection", "host", "user-agent"];
        assert.deepEqual(out.seen.metricsHeaders, [["authorization", "connection", "host"], ...Array(6).fill(relayHeaders)]);
        // identity: the body is never gzip, whatever the client accepts.
        assert.deepEqual(out.seen.acceptEncoding, [null, ...Array(6).fill("identity")]);
        assert.equal(out.seen.models, 0);
        // One relay, though the middleware was constructed twice.
        assert.deepEqual(out.relayThreads, [RELAY_THREAD]);
        // Bound to the loopback interface: the only sockets this process listens on are the app's
        // and the relay's, both on 127.0.0.1.
        assert.deepEqual(out.serverAddress, ["127.0.0.1", out.relayPort]);
        const byPort = (l: [string, number][]) => [...l].sort((x, y) => x[1] - y[1]);
        assert.deepEqual(byPort(out.listeners), byPort([["127.0.0.1", out.appPort], ["127.0.0.1", out.relayPort]]));
        const outside = Object.keys(out.nonLoopback);
        assert.deepEqual(
            out.nonLoopback,
            Object.fromEntries(outside.map((ip) => [ip, "refused"])),
            outside.length === 0
                ? "sub-check skipped: this machine has no non-loopback IPv4 address to connect to"
                : `connecting to the relay port on ${outside.join(", ")} is refused`,
        );
        // Upstream gone (refused): 503 at once, not after the timeout. Upstream silent: 503 after
        // the timeout (cut from 10 s to 1 s by the fixture).
        assert.deepEqual(out.listenersAfterStop, [["127.0.0.1", out.relayPort]]);
        const { seconds: downSeconds, ...down } = out["upstream down"];
        const { seconds: silentSeconds, ...silent } = out["upstream silent"];
        assert.deepEqual([down.status, down.contentType, down.body, silent.status, silent.contentType, silent.body], [503, PLAIN, UNAVAILABLE.body, 503, PLAIN, UNAVAILABLE.body]);
        assert.ok(downSeconds < 1, `upstream down took ${downSeconds} s`);
        assert.ok(silentSeconds >= 1 && silentSeconds < 5, `upstream silent took ${silentSeconds} s`);
        // BaseHTTPRequestHandler's request log is silenced, uvicorn logs warnings only: nothing at all.
        assert.equal(stderr, "");
    });

    it("takes the upstream port from PORT without VLLM_CLOUDRUN_UPSTREAM_PORT, else 8000", () => {
        const { out, stderr } = relayScenario("relay-port");
        const { status, contentType, allow, body } = out.responses["relay /metrics"];
        assert.deepEqual({ status, contentType, allow, body }, RELAYED);
        assert.deepEqual(out.seen.metrics, [[`Bearer ${KEY}`]]);
        assert.equal(stderr, "");
        const fallback = relayScenario("default-upstream");
        assert.deepEqual(fallback.out, { upstreamUrl: "http://127.0.0.1:8000/metrics", relayThreads: [RELAY_THREAD] });
        assert.equal(fallback.stderr, "");
    });

    it("starts no relay without VLLM_CLOUDRUN_METRICS_PORT", () => {
        const { out, stderr } = relayScenario("off");
        assert.deepEqual(out, { listenersBefore: [], listenersAfter: [], relayThreads: [], relayServer: false });
        assert.equal(stderr, "");
    });

    it("refuses a relay port that is not an integer from 1 to 65535, before starting anything", () => {
        const { out, stderr } = relayScenario("invalid");
        const values = ["abc", "0", "70000", "65536", "", "-1", " 9400", "9400 ", "+9400", "9_400", "9400.0", "\u0669\u0664\u0660\u0660"];
        const pyRepr = (v: string) => `'${v}'`;
        assert.deepEqual(out, {
            errors: {
                ...Object.fromEntries(values.map((v) => [v, `VLLM_CLOUDRUN_METRICS_PORT must be a TCP port number from 1 to 65535, not ${pyRepr(v)}`])),
                "VLLM_CLOUDRUN_UPSTREAM_PORT=abc": "VLLM_CLOUDRUN_UPSTREAM_PORT must be a TCP port number from 1 to 65535, not 'abc'",
                "PORT=abc": "PORT must be a TCP port number from 1 to 65535, not 'abc'",
            },
            relayThreads: [],
            listeners: [],
        });
        assert.equal(stderr, "");
    });

    it("logs one warning and serves on when the relay port is taken", () => {
        const { out, stderr } = relayScenario("busy");
        assert.deepEqual(out, { port: out.port, relayThreads: [], relayServer: false });
        // Python's logging.lastResort handler: the bare message on stderr; once, though constructed twice.
        assert.equal(stderr, `metrics relay not started: cannot listen on 127.0.0.1:${out.port}: [Errno 98] Address already in use\n`);
    });
});
