// Validates messages against the daemon's JSON Schema (2020-12), so fixtures and fakes stay honest.
import { readFileSync } from "node:fs";
import Ajv2020 from "ajv/dist/2020";
import { SCHEMA_PATH } from "./paths";

const schema = JSON.parse(readFileSync(SCHEMA_PATH, "utf8"));
const ajv = new Ajv2020({ strict: false, allErrors: true });
ajv.addSchema(schema, "protocol");

export const methods: Record<string, { kind: string; params: string; result?: string }> = schema["x-methods"];

/** Errors of `value` against `$defs/<name>`; empty when valid. */
export function schemaErrors(name: string, value: unknown): string[] {
  const validate = ajv.getSchema(`protocol#/$defs/${name}`);
  if (!validate) throw new Error(`no $defs/${name} in the protocol schema`);
  return validate(value) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}
