// Joins buffered byte ranges that continue each other in memory, so a pipeline read in one chunk stays one buffer.

/**
 * Appends `part` to `parts`; when it starts where the last part ends in the same memory, the last part
 * grows over it instead (a view, no copy). Parts must be appended in stream order and never change
 * afterwards: then adjacent memory holds exactly the concatenation.
 */
export function appendPart(parts: Buffer[], part: Buffer): void {
  const last = parts.length > 0 ? parts[parts.length - 1] : null;
  if (last !== null && last.buffer === part.buffer && last.byteOffset + last.length === part.byteOffset) {
    parts[parts.length - 1] = Buffer.from(last.buffer, last.byteOffset, last.length + part.length);
  } else parts.push(part);
}
