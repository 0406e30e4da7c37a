/** The readiness marker entry.sh writes (and `sandbox-sync` prints): `key=value` lines. No imports, so the sync path stays light. */
export const READY_FILE = "/run/iterate-sandbox/ready";

export interface ReadyMarker {
  readyAt: string;
  synced: boolean;
  head: string;
  dependencies: string;
}

/** The marker file's `key=value` lines. */
export function parseReadyMarker(text: string): ReadyMarker {
  const values = new Map(text.split("\n").flatMap((line) => {
    const at = line.indexOf("=");
    return at > 0 ? [[line.slice(0, at), line.slice(at + 1)] as const] : [];
  }));
  return { readyAt: values.get("ready_at") ?? "", synced: values.get("synced") === "yes", head: values.get("head") ?? "", dependencies: values.get("dependencies") ?? "" };
}
