// The Debug profile's pure parts: the debugpy launch configuration that runs test nodes under pytest in
// the daemon's simulator mode, and reading pytest's verbose lines back into outcomes per node.
import type { Outcome } from "../generated/protocol";

/** The debug type this extension contributes: debugpy's own adapter (`python -m debugpy.adapter`). */
export const DEBUG_TYPE = "connector-watch-debugpy";

export interface DebugLaunch {
  type: string;
  request: "launch";
  name: string;
  module: "pytest";
  args: string[];
  cwd: string;
  python: string[];
  env: Record<string, string>;
  console: "internalConsole";
  redirectOutput: true;
  justMyCode: boolean;
  /** Ours: ties the session back to its test run. */
  connectorWatchRun: string;
  [key: string]: unknown;
}

/**
 * pytest on exactly these nodes, as the daemon would run them: in its simulator mode (the daemon
 * sets `CONNECTOR_TEST_MODE` for every mode but simulate), verbose so each outcome can be read back,
 * breakpoints in the workspace's own code honoured (justMyCode: connectors, specs' handlers, tests).
 */
export function debugLaunch(opts: { nodeIds: string[]; root: string; python: string; mode: string; runKey: string }): DebugLaunch {
  const env: Record<string, string> = { PYTHONUNBUFFERED: "1" };
  if (opts.mode && opts.mode !== "simulate") env.CONNECTOR_TEST_MODE = opts.mode;
  const label = opts.nodeIds.length === 1 ? opts.nodeIds[0].split("::").pop()! : `${opts.nodeIds.length} tests`;
  return {
    type: DEBUG_TYPE,
    request: "launch",
    name: `Debug ${label} (${opts.mode || "simulate"})`,
    module: "pytest",
    args: [...opts.nodeIds, "-v", "-rfE", "-p", "no:cacheprovider", "--no-header"],
    cwd: opts.root,
    python: [opts.python],
    env,
    console: "internalConsole",
    redirectOutput: true,
    justMyCode: true,
    connectorWatchRun: opts.runKey,
  };
}

export interface DebugOutcome {
  outcome: Outcome;
  message?: string;
}

const VERBOSE = /^(\S+::\S+) (PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)\b/;
const SUMMARY = /^(FAILED|ERROR) (\S+::\S+)(?: - (.*))?$/;

/** Each node's outcome from pytest's `-v` output; nodes it never names take the exit code's word. */
export function debugOutcomes(output: string, nodeIds: string[], exitCode: number | undefined): Map<string, DebugOutcome> {
  const found = new Map<string, DebugOutcome>();
  const messages = new Map<string, string>();
  for (const raw of output.split(/\r?\n/)) {
    const line = raw.trim();
    const summary = SUMMARY.exec(line);
    if (summary && summary[3]) messages.set(summary[2], summary[3]);
    const verbose = VERBOSE.exec(line);
    if (!verbose) continue;
    const word = verbose[2];
    const outcome: Outcome =
      word === "PASSED" || word === "XPASS" ? "passed" : word === "FAILED" ? "failed" : word === "ERROR" ? "error" : "skipped";
    if (!found.has(verbose[1]) || outcome !== "passed") found.set(verbose[1], { outcome });
  }
  const result = new Map<string, DebugOutcome>();
  for (const id of nodeIds) {
    const hit = found.get(id) ?? [...found].find(([k]) => k.startsWith(`${id}::`) || k.startsWith(`${id}[`))?.[1];
    if (hit) {
      result.set(id, { ...hit, ...(messages.has(id) ? { message: messages.get(id) } : {}) });
    } else if (exitCode === 0) {
      result.set(id, { outcome: "passed" });
    } else {
      const why = exitCode === undefined ? "the debug session ended before pytest reported" : `pytest exited with ${exitCode}`;
      result.set(id, { outcome: "error", message: `${why}; see the debug console` });
    }
  }
  return result;
}
