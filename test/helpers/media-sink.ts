import { mkdirSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import type { MediaSink } from "../../src/channels/types.ts";

/** A MediaSink writing into a plain folder `dir`; paths come back as "<folder name>/<file>", as the inbox's do. */
export function saveInto(dir: string): MediaSink {
  return function saveIntoDir(name, bytes) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, name), bytes);
    return `${basename(dir)}/${name}`;
  };
}
