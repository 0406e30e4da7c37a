import { DaytonaClient } from "../../dagger/src/daytona/client.js";
import { FakeClock, FakeDaytona } from "./fake-daytona.js";

export interface FakeDaytonaSession {
  clock: FakeClock;
  fake: FakeDaytona;
  client: DaytonaClient;
}

/** A fake Daytona and our client pointed at it, both on one fake clock so waits take no real time. */
export async function startFakeDaytonaSession(apiKey: string): Promise<FakeDaytonaSession> {
  const clock = new FakeClock();
  const fake = await FakeDaytona.start({ apiKey, now: () => clock.now() });
  return { clock, fake, client: new DaytonaClient({ apiUrl: fake.apiUrl, apiKey, clock }) };
}
