import { describe, expect, it } from "vitest";
import { offloadReason } from "../../services/chat/offloadDecision.js";

describe("offloadReason: when a chat turn should leave this node", () => {
  it("stays here while a slot is free", () => {
    expect(offloadReason("tiny", { slots: 2, active: 0, waiting: 0 })).toBeNull();
    expect(offloadReason("tiny", { slots: 2, active: 1, waiting: 0 })).toBeNull();
  });

  it("is busy when every slot runs or is promised to a waiting request (the manifest's free slots, 0)", () => {
    expect(offloadReason("tiny", { slots: 2, active: 2, waiting: 0 })).toBe("busy");
    expect(offloadReason("tiny", { slots: 2, active: 1, waiting: 1 })).toBe("busy");
    expect(offloadReason("tiny", { slots: 1, active: 1, waiting: 3 })).toBe("busy");
  });

  it("lacks the model whatever the queue says", () => {
    expect(offloadReason(null, { slots: 2, active: 0, waiting: 0 })).toBe("no-model");
    expect(offloadReason(null, { slots: 1, active: 1, waiting: 0 })).toBe("no-model");
  });
});
