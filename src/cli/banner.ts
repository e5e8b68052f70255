/**
 * The one-time message that shows the first-start admin key.
 */

/** Where the server listens, as the banner needs it for its example command. */
export interface BannerTarget {
  listen: string;
  port: number;
  tls: boolean;
}

/**
 * Formats the banner.
 *
 * @param key - the created key and the file it was saved to.
 * @param target - the address and transport, for a copy-pastable example command.
 */
export function adminKeyBanner(key: { token: string; file: string }, target: BannerTarget): string {
  const line = "=".repeat(78);
  return `${line}
First start: created an admin API key. It is shown only this once, and saved to
  ${key.file}  (mode 0600)

  ${key.token}

Try it:
  ${exampleCommand(key.file, target)}
Create keys for MCPs and workflows with: npm run cli -- keys create --role mcp --mcp-id <id>
${line}
`;
}

function exampleCommand(file: string, { listen, port, tls }: BannerTarget): string {
  const method = "coordinator.v1.HumanLoopService/ListTemplates";
  const auth = `-H "authorization: Bearer $(cat ${file})"`;
  if (listen.startsWith("unix:")) {
    return `npx buf curl --protocol grpc --http2-prior-knowledge --unix-socket ${listen.slice(5)} \\\n    ${auth} http://localhost/${method}`;
  }
  // A wildcard listen address is reached through loopback.
  const host = listen.replace(/:\d+$/, "").replace(/^0\.0\.0\.0$|^\[::\]$/, "127.0.0.1");
  return tls
    ? `npx buf curl --protocol grpc --cacert <your CA or cert.pem> \\\n    ${auth} https://${host}:${port}/${method}`
    : `npx buf curl --protocol grpc --http2-prior-knowledge \\\n    ${auth} http://${host}:${port}/${method}`;
}
