// Reads test files to place test items at their `class` / `def` lines (cached by modification time).
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { LineLocator } from "../mapping/tests";

export class FileLineLocator implements LineLocator {
  private cache = new Map<string, { mtimeMs: number; lines: string[] }>();

  constructor(private readonly root: string) {}

  private lines(file: string): string[] | undefined {
    const path = join(this.root, file);
    try {
      const { mtimeMs } = statSync(path);
      const hit = this.cache.get(file);
      if (hit && hit.mtimeMs === mtimeMs) return hit.lines;
      const lines = readFileSync(path, "utf8").split(/\r?\n/);
      this.cache.set(file, { mtimeMs, lines });
      return lines;
    } catch {
      return undefined;
    }
  }

  classLine(file: string, testClass: string): number | undefined {
    const pattern = new RegExp(`^\\s*class\\s+${escape(testClass)}\\b`);
    const index = this.lines(file)?.findIndex((l) => pattern.test(l)) ?? -1;
    return index >= 0 ? index : undefined;
  }

  functionLine(file: string, name: string): number | undefined {
    const pattern = new RegExp(`^\\s*(?:async\\s+)?def\\s+${escape(name)}\\s*\\(`);
    const index = this.lines(file)?.findIndex((l) => pattern.test(l)) ?? -1;
    return index >= 0 ? index : undefined;
  }
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
