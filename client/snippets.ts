// Ready-to-paste ways to call a deployed stack, exported as stack outputs. None contains a
// secret: the API key is read from $VLLM_API_KEY, identity tokens from gcloud or Google auth.

/** How callers get in: IAM only, IAM plus API key, or public with API key. */
export type AccessMode = "iam" | "iam+key" | "public+key";

export function accessMode(hasApiKey: boolean, isPublic: boolean): AccessMode {
    return !hasApiKey ? "iam" : isPublic ? "public+key" : "iam+key";
}

export interface Snippets {
    /** The codelab's test: one /v1/completions call. */
    curlCompletions: string;
    curl: string;
    typescript: string;
    python: string;
}

export function snippets(url: string, model: string, mode: AccessMode): Snippets {
    const body = JSON.stringify({ model, messages: [{ role: "user", content: "Hello!" }], max_tokens: 64 });
    const idHeader = mode === "iam" ? "Authorization" : "X-Serverless-Authorization";
    const curlAuth = [
        ...(mode === "public+key" ? [] : [`-H "${idHeader}: Bearer $(gcloud auth print-identity-token)"`]),
        ...(mode === "iam" ? [] : ['-H "Authorization: Bearer $VLLM_API_KEY"']),
    ];
    const curl = [`curl -sS ${url}/v1/chat/completions`, ...curlAuth, `-H "Content-Type: application/json"`, `-d '${body}'`].join(" \\\n  ");
    const completion = JSON.stringify({ model, prompt: "Cloud Run is", max_tokens: 64 });
    const curlCompletions = [`curl -sS ${url}/v1/completions`, ...curlAuth, `-H "Content-Type: application/json"`, `-d '${completion}'`].join(" ");

    const typescript = [
        `// In this repository: tokens are minted and refreshed for you (npm run chat / smoke use the same).`,
        `import { createClient } from "./client";`,
        `const client = createClient({ url: "${url}", model: "${model}"${mode === "iam" ? "" : ", apiKey: process.env.VLLM_API_KEY"} });`,
        // No top-level await: this project compiles to CommonJS.
        `async function main(): Promise<void> {`,
        `    const r = await client.chat.completions.create({ model: "${model}", messages: [{ role: "user", content: "Hello!" }] });`,
        `    console.log(r.choices[0].message.content);`,
        `}`,
        `main().catch((e: unknown) => { console.error(e); process.exitCode = 1; });`,
    ].join("\n");

    const pyToken = `token = subprocess.check_output(["gcloud", "auth", "print-identity-token"], text=True).strip()  # valid for 1 hour`;
    const pyClient =
        mode === "iam"
            ? `client = OpenAI(base_url="${url}/v1", api_key=token)  # sent as Authorization: Bearer <token>`
            : mode === "iam+key"
              ? `client = OpenAI(base_url="${url}/v1", api_key=os.environ["VLLM_API_KEY"], default_headers={"X-Serverless-Authorization": f"Bearer {token}"})`
              : `client = OpenAI(base_url="${url}/v1", api_key=os.environ["VLLM_API_KEY"])`;
    const python = [
        `import os, subprocess`,
        `from openai import OpenAI`,
        ...(mode === "public+key" ? [] : [pyToken]),
        pyClient,
        `r = client.chat.completions.create(model="${model}", messages=[{"role": "user", "content": "Hello!"}])`,
        `print(r.choices[0].message.content)`,
    ].join("\n");

    return { curlCompletions, curl, typescript, python };
}
