/**
 * The one-time message that shows the first-start admin key.
 */

/**
 * Formats the banner.
 *
 * @param key - the created key and the file it was saved to.
 * @param listen - configured address (for the example command).
 * @param port - bound port.
 */
export function adminKeyBanner(key: { token: string; file: string }, listen: string, port: number): string {
  const host = listen.replace(/:\d+$/, "").replace(/^0\.0\.0\.0$|^\[::\]$/, "127.0.0.1");
  const line = "=".repeat(78);
  return `${line}
First start: created an admin API key. It is shown only this once, and saved to
  ${key.file}  (mode 0600)

  ${key.token}

Try it:
  npx buf curl --protocol grpc --http2-prior-knowledge \\
    -H "authorization: Bearer $(cat ${key.file})" \\
    http://${host}:${port}/coordinator.v1.HumanLoopService/ListTemplates
Create keys for MCPs and workflows with: npm run cli -- keys create --role mcp --mcp-id <id>
${line}
`;
}
