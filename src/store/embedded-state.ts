/**
 * The small files the embedded server keeps next to its cluster in the data directory:
 * `pg-password` (the superuser password, mode 0600) and `pg-owner.pid` (the process that must stop
 * the server).
 */
import { chmod, readFile, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";

import { isErrno } from "./postmaster.js";

/** Reads the superuser password, tightening the file's mode if someone loosened it. */
export async function readPassword(dataDir: string): Promise<string> {
  const file = path.join(dataDir, "pg-password");
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if (isErrno(err, "ENOENT")) {
      throw new Error(`${file} is missing: the embedded PostgreSQL in ${dataDir}/pg cannot be reached without it.`);
    }
    throw err;
  }
  // Someone loosened the mode (copying the directory, say): tighten it again.
  if (((await stat(file)).mode & 0o077) !== 0) await chmod(file, 0o600);
  return text.trim();
}

/** Creates the password file (mode 0600); fails if it exists. */
export async function writePassword(dataDir: string, password: string): Promise<void> {
  await writeFile(path.join(dataDir, "pg-password"), `${password}\n`, { mode: 0o600, flag: "wx" });
}

/** The pid recorded as the server's owner, if any. */
export async function readOwner(dataDir: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt(await readFile(path.join(dataDir, "pg-owner.pid"), "utf8"), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch (err) {
    if (isErrno(err, "ENOENT")) return undefined;
    throw err;
  }
}

/** Records this process as the server's owner. */
export async function writeOwner(dataDir: string): Promise<void> {
  await writeFile(path.join(dataDir, "pg-owner.pid"), `${process.pid}\n`);
}

/** Withdraws this process's claim. */
export async function removeOwner(dataDir: string): Promise<void> {
  // Only our own claim: a newer owner may have adopted the server meanwhile.
  if ((await readOwner(dataDir)) === process.pid) await rm(path.join(dataDir, "pg-owner.pid"), { force: true });
}

/** Whether a path exists. */
export async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (err) {
    if (isErrno(err, "ENOENT")) return false;
    throw err;
  }
}
