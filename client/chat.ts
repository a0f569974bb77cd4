// `npm run chat -- "your prompt" [--stack NAME]`: streams one answer from the deployed model,
// through the same authenticated OpenAI client a program would use.
import { connectionFromStack, createClient } from "./index";

async function main(argv: string[]): Promise<number> {
    const stackAt = argv.indexOf("--stack");
    const prompt = argv.filter((_, i) => i !== stackAt && i !== stackAt + 1).join(" ").trim();
    if (prompt === "") {
        console.error('usage: npm run chat -- "your prompt" [--stack NAME]');
        return 2;
    }
    const conn = connectionFromStack(stackAt >= 0 ? argv[stackAt + 1] : undefined);
    const stream = await createClient(conn).chat.completions.create({ model: conn.model, messages: [{ role: "user", content: prompt }], stream: true });
    for await (const chunk of stream) process.stdout.write(chunk.choices[0]?.delta?.content ?? "");
    process.stdout.write("\n");
    return 0;
}

void main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
        console.error(e instanceof Error ? e.message : String(e));
        process.exit(1);
    },
);
