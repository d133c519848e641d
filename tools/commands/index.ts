import type { Command } from "../cli.ts";
import { checkCommand } from "./check.ts";
import { generateCommand } from "./generate.ts";
import { renderCommand } from "./render.ts";
import { bumpImageCommand, promoteCommand } from "./release.ts";

export const commands: Command[] = [generateCommand, checkCommand, renderCommand, bumpImageCommand, promoteCommand];
