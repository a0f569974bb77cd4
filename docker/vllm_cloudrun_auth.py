"""ASGI middleware that requires the API key on every path but /health.

vLLM's own --api-key check covers only /v1/*; /invocations (SageMaker-compatible inference,
vllm-project/vllm#58144), /tokenize, /metrics and others stay open. Cloud Run passes
`--middleware vllm_cloudrun_auth.RequireApiKey` when the stack has an apiKey, and vLLM adds
this class with app.add_middleware. /health stays open for Cloud Run's probes, which send no
headers. The key comes from VLLM_API_KEY, a Cloud Run secret reference.
"""

import hmac
import os

OPEN_PATHS = frozenset({"/health"})


class RequireApiKey:
    def __init__(self, app):
        self.app = app
        self.expected = ("Bearer " + os.environ.get("VLLM_API_KEY", "")).encode("latin-1")
        if self.expected == b"Bearer ":
            raise RuntimeError("RequireApiKey needs VLLM_API_KEY")

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope.get("path") not in OPEN_PATHS:
            given = b""
            for name, value in scope.get("headers", []):
                if name.lower() == b"authorization":
                    given = value
            if not hmac.compare_digest(given, self.expected):
                body = b'{"error": "Unauthorized"}'
                await send({
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
                })
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
