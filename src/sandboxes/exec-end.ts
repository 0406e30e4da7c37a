/**
 * When an exec's output is over. The engine closes an exec's output stream once its process has
 * exited, but Docker 20.10 can leave the stream open after the exit (docker/cli#4553: the exec's
 * `exec_die` event fires, the client waits forever), and a client that waits only for the stream
 * hangs with it. Both exec clients (dockerode's in exec.ts, node:http's in engine-lite.ts) wait
 * for whichever comes first: the stream's end, or a short while after the engine reports the
 * process exited (the output still in flight arrives within it).
 */

/** What the engine's `GET /exec/{id}/json` says of the process. */
export interface ExecProcessState {
  Running: boolean;
  /** null until the engine has recorded the exit. */
  ExitCode: number | null;
}

export interface OutputEndTiming {
  /** How often the engine is asked whether the process exited, in ms. */
  pollMs: number;
  /** How long output may still arrive after the engine reports the exit, in ms. */
  trailingMs: number;
}

export const OUTPUT_END_TIMING: OutputEndTiming = { pollMs: 1_000, trailingMs: 5_000 };

/**
 * Resolves `"ended"` when `output` settles (the stream ended, or failed), or `"exited"` when the
 * engine has reported the process exited and `timing.trailingMs` more passed with the stream still
 * open; the caller then drops the stream. Never rejects: a failed inspect is asked again at the
 * next poll (the stream's own end or error still settles the wait).
 */
export function outputEnd(output: Promise<unknown>, inspect: () => Promise<ExecProcessState>, timing: OutputEndTiming = OUTPUT_END_TIMING): Promise<"ended" | "exited"> {
  return new Promise((resolve) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const settle = (how: "ended" | "exited") => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(how);
    };
    const poll = () => {
      inspect().then(
        (state) => {
          if (settled) return;
          if (!state.Running && state.ExitCode !== null) timer = setTimeout(() => settle("exited"), timing.trailingMs);
          else timer = setTimeout(poll, timing.pollMs);
        },
        () => {
          if (!settled) timer = setTimeout(poll, timing.pollMs);
        },
      );
    };
    output.then(
      () => settle("ended"),
      () => settle("ended"),
    );
    timer = setTimeout(poll, timing.pollMs);
  });
}

/**
 * The exit code once the engine has recorded it: the stream can end a moment before. Asks up to
 * 50 times, 10 ms apart at first, doubling to 200 ms (about 9 s in all); -1 when it never does.
 */
export async function recordedExitCode(inspect: () => Promise<ExecProcessState>): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const state = await inspect();
    if (!state.Running && state.ExitCode !== null) return state.ExitCode;
    await new Promise((resolve) => setTimeout(resolve, Math.min(10 * 2 ** attempt, 200)));
  }
  return -1;
}
