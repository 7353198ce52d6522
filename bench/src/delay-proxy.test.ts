import { createConnection, createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { freeBasePort } from "./cluster.js";
import { DelayProxy } from "./delay-proxy.js";

describe("DelayProxy", () => {
  it("forwards bytes both ways in order", async () => {
    const [target, listen] = [await freeBasePort(1), await freeBasePort(1)];
    const echo = createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(target, "127.0.0.1", () => r()));
    const proxy = new DelayProxy(listen, target, 5);
    await proxy.start();
    const got = await new Promise<string>((resolve) => {
      const c = createConnection({ host: "127.0.0.1", port: listen });
      let buf = "";
      c.on("data", (d) => {
        buf += d.toString();
        if (buf.length >= 30) {
          c.destroy();
          resolve(buf);
        }
      });
      for (let i = 0; i < 10; i++) c.write(`<${i}>`);
    });
    expect(got).toBe(Array.from({ length: 10 }, (_, i) => `<${i}>`).join(""));
    await proxy.stop();
    await new Promise<void>((r) => echo.close(() => r()));
  });
});
