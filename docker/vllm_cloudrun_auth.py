"""ASGI middleware that requires the API key on every request but GET /health.

vLLM's own --api-key check covers only /v1/*; /invocations (SageMaker-compatible inference,
vllm-project/vllm#58144), /tokenize, /metrics and others stay open, and newer vLLM also serves
a Realtime WebSocket API (/v1/realtime). Cloud Run passes
`--middleware vllm_cloudrun_auth.RequireApiKey` when the stack has an apiKey, and vLLM adds
this class with app.add_middleware, so it sees every ASGI scope before the router. GET /health
stays open for Cloud Run's probes, which send no headers. The key comes from VLLM_API_KEY, a
Cloud Run secret reference.

Rules:
- "lifespan" passes (vLLM starts its engine tasks in it).
- "http" needs `Authorization: Bearer <key>` unless it is exactly GET /health; otherwise 401.
- "websocket" always needs the key (vLLM serves no websocket at /health); otherwise the
  handshake is refused with websocket.close before accept, which the server answers as HTTP 403.
- Any other scope type raises: the ASGI spec asks apps to reject protocols they do not
  understand with an exception (asgiref specs/asgi.rst, "Applications should actively reject
  any protocol that they do not understand"); no ASGI server sends one today.
- Exactly one Authorization header, scheme "Bearer" in any case (RFC 9110 §11.1), one space,
  then the key. Several Authorization headers are refused, whatever their values.
Only the Authorization header carries the key: browser Realtime clients that put it in a
websocket subprotocol (`openai-insecure-api-key.<key>`) or in the query string are refused.

Metrics relay, only when VLLM_CLOUDRUN_METRICS_PORT is set (an integer from 1 to 65535, else the
constructor raises). Google Cloud Managed Service for Prometheus's Cloud Run sidecar scrapes
GET /metrics but cannot send an Authorization header (its RunMonitoring config has no auth field;
GoogleCloudPlatform/run-gmp-sidecar#38), and /metrics on vLLM's port stays refused without the
key. So the first constructor call in the process starts a ThreadingHTTPServer on
127.0.0.1:<VLLM_CLOUDRUN_METRICS_PORT> in a daemon thread (if the port is taken: one warning and
vLLM serves on, without the relay). It answers:
- GET /metrics (query string ignored; the path compared exactly, so /metrics/ or /Metrics are
  404): it fetches http://127.0.0.1:<upstream>/metrics itself with `Authorization: Bearer <key>`
  and returns the upstream's status, Content-Type and body; 503 if the upstream cannot be reached
  or does not answer in time. <upstream> is VLLM_CLOUDRUN_UPSTREAM_PORT, else PORT, else 8000.
- Any other method on /metrics: 405 with `Allow: GET`. Any other path: 404.
The client's own headers are never forwarded (an Authorization header it sends is ignored), and
the relay logs no request line and no client address (a failed request logs its exception type
only): nothing about a request, and never the key, reaches the logs.
Why that does not open /metrics to the world: Cloud Run sends outside requests only to the
ingress container's one port (container runtime contract: "A Cloud Run instance always has one
single ingress container that listens for requests"; v2 Container.ports: "Only a single port can
be specified"), which is vLLM's; and the relay listens on the loopback interface only, which only
the instance's own containers reach (they share localhost; that is how the sidecar scrapes).
The sidecar's scrape target is hard-coded as 0.0.0.0:<port> (run-gmp-sidecar
confgenerator/config.go, endpointScrapeConfig). On Linux a TCP connect to 0.0.0.0 goes to the
loopback device (net/ipv4/route.c ip_route_output_key_hash_rcu: a zero destination becomes the
source address, or INADDR_LOOPBACK for both when unbound), so it reaches this 127.0.0.1 listener;
the service asks for Cloud Run's second generation execution environment (components/service.ts),
a Linux kernel rather than gVisor's emulation. The tests connect to 0.0.0.0 and get the metrics
(test/auth-middleware.test.ts); that was not checked on Cloud Run itself.
"""

import hashlib
import hmac
import http.client
import http.server
import logging
import os
import sys
import threading
import urllib.error
import urllib.request

HEALTH_PATH = "/health"
UNAUTHORIZED = b'{"error": "Unauthorized"}'

METRICS_PATH = "/metrics"
METRICS_PORT_ENV = "VLLM_CLOUDRUN_METRICS_PORT"
UPSTREAM_PORT_ENV = "VLLM_CLOUDRUN_UPSTREAM_PORT"
DEFAULT_UPSTREAM_PORT = 8000
# Per socket operation (urllib's timeout is the socket timeout), under the sidecar's scrape
# timeout (its default is the 30 s interval; run-gmp-sidecar confgenerator/config.go).
UPSTREAM_TIMEOUT_SECONDS = 10
RELAY_THREAD_NAME = "vllm-cloudrun-metrics-relay"
UPSTREAM_UNAVAILABLE = b"metrics upstream unavailable\n"

