"""Downloads one model revision from the Hugging Face Hub with the image's own huggingface_hub.

docker/Dockerfile runs it to bake the weights into the Hugging Face cache under $HF_HOME (vLLM
later loads MODEL --revision MODEL_REVISION from there, offline); cloudbuild-gcs.yaml runs it
with --local-dir for plain files to upload to the weights bucket. The Dockerfile that
deploy/lora-adapters.ts renders runs it once per LoRA adapter with --repo, --revision and
--local-dir /opt/lora/<name>: the adapter's plain files, where vLLM's --lora-modules points.

Why not the `hf download` CLI: its `--exclude A B` was argparse nargs="*" in huggingface_hub 0.x
and is one value per flag in 1.x (Typer), where B becomes a filename to download (404).
snapshot_download(repo_id, *, revision, token, ignore_patterns, local_dir) takes these same
arguments, keyword-only, from 0.20 through 1.x (src/huggingface_hub/_snapshot_download.py).

Environment: MODEL and MODEL_REVISION unless --repo and --revision are given; HF_TOKEN unless
--token-file is given. The token is
only passed to snapshot_download, which never stores it (only a `login` writes one).
"""

import argparse
import os
import shutil
import sys

# Not needed by vLLM: original/* is the checkpoint in its pre-conversion format, *.gguf quantized copies.
IGNORE_PATTERNS = ["original/*", "*.gguf"]


def fail(message: str) -> int:
    print(f"download_weights.py: {message}", file=sys.stderr)
    return 2


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Download MODEL at MODEL_REVISION from the Hugging Face Hub.")
    parser.add_argument("--token-file", help="read the token from this file (a BuildKit secret) instead of HF_TOKEN")
    parser.add_argument("--local-dir", help="plain files in this directory instead of the Hugging Face cache")
    # For LoRA adapters: values on the command line, as the rendered Dockerfile has one RUN per adapter.
    parser.add_argument("--repo", help="repo id to download instead of MODEL (with --revision)")
    parser.add_argument("--revision", help="commit to download instead of MODEL_REVISION (with --repo)")
    args = parser.parse_args(argv)

    if (args.repo is None) != (args.revision is None):
        return fail("--repo and --revision go together")
    if args.repo is not None:
        model, revision = args.repo, args.revision
        if not model or not revision:
            return fail("--repo and --revision must not be empty")
    else:
        model = os.environ.get("MODEL", "")
        revision = os.environ.get("MODEL_REVISION", "")
        if not model or not revision:
            return fail("MODEL and MODEL_REVISION must be set")
    if args.token_file is not None:
        try:
            with open(args.token_file, encoding="utf-8") as f:
                token = f.read().strip()
        except OSError:
            token = ""
        if not token:
            return fail(f"the token file {args.token_file} is missing or empty")
    else:
        token = os.environ.get("HF_TOKEN", "").strip()
        if not token:
            return fail("HF_TOKEN is not set")

    from huggingface_hub import snapshot_download

    path = snapshot_download(
        model,
        revision=revision,
        token=token,
        ignore_patterns=IGNORE_PATTERNS,
        local_dir=args.local_dir,
    )
    if args.local_dir is not None:
        # Download metadata kept by huggingface_hub (src/huggingface_hub/_local_folder.py), not weights.
        shutil.rmtree(os.path.join(args.local_dir, ".cache", "huggingface"), ignore_errors=True)
        try:
            os.rmdir(os.path.join(args.local_dir, ".cache"))
        except OSError:
            pass
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
