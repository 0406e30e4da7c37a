import { describe, expect, it } from "vitest";
import { isVolumeCopyRace } from "./launch.js";

describe("isVolumeCopyRace", () => {
  it("recognizes the engine's error when containers created at once fill the same new volume", () => {
    // As Docker 20.10 answered, three `sandbox run`s at once with a new pnpm store volume.
    expect(isVolumeCopyRace("failed to mkdir /var/lib/docker/volumes/iterate-sandbox-test-store-a7e764b2/_data/v10/files/34: mkdir /var/lib/docker/volumes/iterate-sandbox-test-store-a7e764b2/_data/v10/files/34: file exists")).toBe(true);
  });

  it("leaves other create failures alone", () => {
    expect(isVolumeCopyRace('Conflict. The container name "/x" is already in use by container "abc".')).toBe(false);
    expect(isVolumeCopyRace("failed to mkdir /home/user/project: file exists")).toBe(false);
    expect(isVolumeCopyRace("No such image: iterate-sandbox/app:local")).toBe(false);
  });
});
