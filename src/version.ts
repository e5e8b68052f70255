/**
 * The coordinator's version (from package.json), sent in Welcome and shown in logs.
 */
import { readFileSync } from "node:fs";

/** e.g. "0.1.0". */
export const VERSION: string = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;
