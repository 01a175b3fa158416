/** The smallest program that lints: `deno run -A dsl/lint_main.ts FILE...` (the benchmark runs it). */
import { lintCommand } from "./cli.ts";

Deno.exit(await lintCommand(Deno.args));
