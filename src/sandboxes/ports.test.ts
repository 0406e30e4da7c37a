import { describe, expect, it } from "vitest";
import { chooseBlock, formatBlock, formatPorts, parseBlock, parsePortRange, parsePortsFile, portsOf, publish } from "./ports.js";

describe("host ports", () => {
  it("parses a range and refuses bad ones, naming the flag", () => {
    expect(parsePortRange("10000-11000")).toEqual({ from: 10000, to: 11000 });
    for (const bad of ["11000-10000", "80-90", "10000", "10000-70000", "a-b"]) expect(() => parsePortRange(bad)).toThrow("--port-range");
  });

  it("chooses the first block of consecutive ports nobody holds", async () => {
    const range = { from: 10000, to: 10010 };
    expect(await chooseBlock(0, range, new Set())).toBeUndefined();
    expect(await chooseBlock(2, range, new Set())).toEqual({ from: 10000, to: 10001 });
    expect(await chooseBlock(2, range, new Set([10001]))).toEqual({ from: 10002, to: 10003 });
    expect(await chooseBlock(3, range, portsOf([{ from: 10000, to: 10002 }, { from: 10004, to: 10005 }]))).toEqual({ from: 10006, to: 10008 });
    // A port something on the host listens on is skipped too.
    expect(await chooseBlock(2, range, new Set(), async (port) => port !== 10000)).toEqual({ from: 10001, to: 10002 });
    expect(await chooseBlock(12, range, new Set())).toBeUndefined();
    expect(await chooseBlock(2, range, portsOf([{ from: 10000, to: 10009 }]))).toBeUndefined();
  });

  it("takes a block that ends exactly on the range's last port", async () => {
    const range = { from: 10000, to: 10010 };
    expect(await chooseBlock(2, range, portsOf([{ from: 10000, to: 10008 }]))).toEqual({ from: 10009, to: 10010 });
    expect(await chooseBlock(11, range, new Set())).toEqual({ from: 10000, to: 10010 });
    expect(await chooseBlock(1, { from: 10005, to: 10005 }, new Set())).toEqual({ from: 10005, to: 10005 });
  });

  it("maps declared ports onto the block in order, and keeps the block in a label", () => {
    const declared = [{ process: "web", port: 3000 }, { process: "api", port: 8080 }];
    const published = publish(declared, { from: 10004, to: 10005 }, "127.0.0.1");
    expect(published).toEqual([
      { process: "web", port: 3000, hostIp: "127.0.0.1", hostPort: 10004 },
      { process: "api", port: 8080, hostIp: "127.0.0.1", hostPort: 10005 },
    ]);
    expect(formatPorts(published)).toBe("127.0.0.1:10004->3000 (web), 127.0.0.1:10005->8080 (api)");
    expect(parseBlock(formatBlock({ from: 10004, to: 10005 }))).toEqual({ from: 10004, to: 10005 });
    expect(parseBlock("")).toBeUndefined();
    expect(() => publish(declared, { from: 1, to: 1 }, "127.0.0.1")).toThrow();
  });

  it("reads the image's ports.json", () => {
    expect(parsePortsFile('{"ports":[{"process":"web","port":3000}]}', "img")).toEqual([{ process: "web", port: 3000 }]);
    expect(() => parsePortsFile('{"ports":[{"process":"web","port":0}]}', "img")).toThrow("ports.json in img");
    expect(() => parsePortsFile("not json", "img")).toThrow("ports.json in img");
  });
});
