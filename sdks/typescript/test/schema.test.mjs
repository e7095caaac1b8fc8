// src/schema.ts is generated from docs/openapi.json; this fails when the API document changed and
// `npm run gen` was not run again, so the SDK's types cannot drift from the server.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

test("src/schema.ts is what openapi-typescript makes of docs/openapi.json now", () => {
  const dir = mkdtempSync(join(tmpdir(), "oakallow-schema-"));
  try {
    const fresh = join(dir, "schema.ts");
    execFileSync("npx", ["--no-install", "openapi-typescript", "../../docs/openapi.json", "--empty-objects-unknown", "-o", fresh], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    assert.equal(readFileSync("src/schema.ts", "utf8"), readFileSync(fresh, "utf8"), "run `npm run gen` and commit src/schema.ts");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
