/**
 * What an mcp_id may look like where it names the MCP a key or a stream acts as: 1 to 128
 * characters of [A-Za-z0-9._:-], starting with a letter or digit.
 */
export const MCP_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
