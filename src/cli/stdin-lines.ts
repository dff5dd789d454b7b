import { createInterface } from "node:readline";
import type { Interface } from "node:readline";

/**
 * One line reader over a stream for the whole process, for prompts. A fresh readline interface
 * per prompt loses input: the first one reads a whole chunk (several pasted or piped lines) and
 * closing it drops the rest, so the next prompt waits forever. Here every line is kept until a
 * prompt takes it; null once the input has ended and nothing is left.
 */
export function createLineReader(
  input: NodeJS.ReadableStream = process.stdin,
  output: NodeJS.WritableStream = process.stderr,
): (prompt: string) => Promise<string | null> {
  let rl: Interface | undefined;
  let ended = false;
  const lines: string[] = [];
  const waiting: ((line: string | null) => void)[] = [];

  function open(): Interface {
    const created = createInterface({ input, output });
    created.on("line", (line) => {
      const next = waiting.shift();
      if (next) next(line);
      else lines.push(line);
      if (waiting.length === 0) created.pause(); // between prompts the command may print freely
    });
    created.on("close", () => {
      ended = true;
      for (const next of waiting.splice(0)) next(null);
    });
    // Leave the terminal as it was (readline may have switched it to raw mode).
    process.once("exit", () => created.close());
    return created;
  }

  return (prompt) => {
    const ready = lines.shift();
    if (ready !== undefined) {
      // A terminal already echoed the line typed or pasted ahead; piped input gets its prompt, as before.
      if (!(output as { isTTY?: boolean }).isTTY) output.write(prompt);
      return Promise.resolve(ready);
    }
    if (ended) return Promise.resolve(null);
    rl ??= open();
    const reader = rl;
    return new Promise((resolve) => {
      waiting.push(resolve);
      reader.setPrompt(prompt);
      reader.prompt();
      reader.resume();
    });
  };
}