logger = logging.getLogger(__name__)

# The relay starts at most once per process: a process can build more than one middleware stack
# (Starlette before encode/starlette#2017 rebuilt it on every add_middleware; and one process may
# build several apps), and a second bind of the port would only fail.
_relay_lock = threading.Lock()
_relay_attempted = False
_relay_server = None  # the listening _MetricsRelayServer, or None


def _route_path(scope):
    """The path Starlette's router matches: `path` minus `root_path`.

    Copied from starlette/_utils.py get_route_path (Starlette >= 0.35.0, encode/starlette#2400);
    every FastAPI that vLLM v0.10+ allows (fastapi >= 0.115.0 needs starlette >= 0.37.2) uses it.
    Older Starlette matched scope["path"] itself, which the caller checks too.
    """
    path = scope["path"]
    root_path = scope.get("root_path") or ""
    if not root_path or not path.startswith(root_path):
        return path
    if path == root_path:
        return ""
    if path[len(root_path)] == "/":
        return path[len(root_path):]
    return path


def _is_health_probe(scope):
    # `path` is percent-decoded by the server (ASGI www spec: "with percent-encoded sequences and
    # UTF-8 byte sequences decoded"; uvicorn h11_impl/httptools_impl: unquote(raw_path)), and the
    # router matches that decoded path, not raw_path. Comparing the same value the router uses
    # keeps the open set inside what the router serves as /health: /%68ealth is /health to both;
    # /health/ (a 307 redirect from the router), //health, /HEALTH and /health%00 are not /health
    # here and need the key. The query string is a separate scope key, so /health?x=1 is /health.
    # Both readings (whole path for Starlette < 0.35, minus root_path after) must say /health.
    # Only GET: vLLM's route is @router.get("/health") (entrypoints/openai/api_server.py in
    # v0.10; serve/instrumentator/health.py later), and FastAPI's APIRoute, unlike Starlette's
    # Route, does not add HEAD (fastapi/routing.py APIRoute.__init__), so HEAD/POST get a 405.
    return (
        scope.get("method") == "GET"
        and scope.get("path") == HEALTH_PATH
        and _route_path(scope) == HEALTH_PATH
    )


def _port_from_env(name):
    """The TCP port in env `name`, or None if unset; RuntimeError unless it is 1-65535."""
    value = os.environ.get(name)
    if value is None:
        return None
    # ASCII digits only: int() would also take " 9400", "+9400", "9_400" and other scripts' digits.
    if not (value.isascii() and value.isdigit() and 1 <= int(value) <= 65535):
        raise RuntimeError(f"{name} must be a TCP port number from 1 to 65535, not {value!r}")
    return int(value)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect is returned to the client as the upstream's answer, never followed: urllib
    # would send the Authorization header on to the new location (HTTPRedirectHandler
    # .redirect_request keeps every header but the content ones). vLLM's /metrics does not
    # redirect (its Mount path_regex "^/metrics(?P<path>.*)$" avoids Starlette's 307 to /metrics/).
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


# ProxyHandler({}): no proxy, whatever HTTP_PROXY/http_proxy say, so the key goes to the upstream only.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


class _MetricsRelayHandler(http.server.BaseHTTPRequestHandler):
    # StreamRequestHandler.setup puts this timeout on the client socket: a client that sends
    # nothing cannot hold a thread forever.
    timeout = UPSTREAM_TIMEOUT_SECONDS

    def log_message(self, format, *args):
        # BaseHTTPRequestHandler writes every request line and error to stderr through this.
        pass

    def _reply(self, status, content_type, body, headers=()):
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _is_metrics(self):
        # The request-target exactly as sent (not percent-decoded), minus the query string. Taken
        # from the request line, not self.path: parse_request turns a leading "//" into "/"
        # (http/server.py, gh-87389), which would make //metrics /metrics. parse_request has
        # already checked the line is `METHOD target [version]` (requestline.split()).
        return self.requestline.split()[1].partition("?")[0] == METRICS_PATH

    def do_GET(self):
        if not self._is_metrics():
            self._reply(404, "text/plain; charset=utf-8", b"not found\n")
            return
        self._reply(*self.server.fetch_metrics())

    def _refuse(self):
        if self._is_metrics():
            self._reply(405, "text/plain; charset=utf-8", b"method not allowed\n", [("Allow", "GET")])
        else:
            self._reply(404, "text/plain; charset=utf-8", b"not found\n")

    def __getattr__(self, name):
        # BaseHTTPRequestHandler.handle_one_request calls do_<METHOD> and answers 501 when there
        # is none; every method but GET (HEAD, POST, PUT, and any other token) lands here.
        if name.startswith("do_"):
            return self._refuse
        raise AttributeError(name)


