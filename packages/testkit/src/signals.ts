/** Freezing and thawing a node process (the frozen-edge scenario): SIGSTOP keeps its sockets open, unlike a kill. */
import type { EdgeNode, HubNode } from './nodes.js';

/** SIGSTOP: the process freezes (its sockets stay open). */
export function pause(node: EdgeNode | HubNode): void {
  if (node.pid !== undefined) process.kill(node.pid, 'SIGSTOP');
}

/** SIGCONT (harmless on a running process). */
export function resume(node: EdgeNode | HubNode): void {
  if (node.pid === undefined) return;
  try {
    process.kill(node.pid, 'SIGCONT');
  } catch {
    // gone
  }
}
