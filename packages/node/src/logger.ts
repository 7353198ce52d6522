import { pino } from "pino";

/**
 * createLogger returns the node's structured logger: pino, JSON lines on stderr (stdout stays free for command
 * output), level from `level` or env CLAB_LOG_LEVEL (default "info"). Synchronous writes, so the last lines
 * before a fatal exit are not lost.
 */
export function createLogger(bindings: Record<string, unknown> = {}, level?: string): pino.Logger {
  return pino(
    {
      name: "clab",
      level: level ?? process.env.CLAB_LOG_LEVEL ?? "info",
      base: { pid: process.pid, ...bindings },
    },
    pino.destination({ fd: 2, sync: true }),
  );
}
