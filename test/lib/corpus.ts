/**
 * Reader for test/fixtures/requests.txt, the parser corpus (its format is
 * documented at the top of that file; test/native/corpus.h is the C++
 * reader of the same file).
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export interface CorpusCase {
  name: string;
  line: number;
  keys: [string, string][];
  raw: Buffer;
  get(key: string): string | undefined;
  all(key: string): string[];
}

/** Decodes \r \n \t \0 \\ \xHH and \{N:text} into bytes (latin1 string). */
export function unescape(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== "\\") {
      out += c;
      continue;
    }
    if (++i === s.length) throw new Error("trailing backslash");
    const e = s[i]!;
    switch (e) {
      case "r": out += "\r"; break;
      case "n": out += "\n"; break;
      case "t": out += "\t"; break;
      case "0": out += "\0"; break;
      case "\\": out += "\\"; break;
      case "x": {
        const hex = s.slice(i + 1, i + 3);
        if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new Error(`bad \\x escape in ${JSON.stringify(s)}`);
        out += String.fromCharCode(parseInt(hex, 16));
        i += 2;
        break;
      }
      case "{": {
        const colon = s.indexOf(":", i);
        const close = s.indexOf("}", i);
        if (colon < 0 || close < 0 || colon > close) throw new Error(`bad \\{N:text} escape in ${JSON.stringify(s)}`);
        const n = parseInt(s.slice(i + 1, colon), 10);
        out += unescape(s.slice(colon + 1, close)).repeat(n);
        i = close;
        break;
      }
      default:
        throw new Error(`unknown escape \\${e}`);
    }
  }
  return out;
}

export const CORPUS_PATH = fileURLToPath(new URL("../../../test/fixtures/requests.txt", import.meta.url));

export function loadCorpus(path = CORPUS_PATH): CorpusCase[] {
  const cases: CorpusCase[] = [];
  let raw = "";
  let inRaw = false;
  let cur: { name: string; line: number; keys: [string, string][] } | null = null;
  const finish = (): void => {
    if (cur === null) return;
    const keys = cur.keys;
    cases.push({
      name: cur.name,
      line: cur.line,
      keys,
      raw: Buffer.from(raw, "latin1"),
      get: (k) => keys.find(([n]) => n === k)?.[1],
      all: (k) => keys.filter(([n]) => n === k).map(([, v]) => v),
    });
  };
  const lines = readFileSync(path, "latin1").split("\n");
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    if (line.endsWith("\r")) line = line.slice(0, -1);
    if (line.startsWith("=== ")) {
      finish();
      cur = { name: line.slice(4), line: i + 1, keys: [] };
      raw = "";
      inRaw = false;
      continue;
    }
    if (cur === null || line.length === 0 || line[0] === "#") continue;
    if (inRaw) {
      raw += unescape(line);
      continue;
    }
    if (line === "---") {
      inRaw = true;
      continue;
    }
    const colon = line.indexOf(":");
    if (colon < 0) throw new Error(`requests.txt line ${i + 1}: expected key: value`);
    cur.keys.push([line.slice(0, colon), line.slice(colon + 1).replace(/^ +/, "")]);
  }
  finish();
  return cases;
}
