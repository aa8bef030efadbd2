import { parseIds } from "./Jobs";

describe("parseIds", () => {
  it("reads pasted ids with any separators, without duplicates", () => {
    expect(parseIds("12, 13\n14 12;15", "", "")).toEqual([12, 13, 14, 15]);
  });
  it("adds an inclusive range", () => {
    expect(parseIds("", "3", "6")).toEqual([3, 4, 5, 6]);
  });
  it("explains what is wrong instead of sending a bad batch", () => {
    expect(parseIds("", "", "")).toMatch(/Paste ticket ids/);
    expect(parseIds("", "9", "3")).toMatch(/first ≤ last/);
    expect(parseIds("", "1", "101")).toMatch(/at most 100/);
  });
});
