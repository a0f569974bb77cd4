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
"""

import hashlib
import hmac
import os

HEALTH_PATH = "/health"
UNAUTHORIZED = b'{"error": "Unauthorized"}'


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


class RequireApiKey:
    def __init__(self, app):
        self.app = app
        key = os.environ.get("VLLM_API_KEY", "")
        if not key:
            raise RuntimeError("RequireApiKey needs VLLM_API_KEY")
        # Digests of equal length, so compare_digest does not even leak the key's length.
        self.key_digest = hashlib.sha256(key.encode("latin-1")).digest()

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
