import { createServer } from "node:net";

/**
 * freePorts asks the OS for `n` distinct free TCP ports on `host` by binding port 0 and releasing it. Another
 * process may take a port between this call and its use; callers that start servers on them should expect a rare
 * EADDRINUSE and retry.
 */
export async function freePorts(n: number, host = "127.0.0.1"): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<import("node:net").Server>((resolve, reject) => {
          const s = createServer();
          s.once("error", reject);
          s.listen(0, host, () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as import("node:net").AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}
