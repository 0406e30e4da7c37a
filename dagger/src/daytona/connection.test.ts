import { describe, expect, it } from "vitest";
import { InputError } from "../rules/validation.js";
import { DEFAULT_DAYTONA_API_URL, resolveDaytonaConnection } from "./connection.js";

const KEY = "dtn_0123456789abcdef";

describe("resolveDaytonaConnection", () => {
  it("defaults to Daytona's cloud and trims what a secret file adds", () => {
    expect(resolveDaytonaConnection({ apiKey: `${KEY}\n`, apiUrl: undefined })).toEqual({ apiKey: KEY, apiUrl: DEFAULT_DAYTONA_API_URL });
    expect(resolveDaytonaConnection({ apiKey: KEY, apiUrl: "" }).apiUrl).toBe(DEFAULT_DAYTONA_API_URL);
  });

  it("takes another API URL, without a trailing slash", () => {
    expect(resolveDaytonaConnection({ apiKey: KEY, apiUrl: "http://127.0.0.1:3000/api/" }).apiUrl).toBe("http://127.0.0.1:3000/api");
  });

  it("says the key is missing, naming the variable", () => {
    expect(() => resolveDaytonaConnection({ apiKey: undefined, apiUrl: undefined })).toThrow(/^DAYTONA_API_KEY="" is not valid: .*it is not set/);
  });

  it("never echoes a malformed key", () => {
    const secret = "dtn_s3cr3t zq9";
    let message = "";
    try {
      resolveDaytonaConnection({ apiKey: secret, apiUrl: undefined });
    } catch (error) {
      expect(error).toBeInstanceOf(InputError);
      message = (error as Error).message;
    }
    expect(message).toMatch(/^DAYTONA_API_KEY="<hidden>" is not valid/);
    expect(message).not.toContain("s3cr3t");
  });

  it.each(["ftp://daytona.example/api", "not a url", "https://daytona.example/api?x=1"])("refuses the API URL %j, naming the variable", (apiUrl) => {
    expect(() => resolveDaytonaConnection({ apiKey: KEY, apiUrl })).toThrow(/^DAYTONA_API_URL=.* is not valid: expected an http\(s\) URL/);
  });

  it("refuses credentials in the URL without echoing them", () => {
    expect(() => resolveDaytonaConnection({ apiKey: KEY, apiUrl: "https://user:hunter2@daytona.example/api" })).toThrow(
      /^DAYTONA_API_URL="https:\/\/daytona.example\/api \(with credentials, hidden\)"/,
    );
  });

  it("names the fields it was given (the Dagger arguments)", () => {
    expect(() => resolveDaytonaConnection({ apiKey: "", apiUrl: undefined }, { apiKey: "apiKey", apiUrl: "apiUrl" })).toThrow(/^apiKey=""/);
  });
});
