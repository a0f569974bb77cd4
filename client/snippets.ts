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
    /** With image input: one chat request with a PNG sent as a data URL, with curl. */
    curlImage?: string;
    /** With image input: the same request with the OpenAI SDK in TypeScript. */
    typescriptImage?: string;
    /** With image input: the same request with the OpenAI SDK in Python. */
    pythonImage?: string;
}

export interface SnippetOptions {
    /** The model takes images: add curlImage, typescriptImage and pythonImage. Default: false. */
    imageInput?: boolean;
    /** LoRA adapter names (each a model name clients can call): curl, typescript and python say how. Default: none. */
    loraModels?: readonly string[];
}

/** The PNG the image snippets send, relative to the repository root (the smoke test sends it too). */
export const SNIPPET_IMAGE = "client/assets/smoke-image.png";
const IMAGE_PROMPT = "What is in this image?";

export function snippets(url: string, model: string, mode: AccessMode, options: SnippetOptions = {}): Snippets {
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

    const adapters = [...new Set(options.loraModels ?? [])];
    const withAdapters = adapters.length === 0
        ? { curl, typescript, python }
        : (() => {
            const first = adapters[0];
            const listed = `LoRA adapters: ${adapters.join(", ")}. Each is a model name: to call one, send its name as the model`;
            const adapterBody = JSON.stringify({ model: first, messages: [{ role: "user", content: "Hello!" }], max_tokens: 64 });
            return {
                curl: `${curl}\n# ${listed}, e.g. -d '${adapterBody}'`,
                typescript: `${typescript}\n// ${listed}: { model: ${JSON.stringify(first)}, messages: [...] }`,
                python: `${python}\n# ${listed}: client.chat.completions.create(model=${JSON.stringify(first)}, messages=[...])`,
            };
        })();

    if (!options.imageInput) return { curlCompletions, ...withAdapters };

    // The body goes to curl on stdin: an image's base64 is longer than one argument may be.
    const imageBody = JSON.stringify({
        model,
        messages: [{ role: "user", content: [{ type: "text", text: IMAGE_PROMPT }, { type: "image_url", image_url: { url: "data:image/png;base64,%s" } }] }],
        max_tokens: 64,
    });
    const curlImage = [
        `IMAGE=${SNIPPET_IMAGE}  # any PNG`,
        // printf's format is the JSON body; its one %s takes the base64 (a literal % would be %%).
        `printf '${imageBody.replace(/%/g, "%%").replace("%%s", "%s")}' "$(base64 < "$IMAGE" | tr -d '\\n')" | \\`,
        [`  curl -sS ${url}/v1/chat/completions`, ...curlAuth, `-H "Content-Type: application/json"`, `-d @-`].join(" \\\n  "),
    ].join("\n");

    const typescriptImage = [
        `// In this repository: tokens are minted and refreshed for you (npm run chat / smoke use the same).`,
        `import * as fs from "fs";`,
        `import { createClient } from "./client";`,
        `const client = createClient({ url: "${url}", model: "${model}"${mode === "iam" ? "" : ", apiKey: process.env.VLLM_API_KEY"} });`,
        `async function main(): Promise<void> {`,
        `    const image = \`data:image/png;base64,\${fs.readFileSync("${SNIPPET_IMAGE}").toString("base64")}\`;`,
        `    const r = await client.chat.completions.create({`,
        `        model: "${model}",`,
        `        messages: [{ role: "user", content: [{ type: "text", text: "${IMAGE_PROMPT}" }, { type: "image_url", image_url: { url: image } }] }],`,
        `    });`,
        `    console.log(r.choices[0].message.content);`,
        `}`,
        `main().catch((e: unknown) => { console.error(e); process.exitCode = 1; });`,
    ].join("\n");

    const pythonImage = [
        `import base64, os, subprocess`,
        `from openai import OpenAI`,
        ...(mode === "public+key" ? [] : [pyToken]),
        pyClient,
        `with open("${SNIPPET_IMAGE}", "rb") as f:`,
        `    image = "data:image/png;base64," + base64.b64encode(f.read()).decode()`,
        `r = client.chat.completions.create(model="${model}", messages=[{"role": "user", "content": [{"type": "text", "text": "${IMAGE_PROMPT}"}, {"type": "image_url", "image_url": {"url": image}}]}])`,
        `print(r.choices[0].message.content)`,
    ].join("\n");

    return { curlCompletions, ...withAdapters, curlImage, typescriptImage, pythonImage };
}
