import type { Command } from "../cli.ts";
import { checkCommand } from "./check.ts";
import { generateCommand } from "./generate.ts";
import { renderCommand } from "./render.ts";

export const commands: Command[] = [generateCommand, checkCommand, renderCommand];
