/** Splits a topology file into lines of whitespace-separated tokens, dropping `#` comments. */

/** A word of a line: its text, 1-based column and offset in the line. */
export interface Token {
  text: string;
  col: number;
}

/** One non-empty line: its number, its text without the comment, and its tokens. */
export interface Line {
  line: number;
  text: string;
  tokens: Token[];
}

/** Tokenizes one line; a hand loop, not a regex, so any input costs linear time. */
export function tokenizeLine(raw: string, line: number): Line {
  const tokens: Token[] = [];
  let end = raw.length;
  let i = 0;
  while (i < end) {
    const c = raw.charCodeAt(i);
    if (c === 35 /* # */) {
      end = i;
      break;
    }
    if (c === 32 || c === 9 || c === 13) {
      i++;
      continue;
    }
    const start = i;
    while (i < end) {
      const d = raw.charCodeAt(i);
      if (d === 32 || d === 9 || d === 13 || d === 35) break;
      i++;
    }
    tokens.push({ text: raw.slice(start, i), col: start + 1 });
  }
  return { line, text: raw.slice(0, end), tokens };
}
