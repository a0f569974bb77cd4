// `npm run chat -- [--stack NAME] your prompt`: streams one answer from the deployed model,
// through the same authenticated OpenAI client a program would use.
import { parseArgs } from "util";
import { connectionFromStack, createClient, describeError } from "./index";

export const CHAT_USAGE = 'usage: npm run chat -- [--stack NAME] "your prompt"';

/** The prompt (all words, so an unquoted prompt keeps every word) and the stack; undefined prompt for usage. */
export function parseChatArgs(argv: string[]): { prompt?: string; stack?: string; help: boolean } {
    // strict: an unknown flag is an error, not part of the prompt. A prompt that starts with "-"
    // goes after "--": npm run chat -- -- "-1 or 1?"
    const { values, positionals } = parseArgs({
        args: argv,
        options: { stack: { type: "string" }, help: { type: "boolean", short: "h" } },
        allowPositionals: true,
        strict: true,
    });
    const prompt = positionals.join(" ").trim();
    return { prompt: prompt === "" ? undefined : prompt, stack: values.stack, help: values.help ?? false };
}

export async function main(argv: string[]): Promise<number> {
    let args: ReturnType<typeof parseChatArgs>;
    try {
        args = parseChatArgs(argv);
    } catch (e) {
        console.error(`${e instanceof Error ? e.message : String(e)}\n${CHAT_USAGE}`);
        return 2;
    }
    if (args.help) {
        console.log(CHAT_USAGE);
        return 0;
    }
    if (args.prompt === undefined) {
        console.error(CHAT_USAGE);
        return 2;
    }
    try {
        const conn = connectionFromStack(args.stack);
        const stream = await createClient(conn).chat.completions.create({ model: conn.model, messages: [{ role: "user", content: args.prompt }], stream: true });
        for await (const chunk of stream) process.stdout.write(chunk.choices[0]?.delta?.content ?? "");
        process.stdout.write("\n");
        return 0;
    } catch (e) {
        console.error(`chat failed: ${describeError(e)}`);
        return 1;
    }
}

if (require.main === module) {
    void main(process.argv.slice(2)).then((code) => process.exit(code));
}
