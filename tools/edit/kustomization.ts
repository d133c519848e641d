// Exact edits of an overlay's `images:` entry. The document is parsed only to find where the
// value's text sits; the file is then changed by splicing that range, so comments, blank lines,
// quoting and order stay byte-identical (reprinting loses them: kustomize #4481).
import { isMap, isScalar, isSeq, Scalar, type Document, type Pair, type YAMLMap } from "yaml";
import { ValidationError, type Problem } from "../core/errors.ts";
import { parseYaml, parseYamlDocument } from "../core/yaml.ts";

export interface ImageRef {
  newTag?: string;
  digest?: string;
}

export interface ImageEdit {
  /** The file's new text (equal to the old one when nothing changes). */
  text: string;
  before: ImageRef;
  after: ImageRef;
  changed: boolean;
}

interface Splice {
  start: number;
  end: number;
  text: string;
}

/**
 * Words and numbers that some YAML reader takes for something other than a string. kustomize's
 * reader follows YAML 1.1 here: `newTag: yes` is a boolean to it, and the build fails. Its
 * integers go through Go's strconv.ParseInt(s, 0, 64) (go-yaml resolve.go), which also takes
 * upper-case prefixes: `0X1F`, `0B11` and `0O17` are numbers to it, though valid OCI tags.
 */
const NOT_PLAIN_STRING = /^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|null|Null|NULL|~|[-+]?(?:\d[\d_]*)?\.?\d[\d_]*(?:[eE][-+]?\d+)?|0[xX][\da-fA-F_]+|0[oO]?[0-7_]+|0[bB][01_]+|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)|\d+(?::[0-5]?\d)+(?:\.\d*)?)$/;

/** True when a plain (unquoted) scalar would not read back as this same string, in YAML 1.1 or 1.2. */
export function needsQuotes(value: string): boolean {
  let plain: unknown;
  try {
    plain = parseYaml(value, "value");
  } catch {
    plain = undefined;
  }
  return plain !== value || NOT_PLAIN_STRING.test(value);
}

/** Renders a string as a YAML scalar in the style the old value used, quoting when plain would change its type. */
export function scalarText(value: string, style: Scalar["type"] | undefined): string {
  if (style === Scalar.QUOTE_SINGLE) return `'${value.replace(/'/g, "''")}'`;
  if (style === Scalar.QUOTE_DOUBLE) return JSON.stringify(value);
  return needsQuotes(value) ? JSON.stringify(value) : value;
}

function findImage(doc: Document, file: string, image: string): YAMLMap {
  const problems: Problem[] = [];
  const root = doc.contents;
  if (!isMap(root)) throw new ValidationError([{ file, path: "", message: "expected a kustomization mapping" }]);
  const images = root.get("images", true);
  if (images === undefined) {
    problems.push({ file, path: "images", message: `there is no images: list; add an entry for ${image} (name and newTag) first` });
  } else if (!isSeq(images)) {
    problems.push({ file, path: "images", message: "must be a list" });
  } else {
    const names = images.items.map((item) => (isMap(item) ? item.get("name") : undefined));
    const index = names.findIndex((n) => n === image);
    if (index >= 0) return images.items[index] as YAMLMap;
    problems.push({ file, path: "images", message: `no entry named ${image}; entries: ${names.filter(Boolean).join(", ") || "none"}` });
  }
  throw new ValidationError(problems);
}

function valueOf(map: YAMLMap, key: string, file: string): string | undefined {
  const v = map.get(key);
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") {
    // `newTag: 1.10` is the number 1.1 to every YAML reader: neither the tag meant nor a string kustomize accepts.
    throw new ValidationError([{ file, path: `images[name=${String(map.get("name"))}].${key}`, message: `${JSON.stringify(v)} is not a string: quote it (e.g. ${key}: "${String(v)}")` }]);
  }
  return v;
}

/** Line start offset of `pos` and the indentation of that line. */
function lineOf(text: string, pos: number): { start: number; indent: string } {
  const start = text.lastIndexOf("\n", pos - 1) + 1;
  return { start, indent: /^[ \t]*/.exec(text.slice(start))![0] };
}

/** Plans setting (or, for digest, replacing) one image's tag/digest; pure. */
export function planImageEdit(text: string, file: string, image: string, want: ImageRef): ImageEdit {
  const { doc } = parseYamlDocument(text, file);
  const entry = findImage(doc, file, image);
  const before: ImageRef = { newTag: valueOf(entry, "newTag", file), digest: valueOf(entry, "digest", file) };
  const after: ImageRef = { newTag: want.newTag, digest: want.digest };
  if (before.newTag === after.newTag && before.digest === after.digest) return { text, before, after, changed: false };

  const splices: Splice[] = [];
  const pairOf = (key: string) => entry.items.find((p: Pair) => isScalar(p.key) && p.key.value === key);
  const namePair = pairOf("name")!;
  const nameKey = namePair.key as Scalar;
  const keyIndent = lineOf(text, nameKey.range![0]);
  // A key on the "- name:" line is indented past the dash; siblings align with the key.
  const siblingIndent = " ".repeat(nameKey.range![0] - keyIndent.start);
  // New keys go after the entry's last line, so that name, newTag and digest keep their usual order.
  const last = entry.items[entry.items.length - 1]!;
  const lastEnd = (last.value as Scalar | null)?.range?.[1] ?? (last.key as Scalar).range![1];
  const newline = text.indexOf("\n", lastEnd);
  const insertPoint = newline >= 0 ? newline + 1 : text.length;

  for (const key of ["newTag", "digest"] as const) {
    const value = after[key];
    const pair = pairOf(key);
    if (pair && isScalar(pair.value) && pair.value.range) {
      if (value === undefined) {
        // Remove the whole line of this key (a digest-only bump drops a stale tag).
        const line = lineOf(text, (pair.key as Scalar).range![0]);
        const endOfLine = text.indexOf("\n", pair.value.range[1]);
        splices.push({ start: line.start, end: endOfLine < 0 ? text.length : endOfLine + 1, text: "" });
      } else if (value !== before[key]) {
        splices.push({ start: pair.value.range[0], end: pair.value.range[1], text: scalarText(value, pair.value.type) });
      }
    } else if (value !== undefined) {
      const prefix = insertPoint === text.length && !text.endsWith("\n") ? "\n" : "";
      splices.push({ start: insertPoint, end: insertPoint, text: `${prefix}${siblingIndent}${key}: ${scalarText(value, undefined)}\n` });
    }
  }
  let out = text;
  for (const s of splices.sort((a, b) => b.start - a.start)) out = out.slice(0, s.start) + s.text + out.slice(s.end);
  return { text: out, before, after, changed: out !== text };
}

/** Reads an overlay's current tag/digest for an image. */
export function readImage(text: string, file: string, image: string): ImageRef {
  const { doc } = parseYamlDocument(text, file);
  const entry = findImage(doc, file, image);
  return { newTag: valueOf(entry, "newTag", file), digest: valueOf(entry, "digest", file) };
}
