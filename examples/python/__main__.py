"""VllmCloudRun from Python: an open LLM on Cloud Run with an L4 GPU, through the generated SDK."""
import pulumi

# The SDK `pulumi package add` generated from the component's schema. From this checkout
# (Pulumi.yaml: vllm-cloudrun: ../..) it is pulumi_vllm_cloudrun; from
# https://github.com/OWNER/vllm-cloudrun the GitHub owner becomes its namespace, so it is
# owner_vllm_cloudrun (OWNER in lower case): the command prints the import to use.
import pulumi_vllm_cloudrun as vllm

gcp = pulumi.Config("gcp")
config = pulumi.Config()

llm = vllm.VllmCloudRun(
    "llm",
    project=gcp.require("project"),
    region=gcp.require("region"),
    # A secret Output: the component refuses a token passed as a plain string.
    hf_token=config.require_secret("hfToken"),
    max_instances=1,
)

pulumi.export("service_url", llm.service_url)
pulumi.export("curl_command", llm.curl_command)
