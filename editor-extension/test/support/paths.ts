// Paths for tests compiled to out/test/**: the extension root, the repo, the fixtures.
import { join } from "node:path";

export const EXTENSION_ROOT = join(__dirname, "..", "..", "..");
export const REPO_ROOT = join(EXTENSION_ROOT, "..");
export const FIXTURES = join(EXTENSION_ROOT, "test", "fixtures");
export const SCHEMA_PATH = join(REPO_ROOT, "daemon", "protocol.schema.json");
