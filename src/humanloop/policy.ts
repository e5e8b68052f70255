/**
 * Approval policies: given every answer recorded so far, is the decision decided, and by which
 * answer? Pure, so each rule is tested on its own; the store calls it inside the transaction that
 * records an answer, with the answers it just read under the decision's lock.
 */
import type { ApprovalPolicy } from "../../gen/coordinator/v1/decision_policy_pb.js";
import { ResponseAction } from "../../gen/coordinator/v1/decision_response_pb.js";

/** One recorded answer, in arrival order. */
export interface CountedAnswer {
  responder: string;
  action: ResponseAction;
}

/** Whether the answers decide the decision; when they do, the index of the deciding answer. */
export type Verdict = { decided: false } | { decided: true; by: number };

/**
 * Applies the policy to the answers (oldest first; one per responder).
 *
 * - any: the first answer decides.
 * - all: one decline by anyone decides; otherwise every assignee must have accepted, and the
 *   last of those accepts decides. (Admins may answer without being assignees: their decline
 *   counts, their accept does not stand in for an assignee's.)
 * - quorum N: N accepts decide (the N-th decides). With veto, any decline decides. Without it,
 *   declines decide once so many assignees declined that N accepts can no longer come; without
 *   assignees that never happens and the decision waits for the quorum or its deadline.
 */
export function judge(policy: ApprovalPolicy | undefined, assignees: readonly string[], answers: readonly CountedAnswer[]): Verdict {
  if (answers.length === 0) return { decided: false };
  const rule = policy?.rule;
  switch (rule?.case) {
    case "all": {
      const decline = answers.findIndex((a) => a.action === ResponseAction.DECLINE);
      if (decline >= 0) return { decided: true, by: decline };
      const accepted = new Set(answers.filter((a) => a.action === ResponseAction.ACCEPT).map((a) => a.responder));
      if (assignees.length > 0 && assignees.every((a) => accepted.has(a))) return { decided: true, by: lastIndexOf(answers, (a) => assignees.includes(a.responder)) };
      return { decided: false };
    }
    case "quorum": {
      const required = Math.max(1, rule.value.required);
      let accepts = 0;
      for (const [i, answer] of answers.entries()) {
        if (answer.action === ResponseAction.ACCEPT && ++accepts >= required) return { decided: true, by: i };
        if (answer.action === ResponseAction.DECLINE && rule.value.veto) return { decided: true, by: i };
      }
      if (assignees.length > 0) {
        // Accepts still possible: assignees who have not answered yet.
        const answered = new Set(answers.map((a) => a.responder));
        const open = assignees.filter((a) => !answered.has(a)).length;
        if (accepts + open < required) return { decided: true, by: answers.length - 1 };
      }
      return { decided: false };
    }
    default:
      // any (or unset): the first valid answer decides.
      return { decided: true, by: 0 };
  }
}

function lastIndexOf<T>(items: readonly T[], predicate: (item: T) => boolean): number {
  for (let i = items.length - 1; i >= 0; i--) if (predicate(items[i]!)) return i;
  return items.length - 1;
}
