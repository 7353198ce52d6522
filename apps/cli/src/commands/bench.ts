import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { listEngines } from "../engines.js";
import { UsageError } from "../usage-error.js";

const here = dirname(fileURLToPath(import.meta.url));
/** The clab entry point, so the bench starts node processes exactly as a user's `clab cluster up` does. */
const CLI_MAIN = resolve(here, "..", "main.js");

/** repoRoot finds the workspace root (where docs/ lives) from the current directory upwards. */
function repoRoot(): string {
  let d = process.cwd();
  for (;;) {
    if (existsSync(join(d, "pnpm-workspace.yaml"))) return d;
    const up = dirname(d);
    if (up === d) return process.cwd();
    d = up;
  }
}

function versions(): Record<string, string> {
  const out: Record<string, string> = { node: process.version };
  try {
    const pkg = JSON.parse(readFileSync(resolve(here, "..", "..", "package.json"), "utf8")) as {
      version: string;
    };
    out.clab = pkg.version;
  } catch {
    // not fatal: versions are informative
  }
  return out;
}

/** registerBench adds `clab bench` and `clab docs` (ARCHITECTURE §5, §6). */
export function registerBench(program: Command): void {
  program
    .command("bench")
    .description("run the bench against real local clusters and regenerate docs/comparison.md")
    .option("--profile <name>", "quick (default, a few minutes) or full", "quick")
    .option("--engines <list>", "only these engines (comma-separated)")
    .option("--delays <list>", "injected one-way delays in ms (comma-separated)")
    .option("--out <dir>", "where results.json goes", "docs/results/latest")
    .option("--no-progress", "no progress bar")
    .action(
      async (flags: {
        profile: string;
        engines?: string;
        delays?: string;
        out: string;
        progress: boolean;
      }) => {
        if (flags.profile !== "quick" && flags.profile !== "full") {
          throw new UsageError(`--profile must be quick or full, got ${JSON.stringify(flags.profile)}`);
        }
        const engines = listEngines().filter((e) => !e.broken);
        const only = flags.engines
          ?.split(",")
          .map((s) => s.trim())
          .filter(Boolean);
        for (const n of only ?? []) {
          if (!engines.some((e) => e.name === n)) throw new UsageError(`unknown engine "${n}"`);
        }
        let delays: number[] | undefined;
        if (flags.delays) {
          delays = flags.delays.split(",").map((s) => Number(s.trim()));
          if (delays.some((d) => !Number.isFinite(d) || d < 0))
            throw new UsageError("--delays takes non-negative numbers");
        }
        const root = repoRoot();
        // Loaded on demand: the bench pulls in the chart renderer and the etcd client, which other commands never need.
        const { runBench, summaryTable } = await import("@consistency-lab/bench");
        const r = await runBench({
          profile: flags.profile,
          engines,
          ...(only ? { only } : {}),
          ...(delays ? { delays } : {}),
          out: resolve(root, flags.out),
          docsDir: join(root, "docs"),
          launcher: { command: process.execPath, args: [CLI_MAIN] },
          versions: versions(),
          progress: flags.progress,
        });
        process.stdout.write(`${summaryTable(r)}\n`);
        process.stdout.write(`wrote ${join(flags.out, "results.json")} and docs/comparison.md\n`);
      },
    );

  program
    .command("docs")
    .description("regenerate docs/comparison.md and its charts from docs/results/latest/results.json")
    .option("--results <file>", "results file", "docs/results/latest/results.json")
    .action(async (flags: { results: string }) => {
      const root = repoRoot();
      const path = resolve(root, flags.results);
      if (!existsSync(path)) throw new UsageError(`${flags.results} not found: run \`pnpm bench\` first`);
      const { readResults, writeComparison } = await import("@consistency-lab/bench");
      let results: ReturnType<typeof readResults>;
      try {
        results = readResults(path);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      const written = await writeComparison(results, join(root, "docs"), path);
      for (const f of written) process.stdout.write(`wrote ${f}\n`);
    });
}
