import { formatTotal } from "./format";

describe("formatTotal", () => {
  it("shows an exact total as a grouped number", () => {
    expect(formatTotal(1234)).toBe("1,234");
    expect(formatTotal(7, true)).toBe("7");
  });

  it("marks a total the server stopped counting at with a plus", () => {
    expect(formatTotal(10000, false)).toBe("10,000+");
  });
});
