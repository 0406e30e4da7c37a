/**
 * Notes for the cache sources BuildKit could not read, from its plain progress log: each import is a
 * vertex `#N importing cache manifest from <ref>`, and a missing or unreadable one ends with
 * `#N ERROR: <reason>` while the build goes on without it. One line per failed source, as BuildKit
 * names it; nothing for the sources that were read.
 */
export function cacheImportNotes(log: string): string[] {
  const refByVertex = new Map<string, string>();
  const notes: string[] = [];
  for (const line of log.split("\n")) {
    const started = /^#(\d+) importing cache manifest from (\S+)\s*$/.exec(line);
    if (started) refByVertex.set(started[1] as string, started[2] as string);
    const failed = /^#(\d+) ERROR: (.*)$/.exec(line);
    const ref = failed ? refByVertex.get(failed[1] as string) : undefined;
    if (failed && ref !== undefined) notes.push(`cache: could not import from ${ref} (${(failed[2] as string).trim()}); built without it`);
  }
  return notes;
}
