/**
 * Splits a reply into chunks a channel accepts, preferring the most natural cut that keeps chunks
 * reasonably full: a paragraph break, then a line break, then the end of a sentence, then a space;
 * only text with no space at all is cut mid-word (never inside a UTF-16 surrogate pair).
 * Whitespace at the cut is dropped; an empty or blank text gives no chunks.
 */
export function splitMessage(text: string, maxLength: number): string[] {
  if (!Number.isInteger(maxLength) || maxLength < 1) throw new RangeError(`maxLength must be a positive integer, got ${maxLength}`);
  const chunks: string[] = [];
  let rest = text.trim();
  while (rest.length > maxLength) {
    const cut = findCut(rest, maxLength);
    const chunk = rest.slice(0, cut).trimEnd();
    if (chunk.length > 0) chunks.push(chunk);
    rest = rest.slice(cut).trimStart();
  }
  if (rest.length > 0) chunks.push(rest);
  return chunks;
}

/** Paragraph and line cuts must keep at least this share of a full chunk (else a tiny chunk would go out). */
const MIN_FILL_FOR_LINES = 0.5;
/** Sentence cuts must keep at least this share. */
const MIN_FILL_FOR_SENTENCES = 0.3;

/** Index (exclusive end of the chunk) where text longer than maxLength is best cut. */
function findCut(text: string, maxLength: number): number {
  // The window includes one character past the limit so a break right after a full chunk counts.
  const window = text.slice(0, maxLength + 1);
  const lineFloor = Math.floor(maxLength * MIN_FILL_FOR_LINES);

  const paragraph = window.lastIndexOf("\n\n");
  if (paragraph >= lineFloor && paragraph > 0) return paragraph;
  const line = window.lastIndexOf("\n");
  if (line >= lineFloor && line > 0) return line;

  const sentence = lastSentenceEnd(window);
  if (sentence >= Math.floor(maxLength * MIN_FILL_FOR_SENTENCES) && sentence > 0 && sentence <= maxLength) return sentence;

  const space = lastWhitespace(window);
  if (space > 0) return space;

  // No break anywhere: a hard cut, moved back one if it would split a surrogate pair.
  const code = text.charCodeAt(maxLength - 1);
  return code >= 0xd800 && code <= 0xdbff && maxLength > 1 ? maxLength - 1 : maxLength;
}

/** End index (after the punctuation and closing quotes) of the last sentence followed by whitespace. */
function lastSentenceEnd(window: string): number {
  const pattern = /[.!?…。！？]["'”’)\]]*(?=\s)/g;
  let end = -1;
  for (let match = pattern.exec(window); match; match = pattern.exec(window)) end = match.index + match[0].length;
  return end;
}

function lastWhitespace(window: string): number {
  for (let i = window.length - 1; i > 0; i--) if (/\s/.test(window[i] ?? "")) return i;
  return -1;
}
