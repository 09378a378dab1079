// The recorded daemon session (test/fixtures/session-corpus-break.json, see record_session.py).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { AnyNotification, InitializeResult } from "../../src/generated/protocol";
import { FIXTURES } from "./paths";

export interface Session {
  initialize: InitializeResult;
  notifications: AnyNotification[];
}

export function loadSession(name = "session-corpus-break.json"): Session {
  return JSON.parse(readFileSync(join(FIXTURES, name), "utf8")) as Session;
}
