import { DAYTONA_ENV, DaytonaClient, resolveDaytonaConnection } from "../../dagger/src/daytona/index.js";

/** A Daytona client from DAYTONA_API_KEY and DAYTONA_API_URL, the names Daytona's own tools read. */
export function daytonaClientFromEnv(env: NodeJS.ProcessEnv): DaytonaClient {
  const connection = resolveDaytonaConnection({ apiKey: env[DAYTONA_ENV.apiKey], apiUrl: env[DAYTONA_ENV.apiUrl] });
  return new DaytonaClient(connection);
}
