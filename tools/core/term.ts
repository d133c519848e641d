// Colour only on a TTY and never with NO_COLOR (https://no-color.org), as CLI users expect.
export function useColour(stream: NodeJS.WriteStream = process.stdout): boolean {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== "") return false;
  return Boolean(stream.isTTY);
}

const codes = { red: 31, green: 32, yellow: 33, dim: 2, bold: 1, cyan: 36 } as const;
export type Colour = keyof typeof codes;

export function paint(text: string, colour: Colour, enabled: boolean): string {
  return enabled ? `\u001b[${codes[colour]}m${text}\u001b[0m` : text;
}

/** Progress for work that takes more than a second; on stderr, so stdout stays parseable. */
export function progress(message: string): void {
  if (process.env.GITOPS_QUIET) return;
  process.stderr.write(`${message}\n`);
}
