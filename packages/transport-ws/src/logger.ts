/** Logger is the structured logger the transport writes to (pino's signature: object first, then message). */
export interface Logger {
  info(o: object, msg?: string): void;
  warn(o: object, msg?: string): void;
  error(o: object, msg?: string): void;
}

/** SILENT is the default logger: it drops everything. */
export const SILENT: Logger = { info() {}, warn() {}, error() {} };