class _MetricsRelayServer(http.server.ThreadingHTTPServer):
    # HTTPServer sets SO_REUSEADDR, which on Linux still refuses a port another socket listens
    # on. SO_REUSEPORT would let another socket share the port and its connections: never.
    allow_reuse_port = False

    def __init__(self, port, upstream_port, key):
        self.upstream_url = f"http://127.0.0.1:{upstream_port}{METRICS_PATH}"
        self._authorization = "Bearer " + key
        super().__init__(("127.0.0.1", port), _MetricsRelayHandler)

    def fetch_metrics(self):
        """(status, content type, body) of the upstream's GET /metrics, or a 503."""
        # Only this header is set here. http.client adds Host and Accept-Encoding: identity (so
        # the body is never gzip: prometheus_client's make_asgi_app compresses only for a client
        # that accepts gzip), urllib adds User-Agent and Connection: close. Nothing of the
        # client's request is forwarded.
        request = urllib.request.Request(self.upstream_url, headers={"Authorization": self._authorization})
        try:
            try:
                response = _OPENER.open(request, timeout=UPSTREAM_TIMEOUT_SECONDS)
            except urllib.error.HTTPError as error:
                response = error  # a non-2xx answer is still the upstream's answer, and a response
            with response:
                return response.status, response.headers.get("Content-Type"), response.read()
        except (OSError, http.client.HTTPException):
            # URLError (refused, unreachable) is an OSError; a read timeout raises TimeoutError
            # itself, an OSError too; a cut-off answer raises an HTTPException.
            return 503, "text/plain; charset=utf-8", UPSTREAM_UNAVAILABLE

    def handle_error(self, request, client_address):
        # socketserver's default prints the traceback and the client address to stderr; keep
        # only the exception type, which says nothing about the request.
        logger.warning("metrics relay: a request failed with %s", sys.exc_info()[0].__name__)


def _start_metrics_relay(port, upstream_port, key):
    global _relay_attempted, _relay_server
    with _relay_lock:
        if _relay_attempted:
            return
        _relay_attempted = True
        try:
            server = _MetricsRelayServer(port, upstream_port, key)
        except OSError as error:
            # vLLM serves on without the relay (e.g. a second API server process on this port).
            logger.warning("metrics relay not started: cannot listen on 127.0.0.1:%d: %s", port, error)
            return
        threading.Thread(target=server.serve_forever, name=RELAY_THREAD_NAME, daemon=True).start()
        _relay_server = server


class RequireApiKey:
    def __init__(self, app):
        self.app = app
        key = os.environ.get("VLLM_API_KEY", "")
        if not key:
            raise RuntimeError("RequireApiKey needs VLLM_API_KEY")
        # Digests of equal length, so compare_digest does not even leak the key's length.
        self.key_digest = hashlib.sha256(key.encode("latin-1")).digest()
        # Checked on every construction, before anything starts; the upstream port only with a relay.
        metrics_port = _port_from_env(METRICS_PORT_ENV)
        if metrics_port is not None:
            upstream_port = _port_from_env(UPSTREAM_PORT_ENV) or _port_from_env("PORT") or DEFAULT_UPSTREAM_PORT
            _start_metrics_relay(metrics_port, upstream_port, key)

    def _authorized(self, scope):
        values = [v for n, v in scope.get("headers", []) if n.lower() == b"authorization"]
        # ASGI keeps duplicate headers (www spec, "Duplicates are possible and must be
        # preserved"); Starlette's Headers.get takes the first, vLLM's own check too. Refuse
        # several instead of picking one, so no proxy or framework can read a different one.
        if len(values) != 1:
            return False
        scheme, _, token = values[0].partition(b" ")
        ok = hmac.compare_digest(hashlib.sha256(token).digest(), self.key_digest)
        return ok and scheme.lower() == b"bearer"

    async def __call__(self, scope, receive, send):
        kind = scope.get("type")
        if kind == "lifespan":
            await self.app(scope, receive, send)
        elif kind == "http":
            if _is_health_probe(scope) or self._authorized(scope):
                await self.app(scope, receive, send)
                return
            await send({
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(UNAUTHORIZED)).encode()),
                    # A 401 carries the scheme to use (RFC 9110 §11.6.1, RFC 6750 §3).
                    (b"www-authenticate", b"Bearer"),
                ],
            })
            await send({"type": "http.response.body", "body": UNAUTHORIZED})
        elif kind == "websocket":
            if self._authorized(scope):
                await self.app(scope, receive, send)
                return
            # ASGI www spec, websocket.connect / websocket.close: a close sent before accept
            # makes the server refuse the handshake with HTTP 403 (uvicorn websockets_impl.py
            # and wsproto_impl.py asgi_send). The app is never called.
            message = await receive()
            if message["type"] == "websocket.connect":
                await send({"type": "websocket.close", "code": 1008})
        else:
            raise RuntimeError(f"RequireApiKey refuses ASGI scope type {kind!r}")
