// Defaults of `sandbox snapshot daytona`, kept free of imports so the command's help can show them
// without loading the Daytona client.
export const DEFAULT_DEADLINE = "30m";
export const DEFAULT_POLL_INTERVAL = "1s";
